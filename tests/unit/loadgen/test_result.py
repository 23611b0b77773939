"""The verdict on a measurement, a pure function of what was measured, and the metrics a
result stores (the metric table's names and units)."""

from __future__ import annotations

import pytest

from tritune.domain.metrics import METRICS, is_known
from tritune.domain.status import MeasurementStatus, Stability
from tritune.loadgen import LoadSpec, PerfResult, judge
from tritune.loadgen.result import CLIENT_CPU_BOUND, few_batches_hint
from tritune.loadgen.server_stats import ServerBreakdown
from tritune.loadgen.stats import ClientSummary, WindowStats, summarize
from tritune.monitor.memory import ModelMemory
from tritune.monitor.metrics import MetricsSummary

MS = 1_000_000


def _client(completed: int = 100, failed: int = 0, *, cpu: float = 0.2, sent: int = 0, late: int = 0) -> ClientSummary:
    window = WindowStats(0, 1000 * MS, worker_cpu_fraction_max=cpu, sent=sent or completed + failed, late=late)
    for _ in range(completed):
        window.latency.record(2 * MS)
    for _ in range(failed):
        window.record_error("http 500", "boom")
    return summarize([window], 1)


def test_a_stable_measurement_is_ok_without_warnings() -> None:
    verdict = judge(Stability.STABLE, "", _client(), open_loop=False)
    assert verdict.status is MeasurementStatus.OK
    assert (verdict.reason, verdict.client_bound, verdict.warnings) == ("", False, ())


def test_stable_throughput_with_a_wandering_latency_is_ok_with_the_reason_as_a_warning() -> None:
    verdict = judge(Stability.STABLE, "request latency is not stabilizing", _client(), open_loop=True)
    assert verdict.status is MeasurementStatus.OK and verdict.reason == ""
    assert verdict.warnings == ("request latency is not stabilizing",)


def test_unstable_and_undecided_map_to_their_statuses() -> None:
    unstable = judge(Stability.UNSTABLE, "windows differ", _client(), open_loop=False)
    assert unstable.status is MeasurementStatus.UNSTABLE and unstable.reason == "windows differ"
    # A worker died mid-run: the controller never decided, the worker's reason wins.
    broken = judge(Stability.RUNNING, "", _client(), open_loop=False, failure="worker 1 exited early")
    assert broken.status is MeasurementStatus.FAILED and broken.reason == "worker 1 exited early"


def test_a_dead_server_fails_the_measurement_and_keeps_the_reason() -> None:
    verdict = judge(Stability.UNSTABLE, "windows differ", _client(), open_loop=False, server_alive=False)
    assert verdict.status is MeasurementStatus.FAILED
    assert verdict.reason == "the Triton server died during the measurement (windows differ): see its log"
    quiet = judge(Stability.RUNNING, "", None, open_loop=False, server_alive=False)
    assert "(no reason given)" in quiet.reason


def test_failed_requests_above_the_share_fail_it_below_it_warn() -> None:
    many = judge(Stability.STABLE, "", _client(90, 10), open_loop=False)
    assert many.status is MeasurementStatus.FAILED
    assert many.reason == "10 requests failed (http 500 x10): boom"
    few = judge(Stability.STABLE, "", _client(1000, 1), open_loop=False)
    assert few.status is MeasurementStatus.OK and few.warnings == ("1 requests failed (http 500 x1): boom",)


def test_a_saturated_worker_or_late_sends_mark_the_client_as_the_bound() -> None:
    busy = judge(Stability.STABLE, "", _client(cpu=CLIENT_CPU_BOUND), open_loop=False)
    assert busy.client_bound and busy.status is MeasurementStatus.OK
    assert "the load generator is the bottleneck" in busy.warnings[0]
    late = _client(sent=100, late=5)
    assert judge(Stability.STABLE, "", late, open_loop=True).client_bound
    # Lateness only means something against an open-loop schedule.
    assert not judge(Stability.STABLE, "", late, open_loop=False).client_bound


def test_to_measurement_writes_the_metric_tables_names_in_its_units() -> None:
    server = ServerBreakdown(
        requests=10,
        executions=5,
        inferences=10,
        queue_ns=1 * MS,
        compute_input_ns=0.5 * MS,
        compute_infer_ns=3 * MS,
        compute_output_ns=0.25 * MS,
        request_ns=5 * MS,
    )
    gauges = MetricsSummary(
        gpu_utilization={"GPU-a": 0.5, "GPU-b": 0.25},
        gpu_power_usage={"GPU-a": 100.0, "GPU-b": 50.0},
        gpu_memory_used_bytes={"GPU-a": 3e9},
    )
    result = PerfResult(
        "m",
        LoadSpec.concurrency(2),
        MeasurementStatus.OK,
        client=_client(),
        server=server,
        metrics=gauges,
        memory=ModelMemory(processes=1, rss_bytes=250_000_000, uss_bytes=None, gpu_bytes=None),
    )
    metrics = result.to_measurement().metrics
    assert all(is_known(name) for name in metrics)
    assert set(metrics) <= set(METRICS)  # the latency spread too
    assert metrics["perf_latency_p99"] == pytest.approx(2.0)  # ms
    assert metrics["perf_server_compute_infer"] == pytest.approx(3.0)
    assert metrics["cpu_used_ram"] == pytest.approx(250.0)  # MB, from the stubs
    assert metrics["gpu_used_memory"] == pytest.approx(3000.0)  # MB, from the gauges
    assert metrics["gpu_utilization"] == pytest.approx(37.5)  # percent, averaged over GPUs
    assert metrics["gpu_power_usage"] == pytest.approx(150.0)  # W, summed over GPUs


def test_an_unstable_window_holding_few_batches_is_named_with_its_fix() -> None:
    # MiniLM at 300 ms windows: 3 windows holding 11 executions (batches of 16) in all
    hint = few_batches_hint(executions=11, windows=3, window_ms=300)
    assert hint is not None
    assert "300 ms windows held about 4 batches each" in hint and "27 %" in hint
    assert "--measurement-interval" in hint
    assert few_batches_hint(executions=30, windows=3, window_ms=1000) is None  # 10 a window: enough
    assert few_batches_hint(executions=0, windows=3, window_ms=300) is None  # no server count (ensemble)
    assert few_batches_hint(executions=11, windows=0, window_ms=300) is None
