import numpy as np
import pytest

from tritune.errors import UsageError
from tritune.loadgen.schedule import (
    Distribution,
    Schedule,
    first_offsets,
    parse_range,
    read_intervals_file,
    split_concurrency,
)


def test_constant_rate_is_exact_and_does_not_drift():
    offsets = first_offsets(Schedule(rate=3000.0), 9001)
    assert offsets[0] == 0
    assert offsets[3] == 1_000_000  # 3 gaps of 333_333.3 ns
    assert offsets[9000] == 3_000_000_000  # 9000 gaps: exactly 3 s, no accumulated rounding


def test_poisson_gaps_are_exponential_with_the_requested_rate():
    offsets = np.array(first_offsets(Schedule(rate=500.0, distribution=Distribution.POISSON, seed=11), 20001))
    gaps = np.diff(offsets) / 1e9
    assert gaps.mean() == pytest.approx(1 / 500, rel=0.03)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.03)  # CV of an exponential is 1
    # P(gap > mean) = e^-1 for an exponential
    assert (gaps > 1 / 500).mean() == pytest.approx(np.exp(-1), abs=0.015)
    # counts per 1 s bin: Poisson, variance = mean
    counts = np.bincount((offsets // 1_000_000_000).astype(int))[:-1]
    assert counts.var() / counts.mean() == pytest.approx(1.0, abs=0.5)


def test_the_same_seed_gives_the_same_schedule():
    schedule = Schedule(rate=100.0, distribution=Distribution.POISSON, seed=4)
    assert first_offsets(schedule, 50) == first_offsets(schedule, 50)
    assert first_offsets(schedule, 50) != first_offsets(schedule, 50, seed=5)


@pytest.mark.parametrize("distribution", list(Distribution))
def test_worker_parts_add_up_to_exactly_the_global_schedule(distribution):
    schedule = Schedule(rate=1000.0, distribution=distribution, seed=2)
    whole = first_offsets(schedule, 9000)
    parts = [first_offsets(schedule, 3000, part=i, parts=3) for i in range(3)]
    assert sorted(x for part in parts for x in part) == sorted(whole)
    assert parts[1][:2] == [whole[1], whole[4]]


def test_intervals_loop_over_the_file(tmp_path):
    path = tmp_path / "intervals.txt"
    path.write_text("1000\n3000\n500\n")
    intervals = read_intervals_file(path)
    assert intervals == (1_000_000, 3_000_000, 500_000)
    offsets = first_offsets(Schedule(intervals_ns=intervals), 7)
    assert offsets == [0, 1_000_000, 4_000_000, 4_500_000, 5_500_000, 8_500_000, 9_000_000]
    assert Schedule(intervals_ns=intervals).mean_rate == pytest.approx(3 / 0.0045)


def test_bad_schedules_and_ranges_are_refused_with_the_fix(tmp_path):
    with pytest.raises(UsageError, match="> 0"):
        Schedule(rate=0)
    (tmp_path / "bad.txt").write_text("1\nx\n")
    with pytest.raises(UsageError, match="microseconds"):
        read_intervals_file(tmp_path / "bad.txt")
    with pytest.raises(UsageError, match="start"):
        parse_range("4:2", integer=True)
    with pytest.raises(UsageError, match="integers"):
        parse_range("1.5:4", integer=True)


def test_ranges_follow_perf_analyzer():
    assert parse_range("1:16:4", integer=True) == [1, 5, 9, 13]
    assert parse_range("8", integer=True) == [8]
    assert parse_range("1:3", integer=True) == [1, 2, 3]
    assert parse_range("50:100:25", integer=False) == [50.0, 75.0, 100.0]


def test_concurrency_splits_evenly():
    assert split_concurrency(7, 3) == [3, 2, 2]
    assert sum(split_concurrency(16, 4)) == 16
