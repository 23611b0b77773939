"""The storage faults of docs/reliability.md: a read-only run folder, a full disk, an --export
or perf -f path that cannot be written, a damaged store. Each is fed for real (a tmpfs mounted
read-only or small, a store with bytes overwritten) and must end with one ``error:`` line that
names the path and the fix, a non-zero exit, no traceback, and every stored result kept."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cli_runner import error_line
from cli_runner import run_in_process as run_cli
from profile_flags import SHORT_MEASUREMENT
from tritune.testing.models import mlp_model
from tritune.testing.processes import wait_until_gone

pytestmark = pytest.mark.triton

TRITUNE = [sys.executable, "-m", "tritune"]
# The default alone at one concurrency: these tests are about what is stored, not what is measured.
SEARCH_OFF = [
    *SHORT_MEASUREMENT,
    "--run-config-search-disable",
    "--run-config-search-max-concurrency",
    "2",
    "--no-report",
]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def measurement_count(store: Path, scratch: Path) -> int:
    """The measurements ``store`` holds, its write-ahead log included, read from a copy (a full
    or read-only disk has no room for sqlite's shared-memory file)."""
    scratch.mkdir()
    for part in store.parent.glob(store.name + "*"):
        shutil.copy2(part, scratch / part.name)
    with sqlite3.connect(scratch / store.name) as db:
        count = int(db.execute("SELECT COUNT(*) FROM measurements").fetchone()[0])
    db.close()
    return count


class Tmpfs:
    """A tmpfs of ``size`` mounted at ``path`` (the CI runs as root; root ignores file modes, so
    a read-only folder has to be a read-only mount)."""

    def __init__(self, path: Path, size: str) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {done.stderr.decode().strip()}")

    def read_only(self) -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True)

    def fill(self, leave: int = 0) -> None:
        """Fill the tmpfs but ``leave`` bytes."""
        free = shutil.disk_usage(self.path).free
        with open(self.path / "filler", "wb") as filler:
            filler.write(b"\0" * max(free - leave, 0))

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False)


@pytest.fixture
def mount() -> Iterator[Callable[[Path, str], Tmpfs]]:
    mounted: list[Tmpfs] = []

    def make(path: Path, size: str) -> Tmpfs:
        fs = Tmpfs(path, size)
        mounted.append(fs)
        return fs

    yield make
    for fs in reversed(mounted):
        fs.unmount()


@pytest.fixture(scope="module")
def mlp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mlp_model(tmp_path_factory.mktemp("storage") / "mlp.onnx", width=8, depth=1)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory, mlp: Path) -> Path:
    """A finished profile run (one config, reports off), copied by the tests that damage it."""
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    result = run_cli("profile", str(mlp), "--run-dir", str(run_dir), *SEARCH_OFF)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


def _copy_run(run_dir: Path, to: Path) -> Path:
    to.mkdir(parents=True, exist_ok=True)
    shutil.copy2(run_dir / "tritune.db", to / "tritune.db")
    return to


# a tmpfs fault: the full tier (the fast tier's storage faults need no mount)
@pytest.mark.slow
def test_a_read_only_run_folder_is_one_line(
    tmp_path: Path, mlp: Path, finished_run: Path, mount: Callable[[Path, str], Tmpfs]
) -> None:
    empty = mount(tmp_path / "ro", "1m")
    empty.read_only()
    result = run_cli("profile", str(mlp), "--run-dir", str(empty.path), *SEARCH_OFF)
    assert result.returncode != 0
    line = error_line(result)
    assert line == f"error: {empty.path}/tritune.lock is on a read-only file system: give this run another --run-dir"
    assert wait_until_gone(str(empty.path)) == []

    run = mount(tmp_path / "ro-run", "1m")
    _copy_run(finished_run, run.path)
    run.read_only()
    before = digest(run.path / "tritune.db")
    result = run_cli("report", str(run.path), "--no-pdf")
    assert result.returncode != 0
    line = error_line(result)
    assert line == (
        f"error: the store {run.path}/tritune.db is intact but cannot be opened for writing (unable to open "
        f"database file: {run.path} is on a read-only file system; copy the run folder somewhere writable)"
    )
    assert digest(run.path / "tritune.db") == before

    out = mount(tmp_path / "ro-out", "1m")
    out.read_only()
    before_count = measurement_count(finished_run / "tritune.db", tmp_path / "before")
    result = run_cli("report", str(finished_run), "--no-pdf", "--output-dir", str(out.path))
    assert result.returncode != 0
    line = error_line(result)
    assert line.startswith(f"error: {out.path}/") and " is on a read-only file system: " in line, line
    assert line.endswith("give --output-dir a writable folder"), line
    assert measurement_count(finished_run / "tritune.db", tmp_path / "after") == before_count


