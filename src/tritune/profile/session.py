"""What ``tritune profile`` does around the search: the model (a file, prepared and served by
tritune's runner, or an entry of the user's repository served by its own backend), the server, the
store, the measurement, the best config and the reports. It reports through a Notifier and draws
nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tritune.config import MeasurementSettings, ProfileConfig
from tritune.cpus import CpuSplit, client_side, server_cores, server_split
from tritune.domain.devices import InstanceKind, choose_device
from tritune.domain.layout import RunLayout
from tritune.domain.names import concurrent_name
from tritune.domain.serving import ServingConfig
from tritune.domain.status import RunStatus
from tritune.errors import STORAGE_ERRNOS, ModelError, UsageError, storage_error
from tritune.loadgen import MeasureOptions, StabilityCriteria, WindowMode, WindowSpec
from tritune.profile.concurrent import measure_fn_for, warmup_fn_for
from tritune.profile.context import RunContext
from tritune.profile.notify import Notifier
from tritune.profile.orchestrator import ProfileRun
from tritune.profile.records import ModelFiles, RunConclusion
from tritune.profile.sources import Source, resolve_source
from tritune.store import Store
from tritune.store.lock import run_lock
from tritune.triton.control import ModelControl
from tritune.triton.launch import LaunchSettings, open_server
from tritune.triton.model_config import read_signature
from tritune.triton.probe import check_gpu_runtime
from tritune.triton.server import TritonServer

if TYPE_CHECKING:
    from tritune.report.write import WrittenReports
    from tritune.system import GpuInfo, Hardware


def measure_options(settings: MeasurementSettings, *, shared_windows: bool = False) -> MeasureOptions:
    """The load generator's options for the config's measurement section. ``shared_windows``:
    models measured concurrently, whose windows are one time window for them all (a count
    window would close on one model's requests)."""
    mode = WindowMode.TIME if shared_windows else WindowMode(settings.measurement_mode)
    return MeasureOptions(
        protocol=settings.protocol,
        window=WindowSpec(
            mode=mode,
            window_ns=settings.measurement_interval * 1_000_000,
            min_window_ns=settings.measurement_interval * 1_000_000,
            request_count=settings.measurement_request_count,
        ),
        stability=StabilityCriteria(threshold=settings.stability_percentage / 100, max_windows=settings.max_trials),
        shapes=dict(settings.shape),
        shared_memory=settings.shared_memory,
    )


def serving_device(
    gpus: Sequence[GpuInfo], providers: Sequence[str], selected: Sequence[int] | None, *, runner: bool
) -> tuple[bool, str | None]:
    """Whether the search serves on the GPU, and the one line that says why not where a GPU is
    there but unusable: the device rule (``choose_device``, asked for ``auto``) on the host's
    facts, NVML's GPUs and the execution providers tritune's runner would get (unused for a
    repository's model, served by its own backend); the ``gpus`` selection must name visible GPUs.

    Raises:
        UsageError: ``selected`` names a GPU this host does not show.
    """
    visible = [g.index for g in gpus]
    missing = [g for g in selected or () if g not in visible]
    if missing:
        shown = ", ".join(map(str, visible)) if visible else "none (NVML sees no GPU)"
        raise UsageError(f"gpus {missing} are not visible here (GPUs: {shown}): choose from them or drop --gpus")
    device = choose_device("auto", providers if runner else None, len(gpus))
    return device.gpu, device.note


def automatic_precisions(config: ProfileConfig, name: str, *, gpu: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The precisions to prepare and which of them are optional: the manual list (FP32 always
    first, the reference), or on a GPU with the automatic search FP32 and an optional FP16."""
    settings = config.profile_models[name]
    parameters = settings.model_config_parameters
    if parameters and parameters.precision:
        given = tuple(parameters.precision)
        return (given if "fp32" in given else ("fp32", *given)), ()
    if gpu and not settings.cpu_only and not config.run_config_search_disable:
        return ("fp32", "fp16"), ("fp16",)
    return ("fp32",), ()


def left_out_reason(notes: Sequence[str], precision: str) -> str:
    """Why prepare left an optional precision out (its note), for the run's one line."""
    from tritune.prepare.steps import OPTIONAL_LEFT_OUT

    prefix = OPTIONAL_LEFT_OUT.format(precision=precision) + ": "
    found = [n.removeprefix(prefix) for n in notes if n.startswith(prefix)]
    return found[0] if found else "prepare could not make it (see its report)"


@dataclass(frozen=True)
class _Host:
    """This host's facts a run needs, gathered once for all its models."""

    machine: Hardware
    providers: tuple[str, ...]
    gpu: bool
    split: CpuSplit | None
    remote: bool


class ProfileSession:
    def __init__(
        self,
        config: ProfileConfig,
        notifier: Notifier,
        *,
        url: str | None = None,
        tritonserver: str | None = None,
        inputs: tuple[Any, ...] = (),
    ) -> None:
        self.inputs = inputs  # prepare's --input specs, for models whose shapes it cannot read
        self.notifier = notifier
        self.config = config
        self.url = url
        self.tritonserver = tritonserver

    def _model_files(self, name: str, layout: RunLayout, gpu: bool = False) -> ModelFiles:
        """A dynamic-batch ONNX file is served as it is; anything else (another format, a fixed
        batch, FP16 asked for) goes through ``tritune prepare`` first, once per run directory.
        On a GPU (``gpu``) the automatic search tries FP16 too: prepare makes and validates it,
        and where it fails the search keeps FP32 and the run says why."""
        from tritune.prepare import PrepareOptions, ensure_prepared, load_prepared
        from tritune.prepare.cache import cache_key, keep, take
        from tritune.prepare.record import REPORT_FILE

        settings = self.config.profile_models[name]
        path = Path(settings.model_path) if settings.model_path else Path(name)
        if ":" not in str(path) and not path.exists():
            raise UsageError(f"model {path} does not exist: check the path (profile_models.{name}.model_path)")
        precisions, optional = automatic_precisions(self.config, name, gpu=gpu)
        plain_onnx = path.is_file() and path.suffix == ".onnx"
        if plain_onnx and precisions == ("fp32",) and read_signature(path).batch_is_dynamic:
            return ModelFiles(name=name, files={"fp32": path.resolve()}, signature=read_signature(path))
        # No serve check: the run's own server loads the model next and names any refusal.
        options = PrepareOptions(inputs=self.inputs, precisions=precisions, optional_precisions=optional)
        own = (layout.prepared / name / REPORT_FILE).exists()  # a resumed run's: no key, no hashing
        key = None if own else cache_key(path, name, options)  # None for a folder or a factory too
        if own:
            prepared = load_prepared(layout.prepared / name)
        elif key is not None and take(key, layout.prepared / name):
            self.notifier.info(f"{path} was prepared before with these options: its prepared copy is reused")
            prepared = load_prepared(layout.prepared / name)
        else:
            self.notifier.info(f"preparing {path} (dynamic batch, shapes, {', '.join(precisions)}, validation) ...")
            prepared = ensure_prepared(path, layout.prepared, name, options)
            if key is not None and prepared.passed:
                keep(key, prepared.directory)
        if not prepared.passed:
            raise ModelError(
                f"preparing {path} failed: {prepared.problems[0] if prepared.problems else 'see the report'} "
                f"(report: {prepared.report_path}); fix the model or run `tritune prepare --force`"
            )
        for precision in optional:
            if precision not in prepared.model_files:
                self.notifier.warn(f"{precision} is not searched: {left_out_reason(prepared.report.notes, precision)}")
        files = {p: f.resolve() for p, f in prepared.model_files.items()}
        signature = read_signature(files["fp32"])
        # prepare's max_batch_size 0 (a batch it found pinned, or none) holds for every variant.
        kind = InstanceKind.KIND_GPU if gpu and not settings.cpu_only else InstanceKind.KIND_CPU
        default = None if prepared.max_batch_size else ServingConfig(max_batch_size=0, instance_kind=kind)
        return ModelFiles(name=name, files=files, signature=signature, default=default)

    def _source(self, name: str, layout: RunLayout, gpu: bool = False) -> Source:
        """What is checked before a server starts (sources.py): the entry of the user's
        repository (its config read; an ensemble's or a BLS model's composing models too; models
        profiled concurrently each), or the model file (prepared, its shapes checked)."""

        def model_file() -> ModelFiles:
            model = self._model_files(name, layout, gpu)
            self._check_shapes(model)
            return model

        return resolve_source(self.config, name, model_file)

    def _check_shapes(self, model: ModelFiles) -> None:
        """A --shape that does not fit would fail every measurement: refuse it before the search."""
        from tritune.inputs import resolve_shapes

        resolve_shapes(model.signature, 1, self.config.measurement.shape, model.batches)

    def launch_settings(self) -> LaunchSettings:
        """The config's server keys; ``url``/``tritonserver`` given to the session (the old API)
        mean remote and local mode, as ``--url`` and ``--tritonserver`` do."""
        config = self.config
        if self.url:
            return LaunchSettings("remote", http_endpoint=self.url, connection=config.connection.to_connection())
        if self.tritonserver:
            return LaunchSettings("local", server_path=self.tritonserver, flags=config.triton_server_flags)
        return LaunchSettings(
            config.triton_launch_mode,
            server_path=config.triton_server_path,
            flags=config.triton_server_flags,
            http_endpoint=config.triton_http_endpoint,
            grpc_endpoint=config.triton_grpc_endpoint,
            metrics_url=config.triton_metrics_url,
            connection=config.connection.to_connection(),
        )

    def _server(
        self, layout: RunLayout, split: CpuSplit | None, *, auto_complete: bool
    ) -> contextlib.AbstractContextManager[TritonServer]:
        return open_server(
            self.launch_settings(),
            layout.output_repository,
            log_path=layout.server_log,
            cpus=split.server if split else None,
            auto_complete=auto_complete,
        )

    def run(self, *, run_dir: Path | None, export: Path | None, report: bool) -> list[RunConclusion]:
        from tritune.system import hardware, runtime_providers

        machine = hardware()
        # The runner's providers matter only where there is a GPU to use them on.
        providers = runtime_providers() if machine.gpus else ()
        gpu, why_not = serving_device(
            machine.gpus, providers, self.config.gpus, runner=self.config.model_repository is None
        )
        if why_not:
            self.notifier.warn(why_not)
        remote = self.launch_settings().mode == "remote"
        split = server_split(self.config.measurement.server_cpus, remote=remote)
        if split is not None:
            self.notifier.info(split.describe())
        host = _Host(machine, providers, gpu, split, remote)
        conclusions = []
        # Models profiled concurrently are one run, named by them all.
        names = (
            [concurrent_name(list(self.config.profile_models))]
            if self.config.concurrent
            else self.config.profile_models
        )
        for name in names:
            layout = RunLayout((run_dir or RunLayout.default(self.config.export_path, name).root).resolve())
            # One tritune per run folder, from the model's preparation to its reports: two would
            # interleave their measurements into one store and overwrite each other's best.
            try:
                with run_lock(layout.root):
                    conclusions.append(self._profile_model(name, layout, host, export=export, report=report))
            except OSError as error:
                if error.errno not in STORAGE_ERRNOS:
                    raise
                where = Path(error.filename or layout.root)
                exported = export is not None and where.is_relative_to(export.resolve())
                fix = "give another --export folder" if exported else "give this run another --run-dir"
                raise storage_error(where, error, fix) from None
        return conclusions

    def _profile_model(
        self, name: str, layout: RunLayout, host: _Host, *, export: Path | None, report: bool
    ) -> RunConclusion:
        from tritune.loadgen import WorkerPool
        from tritune.loadgen.shm import check_local

        machine, providers, gpu, split, remote = host.machine, host.providers, host.gpu, host.split, host.remote
        options = measure_options(self.config.measurement, shared_windows=self.config.concurrent)
        source = self._source(name, layout, gpu)
        layout.output_repository.mkdir(parents=True, exist_ok=True)
        with (
            Store.in_run_dir(layout.root) as store,
            # The user's configs may count on their backend's auto-complete; the runner's are complete.
            self._server(layout, split, auto_complete=bool(source.completes)) as server,
            # Given the output repository, a server that reads another one (remote) gets
            # each variant's files in its load request.
            ModelControl(server, repository=layout.output_repository) as control,
            client_side(split),  # before the pool, whose workers inherit the cores
            WorkerPool() as workers,
        ):
            if options.shared_memory != "none":  # refused now, not as every measurement's failure
                check_local(server.endpoints.http)
            # A repository's model is known once Triton has completed its config: its tensors,
            # its serving configuration (an ensemble's, models profiled concurrently: each one's).
            model, deployer = source.serve(control, layout.output_repository)
            for served in model.steps if model.concurrent else (model,):
                self._check_shapes(served)
            context = RunContext(
                store=store,
                deployer=deployer,
                measure=measure_fn_for(self.config, model, server, options, workers),
                notifier=self.notifier,
                warm_up=warmup_fn_for(model, server, options) if self.config.measurement.warmup else None,
            )
            run = ProfileRun(
                config=self.config,
                model=model,
                layout=layout,
                context=context,
                gpu_available=gpu,
                hardware=machine.to_dict(),
                providers=providers,
                cpu_cores=server_cores(split, remote=remote),
            )
            # GPU variants whose runner cannot get CUDA would all fail: refuse before the search.
            check_gpu_runtime(
                run.plan.space,
                control,
                server.endpoints,
                layout.output_repository,
                gpus=bool(machine.gpus),
                own_backend=model.user is not None,
            )
            verb = "resuming" if run.resumed else "starting"
            self.notifier.info(
                f"{verb} run {run.run.id} for {name} ({run.plan.mode} search) in {layout.root}; "
                f"server at {server.endpoints.grpc}"
            )
            try:
                with self.notifier.progress():
                    run.search()
                    run.confirm()
            except KeyboardInterrupt:
                store.set_run_status(run.run.id, RunStatus.INTERRUPTED)
                self.notifier.warn(
                    f"interrupted: {store.measurement_count(run.run.id)} measurements are stored in "
                    f"{store.path}; run the same command again to resume"
                )
                raise
            conclusion = run.conclude(export=export)
        self.notifier.concluded(conclusion, self._report(layout) if report else None)
        return conclusion

    def _report(self, layout: RunLayout) -> WrittenReports:
        from tritune.report import write_reports

        return write_reports(layout.root)
