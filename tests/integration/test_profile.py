"""`tritune profile` end to end on the embedded Triton: search, store, resume, export."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cli_runner import CliResult, run_in_process
from profile_flags import SHORT_MEASUREMENT
from tritune.testing.models import mlp_model
from tritune.testing.processes import interruptible_popen, wait_until_gone
from tritune.triton.control import ModelControl
from tritune.triton.infer import InferClient
from tritune.triton.server import EmbeddedTriton

pytestmark = pytest.mark.triton

FAST = [
    *SHORT_MEASUREMENT,
    "--run-config-search-max-instance-count",
    "2",
    "--run-config-search-max-model-batch-size",
    "4",
    "--run-config-search-max-concurrency",
    "4",
]


def profile_args(model: Path, run_dir: Path, *extra: str) -> list[str]:
    return ["profile", str(model), "--run-dir", str(run_dir), *FAST, *extra]


def profile_command(model: Path, run_dir: Path, *extra: str) -> list[str]:
    """The same as a process of its own, for the tests that signal or outlive it."""
    return [sys.executable, "-m", "tritune", *profile_args(model, run_dir, *extra)]


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mlp_model(tmp_path_factory.mktemp("profile-model") / "mlp.onnx", width=32, depth=2)


def _stored(run_dir: Path) -> list[tuple[int, str, float, str, float]]:
    with sqlite3.connect(run_dir / "tritune.db") as db:
        return db.execute(
            "SELECT m.id, v.name, m.load_value, m.status, m.created_at FROM measurements m"
            " JOIN variants v ON v.id = m.variant_id ORDER BY m.id"
        ).fetchall()


def test_profile_finds_a_config_and_the_export_serves(tmp_path: Path, small_model: Path) -> None:
    run_dir, export = tmp_path / "run", tmp_path / "exported-repo"
    source = tmp_path / "mlp.onnx"  # the user's file, re-saved below
    shutil.copy(small_model, source)
    # The default search and its confirm step, on a space small enough for the fast tier.
    bounds = ["--run-config-search-max-model-batch-size", "2", "--num-configs-per-model", "2"]
    result = run_in_process(*profile_args(source, run_dir, "--export", str(export), "--json", "--no-report", *bounds))
    assert result.returncode == 0, result.stderr[-3000:]
    (summary,) = json.loads(result.stdout)
    assert summary["best"] and summary["best"].startswith("mlp_config_")
    assert summary["sentence"].startswith(f"In {summary['measurements']} measurements across ")
    assert summary["configurations"] >= 3 and summary["measured_now"] == summary["measurements"]
    variants = {p.name for p in (run_dir / "output_model_repository").iterdir()}
    assert "mlp_config_default" in variants and summary["best"] in variants
    assert (run_dir / "best" / "config.pbtxt").read_text() == (export / "mlp" / "config.pbtxt").read_text()
    assert 'name: "mlp"' in (export / "mlp" / "config.pbtxt").read_text()
    # What the user takes away has its own bytes: re-saving the source in place (same inode, as
    # an exporter writing to the same path does) leaves the export and best/ as they were.
    taken = [export / "mlp" / "1" / "model.onnx", *(run_dir / "best").rglob("model.onnx")]
    assert len(taken) == 2 and all(path.stat().st_ino != source.stat().st_ino for path in taken)
    with open(source, "r+b") as file:
        file.truncate(0)
        file.write(mlp_model(tmp_path / "other.onnx", width=8, depth=1).read_bytes())
    assert all(path.read_bytes() == small_model.read_bytes() for path in taken)
    # The exported entry is a deployable model: a fresh server loads and serves it.
    with EmbeddedTriton(export) as server, ModelControl(server) as control:
        control.load("mlp")
        with InferClient(server.endpoints, "grpc") as client:
            y = client.infer("mlp", {"x": np.ones((1, 32), np.float32)})["y"]
        assert y.shape == (1, 32) and np.isfinite(y).all()
    assert wait_until_gone(str(export)) == []
    assert wait_until_gone(str(run_dir)) == []


def _stored_count(run_dir: Path) -> int:
    """Measurements stored so far by a profile still starting up: its store file appears a
    moment before its tables do."""
    if not (run_dir / "tritune.db").exists():
        return 0
    try:
        return len(_stored(run_dir))
    except sqlite3.OperationalError:  # no such table (yet)
        return 0


@pytest.mark.parametrize(
    "sig",
    [
        signal.SIGINT,  # the fast tier's interrupt; the other two go the same way out
        pytest.param(signal.SIGTERM, marks=pytest.mark.slow),
        pytest.param(signal.SIGKILL, marks=pytest.mark.slow),
    ],
)
def test_interrupted_profile_resumes_without_remeasuring(tmp_path: Path, small_model: Path, sig: int) -> None:
    run_dir = tmp_path / "run"
    # Four configurations and the default, each at concurrency 1 and 2: enough measurements to
    # stop one midway, few enough that the rerun's rest is quick (resuming is what is tested).
    config = tmp_path / "profile.yaml"
    config.write_text(
        "profile_models:\n  mlp:\n    model_config_parameters:\n"
        "      instance_group: [{count: [1, 2]}]\n      max_batch_size: [2, 4]\n"
        "run_config_search_disable: true\n"
    )
    command = profile_command(
        *(small_model, run_dir, "-f", str(config), "--json", "--no-report", "--confirm-rounds", "0"),
        *("--run-config-search-max-concurrency", "2"),
    )
    process = interruptible_popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            if _stored_count(run_dir) >= 3:
                break
            time.sleep(0.2)
        assert process.poll() is None, "the profile ended before it could be interrupted"
        process.send_signal(sig)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    if sig != signal.SIGKILL:  # Ctrl-C and SIGTERM (timeout, CI, docker stop) end it cleanly
        assert process.returncode == {signal.SIGINT: 130, signal.SIGTERM: 143}[sig], stderr[-2000:]
        assert "measurements are stored in" in stderr and "run the same command again to resume" in stderr
        assert "Traceback" not in stderr
    assert wait_until_gone(str(run_dir)) == []
    before = _stored(run_dir)
    assert len(before) >= 3

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    (summary,) = json.loads(rerun.stdout)
    assert summary["resumed"] is True
    after = _stored(run_dir)
    # Everything stored before the interruption is still there, untouched (same ids, same times)...
    assert after[: len(before)] == before
    # ...and the rerun measured only what was missing.
    assert summary["measured_now"] == len(after) - len(before)
    assert summary["replayed"] >= len(before)
    assert "resuming run 1" in rerun.stderr


def test_a_variant_that_fails_to_load_is_stored_and_the_search_goes_on(tmp_path: Path, small_model: Path) -> None:
    config = tmp_path / "profile.yaml"
    config.write_text(
        f"""