# a tmpfs fault: the full tier (the fast tier's storage faults need no mount)
@pytest.mark.slow
def test_a_full_disk_is_one_line_and_keeps_every_measurement(
    tmp_path: Path, mlp: Path, mount: Callable[[Path, str], Tmpfs]
) -> None:
    """The run's store and model repository fit in 4 MiB, its HTML reports do not: the disk
    fills while the reports are written, after every measurement is stored."""
    disk = mount(tmp_path / "small", "4m")
    run_dir = disk.path / "run"
    result = run_cli(
        *["profile", str(mlp), "--run-dir", str(run_dir), *SHORT_MEASUREMENT, "--run-config-search-disable"],
        *["--run-config-search-max-concurrency", "2"],  # the reports are what fill the disk
    )
    assert result.returncode != 0
    line = error_line(result)
    # a write() that fails names no file: the line names the run folder
    assert (
        line
        == f"error: no space left on the device writing {run_dir}: free some space or give this run another --run-dir"
    )
    assert measurement_count(run_dir / "tritune.db", tmp_path / "copy") >= 1
    assert (run_dir / "best" / "config.pbtxt").is_file()
    assert wait_until_gone(str(run_dir)) == []


# a tmpfs fault: the full tier (the fast tier's storage faults need no mount)
@pytest.mark.slow
def test_a_valid_store_on_a_full_disk_is_called_intact_and_never_to_be_removed(
    tmp_path: Path, mlp: Path, finished_run: Path, mount: Callable[[Path, str], Tmpfs]
) -> None:
    """SQLite needs room for its write-ahead log to open a store, and said "disk I/O error":
    the store reads back whole, so the line says so and names the full disk."""
    disk = mount(tmp_path / "full", "2m")
    run_dir = _copy_run(finished_run, disk.path / "run")
    before = digest(run_dir / "tritune.db")
    disk.fill()
    result = run_cli("report", str(run_dir), "--no-pdf")
    assert result.returncode != 0
    line = error_line(result)
    assert line.startswith(f"error: the store {run_dir}/tritune.db is intact but cannot be opened"), line
    assert f"the disk holding {run_dir} is full; free some space" in line, line
    # profile takes the run's lock first, whose write already finds the disk full
    result = run_cli("profile", str(mlp), "--run-dir", str(run_dir), *SEARCH_OFF)
    assert result.returncode != 0
    assert error_line(result) == (
        f"error: no space left on the device writing {run_dir}: free some space or give this run another --run-dir"
    )
    assert digest(run_dir / "tritune.db") == before
    assert wait_until_gone(str(run_dir)) == []


def test_prepare_into_a_read_only_folder_is_refused_before_the_work(
    tmp_path: Path, mlp: Path, mount: Callable[[Path, str], Tmpfs]
) -> None:
    """It was a traceback (OSError: Read-only file system) after the conversion's work."""
    disk = mount(tmp_path / "ro", "1m")
    disk.read_only()
    result = run_cli("prepare", str(mlp), "-o", str(disk.path / "repo"))
    assert result.returncode == 2
    assert error_line(result) == (
        f"error: -o {disk.path}/repo: the folder {disk.path} is not writable: give a path in a writable folder"
    )
    assert "converting" not in result.stderr and "searching" not in result.stderr


def test_export_to_a_file_is_refused_before_the_profile(tmp_path: Path, mlp: Path) -> None:
    a_file = tmp_path / "export.txt"
    a_file.write_text("mine")
    run_dir = tmp_path / "run"
    result = run_cli("profile", str(mlp), "--run-dir", str(run_dir), "--export", str(a_file), *SEARCH_OFF)
    assert result.returncode == 2
    line = error_line(result)
    assert str(a_file) in line and "folder" in line, line
    assert a_file.read_text() == "mine"
    assert not (run_dir / "tritune.db").exists()  # refused before anything was measured


