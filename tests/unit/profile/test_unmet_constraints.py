"""A run whose configurations all miss the constraints: its conclusion carries one line naming
the constraints, the closest configuration and the two fixes, and the CLI turns it into exit 3
after everything is stored (the integration test runs the command)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from tritune.analysis.summary import unmet_constraints_line
from tritune.cli.app import run_cli
from tritune.config import parse_profile_config
from tritune.errors import ConstraintsUnmetError, ExitStatus
from tritune.testing.synthetic import SyntheticSurface, profile_surface

SMALL = {
    "profile_models": ["m"],
    "run_config_search_max_instance_count": 2,
    "run_config_search_max_model_batch_size": 4,
    "run_config_search_mode": "brute",
}


def test_the_line_names_the_model_the_constraints_the_closest_and_both_fixes() -> None:
    line = unmet_constraints_line("mlp", "perf_latency_p99 <= 0.0001", "mlp_config_3")
    assert line.startswith("no configuration of mlp meets the constraints (perf_latency_p99 <= 0.0001); ")
    assert "mlp_config_3 comes closest" in line
    assert "loosen the constraint (--latency-budget" in line and "widen the search" in line
    assert "\n" not in line


def test_a_budget_nobody_meets_is_said_and_a_met_one_is_not(tmp_path: Path) -> None:
    surface = SyntheticSurface(seed=1)
    missed = profile_surface(parse_profile_config({**SMALL, "latency_budget": 0.0001}), surface, tmp_path / "a")
    conclusion = missed.conclusion
    assert conclusion.best_name is not None and conclusion.best_config_path is not None  # kept
    assert conclusion.unmet_constraints == unmet_constraints_line(
        "m", "perf_latency_p99 <= 0.0001", conclusion.best_name
    )
    assert conclusion.to_json()["constraints_met"] is False

    met = profile_surface(parse_profile_config({**SMALL, "latency_budget": 10_000}), surface, tmp_path / "b")
    free = profile_surface(parse_profile_config(SMALL), surface, tmp_path / "c")
    for conclusion in (met.conclusion, free.conclusion):
        assert conclusion.unmet_constraints is None
        assert conclusion.to_json()["constraints_met"] is True


def test_the_cli_prints_the_line_and_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    line = unmet_constraints_line("m", "perf_latency_p99 <= 1", "m_config_1")

    @click.command()
    def finished() -> None:
        raise ConstraintsUnmetError(line)

    assert run_cli(finished, []) == ExitStatus.CONSTRAINTS_UNMET == 3
    assert len({int(s) for s in ExitStatus}) == len(ExitStatus)  # a status of its own
    assert capsys.readouterr().err.strip() == f"error: {line}"
