"""Faults of the processes tritune talks to: a URL where something else than Triton answers, a
server that stops answering, a stub that dies mid-measurement. One line naming the problem and
the fix, a non-zero exit, nothing stored lost, nothing left running, no traceback."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import psutil
import pytest

from profile_flags import SHORT_MEASUREMENT
from tritune.domain.serving import ServingConfig
from tritune.testing.models import mlp_model
from tritune.testing.processes import interruptible_popen, triton_processes, wait_until_gone
from tritune.triton.control import ModelControl
from tritune.triton.repository import deploy_onnx
from tritune.triton.server import EmbeddedTriton

pytestmark = pytest.mark.triton

TRITUNE = [sys.executable, "-m", "tritune"]


def _error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def not_triton() -> Iterator[str]:
    """A plain web server on a free port: it answers every path with 404."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_a_url_where_something_else_answers_is_not_called_unreachable(not_triton: str, tmp_path: Path) -> None:
    perf = subprocess.run(
        [*TRITUNE, "perf", "-u", not_triton, "mlp", "-p", "200"], capture_output=True, text=True, timeout=120
    )
    assert perf.returncode == 1
    line = _error_line(perf)
    assert f"the server at {not_triton} answered but is not a Triton server" in line, line
    assert "404 for /v2/health/live" in line and "Triton's HTTP endpoint" in line, line
    assert "cannot reach" not in line

    model = mlp_model(tmp_path / "mlp.onnx", width=8, depth=1)
    remote = [
        "--triton-launch-mode",
        "remote",
        "--triton-http-endpoint",
        not_triton,
        "--run-config-search-disable",
        "--no-report",
    ]
    profile = subprocess.run(
        [*TRITUNE, "profile", str(model), "--run-dir", str(tmp_path / "run"), *remote],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert profile.returncode == 1
    line = _error_line(profile)
    assert f"the server at {not_triton} answered but is not a Triton server" in line, line


@pytest.fixture
def mlp_server(tmp_path: Path) -> Iterator[EmbeddedTriton]:
    """A server of our own with ``mlp`` loaded, standing in for a user's server."""
    repo = tmp_path / "served"
    repo.mkdir()
    deploy_onnx(repo, "mlp", mlp_model(tmp_path / "mlp.onnx", width=8, depth=1), ServingConfig(max_batch_size=8))
    server = EmbeddedTriton(repo, load_models=["mlp"])
    with server:
        try:
            yield server
        finally:
            pid = server.server_pid()
            if pid is not None and psutil.pid_exists(pid):
                os.kill(pid, signal.SIGCONT)  # a stopped server is ended as any other
    assert wait_until_gone(str(repo)) == []


def _served(server: EmbeddedTriton, model: str) -> int:
    with ModelControl(server) as control:
        return int(control.statistics(model)["model_stats"][0].get("inference_count", 0))


@pytest.mark.parametrize("when", [pytest.param("checking", marks=pytest.mark.slow), "measuring"])
def test_a_server_that_stops_answering_mid_measurement_is_named(mlp_server: EmbeddedTriton, when: str) -> None:
    """Stopped as perf starts (its check request gets no reply) or once it has measured a while
    (in-flight requests and the statistics get none): either way the server is named."""
    address = mlp_server.endpoints.http
    # Never stable (0.01 %), many trials: it measures until the server stops answering.
    command = [*TRITUNE, "perf", "-u", address, "mlp", "-p", "200", "-s", "0.01", "-r", "100000", "--no-warmup"]
    served_at_start = _served(mlp_server, "mlp")  # Triton's own warm-up of the model counts too
    process = interruptible_popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pid = mlp_server.server_pid()
    assert pid is not None
    try:
        assert process.stderr is not None
        seen = []
        for line in process.stderr:
            seen.append(line)
            if "Request concurrency: 1" in line:
                break
        while when == "measuring" and _served(mlp_server, "mlp") < served_at_start + 20 and process.poll() is None:
            time.sleep(0.1)  # polls an observable state: requests the server answered
        os.kill(pid, signal.SIGSTOP)
        _, rest = process.communicate(timeout=400)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.kill(pid, signal.SIGCONT)
    stderr = "".join(seen) + rest
    assert process.returncode == 1, stderr[-3000:]
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr[-3000:]
    assert f"the server at {address} stopped answering" in errors[0], errors[0]


CRASHY_PY = """
import os
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        self.served = 0

    def execute(self, requests):
        self.served += len(requests)
        if self.served > 40:
            os._exit(1)  # the stub dies mid-measurement
        return [
            pb_utils.InferenceResponse([pb_utils.Tensor("y", pb_utils.get_input_tensor_by_name(r, "x").as_numpy())])
            for r in requests
        ]
"""


@pytest.fixture
def crashy_server(tmp_path: Path) -> Iterator[EmbeddedTriton]:
    """A user's server with ``crashy``, a Python model whose stub exits after 40 requests."""
    root = tmp_path / "user-models"
    (root / "crashy" / "1").mkdir(parents=True)
    (root / "crashy" / "1" / "model.py").write_text(CRASHY_PY)
    (root / "crashy" / "config.pbtxt").write_text(
        'name: "crashy"\nbackend: "python"\nmax_batch_size: 8\n'
        'input [ { name: "x", data_type: TYPE_FP32, dims: [ 4 ] } ]\n'
        'output [ { name: "y", data_type: TYPE_FP32, dims: [ 4 ] } ]\n'
    )
    with EmbeddedTriton(root, load_models=["crashy"]) as server:
        yield server
    assert wait_until_gone(str(root)) == []


@pytest.mark.slow  # a kill or stop fault: the full tier
def test_a_stub_that_dies_mid_measurement_is_named(crashy_server: EmbeddedTriton) -> None:
    """Triton fails each later request after a second (the windows may close before); it was
    `no valid requests recorded within window 2: a request takes longer than the window`."""
    address = crashy_server.endpoints.http
    result = subprocess.run(
        [*TRITUNE, "perf", "-u", address, "crashy", "-p", "300", "-s", "0.01", "-r", "1000", "--no-warmup"],
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert result.returncode == 1
    line = _error_line(result)
    assert "model 'crashy': its stub died (Stub process 'crashy_0' is not healthy)" in line, line
    assert "reload the model" in line


@pytest.mark.parametrize(
    ("stage", "sig"),
    [
        pytest.param("searching the max batch size", signal.SIGINT, marks=pytest.mark.slow),
        pytest.param("loading the config in Triton", signal.SIGINT, marks=pytest.mark.slow),
        pytest.param("loading the config in Triton", signal.SIGKILL, marks=pytest.mark.slow),
    ],
)
def test_prepare_stopped_leaves_no_model_that_looks_prepared_and_reruns(
    tmp_path: Path, stage: str, sig: signal.Signals
) -> None:
    model = mlp_model(tmp_path / "mlp.onnx", width=8, depth=1)
    marker = tmp_path / "marker"
    marker.mkdir()
    env = dict(os.environ, TMPDIR=str(marker))
    out = tmp_path / "repo"
    command = [*TRITUNE, "prepare", str(model), "-o", str(out)]
    process = interruptible_popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stderr is not None
        seen = []
        for line in process.stderr:
            seen.append(line)
            if stage in line:
                break
        assert seen and stage in seen[-1], "".join(seen)
        process.send_signal(sig)
        _, rest = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = "".join(seen) + rest
    assert wait_until_gone(str(marker), timeout_s=30) == []  # no server, no stub
    assert "Traceback" not in stderr, stderr
    if sig == signal.SIGINT:
        assert process.returncode == 130, stderr
        assert not (out / "mlp").exists()  # nothing half-written left behind
    else:
        assert process.returncode == -signal.SIGKILL
        assert not (out / "mlp" / "prepare_report.json").exists()  # not presented as prepared
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert (out / "mlp" / "prepare_report.json").exists() and (out / "mlp" / "config.pbtxt").exists()


def _stored(run_dir: Path) -> list[tuple[float, str]]:
    """The load points stored so far (read while the run writes: a store not made yet is empty)."""
    try:
        with closing(sqlite3.connect(run_dir / "tritune.db", timeout=30)) as db:
            return db.execute("SELECT load_value, status FROM measurements ORDER BY id").fetchall()
    except sqlite3.OperationalError:  # the file or its tables not created yet
        return []


@pytest.mark.slow  # a kill or stop fault: the full tier
def test_a_remote_server_that_disappears_and_comes_back_resumes(tmp_path: Path) -> None:
    model = mlp_model(tmp_path / "mlp.onnx", width=8, depth=1)
    server_repo, run_dir = tmp_path / "server-repo", tmp_path / "run"
    server_repo.mkdir()
    first = EmbeddedTriton(server_repo)
    with first:
        address = first.endpoints.http
        ports = {
            "http_port": int(first.endpoints.http.rpartition(":")[2]),
            "grpc_port": int(first.endpoints.grpc.rpartition(":")[2]),
            "metrics_port": int((first.endpoints.metrics or "").rpartition(":")[2].split("/")[0]),
        }
        command = [
            *TRITUNE, "profile", str(model), "--run-dir", str(run_dir),
            *SHORT_MEASUREMENT, "--run-config-search-disable", "--run-config-search-max-concurrency", "64",
            "--json", "--no-report", "--triton-launch-mode", "remote",
            "--triton-http-endpoint", first.endpoints.http, "--triton-grpc-endpoint", first.endpoints.grpc,
            "--triton-metrics-url", first.endpoints.metrics or "",
        ]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            while len(_stored(run_dir)) < 2 and process.poll() is None:
                time.sleep(0.1)  # polls an observable state: measurements stored
            pid = first.server_pid()
            assert pid is not None
            os.kill(pid, signal.SIGKILL)  # the server disappears mid-run
            _, stderr = process.communicate(timeout=300)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 1, stderr[-3000:]
    assert "Traceback" not in stderr
    assert f"lost the Triton server at {address}" in stderr, stderr[-3000:]
    before = _stored(run_dir)
    assert len(before) >= 2
    assert all(status != "failed" for _, status in before), before  # nothing measured against the dead server
    assert wait_until_gone(str(server_repo)) == []
    with EmbeddedTriton(server_repo, **ports) as again:  # back on the same ports
        rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert "successfully loaded" in again.log_tail(400)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    (summary,) = json.loads(rerun.stdout)
    assert summary["resumed"] is True
    after = _stored(run_dir)
    assert after[: len(before)] == before  # replayed, not measured again
    assert summary["measured_now"] == len(after) - len(before) >= 1
    assert wait_until_gone(str(server_repo)) == []


@pytest.mark.slow  # the fast tier's interrupts are profile's and perf's
@pytest.mark.skipif(shutil.which("chromium") is None and shutil.which("chromium-browser") is None, reason="no Chromium")
def test_ctrl_c_while_report_prints_pdfs_leaves_no_chromium_and_no_partial_pdf(tmp_path: Path) -> None:
    model = mlp_model(tmp_path / "mlp.onnx", width=8, depth=1)
    run_dir = tmp_path / "run"
    profile = subprocess.run(
        [*TRITUNE, "profile", str(model), "--run-dir", str(run_dir), *SHORT_MEASUREMENT,
         "--run-config-search-disable", "--run-config-search-max-concurrency", "2", "--no-report"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert profile.returncode == 0, profile.stderr[-3000:]
    process = interruptible_popen([*TRITUNE, "report", str(run_dir), "--pdf"], stderr=subprocess.PIPE, text=True)
    chromium: list[psutil.Process] = []
    try:
        while not chromium and process.poll() is None:
            try:  # polls an observable state: Chromium started to print a report
                chromium = [p for p in psutil.Process(process.pid).children(recursive=True) if "chrom" in p.name()]
            except psutil.Error:
                break
            time.sleep(0.05)
        assert chromium, "Chromium never started"
        family = psutil.Process(process.pid).children(recursive=True)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    _, alive = psutil.wait_procs(family, timeout=30)
    assert alive == []  # no Chromium (nor its helpers) left
    for pdf in run_dir.rglob("*.pdf*"):  # a PDF there is a whole one
        assert pdf.suffix == ".pdf" and pdf.read_bytes().rstrip().endswith(b"%%EOF"), pdf
    rerun = subprocess.run([*TRITUNE, "report", str(run_dir), "--pdf"], capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]


@pytest.mark.slow  # a kill or stop fault: the full tier
def test_the_runner_stub_killed_mid_profile_is_named_and_stored(tmp_path: Path) -> None:
    model = mlp_model(tmp_path / "mlp.onnx", width=8, depth=1)
    run_dir = tmp_path / "run"
    marker = tmp_path / "marker"
    marker.mkdir()
    command = [
        *TRITUNE, "profile", str(model), "--run-dir", str(run_dir), *SHORT_MEASUREMENT,
        "--run-config-search-disable", "--run-config-search-max-concurrency", "64", "--json", "--no-report",
    ]  # fmt: skip
    env = dict(os.environ, TMPDIR=str(marker))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        while not _stored(run_dir) and process.poll() is None:
            time.sleep(0.1)  # polls an observable state: the first measurement stored (more follow)
        stubs = [p for p in triton_processes(str(run_dir)) if p.name().startswith("triton_python_b")]
        assert stubs, "no stub found"
        for stub in stubs:
            stub.kill()  # the runner's stub dies mid-measurement
        stdout, stderr = process.communicate(timeout=400)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "Traceback" not in stderr, stderr
    assert process.returncode == 0, stderr[-3000:]  # the search goes on with what it measured
    died = "model 'mlp_config_default': its stub died (Stub process 'mlp_config_default_0_0' is not healthy)"
    assert f"failed: {died}" in stderr, stderr[-3000:]
    with closing(sqlite3.connect(run_dir / "tritune.db")) as db:
        rows = db.execute("SELECT status, error FROM measurements ORDER BY id").fetchall()
    failed = [error for status, error in rows if status == "failed"]
    assert failed and all(died in error for error in failed), rows  # stored with the reason
    assert rows[0][0] != "failed"  # what was measured before is kept
    assert wait_until_gone(str(run_dir), timeout_s=30) == []
    assert wait_until_gone(str(marker), timeout_s=30) == []
