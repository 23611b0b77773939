"""An ensemble's steps from Triton's statistics: each composing model's time per ensemble
request, stored under the step's own model name beside the ensemble's server time."""

from __future__ import annotations

import pytest

from tritune.domain.metrics import is_known, metric, parse_step_metric, step_metric
from tritune.domain.names import composing_name, step_label
from tritune.domain.status import MeasurementStatus
from tritune.loadgen import LoadSpec, PerfResult
from tritune.loadgen.server_stats import ServerBreakdown, StatsSnapshot, step_breakdowns, step_times_ns

MS = 1_000_000


def _breakdown(requests: int, request_ms: float, queue_ms: float, infer_ms: float) -> ServerBreakdown:
    return ServerBreakdown(
        requests=requests,
        executions=requests,
        inferences=requests,
        queue_ns=queue_ms * MS,
        compute_input_ns=0.1 * MS,
        compute_infer_ns=infer_ms * MS,
        compute_output_ns=0.1 * MS,
        request_ns=request_ms * MS,
    )


def test_each_steps_time_is_per_request_of_the_ensemble() -> None:
    ensemble = _breakdown(100, 3.0, 0.0, 2.5)
    steps = (("prep", _breakdown(100, 1.0, 0.2, 0.6)), ("model", _breakdown(200, 1.0, 0.1, 0.7)))
    times = step_times_ns(ensemble, steps)
    assert times["prep", "request"] == pytest.approx(1.0 * MS)
    assert times["prep", "compute"] == pytest.approx(0.8 * MS) and times["prep", "queue"] == pytest.approx(0.2 * MS)
    # A model that serves two steps of each request counts twice.
    assert times["model", "request"] == pytest.approx(2.0 * MS)


def test_a_step_missing_from_a_snapshot_is_left_out() -> None:
    counters = {
        c: (10, 10 * MS) for c in ("success", "fail", "queue", "compute_input", "compute_infer", "compute_output")
    }
    counters |= {"cache_hit": (0, 0), "cache_miss": (0, 0), "fail": (0, 0)}
    later = {c: (n + 10, ns + 20 * MS) for c, (n, ns) in counters.items()}
    first = {"a": StatsSnapshot(0, counters), "b": StatsSnapshot(0, counters)}
    last = {"a": StatsSnapshot(1, later)}
    ((name, step),) = step_breakdowns(first, last, ("a", "b"))
    assert name == "a" and step.requests == 10 and step.request_ns == pytest.approx(2 * MS)


def test_a_variants_steps_are_stored_under_the_users_model_names() -> None:
    variant = "pipeline_config_3"
    result = PerfResult(
        model=variant,
        load=LoadSpec(),
        status=MeasurementStatus.OK,
        server=_breakdown(100, 2.1, 0.0, 1.8),
        steps=(
            (composing_name(variant, "prep"), _breakdown(100, 0.8, 0.1, 0.5)),
            (composing_name(variant, "model"), _breakdown(100, 1.2, 0.3, 0.7)),
        ),
    )
    metrics = result.to_measurement().metrics
    assert metrics["perf_server_request"] == pytest.approx(2.1)
    assert metrics[step_metric("prep", "request")] == pytest.approx(0.8)
    assert metrics[step_metric("model", "queue")] == pytest.approx(0.3)
    assert metrics[step_metric("model", "compute")] == pytest.approx(0.9)
    # A model that is not an ensemble stores what it always stored.
    plain = PerfResult(model="m", load=LoadSpec(), status=MeasurementStatus.OK, server=_breakdown(100, 2.1, 0.0, 1.8))
    assert not any(parse_step_metric(name) or name == "perf_server_request" for name in plain.to_measurement().metrics)


def test_step_metrics_are_in_the_metric_table() -> None:
    name = step_metric("pre.process", "request")
    assert parse_step_metric(name) == ("pre.process", "request") and is_known(name)
    assert metric(name).unit == "ms" and metric(name).header == "Step pre.process Request (ms)"
    assert parse_step_metric("perf_latency_p99") is None and parse_step_metric("step:x:bogus") is None
    assert step_label("pipeline", composing_name("pipeline", "prep")) == "prep"
    assert step_label("pipeline", "prep") == "prep"  # a user's own ensemble keeps its names
