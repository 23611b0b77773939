"""The load sweep against formulas (metric = f(load)): the exact loads it tries and where it stops."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tritune.domain.measurement import LoadMode, LoadPoint, Measurement, MeasurementStatus
from tritune.search import LoadSweep, SearchProtocolError, SweepSettings

Formula = Callable[[float], dict[str, float] | None]


def run(settings: SweepSettings, formula: Formula) -> list[float]:
    sweep = LoadSweep(settings)
    tried = []
    while (load := sweep.ask()) is not None:
        tried.append(load.value)
        metrics = formula(load.value)
        status = MeasurementStatus.FAILED if metrics is None else MeasurementStatus.OK
        sweep.tell(load, Measurement(load, status, metrics or {}))
    return tried


def saturating(value: float) -> dict[str, float]:
    # 100 infer/sec per client up to 1000; latency 5 ms until saturation, then Little's law.
    throughput = min(100 * value, 1000.0)
    latency = max(5.0, value / throughput * 1000)
    return {"perf_throughput": throughput, "perf_latency_p99": latency}


def test_doubling_stops_when_the_last_four_gain_less_than_5_percent() -> None:
    # 800 -> 1000 is a 25 % gain, so the window starting at 8 continues; the one at 16 is flat.
    assert run(SweepSettings(), saturating) == [1, 2, 4, 8, 16, 32, 64, 128]


def test_shorter_window_stops_sooner() -> None:
    assert run(SweepSettings(window=2), saturating) == [1, 2, 4, 8, 16, 32]


def test_maximum_bounds_the_sweep() -> None:
    assert run(SweepSettings(maximum=6), saturating) == [1, 2, 4, 6]


def test_curve_points_add_halvings_below_the_lowest_load_after_the_sweep() -> None:
    assert run(SweepSettings(start=16, window=2, curve_points=2), saturating) == [16, 32, 4, 8]
    # Never below the minimum, never a load measured already.
    assert run(SweepSettings(start=2, window=2, curve_points=3), saturating) == [2, 4, 8, 16, 32, 1]


def test_curve_points_do_not_steer_the_sweep() -> None:
    # A curve point breaking nothing and a sweep stopped by a cap: the boundary stays as found.
    capped = SweepSettings(start=64, curve_points=2, latency_caps={"perf_latency_p99": 40.0})
    tried = run(capped, saturating)
    plain = run(SweepSettings(start=64, latency_caps={"perf_latency_p99": 40.0}), saturating)
    assert tried[: len(plain)] == plain
    assert tried[len(plain) :] == [min(plain) // 4, min(plain) // 2]  # whole concurrencies


def test_manual_values_get_no_curve_points() -> None:
    assert run(SweepSettings(values=(4, 8), curve_points=2), saturating) == [4, 8]


def test_latency_cap_is_found_by_aiming_at_it() -> None:
    # p99 = value ms past saturation (value >= 10), so a 40 ms budget sits at concurrency 40.
    tried = run(SweepSettings(latency_caps={"perf_latency_p99": 40.0}), saturating)
    good = [v for v in tried if saturating(v)["perf_latency_p99"] <= 40]
    assert 40 * 0.96 <= max(good) <= 40  # within the 4 % taken as "at the boundary"
    assert len(tried) <= 8  # MA's doubling + 5-step binary search would need 11


def test_start_above_the_cap_comes_down_to_it() -> None:
    tried = run(SweepSettings(start=256, latency_caps={"perf_latency_p99": 40.0}), saturating)
    assert tried[0] == 256
    good = [v for v in tried if saturating(v)["perf_latency_p99"] <= 40]
    assert max(good) == 40
    assert len(tried) <= 4


def test_bisects_when_the_bad_end_failed() -> None:
    def dies_above_20(value: float) -> dict[str, float] | None:
        return None if value > 20 else saturating(value)

    tried = run(SweepSettings(binary_search_steps=5), dies_above_20)
    assert tried == [1, 2, 4, 8, 16, 32, 24, 20, 22, 21]


def test_infeasible_even_at_the_minimum_stops_at_once() -> None:
    assert run(SweepSettings(latency_caps={"perf_latency_p99": 1.0}), saturating) == [1]


def test_failure_at_the_first_load_stops() -> None:
    assert run(SweepSettings(), lambda v: None) == [1]


def test_manual_values_skip_loads_above_a_broken_cap() -> None:
    settings = SweepSettings(values=(4, 64, 16, 128, 32), latency_caps={"perf_latency_p99": 40.0})
    assert run(settings, saturating) == [4, 64, 16, 32]


def test_client_bound_measurement_ends_the_climb() -> None:
    sweep = LoadSweep(SweepSettings())
    load = sweep.ask()
    assert load is not None
    sweep.tell(load, Measurement(load, MeasurementStatus.OK, {"perf_throughput": 10.0}, client_bound=True))
    assert sweep.ask() is None


def test_request_rate_sweep_uses_rates_and_batch_size() -> None:
    sweep = LoadSweep(SweepSettings(mode=LoadMode.REQUEST_RATE, start=16, minimum=16, maximum=100), batch_size=4)
    load = sweep.ask()
    assert load == LoadPoint(LoadMode.REQUEST_RATE, 16, 4)


def test_protocol_is_enforced() -> None:
    sweep = LoadSweep(SweepSettings())
    load = sweep.ask()
    with pytest.raises(SearchProtocolError):
        sweep.ask()
    with pytest.raises(SearchProtocolError):
        sweep.tell(LoadPoint(value=99), Measurement(LoadPoint(value=99), MeasurementStatus.OK))
    assert load is not None
