"""The confirm step's arithmetic: finalists re-measured in rounds, judged on their medians.

A search decides on one measurement per configuration and load, and re-measurements of one
point spread more than the gains being ranked. The confirm step measures the finalists again,
interleaved, at the winner's load point; this module turns those rounds into a decision:

- each finalist stands by the **median** of its rounds' objective scores, ± its **spread**: how
  far that median may be off, from the median absolute deviation of the scores (robust: one
  wild round neither wins nor blurs a finalist) over the square root of the rounds (more rounds,
  a surer median);
- a finalist with no stable round cannot win (an unstable search point must prove itself);
- two finalists whose score ranges overlap are a **tie**, and a tie goes to the cheaper
  configuration (fewer instances, then a smaller max batch, then a shorter queue delay);
- the finalists **race**: from the second round on, one clearly behind the leader (their
  ranges do not overlap, or it is of a lower class: no stable round, or missing a constraint the
  leader meets) is measured no more; the default stays to the end (it carries the gain);
- while the leader overlaps another finalist still racing, more rounds are worth measuring, up
  to a cap, unless the two are already shown to be **equivalent**: their difference, ± its
  spread, within 2 % (no further round could make one worth deploying over the other; the tie
  goes to the cheaper);
- the gain over the default is the median of the per-round gains (rounds are paired: round i of
  each finalist was measured back to back), ± half their range.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tritune.analysis.configs import ConfigBest
from tritune.analysis.constraints import Constraints
from tritune.analysis.objectives import Objectives
from tritune.analysis.ranking import TrialScore, assess
from tritune.analysis.summary import SummaryFacts
from tritune.domain.measurement import LoadPoint, Measurement, MeasurementStatus
from tritune.domain.metrics import LATENCY_P99, THROUGHPUT
from tritune.domain.serving import ServingConfig

# What the cost's places mean, for the sentence that says why the cheaper one was picked.
_COST_REASONS = ("fewer instances", "a smaller max batch", "a shorter queue delay")


def serving_cost(serving: ServingConfig) -> tuple[int, int, int]:
    """What deploying a configuration costs, as a person compares it: instances, then max batch,
    then queue delay (smaller is cheaper)."""
    if serving.steps:  # an ensemble's: its composing models' together (a BLS model's own instances too)
        costs = [serving_cost(step) for _, step in serving.steps]
        own = serving.instance_count - 1
        return (own + sum(c[0] for c in costs), sum(c[1] for c in costs), sum(c[2] for c in costs))
    delay = serving.dynamic_batching.max_queue_delay_us if serving.dynamic_batching is not None else 0
    return (serving.instance_count, serving.max_batch_size, delay)


@dataclass(frozen=True)
class Finalist:
    """One configuration in the confirm step and its rounds (round 1 first)."""

    name: str
    rounds: tuple[Measurement, ...] = ()
    cost: tuple[int, ...] = ()
    is_default: bool = False


@dataclass(frozen=True)
class Standing:
    """How a finalist stands after its rounds."""

    finalist: Finalist
    usable: int  # rounds with numbers (not failed)
    median: float  # median objective score of the usable rounds (-inf: none)
    spread: float  # how far the median may be off (log-ratio units), see median_spread()
    violation: float  # median constraint violation (0: feasible)
    stable: bool  # at least one round is stable (OK)
    typical: Measurement | None  # the round whose score is the median (its numbers are quoted)

    @property
    def name(self) -> str:
        return self.finalist.name

    @property
    def eligible(self) -> bool:
        """May win: it has a stable round."""
        return self.usable > 0 and self.stable

    @property
    def feasible(self) -> bool:
        return self.eligible and self.violation == 0.0

    @property
    def low(self) -> float:
        return self.median - self.spread

    @property
    def high(self) -> float:
        return self.median + self.spread

    @property
    def spread_percent(self) -> float:
        """± its spread as a percentage (scores are log-ratios)."""
        return 0.0 if self.usable == 0 else 100.0 * (math.exp(self.spread) - 1.0)

    def key(self) -> tuple[int, float]:
        """Larger is better: eligible and feasible by median score, then eligible by how close
        to the constraints, then the rest."""
        if not self.eligible:
            return (0, self.median)
        if self.violation > 0:
            return (1, -self.violation)
        return (2, self.median)


# MAD -> standard deviation of a normal sample (1.4826), and the median's standard error relative
# to the mean's (sqrt(pi/2) = 1.2533).
_MEDIAN_ERROR = 1.4826 * 1.2533


def median_spread(values: Sequence[float]) -> float:
    """The standard error of the median of ``values``, estimated robustly: MAD-based, so one
    outlier does not inflate it; 0 for a single value."""
    if len(values) < 2:
        return 0.0
    middle = statistics.median(values)
    mad = statistics.median(abs(v - middle) for v in values)
    return _MEDIAN_ERROR * mad / math.sqrt(len(values))


def standing(finalist: Finalist, objectives: Objectives, constraints: Constraints | None = None) -> Standing:
    constraints = constraints or Constraints()
    scored: list[tuple[TrialScore, Measurement]] = []
    for measurement in finalist.rounds:
        outcome = assess(measurement, objectives, constraints)
        if not outcome.failed:
            scored.append((outcome, measurement))
    stable = any(m.status is MeasurementStatus.OK for _, m in scored)
    if not scored:
        return Standing(finalist, 0, -math.inf, 0.0, math.inf, False, None)
    scores = sorted(scored, key=lambda s: s[0].score)
    values = [s.score for s, _ in scores]
    typical = scores[(len(scores) - 1) // 2][1]
    middle = statistics.median(values)
    spread = median_spread(values)
    violation = statistics.median(s.violation for s, _ in scored)
    return Standing(finalist, len(scored), middle, spread, violation, stable, typical)


def overlap(a: Standing, b: Standing) -> bool:
    """Their medians lie within their spread of each other (the spread of a difference of two
    medians: both spreads combined): the measurements cannot tell them apart."""
    if a.usable == 0 or b.usable == 0:
        return False
    return abs(a.median - b.median) <= math.hypot(a.spread, b.spread)


def ranked(standings: Sequence[Standing]) -> list[Standing]:
    """Best first by :meth:`Standing.key`; equal keys keep the given order."""
    return sorted(standings, key=lambda s: s.key(), reverse=True)


# Two finalists shown to differ by less than this (log-ratio: 2 %, the difference plus its spread)
# are the same configuration to whoever deploys them.
EQUIVALENCE = math.log(1.02)


def equivalent(a: Standing, b: Standing) -> bool:
    """Their medians' difference, widened by its spread, lies within :data:`EQUIVALENCE`."""
    if a.usable == 0 or b.usable == 0:
        return False
    return abs(a.median - b.median) + math.hypot(a.spread, b.spread) <= EQUIVALENCE