profile_models:
  mlp:
    model_path: {small_model}
    model_config_parameters:
      max_batch_size: [4]
      instance_group: [{{count: [1]}}]
      execution_providers: ["CPUExecutionProvider", "NoSuchExecutionProvider"]
      intra_op_threads: [0]                                   # the grid as small as it was
      dynamic_batching: {{max_queue_delay_microseconds: [0]}}
    parameters:
      concurrency: [2]
run_config_search_mode: brute
"""
    )
    result = run_in_process(
        "profile",
        "-f",
        str(config),
        "--run-dir",
        str(tmp_path / "run"),
        "--measurement-interval",
        "150",
        "--max-windows",  # the old name of --max-trials, still taken
        "4",
        "--stability-percentage",
        "50",
        "--json",
        "--no-report",
        "--confirm-rounds",
        "0",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (summary,) = json.loads(result.stdout)
    with sqlite3.connect(tmp_path / "run" / "tritune.db") as db:
        rows = db.execute("SELECT name, status, error FROM variants ORDER BY id").fetchall()
    failed = [r for r in rows if r[1] == "failed"]
    assert failed and all("NoSuchExecutionProvider" in error for _, _, error in failed)
    assert len(failed) < len(rows), "the variants with a real provider were measured"
    assert summary["best"] is not None and summary["best"] not in {name for name, _, _ in failed}
    assert "failed" in result.stderr


def test_bad_config_file_is_one_clear_line(tmp_path: Path, small_model: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(f"profile_models: {{mlp: {{model_path: {small_model}}}}}\nrun_config_serch_mode: brute\n")
    result = run_in_process("profile", "-f", str(config))
    assert result.returncode == 2
    assert "did you mean 'run_config_search_mode'" in result.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("profile_models: [unclosed\n")
    result = run_in_process("profile", "-f", str(broken))
    assert result.returncode == 2 and "error:" in result.stderr and "Traceback" not in result.stderr


def test_a_fixed_batch_model_is_prepared_then_profiled(tmp_path: Path) -> None:
    from tritune.testing.models import cnn_model
    from tritune.triton.model_config import read_signature

    fixed = cnn_model(tmp_path / "cnn_fixed.onnx", channels=4, size=8, batch=1)
    assert not read_signature(fixed).batch_is_dynamic

    def profile(run_dir: Path) -> CliResult:
        return run_in_process(
            *profile_args(fixed, run_dir, "--json", "--no-report", "--confirm-rounds", "0"),
            "--run-config-search-disable",  # the default alone: what is tested is the prepare step before it
            "--run-config-search-max-concurrency",
            "2",
        )

    result = profile(tmp_path / "run")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "preparing" in result.stderr
    prepared = tmp_path / "run" / "prepared" / "cnn_fixed"
    assert read_signature(prepared / "variants" / "fp32" / "model.onnx").batch_is_dynamic
    (summary,) = json.loads(result.stdout)
    assert summary["best"] is not None
    assert "max_batch_size: 0" not in (tmp_path / "run" / "best" / "config.pbtxt").read_text()

    # Another run of the same file with the same options takes the prepared copy: no second prepare.
    again = profile(tmp_path / "again")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "preparing" not in again.stderr and "its prepared copy is reused" in again.stderr
    reused = tmp_path / "again" / "prepared" / "cnn_fixed"
    assert {p.relative_to(reused): p.read_bytes() for p in reused.rglob("*") if p.is_file()} == {
        p.relative_to(prepared): p.read_bytes() for p in prepared.rglob("*") if p.is_file()
    }
    assert (reused / "config.pbtxt").stat().st_ino != (prepared / "config.pbtxt").stat().st_ino


def test_a_shape_that_does_not_fit_stops_before_the_search(tmp_path: Path, small_model: Path) -> None:
    result = run_in_process(*profile_args(small_model, tmp_path / "run"), "--shape", "nope:3")
    assert result.returncode == 2
    assert "unknown input(s) nope" in result.stderr


def test_model_beside_a_config_file_keeps_the_file_s_model_settings(tmp_path: Path, small_model: Path) -> None:
    """`tritune profile MODEL -f profile.yaml` (the README's form) searches what the file's
    entry for MODEL asks for, not the automatic space."""
    config = tmp_path / "profile.yaml"
    config.write_text(
        """
profile_models:
  mlp:
    model_config_parameters:
      max_batch_size: [4]
      instance_group: [{count: [2], kind: [KIND_CPU]}]
      intra_op_threads: [1]
      dynamic_batching: {max_queue_delay_microseconds: [0]}
    parameters:
      concurrency: [2]
run_config_search_mode: brute
"""
    )
    run_dir = tmp_path / "run"
    result = run_in_process(
        *profile_args(small_model, run_dir, "-f", str(config), "--json", "--no-report", "--confirm-rounds", "0")
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with sqlite3.connect(run_dir / "tritune.db") as db:
        rows = db.execute("SELECT serving_json, is_default FROM variants").fetchall()
        loads = db.execute(
            "SELECT DISTINCT m.load_value FROM measurements m JOIN variants v ON v.id = m.variant_id"
            " WHERE v.is_default = 0"
        ).fetchall()
    searched = [json.loads(serving) for serving, is_default in rows if not is_default]
    assert len(searched) == 1, searched
    assert searched[0]["instance_count"] == 2 and searched[0]["max_batch_size"] == 4
    assert loads == [(2.0,)]


def test_a_second_profile_on_a_busy_run_folder_is_refused(tmp_path: Path, small_model: Path) -> None:
    """Two runs on one --run-dir would interleave their measurements: the second is refused
    with one line naming the first, and nothing of the first's store is touched."""
    from tritune.store.lock import run_lock

    run_dir = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from tritune.store.lock import run_lock\n"
         "with run_lock(Path(sys.argv[1])):\n    print('held', flush=True)\n    time.sleep(300)", str(run_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = run_in_process(*profile_args(small_model, run_dir, "--no-report"))
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 1, result.stderr[-2000:]
    assert f"error: run folder {run_dir} is in use by another tritune (pid {holder.pid})" in result.stderr
    assert not (run_dir / "tritune.db").exists()
    with run_lock(run_dir):  # the holder's end freed it
        pass
