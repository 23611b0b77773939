"""Several models measured at once on one server (models profiled concurrently): each model gets
its own closed-loop slots (or its own arrival schedule) at the load point's concurrency (rate),
in worker processes all started at the same instant, and every model's windows cover the same
spans (:mod:`loadgen.joint_stability`). One snapshot of Triton's statistics per window edge
holds every model's counters, so the result says how much each model served in each window.

    with ConcurrentDriver(server, {"a": "v0.a", "b": "v0.b"}, options, pool) as driver:
        result = driver.measure(LoadSpec.concurrency(4))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from tritune.analysis.concurrent import combined_metrics
from tritune.cpus import usable_cpus
from tritune.domain.measurement import LoadMode, LoadPoint, Measurement
from tritune.domain.names import composing_name
from tritune.domain.status import MeasurementStatus
from tritune.errors import TrituneError, UsageError
from tritune.loadgen.driver import LoadDriver
from tritune.loadgen.joint_stability import JointController
from tritune.loadgen.observer import ServerObserver
from tritune.loadgen.result import PerfResult, WindowBrief, judge
from tritune.loadgen.spec import LoadSpec, MeasureOptions
from tritune.loadgen.stabilize import tick_length_ns
from tritune.loadgen.stats import WindowStats, summarize
from tritune.loadgen.warmup import Warmup, WarmupFn, warm_up
from tritune.loadgen.workers import WorkerError, WorkerPool
from tritune.monitor.memory import ModelMemory, model_memory
from tritune.triton.server import TritonServer

# Worst first: the measurement of the models together is as good as its worst model's.
_SEVERITY = (MeasurementStatus.FAILED, MeasurementStatus.UNSTABLE)


@dataclass(frozen=True)
class ConcurrentResult:
    """Each model's result (by the user's name, in order) over the same windows, and each
    model's successful requests per window by Triton's statistics (None: a snapshot missing)."""

    load: LoadSpec
    results: Mapping[str, PerfResult]
    server_requests: Mapping[str, tuple[int | None, ...]]
    kept: tuple[int, ...]  # the windows every result merges

    @property
    def status(self) -> MeasurementStatus:
        statuses = {r.status for r in self.results.values()}
        return next((s for s in _SEVERITY if s in statuses), MeasurementStatus.OK)

    def to_measurement(self, weights: Mapping[str, float]) -> Measurement:
        """One stored measurement: every model's metrics under ``model:<name>:``, the combined
        ones and the weighted throughput; the first failing model's reason."""
        measurements = {name: r.to_measurement() for name, r in self.results.items()}
        reasons = [f"{name}: {m.error}" for name, m in measurements.items() if m.error]
        return Measurement(
            load=self.load.to_point(),
            status=self.status,
            metrics=combined_metrics({name: m.metrics for name, m in measurements.items()}, weights),
            error="; ".join(reasons) or None,
            client_bound=any(m.client_bound for m in measurements.values()),
            warnings=tuple(dict.fromkeys(w for m in measurements.values() for w in m.warnings)),
        )


