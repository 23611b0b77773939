"""Scores, ranking, Pareto front and top-N over plain records (measurements or metric dicts)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from tritune.analysis.constraints import Constraints
from tritune.analysis.objectives import Objectives
from tritune.domain.measurement import LoadMode, LoadPoint, Measurement, MeasurementStatus
from tritune.domain.metrics import direction

T = TypeVar("T")
MetricsOf = Callable[[Any], Mapping[str, float] | None]


@dataclass(frozen=True)
class TrialScore:
    """How one result stands: failed, or its objective score and how far it misses the constraints.

    Named for its other use: what a searcher is told about a trial (see ``tritune.search``).
    """

    score: float = -math.inf
    violation: float = 0.0
    failed: bool = False
    metrics: Mapping[str, float] = field(default_factory=dict)
    reason: str = ""
    load: LoadPoint | None = None  # the load point the metrics come from, when known

    @classmethod
    def failure(cls, reason: str = "") -> TrialScore:
        return cls(failed=True, reason=reason)

    @classmethod
    def assess(cls, metrics: Mapping[str, float], objectives: Objectives, constraints: Constraints) -> TrialScore:
        return cls(objectives.score(metrics), constraints.violation(metrics), metrics=dict(metrics))

    @property
    def feasible(self) -> bool:
        return not self.failed and self.violation == 0.0

    def key(self) -> tuple[int, float, float]:
        """Sort key, larger is better: feasible by score, then infeasible by how close, then failed.

        Ranking infeasible results by violation (not score) is Model Analyzer's rule: when nothing
        meets the constraints, the configuration that misses them least comes first.
        """
        if self.failed:
            return (0, 0.0, 0.0)
        if self.violation > 0:
            return (1, -self.violation, self.score)
        return (2, self.score, 0.0)

    def better_than(self, other: TrialScore, margin: float = 0.0) -> bool:
        """Strictly better; among feasible results the score must win by more than ``margin``
        (a log-ratio: 0.01 is about 1 %), so noise does not move a search."""
        if self.feasible and other.feasible:
            return self.score > other.score + margin
        return self.key() > other.key()

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": None if math.isinf(self.score) else self.score,
            "violation": self.violation,
            "failed": self.failed,
            "metrics": dict(self.metrics),
            "reason": self.reason,
            "load": None
            if self.load is None
            else {"mode": self.load.mode.value, "value": self.load.value, "batch_size": self.load.batch_size},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialScore:
        score = data.get("score")
        return cls(
            score=-math.inf if score is None else float(score),
            violation=float(data.get("violation", 0.0)),
            failed=bool(data.get("failed", False)),
            metrics={k: float(v) for k, v in (data.get("metrics") or {}).items()},
            reason=str(data.get("reason", "")),
            load=None if not data.get("load") else _load_from_dict(data["load"]),
        )


def _load_from_dict(data: Mapping[str, Any]) -> LoadPoint:
    return LoadPoint(LoadMode(data["mode"]), float(data["value"]), int(data["batch_size"]))


@dataclass(frozen=True)
class Ranked(Generic[T]):
    item: T
    outcome: TrialScore


def metrics_of(item: Any) -> Mapping[str, float] | None:
    """The metrics of a record: a Measurement (None when it failed) or a metric dict itself."""
    if isinstance(item, Measurement):
        # Unstable measurements still carry numbers; only a failed one has none to rank.
        return None if item.status is MeasurementStatus.FAILED else item.metrics
    if isinstance(item, Mapping):
        return item
    raise TypeError(f"cannot read metrics from {type(item).__name__}: pass metrics=")


def assess(item: Any, objectives: Objectives, constraints: Constraints, metrics: MetricsOf = metrics_of) -> TrialScore:
    values = metrics(item)
    if values is None:
        return TrialScore.failure(getattr(item, "error", None) or "failed")
    return TrialScore.assess(values, objectives, constraints)


def rank(
    items: Iterable[T],
    objectives: Objectives,
    constraints: Constraints | None = None,
    *,
    metrics: MetricsOf = metrics_of,
) -> list[Ranked[T]]:
    """Best first: feasible by score, then infeasible by violation, then failed; ties keep input order."""
    constraints = constraints or Constraints()
    ranked = [Ranked(item, assess(item, objectives, constraints, metrics)) for item in items]
    # sorted() is stable, so equal keys keep the caller's order (deterministic ranking).
    return sorted(ranked, key=lambda r: r.outcome.key(), reverse=True)


def top_n(ranked: Sequence[Ranked[T]], n: int, *, feasible_only: bool = False) -> list[Ranked[T]]:
    """The first ``n`` of a ranking; with ``feasible_only``, only those meeting the constraints."""
    chosen = [r for r in ranked if r.outcome.feasible] if feasible_only else list(ranked)
    return chosen[: max(n, 0)]


def dominates(a: Mapping[str, float], b: Mapping[str, float], metrics: Sequence[str]) -> bool:
    """``a`` is at least as good as ``b`` on every metric and strictly better on one."""
    strictly = False
    for metric in metrics:
        sign = direction(metric)
        va, vb = sign * a[metric], sign * b[metric]
        if va < vb:
            return False
        if va > vb:
            strictly = True
    return strictly


def pareto_front(
    items: Iterable[T],
    objectives: Sequence[str] | Objectives,
    constraints: Constraints | None = None,
    *,
    metrics: MetricsOf = metrics_of,
) -> list[T]:
    """The non-dominated items over the given metrics, in input order.

    Failed items and items lacking one of the metrics never enter the front. With constraints,
    only feasible items compete, unless none is feasible (then the front of all is returned, so
    a report still shows the trade-off). Identical points are all kept (none dominates another).
    """
    names = list(objectives.metrics if isinstance(objectives, Objectives) else objectives)
    candidates: list[tuple[T, Mapping[str, float]]] = []
    for item in items:
        values = metrics(item)
        if values is not None and all(m in values for m in names):
            candidates.append((item, values))
    if constraints:
        feasible = [(i, v) for i, v in candidates if constraints.satisfied(v)]
        candidates = feasible or candidates
    return [item for item, values in candidates if not any(dominates(other, values, names) for _, other in candidates)]
