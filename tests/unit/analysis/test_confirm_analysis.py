"""The confirm step's arithmetic: medians, spreads, ties to the cheaper, the unstable rule, more rounds."""

from __future__ import annotations

import pytest

from tritune.analysis.configs import ConfigResult, best_per_config
from tritune.analysis.confirm import (
    Finalist,
    behind,
    confirmed_facts,
    confirmed_ranking,
    decide,
    equivalent,
    needs_another_round,
    overlap,
    race,
    serving_cost,
    standing,
)
from tritune.analysis.constraints import Bound, Constraints
from tritune.analysis.objectives import Objectives
from tritune.analysis.summary import SummaryFacts, summary_sentence
from tritune.domain.measurement import LoadPoint, Measurement, MeasurementStatus
from tritune.domain.serving import DynamicBatching, ServingConfig

LOAD = LoadPoint(value=8)
THROUGHPUT = Objectives.of({"perf_throughput": 1})


def _rounds(*values: float, status: MeasurementStatus = MeasurementStatus.OK) -> tuple[Measurement, ...]:
    return tuple(Measurement(LOAD, status, {"perf_throughput": v, "perf_latency_p99": 10.0}) for v in values)


def _finalist(name: str, *values: float, cost: tuple[int, ...] = (1, 8, 0), default: bool = False) -> Finalist:
    return Finalist(name, _rounds(*values), cost, default)


def test_the_median_decides_not_one_lucky_round() -> None:
    lucky = _finalist("lucky", 100, 200, 101)  # one high round, median 101
    steady = _finalist("steady", 120, 119, 121)
    result = decide([lucky, steady, _finalist("d", 100, 100, 100, default=True)], LOAD, THROUGHPUT)
    assert result.winner is not None and result.winner.name == "steady"
    assert result.tie_with is None and result.rounds == 3
    assert result.gain_percent == pytest.approx(20.0)  # the median of the paired gains 20, 19, 21
    assert result.gain_spread_percent == pytest.approx(1.0)


def test_overlapping_finalists_tie_and_the_cheaper_is_picked() -> None:
    dear = _finalist("dear", 110, 100, 106, cost=(4, 8, 0))  # median 106
    cheap = _finalist("cheap", 104, 108, 98, cost=(2, 8, 0))  # median 104, ranges overlap
    result = decide([dear, cheap], LOAD, THROUGHPUT)
    assert result.winner is not None and result.winner.name == "cheap"
    assert (result.tie_with, result.tie_reason) == ("dear", "fewer instances")


def test_a_tie_between_equal_instances_goes_to_the_smaller_batch_then_the_shorter_delay() -> None:
    delay = serving_cost(ServingConfig(max_batch_size=8, instance_count=2, dynamic_batching=DynamicBatching(500)))
    assert delay == (2, 8, 500)
    result = decide(
        [_finalist("a", 100, 104, cost=(2, 8, 500)), _finalist("b", 101, 103, cost=(2, 8, 100))], LOAD, THROUGHPUT
    )
    assert result.winner is not None and (result.winner.name, result.tie_reason) == ("b", "a shorter queue delay")
    result = decide(
        [_finalist("a", 100, 104, cost=(2, 16, 0)), _finalist("b", 101, 103, cost=(2, 8, 0))], LOAD, THROUGHPUT
    )
    assert result.winner is not None and (result.winner.name, result.tie_reason) == ("b", "a smaller max batch")


def test_a_tie_the_better_one_is_also_cheaper_keeps_it() -> None:
    result = decide(
        [_finalist("a", 105, 100, cost=(1, 8, 0)), _finalist("b", 101, 103, cost=(3, 8, 0))], LOAD, THROUGHPUT
    )
    assert result.winner is not None and (result.winner.name, result.tie_with) == ("a", "b")
    assert result.tie_reason == "fewer instances"


def test_separated_finalists_are_no_tie_even_when_the_loser_is_cheaper() -> None:
    result = decide(
        [_finalist("a", 120, 121, cost=(4, 8, 0)), _finalist("b", 100, 101, cost=(1, 1, 0))], LOAD, THROUGHPUT
    )
    assert result.winner is not None and result.winner.name == "a" and result.tie_with is None


