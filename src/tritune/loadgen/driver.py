"""The library entry: measure one model under one load on a running Triton, the way
perf_analyzer does, and return a rich result (``PerfResult``) that converts to the stored
``Measurement``.

    with LoadDriver(server, "resnet", MeasureOptions(window=WindowSpec(window_ns=2 * 10**9))) as d:
        for n in (1, 2, 4):
            result = d.measure(LoadSpec.concurrency(n))

Set-up problems (unreachable server, unknown model, inputs the model rejects) raise a
``TrituneError`` with the fix named. Anything that goes wrong once the load runs (requests
failing, the server dying) is returned as a FAILED result with its reason, carrying what was
measured before.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import numpy as np

from tritune.cpus import usable_cpus
from tritune.domain.measurement import LoadMode, LoadPoint, Measurement
from tritune.domain.status import MeasurementStatus
from tritune.errors import InferenceError, ServerError, TrituneError, UsageError
from tritune.inputs import batch_samples, load_input_file, make_inputs, resolve_shapes
from tritune.loadgen.engine import RequestResult
from tritune.loadgen.observer import ServerObserver, ServerSide
from tritune.loadgen.payload import RequestTarget
from tritune.loadgen.request import make_request_fn, probe
from tritune.loadgen.result import PerfResult, WindowBrief, few_batches_hint, judge
from tritune.loadgen.schedule import split_concurrency
from tritune.loadgen.shm import InputRegion, Slot
from tritune.loadgen.spec import LoadSpec, MeasureOptions
from tritune.loadgen.stabilize import MeasurementController, StabilityCriteria, WindowMode, sized_window, tick_length_ns
from tritune.loadgen.stats import WindowStats, summarize
from tritune.loadgen.workers import WorkerError, WorkerPlan, WorkerPool
from tritune.triton.http_api import stopped_answering
from tritune.triton.model_info import ModelInfo, inspect_model
from tritune.triton.server import TritonServer

T = TypeVar("T")
# A probe that failed on these never reached the model: the message says the fix, not the shapes.
_CONNECTION_ERRORS = {
    "connection",
    "http 401",
    "http 403",
    "grpc UNAVAILABLE",
    "grpc UNAUTHENTICATED",
    "grpc PERMISSION_DENIED",
}
# A check request unanswered this long has the server's liveness asked; a hung server is named
# then, not after the whole request timeout (a slow first request on a live server still waits).
_CHECK_PATIENCE_S = 5.0


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


def stub_died(model: str, message: str | None) -> str | None:
    """The line for a request Triton failed because the model's Python-backend stub died."""
    found = re.search(r"Stub process '[^']*' is not healthy", message or "")
    if found is None:
        return None
    return (
        f"model {model!r}: its stub died ({found.group(0)}): see the server's log for why "
        "(the model's code), fix it and reload the model"
    )


