"""Weighted objectives: one direction-aware score per measurement, and MA's percentage gain."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tritune.domain.metrics import THROUGHPUT, Direction, direction
from tritune.errors import UsageError

DEFAULT_OBJECTIVES: Mapping[str, float] = {THROUGHPUT: 10.0}  # Model Analyzer's default

# Floor for logarithms: a metric reported as 0 (no GPU memory used) must not give -inf.
_FLOOR = 1e-9


@dataclass(frozen=True)
class Objectives:
    """Metric -> normalized weight (the weights sum to 1), as Model Analyzer normalizes them.

    The score of a measurement is ``sum(w * dir * ln(value))``: a weighted log-ratio, so metrics
    in different units (infer/sec, ms, MB) combine without scaling, a 10 % throughput gain
    counts as much as a 10 % latency cut, and two configurations compare by score difference.
    A metric missing from a measurement contributes nothing (a CPU host has no GPU memory).
    """

    weights: Mapping[str, float]

    def __post_init__(self) -> None:
        if not self.weights:
            raise UsageError("objectives are empty: give at least one metric, e.g. perf_throughput: 1")
        for metric, weight in self.weights.items():
            direction(metric)  # raises on unknown metrics
            if not math.isfinite(weight) or weight <= 0:
                raise UsageError(f"objective {metric!r} has weight {weight}: use a positive number")
        total = sum(self.weights.values())
        object.__setattr__(self, "weights", {m: w / total for m, w in self.weights.items()})

    @classmethod
    def of(cls, spec: Mapping[str, float] | Sequence[str] | None = None) -> Objectives:
        """From a ``{metric: weight}`` dict, a list of metrics (equal weights) or None (default)."""
        if spec is None:
            return cls(dict(DEFAULT_OBJECTIVES))
        if isinstance(spec, Mapping):
            return cls({str(k): float(v) for k, v in spec.items()})
        return cls({str(m): 1.0 for m in spec})

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(self.weights)

    def score(self, metrics: Mapping[str, float]) -> float:
        """Higher is better. Only differences between scores mean something."""
        total = 0.0
        for metric, weight in self.weights.items():
            value = metrics.get(metric)
            if value is None:
                continue
            total += weight * direction(metric) * math.log(max(float(value), _FLOOR))
        return total

    def gain(self, candidate: Mapping[str, float], baseline: Mapping[str, float]) -> float:
        """Model Analyzer's weighted percentage gain of ``candidate`` over ``baseline``, in percent.

        Per metric: (new - old) / old for metrics to maximize, (old - new) / new for metrics to
        minimize (so halving latency is a 100 % gain, as doubling throughput is).
        """
        total = 0.0
        for metric, weight in self.weights.items():
            new, old = candidate.get(metric), baseline.get(metric)
            if new is None or old is None:
                continue
            new, old = max(float(new), _FLOOR), max(float(old), _FLOOR)
            ratio = new / old if direction(metric) is Direction.MAXIMIZE else old / new
            total += weight * (ratio - 1.0)
        return 100.0 * total
