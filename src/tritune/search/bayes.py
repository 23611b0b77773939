"""Bayesian search: optuna's TPE sampler over the grid's indices, constraints honoured.

Unlike Model Analyzer's optuna mode (which ignores constraints), each trial's constraint
violation goes to TPE's ``constraints_func``, so the sampler learns where the feasible region
is. Ordered dimensions are integer indices (TPE models their order); unordered ones are
categorical. Failed configurations are told as failed trials, which TPE leaves out of its
model. A repeated proposal is answered from memory and costs no measurement.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from tritune.analysis.ranking import TrialScore
from tritune.domain.space import Point, SearchSpace, Value
from tritune.search.base import BaseSearcher
from tritune.search.trial import LoadSweepKind, Trial

_VIOLATION = "violation"
_SET_CONSTRAINT = hasattr(optuna.trial.Trial, "set_constraint")


def _constraints(trial: FrozenTrial) -> Sequence[float]:
    # optuna: a trial is feasible when every value is <= 0.
    return (float(trial.user_attrs.get(_VIOLATION, 0.0)),)


def trial_budget(space: SearchSpace, min_trials: int, max_trials: int, fraction: float = 0.10) -> int:
    """Model Analyzer's rule: a fraction of the search space, clamped to [min_trials, max_trials]."""
    grid = sum(1 for _ in space.grid())
    return max(1, min(grid, max(min_trials, min(max_trials, math.ceil(fraction * grid)))))


class BayesSearcher(BaseSearcher):
    """TPE over the space, seeded, with an early exit when the best stops improving.

    Args:
        space: the grid to sample.
        seed: the sampler's seed (store it with the run: a resumed run needs the same one).
        max_trials: measured configurations at most (see :func:`trial_budget`).
        min_trials: never exit early before this many.
        early_exit: stop after this many measured trials without a new best (Model Analyzer: 10).
        startup_trials: random trials before TPE starts modelling (default: a quarter of the
            budget, 3 to 8, so small budgets are not spent on random draws alone).
    """

    load_sweep = LoadSweepKind.PROBE

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 0,
        max_trials: int = 40,
        min_trials: int = 10,
        early_exit: int | None = 10,
        startup_trials: int | None = None,
    ) -> None:
        super().__init__(space, max_trials=max_trials, ask_default=space.indices(space.default) is None)
        self.min_trials = min_trials
        self.early_exit = early_exit
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial drowns our progress
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # optuna 5 reads constraints set on the trial; optuna 4 needs constraints_func.
            extra = {} if _SET_CONSTRAINT else {"constraints_func": _constraints}
            sampler = optuna.samplers.TPESampler(
                seed=seed,
                n_startup_trials=startup_trials if startup_trials is not None else min(8, max(3, max_trials // 4)),
                multivariate=True,
                **extra,  # type: ignore[arg-type]
            )
        self._study = optuna.create_study(direction="maximize", sampler=sampler)
        self._dims = [d for d in space.dimensions if len(d) > 1]
        self._distributions: dict[str, BaseDistribution] = {
            d.name: CategoricalDistribution(tuple(range(len(d))))
            if d.name in space.unordered
            else IntDistribution(0, len(d) - 1)
            for d in self._dims
        }
        self._current: optuna.trial.Trial | None = None
        indices = space.indices(space.default)
        if indices is not None:
            # The default on the grid is optuna's first trial, so TPE learns from the baseline too.
            self._study.enqueue_trial(
                {d.name: i for d, i in zip(space.dimensions, indices, strict=True) if d.name in self._distributions}
            )
        self._best: TrialScore | None = None
        self._since_best = 0

    def _propose(self) -> Point | None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self._current = self._study.ask(self._distributions)
        point: dict[str, Value] = {}
        for dim in self.space.dimensions:
            index = self._current.params.get(dim.name, 0)
            point[dim.name] = dim.values[int(index)]
        return point

    def _observe(self, point: Point, result: TrialScore) -> None:
        if self._current is None:
            return  # the default asked first, off the grid: optuna cannot express it
        trial, self._current = self._current, None
        if result.failed:
            self._study.tell(trial, state=TrialState.FAIL)
            return
        if _SET_CONSTRAINT:
            trial.set_constraint(_VIOLATION, result.violation)
        else:
            trial.set_user_attr(_VIOLATION, result.violation)
        # Infeasible trials keep their score: TPE still learns the landscape from them.
        self._study.tell(trial, result.score if math.isfinite(result.score) else -1e9)

    def tell(self, trial: Trial, result: TrialScore) -> None:
        super().tell(trial, result)
        if self._best is None or result.key() > self._best.key():
            self._best, self._since_best = result, 0
        else:
            self._since_best += 1
        measured = len(self._history.entries)
        if self.early_exit is not None and measured >= self.min_trials and self._since_best >= self.early_exit:
            self._done = True