def test_an_unstable_finalist_wins_only_with_a_stable_round() -> None:
    unstable = Finalist("shaky", _rounds(200, 210, 205, status=MeasurementStatus.UNSTABLE), (1, 8, 0))
    result = decide([unstable, _finalist("ok", 100, 101, 102)], LOAD, THROUGHPUT)
    assert result.winner is not None and result.winner.name == "ok"
    assert not standing(unstable, THROUGHPUT).eligible
    one_stable = Finalist("shaky", (*_rounds(200, 210, status=MeasurementStatus.UNSTABLE), *_rounds(205)), (1, 8, 0))
    result = decide([one_stable, _finalist("ok", 100, 101, 102)], LOAD, THROUGHPUT)
    assert result.winner is not None and result.winner.name == "shaky"
    assert decide([unstable], LOAD, THROUGHPUT).winner is None  # nothing may win


def test_failed_rounds_are_left_out_of_the_median() -> None:
    failed = Measurement(LOAD, MeasurementStatus.FAILED, error="boom")
    s = standing(Finalist("a", (*_rounds(100, 110), failed)), THROUGHPUT)
    assert s.usable == 2 and s.eligible


def test_constraints_rank_on_the_median_violation() -> None:
    limit = Constraints((Bound("perf_latency_p99", None, 5.0),))
    fast = Finalist(
        "fast",
        tuple(
            Measurement(LOAD, MeasurementStatus.OK, {"perf_throughput": 90, "perf_latency_p99": 4}) for _ in range(3)
        ),
    )
    result = decide([_finalist("slow", 200, 200, 200), fast], LOAD, THROUGHPUT, limit)
    assert result.winner is not None and result.winner.name == "fast"


def test_overlap_asks_for_more_rounds_up_to_the_cap() -> None:
    apart = [standing(_finalist("a", 100, 101, 102), THROUGHPUT), standing(_finalist("b", 120, 121, 122), THROUGHPUT)]
    close = [standing(_finalist("a", 100, 110, 105), THROUGHPUT), standing(_finalist("b", 104, 108, 106), THROUGHPUT)]
    assert needs_another_round(apart, 2, rounds=3, max_rounds=6)  # fewer than asked
    assert not needs_another_round(apart, 3, rounds=3, max_rounds=6)  # told apart: done
    assert needs_another_round(close, 3, rounds=3, max_rounds=6)  # overlapping: one more
    assert needs_another_round(close, 5, rounds=3, max_rounds=6)
    assert not needs_another_round(close, 6, rounds=3, max_rounds=6)  # the cap
    assert not needs_another_round(close, 3, rounds=3, max_rounds=3)


def test_finalists_shown_within_2_percent_need_no_more_rounds() -> None:
    # MiniLM's finalists on the 2-core host: 213 against 213.5 infer/s with a tight spread.
    same = [
        standing(_finalist("a", 213, 213, 213, 213), THROUGHPUT),
        standing(_finalist("b", 214, 198, 218, 213), THROUGHPUT),
    ]
    assert overlap(*same) and equivalent(*same)
    assert not needs_another_round(same, 4, rounds=3, max_rounds=6)
    # As close in their medians but noisier: not shown within 2 % yet, so one more round.
    noisy = [standing(_finalist("a", 200, 213, 226), THROUGHPUT), standing(_finalist("b", 198, 214, 230), THROUGHPUT)]
    assert overlap(*noisy) and not equivalent(*noisy)
    assert needs_another_round(noisy, 3, rounds=3, max_rounds=6)


def test_a_finalist_clearly_behind_leaves_the_race_from_the_second_round() -> None:
    def standings(*finalists: Finalist) -> list:  # type: ignore[type-arg]
        return [standing(f, THROUGHPUT) for f in finalists]

    leader, close = _finalist("leader", 120, 121), _finalist("close", 118, 123)
    far, default = _finalist("far", 100, 101), _finalist("d", 90, 91, default=True)
    assert behind(standings(leader, close, far, default), 2) == ["far"]  # the default stays in
    assert behind(standings(_finalist("leader", 120), _finalist("far", 100)), 1) == []  # no spread yet
    unstable = Finalist("unstable", _rounds(150, 150, status=MeasurementStatus.UNSTABLE))
    assert behind(standings(leader, unstable), 2) == ["unstable"]  # a lower class: no stable round
    # Without another finalist overlapping the leader, the rounds stop at the minimum.
    assert not needs_another_round(standings(leader, default), 2, rounds=2, max_rounds=6)
    assert needs_another_round(standings(leader, close, default), 2, rounds=2, max_rounds=6)


