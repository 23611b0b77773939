"""Objectives, constraints, ranking, Pareto front and summary facts on hand-made data."""

from __future__ import annotations

import math

import pytest

from tritune.analysis import (
    Bound,
    ConfigResult,
    Constraints,
    Objectives,
    best_per_config,
    metric_noun,
    objective_phrase,
    pareto_front,
    rank,
    summary_facts,
    summary_sentence,
    top_n,
)
from tritune.domain.measurement import LoadPoint, Measurement, MeasurementStatus
from tritune.errors import UsageError


def m(throughput: float, p99: float, memory: float = 100.0, concurrency: float = 1) -> Measurement:
    return Measurement(
        LoadPoint(value=concurrency),
        MeasurementStatus.OK,
        {"perf_throughput": throughput, "perf_latency_p99": p99, "cpu_used_ram": memory},
    )


FAILED = Measurement(LoadPoint(value=64), MeasurementStatus.FAILED, error="server died")


# -- objectives -------------------------------------------------------------------------------------
def test_weights_are_normalized_and_directions_respected() -> None:
    objectives = Objectives.of({"perf_throughput": 3, "perf_latency_p99": 1})
    assert objectives.weights == {"perf_throughput": 0.75, "perf_latency_p99": 0.25}
    fast = {"perf_throughput": 100.0, "perf_latency_p99": 10.0}
    assert objectives.score({"perf_throughput": 200.0, "perf_latency_p99": 10.0}) > objectives.score(fast)
    assert objectives.score({"perf_throughput": 100.0, "perf_latency_p99": 5.0}) > objectives.score(fast)


def test_gain_is_model_analyzers_weighted_percentage() -> None:
    objectives = Objectives.of({"perf_throughput": 1, "perf_latency_p99": 1})
    gain = objectives.gain(
        {"perf_throughput": 200, "perf_latency_p99": 5}, {"perf_throughput": 100, "perf_latency_p99": 10}
    )
    assert gain == pytest.approx(100.0)  # +100 % throughput, latency halved: +100 %, weights 0.5 each
    assert Objectives.of().gain({"perf_throughput": 150}, {"perf_throughput": 100}) == pytest.approx(50.0)


def test_default_objective_is_throughput_and_lists_get_equal_weights() -> None:
    assert Objectives.of().weights == {"perf_throughput": 1.0}
    assert Objectives.of(["perf_throughput", "cpu_used_ram"]).weights == {
        "perf_throughput": 0.5,
        "cpu_used_ram": 0.5,
    }


def test_bad_objectives_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="unknown metric 'perf_thruput'"):
        Objectives.of({"perf_thruput": 1})
    with pytest.raises(UsageError, match="positive number"):
        Objectives.of({"perf_throughput": 0})


# -- constraints ------------------------------------------------------------------------------------
def test_violation_is_the_relative_miss_summed_over_bounds() -> None:
    constraints = Constraints.of({"perf_latency_p99": {"max": 10}, "perf_throughput": {"min": 100}})
    assert constraints.violation({"perf_latency_p99": 10, "perf_throughput": 100}) == 0.0
    assert constraints.violation({"perf_latency_p99": 12, "perf_throughput": 100}) == pytest.approx(0.2)
    assert constraints.violation({"perf_latency_p99": 12, "perf_throughput": 50}) == pytest.approx(0.7)
    assert constraints.violation({"perf_throughput": 100}) == pytest.approx(1.0)  # unmeasured: a full miss
    assert constraints.latency_caps() == {"perf_latency_p99": 10}


def test_min_above_max_is_rejected() -> None:
    with pytest.raises(UsageError, match="min 5 > max 2"):
        Bound("perf_latency_p99", min=5, max=2)


# -- ranking ----------------------------------------------------------------------------------------
def test_rank_puts_feasible_by_score_then_infeasible_by_miss_then_failed() -> None:
    items = [
        m(500, 30),  # infeasible, misses by 50 %
        FAILED,
        m(300, 12),  # infeasible, misses by 20 %
        m(200, 8),  # feasible
        m(250, 9),  # feasible, best
    ]
    ranked = rank(items, Objectives.of(), Constraints.of({"perf_latency_p99": {"max": 10}}))
    assert [r.item for r in ranked] == [items[4], items[3], items[2], items[0], items[1]]
    assert [r.outcome.feasible for r in ranked] == [True, True, False, False, False]
    assert ranked[-1].outcome.failed


def test_rank_ties_keep_input_order_and_top_n_cuts() -> None:
    a, b, c = {"perf_throughput": 1.0}, {"perf_throughput": 1.0}, {"perf_throughput": 2.0}
    ranked = rank([a, b, c], Objectives.of())
    assert [r.item for r in ranked] == [c, a, b]
    assert [r.item for r in top_n(ranked, 2)] == [c, a]
    constrained = rank([a, c], Objectives.of(), Constraints.of({"perf_throughput": {"max": 1.5}}))
    assert [r.item for r in top_n(constrained, 5, feasible_only=True)] == [a]


