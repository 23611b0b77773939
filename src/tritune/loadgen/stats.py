"""What one measurement window holds, and the pure summary over windows (perf_analyzer's
rules: a request belongs to the window in which it completes; throughput = completed x batch /
window time; percentiles by its rank rule)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tritune.loadgen.histogram import LatencyHistogram, LatencySummary

NS_PER_S = 1_000_000_000


@dataclass
class WindowStats:
    """Counters for one time span. Built by the engine per tick; ticks of one worker are
    concatenated into windows, and the same window of several workers is combined."""

    start_ns: int
    end_ns: int
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)  # successes only
    errors: dict[str, int] = field(default_factory=dict)  # error kind -> count
    error_examples: dict[str, str] = field(default_factory=dict)  # error kind -> first message
    sent: int = 0
    late: int = 0  # open-loop sends that left later than their schedule allowed
    lateness_total_ns: int = 0
    lateness_max_ns: int = 0
    send_ns_total: int = 0  # client-side send (marshal) time, over successes
    recv_ns_total: int = 0  # client-side receive (unmarshal) time, over successes
    client_cpu_ns: int = 0  # CPU time the load generator's process(es) used
    worker_cpu_fraction_max: float = 0.0  # the busiest worker's CPU use / wall time
    loop_lag_max_ns: int = 0  # worst event-loop wake-up delay seen (a busy client shows it)
    workers: int = 1

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def completed(self) -> int:
        return self.latency.count

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    def record_error(self, kind: str, message: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        self.error_examples.setdefault(kind, message)

    def _add_counts(self, other: WindowStats) -> None:
        self.latency.merge(other.latency)
        for kind, count in other.errors.items():
            self.errors[kind] = self.errors.get(kind, 0) + count
        for kind, message in other.error_examples.items():
            self.error_examples.setdefault(kind, message)
        self.sent += other.sent
        self.late += other.late
        self.lateness_total_ns += other.lateness_total_ns
        self.lateness_max_ns = max(self.lateness_max_ns, other.lateness_max_ns)
        self.send_ns_total += other.send_ns_total
        self.recv_ns_total += other.recv_ns_total
        self.client_cpu_ns += other.client_cpu_ns
        self.loop_lag_max_ns = max(self.loop_lag_max_ns, other.loop_lag_max_ns)

    def extend(self, later: WindowStats) -> None:
        """Append the next span of the same worker(s)."""
        if later.start_ns < self.end_ns:
            raise ValueError("windows must be contiguous and in order")
        busy = self.worker_cpu_fraction_max * self.duration_ns + later.worker_cpu_fraction_max * later.duration_ns
        self._add_counts(later)
        self.end_ns = later.end_ns
        self.worker_cpu_fraction_max = busy / self.duration_ns if self.duration_ns else 0.0

    def combine(self, parallel: WindowStats) -> None:
        """Add the same span measured by another worker."""
        self._add_counts(parallel)
        self.start_ns = min(self.start_ns, parallel.start_ns)
        self.end_ns = max(self.end_ns, parallel.end_ns)
        self.worker_cpu_fraction_max = max(self.worker_cpu_fraction_max, parallel.worker_cpu_fraction_max)
        self.workers += parallel.workers

    def copy(self) -> WindowStats:
        clone = WindowStats(self.start_ns, self.start_ns, workers=self.workers)
        clone.extend(self)
        clone.workers = self.workers
        return clone

    def throughput(self, batch_size: int) -> float:
        return self.completed * batch_size * NS_PER_S / self.duration_ns if self.duration_ns > 0 else 0.0


@dataclass(frozen=True)
class ClientSummary:
    """Client-side results over the windows a measurement keeps."""

    throughput: float  # infer/sec = completed x batch / window time
    request_rate: float  # completed requests/sec
    latency: LatencySummary
    completed: int
    failed: int
    errors: dict[str, int]
    error_examples: dict[str, str]
    sent: int
    late: int
    lateness_max_ns: int
    duration_ns: int
    avg_send_ns: float
    avg_recv_ns: float
    client_cpu_fraction: float  # generator CPU / wall time, summed over workers (cores)
    worker_cpu_fraction_max: float
    loop_lag_max_ns: int

    @property
    def late_fraction(self) -> float:
        return self.late / self.sent if self.sent else 0.0


def merge_windows(windows: Sequence[WindowStats]) -> WindowStats:
    if not windows:
        raise ValueError("no windows to merge")
    merged = windows[0].copy()
    for window in windows[1:]:
        merged.extend(window)
    return merged


def summarize(windows: Sequence[WindowStats], batch_size: int) -> ClientSummary:
    """Merge ``windows`` (perf_analyzer merges its stable windows) and summarise them.

    Throughput divides by the sum of the window durations, not the span from first to last,
    so that windows need not be contiguous."""
    merged = merge_windows(windows)
    duration = sum(w.duration_ns for w in windows)
    completed = merged.completed
    return ClientSummary(
        throughput=completed * batch_size * NS_PER_S / duration if duration > 0 else 0.0,
        request_rate=completed * NS_PER_S / duration if duration > 0 else 0.0,
        latency=LatencySummary.of(merged.latency),
        completed=completed,
        failed=merged.failed,
        errors=dict(merged.errors),
        error_examples=dict(merged.error_examples),
        sent=merged.sent,
        late=merged.late,
        lateness_max_ns=merged.lateness_max_ns,
        duration_ns=duration,
        avg_send_ns=merged.send_ns_total / completed if completed else 0.0,
        avg_recv_ns=merged.recv_ns_total / completed if completed else 0.0,
        client_cpu_fraction=merged.client_cpu_ns / duration if duration > 0 else 0.0,
        worker_cpu_fraction_max=max(w.worker_cpu_fraction_max for w in windows),
        loop_lag_max_ns=merged.loop_lag_max_ns,
    )
