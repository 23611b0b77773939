"""The engine on a virtual clock with fake requests of known latency: exact numbers."""

import numpy as np
import pytest

from tritune.loadgen.engine import ClosedLoop, LoadEngine, LoopClock, OpenLoop, RequestResult
from tritune.loadgen.schedule import Distribution, Schedule, arrival_offsets
from tritune.loadgen.stabilize import MeasurementController, Stability, StabilityCriteria, WindowSpec
from tritune.loadgen.stats import WindowStats, summarize
from tritune.testing.loadgen_fakes import FixedLatency, ServerModel, run_virtual

MS = 1_000_000
TICK = 100 * MS


def _collect(engine: LoadEngine, ticks: int) -> list[WindowStats]:
    collected: list[WindowStats] = []

    def sink(tick: WindowStats) -> bool:
        collected.append(tick)
        return len(collected) >= ticks

    run_virtual(lambda: engine.run(sink))
    return collected


def _engine(request_fn, load, **kwargs) -> LoadEngine:
    return LoadEngine(request_fn, load, clock=LoopClock(), tick_ns=TICK, cpu_time_ns=lambda: 0, **kwargs)


def test_closed_loop_throughput_is_concurrency_over_latency():
    ticks = _collect(_engine(FixedLatency(2 * MS), ClosedLoop(4)), 10)
    summary = summarize(ticks, batch_size=8)
    # Completions at 2, 4, ... 998 ms per slot; the one at exactly 1000 ms opens the next tick.
    assert summary.completed == 4 * 499
    assert summary.throughput == pytest.approx(4 * 499 * 8)
    assert summary.latency.min_ns == summary.latency.max_ns == 2 * MS
    assert summary.latency.p99_ns == 2 * MS and summary.latency.std_ns == 0
    assert [t.start_ns for t in ticks[1:]] == [t.end_ns for t in ticks[:-1]]  # contiguous


def test_requests_count_in_the_tick_where_they_complete():
    # 30 ms requests, one slot: completions at 30, 60, 90, 120 ... ms; ticks are [start, end)
    ticks = _collect(_engine(FixedLatency(30 * MS), ClosedLoop(1)), 4)
    assert [t.completed for t in ticks] == [3, 3, 3, 4]  # 30-90 | 120-180 | 210-270 | 300-390


def test_percentiles_of_a_known_latency_mix():
    latencies = [MS] * 90 + [5 * MS] * 9 + [20 * MS]  # one slot cycles through this list
    ticks = _collect(_engine(FixedLatency(latencies), ClosedLoop(1)), 12)
    histogram = summarize(ticks, 1).latency
    assert histogram.p50_ns == pytest.approx(MS, rel=1e-3)
    assert histogram.p95_ns == pytest.approx(5 * MS, rel=1e-3)
    assert histogram.max_ns == 20 * MS


def test_errors_are_counted_per_kind_not_raised():
    class Flaky:
        def __init__(self) -> None:
            self.inner = FixedLatency(MS)
            self.calls = 0

        async def __call__(self) -> RequestResult:
            self.calls += 1
            await self.inner()
            if self.calls % 10 == 0:
                raise ConnectionResetError("peer reset")
            if self.calls % 10 == 5:
                return RequestResult(error="http 503", message="busy")
            return RequestResult()

    summary = summarize(_collect(_engine(Flaky(), ClosedLoop(1)), 5), 1)
    # 499 requests complete in 0.5 s (the 500th lands on the edge): calls 1..499
    assert summary.errors == {"ConnectionResetError": 49, "http 503": 50}
    assert summary.error_examples["ConnectionResetError"] == "peer reset"
    assert summary.completed == 499 - 99


def test_open_loop_sends_on_schedule_without_waiting_for_replies():
    fake = FixedLatency(50 * MS)  # 10x the gap: many requests overlap
    offsets = arrival_offsets(Schedule(rate=200.0), np.random.default_rng(0))
    ticks = _collect(_engine(fake, OpenLoop(offsets)), 10)
    summary = summarize(ticks, 1)
    assert summary.sent == 200
    assert summary.late == 0
    assert fake.max_in_flight == 10
    assert summary.latency.max_ns == 50 * MS


def test_late_sends_are_counted_and_reported():
    # At most 2 in flight, 10 ms each: 200 requests/s possible, 400/s asked.
    fake = FixedLatency(10 * MS)
    offsets = arrival_offsets(Schedule(rate=400.0), np.random.default_rng(0))
    ticks = _collect(_engine(fake, OpenLoop(offsets, max_in_flight=2), late_threshold_ns=MS), 10)
    summary = summarize(ticks, 1)
    assert summary.sent == pytest.approx(200, abs=2)
    assert summary.late >= summary.sent - 3
    assert summary.late_fraction > 0.9
    assert summary.lateness_max_ns > 400 * MS  # the backlog grows: up to ~0.5 s late at the end


def test_poisson_open_loop_hits_the_rate():
    offsets = arrival_offsets(
        Schedule(rate=1000.0, distribution=Distribution.POISSON, seed=1), np.random.default_rng(1)
    )
    ticks = _collect(_engine(FixedLatency(MS), OpenLoop(offsets)), 50)
    summary = summarize(ticks, 1)
    assert summary.request_rate == pytest.approx(1000, rel=0.05)
    assert summary.late == 0


def test_a_saturated_server_stabilizes_at_its_capacity():
    server = ServerModel(service_ns=4 * MS, servers=2)  # capacity 500 requests/s
    controller = MeasurementController(WindowSpec(window_ns=500 * MS), StabilityCriteria(), 1, TICK)
    engine = _engine(server, ClosedLoop(8))
    run_virtual(lambda: engine.run(controller.add_tick))
    assert controller.outcome is Stability.STABLE
    summary = summarize(controller.kept_windows(), 1)
    assert summary.throughput == pytest.approx(500, rel=0.01)
    assert summary.latency.avg_ns == pytest.approx(16 * MS, rel=0.01)  # Little's law: 8 / 500


def test_cpu_use_is_attributed_to_ticks():
    cpu = iter(range(0, 10**12, 30 * MS))  # 30 ms of CPU between two readings
    engine = LoadEngine(FixedLatency(MS), ClosedLoop(1), clock=LoopClock(), tick_ns=TICK, cpu_time_ns=lambda: next(cpu))
    ticks = _collect(engine, 3)
    assert all(t.client_cpu_ns == 30 * MS for t in ticks)
    assert ticks[0].worker_cpu_fraction_max == pytest.approx(0.3)
