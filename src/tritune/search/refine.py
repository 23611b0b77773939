"""After a search: give the best configurations (and the default) a closer load sweep.

Searches score each configuration from a short probe of a few load points; the final ranking
and the summary deserve more precision, but only for the few configurations that matter
(Model Analyzer's quick mode does the same with its top 3 plus the default).
"""

from __future__ import annotations

from tritune.analysis.ranking import TrialScore
from tritune.domain.space import SearchSpace
from tritune.search.base import BaseSearcher
from tritune.search.trial import LoadSweepKind, SearchHistory, SearchProtocolError, Trial


class RefineTop:
    """Runs ``inner`` to the end, then asks its ``top_n`` best configurations and the default again.

    Refine trials carry ``phase="refine"``, the same params, ``load_sweep=REFINE`` and the probe's
    best load as ``start_load``; the best one's and the default's also carry ``curve_points``.
    Their results replace the search's results for the same configuration in :meth:`best`.
    """

    def __init__(
        self, inner: BaseSearcher, *, top_n: int = 3, include_default: bool = True, curve_points: int = 2
    ) -> None:
        self.inner = inner
        self.top_n = top_n
        self.include_default = include_default
        # The best configuration and the default, the two the summary compares, also get this
        # many loads below their sweep, so their curves in the report span light to full load.
        self.curve_points = curve_points
        self._queue: list[Trial] | None = None
        self._pending: Trial | None = None
        self._refined = SearchHistory()

    @property
    def space(self) -> SearchSpace:
        return self.inner.space

    @property
    def history(self) -> list[tuple[Trial, TrialScore]]:
        return self.inner.history + list(self._refined.entries)

    def best(self) -> tuple[Trial, TrialScore] | None:
        """The best configuration, judged by refined results where they exist."""
        refined = {t.key: (t, r) for t, r in self._refined.entries}
        latest = {t.key: refined.get(t.key, (t, r)) for t, r in self.inner.history}
        best: tuple[Trial, TrialScore] | None = None
        for entry in latest.values():
            if best is None or entry[1].key() > best[1].key():
                best = entry
        return best

    def ask(self) -> Trial | None:
        if self._pending is not None:
            raise SearchProtocolError(f"tell the result of trial {self._pending.number} before asking again")
        if self._queue is None:
            trial = self.inner.ask()
            if trial is not None:
                return trial
            self._queue = self._plan()
        if not self._queue:
            return None
        self._pending = self._queue.pop(0)
        return self._pending

    def tell(self, trial: Trial, result: TrialScore) -> None:
        if trial.phase != "refine":
            self.inner.tell(trial, result)
            return
        if self._pending is None or trial.number != self._pending.number:
            raise SearchProtocolError(f"told refine trial {trial.number}, which is not outstanding")
        self._pending = None
        self._refined.entries.append((trial, result))

    def _plan(self) -> list[Trial]:
        history = self.inner.history
        ranked = sorted(
            (e for e in history if not e[1].failed), key=lambda e: e[1].key(), reverse=True
        )  # sorted() is stable: ties keep the order they were measured in
        chosen = ranked[: self.top_n]
        if self.include_default:
            chosen += [e for e in ranked if e[0].is_default and e not in chosen]
        number = len(history)
        plan = []
        for offset, (trial, result) in enumerate(chosen):
            plan.append(
                Trial(
                    number=number + offset,
                    params=trial.params,
                    is_default=trial.is_default,
                    load_sweep=LoadSweepKind.REFINE,
                    start_load=None if result.load is None else result.load.value,
                    phase="refine",
                    curve_points=self.curve_points if offset == 0 or trial.is_default else 0,
                )
            )
        return plan
