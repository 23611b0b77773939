"""Running the engine in several worker processes.

Closed-loop slots get a process each where the host has the cores (perf_analyzer's sync mode
gives each slot a thread: the slots whose replies come in one batch resend at once, and the
dynamic batcher sees those bursts; one event loop handling the replies one after another
spreads the resends out and the server forms different batches). An open-loop schedule gets
more processes only when one event loop cannot keep up.

Each worker builds its own request function (channels cannot cross processes), generates its
share of the load (concurrency slots split evenly; an open-loop schedule thinned by index, so
the parts add up to exactly the requested arrivals) and streams its ticks to the parent over
a pipe. Tick edges are absolute CLOCK_MONOTONIC times shared by every process on the host, so
tick k of every worker covers the same span; the parent combines them exactly (histogram
counts add) and feeds the combined tick to the window controller.

The processes live in a ``WorkerPool`` and serve one measurement after another: starting one
costs about half a second of imports, and a search measures dozens of times.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection

import numpy as np

from tritune.errors import TrituneError
from tritune.interrupts import held_interrupts
from tritune.loadgen.engine import ClosedLoop, LoadEngine, OpenLoop, RequestFunc
from tritune.loadgen.payload import RequestTarget
from tritune.loadgen.request import make_request_fn
from tritune.loadgen.schedule import Schedule, arrival_offsets
from tritune.loadgen.stats import WindowStats

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

    def engine(self, request_fn: RequestFunc) -> LoadEngine:
        """The engine that runs this plan in the calling thread's event loop."""
        return LoadEngine(
            request_fn,
            self.load(),
            tick_ns=self.tick_ns,
            late_threshold_ns=self.late_threshold_ns,
            cpu_time_ns=time.thread_time_ns,  # the event loop's own thread: what saturates
            drain_timeout_ns=self.drain_timeout_ns,
        )


async def _worker_async(plan: WorkerPlan, conn: Connection) -> None:
    request_fn = make_request_fn(plan.target)
    try:
        engine = plan.engine(request_fn)
        conn.send(_READY)
        start_ns = conn.recv()
        if not isinstance(start_ns, int):
            return  # the parent called the run off before it started
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


def worker_main(conn: Connection) -> None:
    """Serve plans until the parent sends None or goes away; a DONE closes each run."""
    # Ctrl-C reaches the whole process group: the parent stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        while True:
            try:
                plan = conn.recv()
            except EOFError:
                return
            if plan is None:
                return
            if not isinstance(plan, WorkerPlan):
                continue  # a stop meant for the run before, read after it ended
            try:
                asyncio.run(_worker_async(plan, conn))
            finally:
                with contextlib.suppress(OSError):
                    conn.send(_DONE)
    finally:
        conn.close()


def serve_fd(fd: int) -> None:
    """A worker process's entry: serve plans over the socket inherited as ``fd``."""
    worker_main(Connection(fd))


def _ignore_ctrl_c() -> None:
    """Runs in the worker before exec: SIGINT ignored from the first instruction. An interpreter
    that starts with SIGINT ignored keeps it so, so a Ctrl-C while a worker still imports (seconds
    on a busy host) cannot end it with a KeyboardInterrupt traceback; worker_main says it again."""
    with contextlib.suppress(Exception):
        signal.signal(signal.SIGINT, signal.SIG_IGN)


