"""Pure search: ask/tell searchers over a SearchSpace, and the per-configuration load sweep.

Nothing here deploys or measures; the orchestrator loops ask -> deploy -> measure -> tell.
"""

from tritune.search.base import BaseSearcher
from tritune.search.bayes import BayesSearcher, trial_budget
from tritune.search.factory import (
    MODES,
    SearchPlan,
    build_space,
    create_plan,
    create_searcher,
)
from tritune.search.grid import GridSearcher
from tritune.search.hill_climb import HillClimbSearcher
from tritune.search.load_sweep import LoadSweep, SweepSettings
from tritune.search.refine import RefineTop
from tritune.search.trial import LoadSweepKind, Searcher, SearchProtocolError, Trial, replay

__all__ = [
    "MODES",
    "BaseSearcher",
    "BayesSearcher",
    "GridSearcher",
    "HillClimbSearcher",
    "LoadSweep",
    "RefineTop",
    "SearchPlan",
    "SearchProtocolError",
    "Searcher",
    "LoadSweepKind",
    "SweepSettings",
    "Trial",
    "build_space",
    "create_plan",
    "create_searcher",
    "replay",
    "trial_budget",
]
