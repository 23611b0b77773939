"""Running the engine in several worker processes when one event loop cannot keep up.

Each worker builds its own request function (channels cannot cross processes), generates its
share of the load (concurrency slots split evenly; an open-loop schedule thinned by index, so
the parts add up to exactly the requested arrivals) and streams its ticks to the parent over
a pipe. Tick edges are absolute CLOCK_MONOTONIC times shared by every process on the host, so
tick k of every worker covers the same span; the parent combines them exactly (histogram
counts add) and feeds the combined tick to the window controller.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection

import numpy as np

from tritune.errors import TrituneError
from tritune.loadgen.engine import ClosedLoop, LoadEngine, OpenLoop
from tritune.loadgen.schedule import Schedule, arrival_offsets
from tritune.loadgen.stats import WindowStats
from tritune.loadgen.triton_client import RequestTarget, make_request_fn

_STOP = "stop"
_READY = "ready"
_DONE = "done"


class WorkerError(TrituneError):
    """A load-generator worker process died or did not start."""


@dataclass(frozen=True)
class WorkerPlan:
    target: RequestTarget
    concurrency: int = 0  # closed loop when > 0
    schedule: Schedule | None = None  # open loop otherwise
    part: int = 0
    parts: int = 1
    tick_ns: int = 100_000_000
    late_threshold_ns: int = 2_000_000
    max_in_flight: int = 16384
    drain_timeout_ns: int = 5_000_000_000

    def load(self) -> ClosedLoop | OpenLoop:
        if self.concurrency > 0:
            return ClosedLoop(self.concurrency)
        if self.schedule is None:
            raise ValueError("a worker needs a concurrency or a schedule")
        rng = np.random.default_rng(self.schedule.seed)
        return OpenLoop(arrival_offsets(self.schedule, rng, self.part, self.parts), self.max_in_flight)


async def _worker_async(plan: WorkerPlan, conn: Connection) -> None:
    request_fn = make_request_fn(plan.target)
    try:
        engine = LoadEngine(
            request_fn,
            plan.load(),
            tick_ns=plan.tick_ns,
            late_threshold_ns=plan.late_threshold_ns,
            cpu_time_ns=time.thread_time_ns,
            drain_timeout_ns=plan.drain_timeout_ns,
        )
        conn.send(_READY)
        start_ns = conn.recv()
        stop = False

        def sink(tick: WindowStats) -> bool:
            nonlocal stop
            conn.send(tick)
            # A stop from the parent is waiting: finish (the parent reads no more ticks).
            stop = stop or conn.poll()
            return stop

        await engine.run(sink, start_ns=start_ns)
    finally:
        await request_fn.aclose()


def worker_main(plan: WorkerPlan, conn: Connection) -> None:
    try:
        asyncio.run(_worker_async(plan, conn))
    finally:
        with contextlib.suppress(OSError):
            conn.send(_DONE)
        conn.close()


def run_in_workers(
    plans: list[WorkerPlan],
    on_tick: Callable[[WindowStats], bool],
    *,
    start_delay_ns: int = 50_000_000,
    startup_timeout_s: float = 60.0,
) -> None:
    """Run every plan in its own process until ``on_tick`` (fed combined ticks) returns True."""
    context = multiprocessing.get_context("spawn")  # fork would copy gRPC's threads and locks
    pipes: list[Connection] = []
    processes = []
    try:
        for plan in plans:
            parent_end, child_end = context.Pipe()
            process = context.Process(target=worker_main, args=(plan, child_end), daemon=True)
            process.start()
            child_end.close()
            pipes.append(parent_end)
            processes.append(process)
        for index, conn in enumerate(pipes):
            if not conn.poll(startup_timeout_s) or conn.recv() != _READY:
                raise WorkerError(f"load-generator worker {index} did not start within {startup_timeout_s:.0f} s")
        start_ns = time.monotonic_ns() + start_delay_ns
        for conn in pipes:
            conn.send(start_ns)
        tick_ns = plans[0].tick_ns
        while True:
            ticks = []
            for index, conn in enumerate(pipes):
                # A tick is due every tick_ns; a worker silent far longer than that has died.
                if not conn.poll(max(10.0, 50 * tick_ns / 1e9)):
                    raise WorkerError(f"load-generator worker {index} stopped sending results")
                message = conn.recv()
                if not isinstance(message, WindowStats):
                    raise WorkerError(f"load-generator worker {index} exited early")
                ticks.append(message)
            combined = ticks[0]
            for tick in ticks[1:]:
                combined.combine(tick)
            if on_tick(combined):
                return
    except EOFError:
        raise WorkerError("a load-generator worker exited early") from None
    finally:
        for conn in pipes:
            with contextlib.suppress(OSError):
                conn.send(_STOP)
        for conn in pipes:
            # Read until the worker says it is done, so it never blocks on a full pipe.
            with contextlib.suppress(EOFError, OSError):
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline and conn.poll(max(0.0, deadline - time.monotonic())):
                    if conn.recv() == _DONE:
                        break
            conn.close()
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join(timeout=2)
