"""Shared bookkeeping for searchers: default first, legal points only, each point measured once."""

from __future__ import annotations

from abc import ABC, abstractmethod

from tritune.analysis.ranking import TrialScore
from tritune.domain.space import Point, SearchSpace, Value, point_key
from tritune.search.trial import LoadSweepKind, SearchHistory, SearchProtocolError, Trial

# A proposal repeating a measured point is answered from memory and the searcher asked again;
# this many repeats in a row mean the searcher has nothing new to try.
_MAX_REPEATS = 200


class BaseSearcher(ABC):
    """Subclasses implement :meth:`_propose` and :meth:`_observe`; this class does the rest.

    It asks the space's default configuration first (Model Analyzer measures it as the
    baseline every result is compared with), repairs proposals into legal points, answers
    repeated proposals from what was already measured (so no configuration is measured twice),
    and stops after ``max_trials`` measured trials.
    """

    load_sweep: LoadSweepKind = LoadSweepKind.FULL

    def __init__(self, space: SearchSpace, *, max_trials: int | None = None, ask_default: bool = True) -> None:
        self.space = space
        self.max_trials = max_trials
        self._ask_default = ask_default
        self._default_key = point_key(space.default)
        self._pending: Trial | None = None
        self._results: dict[str, TrialScore] = {}
        self._history = SearchHistory()
        self._done = False

    # -- for subclasses -----------------------------------------------------------------------
    @abstractmethod
    def _propose(self) -> Point | None:
        """The next point to try (may be illegal or already measured), or None when done."""

    @abstractmethod
    def _observe(self, point: Point, result: TrialScore) -> None:
        """Learn the result of the point last proposed (or of the default, asked first)."""

    # -- the Searcher protocol ------------------------------------------------------------------
    @property
    def history(self) -> list[tuple[Trial, TrialScore]]:
        return list(self._history.entries)

    def best(self) -> tuple[Trial, TrialScore] | None:
        return self._history.best()

    def result_for(self, point: Point) -> TrialScore | None:
        return self._results.get(point_key(point))

    def ask(self) -> Trial | None:
        if self._pending is not None:
            raise SearchProtocolError(f"tell the result of trial {self._pending.number} before asking again")
        if self._done or (self.max_trials is not None and len(self._results) >= self.max_trials):
            return None
        for _ in range(_MAX_REPEATS):
            if self._ask_default:
                self._ask_default = False
                proposal: Point | None = self.space.default
            else:
                proposal = self._propose()
            if proposal is None:
                self._done = True
                return None
            point = self.space.legal(proposal)
            if point is None:
                self._observe(proposal, TrialScore.failure("not a legal configuration"))
                continue
            known = self._results.get(point_key(point))
            if known is not None:
                self._observe(point, known)
                continue
            self._pending = self._trial(point)
            return self._pending
        self._done = True
        return None

    def tell(self, trial: Trial, result: TrialScore) -> None:
        if self._pending is None or trial.number != self._pending.number:
            expected = "no trial" if self._pending is None else f"trial {self._pending.number}"
            raise SearchProtocolError(f"told trial {trial.number}, but {expected} is outstanding")
        self._pending = None
        self._results[trial.key] = result
        self._history.entries.append((trial, result))
        self._observe(trial.params, result)

    def _trial(self, point: dict[str, Value]) -> Trial:
        return Trial(
            number=len(self._history.entries),
            params=point,
            is_default=point_key(point) == self._default_key,
            load_sweep=self.load_sweep,
        )
