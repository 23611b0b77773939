import pytest

from tritune.domain.status import Stability
from tritune.loadgen.stabilize import (
    MeasurementController,
    StabilityCriteria,
    WindowMode,
    WindowSpec,
    check_stability,
    sized_request_count,
    tick_length_ns,
)
from tritune.loadgen.stats import WindowStats

MS = 1_000_000


def _window(start_ns: int, length_ns: int, completed: int, latency_ns: int, failed: int = 0) -> WindowStats:
    window = WindowStats(start_ns, start_ns + length_ns)
    for _ in range(completed):
        window.latency.record(latency_ns)
    for _ in range(failed):
        window.record_error("http 500", "boom")
    return window


def _windows(specs: list[tuple[int, int]], length_ns: int = 1000 * MS) -> list[WindowStats]:
    return [_window(i * length_ns, length_ns, c, lat) for i, (c, lat) in enumerate(specs)]


def test_stable_needs_three_windows_within_threshold_for_both():
    criteria = StabilityCriteria(threshold=0.10)
    assert check_stability(_windows([(100, MS), (109, MS), (105, MS)]), 1, criteria).stable
    # max/min = 1.11 > 1.10
    verdict = check_stability(_windows([(100, MS), (111, MS), (105, MS)]), 1, criteria)
    assert not verdict.stable and not verdict.throughput_stable and verdict.latency_stable
    verdict = check_stability(_windows([(100, MS), (100, 2 * MS), (100, MS)]), 1, criteria)
    assert not verdict.stable and verdict.throughput_stable and not verdict.latency_stable
    assert not check_stability(_windows([(100, MS), (100, MS)]), 1, criteria).stable


def test_only_the_last_three_windows_count():
    windows = _windows([(10, 9 * MS), (100, MS), (101, MS), (102, MS)])
    assert check_stability(windows, 1, StabilityCriteria()).stable


def test_latency_optional_accepts_stable_throughput_with_a_reason():
    windows = _windows([(100, MS), (100, 3 * MS), (100, MS)])
    verdict = check_stability(windows, 1, StabilityCriteria(latency_optional=True))
    assert verdict.stable and not verdict.latency_stable and "not stabilizing" in verdict.reason


def test_percentile_latency_is_compared_when_asked():
    a, b, c = _windows([(100, MS), (100, MS), (100, MS)])
    for _ in range(5):  # a tail in one window: p99 moves, the average barely
        b.latency.record(50 * MS)
    assert check_stability([a, b, c], 1, StabilityCriteria(threshold=0.5)).stable is False  # avg +240 %
    d = _window(0, 1000 * MS, 1000, MS)
    e = _window(1000 * MS, 1000 * MS, 1000, MS)
    for _ in range(20):
        e.latency.record(20 * MS)
    f = _window(2000 * MS, 1000 * MS, 1020, MS)
    assert check_stability([d, e, f], 1, StabilityCriteria(threshold=0.5, percentile=None)).stable
    assert not check_stability([d, e, f], 1, StabilityCriteria(threshold=0.5, percentile=99)).stable


def _feed(controller: MeasurementController, ticks: list[WindowStats]) -> int:
    for number, tick in enumerate(ticks, 1):
        if controller.add_tick(tick):
            return number
    return -1


def _ticks(counts: list[int], tick_ns: int, latency_ns: int = MS) -> list[WindowStats]:
    return [_window(i * tick_ns, tick_ns, c, latency_ns) for i, c in enumerate(counts)]


def test_time_windows_are_built_from_ticks_and_stop_when_stable():
    spec = WindowSpec(WindowMode.TIME, window_ns=500 * MS)
    tick = tick_length_ns(spec, 100 * MS)
    assert tick == 100 * MS
    controller = MeasurementController(spec, StabilityCriteria(), batch_size=2, tick_ns=tick)
    used = _feed(controller, _ticks([10] * 40, tick))
    assert used == 15 and controller.outcome is Stability.STABLE
    assert [w.completed for w in controller.windows] == [50, 50, 50]
    assert controller.windows[0].throughput(2) == pytest.approx(200.0)
    assert len(controller.kept_windows()) == 3


def test_unstable_after_max_windows_keeps_the_last_three():
    spec = WindowSpec(WindowMode.TIME, window_ns=100 * MS)
    controller = MeasurementController(spec, StabilityCriteria(max_windows=5), 1, 100 * MS)
    used = _feed(controller, _ticks([10, 20, 10, 20, 10, 20, 10], 100 * MS))
    assert used == 5 and controller.outcome is Stability.UNSTABLE
    assert "5 windows" in controller.reason
    assert [w.completed for w in controller.kept_windows()] == [10, 20, 10]


def test_a_window_without_successes_fails_the_measurement_with_its_errors():
    spec = WindowSpec(WindowMode.TIME, window_ns=100 * MS)
    controller = MeasurementController(spec, StabilityCriteria(), 1, 100 * MS)
    ticks = _ticks([10, 10], 100 * MS) + [_window(200 * MS, 100 * MS, 0, MS, failed=7)]
    assert _feed(controller, ticks) == 3
    assert controller.outcome is Stability.FAILED
    assert "http 500 x7" in controller.reason and "boom" in controller.reason
    assert [w.completed for w in controller.kept_windows()] == [10, 10]  # measured before: kept


def test_count_windows_close_at_the_first_tick_with_enough_requests():
    spec = WindowSpec(WindowMode.COUNT, request_count=50)
    controller = MeasurementController(spec, StabilityCriteria(), 1, 100 * MS)
    _feed(controller, _ticks([20, 20, 20, 20, 20, 20, 20, 20, 20], 100 * MS))
    assert [w.completed for w in controller.windows] == [60, 60, 60]
    assert controller.outcome is Stability.STABLE


def test_count_windows_last_their_shortest_length_and_a_slow_model_gets_whole_windows():
    # A fast model: 50 requests in one tick, but no window closes before 300 ms.
    fast = MeasurementController(
        WindowSpec(WindowMode.COUNT, request_count=50, min_window_ns=300 * MS), StabilityCriteria(), 1, 100 * MS
    )
    _feed(fast, _ticks([80] * 9, 100 * MS))
    assert [w.completed for w in fast.windows] == [240, 240, 240]
    # A slow model: a window waits for its requests (5 ticks each), however long that is.
    slow = MeasurementController(
        WindowSpec(WindowMode.COUNT, request_count=20, min_window_ns=300 * MS), StabilityCriteria(), 1, 100 * MS
    )
    _feed(slow, _ticks([4] * 15, 100 * MS))
    assert [(w.completed, w.duration_ns) for w in slow.windows] == [(20, 500 * MS)] * 3


def test_a_window_sized_to_the_load_holds_enough_completions_per_request_in_flight():
    assert sized_request_count(1, open_loop=False) == 20  # never fewer than 20
    assert sized_request_count(16, open_loop=False) == 128  # 8 per request in flight
    assert sized_request_count(1000, open_loop=True) == 250  # a quarter second at the target rate
    assert sized_request_count(10, open_loop=True) == 20


def test_warmup_ticks_are_dropped():
    spec = WindowSpec(WindowMode.TIME, window_ns=100 * MS, warmup_ns=200 * MS)
    controller = MeasurementController(spec, StabilityCriteria(), 1, 100 * MS)
    _feed(controller, _ticks([1, 1, 10, 10, 10], 100 * MS))
    assert [w.completed for w in controller.windows] == [10, 10, 10]
    assert controller.windows[0].start_ns == 200 * MS
