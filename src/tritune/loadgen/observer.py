"""The server side of a measurement: Triton's statistics, its Prometheus metrics, the
model's memory and the CPU other processes on the host took, snapshotted at window edges and
reduced over the windows a result keeps."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from tritune.domain.host_load import OtherProcess, is_busy
from tritune.loadgen.server_stats import ServerBreakdown, StatsSnapshot, breakdown, parse_model_stats, step_breakdowns
from tritune.monitor.host_cpu import (
    HostCpuSample,
    name_busiest_others,
    others_between,
    sample_host_cpu,
    steal_between,
    watched_cores,
)
from tritune.monitor.memory import ModelMemory, model_memory
from tritune.monitor.metrics import MetricsSample, MetricsSummary, scrape_metrics, summarize_metrics
from tritune.triton.http_api import TritonHttpError
from tritune.triton.server import Endpoints, TritonServer

# A snapshot waits no longer than this for the server: a slow one only loses the breakdown.
SNAPSHOT_TIMEOUT_S = 2.0


def fetch_model_stats(endpoints: Endpoints, model: str, time_ns: int = 0) -> StatsSnapshot | None:
    """The model's cumulative statistics now; None when the server does not answer (it may
    have died: the caller reports that) or does not know the model."""
    try:
        document = endpoints.api(timeout_s=SNAPSHOT_TIMEOUT_S).statistics(model)
    except (TritonHttpError, ValueError):  # ValueError: a body that is not JSON
        return None
    return parse_model_stats(document, model, time_ns)


def fetch_stats(endpoints: Endpoints, models: tuple[str, ...], time_ns: int = 0) -> dict[str, StatsSnapshot]:
    """Several models' cumulative statistics now, in one request (an ensemble and its steps);
    the models the server does not answer for are left out."""
    try:
        document = endpoints.api(timeout_s=SNAPSHOT_TIMEOUT_S).statistics()
    except (TritonHttpError, ValueError):
        return {}
    snapshots = {m: parse_model_stats(document, m, time_ns) for m in models}
    return {m: s for m, s in snapshots.items() if s is not None}


@dataclass(frozen=True)
class _Snapshot:
    stats: StatsSnapshot | None
    metrics: MetricsSample | None
    memory: ModelMemory | None
    host: HostCpuSample | None = None
    steps: dict[str, StatsSnapshot] | None = None  # an ensemble's composing models'


@dataclass(frozen=True)
class ServerSide:
    """What the server did over the kept windows (each part None when not observed)."""

    breakdown: ServerBreakdown | None = None
    metrics: MetricsSummary | None = None
    memory: ModelMemory | None = None
    host_other_cpu: float | None = None  # cores others took (None: a server given by URL)
    host_cores: int = 0  # the cores tritune and the server run on, that figure's scale
    steps: tuple[tuple[str, ServerBreakdown], ...] = ()  # an ensemble's composing models', in step order
    host_busiest: tuple[OtherProcess, ...] = ()  # where others took enough: the busiest of them, named
    host_stolen: float = 0.0  # of host_other_cpu: the cores the hypervisor gave to other guests


class ServerObserver:
    """Takes snapshots on a thread of its own, so the event loop never waits on them."""

    def __init__(
        self,
        server: TritonServer,
        model: str,
        *,
        server_stats: bool = True,
        metrics: bool = True,
        memory: bool = True,
        host_cpu: bool = True,
        steps: tuple[str, ...] = (),
    ) -> None:
        """``host_cpu``: watch the CPU other processes take. Only for a server tritune knows the
        process of: a server given by URL may run on this host, and its CPU would read as others'.
        ``steps``: an ensemble's composing models, whose statistics are read beside its own."""
        self._server = server
        server_pid = server.server_pid()
        self._cores = watched_cores(server_pid) if host_cpu and server_pid is not None else frozenset()
        self._model = model
        self._steps = steps
        self._want = (server_stats, metrics, memory)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tritune-observer")
        self._snapshots: dict[int, Future[_Snapshot]] = {}
        self._taken: dict[int, _Snapshot] = {}  # the snapshots collect() read, by edge

    def _take(self) -> _Snapshot:
        # The CPU first: it is the reading most sensitive to when it is taken.
        host = sample_host_cpu(self._cores, self._server.server_pid()) if self._cores else None
        now = time.monotonic_ns()
        want_stats, want_metrics, want_memory = self._want
        endpoints = self._server.endpoints
        stats, steps = None, None
        if want_stats and self._steps:
            every = fetch_stats(endpoints, (self._model, *self._steps), now)
            stats, steps = every.pop(self._model, None), every
        elif want_stats:
            stats = fetch_model_stats(endpoints, self._model, now)
        metrics = None
        if want_metrics and endpoints.metrics:
            metrics = scrape_metrics(endpoints.metrics, now, SNAPSHOT_TIMEOUT_S, endpoints.connection)
        memory = model_memory(self._server.server_pid(), self._model) if want_memory else None
        return _Snapshot(stats, metrics, memory, host, steps)

    def snapshot(self, edge: int) -> None:
        """Edge -1 is the start of the first window, edge i the end of window i."""
        if edge not in self._snapshots:
            self._snapshots[edge] = self._pool.submit(self._take)

    def collect(self, first_window: int, last_window: int) -> ServerSide:
        """Reduce the snapshots that bound windows ``first_window..last_window`` and stop
        observing (an empty range, last < first, only stops)."""
        snaps: dict[int, _Snapshot] = {}
        for edge, future in self._snapshots.items():
            try:
                snaps[edge] = future.result(timeout=10)
            except Exception:  # noqa: BLE001 - a failed snapshot only loses the breakdown
                continue
        self._pool.shutdown(wait=False)
        self._taken = snaps
        first, last = snaps.get(first_window - 1), snaps.get(last_window)
        server = None
        if first and last and first.stats and last.stats:
            server = breakdown(first.stats, last.stats)
        span = [snaps[e] for e in range(first_window - 1, last_window + 1) if e in snaps]
        samples = [s.metrics for s in span if s.metrics is not None]
        metrics = summarize_metrics(samples) if samples else None
        memory = ModelMemory.peak([s.memory for s in span if s.memory is not None])
        others: float | None = None
        busiest: tuple[OtherProcess, ...] = ()
        stolen = 0.0
        if first and last and first.host and last.host:
            others = others_between(first.host, last.host)
            stolen = steal_between(first.host, last.host)
            if is_busy(others, len(self._cores)):
                busiest = tuple(name_busiest_others(self._cores, self._server.server_pid()))
        steps: tuple[tuple[str, ServerBreakdown], ...] = ()
        if first and last and first.steps and last.steps:
            steps = step_breakdowns(first.steps, last.steps, self._steps)
        return ServerSide(server, metrics, memory, others, len(self._cores), steps, busiest, stolen)

    def requests_per_window(self) -> dict[str, tuple[int | None, ...]]:
        """After :meth:`collect`: each observed model's successful requests in each window, by
        Triton's statistics (window i: between edges i-1 and i; None where a snapshot is
        missing). Models driven together show whether they were served in the same windows."""
        edges = sorted(e for e in self._taken if e >= 0)
        counts: dict[str, list[int | None]] = {m: [] for m in (self._model, *self._steps)}
        for edge in range(edges[-1] + 1 if edges else 0):
            before, after = self._taken.get(edge - 1), self._taken.get(edge)
            for model, column in counts.items():
                first, last = _model_stats(before, model, self._model), _model_stats(after, model, self._model)
                column.append(None if first is None or last is None else breakdown(first, last).requests)
        return {m: tuple(c) for m, c in counts.items()}


def _model_stats(snapshot: _Snapshot | None, model: str, own: str) -> StatsSnapshot | None:
    if snapshot is None:
        return None
    return snapshot.stats if model == own else (snapshot.steps or {}).get(model)
