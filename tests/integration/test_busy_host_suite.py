"""The timing-sensitive integration tests, on a busy host: worker pools, Ctrl-C and SIGTERM,
input files (--input-data), a measurement that never stabilises. They run in a pytest of their
own while spinners that this module starts and stops burn every core tritune may use, and they
must all pass there: a test that counts on how much happens in a time window fails here first.

The inner run must pass every test it selected (a test skipped or deselected is no pass), and the
spinners must have burnt CPU all along (they are alive at the end, with CPU time taken while the
inner run ran), or the host was not busy and the run proves nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import psutil
import pytest

from tritune.cpus import usable_cpus
from tritune.testing.processes import burning

# The busy-host suite: the full tier only (its timing-sensitive tests run plain in the fast tier).
pytestmark = [pytest.mark.triton, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SUITE = (
    # worker pools
    "tests/integration/test_perf.py::test_worker_processes_merge_into_one_result",
    "tests/integration/test_perf.py::test_closed_loop_gives_each_slot_a_process_up_to_the_limit",
    "tests/integration/test_perf.py::test_the_worker_pool_keeps_its_processes_and_replaces_a_dead_one",
    # input files
    "tests/integration/test_perf.py::test_shapes_that_do_not_fit_are_refused",
    "tests/integration/test_perf.py::test_input_data_from_a_json_file_is_used",
    # stabilisation: a measurement that never stabilises keeps measuring until the server dies
    "tests/integration/test_perf.py::test_server_killed_mid_measurement_fails_with_what_was_measured",
    # Ctrl-C and SIGTERM (each test is parametrized over the signals)
    "tests/integration/test_failures.py::test_no_orphans_when_the_owner_is_interrupted_or_killed",
    "tests/integration/test_failures.py::test_cli_ctrl_c_or_sigterm_during_a_run_leaves_nothing",
    "tests/integration/test_failures.py::test_ctrl_c_during_a_measurement_ends_the_load_generator_workers",
)
# Left out: test_profile.py's interrupted profile and its rerun. It passes here too, but it
# tripled this module's time (2 -> 6 minutes on 2 shared cores); the signal handling of cli/app.py
# it goes through is exercised above by infer's and perf's.


def _pytest(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _selected() -> int:
    """How many tests the suite's node ids select (the parametrized ones count each case)."""
    listed = _pytest("--collect-only", *SUITE, timeout=300)
    assert listed.returncode == 0, listed.stdout[-3000:] + listed.stderr[-3000:]
    return sum(1 for line in listed.stdout.splitlines() if "::" in line)


def _cpu_seconds(spinners: list[psutil.Process]) -> list[float]:
    return [sum(p.cpu_times()[:2]) for p in spinners]


@pytest.mark.timeout(1800)  # the inner run, slowed by the spinners; each inner test keeps its own limit
def test_the_timing_sensitive_tests_pass_while_every_core_is_busy(tmp_path: Path) -> None:
    selected = _selected()
    assert selected >= len(SUITE) + 3, selected  # the signals' cases counted too
    report = tmp_path / "junit.xml"
    with burning(len(usable_cpus())) as pids:
        spinners = [psutil.Process(pid) for pid in pids]
        before = _cpu_seconds(spinners)
        inner = _pytest(f"--junitxml={report}", *SUITE, timeout=1500)
        after = _cpu_seconds(spinners)
        assert all(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in spinners)
    assert all(b > a for a, b in zip(before, after, strict=True)), (before, after)
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)

    assert inner.returncode == 0, inner.stdout[-6000:] + inner.stderr[-3000:]
    suite = ET.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    counts = {key: int(suite.get(key, "0")) for key in ("tests", "failures", "errors", "skipped")}
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    assert passed == counts["tests"] == selected, (counts, selected, inner.stdout[-3000:])
