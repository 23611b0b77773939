"""The load sweep for one configuration, as ask/tell: which load points to measure.

Concurrency (or request rate) doubles from ``start`` until the best of the last ``window``
throughputs is less than ``min_gain`` above the first of them (Model Analyzer's rule, 5 % over
4 steps), the maximum is reached, the load generator is the bottleneck, or a latency cap is
exceeded. Past a cap, a search between the last good and the first bad load finds the largest
load that still meets it: by linear interpolation of latency against load (past saturation
latency grows linearly with concurrency, Little's law), by bisection when the bad end failed.
When even the start exceeds a cap, the load halves until it does not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from tritune.domain.measurement import LoadMode, LoadPoint, Measurement, MeasurementStatus
from tritune.domain.metrics import THROUGHPUT
from tritune.search.trial import SearchProtocolError


@dataclass(frozen=True)
class SweepSettings:
    """How one configuration's load is swept.

    Args:
        mode: concurrency or request rate.
        values: a manual list, measured in order (larger values are skipped once a smaller one
            broke a latency cap); empty for the automatic doubling sweep.
        start, minimum, maximum: the automatic sweep's first value and bounds.
        min_gain, window: stop when max(last ``window`` throughputs) < first * (1 + min_gain).
        latency_caps: metric -> max (ms), from the constraints; exceeded: stop and bisect.
        binary_search_steps: at most this many measurements between the last good load and
            the first one over a cap (Model Analyzer: 5); the search also ends when the two
            are adjacent concurrencies or within 2 % of each other.
        max_points: at most this many measurements in all (None: unbounded).
        curve_points: once the sweep is done, this many more loads below its lowest measured
            one, halving (lowest/2**n .. lowest/2, at least ``minimum``), for a fuller curve.
    """

    mode: LoadMode = LoadMode.CONCURRENCY
    values: tuple[float, ...] = ()
    start: float = 1
    minimum: float = 1
    maximum: float = 1024
    min_gain: float = 0.05
    window: int = 4
    latency_caps: Mapping[str, float] = field(default_factory=dict)
    binary_search_steps: int = 5
    max_points: int | None = None
    curve_points: int = 0
    throughput_metric: str = THROUGHPUT

    def __post_init__(self) -> None:
        if not 0 < self.minimum <= self.maximum:
            raise ValueError(f"sweep bounds must satisfy 0 < minimum <= maximum, got {self.minimum}..{self.maximum}")
        if self.window < 2:
            raise ValueError(f"sweep window must be at least 2, got {self.window}")


# Aim just inside a latency cap, so a step aimed at the boundary usually lands on the good side;
# a measurement this close to the cap is taken as the boundary itself.
_AIM = 0.98
_NEAR_CAP = 0.96


class LoadSweep:
    """Ask/tell over load points for one configuration. Deterministic: no randomness at all."""

    def __init__(self, settings: SweepSettings, *, batch_size: int = 1) -> None:
        self.settings = settings
        self.batch_size = batch_size
        self._measurements: list[Measurement] = []
        self._climb: list[float] = []  # throughputs of the doubling phase, in order
        self._pending: LoadPoint | None = None
        self._good: float | None = None  # largest load that met every cap
        self._bad: float | None = None  # smallest load that broke a cap (or failed)
        self._bisect_steps = 0
        self._manual = list(settings.values)
        self._next: float | None = None if settings.values else self._clamp(settings.start)
        self._done = False
        self._lower: list[float] | None = None  # the curve points, once the sweep is done

    @property
    def measurements(self) -> tuple[Measurement, ...]:
        return tuple(self._measurements)

    def ask(self) -> LoadPoint | None:
        if self._pending is not None:
            raise SearchProtocolError(f"tell the measurement at {self._pending.label()} before asking again")
        if self._full():
            return None
        value = None if self._done else self._next_value()
        if value is None:
            self._done = True
            value = self._next_lower()
            if value is None:
                return None
        self._pending = LoadPoint(self.settings.mode, value, self.batch_size)
        return self._pending

    def tell(self, load: LoadPoint, measurement: Measurement) -> None:
        if self._pending is None or load != self._pending:
            raise SearchProtocolError(f"told a measurement at {load.label()}, which was not asked")
        self._pending = None
        self._measurements.append(measurement)
        if self._done:
            return  # a curve point: it decides nothing
        if self.settings.values:
            if not self._meets_caps(measurement):
                self._bad = load.value if self._bad is None else min(self._bad, load.value)
            return
        if self._meets_caps(measurement):
            self._good = load.value if self._good is None else max(self._good, load.value)
            if self._bad is None:
                self._climb.append(measurement.metrics.get(self.settings.throughput_metric, 0.0))
                self._next = None if self._saturated(measurement) else self._step_up(load.value, measurement)
        else:
            self._bad = load.value if self._bad is None else min(self._bad, load.value)
        if self._bad is not None:
            self._next = self._boundary_step()

    # -- decisions ------------------------------------------------------------------------------
    def _next_value(self) -> float | None:
        if self.settings.values:
            while self._manual:
                value = float(self._manual.pop(0))
                if self._bad is None or value < self._bad:
                    return value
            return None
        return self._next

    def _next_lower(self) -> float | None:
        if self._lower is None:
            measured = {m.load.value for m in self._measurements}
            lowest = min(measured, default=None)
            candidates = (
                []
                if lowest is None or self.settings.values
                else [self._clamp(lowest / 2**n) for n in range(self.settings.curve_points, 0, -1)]
            )
            self._lower = sorted({c for c in candidates if c not in measured})
        return self._lower.pop(0) if self._lower else None

    def _full(self) -> bool:
        return self.settings.max_points is not None and len(self._measurements) >= self.settings.max_points

    def _meets_caps(self, measurement: Measurement) -> bool:
        if measurement.status is MeasurementStatus.FAILED:
            return False  # a failure at some load is a boundary too: more load will not help
        return all(measurement.metrics.get(m, math.inf) <= cap for m, cap in self.settings.latency_caps.items())

    def _saturated(self, measurement: Measurement) -> bool:
        if measurement.client_bound:
            return True  # more concurrency would measure the load generator, not the server
        window = self.settings.window
        if len(self._climb) < window:
            return False
        recent = self._climb[-window:]
        return max(recent) < recent[0] * (1 + self.settings.min_gain)

    def _step_up(self, value: float, measurement: Measurement) -> float | None:
        """Double the load; near a latency cap, aim at it instead.

        Past saturation latency grows in proportion to concurrency (Little's law), so at a
        latency/cap ratio r the cap sits near value / r. Aiming there (just inside) finds the
        boundary in one or two measurements where doubling and bisecting take five.
        """
        if value >= self.settings.maximum:
            return None
        ratio = self._cap_ratio(measurement)
        if math.isfinite(ratio) and ratio >= _NEAR_CAP:
            return None  # already within a few percent of the budget: this is the boundary
        target = value * 2
        if math.isfinite(ratio) and ratio >= 0.5:
            target = min(target, max(value * _AIM / ratio, value + self._tolerance_at(value)))
        return self._clamp(target) if self._clamp(target) > value else None

    def _boundary_step(self) -> float | None:
        """Between the best good load and the first bad one: halve down, then close in."""
        assert self._bad is not None
        if self._good is None:
            if self._bad <= self.settings.minimum:
                return None  # even the smallest load breaks a cap: nothing feasible here
            # Aim at the cap from above the same way (Little's law); halve when the bad end failed.
            bad = {m.load.value: m for m in self._measurements}[self._bad]
            ratio = self._cap_ratio(bad)
            target = self._bad / 2 if not math.isfinite(ratio) else self._bad * _AIM / ratio
            return self._clamp(min(target, self._bad - self._tolerance_at(self._bad)))
        gap = self._bad - self._good
        if self._bisect_steps >= self.settings.binary_search_steps or gap <= self._tolerance():
            return None
        self._bisect_steps += 1
        guess = self._interpolate()
        if guess is None:
            guess = (self._good + self._bad) / 2
        if self.settings.mode is LoadMode.CONCURRENCY:
            # Stay strictly inside (good, bad) so every step narrows the bracket.
            return float(min(max(math.floor(guess), self._good + 1), self._bad - 1))
        return min(max(guess, self._good + 0.05 * gap), self._bad - 0.05 * gap)

    def _tolerance(self) -> float:
        assert self._good is not None
        return self._tolerance_at(self._good)

    def _tolerance_at(self, value: float) -> float:
        # Within 2 % of the boundary is as exact as the measurements are; adjacent integers end it.
        tolerance = 0.02 * value
        return max(1.0, tolerance) if self.settings.mode is LoadMode.CONCURRENCY else tolerance

    def _interpolate(self) -> float | None:
        """Where the worst latency/cap ratio crosses 1, by a straight line between the bracket's
        ends (latency grows about linearly with load past saturation: Little's law). None when
        the bad end failed and has no latency to interpolate from (then: bisect)."""
        by_load = {m.load.value: m for m in self._measurements}
        good, bad = by_load.get(self._good), by_load.get(self._bad)  # type: ignore[arg-type]
        if good is None or bad is None or bad.status is MeasurementStatus.FAILED:
            return None
        low, high = self._cap_ratio(good), self._cap_ratio(bad)
        if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
            return None
        target = _AIM
        assert self._good is not None and self._bad is not None
        return self._good + (target - low) * (self._bad - self._good) / (high - low)

    def _cap_ratio(self, measurement: Measurement) -> float:
        caps = self.settings.latency_caps
        return max((measurement.metrics.get(m, math.inf) / cap for m, cap in caps.items()), default=math.inf)

    def _clamp(self, value: float) -> float:
        value = min(max(value, self.settings.minimum), self.settings.maximum)
        return float(math.floor(value)) if self.settings.mode is LoadMode.CONCURRENCY else value