_SYS_PATH_ENV = "TRITUNE_WORKER_SYS_PATH"
# Not multiprocessing's spawn: it re-runs the caller's main script in every worker (as
# __mp_main__), so a script that uses tritune without an ``if __name__ == "__main__"`` guard
# would run again in each. A plain interpreter that imports this module runs nothing else.
_ENTRY = (
    "import json, os, sys; sys.path[:0] = json.loads(os.environ.pop('{env}')); "
    "from tritune.loadgen.workers import serve_fd; serve_fd({fd})"
)


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    conn: Connection

    @classmethod
    def start(cls) -> _Worker:
        parent_end, child_end = socket.socketpair()
        # The worker imports tritune from where this process does (a source tree, a venv).
        env = dict(os.environ, **{_SYS_PATH_ENV: json.dumps([p for p in sys.path if p])})
        code = _ENTRY.format(env=_SYS_PATH_ENV, fd=child_end.fileno())
        try:
            with held_interrupts():
                process = subprocess.Popen(
                    [sys.executable, "-c", code],
                    pass_fds=(child_end.fileno(),),
                    env=env,
                    preexec_fn=_ignore_ctrl_c,  # noqa: PLW1509 - one signal call, before exec
                )
        except OSError:
            parent_end.close()
            raise
        finally:
            child_end.close()
        return cls(process, Connection(parent_end.detach()))

    def alive(self) -> bool:
        return self.process.poll() is None and not self.conn.closed

    def end(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            # SIGKILL cannot be refused, but on a host whose every core is busy the kernel may take
            # longer than the polite wait to reap it (seen in the busy-host suite).
            self.process.wait(timeout=30)
        self.conn.close()


class WorkerPool:
    """Worker processes kept between runs; ``run`` starts what it lacks, a worker that fails
    is ended and replaced next time."""

    def __init__(self, *, startup_timeout_s: float = 60.0) -> None:
        self._startup_timeout_s = startup_timeout_s
        self._idle: list[_Worker] = []

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def pids(self) -> tuple[int, ...]:
        """The idle workers' process ids (all of them, between runs)."""
        return tuple(w.process.pid for w in self._idle)

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for worker in idle:
            worker.end()

    def _take(self, count: int) -> list[_Worker]:
        kept = [w for w in self._idle if w.alive()]
        for worker in self._idle:
            if worker not in kept:
                worker.end()
        taken, self._idle = kept[:count], kept[count:]
        while len(taken) < count:
            # A fresh interpreter, not a fork: fork would copy gRPC's threads and locks.
            try:
                taken.append(_Worker.start())
            except OSError as error:
                for worker in taken:
                    worker.end()
                raise WorkerError(f"cannot start a load-generator worker process: {error}") from None
        return taken

    def run(
        self,
        plans: list[WorkerPlan],
        on_tick: Callable[[WindowStats], bool],
        *,
        start_delay_ns: int = 50_000_000,
    ) -> None:
        """Run every plan in a process of its own until ``on_tick`` (fed combined ticks)
        returns True."""
        self.run_groups([plans], lambda ticks: on_tick(ticks[0]), start_delay_ns=start_delay_ns)

    def run_groups(
        self,
        groups: list[list[WorkerPlan]],
        on_ticks: Callable[[list[WindowStats]], bool],
        *,
        start_delay_ns: int = 50_000_000,
    ) -> None:
        """Run every plan of every group (models served concurrently: a group per model) in a
        process of its own, all started at the same instant, until ``on_ticks`` (fed each group's
        combined tick, in group order, tick k of every group covering the same span) returns True."""
        plans = [plan for group in groups for plan in group]
        owners = [index for index, group in enumerate(groups) for _ in group]
        workers = self._take(len(plans))
        healthy = [True] * len(workers)
        try:
            for worker, plan in zip(workers, plans, strict=True):
                worker.conn.send(plan)
            for index, worker in enumerate(workers):
                if not worker.conn.poll(self._startup_timeout_s) or worker.conn.recv() != _READY:
                    healthy[index] = False
                    raise WorkerError(
                        f"load-generator worker {index} did not start within {self._startup_timeout_s:.0f} s"
                    )
            start_ns = time.monotonic_ns() + start_delay_ns
            for worker in workers:
                worker.conn.send(start_ns)
            self._stream(workers, owners, len(groups), healthy, plans[0].tick_ns, on_ticks)
        except (EOFError, OSError):
            raise WorkerError("a load-generator worker exited early") from None
        finally:
            self._finish(workers, healthy)

    @staticmethod
    def _stream(
        workers: list[_Worker],
        owners: list[int],
        groups: int,
        healthy: list[bool],
        tick_ns: int,
        on_ticks: Callable[[list[WindowStats]], bool],
    ) -> None:
        while True:
            combined: list[WindowStats | None] = [None] * groups
            for index, worker in enumerate(workers):
                # A tick is due every tick_ns; a worker silent far longer than that has died.
                if not worker.conn.poll(max(10.0, 50 * tick_ns / 1e9)):
                    healthy[index] = False
                    raise WorkerError(f"load-generator worker {index} stopped sending results")
                message = worker.conn.recv()
                if not isinstance(message, WindowStats):
                    healthy[index] = False
                    raise WorkerError(f"load-generator worker {index} exited early")
                group = combined[owners[index]]
                if group is None:
                    combined[owners[index]] = message
                else:
                    group.combine(message)
            if on_ticks([tick for tick in combined if tick is not None]):
                return

    def _finish(self, workers: list[_Worker], healthy: list[bool]) -> None:
        """Stop every worker's run and read until its DONE (so none blocks on a full pipe);
        the ones that answer go back to the pool, the others are ended."""
        for worker in workers:
            with contextlib.suppress(OSError):
                worker.conn.send(_STOP)
        for index, worker in enumerate(workers):
            done = False
            with contextlib.suppress(EOFError, OSError):
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline and worker.conn.poll(max(0.0, deadline - time.monotonic())):
                    if worker.conn.recv() == _DONE:
                        done = True
                        break
            if done and healthy[index] and worker.alive():
                self._idle.append(worker)
            else:
                worker.end()