class LoadDriver:
    """Drives one served model through successive loads and measures each (inputs are built
    once per batch size)."""

    def __init__(
        self,
        server: TritonServer,
        model: str,
        options: MeasureOptions | None = None,
        pool: WorkerPool | None = None,
        steps: tuple[str, ...] = (),
    ) -> None:
        """``pool``: worker processes shared with other drivers (the caller closes it);
        without one the driver starts its own when a load needs it, and ``close`` ends it.
        ``steps``: the models a BLS model calls, whose statistics are read as an ensemble's steps
        (an ensemble's come from its config)."""
        self.server = server
        self.model = model
        self.options = options or MeasureOptions()
        self.info: ModelInfo = inspect_model(server.endpoints, model)
        if steps and not self.info.steps:
            self.info = replace(self.info, steps=steps)
        self._targets: dict[int, RequestTarget] = {}
        self._shapes: dict[int, str] = {}  # batch size -> its inputs' shapes, for error messages
        self._samples: list[dict[str, np.ndarray]] | None = None
        self._pool = pool
        self._owns_pool = pool is None
        self._regions: list[InputRegion] = []  # --shared-memory system: the inputs' regions

    def __enter__(self) -> LoadDriver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_pool and self._pool is not None:
            self._pool.close()
            self._pool = None
        while self._regions:
            self._regions.pop().close()

    def _worker_pool(self) -> WorkerPool:
        if self._pool is None:
            self._pool = WorkerPool()
        return self._pool

    # -- inputs ----------------------------------------------------------------------------
    def target(self, batch_size: int) -> RequestTarget:
        """The prebuilt requests for ``batch_size``, checked once against the server."""
        if batch_size in self._targets:
            return self._targets[batch_size]
        target = self.build_target(batch_size)
        result = _run_coroutine(lambda: self._watched_probe(target))
        if result.error is not None:
            if result.error in _CONNECTION_ERRORS:  # TLS, a proxy's refusal, nothing listening
                raise InferenceError(f"{target.protocol} endpoint {target.url}: {result.message}")
            if result.error == "timeout" and (hung := stopped_answering(self.server.endpoints.api())):
                raise ServerError(hung)
            if died := stub_died(self.model, result.message):
                raise InferenceError(died)
            raise self.rejected(batch_size, result.error, result.message)
        self._targets[batch_size] = target
        return target

    async def _watched_probe(self, target: RequestTarget) -> RequestResult:
        """``probe``, with the server's liveness asked whenever the reply is slow to come."""
        task = asyncio.ensure_future(probe(target))
        while True:
            done, _ = await asyncio.wait({task}, timeout=_CHECK_PATIENCE_S)
            if done:
                return task.result()
            if hung := await asyncio.to_thread(stopped_answering, self.server.endpoints.api()):
                task.cancel()
                raise ServerError(hung)

    def _stub_died(self, target: RequestTarget) -> str | None:
        """After a failed measurement, one more request: a Python-backend stub that died fails it
        with "Stub process '…' is not healthy." (the windows may have closed before it came)."""
        result = _run_coroutine(lambda: probe(target))
        return None if result.error is None else stub_died(self.model, result.message)

    def build_target(self, batch_size: int) -> RequestTarget:
        """The requests for ``batch_size`` (inputs as the options say), built but not sent."""
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
        self._shapes[batch_size] = ", ".join(f"{k} {list(v.shape)}" for k, v in feeds[0].items())
        slots: list[dict[str, Slot]] = []
        if options.shared_memory == "system":
            region = InputRegion(self.server.endpoints.api(), feeds)
            self._regions.append(region)
            slots = region.slots
        endpoints = self.server.endpoints
        return RequestTarget.build(endpoints, info, feeds, options.protocol, options.request_timeout_s, slots)

    def rejected(self, batch_size: int, error: str, message: str) -> InferenceError:
        """The server refused a request of ``batch_size`` (built here): the error names its shapes."""
        return InferenceError(
            f"model {self.model!r} rejected the request ({self._shapes.get(batch_size, '?')}): "
            f"{error}: {message}; check --shape and --input-data against the model's inputs"
        )

    # -- measuring -------------------------------------------------------------------------
    def plans(self, load: LoadSpec, target: RequestTarget, workers: int, tick_ns: int) -> list[WorkerPlan]:
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

    def criteria(self, load: LoadSpec) -> StabilityCriteria:
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
        window = sized_window(options.window, load.value, load.open_loop)
        tick_ns = tick_length_ns(window, int(options.tick_ms * 1e6))
        criteria = self.criteria(load)
        controller = MeasurementController(window, criteria, load.batch_size, tick_ns)
        observer = ServerObserver(
            self.server,
            self.model,
            server_stats=options.collect_server_stats,
            metrics=options.collect_metrics,
            memory=options.collect_memory,
            steps=self.info.steps,
        )
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
        plans = self.plans(load, target, workers, tick_ns)
        failure = ""
        try:
            if len(plans) == 1:
                self._run_here(plans[0], on_tick)
            else:
                self._worker_pool().run(plans, on_tick)
        except WorkerError as error:
            failure = error.message
        return self._result(load, controller, observer, len(plans), failure, target)

    def _run_here(self, plan: WorkerPlan, on_tick: Callable[[WindowStats], bool]) -> None:
        async def main() -> None:
            request_fn = make_request_fn(plan.target)
            try:
                await plan.engine(request_fn).run(on_tick)
            finally:
                await request_fn.aclose()

        _run_coroutine(main)

    def _result(
        self,
        load: LoadSpec,
        controller: MeasurementController,
        observer: ServerObserver,
        workers: int,
        failure: str,
        target: RequestTarget,
    ) -> PerfResult:
        windows = controller.windows
        kept = controller.kept_windows()
        briefs = tuple(
            WindowBrief(w.throughput(load.batch_size), w.latency.mean_ns(), w.completed, w.failed) for w in windows
        )
        client = summarize(kept, load.batch_size) if kept else None
        if kept:
            indices = [i for i, w in enumerate(windows) if any(w is k for k in kept)]
            side = observer.collect(indices[0], indices[-1])
        else:
            observer.collect(0, -1)  # only stops it: no window to describe
            side = ServerSide()
        verdict = judge(
            controller.outcome,
            controller.reason,
            client,
            open_loop=load.open_loop,
            server_alive=self.server.is_alive(),
            failure=failure,
            host_other_cpu=side.host_other_cpu,
            host_cores=side.host_cores,
            host_busiest=side.host_busiest,
            host_stolen=side.host_stolen,
            server_requests=side.breakdown.requests if side.breakdown is not None else None,
        )
        reason = verdict.reason
        window = self.options.window
        if verdict.status is MeasurementStatus.UNSTABLE and side.breakdown and window.mode is WindowMode.TIME:
            hint = few_batches_hint(side.breakdown.executions, len(kept), window.window_ns / 1e6)
            reason = f"{reason}; {hint}" if hint else reason
        if verdict.status is MeasurementStatus.FAILED:  # a hung server is named, not its symptoms
            reason = stopped_answering(self.server.endpoints.api()) or self._stub_died(target) or reason
        return PerfResult(
            model=self.model,
            load=load,
            status=verdict.status,
            reason=reason,
            client=client,
            windows=briefs,
            kept_windows=len(kept),
            server=side.breakdown,
            metrics=side.metrics,
            memory=side.memory,
            client_bound=verdict.client_bound,
            warnings=verdict.warnings,
            workers=workers,
            percentile=self.options.stability.percentile,
            host_other_cpu=side.host_other_cpu,
            steps=side.steps,
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
    with LoadDriver(server, model, options) as driver:
        return driver.measure(load)


def make_measure_fn(
    server: TritonServer,
    options: MeasureOptions | None = None,
    pool: WorkerPool | None = None,
    steps: tuple[str, ...] = (),
) -> Callable[[str, LoadPoint], Measurement]:
    """The orchestrator's ``MeasureFn``: (model name, load point) -> stored Measurement.

    The model is inspected on every call, since a variant reloaded under the same name may
    have a new max_batch_size. Set-up errors become FAILED measurements, so a search goes on.
    ``pool`` (closed by the caller) keeps load-generator processes between measurements;
    ``steps``: a BLS model's composing models (see :class:`LoadDriver`)."""

    def measure_point(model: str, point: LoadPoint) -> Measurement:
        load = LoadSpec.from_point(point)
        try:
            with LoadDriver(server, model, options, pool, steps) as driver:
                return driver.measure(load).to_measurement()
        except TrituneError as error:
            return Measurement(load=point, status=MeasurementStatus.FAILED, error=error.message)

    return measure_point