# Rounds before a finalist may be dropped: one round has no spread to judge it by.
RACE_FROM_ROUND = 2


def behind(standings: Sequence[Standing], done: int) -> list[str]:
    """The racing finalists (their standings after ``done`` rounds) clearly behind the leader,
    which leave the race: of a lower class than the leader (see :meth:`Standing.key`), or feasible
    like it with ranges that do not overlap. Never the default, never before the second round."""
    if done < RACE_FROM_ROUND or len(standings) < 2:
        return []
    leader = ranked(standings)[0]
    if not leader.eligible:
        return []
    out = []
    for other in standings:
        if other is leader or other.finalist.is_default:
            continue
        lower_class = other.key()[0] < leader.key()[0]
        separated = leader.feasible and other.feasible and other.median < leader.median and not overlap(leader, other)
        if lower_class or separated:
            out.append(other.name)
    return out


def needs_another_round(standings: Sequence[Standing], done: int, rounds: int, max_rounds: int) -> bool:
    """Measure another round of the racing finalists (``standings``, those still in): fewer than
    ``rounds`` are done, or (below ``max_rounds``) the leader still overlaps one of them and is not
    yet shown equivalent to it (more rounds on finalists that measure alike can take half of the
    confirm step's time and change nothing)."""
    if done < rounds:
        return True
    if done >= max(max_rounds, rounds):
        return False
    top = ranked(standings)
    if len(top) < 2 or not top[0].eligible:
        return False
    leader = top[0]
    return any(o.eligible and overlap(leader, o) and not equivalent(leader, o) for o in top[1:])


def race(
    finalists: Sequence[Finalist], objectives: Objectives, constraints: Constraints | None = None
) -> list[Finalist]:
    """The stored rounds replayed as the confirm step raced them: each finalist with the rounds
    that count (a dropped one's up to its drop, the others' up to the last round every finalist
    still racing completed), so a report decides as the run did, an interrupted one included."""
    counted: dict[str, list[Measurement]] = {f.name: [] for f in finalists}
    racing = list(finalists)
    done = 0
    while racing and all(len(f.rounds) > done for f in racing):
        for finalist in racing:
            counted[finalist.name].append(finalist.rounds[done])
        done += 1
        standings = [
            standing(dataclasses.replace(f, rounds=tuple(counted[f.name])), objectives, constraints) for f in racing
        ]
        out = set(behind(standings, done))
        racing = [f for f in racing if f.name not in out]
    return [dataclasses.replace(f, rounds=tuple(counted[f.name])) for f in finalists]


def cheaper_reason(cheap: tuple[int, ...], dear: tuple[int, ...]) -> str | None:
    """Why ``cheap`` is the cheaper cost ("fewer instances"), or None when it is not cheaper."""
    for place, (a, b) in enumerate(zip(cheap, dear, strict=False)):
        if a != b:
            return _COST_REASONS[min(place, len(_COST_REASONS) - 1)] if a < b else None
    return None


