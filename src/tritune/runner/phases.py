"""Where an ``execute()`` call's time goes, phase by phase (the runner's ``phase_timing`` option).

Triton's statistics stop at "compute infer": the whole ``execute()``. On a GPU that step can
take several times what the same runtime needs in-process for the same batch, and the rest is
the runner's own data path (reading the inputs, concatenating, padding, copying, answering).
This clock sums each phase's time until a report is due and then says it in one line for the
server log; off (the default), the runner keeps no clock at all.

Pure: no Triton import, and the clock is passed in, so tests drive it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

PHASES = ("read", "merge", "pad", "run", "respond")  # in execute()'s order


class PhaseClock:
    def __init__(self, model: str, every_s: float, clock: Callable[[], int] = time.perf_counter_ns) -> None:
        self._model = model
        self._every_ns = int(every_s * 1e9)
        self._clock = clock
        self._totals = dict.fromkeys(PHASES, 0)
        self._executions = self._requests = self._rows = 0
        self._since = clock()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = self._clock()
        try:
            yield
        finally:
            self._totals[name] += self._clock() - started

    def executed(self, requests: int, rows: int) -> str | None:
        """Count one execute(); the report line when ``every_s`` has passed since the last one."""
        self._executions += 1
        self._requests += requests
        self._rows += rows
        now = self._clock()
        if now - self._since < self._every_ns:
            return None
        line = self.report()
        self._totals = dict.fromkeys(PHASES, 0)
        self._executions = self._requests = self._rows = 0
        self._since = now
        return line

    def report(self) -> str:
        per = max(self._executions, 1)
        phases = ", ".join(f"{name} {self._totals[name] / per / 1e6:.2f} ms" for name in PHASES)
        return (
            f"tritune runner phases {self._model}: {self._executions} executions, {self._requests} requests, "
            f"{self._rows} rows; per execution {phases}"
        )
