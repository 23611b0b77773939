import pickle

import numpy as np
import pytest

from tritune.loadgen.histogram import LatencyHistogram, LatencySummary, rank_index
from tritune.loadgen.stats import WindowStats, summarize


def _pa_percentile(values: list[int], p: float) -> int:
    ordered = sorted(values)
    return ordered[int(p / 100 * (len(ordered) - 1) + 0.5)]


def test_rank_rule_is_round_half_up_over_n_minus_1():
    assert rank_index(1, 99) == 0
    assert rank_index(100, 50) == 50  # 49.5 rounds up, not to even
    assert rank_index(100, 99) == 98  # 98.01
    assert rank_index(10, 95) == 9  # 8.55
    assert rank_index(3, 50) == 1
    with pytest.raises(ValueError):
        rank_index(0, 50)


def test_percentiles_follow_perf_analyzer_to_histogram_precision():
    rng = np.random.default_rng(3)
    values = [int(v) for v in rng.lognormal(13, 0.6, 5000)]  # around 0.5 ms, long tail
    histogram = LatencyHistogram()
    for value in values:
        histogram.record(value)
    for p in (50, 90, 95, 99):
        assert histogram.percentile_ns(p) == pytest.approx(_pa_percentile(values, p), rel=1e-3)
    assert histogram.mean_ns() == pytest.approx(np.mean(values), rel=1e-12)
    assert histogram.std_ns() == pytest.approx(np.std(values, ddof=1), rel=1e-9)
    assert histogram.min_ns == min(values) and histogram.max_ns == max(values)


def test_small_counts_are_exact_at_the_ends():
    histogram = LatencyHistogram()
    for value in (1_000, 2_000, 3_000_000):
        histogram.record(value)
    assert histogram.percentile_ns(99) == 3_000_000  # rank 2 of 3: the exact max
    assert histogram.percentile_ns(0) == 1_000
    assert histogram.percentile_ns(50) == pytest.approx(2_000, rel=1e-3)


def test_merge_equals_recording_everything_in_one():
    rng = np.random.default_rng(5)
    parts = [[int(v) for v in rng.integers(100_000, 9_000_000, 700)] for _ in range(3)]
    separate = []
    for part in parts:
        histogram = LatencyHistogram()
        for value in part:
            histogram.record(value)
        separate.append(histogram)
    together = LatencyHistogram()
    for value in (v for part in parts for v in part):
        together.record(value)
    merged = LatencyHistogram.merged(separate)
    assert LatencySummary.of(merged) == LatencySummary.of(together)
    assert (merged.count, merged.total_ns, merged.total_sq_ns) == (
        together.count,
        together.total_ns,
        together.total_sq_ns,
    )


def test_histograms_survive_pickling_exactly():
    histogram = LatencyHistogram()
    for value in (5_000, 70_000, 70_001, 9_000_000):
        histogram.record(value)
    clone = pickle.loads(pickle.dumps(histogram))
    assert LatencySummary.of(clone) == LatencySummary.of(histogram)
    assert pickle.loads(pickle.dumps(LatencyHistogram())).count == 0


def test_throughput_is_completed_times_batch_over_window_time():
    windows = []
    for index, count in enumerate((100, 120, 110)):
        window = WindowStats(index * 500_000_000, (index + 1) * 500_000_000)
        for _ in range(count):
            window.latency.record(2_000_000)
        window.record_error("grpc UNAVAILABLE", "down")
        windows.append(window)
    summary = summarize(windows, batch_size=4)
    assert summary.throughput == pytest.approx(330 * 4 / 1.5)
    assert summary.request_rate == pytest.approx(330 / 1.5)
    assert summary.errors == {"grpc UNAVAILABLE": 3}
    assert summary.latency.p99_ns == 2_000_000 and summary.latency.std_ns == 0
