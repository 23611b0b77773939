"""Brute force: every legal point of the grid, in product order (Model Analyzer's brute mode)."""

from __future__ import annotations

from collections.abc import Iterator

from tritune.analysis.ranking import TrialScore
from tritune.domain.space import Point, SearchSpace, Value
from tritune.search.base import BaseSearcher
from tritune.search.trial import LoadSweepKind


class GridSearcher(BaseSearcher):
    """Asks the default, then every grid point once. Each gets a full load sweep."""

    load_sweep = LoadSweepKind.FULL

    def __init__(self, space: SearchSpace, *, max_trials: int | None = None) -> None:
        super().__init__(space, max_trials=max_trials)
        self._points: Iterator[dict[str, Value]] = space.grid()

    def _propose(self) -> Point | None:
        return next(self._points, None)

    def _observe(self, point: Point, result: TrialScore) -> None:
        pass  # brute force learns nothing
