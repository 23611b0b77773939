"""Latency histograms: integer nanoseconds in an HdrHistogram, mergeable across windows and
worker processes.

HdrHistogram keeps 3 significant digits (a value is known to within 0.1 %), which is what the
percentiles use. Count, sum, sum of squares, min and max are kept exactly beside it, so the
average and standard deviation are exact, as perf_analyzer's are (it keeps every latency).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

LOWEST_NS = 1
HIGHEST_NS = 3_600 * 1_000_000_000  # one hour: any longer request is a failure anyway
SIGNIFICANT_DIGITS = 3


def rank_index(count: int, percentile: float) -> int:
    """perf_analyzer's rank rule: the latency at sorted index ``floor(p/100 * (n-1) + 0.5)``
    (round half up, not Python's round-half-even)."""
    if count <= 0:
        raise ValueError("no values")
    return min(count - 1, int(math.floor(percentile / 100.0 * (count - 1) + 0.5)))


class LatencyHistogram:
    """Integer-nanosecond latencies; ``merge`` is exact (counts add), so windows and worker
    processes combine without loss."""

    __slots__ = ("_hdr", "count", "total_ns", "total_sq_ns", "min_ns", "max_ns")

    def __init__(self) -> None:
        self._hdr = HdrHistogram(LOWEST_NS, HIGHEST_NS, SIGNIFICANT_DIGITS)
        self.count = 0
        self.total_ns = 0
        self.total_sq_ns = 0  # Python ints do not overflow, so the variance stays exact
        self.min_ns = 0
        self.max_ns = 0

    def record(self, latency_ns: int) -> None:
        value = min(max(latency_ns, LOWEST_NS), HIGHEST_NS)
        self._hdr.record_value(value)
        if self.count == 0 or value < self.min_ns:
            self.min_ns = value
        if value > self.max_ns:
            self.max_ns = value
        self.count += 1
        self.total_ns += value
        self.total_sq_ns += value * value

    def merge(self, other: LatencyHistogram) -> None:
        if other.count == 0:
            return
        self._hdr.add(other._hdr)
        self.min_ns = other.min_ns if self.count == 0 else min(self.min_ns, other.min_ns)
        self.max_ns = max(self.max_ns, other.max_ns)
        self.count += other.count
        self.total_ns += other.total_ns
        self.total_sq_ns += other.total_sq_ns

    @classmethod
    def merged(cls, histograms: Iterable[LatencyHistogram]) -> LatencyHistogram:
        result = cls()
        for histogram in histograms:
            result.merge(histogram)
        return result

    def mean_ns(self) -> float:
        return self.total_ns / self.count if self.count else 0.0

    def std_ns(self) -> float:
        """Sample standard deviation (n - 1), as perf_analyzer reports it."""
        if self.count < 2:
            return 0.0
        n = self.count
        # (Σx² - (Σx)²/n) / (n-1), computed on exact integers before the one division.
        numerator = n * self.total_sq_ns - self.total_ns * self.total_ns
        return math.sqrt(max(numerator, 0) / (n * (n - 1)))

    def value_at_rank(self, index: int) -> int:
        """The ``index``-th smallest latency (0-based), to HdrHistogram's precision: the
        middle of its bucket, clamped to the exact min and max."""
        if not 0 <= index < self.count:
            raise IndexError(index)
        if index == 0:
            return self.min_ns
        if index == self.count - 1:
            return self.max_ns
        seen = 0
        for item in self._hdr.get_recorded_iterator():
            seen += item.count_at_value_iterated_to
            if seen > index:
                value = item.value_iterated_to
                low = self._hdr.get_lowest_equivalent_value(value)
                high = self._hdr.get_highest_equivalent_value(value)
                return min(max((low + high) // 2, self.min_ns), self.max_ns)
        return self.max_ns  # unreachable when counts agree

    def percentile_ns(self, percentile: float) -> int:
        """Latency at ``percentile`` by perf_analyzer's rank rule (0 when empty)."""
        if self.count == 0:
            return 0
        return self.value_at_rank(rank_index(self.count, percentile))

    # -- crossing process boundaries -------------------------------------------------------
    def to_state(self) -> tuple[bytes, int, int, int, int, int]:
        encoded = self._hdr.encode() if self.count else b""
        return (encoded, self.count, self.total_ns, self.total_sq_ns, self.min_ns, self.max_ns)

    @classmethod
    def from_state(cls, state: tuple[bytes, int, int, int, int, int]) -> LatencyHistogram:
        encoded, count, total, total_sq, low, high = state
        histogram = cls()
        if count:
            histogram._hdr = HdrHistogram.decode(encoded)
        histogram.count, histogram.total_ns, histogram.total_sq_ns = count, total, total_sq
        histogram.min_ns, histogram.max_ns = low, high
        return histogram

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (LatencyHistogram.from_state, (self.to_state(),))


@dataclass(frozen=True)
class LatencySummary:
    count: int
    avg_ns: float
    std_ns: float
    min_ns: int
    max_ns: int
    p50_ns: int
    p90_ns: int
    p95_ns: int
    p99_ns: int

    @classmethod
    def of(cls, histogram: LatencyHistogram) -> LatencySummary:
        return cls(
            count=histogram.count,
            avg_ns=histogram.mean_ns(),
            std_ns=histogram.std_ns(),
            min_ns=histogram.min_ns,
            max_ns=histogram.max_ns,
            p50_ns=histogram.percentile_ns(50),
            p90_ns=histogram.percentile_ns(90),
            p95_ns=histogram.percentile_ns(95),
            p99_ns=histogram.percentile_ns(99),
        )

    def percentile_ns(self, percentile: int) -> int:
        return {50: self.p50_ns, 90: self.p90_ns, 95: self.p95_ns, 99: self.p99_ns}[percentile]
