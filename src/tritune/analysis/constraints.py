"""Constraints ``{metric: {min|max}}``: feasibility, and how far an infeasible result misses."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tritune.domain.metrics import direction, is_latency
from tritune.errors import UsageError

# A constraint whose metric was not measured cannot be shown to hold; count it as a full miss.
_MISSING_VIOLATION = 1.0


@dataclass(frozen=True)
class Bound:
    metric: str
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        direction(self.metric)  # raises on unknown metrics
        if self.min is None and self.max is None:
            raise UsageError(f"constraint {self.metric!r} has neither min nor max: give one, e.g. max: 100")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise UsageError(f"constraint {self.metric!r} has min {self.min:g} > max {self.max:g}: swap or fix them")

    def violation(self, value: float | None) -> float:
        """0 when the bound holds, else the relative distance to it (0.2: misses by 20 %)."""
        if value is None or math.isnan(value):
            return _MISSING_VIOLATION
        miss = 0.0
        if self.max is not None and value > self.max:
            miss += (value - self.max) / (abs(self.max) or 1.0)
        if self.min is not None and value < self.min:
            miss += (self.min - value) / (abs(self.min) or 1.0)
        return miss


@dataclass(frozen=True)
class Constraints:
    """All bounds; a result is feasible when every one holds (an empty set always holds)."""

    bounds: tuple[Bound, ...] = ()

    @classmethod
    def of(cls, spec: Mapping[str, Mapping[str, float | None]] | Iterable[Bound] | None = None) -> Constraints:
        if spec is None:
            return cls()
        if isinstance(spec, Mapping):
            return cls(tuple(Bound(m, b.get("min"), b.get("max")) for m, b in spec.items()))
        return cls(tuple(spec))

    def __bool__(self) -> bool:
        return bool(self.bounds)

    def violation(self, metrics: Mapping[str, float]) -> float:
        return sum(b.violation(metrics.get(b.metric)) for b in self.bounds)

    def satisfied(self, metrics: Mapping[str, float]) -> bool:
        return self.violation(metrics) == 0.0

    def latency_caps(self) -> dict[str, float]:
        """Max bounds on latency metrics: the load sweep's budget (latency only grows with load)."""
        return {b.metric: b.max for b in self.bounds if b.max is not None and is_latency(b.metric)}

    def describe(self) -> str:
        parts = []
        for b in self.bounds:
            if b.min is not None:
                parts.append(f"{b.metric} >= {b.min:g}")
            if b.max is not None:
                parts.append(f"{b.metric} <= {b.max:g}")
        return ", ".join(parts)
