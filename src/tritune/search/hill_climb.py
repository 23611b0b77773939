"""Hill climbing over the ordered dimensions (Model Analyzer's quick mode, made cheaper).

From the default configuration (or the grid point nearest to it), measure the neighbours one
index step away in each dimension and move to the best one that beats home by more than the
noise margin. After a move, first try one more step the same way (momentum), which walks a
long slope at one measurement per step instead of a whole neighbourhood. When no neighbour
wins, look two steps away in each ordered dimension and one step in each pair of them (this
crosses flat stretches and interactions: a longer queue delay pays only with a larger max batch
size) before stopping, but only the points that could win: two steps along a dimension where
one step lost to home by more than the noise is predicted to lose too, and left out. The noise
is measured: the median spread of the measurement windows' throughputs of the points seen
(``perf_throughput_spread``); where no measurement reports it, every point is measured. (Wider
stops, leaving out the two-dimension moves too, measured a quarter less but missed
interactions: more instances pay only with fewer threads each; docs/benchmarks.md.)
A failed or infeasible home is left the same way: any neighbour that works ranks above it, so
the climb backs off from load failures and out-of-memory points towards working ones.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Sequence

from tritune.analysis.ranking import TrialScore
from tritune.domain.metrics import THROUGHPUT_SPREAD
from tritune.domain.space import Point, SearchSpace, Value, normalize_point, point_key
from tritune.search.base import BaseSearcher
from tritune.search.trial import LoadSweepKind, Trial

_MOMENTUM, _FULL = "momentum", "full"


class HillClimbSearcher(BaseSearcher):
    """Greedy neighbourhood search over index steps.

    Args:
        space: the grid to climb.
        dims: dimensions to climb (default: every dimension with more than one value); the
            others stay at the start point's value.
        min_gain: a neighbour must beat home's score by this log-ratio (0.01: about 1 %).
        max_radius: the farthest single-dimension step tried before giving up (1 or 2).
        momentum: after a move, try the same step again before the whole neighbourhood.
        max_trials: stop after this many measured configurations.
    """

    load_sweep = LoadSweepKind.PROBE

    def __init__(
        self,
        space: SearchSpace,
        *,
        dims: Sequence[str] | None = None,
        min_gain: float = 0.01,
        max_radius: int = 2,
        momentum: bool = True,
        max_trials: int | None = None,
    ) -> None:
        super().__init__(space, max_trials=max_trials)
        self.dims = tuple(dims) if dims is not None else tuple(d.name for d in space.dimensions if len(d) > 1)
        for name in self.dims:
            space.dimension(name)  # KeyError for a dimension the space lacks
        self.min_gain = min_gain
        self.max_radius = max_radius
        self.momentum = momentum
        self._start = space.legal(_nearest_on_grid(space, space.default)) or next(space.grid())
        self._start_key = point_key(self._start)
        self._started = False
        self._home: dict[str, Value] | None = None
        self._home_result: TrialScore | None = None
        self._last_move: dict[str, int] | None = None
        self._radius = 1
        self._round = _FULL
        self._queue: list[dict[str, Value]] = []
        self._round_keys: list[str] = []
        self._seen: dict[str, tuple[dict[str, Value], TrialScore]] = {}

    @property
    def home(self) -> Point | None:
        return self._home

    def _trial(self, point: dict[str, Value]) -> Trial:
        # Neighbours peak at similar loads: start each probe where home's best load was.
        trial = super()._trial(point)
        load = None if self._home_result is None else self._home_result.load
        return trial if load is None else dataclasses.replace(trial, start_load=load.value)

    def _propose(self) -> Point | None:
        while True:
            if self._home is None:
                if self._started:
                    return None  # the start was observed without becoming home: cannot happen
                self._started = True
                return self._start
            if self._queue:
                return self._queue.pop(0)
            if self._round == _MOMENTUM:
                self._begin_full_round()  # the momentum step was impossible (edge of the grid)
                continue
            if not self._finish_full_round():
                return None

    def _observe(self, point: Point, result: TrialScore) -> None:
        p = normalize_point(point)
        key = point_key(p)
        self._seen[key] = (p, result)
        if self._home is None:
            if key == self._start_key:
                self._home, self._home_result = p, result
                self._begin_full_round()
            return  # the default, asked first, lies off the grid: it does not steer the climb
        if self._round == _MOMENTUM and key != point_key(self._home):
            if self._wins(result):
                self._move(p, result)
            else:
                self._begin_full_round()

    # -- rounds ---------------------------------------------------------------------------------
    def _wins(self, result: TrialScore) -> bool:
        assert self._home_result is not None
        return result.better_than(self._home_result, self.min_gain)

    def _move(self, point: dict[str, Value], result: TrialScore) -> None:
        assert self._home is not None
        self._last_move = {
            name: self._index(point, name) - self._index(self._home, name)
            for name in self.dims
            if name not in self.space.unordered
        }
        self._home, self._home_result = point, result
        self._radius = 1
        if self.momentum and any(self._last_move.values()):
            self._round = _MOMENTUM
            step = self._shifted(point, self._last_move)
            self._queue = [step] if step is not None else []
        else:
            self._begin_full_round()

    def _begin_full_round(self) -> None:
        assert self._home is not None
        self._round = _FULL
        home_key = point_key(self._home)
        self._queue, self._round_keys = [], []
        noise = self._noise() if self._radius > 1 else None
        for candidate in self._neighbours(self._home, self._radius):
            key = point_key(candidate)
            if key == home_key or key in self._round_keys:
                continue
            if noise is not None and key not in self._seen and self._predicted_to_lose(candidate, noise):
                continue
            self._queue.append(candidate)
            self._round_keys.append(key)

    def _finish_full_round(self) -> bool:
        """Move to the best neighbour if it wins; else widen the radius. False: converged."""
        measured = [self._seen[k] for k in self._round_keys if k in self._seen]
        best = None
        for point, result in measured:
            if best is None or result.key() > best[1].key():
                best = (point, result)
        if best is not None and self._wins(best[1]):
            self._move(*best)
            return True
        if self._radius < self.max_radius:
            self._radius += 1
            self._begin_full_round()
            return True
        return False

    # -- noise and prediction ---------------------------------------------------------------
    def _noise(self) -> float | None:
        """The measured noise as a score log-ratio, at least ``min_gain``: the median window
        spread of the feasible points seen; None where no measurement reported one."""
        spreads = [
            r.metrics[THROUGHPUT_SPREAD] / 100
            for _, r in self._seen.values()
            if r.feasible and THROUGHPUT_SPREAD in r.metrics
        ]
        if not spreads:
            return None
        return max(self.min_gain, math.log1p(statistics.median(spreads)))

    def _predicted_to_lose(self, candidate: Point, noise: float) -> bool:
        """Whether a point two steps along one dimension lies past a step that way that lost to
        home by more than the noise (or failed, or broke a constraint home meets): then it is
        predicted to lose too. Points that move two dimensions are always measured: their steps
        interact (more instances pay only with fewer threads each, a longer queue delay only
        with a larger max batch size), so each step losing alone predicts nothing."""
        assert self._home is not None and self._home_result is not None
        moved = [n for n in self.dims if n not in self.space.unordered and candidate[n] != self._home[n]]
        if len(moved) != 1 or not self._home_result.feasible:
            return False
        name = moved[0]
        unit = 1 if self._index(candidate, name) > self._index(self._home, name) else -1
        step = self._shifted(self._home, {name: unit})
        seen = self._seen.get(point_key(step)) if step is not None else None
        if seen is None:
            return False
        return not seen[1].feasible or seen[1].score - self._home_result.score < -noise

    # -- geometry -------------------------------------------------------------------------------
    def _index(self, point: Point, name: str) -> int:
        return self.space.dimension(name).index(point[name])

    def _shifted(self, point: Point, delta: dict[str, int]) -> dict[str, Value] | None:
        moved = dict(point)
        for name, step in delta.items():
            dim = self.space.dimension(name)
            index = dim.index(point[name]) + step
            if not 0 <= index < len(dim):
                return None
            moved[name] = dim.values[index]
        return self.space.legal(moved)

    def _neighbours(self, point: Point, radius: int) -> list[dict[str, Value]]:
        """Radius 1: one step in one dimension (any other value of an unordered one).
        Radius 2: two steps in one ordered dimension, or one step in each of two: the moves that
        cross interactions (more queue delay pays only with a larger max batch size)."""
        found: list[dict[str, Value]] = []
        ordered = [name for name in self.dims if name not in self.space.unordered]
        if radius == 1:
            for name in self.dims:
                if name in self.space.unordered:
                    values = self.space.dimension(name).values
                    found += [p for v in values if v != point[name] and (p := self.space.legal({**point, name: v}))]
                    continue
                found += [p for step in (1, -1) if (p := self._shifted(point, {name: step}))]
            return found
        for name in ordered:
            found += [p for step in (radius, -radius) if (p := self._shifted(point, {name: step}))]
        for i, first in enumerate(ordered):
            for second in ordered[i + 1 :]:
                for a in (1, -1):
                    found += [p for b in (1, -1) if (p := self._shifted(point, {first: a, second: b}))]
        return found


def _nearest_on_grid(space: SearchSpace, point: Point) -> dict[str, Value]:
    """Each dimension's value closest to the point's (numerically where both are numbers)."""
    nearest: dict[str, Value] = {}
    for dim in space.dimensions:
        wanted = point.get(dim.name)
        if wanted in dim.values:
            nearest[dim.name] = wanted
            continue
        numeric = [v for v in dim.values if isinstance(v, int | float) and not isinstance(v, bool)]
        if isinstance(wanted, int | float) and numeric:
            nearest[dim.name] = min(numeric, key=lambda v: abs(float(v) - float(wanted)))  # type: ignore[arg-type]
        else:
            nearest[dim.name] = dim.values[0]
    return nearest
