"""Whole searches on the synthetic surface, run by the product's loop (ProfileRun with a real
store; an in-memory deployer stands in for the server).

These hold the search modes to the issue's promises: each finds the known feasible optimum
(within 2 %), the answer never violates the constraints, and the default mode measures at most
a fifth of what brute force measures while reaching at least 98 % of its objective.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tritune.config import parse_profile_config
from tritune.testing.synthetic import SurfaceRun, SyntheticSurface, profile_surface, true_optimum

AUTO_SMALL = {
    "profile_models": ["m"],
    "run_config_search_max_instance_count": 4,
    "run_config_search_max_model_batch_size": 32,
}  # 24 configurations
WIDE = {  # 4 instance counts x 8 batch sizes x 5 delays x 4 thread counts = 640 configurations
    "profile_models": {
        "m": {
            "model_config_parameters": {
                "instance_group": [{"count": [1, 2, 3, 4]}],
                "dynamic_batching": {"max_queue_delay_microseconds": ["off", 0, 100, 500, 2000]},
                "intra_op_threads": [1, 2, 4, 8],
            }
        }
    },
    "run_config_search_max_model_batch_size": 128,
}
CASES: dict[str, tuple[dict[str, Any], SyntheticSurface, range]] = {
    "small grid, max throughput": (AUTO_SMALL, SyntheticSurface(seed=1), range(1, 1025)),
    "small grid, 2 cores": (
        AUTO_SMALL,
        SyntheticSurface(seed=2, cores=2, overhead_ms=0.5, per_item_ms=0.3),
        range(1, 1025),
    ),
    "wide grid, 30 ms budget": ({**WIDE, "latency_budget": 30}, SyntheticSurface(seed=3), range(1, 257)),
    "wide grid, 25 ms budget, 16 cores": (
        {**WIDE, "latency_budget": 25},
        SyntheticSurface(seed=4, cores=16, overhead_ms=3, per_item_ms=1),
        range(1, 257),
    ),
}


_RUNS: dict[tuple[str, str], SurfaceRun] = {}


@pytest.fixture(scope="module")
def run_mode(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], SurfaceRun]:
    """Each (case, mode) searched once for the module: runs are deterministic, and several
    tests read the same one."""

    def run(case: str, mode: str) -> SurfaceRun:
        if (case, mode) not in _RUNS:
            settings, surface, _ = CASES[case]
            config = parse_profile_config({**settings, "run_config_search_mode": mode})
            _RUNS[case, mode] = profile_surface(config, surface, tmp_path_factory.mktemp(mode))
        return _RUNS[case, mode]

    return run


def true_score(case: str, run: SurfaceRun) -> float:
    """The noise-free objective of the answer: its configuration at its chosen load."""
    _, surface, _ = CASES[case]
    best = run.best
    assert best.best is not None
    metrics = surface.true_metrics(run.plan.space.variant(best.config.params), best.best.load)
    assert metrics is not None
    return run.plan.objectives.score(metrics)


@pytest.mark.parametrize("case", list(CASES))
def test_default_mode_measures_a_fifth_of_brute_force_for_98_percent_of_its_objective(
    case: str, run_mode: Callable[[str, str], SurfaceRun]
) -> None:
    brute = run_mode(case, "brute")
    default = run_mode(case, "default")
    ratio = default.measurements / brute.measurements
    objective = math.exp(true_score(case, default) - true_score(case, brute))
    assert ratio <= 0.2, f"default measured {default.measurements} vs brute {brute.measurements}"
    assert objective >= 0.98, f"default reached {objective:.3f} of brute force's objective"


# Measurement budgets each mode is held to, per case (brute force needs 100-160 on the small
# grid and about 3,700 on the wide one).
BUDGETS = {
    ("small grid, max throughput", "default"): 25,
    ("small grid, max throughput", "quick"): 25,
    ("small grid, max throughput", "optuna"): 50,
    ("small grid, 2 cores", "default"): 25,
    ("small grid, 2 cores", "quick"): 25,
    ("small grid, 2 cores", "optuna"): 50,
    ("wide grid, 30 ms budget", "default"): 250,
    ("wide grid, 25 ms budget, 16 cores", "default"): 250,
}


@pytest.mark.parametrize(("case", "mode"), list(BUDGETS))
def test_mode_finds_the_known_feasible_optimum_within_its_budget(
    case: str, mode: str, run_mode: Callable[[str, str], SurfaceRun]
) -> None:
    settings, surface, loads = CASES[case]
    run = run_mode(case, mode)
    plan = run.plan
    _, _, optimum = true_optimum(surface, plan.space, plan.objectives, plan.constraints, loads=loads)
    assert run.measurements <= BUDGETS[(case, mode)]
    assert math.exp(true_score(case, run) - optimum) >= 0.98


@pytest.mark.parametrize("mode", ["brute", "default", "quick", "optuna"])
@pytest.mark.parametrize("case", list(CASES))
def test_the_answer_never_violates_the_constraints(
    case: str, mode: str, run_mode: Callable[[str, str], SurfaceRun]
) -> None:
    run = run_mode(case, mode)
    best = run.best
    assert best.best is not None and best.outcome.feasible
    assert run.plan.constraints.satisfied(best.best.metrics)


def test_failing_configurations_are_survived(tmp_path: Path) -> None:
    """Configurations over the memory limit fail to load; the search still finds the best that fit."""
    surface = SyntheticSurface(seed=5, memory_limit_mb=560)
    settings = {**AUTO_SMALL, "run_config_search_max_instance_count": 6}
    run = profile_surface(parse_profile_config(settings), surface, tmp_path)
    plan = run.plan
    failed = [c for c in run.configs if all(not m.ok for m in c.measurements)]
    assert failed, "the surface should have made some configurations fail"
    _, _, optimum = true_optimum(surface, plan.space, plan.objectives, plan.constraints, loads=range(1, 1025))
    assert run.best.outcome.feasible
    best = run.best
    assert best.best is not None
    metrics = surface.true_metrics(plan.space.variant(best.config.params), best.best.load)
    assert metrics is not None
    assert math.exp(plan.objectives.score(metrics) - optimum) >= 0.98
