"""Searchers on formula landscapes: what they ask, how many evaluations they need, replay."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable

import pytest

from tritune.analysis import TrialScore
from tritune.domain.metrics import THROUGHPUT_SPREAD
from tritune.domain.space import Dim, Dimension, Point, SearchSpace, point_key, powers_of_two
from tritune.search import (
    BayesSearcher,
    GridSearcher,
    HillClimbSearcher,
    RefineTop,
    SearchProtocolError,
    Trial,
    create_searcher,
    replay,
)
from tritune.search.base import BaseSearcher

Landscape = Callable[[Point], TrialScore]

DELAYS = (None, 0, 100, 500, 1000)


def space(default: dict | None = None) -> SearchSpace:
    return SearchSpace(
        (
            Dimension(Dim.INSTANCE_COUNT, tuple(range(1, 9))),
            Dimension(Dim.MAX_BATCH_SIZE, powers_of_two(1, 128)),
            Dimension(Dim.DYNAMIC_BATCHING, DELAYS),
        ),
        default=default or {Dim.INSTANCE_COUNT: 1, Dim.MAX_BATCH_SIZE: 8, Dim.DYNAMIC_BATCHING: 0},
    )


def bowl(point: Point) -> TrialScore:
    """Unimodal; the optimum is 5 instances, max batch size 16, 500 us queue delay."""
    i = point[Dim.INSTANCE_COUNT]
    b = math.log2(point[Dim.MAX_BATCH_SIZE])
    d = DELAYS.index(point[Dim.DYNAMIC_BATCHING])
    return TrialScore(score=-((i - 5) ** 2) - 0.5 * (b - 4) ** 2 - 0.3 * (d - 3) ** 2)


BOWL_OPTIMUM = {Dim.INSTANCE_COUNT: 5, Dim.MAX_BATCH_SIZE: 16, Dim.DYNAMIC_BATCHING: 500}


def search(searcher: BaseSearcher | RefineTop, landscape: Landscape) -> list[Trial]:
    trials = []
    while (trial := searcher.ask()) is not None:
        trials.append(trial)
        searcher.tell(trial, landscape(trial.params))
    return trials


def test_grid_asks_the_default_first_then_every_point_once() -> None:
    grid_space = space()
    trials = search(GridSearcher(grid_space), bowl)
    assert trials[0].is_default and trials[0].params == grid_space.default
    assert len(trials) == len({t.key for t in trials}) == grid_space.size
    best = max(trials, key=lambda t: bowl(t.params).key())
    assert best.params == BOWL_OPTIMUM


def test_hill_climb_finds_the_optimum_within_45_of_320_evaluations() -> None:
    climber = HillClimbSearcher(space())
    trials = search(climber, bowl)
    best = climber.best()
    assert best is not None and best[0].params == BOWL_OPTIMUM
    assert len(trials) <= 45


def test_hill_climb_backs_off_from_failing_points() -> None:
    def fails_at_6_or_more(point: Point) -> TrialScore:
        if point[Dim.INSTANCE_COUNT] >= 6:
            return TrialScore.failure("out of memory")
        return bowl(point)

    # The start itself fails: the climb must walk away from it to working points.
    climber = HillClimbSearcher(space(default={Dim.INSTANCE_COUNT: 7, Dim.MAX_BATCH_SIZE: 8, Dim.DYNAMIC_BATCHING: 0}))
    trials = search(climber, fails_at_6_or_more)
    best = climber.best()
    assert best is not None and best[0].params == BOWL_OPTIMUM
    assert len(trials) <= 55  # of 320: failures cost a few extra neighbourhoods


def test_hill_climb_moves_towards_feasibility() -> None:
    def budget(point: Point) -> TrialScore:
        # Feasible only with at most 3 instances; infeasible points miss by how many more.
        excess = max(0, point[Dim.INSTANCE_COUNT] - 3)
        return TrialScore(score=bowl(point).score, violation=float(excess))

    climber = HillClimbSearcher(space(default={Dim.INSTANCE_COUNT: 8, Dim.MAX_BATCH_SIZE: 8, Dim.DYNAMIC_BATCHING: 0}))
    search(climber, budget)
    best = climber.best()
    assert best is not None and best[1].feasible
    assert best[0].params == {**BOWL_OPTIMUM, Dim.INSTANCE_COUNT: 3}


def small_space() -> SearchSpace:
    return SearchSpace(
        (Dimension(Dim.INSTANCE_COUNT, (1, 2, 3, 4)), Dimension(Dim.MAX_BATCH_SIZE, powers_of_two(1, 32))),
        default={Dim.INSTANCE_COUNT: 1, Dim.MAX_BATCH_SIZE: 8},
    )


def test_bayes_finds_the_feasible_optimum_within_20_of_24_evaluations() -> None:
    def landscape(point: Point) -> TrialScore:
        i, b = point[Dim.INSTANCE_COUNT], math.log2(point[Dim.MAX_BATCH_SIZE])
        score = 0.3 * i + 0.2 * b  # grows with both; the constraint caps instances at 2
        return TrialScore(score=score, violation=max(0.0, i - 2.0))

    for seed in range(3):
        searcher = BayesSearcher(small_space(), seed=seed, max_trials=20, min_trials=20)
        trials = search(searcher, landscape)
        best = searcher.best()
        assert len(trials) <= 20
        assert best is not None and best[1].feasible
        assert best[0].params == {Dim.INSTANCE_COUNT: 2, Dim.MAX_BATCH_SIZE: 32}


def test_bayes_tells_failures_and_repeats_cost_nothing() -> None:
    def half_fails(point: Point) -> TrialScore:
        return TrialScore.failure("load failed") if point[Dim.MAX_BATCH_SIZE] > 8 else TrialScore(score=1.0)

    searcher = BayesSearcher(small_space(), seed=1, max_trials=24, min_trials=24)
    trials = search(searcher, half_fails)
    assert len({t.key for t in trials}) == len(trials)  # no configuration measured twice


def test_refine_reasks_top_configurations_and_the_default() -> None:
    searcher = RefineTop(HillClimbSearcher(space()), top_n=2)
    trials = search(searcher, bowl)
    refined = [t for t in trials if t.phase == "refine"]
    assert [t.params for t in refined[:2]][0] == BOWL_OPTIMUM
    assert len(refined) == 3 and refined[-1].is_default
    assert all(t.number == i for i, t in enumerate(trials))
    # The best and the default get the low end of their curves; the runner-up does not.
    assert [t.curve_points for t in refined] == [2, 0, 2]


def test_ask_twice_without_tell_is_an_error() -> None:
    searcher = GridSearcher(space())
    trial = searcher.ask()
    assert trial is not None
    with pytest.raises(SearchProtocolError, match="before asking again"):
        searcher.ask()
    with pytest.raises(SearchProtocolError, match="outstanding"):
        searcher.tell(Trial(99, trial.params), bowl(trial.params))


@pytest.mark.parametrize("mode", ["brute", "quick", "default", "optuna"])
def test_replay_of_stored_results_gives_the_same_next_trials(mode: str) -> None:
    """A resumed run: a fresh searcher fed the stored results asks what the first one asked."""

    def noisy(point: Point) -> TrialScore:
        # Deterministic "noise", so the first run and the replay see the same results.
        return TrialScore(score=bowl(point).score + (hash(point_key(point)) % 7) / 100)

    first = create_searcher(mode, space(), seed=7, top_n=2)
    done: list[tuple[Trial, TrialScore]] = []
    while len(done) < 12 and (trial := first.ask()) is not None:
        result = noisy(trial.params)
        first.tell(trial, result)
        done.append((trial, result))
    stored = {
        (t["number"], json.dumps(t["params"], sort_keys=True)): TrialScore.from_dict(r)
        for t, r in json.loads(json.dumps([(t.to_dict(), r.to_dict()) for t, r in done]))
    }

    def lookup(trial: Trial) -> TrialScore | None:
        return stored.get((trial.number, json.dumps(trial.to_dict()["params"], sort_keys=True)))

    fresh = create_searcher(mode, space(), seed=7, top_n=2)
    pending = replay(fresh, lookup)
    expected = first.ask()
    assert pending == expected
    # And they stay in step afterwards.
    for _ in range(5):
        if pending is None or expected is None:
            break
        result = noisy(pending.params)
        fresh.tell(pending, result)
        first.tell(expected, result)
        pending, expected = fresh.ask(), first.ask()
        assert pending == expected


def test_trial_round_trips_through_json() -> None:
    trial = Trial(3, {Dim.PREFERRED_BATCH_SIZES: (4, 8), Dim.DYNAMIC_BATCHING: None}, start_load=16.0, phase="refine")
    trial = dataclasses.replace(trial, curve_points=2)
    assert Trial.from_dict(json.loads(json.dumps(trial.to_dict()))) == trial


def measured(landscape: Landscape, spread_percent: float | None) -> Landscape:
    """The landscape's results as measurements report them: with their windows' spread (the
    measured noise), or without one (a store written before the spread was measured)."""

    def result(point: Point) -> TrialScore:
        score = landscape(point)
        metrics = {} if spread_percent is None else {THROUGHPUT_SPREAD: spread_percent}
        return dataclasses.replace(score, metrics=metrics)

    return result


def test_the_climb_leaves_out_points_predicted_to_lose_by_more_than_the_noise() -> None:
    """At the top of a steep bowl each single step loses by more than the measured noise (2 %),
    so two steps the same way are predicted to lose too: the climb leaves only those out;
    without a measured noise it measures them as before."""

    def steep(point: Point) -> TrialScore:
        return TrialScore(score=0.1 * bowl(point).score)

    with_noise, without = HillClimbSearcher(space()), HillClimbSearcher(space())
    trials = {t.key for t in search(with_noise, measured(steep, 2.0))}
    baseline = {t.key for t in search(without, measured(steep, None))}
    for climber in (with_noise, without):
        best = climber.best()
        assert best is not None and best[0].params == BOWL_OPTIMUM
    two_steps = set()
    for dim in space().dimensions:
        at = dim.index(BOWL_OPTIMUM[dim.name])
        two_steps |= {
            point_key({**BOWL_OPTIMUM, dim.name: dim.values[i]}) for i in (at - 2, at + 2) if 0 <= i < len(dim)
        }
    assert len(two_steps) == 5  # the queue delay is one step from the end of its list
    # Left out: the two-step points the climb had not passed through on its way up.
    assert baseline - trials == two_steps - trials and len(baseline - trials) >= 3 and trials < baseline


def test_points_made_of_flat_steps_are_still_measured() -> None:
    """A longer queue delay pays only with a larger max batch size: each step alone is flat
    (within the noise), the two together gain 20 %. The pair is not predicted to lose, so it is
    measured and found."""

    def interaction(point: Point) -> TrialScore:
        pays = point[Dim.MAX_BATCH_SIZE] >= 16 and point[Dim.DYNAMIC_BATCHING] in (500, 1000)
        return TrialScore(score=0.2 if pays else 0.0)

    start = {Dim.INSTANCE_COUNT: 1, Dim.MAX_BATCH_SIZE: 8, Dim.DYNAMIC_BATCHING: 100}
    climber = HillClimbSearcher(space(default=start))
    search(climber, measured(interaction, 5.0))
    best = climber.best()
    assert best is not None and best[1].score == 0.2
