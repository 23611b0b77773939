"""The library entry: measure one model under one load on a running Triton, the way
perf_analyzer does, and return a rich result (``PerfResult``) that converts to the stored
``Measurement``.

    with Profiler(server, "resnet", MeasureOptions(window=WindowSpec(window_ns=2 * 10**9))) as p:
        for n in (1, 2, 4):
            result = p.measure(LoadSpec.concurrency(n))

Set-up problems (unreachable server, unknown model, inputs the model rejects) raise a
``TrituneError`` with the fix named. Anything that goes wrong once the load runs (requests
failing, the server dying) is returned as a FAILED result with its reason, carrying what was
measured before.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np

from tritune.cpus import usable_cpus
from tritune.domain.measurement import LoadMode, LoadPoint, Measurement, MeasurementStatus
from tritune.errors import InferenceError, TrituneError, UsageError
from tritune.inputs import batch_samples, load_input_file, make_inputs, resolve_shapes
from tritune.loadgen.engine import ClosedLoop, LoadEngine
from tritune.loadgen.schedule import Distribution, Schedule, split_concurrency
from tritune.loadgen.server_stats import ServerBreakdown, StatsSnapshot, breakdown, fetch_model_stats
from tritune.loadgen.stabilize import (
    MeasurementController,
    Stability,
    StabilityCriteria,
    WindowSpec,
    tick_length_ns,
)
from tritune.loadgen.stats import ClientSummary, WindowStats, summarize
from tritune.loadgen.triton_client import RequestTarget, make_request_fn, probe
from tritune.loadgen.workers import WorkerError, WorkerPlan, WorkerPool
from tritune.monitor.memory import ModelMemory, model_memory
from tritune.monitor.metrics import MetricsSample, MetricsSummary, scrape_metrics, summarize_metrics
from tritune.triton.model_info import ModelInfo, inspect_model
from tritune.triton.server import TritonServer

T = TypeVar("T")

# The busiest worker's event-loop thread above this share of a core: it, not the server,
# sets the pace (a Python event loop is single-threaded).
CLIENT_CPU_BOUND = 0.90
# perf_analyzer warns when more than 1 % of rate-mode requests are delayed.
LATE_FRACTION_BOUND = 0.01
# More failed requests than this share make the measurement FAILED (fewer: a warning).
FAILED_FRACTION_BOUND = 0.01


@dataclass(frozen=True)
class LoadSpec:
    """The client load: closed-loop concurrency, an open-loop rate, or explicit intervals."""

    mode: LoadMode = LoadMode.CONCURRENCY
    value: float = 1  # concurrency, or requests/sec
    batch_size: int = 1
    distribution: Distribution = Distribution.CONSTANT
    intervals_ns: tuple[int, ...] = ()  # request-intervals mode (looped), value is then its mean rate

    @classmethod
    def concurrency(cls, n: int, batch_size: int = 1) -> LoadSpec:
        return cls(LoadMode.CONCURRENCY, n, batch_size)

    @classmethod
    def rate(cls, per_s: float, batch_size: int = 1, distribution: Distribution = Distribution.CONSTANT) -> LoadSpec:
        return cls(LoadMode.REQUEST_RATE, per_s, batch_size, distribution)

    @classmethod
    def intervals(cls, intervals_ns: Sequence[int], batch_size: int = 1) -> LoadSpec:
        ns = tuple(int(x) for x in intervals_ns)
        mean_rate = len(ns) * 1e9 / sum(ns) if ns and sum(ns) > 0 else 0.0
        return cls(LoadMode.REQUEST_RATE, mean_rate, batch_size, Distribution.CONSTANT, ns)

    @classmethod
    def from_point(cls, point: LoadPoint) -> LoadSpec:
        if point.mode is LoadMode.CONCURRENCY:
            return cls.concurrency(int(point.value), point.batch_size)
        return cls.rate(point.value, point.batch_size)

    @property
    def open_loop(self) -> bool:
        return self.mode is LoadMode.REQUEST_RATE

    def schedule(self, seed: int) -> Schedule:
        return Schedule(self.value, self.distribution, self.intervals_ns, seed)

    def to_point(self) -> LoadPoint:
        return LoadPoint(self.mode, self.value, self.batch_size)

    def label(self) -> str:
        if self.intervals_ns:
            return f"Request intervals ({len(self.intervals_ns)}, mean rate {self.value:.6g}/s)"
        if self.open_loop:
            return f"Request Rate: {self.value:g}"
        return f"Concurrency: {int(self.value)}"


@dataclass(frozen=True)
class MeasureOptions:
    protocol: str = "grpc"
    window: WindowSpec = field(default_factory=WindowSpec)
    stability: StabilityCriteria = field(default_factory=StabilityCriteria)
    shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # --shape, batch dim left out
    input_data: str = "random"  # "random", "zero", or a .json / .npz file
    # None: closed loop, a process per slot up to max_auto_workers (perf_analyzer's thread per
    # slot); open loop, 1, more while the generator is the bottleneck.
    workers: int | None = None
    # None: the cores this process may use. A worker mostly waits on its sockets, so more of them
    # spread the client's CPU work over cores rather than add to it.
    max_auto_workers: int | None = None
    tick_ms: float = 100.0
    late_threshold_us: float = 2000.0  # an open-loop send this late counts as late
    max_in_flight: int = 16384
    request_timeout_s: float = 60.0
    drain_timeout_s: float = 5.0
    collect_server_stats: bool = True
    collect_metrics: bool = True
    collect_memory: bool = True
    seed: int = 0


@dataclass(frozen=True)
class WindowBrief:
    throughput: float
    avg_latency_ns: float
    completed: int
    failed: int


@dataclass(frozen=True)
class PerfResult:
    model: str
    load: LoadSpec
    status: MeasurementStatus
    reason: str = ""
    client: ClientSummary | None = None
    windows: tuple[WindowBrief, ...] = ()  # every window, in order
    kept_windows: int = 0  # how many of the last windows were merged into ``client``
    server: ServerBreakdown | None = None
    metrics: MetricsSummary | None = None
    memory: ModelMemory | None = None
    client_bound: bool = False
    warnings: tuple[str, ...] = ()
    workers: int = 1
    percentile: int | None = None  # the latency stability and the summary line use

    @property
    def stable(self) -> bool:
        return self.status is MeasurementStatus.OK

    @property
    def throughput(self) -> float:
        return self.client.throughput if self.client else 0.0

    def latency_us(self) -> float:
        """perf_analyzer's reported latency: the average, or pXX with --percentile."""
        if self.client is None:
            return 0.0
        if self.percentile is None:
            return self.client.latency.avg_ns / 1000
        return self.client.latency.percentile_ns(self.percentile) / 1000

    def summary_line(self) -> str:
        throughput, latency = f"{self.throughput:.6g}", f"{self.latency_us():.0f}"
        return f"{self.load.label()}, throughput: {throughput} infer/sec, latency {latency} usec"

    def to_measurement(self) -> Measurement:
        metrics: dict[str, float] = {}
        client, server = self.client, self.server
        if client is not None and client.completed:
            ms = 1e-6
            lat = client.latency
            metrics.update(
                perf_throughput=client.throughput,
                perf_latency_avg=lat.avg_ns * ms,
                perf_latency_std=lat.std_ns * ms,
                perf_latency_p50=lat.p50_ns * ms,
                perf_latency_p90=lat.p90_ns * ms,
                perf_latency_p95=lat.p95_ns * ms,
                perf_latency_p99=lat.p99_ns * ms,
                perf_client_send_recv=(client.avg_send_ns + client.avg_recv_ns) * ms,
            )
        if server is not None and server.requests:
            ms = 1e-6
            metrics.update(
                perf_server_queue=server.queue_ns * ms,
                perf_server_compute_input=server.compute_input_ns * ms,
                perf_server_compute_infer=server.compute_infer_ns * ms,
                perf_server_compute_output=server.compute_output_ns * ms,
            )
        if self.memory is not None:
            metrics["cpu_used_ram"] = self.memory.rss_bytes / 1e6
            if self.memory.gpu_bytes is not None:
                metrics["gpu_used_memory"] = self.memory.gpu_bytes / 1e6
        elif self.metrics is not None and self.metrics.cpu_memory_used_bytes is not None:
            metrics["cpu_used_ram"] = self.metrics.cpu_memory_used_bytes / 1e6
        if self.metrics is not None and self.metrics.has_gpu:
            if self.metrics.gpu_utilization:
                values = self.metrics.gpu_utilization.values()
                metrics["gpu_utilization"] = 100.0 * sum(values) / len(values)
            if self.metrics.gpu_power_usage:
                metrics["gpu_power_usage"] = sum(self.metrics.gpu_power_usage.values())
            if "gpu_used_memory" not in metrics and self.metrics.gpu_memory_used_bytes:
                metrics["gpu_used_memory"] = sum(self.metrics.gpu_memory_used_bytes.values()) / 1e6
        return Measurement(
            load=self.load.to_point(),
            status=self.status,
            metrics=metrics,
            error=self.reason or None,
            client_bound=self.client_bound,
            warnings=self.warnings,
        )


