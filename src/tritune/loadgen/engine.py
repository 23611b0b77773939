"""The asyncio load engine: closed-loop concurrency or an open-loop schedule, with an
injected clock and request function.

Every request's latency is ``done - sent`` on the injected monotonic nanosecond clock and is
recorded, with its errors, into the tick in which it completes. Ticks are short fixed spans
(``start + k * tick_ns``) handed to a sink; the sink (a window controller, or a pipe to the
parent process) says when to stop. Failures are recorded by kind, never raised.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from tritune.loadgen.stats import WindowStats


class Clock:
    """The real clock: CLOCK_MONOTONIC in integer nanoseconds (shared by every process on the
    host, so worker processes agree on tick edges)."""

    def now_ns(self) -> int:
        return time.monotonic_ns()

    async def sleep_until_ns(self, deadline_ns: int) -> None:
        delay = deadline_ns - time.monotonic_ns()
        if delay > 0:
            await asyncio.sleep(delay / 1e9)


class LoopClock(Clock):
    """The running event loop's clock; with a virtual-time loop (tests) time is simulated."""

    def now_ns(self) -> int:
        return int(round(asyncio.get_running_loop().time() * 1e9))

    async def sleep_until_ns(self, deadline_ns: int) -> None:
        loop = asyncio.get_running_loop()
        delay = deadline_ns / 1e9 - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass(frozen=True, slots=True)
class RequestResult:
    """What one request reports (vLLM's RequestFuncOutput, trimmed): an error kind and
    message on failure, and the client's own send/receive (marshal/unmarshal) time."""

    error: str | None = None
    message: str = ""
    send_ns: int = 0
    recv_ns: int = 0


OK = RequestResult()

RequestFunc = Callable[[], Awaitable[RequestResult]]
TickSink = Callable[[WindowStats], bool]  # returns True to stop the engine


@dataclass(frozen=True)
class ClosedLoop:
    concurrency: int


@dataclass(frozen=True)
class OpenLoop:
    offsets: Iterator[int]  # arrival offsets in ns from the run's start (see schedule.py)
    max_in_flight: int = 16384  # beyond this the sender waits, and the waits count as late


def _default_cpu_ns() -> int:
    return time.process_time_ns()


