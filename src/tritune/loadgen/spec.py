"""What to measure and how: the client load (``LoadSpec``) and the measurement settings
(``MeasureOptions``: protocol, windows, stability, inputs, workers, what to observe)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tritune.domain.measurement import LoadMode, LoadPoint
from tritune.loadgen.schedule import Distribution, Schedule
from tritune.loadgen.stabilize import StabilityCriteria, WindowSpec


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
    # "system": inputs in POSIX shared memory the server reads in place (a server on this host);
    # "none": in each request (perf_analyzer's --shared-memory)
    shared_memory: str = "none"
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
