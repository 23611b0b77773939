"""The run folder's lock, with real processes holding it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tritune.store.lock import RunFolderBusy, run_lock

HOLD = "import sys, time; from pathlib import Path; from tritune.store.lock import run_lock\n" + (
    "with run_lock(Path(sys.argv[1])):\n    print('held', flush=True)\n    time.sleep(120)\n"
)


def test_a_second_holder_is_refused_naming_the_first(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        busy = rf"in use by another tritune \(pid {holder.pid}\).*--run-dir"
        with pytest.raises(RunFolderBusy, match=busy), run_lock(tmp_path):
            pass
    finally:
        holder.kill()
        holder.wait()
    # A killed holder leaves its lock file but not its lock.
    with run_lock(tmp_path):
        assert (tmp_path / "tritune.lock").read_text().strip() != str(holder.pid)


def test_the_lock_is_released_after_the_block(tmp_path: Path) -> None:
    with run_lock(tmp_path / "run"):
        pass
    with run_lock(tmp_path / "run"):
        pass
