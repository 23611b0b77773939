"""Stand-ins for tests and examples: a virtual-time event loop and request functions of known
latency. Nothing here touches the network or the wall clock."""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from tritune.loadgen.engine import OK, LoopClock, RequestResult

T = TypeVar("T")


class _AdvancingSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """Instead of blocking until the next timer is due, jump the loop's clock to it."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        events = super().select(0)
        if events:
            return events
        if timeout is None:
            raise RuntimeError("virtual-time loop deadlocked: nothing ready and no timer pending")
        if timeout > 0:
            self._loop.advance(timeout)
        return events


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose ``time()`` is simulated: sleeps take no wall time, so a test of a
    10-second measurement runs in milliseconds and is exactly reproducible."""

    def __init__(self) -> None:
        self._virtual_now = 1000.0  # not 0: code may treat 0 as "unset"
        super().__init__(selector=_AdvancingSelector(self))

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        self._virtual_now += seconds


def run_virtual(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


class FixedLatency:
    """A request that takes ``latency_ns`` of (virtual) time; latencies may cycle through a
    list, and every ``fail_every``-th request fails with kind ``"fake"``."""

    def __init__(self, latency_ns: int | Sequence[int], *, fail_every: int = 0, clock: LoopClock | None = None):
        self._latencies = [latency_ns] if isinstance(latency_ns, int) else list(latency_ns)
        self._fail_every = fail_every
        self._clock = clock or LoopClock()
        self.calls = 0
        self.max_in_flight = 0
        self._in_flight = 0

    async def __call__(self) -> RequestResult:
        index = self.calls
        self.calls += 1
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            latency = self._latencies[index % len(self._latencies)]
            await self._clock.sleep_until_ns(self._clock.now_ns() + latency)
        finally:
            self._in_flight -= 1
        if self._fail_every and (index + 1) % self._fail_every == 0:
            return RequestResult(error="fake", message=f"request {index} failed on purpose")
        return OK


class ServerModel:
    """A fake server with ``servers`` parallel executors of fixed service time (a queue in
    front), so throughput saturates at servers / service_time as a real one does."""

    def __init__(self, service_ns: int, servers: int = 1, clock: LoopClock | None = None) -> None:
        self._service_ns = service_ns
        self._clock = clock or LoopClock()
        self._free_at = [0] * servers

    async def __call__(self) -> RequestResult:
        now = self._clock.now_ns()
        index = min(range(len(self._free_at)), key=self._free_at.__getitem__)
        start = max(now, self._free_at[index])
        self._free_at[index] = start + self._service_ns
        await self._clock.sleep_until_ns(start + self._service_ns)
        return OK