@dataclass(frozen=True)
class ConfirmResult:
    """The confirm step's decision and its evidence."""

    load: LoadPoint
    rounds: int  # rounds the winner was measured in (a finalist dropped from the race has fewer)
    standings: tuple[Standing, ...]  # the winner first
    tie_with: str | None = None  # the finalist the winner tied with
    tie_reason: str | None = None  # why the winner was picked in the tie ("fewer instances")
    gain_percent: float | None = None  # the median per-round gain over the default
    gain_spread_percent: float | None = None  # ± half the range of the per-round gains
    measurements: int = 0  # confirm measurements stored (every finalist's rounds)

    @property
    def winner(self) -> Standing | None:
        top = self.standings[0] if self.standings else None
        return top if top is not None and top.eligible else None

    def to_json(self) -> dict[str, Any]:
        return {
            "load": {"mode": self.load.mode.value, "value": self.load.value, "batch_size": self.load.batch_size},
            "rounds": self.rounds,
            "winner": None if self.winner is None else self.winner.name,
            "tie": None if self.tie_with is None else {"with": self.tie_with, "picked_for": self.tie_reason},
            "gain_percent": self.gain_percent,
            "gain_spread_percent": self.gain_spread_percent,
            "finalists": [
                {
                    "name": s.name,
                    "default": s.finalist.is_default,
                    "rounds": len(s.finalist.rounds),
                    "stable": s.stable,
                    "feasible": s.feasible,
                    "median_score": None if s.usable == 0 else s.median,
                    "spread_percent": s.spread_percent,
                    "median_metrics": {} if s.typical is None else dict(s.typical.metrics),
                }
                for s in self.standings
            ],
        }


def decide(
    finalists: Sequence[Finalist],
    load: LoadPoint,
    objectives: Objectives,
    constraints: Constraints | None = None,
) -> ConfirmResult:
    """Rank the finalists on their rounds' medians, those that raced to the last round first (one
    dropped earlier lost to the leader of its time); a tie of the top two goes to the cheaper."""
    last = max((len(f.rounds) for f in finalists), default=0)
    standings = [standing(f, objectives, constraints) for f in finalists]
    order = ranked([s for s in standings if len(s.finalist.rounds) == last])
    dropped = ranked([s for s in standings if len(s.finalist.rounds) < last])
    tie_with = tie_reason = None
    if len(order) >= 2 and order[1].eligible and order[0].key()[0] == order[1].key()[0] and overlap(*order[:2]):
        first, second = order[0], order[1]
        reason = cheaper_reason(second.finalist.cost, first.finalist.cost)
        if reason is not None:
            order[0], order[1] = second, first
            tie_with, tie_reason = first.name, reason
        else:
            tie_with, tie_reason = second.name, cheaper_reason(first.finalist.cost, second.finalist.cost)
            tie_reason = tie_reason or "the higher median"
    order += dropped
    gain, spread = _gain(order, objectives)
    return ConfirmResult(
        load=load,
        rounds=last,
        standings=tuple(order),
        tie_with=tie_with,
        tie_reason=tie_reason,
        gain_percent=gain,
        gain_spread_percent=spread,
        measurements=sum(len(f.rounds) for f in finalists),
    )


def _gain(order: Sequence[Standing], objectives: Objectives) -> tuple[float | None, float | None]:
    """The winner's gain over the default: the median of the paired rounds' gains, ± half their range."""
    default = next((s for s in order if s.finalist.is_default), None)
    if not order or default is None or not order[0].eligible:
        return None, None
    if order[0] is default:
        return 0.0, 0.0
    gains = [
        objectives.gain(w.metrics, d.metrics)
        for w, d in zip(order[0].finalist.rounds, default.finalist.rounds, strict=False)
        if w.status is not MeasurementStatus.FAILED and d.status is not MeasurementStatus.FAILED
    ]
    if not gains:
        return None, None
    return statistics.median(gains), (max(gains) - min(gains)) / 2


def confirmed_facts(facts: SummaryFacts, result: ConfirmResult) -> SummaryFacts:
    """The summary's facts with the confirm step's decision: its winner, the numbers of the
    winner's median round, the gain with its spread, the rounds and any tie."""
    measurements = facts.measurements + result.measurements
    winner = result.winner
    if winner is None:
        return dataclasses.replace(facts, measurements=measurements)
    metrics = winner.typical.metrics if winner.typical is not None else {}
    return dataclasses.replace(
        facts,
        measurements=measurements,
        best_name=winner.name,
        best_feasible=winner.feasible,
        best_is_default=winner.finalist.is_default,
        gain_percent=result.gain_percent,
        gain_spread_percent=result.gain_spread_percent,
        throughput=metrics.get(THROUGHPUT),
        latency_p99_ms=metrics.get(LATENCY_P99),
        confirm_rounds=result.rounds,
        tie_with=result.tie_with,
        tie_reason=result.tie_reason,
    )


def confirmed_ranking(bests: Sequence[ConfigBest], result: ConfirmResult | None) -> list[ConfigBest]:
    """The search's ranking with the confirm step's order on top: the finalists that may win, in
    their standings' order (the winner first), then every other configuration in the search's
    order. Every table then agrees with the sentence, which names the confirm step's winner."""
    if result is None:
        return list(bests)
    order = {s.name: place for place, s in enumerate(result.standings) if s.eligible}
    confirmed = sorted((b for b in bests if b.config.name in order), key=lambda b: order[b.config.name])
    return confirmed + [b for b in bests if b.config.name not in order]
