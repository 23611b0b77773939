"""Flags that keep a `tritune profile` run in the integration tests short: windows of 150 ms, at
most 4 of them, and a stability rule loose enough for a shared 2-core host (importable: tests/ is
on sys.path through the root conftest)."""

from __future__ import annotations

from pathlib import Path

from cli_runner import CliResult, run_in_process

SHORT_MEASUREMENT = ["--measurement-interval", "150", "--max-trials", "4", "--stability-percentage", "50"]


def profile_pipeline(config: Path, repository: Path, out: Path, export: Path) -> CliResult:
    """`tritune profile --json` of a pipeline (an ensemble or a BLS model) of ``repository``, kept
    small: one concurrency (2), two finalists, one confirm round; exported to ``export``."""
    command = ["profile", "-f", str(config), "--model-repository", str(repository), "--export-path", str(out)]
    command += ["--export", str(export), "--json", "--no-report", *SHORT_MEASUREMENT]
    command += ["--run-config-search-min-concurrency", "2", "--run-config-search-max-concurrency", "2"]
    command += ["--num-configs-per-model", "2", "--confirm-rounds", "1", "--confirm-max-rounds", "1"]
    return run_in_process(*command)