# -- the observer: server statistics, metrics and memory at window edges -------------------------


@dataclass(frozen=True)
class _Snapshot:
    stats: StatsSnapshot | None
    metrics: MetricsSample | None
    memory: ModelMemory | None


class _ServerObserver:
    """Takes snapshots on a thread of its own, so the event loop never waits on them."""

    def __init__(self, server: TritonServer, model: str, options: MeasureOptions) -> None:
        self._server = server
        self._model = model
        self._options = options
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tritune-observer")
        self._snapshots: dict[int, Future[_Snapshot]] = {}

    def _take(self) -> _Snapshot:
        now = time.monotonic_ns()
        options = self._options
        endpoints = self._server.endpoints
        stats = fetch_model_stats(endpoints.http, self._model, now) if options.collect_server_stats else None
        metrics = None
        if options.collect_metrics and endpoints.metrics:
            metrics = scrape_metrics(endpoints.metrics, now)
        memory = model_memory(self._server.server_pid(), self._model) if options.collect_memory else None
        return _Snapshot(stats, metrics, memory)

    def snapshot(self, edge: int) -> None:
        """Edge -1 is the start of the first window, edge i the end of window i."""
        if edge not in self._snapshots:
            self._snapshots[edge] = self._pool.submit(self._take)

    def collect(
        self, first_window: int, last_window: int
    ) -> tuple[ServerBreakdown | None, MetricsSummary | None, ModelMemory | None]:
        snaps: dict[int, _Snapshot] = {}
        for edge, future in self._snapshots.items():
            try:
                snaps[edge] = future.result(timeout=10)
            except Exception:  # noqa: BLE001 - a failed snapshot only loses the breakdown
                continue
        self._pool.shutdown(wait=False)
        first, last = snaps.get(first_window - 1), snaps.get(last_window)
        server = None
        if first and last and first.stats and last.stats:
            server = breakdown(first.stats, last.stats)
        span = [snaps[e] for e in range(first_window - 1, last_window + 1) if e in snaps]
        samples = [s.metrics for s in span if s.metrics is not None]
        metrics = summarize_metrics(samples) if samples else None
        memory = ModelMemory.peak([s.memory for s in span if s.memory is not None])
        return server, metrics, memory