class LoadEngine:
    def __init__(
        self,
        request_fn: RequestFunc,
        load: ClosedLoop | OpenLoop,
        *,
        clock: Clock | None = None,
        tick_ns: int = 100_000_000,
        late_threshold_ns: int = 2_000_000,
        cpu_time_ns: Callable[[], int] = _default_cpu_ns,
        drain_timeout_ns: int = 5_000_000_000,
    ) -> None:
        if isinstance(load, ClosedLoop) and load.concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self._request_fn = request_fn
        self._load = load
        self._clock = clock or Clock()
        self._tick_ns = tick_ns
        self._late_threshold_ns = late_threshold_ns
        self._cpu_time_ns = cpu_time_ns
        self._drain_timeout_ns = drain_timeout_ns
        self._stopping = False
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slot_free: asyncio.Event | None = None
        self._start_ns = 0
        self._tick: WindowStats = WindowStats(0, 0)
        self._closed: list[WindowStats] = []
        self._cpu_mark = 0

    # -- ticks -----------------------------------------------------------------------------
    def _open_tick(self, start_ns: int) -> None:
        self._tick = WindowStats(start_ns, start_ns + self._tick_ns)

    def _tick_at(self, now_ns: int) -> WindowStats:
        """The tick that ``now_ns`` falls in, closing the ones it has passed."""
        while now_ns >= self._tick.end_ns:
            cpu = self._cpu_time_ns()
            closed = self._tick
            closed.client_cpu_ns = cpu - self._cpu_mark
            closed.worker_cpu_fraction_max = closed.client_cpu_ns / closed.duration_ns
            self._cpu_mark = cpu
            self._closed.append(closed)
            self._open_tick(closed.end_ns)
        return self._tick

    # -- requests --------------------------------------------------------------------------
    async def _call(self) -> RequestResult:
        try:
            return await self._request_fn()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - a failure is data, recorded by kind
            return self._failure(error)

    def _record(self, sent_ns: int, done_ns: int, result: RequestResult) -> None:
        if self._stopping:
            return
        tick = self._tick if done_ns < self._tick.end_ns else self._tick_at(done_ns)
        if result.error is None:
            tick.latency.record(done_ns - sent_ns)
            tick.send_ns_total += result.send_ns
            tick.recv_ns_total += result.recv_ns
        else:
            tick.record_error(result.error, result.message)

    def _failure(self, error: Exception) -> RequestResult:
        text = str(error)
        return RequestResult(error=type(error).__name__, message=text.splitlines()[0] if text else "")

    async def _slot(self) -> None:
        # The hot loop of closed-loop mode, kept flat: every Python call here is client
        # overhead that would otherwise show up as server latency.
        now_ns = self._clock.now_ns
        request_fn = self._request_fn
        while not self._stopping:
            sent = now_ns()
            tick = self._tick if sent < self._tick.end_ns else self._tick_at(sent)
            tick.sent += 1
            try:
                result = await request_fn()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - a failure is data, recorded by kind
                result = self._failure(error)
            self._record(sent, now_ns(), result)

    async def _one(self, sent_ns: int) -> None:
        result = await self._call()
        self._record(sent_ns, self._clock.now_ns(), result)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if self._slot_free is not None:
            self._slot_free.set()

    async def _sender(self, load: OpenLoop) -> None:
        clock = self._clock
        self._slot_free = asyncio.Event()
        for offset in load.offsets:
            if self._stopping:
                return
            target = self._start_ns + offset
            if clock.now_ns() < target:
                await clock.sleep_until_ns(target)
            while len(self._in_flight) >= load.max_in_flight and not self._stopping:
                self._slot_free.clear()
                await self._slot_free.wait()
            if self._stopping:
                return
            now = clock.now_ns()
            tick = self._tick_at(now)
            tick.sent += 1
            lateness = now - target
            if lateness > self._late_threshold_ns:
                # Sent anyway (the schedule is kept on average), but never silently.
                tick.late += 1
                tick.lateness_total_ns += lateness
                tick.lateness_max_ns = max(tick.lateness_max_ns, lateness)
            task = asyncio.create_task(self._one(now))
            self._in_flight.add(task)
            task.add_done_callback(self._task_done)

    # -- the run ---------------------------------------------------------------------------
    async def run(self, sink: TickSink, start_ns: int | None = None) -> None:
        """Generate load from ``start_ns`` (default: now) until ``sink`` returns True."""
        clock = self._clock
        self._start_ns = clock.now_ns() if start_ns is None else start_ns
        await clock.sleep_until_ns(self._start_ns)
        self._open_tick(self._start_ns)
        self._cpu_mark = self._cpu_time_ns()
        load = self._load
        if isinstance(load, ClosedLoop):
            drivers = [asyncio.create_task(self._slot()) for _ in range(load.concurrency)]
        else:
            drivers = [asyncio.create_task(self._sender(load))]
        try:
            await self._tick_loop(sink)
        finally:
            self._stopping = True
            await self._drain(drivers)

    async def _tick_loop(self, sink: TickSink) -> None:
        clock = self._clock
        while True:
            boundary = self._tick.end_ns
            await clock.sleep_until_ns(boundary)
            now = clock.now_ns()
            self._tick_at(now)
            lag = now - boundary
            closed, self._closed = self._closed, []
            if closed:
                closed[-1].loop_lag_max_ns = max(closed[-1].loop_lag_max_ns, lag)
            for tick in closed:
                if sink(tick):
                    return

    async def _drain(self, drivers: list[asyncio.Task[None]]) -> None:
        """Let requests in flight finish (unrecorded) for a while, then cancel them."""
        pending = [t for t in [*drivers, *self._in_flight] if not t.done()]
        if pending:
            _, still = await asyncio.wait(pending, timeout=self._drain_timeout_ns / 1e9)
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still, timeout=1.0)