class ConcurrentDriver:
    """Drives several served models together (``models``: the user's name -> the name served)."""

    def __init__(
        self,
        server: TritonServer,
        models: Mapping[str, str],
        options: MeasureOptions | None = None,
        pool: WorkerPool | None = None,
    ) -> None:
        if len(models) < 2:
            raise UsageError(f"models measured concurrently are two or more, got {list(models)}")
        self.server = server
        self.options = options or MeasureOptions()
        self.models = dict(models)
        self._pool = pool
        self._owns_pool = pool is None
        self._drivers: dict[str, LoadDriver] = {}
        try:
            for name, served in self.models.items():
                self._drivers[name] = LoadDriver(server, served, self.options, self._worker_pool())
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> ConcurrentDriver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        for driver in self._drivers.values():
            driver.close()
        if self._owns_pool and self._pool is not None:
            self._pool.close()
            self._pool = None

    def _worker_pool(self) -> WorkerPool:
        if self._pool is None:
            self._pool = WorkerPool()
        return self._pool

    def _workers(self, load: LoadSpec) -> int:
        """Worker processes per model: the usable cores shared among the models."""
        if self.options.workers is not None:
            return self.options.workers
        if load.open_loop:
            return 1
        limit = self.options.max_auto_workers or len(usable_cpus())
        return max(1, min(int(load.value), limit // len(self.models)))

    def _memory(self, served: str) -> ModelMemory | None:
        """A model's stub memory after the windows (the observer follows the first model's over
        them): without it, its result would fall back on the host-wide gauge, which the models'
        memories, summed, must not hold."""
        return model_memory(self.server.server_pid(), served) if self.options.collect_memory else None

    def measure(self, load: LoadSpec) -> ConcurrentResult:
        if load.mode is LoadMode.CONCURRENCY and (load.value < 1 or load.value != int(load.value)):
            raise UsageError(f"concurrency {load.value} must be a whole number >= 1")
        targets = {name: d.target(load.batch_size) for name, d in self._drivers.items()}
        tick_ns = tick_length_ns(self.options.window, int(self.options.tick_ms * 1e6))
        drivers = list(self._drivers.values())
        try:
            joint = JointController.of(
                self.options.window, [d.criteria(load) for d in drivers], [load.batch_size] * len(drivers), tick_ns
            )
        except ValueError as error:
            raise UsageError(f"{error}: drop count windows") from None
        served = list(self.models.values())
        observer = ServerObserver(
            self.server,
            served[0],
            server_stats=True,  # the proof that the models ran together
            metrics=self.options.collect_metrics,
            memory=self.options.collect_memory,
            steps=tuple(served[1:]),
        )
        workers = self._workers(load)
        groups = [d.plans(load, targets[name], workers, tick_ns) for name, d in self._drivers.items()]
        first = joint.first
        closed_seen = 0

        def on_ticks(ticks: list[WindowStats]) -> bool:
            nonlocal closed_seen
            if first.started == 0 and first.warmed_up:
                observer.snapshot(-1)  # warm-up over: the next tick opens window 0
            done = joint.add_ticks(ticks)
            while closed_seen < len(first.windows):
                observer.snapshot(closed_seen)
                closed_seen += 1
            return done

        if self.options.window.warmup_ns == 0:
            observer.snapshot(-1)
        failure = ""
        try:
            self._worker_pool().run_groups(groups, on_ticks)
        except WorkerError as error:
            failure = error.message
        kept = joint.kept()
        side = observer.collect(kept[0], kept[-1]) if kept else observer.collect(0, -1)
        breakdowns = {served[0]: side.breakdown, **dict(side.steps)}
        alive = self.server.is_alive()
        results = {}
        for (name, served_name), controller, group in zip(self.models.items(), joint.controllers, groups, strict=True):
            windows = controller.windows
            kept_windows = [windows[i] for i in kept]
            client = summarize(kept_windows, load.batch_size) if kept_windows else None
            verdict = judge(
                controller.outcome,
                controller.reason,
                client,
                open_loop=load.open_loop,
                server_alive=alive,
                failure=failure,
                host_other_cpu=side.host_other_cpu,
                host_cores=side.host_cores,
                host_busiest=side.host_busiest,
                host_stolen=side.host_stolen,
                server_requests=(own.requests if (own := breakdowns.get(served_name)) is not None else None),
            )
            results[name] = PerfResult(
                model=served_name,
                load=load,
                status=verdict.status,
                reason=verdict.reason,
                client=client,
                windows=tuple(
                    WindowBrief(w.throughput(load.batch_size), w.latency.mean_ns(), w.completed, w.failed)
                    for w in windows
                ),
                kept_windows=len(kept_windows),
                server=breakdowns.get(served_name),
                metrics=side.metrics,
                memory=side.memory if served_name == served[0] else self._memory(served_name),
                client_bound=verdict.client_bound,
                warnings=verdict.warnings,
                workers=len(group),
                percentile=self.options.stability.percentile,
                host_other_cpu=side.host_other_cpu,
            )
        per_window = observer.requests_per_window()
        requests = {name: per_window.get(served_name, ()) for name, served_name in self.models.items()}
        return ConcurrentResult(load, results, requests, tuple(kept))


def make_concurrent_measure_fn(
    server: TritonServer,
    weights: Mapping[str, float],
    options: MeasureOptions | None = None,
    pool: WorkerPool | None = None,
) -> Callable[[str, LoadPoint], Measurement]:
    """The orchestrator's ``MeasureFn`` for models profiled concurrently (``weights``: each
    model's weighting, in the models' order): a variant serves each model under
    ``<variant>.<model>`` (``domain.names.composing_name``), and all of them are driven together.
    Set-up errors become FAILED measurements, so a search goes on."""

    def measure_point(variant: str, point: LoadPoint) -> Measurement:
        served = {model: composing_name(variant, model) for model in weights}
        try:
            with ConcurrentDriver(server, served, options, pool) as driver:
                return driver.measure(LoadSpec.from_point(point)).to_measurement(weights)
        except TrituneError as error:
            return Measurement(load=point, status=MeasurementStatus.FAILED, error=error.message)

    return measure_point


def make_concurrent_warmup_fn(
    server: TritonServer, models: Sequence[str], options: MeasureOptions | None = None
) -> WarmupFn:
    """The run's ``WarmupFn`` for models profiled concurrently: each model the variant serves is
    warmed up in turn; one Warmup says what all of them took (the first problem, if any)."""

    def warm_all(variant: str, client_batch_size: int) -> Warmup:
        done = [warm_up(server, composing_name(variant, m), client_batch_size, options) for m in models]
        error = next((f"{m}: {w.error}" for m, w in zip(models, done, strict=True) if w.error), None)
        return replace(done[0], sent=sum(w.sent for w in done), seconds=sum(w.seconds for w in done), error=error)

    return warm_all
