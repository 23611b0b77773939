"""Models profiled concurrently: combined metrics, the weighted objective, each model's
constraints on its own metrics, and the sentence that says how the machine is shared (pure)."""

import pytest

from tritune.analysis.concurrent import (
    combined_metrics,
    objectives,
    per_model_constraints,
    sharing_sentence,
)
from tritune.analysis.configs import ConfigResult, best_per_config
from tritune.analysis.constraints import Constraints
from tritune.analysis.summary import summary_facts
from tritune.domain.measurement import LoadPoint, Measurement
from tritune.domain.metrics import (
    Direction,
    direction,
    header,
    is_known,
    is_latency,
    model_metric,
    parse_model_metric,
    unit,
)
from tritune.domain.serving import DynamicBatching, ServingConfig
from tritune.domain.status import MeasurementStatus


def _models(a: tuple[float, float], b: tuple[float, float]) -> dict[str, dict[str, float]]:
    """Each model's (throughput, p99 ms)."""
    return {
        name: {"perf_throughput": t, "perf_latency_p99": p, "perf_latency_avg": p / 2, "host_other_cpu": 0.1}
        for name, (t, p) in (("a", a), ("b", b))
    }


def _measured(a: tuple[float, float], b: tuple[float, float], weights: dict[str, float]) -> Measurement:
    return Measurement(LoadPoint(), MeasurementStatus.OK, combined_metrics(_models(a, b), weights))


def test_per_model_metrics_use_the_table_of_their_base_metric():
    name = model_metric("a", "perf_latency_p99")
    assert name == "model:a:perf_latency_p99" and parse_model_metric(name) == ("a", "perf_latency_p99")
    assert is_known(name) and is_latency(name) and direction(name) is Direction.MINIMIZE
    assert unit(name) == "ms" and header(name) == "a p99 Latency (ms)"
    assert not is_known("model:a:nonsense") and parse_model_metric("perf_latency_p99") is None


def test_combined_metrics_keep_each_model_and_sum_weigh_and_take_the_worst():
    metrics = combined_metrics(_models((100, 5), (40, 9)), {"a": 1.0, "b": 3.0})
    assert metrics[model_metric("a", "perf_throughput")] == 100 and metrics[model_metric("b", "perf_latency_p99")] == 9
    assert metrics["perf_throughput"] == 140  # what the machine served
    assert metrics["weighted_throughput"] == pytest.approx(100 + 3 * 40)
    assert metrics["perf_latency_p99"] == 9 and metrics["perf_latency_avg"] == 4.5  # the worst model's
    assert metrics["host_other_cpu"] == pytest.approx(0.1)  # one host, counted once


def test_the_machines_gauges_are_taken_once_and_memory_adds_up():
    per_model = _models((100, 5), (40, 9))
    for name, ram in (("a", 300.0), ("b", 200.0)):
        per_model[name] |= {"gpu_utilization": 70.0, "cpu_used_ram": ram}
    metrics = combined_metrics(per_model, {})
    assert metrics["gpu_utilization"] == 70.0 and metrics["cpu_used_ram"] == 500.0


def test_a_model_that_served_nothing_leaves_no_objective():
    per_model = _models((100, 5), (40, 9))
    per_model["b"] = {}
    metrics = combined_metrics(per_model, {})
    assert "weighted_throughput" not in metrics and "perf_throughput" not in metrics


def test_the_pick_meets_each_models_constraint_and_maximizes_the_weighted_throughput():
    weights = {"a": 1.0, "b": 2.0}
    constraints = per_model_constraints(
        {"a": Constraints.of({"perf_latency_p99": {"max": 10}}), "b": Constraints.of({"perf_latency_p99": {"max": 5}})}
    )
    assert constraints.describe() == "model:a:perf_latency_p99 <= 10, model:b:perf_latency_p99 <= 5"
    assert constraints.latency_caps() == {"model:a:perf_latency_p99": 10, "model:b:perf_latency_p99": 5}
    configs = [
        # The most served in all, but b misses its 5 ms.
        ConfigResult("ab_config_0", (_measured((500, 4), (300, 8), weights),)),
        # Both within their constraints; more weighted throughput than config 2.
        ConfigResult("ab_config_1", (_measured((100, 9), (200, 4), weights),)),
        ConfigResult("ab_config_2", (_measured((400, 3), (20, 2), weights),)),
    ]
    bests = best_per_config(configs, objectives(), constraints)
    assert [b.config.name for b in bests] == ["ab_config_1", "ab_config_2", "ab_config_0"]
    facts = summary_facts(configs, objectives(), constraints)
    assert facts.best_name == "ab_config_1" and facts.best_feasible
    assert facts.objective == "maximizing weighted throughput"


def test_weights_change_the_pick():
    configs = lambda w: [  # noqa: E731 - two pickings of the same measurements
        ConfigResult("x", (_measured((100, 1), (10, 1), w),)),
        ConfigResult("y", (_measured((40, 1), (50, 1), w),)),
    ]
    pick = lambda w: best_per_config(configs(w), objectives())[0].config.name  # noqa: E731
    assert pick({"a": 1.0, "b": 1.0}) == "x"  # 110 > 90
    assert pick({"a": 1.0, "b": 3.0}) == "y"  # 190 > 130


def test_the_sentence_says_how_the_machine_is_shared():
    serving = ServingConfig(
        max_batch_size=0,
        steps=(
            ("a", ServingConfig(max_batch_size=8, instance_count=2, dynamic_batching=DynamicBatching(100))),
            ("b", ServingConfig(max_batch_size=4, instance_count=1)),
        ),
    )
    metrics = combined_metrics(_models((1234.5, 5), (40, 9.25)), {})
    assert sharing_sentence(serving, metrics) == (
        "Served together, a gets 2 CPU instances, max batch 8, dynamic batching on (queue delay 100 µs): "
        "1,234.5 infer/sec, p99 5 ms; b gets 1 CPU instance, max batch 4, dynamic batching off: "
        "40.0 infer/sec, p99 9.25 ms."
    )