# a tmpfs fault: the full tier (the fast tier's storage faults need no mount)
@pytest.mark.slow
def test_perf_filename_that_cannot_be_written(tmp_path: Path, mlp: Path, mount: Callable[[Path, str], Tmpfs]) -> None:
    """A read-only or absent folder is refused before anything is measured; a disk that fills
    (/dev/full says ENOSPC to every write) fails after the results are on the terminal."""
    ro = mount(tmp_path / "ro", "1m")
    ro.read_only()
    short = ["--measurement-interval", "150", "--max-trials", "3", "--stability-percentage", "50"]
    absent = tmp_path / "nowhere"
    refusals = {
        ro.path / "perf.csv": f"the folder {ro.path} is not writable: give a path in a writable folder",
        absent / "perf.csv": f"the folder {absent} does not exist: create it or give another path",
    }
    for target, why in refusals.items():
        result = run_cli("perf", str(mlp), "-f", str(target), *short)
        assert result.returncode == 2
        assert error_line(result) == f"error: -f {target}: {why}"
        assert "Request concurrency" not in result.stderr  # nothing measured
        assert not target.exists()
    result = run_cli("perf", str(mlp), "-f", "/dev/full", *short)
    assert result.returncode == 1
    assert (
        error_line(result)
        == "error: no space left on the device writing /dev/full: free some space or give -f a path on another disk"
    )
    assert "Concurrency: 1, throughput:" in result.stdout, result.stdout  # the results, printed before


def test_a_damaged_store_page_is_one_line_and_kept(tmp_path: Path, mlp: Path, finished_run: Path) -> None:
    run_dir = _copy_run(finished_run, tmp_path / "run")
    store = run_dir / "tritune.db"
    data = bytearray(store.read_bytes())
    page = 4096
    assert len(data) >= 4 * page
    middle = len(data) // page // 2 * page
    data[middle + 16 : middle + page - 16] = b"\xa5" * (page - 32)  # the cells of a page in the middle
    store.write_bytes(bytes(data))
    before = digest(store)
    for command in (
        ["report", str(run_dir), "--no-pdf"],
        ["profile", str(mlp), "--run-dir", str(run_dir), *SEARCH_OFF],
    ):
        result = run_cli(*command)
        assert result.returncode != 0
        line = error_line(result)
        assert line.startswith(f"error: the store {store} is damaged (database disk image is malformed"), line
        assert line.endswith("restore it from a copy, or give this run another --run-dir (the file is kept as it is)")
        assert digest(store) == before
    assert wait_until_gone(str(run_dir)) == []


# a tmpfs fault: the full tier (the fast tier's storage faults need no mount)
@pytest.mark.slow
def test_the_store_filling_the_disk_keeps_what_it_committed(
    tmp_path: Path, mount: Callable[[Path, str], Tmpfs]
) -> None:
    """Through the store API (what `profile` stores each measurement with): the disk fills
    under the store; the write that finds no room is one line, every measurement before it stays."""
    from tritune.domain.measurement import LoadMode, LoadPoint, Measurement, MeasurementStatus
    from tritune.domain.serving import ServingConfig
    from tritune.errors import StorageError
    from tritune.store import Store

    disk = mount(tmp_path / "small", "1m")
    store = Store.in_run_dir(disk.path / "run")
    run, _ = store.open_run("m", "fp", {}, {})
    variant = store.variant_for(run.id, {"max_batch_size": 8}, ServingConfig(max_batch_size=8), name="m_config_0")
    metrics = {f"metric_{i}": float(i) for i in range(50)}

    def measurement(concurrency: int) -> Measurement:
        load = LoadPoint(LoadMode.CONCURRENCY, concurrency, 1)
        return Measurement(load=load, status=MeasurementStatus.OK, metrics=metrics)

    for stored in range(1, 6):
        store.add_measurement(variant.id, measurement(stored))
    disk.fill()
    with pytest.raises(StorageError) as refused:
        for concurrency in range(6, 100_000):
            store.add_measurement(variant.id, measurement(concurrency))
            stored = concurrency
    store.close()
    assert str(refused.value) == (
        f"no space left on the device writing {store.path}: free some space or give this run another --run-dir"
    )
    (disk.path / "filler").unlink()
    with Store.in_run_dir(disk.path / "run") as reopened:
        assert reopened.measurement_count(run.id) == stored >= 5
