"""Pure analysis: objectives, constraints, ranking, Pareto front, per-config best, summary facts."""

from tritune.analysis.configs import (
    ConfigBest,
    ConfigResult,
    best_measurement,
    best_per_config,
    config_score,
)
from tritune.analysis.constraints import Bound, Constraints
from tritune.analysis.objectives import DEFAULT_OBJECTIVES, Objectives
from tritune.analysis.ranking import Ranked, TrialScore, dominates, pareto_front, rank, top_n
from tritune.analysis.summary import SummaryFacts, metric_noun, objective_phrase, summary_facts, summary_sentence

__all__ = [
    "DEFAULT_OBJECTIVES",
    "Bound",
    "ConfigBest",
    "ConfigResult",
    "Constraints",
    "Objectives",
    "TrialScore",
    "Ranked",
    "SummaryFacts",
    "best_measurement",
    "best_per_config",
    "config_score",
    "dominates",
    "metric_noun",
    "objective_phrase",
    "pareto_front",
    "rank",
    "summary_facts",
    "summary_sentence",
    "top_n",
]
