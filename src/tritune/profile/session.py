"""What ``tritune profile`` does around the search: the model files, the server, the store,
progress, the summary, the best config and the reports."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tritune.cli.app import App
from tritune.config import ProfileConfig
from tritune.errors import UsageError
from tritune.profile.orchestrator import ModelFiles, ProfileOutcome, ProfileRun
from tritune.profile.progress import RichProgress
from tritune.store import Store
from tritune.triton.control import ModelControl
from tritune.triton.model_config import read_signature
from tritune.triton.server import EmbeddedTriton, RemoteTriton, TritonServer

RUNS_DIR = "tritune_runs"


@dataclass(frozen=True)
class MeasureSettings:
    protocol: str = "grpc"
    window_ms: int = 1000
    stability: float = 0.10
    max_windows: int = 10
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "window_ms": self.window_ms,
            "stability": self.stability,
            "max_windows": self.max_windows,
            "shapes": {k: list(v) for k, v in self.shapes.items()},
        }

    def options(self) -> Any:
        from tritune.loadgen.profiler import MeasureOptions
        from tritune.loadgen.stabilize import StabilityCriteria, WindowSpec

        return MeasureOptions(
            protocol=self.protocol,
            window=WindowSpec(window_ns=self.window_ms * 1_000_000),
            stability=StabilityCriteria(threshold=self.stability, max_windows=self.max_windows),
            shapes=self.shapes,
        )


def outcome_json(outcome: ProfileOutcome) -> dict[str, Any]:
    facts = outcome.facts
    return {
        "model": outcome.run.model_name,
        "run_id": outcome.run.id,
        "resumed": outcome.resumed,
        "sentence": outcome.sentence,
        "best": outcome.best_name,
        "best_config": str(outcome.best_config_path) if outcome.best_config_path else None,
        "exported_to": str(outcome.exported_to) if outcome.exported_to else None,
        "gain_percent": facts.gain_percent,
        "throughput": facts.throughput,
        "latency_p99_ms": facts.latency_p99_ms,
        "measurements": facts.measurements,
        "configurations": facts.configurations,
        "measured_now": outcome.measured_now,
        "replayed": outcome.replayed,
        "ranked": outcome.extra.get("ranked", []),
    }


ProfileOutcome.to_json = outcome_json  # type: ignore[attr-defined]


class ProfileSession:
    def __init__(
        self,
        app: App,
        config: ProfileConfig,
        measure: MeasureSettings,
        *,
        url: str | None = None,
        tritonserver: str | None = None,
    ) -> None:
        self.app = app
        self.config = config
        self.measure = measure
        self.url = url
        self.tritonserver = tritonserver

    def _model_files(self, name: str) -> ModelFiles:
        settings = self.config.profile_models[name]
        path = Path(settings.model_path) if settings.model_path else Path(name)
        if not path.exists():
            raise UsageError(f"model file {path} does not exist: check the path (profile_models.{name}.model_path)")
        if path.suffix != ".onnx":
            raise UsageError(f"{path} is not an .onnx file: run `tritune prepare {path}` first and profile its output")
        return ModelFiles(name=name, files={"fp32": path.resolve()}, signature=read_signature(path))

    def _server(self, repository: Path) -> contextlib.AbstractContextManager[TritonServer]:
        if self.url:
            return RemoteTriton(self.url)  # type: ignore[return-value]
        return EmbeddedTriton(
            repository, tritonserver=self.tritonserver, log_path=repository.parent / "tritonserver.log"
        )  # type: ignore[return-value]

    def run(self, *, run_dir: Path | None, export: Path | None, report: bool) -> list[ProfileOutcome]:
        from tritune.loadgen.profiler import make_measure_fn
        from tritune.system import hardware

        machine = hardware()
        outcomes = []
        for name in self.config.profile_models:
            model = self._model_files(name)
            directory = (run_dir or self.config.export_path / RUNS_DIR / name).resolve()
            repository = directory / "output_model_repository"
            repository.mkdir(parents=True, exist_ok=True)
            with Store.in_run_dir(directory) as store, self._server(repository) as server, ModelControl(
                server
            ) as control:
                run = ProfileRun(
                    config=self.config,
                    model=model,
                    run_dir=directory,
                    store=store,
                    control=control,
                    measure=make_measure_fn(server, self.measure.options()),
                    gpu_available=bool(machine.gpus),
                    hardware=machine.to_dict(),
                    measure_settings=self.measure.as_dict(),
                )
                verb = "resuming" if run.resumed else "starting"
                self.app.info(
                    f"{verb} run {run.run.id} for {name} ({run.plan.mode} search) in {directory}; "
                    f"server at {server.endpoints.grpc}"
                )
                try:
                    with RichProgress(self.app.err) as progress:
                        run.evaluator._progress = progress  # noqa: SLF001 - the sink is set once the bar exists
                        run.search()
                except KeyboardInterrupt:
                    store.set_run_status(run.run.id, "interrupted")
                    self.app.warn(
                        f"interrupted: {store.measurement_count(run.run.id)} measurements are stored in "
                        f"{store.path}; run the same command again to resume"
                    )
                    raise
                outcome = run.conclude(export=export)
            if report:
                self._report(directory)  # the table and the sentence
            else:
                self.app.err.print(f"\n[bold]{outcome.sentence}[/bold]", highlight=False)
            self._print_summary(outcome)
            outcomes.append(outcome)
        return outcomes

    def _print_summary(self, outcome: ProfileOutcome) -> None:
        self.app.info(
            f"{outcome.measured_now} measured now, {outcome.replayed} taken from the store; "
            f"best config: {outcome.best_config_path or 'none'}"
        )
        if outcome.exported_to:
            self.app.info(f"exported the best config to {outcome.exported_to}")

    def _report(self, directory: Path) -> None:
        from tritune.report import write_reports
        from tritune.report.terminal import print_written

        print_written(self.app.err, self.app.err, write_reports(directory))