def test_pareto_front_is_exact() -> None:
    points = {
        "a": {"perf_throughput": 100.0, "perf_latency_p99": 5.0},
        "b": {"perf_throughput": 200.0, "perf_latency_p99": 10.0},
        "c": {"perf_throughput": 150.0, "perf_latency_p99": 12.0},  # dominated by b
        "d": {"perf_throughput": 200.0, "perf_latency_p99": 10.0},  # equal to b: both stay
        "e": {"perf_throughput": 90.0, "perf_latency_p99": 5.0},  # dominated by a
        "f": {"perf_throughput": 300.0, "perf_latency_p99": 40.0},
    }
    metrics = ["perf_throughput", "perf_latency_p99"]
    front = pareto_front(points, metrics, metrics=lambda name: points[name])
    assert front == ["a", "b", "d", "f"]
    budget = Constraints.of({"perf_latency_p99": {"max": 11}})
    assert pareto_front(points, metrics, budget, metrics=lambda name: points[name]) == ["a", "b", "d"]


def test_pareto_front_skips_failed_measurements() -> None:
    good = m(100, 5)
    assert pareto_front([good, FAILED], Objectives.of(["perf_throughput", "perf_latency_p99"])) == [good]


# -- per configuration and summary ------------------------------------------------------------------
def configs() -> list[ConfigResult]:
    return [
        ConfigResult("m_config_default", (m(100, 5, concurrency=1), m(150, 9, concurrency=2)), is_default=True),
        ConfigResult("m_config_0", (m(180, 6), m(300, 9.5, concurrency=4), m(400, 20, concurrency=8))),
        ConfigResult("m_config_1", (m(500, 30),)),
        ConfigResult("m_config_2", error="failed to load: out of memory"),
    ]


def test_best_per_config_picks_the_best_load_under_constraints() -> None:
    constraints = Constraints.of({"perf_latency_p99": {"max": 10}})
    bests = best_per_config(configs(), Objectives.of(), constraints)
    assert [b.config.name for b in bests] == ["m_config_0", "m_config_default", "m_config_1", "m_config_2"]
    assert bests[0].best is not None and bests[0].best.load.value == 4
    assert bests[0].outcome.load == LoadPoint(value=4)
    assert bests[2].best is not None and not bests[2].outcome.feasible
    assert bests[3].best is None and bests[3].outcome.failed


def test_summary_sentence_with_a_gain() -> None:
    facts = summary_facts(configs(), Objectives.of(), Constraints.of({"perf_latency_p99": {"max": 10}}))
    assert (facts.measurements, facts.configurations) == (6, 4)
    assert facts.gain_percent == pytest.approx(100.0)  # 300 vs the default's 150 infer/sec
    assert summary_sentence(facts) == (
        "In 6 measurements across 4 configurations, m_config_0 is 100% better than the default "
        "configuration at maximizing throughput under the given constraints: 300.0 infer/sec, p99 9.5 ms."
    )


def test_summary_sentence_without_gain() -> None:
    only_default = [configs()[0], ConfigResult("m_config_0", (m(120, 9),))]
    facts = summary_facts(only_default, Objectives.of())
    assert facts.best_is_default
    assert summary_sentence(facts) == (
        "In 3 measurements across 2 configurations, m_config_default provides no gain over the default "
        "configuration at maximizing throughput: 150.0 infer/sec, p99 9 ms."
    )


def test_summary_sentence_when_nothing_meets_the_constraints() -> None:
    facts = summary_facts(configs(), Objectives.of(), Constraints.of({"perf_latency_p99": {"max": 1}}))
    assert not facts.best_feasible
    assert summary_sentence(facts).startswith(
        "In 6 measurements across 4 configurations, no configuration meets the given constraints; "
        "m_config_default comes closest: 100.0 infer/sec, p99 5 ms."
    )  # 5 ms misses a 1 ms budget by less than m_config_0's 6 ms


def test_summary_with_several_objectives_says_meeting_the_objectives() -> None:
    facts = summary_facts(configs(), Objectives.of(["perf_throughput", "perf_latency_p99"]))
    assert facts.objective == "meeting the objectives"
    assert facts.gain_percent is not None and math.isfinite(facts.gain_percent)


def test_a_single_objective_reads_its_direction_and_name_from_the_metric_table() -> None:
    metrics = ("perf_throughput", "perf_latency_p99", "gpu_used_memory")
    phrases = {m: objective_phrase(Objectives.of([m])) for m in metrics}
    assert phrases == {
        "perf_throughput": "maximizing throughput",
        "perf_latency_p99": "minimizing p99 latency",
        "gpu_used_memory": "minimizing GPU memory",  # an acronym keeps its capitals
    }
    assert metric_noun("cpu_used_ram") == "RAM usage" and metric_noun("perf_server_queue") == "Queue"


def test_summary_without_any_usable_measurement() -> None:
    facts = summary_facts([ConfigResult("x", (FAILED,))], Objectives.of())
    assert (
        summary_sentence(facts)
        == "In 1 measurement across 1 configuration, no configuration produced a usable measurement."
    )


def test_a_confirmed_default_is_said_to_stay_best_without_a_gain_over_itself() -> None:
    from tritune.analysis.summary import SummaryFacts, summary_sentence

    facts = SummaryFacts(
        measurements=26,
        configurations=15,
        objective="maximizing throughput",
        constrained=False,
        best_name="m_config_default",
        best_feasible=True,
        best_is_default=True,
        default_name="m_config_default",
        gain_percent=0.0,
        throughput=64.0,
        latency_p99_ms=296.0,
        confirm_rounds=3,
        gain_spread_percent=0.0,
    )
    sentence = summary_sentence(facts)
    assert "the default configuration (m_config_default) is still the best after 3 confirm rounds" in sentence
    assert "±" not in sentence
