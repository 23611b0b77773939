"""What ``tritune profile`` does around the search: the model files, the server, the store,
progress, the summary, the best config and the reports."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tritune.cli.app import App
from tritune.config import ProfileConfig
from tritune.cpus import CpuSplit, client_side, server_split
from tritune.domain.status import RunStatus
from tritune.errors import ModelError, UsageError
from tritune.profile.orchestrator import ModelFiles, ProfileOutcome, ProfileRun
from tritune.profile.progress import RichProgress
from tritune.store import Store
from tritune.triton.control import ModelControl
from tritune.triton.model_config import read_signature
from tritune.triton.server import EmbeddedTriton, RemoteTriton, TritonServer

RUNS_DIR = "tritune_runs"


@dataclass(frozen=True)
class MeasureSettings:
    protocol: str = "http"
    window_ms: int = 1000
    stability: float = 0.10
    max_windows: int = 10
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    server_cpus: int | None = None  # embedded server on the first N cores, the load generator on the rest

    def as_dict(self) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "protocol": self.protocol,
            "window_ms": self.window_ms,
            "stability": self.stability,
            "max_windows": self.max_windows,
            "shapes": {k: list(v) for k, v in self.shapes.items()},
        }
        if self.server_cpus is not None:
            # Pinning changes the numbers, so it is part of the run's identity; left out when
            # unset, so runs stored before the option existed still resume.
            settings["server_cpus"] = self.server_cpus
        return settings

    def options(self) -> Any:
        from tritune.loadgen import MeasureOptions, StabilityCriteria, WindowSpec

        return MeasureOptions(
            protocol=self.protocol,
            window=WindowSpec(window_ns=self.window_ms * 1_000_000),
            stability=StabilityCriteria(threshold=self.stability, max_windows=self.max_windows),
            shapes=self.shapes,
        )


class ProfileSession:
    def __init__(
        self,
        app: App,
        config: ProfileConfig,
        measure: MeasureSettings,
        *,
        url: str | None = None,
        tritonserver: str | None = None,
        inputs: tuple[Any, ...] = (),
    ) -> None:
        self.inputs = inputs  # prepare's --input specs, for models whose shapes it cannot read
        self.app = app
        self.config = config
        self.measure = measure
        self.url = url
        self.tritonserver = tritonserver

    def _model_files(self, name: str, directory: Path) -> ModelFiles:
        """A dynamic-batch ONNX file is served as it is; anything else (another format, a fixed
        batch, FP16 asked for) goes through ``tritune prepare`` first, once per run directory."""
        from tritune.prepare import PrepareOptions, ensure_prepared, load_prepared
        from tritune.prepare.record import REPORT_FILE

        settings = self.config.profile_models[name]
        path = Path(settings.model_path) if settings.model_path else Path(name)
        if ":" not in str(path) and not path.exists():
            raise UsageError(f"model {path} does not exist: check the path (profile_models.{name}.model_path)")
        parameters = settings.model_config_parameters
        precisions = tuple(parameters.precision) if parameters and parameters.precision else ("fp32",)
        if "fp32" not in precisions:
            precisions = ("fp32", *precisions)
        plain_onnx = path.is_file() and path.suffix == ".onnx"
        if plain_onnx and precisions == ("fp32",) and read_signature(path).batch_is_dynamic:
            return ModelFiles(name=name, files={"fp32": path.resolve()}, signature=read_signature(path))
        prepared_repository = directory / "prepared"
        if (prepared_repository / name / REPORT_FILE).exists():
            prepared = load_prepared(prepared_repository / name)
        else:
            self.app.info(f"preparing {path} (dynamic batch, shapes, {', '.join(precisions)}, validation) ...")
            prepared = ensure_prepared(
                path, prepared_repository, name, PrepareOptions(inputs=self.inputs, precisions=precisions)
            )
        if not prepared.passed:
            raise ModelError(
                f"preparing {path} failed: {prepared.problems[0] if prepared.problems else 'see the report'} "
                f"(report: {prepared.report_path}); fix the model or run `tritune prepare --force`"
            )
        files = {p: f.resolve() for p, f in prepared.model_files.items()}
        return ModelFiles(name=name, files=files, signature=read_signature(files["fp32"]))

    def _check_shapes(self, model: ModelFiles) -> None:
        """A --shape that does not fit would fail every measurement: refuse it before the search."""
        from tritune.inputs import resolve_shapes

        resolve_shapes(model.signature, 1, self.measure.shapes, model.signature.batch_is_dynamic)

    def _server(self, repository: Path, split: CpuSplit | None) -> contextlib.AbstractContextManager[TritonServer]:
        if self.url:
            return RemoteTriton(self.url)  # type: ignore[return-value]
        return EmbeddedTriton(
            repository,
            tritonserver=self.tritonserver,
            log_path=repository.parent / "tritonserver.log",
            cpus=split.server if split else None,
        )  # type: ignore[return-value]

    def run(self, *, run_dir: Path | None, export: Path | None, report: bool) -> list[ProfileOutcome]:
        from tritune.loadgen import WorkerPool, make_measure_fn
        from tritune.system import hardware

        machine = hardware()
        split = server_split(self.measure.server_cpus, remote=bool(self.url))
        if split is not None:
            self.app.info(split.describe())
        outcomes = []
        for name in self.config.profile_models:
            directory = (run_dir or self.config.export_path / RUNS_DIR / name).resolve()
            model = self._model_files(name, directory)
            self._check_shapes(model)
            repository = directory / "output_model_repository"
            repository.mkdir(parents=True, exist_ok=True)
            progress = RichProgress(self.app.err)
            with (
                Store.in_run_dir(directory) as store,
                self._server(repository, split) as server,
                ModelControl(server) as control,
                client_side(split),  # before the pool, whose workers inherit the cores
                WorkerPool() as workers,
            ):
                run = ProfileRun(
                    progress=progress,
                    config=self.config,
                    model=model,
                    run_dir=directory,
                    store=store,
                    control=control,
                    measure=make_measure_fn(server, self.measure.options(), workers),
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
                    with progress:
                        run.search()
                except KeyboardInterrupt:
                    store.set_run_status(run.run.id, RunStatus.INTERRUPTED)
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