def _run_coroutine(factory: Callable[[], Awaitable[T]]) -> T:
    """asyncio.run, or on a thread of its own when the caller already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())  # type: ignore[arg-type]
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(factory())  # type: ignore[arg-type]
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = error

    thread = threading.Thread(target=target, name="tritune-loadgen")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


class Profiler:
    """Measures one served model under successive loads (inputs are built once per batch size)."""

    def __init__(
        self,
        server: TritonServer,
        model: str,
        options: MeasureOptions | None = None,
        pool: WorkerPool | None = None,
    ) -> None:
        """``pool``: worker processes shared with other profilers (the caller closes it);
        without one the profiler starts its own when a load needs it, and ``close`` ends it."""
        self.server = server
        self.model = model
        self.options = options or MeasureOptions()
        self.info: ModelInfo = inspect_model(server.endpoints, model)
        self._targets: dict[int, RequestTarget] = {}
        self._samples: list[dict[str, np.ndarray]] | None = None
        self._pool = pool
        self._owns_pool = pool is None

    def __enter__(self) -> Profiler:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_pool and self._pool is not None:
            self._pool.close()
            self._pool = None

    def _worker_pool(self) -> WorkerPool:
        if self._pool is None:
            self._pool = WorkerPool()
        return self._pool

    # -- inputs ----------------------------------------------------------------------------
    def target(self, batch_size: int) -> RequestTarget:
        """The prebuilt requests for ``batch_size``, checked once against the server."""
        if batch_size in self._targets:
            return self._targets[batch_size]
        info, options = self.info, self.options
        if info.batched and batch_size > info.max_batch_size:
            raise UsageError(
                f"batch size {batch_size} exceeds the model's max_batch_size {info.max_batch_size}: "
                f"use -b {info.max_batch_size} or less"
            )
        shapes = resolve_shapes(info.signature, batch_size, options.shapes, info.batched)
        if options.input_data in ("random", "zero"):
            rng = np.random.default_rng(options.seed)
            feeds = [make_inputs(info.signature, shapes, options.input_data, rng)]
        else:
            if self._samples is None:
                self._samples = load_input_file(options.input_data, info.signature, info.batched, options.shapes)
            feeds = batch_samples(self._samples, batch_size, info.batched)
        target = RequestTarget.build(self.server.endpoints, info, feeds, options.protocol, options.request_timeout_s)
        result = _run_coroutine(lambda: probe(target))
        if result.error is not None:
            shapes_text = ", ".join(f"{k} {list(v.shape)}" for k, v in feeds[0].items())
            raise InferenceError(
                f"model {self.model!r} rejected the request ({shapes_text}): "
                f"{result.error}: {result.message}; "
                "check --shape and --input-data against the model's inputs"
            )
        self._targets[batch_size] = target
        return target

    # -- measuring -------------------------------------------------------------------------
    def _plans(self, load: LoadSpec, target: RequestTarget, workers: int, tick_ns: int) -> list[WorkerPlan]:
        options = self.options
        common = dict(
            target=target,
            tick_ns=tick_ns,
            late_threshold_ns=int(options.late_threshold_us * 1000),
            max_in_flight=max(1, options.max_in_flight // workers),
            drain_timeout_ns=int(options.drain_timeout_s * 1e9),
        )
        if load.open_loop:
            schedule = load.schedule(options.seed)
            return [WorkerPlan(schedule=schedule, part=i, parts=workers, **common) for i in range(workers)]  # type: ignore[arg-type]
        slots = split_concurrency(int(load.value), workers)
        return [WorkerPlan(concurrency=n, **common) for n in slots if n > 0]  # type: ignore[arg-type]

    def _criteria(self, load: LoadSpec) -> StabilityCriteria:
        criteria = self.options.stability
        if load.open_loop and not criteria.latency_optional:
            # perf_analyzer's rate mode (always async) accepts a stable throughput alone.
            criteria = replace(criteria, latency_optional=True)
        return criteria

    def measure(self, load: LoadSpec) -> PerfResult:
        if load.batch_size < 1:
            raise UsageError(f"batch size {load.batch_size} must be >= 1")
        if load.mode is LoadMode.CONCURRENCY and (load.value < 1 or load.value != int(load.value)):
            raise UsageError(f"concurrency {load.value} must be a whole number >= 1")
        target = self.target(load.batch_size)
        auto = self.options.workers is None
        limit = self.options.max_auto_workers or len(usable_cpus())
        workers = self.options.workers or (1 if load.open_loop else min(int(load.value), limit))
        while True:
            result = self._measure_once(load, target, workers)
            could_grow = workers < limit and (load.open_loop or workers < load.value)
            if not (auto and result.client_bound and could_grow and result.status is not MeasurementStatus.FAILED):
                return result
            workers *= 2

    def _measure_once(self, load: LoadSpec, target: RequestTarget, workers: int) -> PerfResult:
        options = self.options
        if not load.open_loop:
            workers = max(1, min(workers, int(load.value)))
        tick_ns = tick_length_ns(options.window, int(options.tick_ms * 1e6))
        criteria = self._criteria(load)
        controller = MeasurementController(options.window, criteria, load.batch_size, tick_ns)
        observer = _ServerObserver(self.server, self.model, options)
        closed_seen = 0

        def on_tick(tick: WindowStats) -> bool:
            nonlocal closed_seen
            if controller.started == 0 and controller.warmed_up:
                observer.snapshot(-1)  # warm-up over: the next tick opens window 0
            done = controller.add_tick(tick)
            while closed_seen < len(controller.windows):
                observer.snapshot(closed_seen)
                closed_seen += 1
            return done

        if options.window.warmup_ns == 0:
            observer.snapshot(-1)
        plans = self._plans(load, target, workers, tick_ns)
        failure = ""
        try:
            if len(plans) == 1:
                self._run_here(plans[0], on_tick)
            else:
                self._worker_pool().run(plans, on_tick)
        except WorkerError as error:
            failure = error.message
        return self._result(load, controller, observer, len(plans), failure)

    def _run_here(self, plan: WorkerPlan, on_tick: Callable[[WindowStats], bool]) -> None:
        async def main() -> None:
            request_fn = make_request_fn(plan.target)
            try:
                engine = LoadEngine(
                    request_fn,
                    plan.load() if plan.concurrency == 0 else ClosedLoop(plan.concurrency),
                    tick_ns=plan.tick_ns,
                    late_threshold_ns=plan.late_threshold_ns,
                    cpu_time_ns=time.thread_time_ns,  # the event loop's own thread: what saturates
                    drain_timeout_ns=plan.drain_timeout_ns,
                )
                await engine.run(on_tick)
            finally:
                await request_fn.aclose()

        _run_coroutine(main)

    def _result(
        self,
        load: LoadSpec,
        controller: MeasurementController,
        observer: _ServerObserver,
        workers: int,
        failure: str,
    ) -> PerfResult:
        windows = controller.windows
        kept = controller.kept_windows()
        briefs = tuple(
            WindowBrief(w.throughput(load.batch_size), w.latency.mean_ns(), w.completed, w.failed) for w in windows
        )
        client = summarize(kept, load.batch_size) if kept else None
        server = metrics = memory = None
        if kept:
            indices = [i for i, w in enumerate(windows) if any(w is k for k in kept)]
            server, metrics, memory = observer.collect(indices[0], indices[-1])
        else:
            observer.collect(0, -1)
        warnings: list[str] = []
        status = {
            Stability.STABLE: MeasurementStatus.OK,
            Stability.UNSTABLE: MeasurementStatus.UNSTABLE,
        }.get(controller.outcome, MeasurementStatus.FAILED)
        reason = failure or controller.reason
        if status is MeasurementStatus.OK and controller.reason:
            warnings.append(controller.reason)  # stable throughput, latency not stabilizing
            reason = ""
        if not self.server.is_alive():
            status = MeasurementStatus.FAILED
            reason = f"the Triton server died during the measurement ({reason or 'no reason given'}): see its log"
        client_bound = False
        if client is not None:
            if client.failed:
                share = client.failed / (client.failed + client.completed)
                kinds = ", ".join(f"{k} x{n}" for k, n in sorted(client.errors.items()))
                example = next(iter(client.error_examples.values()), "")
                text = f"{client.failed} requests failed ({kinds}): {example}"
                if share > FAILED_FRACTION_BOUND and status is not MeasurementStatus.FAILED:
                    status, reason = MeasurementStatus.FAILED, text
                else:
                    warnings.append(text)
            if client.worker_cpu_fraction_max >= CLIENT_CPU_BOUND:
                client_bound = True
                warnings.append(
                    f"the load generator is the bottleneck: its busiest worker used "
                    f"{client.worker_cpu_fraction_max:.0%} of a core; "
                    "use more --workers or a faster client host"
                )
            if load.open_loop and client.late_fraction > LATE_FRACTION_BOUND:
                client_bound = True
                warnings.append(
                    f"not able to keep up with the schedule: {client.late} of {client.sent} requests "
                    f"({client.late_fraction:.1%}) were sent late "
                    f"(worst {client.lateness_max_ns / 1e6:.1f} ms)"
                )
        return PerfResult(
            model=self.model,
            load=load,
            status=status,
            reason=reason,
            client=client,
            windows=briefs,
            kept_windows=len(kept),
            server=server,
            metrics=metrics,
            memory=memory,
            client_bound=client_bound,
            warnings=tuple(warnings),
            workers=workers,
            percentile=self.options.stability.percentile,
        )

    def sweep(
        self, loads: Sequence[LoadSpec], on_result: Callable[[PerfResult], None] | None = None
    ) -> list[PerfResult]:
        results = []
        for load in loads:
            result = self.measure(load)
            results.append(result)
            if on_result is not None:
                on_result(result)
        return results


def measure(server: TritonServer, model: str, load: LoadSpec, options: MeasureOptions | None = None) -> PerfResult:
    """Measure ``model`` (already loaded on ``server``) under ``load``."""
    with Profiler(server, model, options) as profiler:
        return profiler.measure(load)


def make_measure_fn(
    server: TritonServer, options: MeasureOptions | None = None, pool: WorkerPool | None = None
) -> Callable[[str, LoadPoint], Measurement]:
    """The orchestrator's ``MeasureFn``: (model name, load point) -> stored Measurement.

    The model is inspected on every call, since a variant reloaded under the same name may
    have a new max_batch_size. Set-up errors become FAILED measurements, so a search goes on.
    ``pool`` (closed by the caller) keeps load-generator processes between measurements."""

    def measure_point(model: str, point: LoadPoint) -> Measurement:
        load = LoadSpec.from_point(point)
        try:
            with Profiler(server, model, options, pool) as profiler:
                return profiler.measure(load).to_measurement()
        except TrituneError as error:
            return Measurement(load=point, status=MeasurementStatus.FAILED, error=error.message)

    return measure_point