def test_the_race_is_replayed_from_the_stored_rounds_and_decided_on_those_who_finished() -> None:
    stored = [
        _finalist("a", 120, 121, 119, 122),
        _finalist("b", 119, 122, 118, 123),
        _finalist("far", 100, 101),  # left after round 2
        _finalist("d", 90, 91, 90, 92, default=True),
    ]
    counted = {f.name: len(f.rounds) for f in race(stored, THROUGHPUT)}
    assert counted == {"a": 4, "b": 4, "far": 2, "d": 4}
    # A round that not every racing finalist completed (an interrupted run) does not count.
    cut = [*stored[:3], _finalist("d", 90, 91, 90, default=True)]
    assert {f.name: len(f.rounds) for f in race(cut, THROUGHPUT)} == {"a": 3, "b": 3, "far": 2, "d": 3}
    # One that left early cannot win on its fewer rounds, even with a higher median than the winner's.
    result = decide(
        [_finalist("a", 110, 111, 109), _finalist("early", 115, 115), _finalist("d", 90, 91, 90, default=True)],
        LOAD,
        THROUGHPUT,
    )
    assert result.winner is not None and result.winner.name == "a" and result.rounds == 3
    assert [len(s.finalist.rounds) for s in result.standings] == [3, 3, 2]


def test_a_gain_within_its_own_spread_is_not_called_a_gain() -> None:
    result = decide(
        [_finalist("x_config_18", 150, 100, 116, 90), _finalist("x_config_default", 100, 100, 100, 100, default=True)],
        LOAD,
        THROUGHPUT,
    )
    assert result.gain_percent is not None and result.gain_spread_percent is not None
    assert 0 < result.gain_percent <= result.gain_spread_percent
    sentence = summary_sentence(confirmed_facts(_facts(), result))
    assert "x_config_18 could not be told apart from the default configuration at maximizing throughput" in sentence
    assert "gain lies within the spread of its rounds (± 30 %, 4 rounds)." in sentence
    assert "better than" not in sentence


def _facts() -> SummaryFacts:
    return SummaryFacts(measurements=55, configurations=28, objective="maximizing throughput", constrained=False)


def test_the_sentence_states_the_rounds_and_the_spread() -> None:
    result = decide(
        [_finalist("x_config_3", 111, 115, 107), _finalist("x_config_default", 100, 100, 100, default=True)],
        LOAD,
        THROUGHPUT,
    )
    sentence = summary_sentence(confirmed_facts(_facts(), result))
    assert sentence.startswith(
        "In 61 measurements across 28 configurations, x_config_3 is 11% (± 4 %, 3 rounds) better than the "
        "default configuration at maximizing throughput: 111.0 infer/sec"
    )


def test_the_sentence_names_both_sides_of_a_tie() -> None:
    result = decide(
        [
            _finalist("x_config_1", 121, 112, 118, cost=(4, 8, 0)),
            _finalist("x_config_2", 117, 119, 113, cost=(2, 8, 0)),
            _finalist("x_config_default", 100, 100, 100, default=True),
        ],
        LOAD,
        THROUGHPUT,
    )
    sentence = summary_sentence(confirmed_facts(_facts(), result))
    assert "x_config_2 is 17% (± 3 %, 3 rounds) better" in sentence
    assert sentence.endswith(
        "It ties with x_config_1 within their spread over 3 rounds; x_config_2 is picked for fewer instances."
    )
    assert result.to_json()["tie"] == {"with": "x_config_1", "picked_for": "fewer instances"}


def test_the_ranking_puts_the_confirmed_finalists_first_in_their_order() -> None:
    # The search saw "lucky" best (one high point); the rounds put "steady" first.
    searched = best_per_config(
        [
            ConfigResult("lucky", _rounds(200)),
            ConfigResult("steady", _rounds(150)),
            ConfigResult("other", _rounds(140)),
            ConfigResult("shaky", _rounds(130)),
            ConfigResult("d", _rounds(100)),
        ],
        THROUGHPUT,
    )
    assert [b.config.name for b in searched] == ["lucky", "steady", "other", "shaky", "d"]
    result = decide(
        [
            _finalist("lucky", 100, 200, 101),
            _finalist("steady", 120, 119, 121),
            Finalist("shaky", _rounds(300, 300, 300, status=MeasurementStatus.UNSTABLE), (1, 8, 0)),
            _finalist("d", 100, 100, 100, default=True),
        ],
        LOAD,
        THROUGHPUT,
    )
    ranking = [b.config.name for b in confirmed_ranking(searched, result)]
    # Eligible finalists by their medians, then the rest (the unstable finalist included) as searched.
    assert ranking == ["steady", "lucky", "d", "other", "shaky"]
    assert confirmed_ranking(searched, None) == searched
