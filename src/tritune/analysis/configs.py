"""Per-configuration results: a configuration is as good as its best load point."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tritune.analysis.constraints import Constraints
from tritune.analysis.objectives import Objectives
from tritune.analysis.ranking import Ranked, TrialScore, rank
from tritune.domain.measurement import Measurement


@dataclass(frozen=True)
class ConfigResult:
    """Everything measured for one configuration (variant), as the store holds it."""

    name: str
    measurements: tuple[Measurement, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    is_default: bool = False
    error: str | None = None  # why it could not be deployed, if it could not


@dataclass(frozen=True)
class ConfigBest:
    config: ConfigResult
    best: Measurement | None  # None: no usable measurement
    outcome: TrialScore


def best_measurement(
    measurements: Iterable[Measurement], objectives: Objectives, constraints: Constraints | None = None
) -> Ranked[Measurement] | None:
    """The best load point: the top of the ranking (feasible first), or None when there are none."""
    ranked = rank(measurements, objectives, constraints)
    return ranked[0] if ranked and not ranked[0].outcome.failed else None


def config_score(
    measurements: Iterable[Measurement],
    objectives: Objectives,
    constraints: Constraints | None = None,
    *,
    error: str | None = None,
) -> TrialScore:
    """What a searcher is told about a configuration: its best load point's outcome, or failure."""
    measurements = list(measurements)
    if error is not None:
        return TrialScore.failure(error)
    best = best_measurement(measurements, objectives, constraints)
    if best is None:
        reasons = [m.error for m in measurements if m.error]
        return TrialScore.failure(reasons[-1] if reasons else "no usable measurement")
    return dataclasses.replace(best.outcome, load=best.item.load)


def best_per_config(
    configs: Iterable[ConfigResult], objectives: Objectives, constraints: Constraints | None = None
) -> list[ConfigBest]:
    """Each configuration with its best load point, ranked best first (ties keep input order)."""
    bests = []
    for config in configs:
        top = None if config.error else best_measurement(config.measurements, objectives, constraints)
        outcome = config_score(config.measurements, objectives, constraints, error=config.error)
        bests.append(ConfigBest(config, None if top is None else top.item, outcome))
    return sorted(bests, key=lambda b: b.outcome.key(), reverse=True)
