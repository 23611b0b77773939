"""`tritune ...` run in the test's own process, through the same entry (`tritune.cli.main`) and
exit statuses as the console script, with what it printed captured.

A CLI subprocess costs about two seconds of imports on a 2-core host before it does anything, and
most error-line tests check one line that is decided before any work starts. Those run here; the
tests that need a process of their own (signals, kill -9, orphan checks, a child's environment)
keep `subprocess` (importable: tests/ is on sys.path through the root conftest).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from tritune.cli import main


@dataclass(frozen=True)
class CliResult:
    """What `subprocess.run(..., capture_output=True, text=True)` gives, for the same checks."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def run_in_process(*args: str, cwd: Path | None = None) -> CliResult:
    """Run ``tritune *args`` here. An exception that escapes the CLI is printed as a traceback on
    the captured stderr with exit status 1, as the interpreter would, so a test that asserts "no
    traceback" fails on it exactly as it would on a subprocess."""
    out, err = io.StringIO(), io.StringIO()
    previous = Path.cwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(list(args))
            except SystemExit as exit_:
                status = exit_.code if isinstance(exit_.code, int) else 1
            except Exception:  # noqa: BLE001 - shown as the interpreter would show it
                traceback.print_exc(file=sys.stderr)
                status = 1
    finally:
        os.chdir(previous)
    return CliResult(tuple(args), status, out.getvalue(), err.getvalue())


def error_line(result: CliResult | subprocess.CompletedProcess[str]) -> str:
    """The one ``error:`` line (click's own usage errors say ``Error:``), and no traceback."""
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.lower().startswith("error:")]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]
