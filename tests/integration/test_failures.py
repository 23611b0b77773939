"""Bad input and dying processes: a clear one-line error, a non-zero exit, nothing left behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from cli_runner import error_line
from cli_runner import run_in_process as run_cli
from tritune.errors import InferenceError, ModelLoadError, ServerError
from tritune.testing.processes import interruptible_popen, triton_processes, wait_until_gone
from tritune.triton.control import ModelControl
from tritune.triton.infer import InferClient
from tritune.triton.model_config import from_pbtxt, to_pbtxt
from tritune.triton.repository import deploy_onnx, write_config
from tritune.triton.server import EmbeddedTriton

pytestmark = pytest.mark.triton

TRITUNE = [sys.executable, "-m", "tritune"]
# The fast tier keeps one signal of each kind of test (Ctrl-C); the rest go the same way out.
SLOW = pytest.mark.slow


def test_missing_model_file(tmp_path: Path) -> None:
    result = run_cli("infer", str(tmp_path / "absent.onnx"))
    assert result.returncode != 0
    assert "absent.onnx does not exist" in error_line(result)
    assert "Traceback" not in result.stderr


def test_corrupt_onnx_file(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(os.urandom(4096))
    result = run_cli("infer", str(corrupt))
    assert result.returncode != 0
    assert "corrupt.onnx" in error_line(result)
    assert "ONNX" in error_line(result)


def test_unknown_shape_input_name_is_a_usage_error(dtype_zoo_onnx: Path) -> None:
    result = run_cli("infer", str(dtype_zoo_onnx), "--shape", "nope:3")
    assert result.returncode == 2
    assert "unknown input(s) nope" in error_line(result)


def test_missing_server_binary(tmp_path: Path, dtype_zoo_onnx: Path) -> None:
    result = run_cli("infer", str(dtype_zoo_onnx), "--tritonserver", str(tmp_path / "no-tritonserver"))
    assert result.returncode != 0
    assert "tritonserver binary not found" in error_line(result)
    with pytest.raises(ServerError, match="not found"):
        EmbeddedTriton(tmp_path, tritonserver=tmp_path / "no-tritonserver").start()


def test_port_already_taken(tmp_path: Path) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        with (
            pytest.raises(ServerError, match=f"port {port} \\(http\\) is already in use"),
            EmbeddedTriton(tmp_path, http_port=port),
        ):
            pass
    finally:
        holder.close()
    assert wait_until_gone(str(tmp_path)) == []


def test_config_input_name_that_the_model_lacks(tmp_path: Path, dtype_zoo_onnx: Path) -> None:
    deployed = deploy_onnx(tmp_path, "zoo", dtype_zoo_onnx)
    config = from_pbtxt(to_pbtxt(deployed.config))
    config.input[0].name = "not_x"
    write_config(deployed.directory, config)
    with EmbeddedTriton(tmp_path) as server, ModelControl(server) as control:
        with pytest.raises(ModelLoadError) as caught:
            control.load("zoo")
        assert "not_x" in caught.value.message and "fix the names in config.pbtxt" in caught.value.message
        assert server.is_alive()
    assert wait_until_gone(str(tmp_path)) == []


def test_wrong_input_name_at_request_time(
    triton_server: EmbeddedTriton, control: ModelControl, dtype_zoo_onnx: Path
) -> None:
    import numpy as np

    deploy_onnx(triton_server.model_repository, "zoo_names", dtype_zoo_onnx)
    control.load("zoo_names")
    with InferClient(triton_server.endpoints, "grpc") as client, pytest.raises(InferenceError, match="zoo_names"):
        client.infer("zoo_names", {"wrong": np.zeros((1, 4), np.float32)})


def test_unloaded_model_and_corrupt_model_in_repository(tmp_path: Path) -> None:
    model_dir = tmp_path / "broken" / "1"
    model_dir.mkdir(parents=True)
    (model_dir / "model.onnx").write_bytes(b"not an onnx file")
    from tritune.triton.repository import install_runner

    install_runner(model_dir)
    (tmp_path / "broken" / "config.pbtxt").write_text(
        'name: "broken" backend: "python" max_batch_size: 0 '
        'input { name: "x" data_type: TYPE_FP32 dims: [1] } output { name: "y" data_type: TYPE_FP32 dims: [1] }'
    )
    with EmbeddedTriton(tmp_path) as server, ModelControl(server) as control:
        with pytest.raises(ModelLoadError, match="'broken' failed to load"):
            control.load("broken")
        with pytest.raises(ModelLoadError, match="'ghost' failed to load"):
            control.load("ghost")
    assert wait_until_gone(str(tmp_path)) == []


def test_server_killed_while_in_use(tmp_path: Path, dtype_zoo_onnx: Path) -> None:
    deploy_onnx(tmp_path, "zoo", dtype_zoo_onnx)
    with EmbeddedTriton(tmp_path) as server, ModelControl(server, timeout_s=10) as control:
        control.load("zoo")
        os.kill(server.server_pid() or 0, signal.SIGKILL)
        time.sleep(0.5)
        with pytest.raises(ServerError, match="lost the Triton server"):
            control.load("zoo")
    assert wait_until_gone(str(tmp_path)) == []


def test_exception_inside_the_context_stops_everything(tmp_path: Path, dtype_zoo_onnx: Path) -> None:
    deploy_onnx(tmp_path, "zoo", dtype_zoo_onnx)
    with pytest.raises(RuntimeError, match="boom"), EmbeddedTriton(tmp_path, load_models=["zoo"]):
        assert len(triton_processes(str(tmp_path))) >= 2  # the server and the model's stub
        raise RuntimeError("boom")
    assert wait_until_gone(str(tmp_path)) == []


HOLDER = """
import sys, time
from tritune.triton.server import EmbeddedTriton
server = EmbeddedTriton(sys.argv[1], load_models=["zoo"]).__enter__()
print("ready", server.server_pid(), flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, pytest.param(signal.SIGTERM, marks=SLOW), pytest.param(signal.SIGKILL, marks=SLOW)]
)
def test_no_orphans_when_the_owner_is_interrupted_or_killed(tmp_path: Path, dtype_zoo_onnx: Path, sig: int) -> None:
    deploy_onnx(tmp_path, "zoo", dtype_zoo_onnx)
    owner = interruptible_popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        line = owner.stdout.readline() if owner.stdout else ""
        assert line.startswith("ready"), line
        assert len(triton_processes(str(tmp_path))) >= 2
        owner.send_signal(sig)
        owner.wait(timeout=30)
    finally:
        if owner.poll() is None:
            owner.kill()
    assert wait_until_gone(str(tmp_path), timeout_s=20) == []


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), pytest.param(signal.SIGTERM, 143, marks=SLOW)])
def test_cli_ctrl_c_or_sigterm_during_a_run_leaves_nothing(
    tmp_path: Path, minilm_onnx: Path, sig: int, status: int
) -> None:
    marker = tmp_path / "marker"
    marker.mkdir()
    env = dict(os.environ, TMPDIR=str(marker))
    process = interruptible_popen(
        [*TRITUNE, "infer", str(minilm_onnx), "-n", "100000"], stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if "loaded in" in line:
                break
        process.send_signal(sig)
        process.wait(timeout=60)
        assert process.returncode == status
    finally:
        if process.poll() is None:
            process.kill()
    assert wait_until_gone(str(marker), timeout_s=20) == []


def test_ctrl_c_during_a_measurement_ends_the_load_generator_workers(tmp_path: Path) -> None:
    from tritune.testing.models import mlp_model

    model = mlp_model(tmp_path / "mlp.onnx", width=64, depth=2)
    process = interruptible_popen(
        [*TRITUNE, "perf", str(model), "--concurrency-range", "2:2", "--workers", "2", "-p", "2000", "-r", "50"],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a group of its own, as a terminal's foreground job
    )
    workers: list[psutil.Process] = []
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if "Request concurrency: 2" in line:
                break
        deadline = time.monotonic() + 60
        while len(workers) < 2 and time.monotonic() < deadline:
            workers = _spawned_children(process.pid)
            time.sleep(0.2)
        assert len(workers) == 2, "the load-generator workers never started"
        # From their first instruction: a Ctrl-C while a worker still imports (slow on a busy host)
        # must not end it with a traceback either.
        assert all(_ignores_ctrl_c(w.pid) for w in workers)
        time.sleep(1.0)  # into the measurement (when the Ctrl-C comes is never asserted)
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches the whole group, workers too
        process.wait(timeout=60)
        assert process.returncode == 130
        rest = process.stderr.read()
        assert "Traceback" not in rest, rest  # the workers ignore Ctrl-C; the parent stops them
    finally:
        if process.poll() is None:
            process.kill()
    _, alive = psutil.wait_procs(workers, timeout=20)
    assert alive == []


def _ignores_ctrl_c(pid: int) -> bool:
    """Whether SIGINT is in the process's ignored signals (``SigIgn`` of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    return False


def _spawned_children(pid: int) -> list[psutil.Process]:
    """``pid``'s load-generator worker processes."""
    found = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if "tritune.loadgen.workers" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def test_server_cpus_that_leave_no_load_generator_core_or_name_a_remote_server(tmp_path: Path) -> None:
    from tritune.cpus import usable_cpus
    from tritune.testing.models import mlp_model

    model = mlp_model(tmp_path / "mlp.onnx", width=8, depth=1)
    count = len(usable_cpus())
    result = run_cli("perf", str(model), "--server-cpus", str(count))
    assert result.returncode != 0
    line = error_line(result)
    assert line.startswith(f"error: --server-cpus {count} leaves no core for the load generator: tritune may use")
    assert line.endswith(f"; give at most {count - 1}")
    result = run_cli("perf", "mlp", "-u", "127.0.0.1:1", "--server-cpus", "1")
    assert result.returncode != 0
    assert "a server given by URL runs elsewhere" in error_line(result)
    result = run_cli("profile", str(model), "--server-cpus", str(count), "--run-dir", str(tmp_path / "run"))
    assert result.returncode != 0
    assert error_line(result).endswith(f"; give at most {count - 1}")
    assert not (tmp_path / "run" / "tritonserver.log").exists()  # refused before a server started


def test_doctor_on_this_machine() -> None:
    from tritune.system import list_gpus

    result = run_cli("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Triton version: 2." in result.stdout
    assert "python-backend stub: " in result.stdout
    assert "onnxruntime: " in result.stdout
    if not list_gpus():
        assert "GPUs: none" in result.stdout.splitlines()


@pytest.mark.slow
def test_a_server_killed_mid_profile_stores_no_false_results_and_the_rerun_resumes(tmp_path: Path) -> None:
    """Measurements 'taken' against a dead server are not the variant's results: none is stored,
    the run stops with one line, and the rerun measures what was left."""
    import sqlite3

    from tritune.testing.models import mlp_model

    model = mlp_model(tmp_path / "mlp.onnx", width=32, depth=2)
    config = tmp_path / "profile.yaml"
    config.write_text(
        "profile_models:\n  mlp:\n    model_config_parameters:\n      max_batch_size: [4]\n"
        "      instance_group: [{count: [1], kind: [KIND_CPU]}]\n      intra_op_threads: [0]\n"
        "      dynamic_batching: {max_queue_delay_microseconds: [0]}\n"
        "    parameters:\n      concurrency: [1, 2, 3, 4]\nrun_config_search_mode: brute\n"
    )
    run_dir = tmp_path / "run"
    command = [*TRITUNE, "profile", str(model), "-f", str(config), "--run-dir", str(run_dir), "--no-report"]
    command += ["--measurement-interval", "150", "--max-trials", "4", "--stability-percentage", "50"]

    def stored() -> list[tuple[str, float, str]]:
        try:
            with sqlite3.connect(run_dir / "tritune.db") as db:
                return db.execute(  # the search's measurements (the confirm step's rounds are repeats)
                    "SELECT v.name, m.load_value, m.status FROM measurements m JOIN variants v ON v.id = m.variant_id"
                    " WHERE m.repeat = 0"
                ).fetchall()
        except sqlite3.OperationalError:  # not created yet
            return []

    process = interruptible_popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while len(stored()) < 1 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
        servers = [c for c in psutil.Process(process.pid).children(recursive=True) if c.name() == "tritonserver"]
        assert servers, "no tritonserver under the profile"
        for server in servers:
            server.kill()
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1, stderr[-2000:]
    assert "error: lost the Triton server" in stderr and "Traceback" not in stderr
    kept = stored()
    assert kept and all(status != "failed" for _, _, status in kept), kept

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    after = stored()
    assert after[: len(kept)] == kept  # nothing stored before was touched
    assert len({(name, load) for name, load, _ in after}) == len(after) > len(kept)
    with sqlite3.connect(run_dir / "tritune.db") as db:
        errors = [e for (e,) in db.execute("SELECT error FROM measurements WHERE error IS NOT NULL")]
    assert not [e for e in errors if "server died" in e or "cannot reach Triton" in e], errors


STUCK_HOLDER = """
import sys, threading, time
from tritune.triton.control import ModelControl
from tritune.triton.server import EmbeddedTriton
server = EmbeddedTriton(sys.argv[1]).__enter__()
threading.Thread(target=lambda: ModelControl(server).load("sleepy"), daemon=True).start()
print("ready", server.server_pid(), flush=True)
time.sleep(600)
"""


@pytest.mark.slow
def test_a_server_stuck_in_a_model_load_ends_with_a_killed_tritune(tmp_path: Path) -> None:
    """A server loading a model ignores SIGTERM until the load ends (here: never), so the
    kernel's parent-death signal alone left it and its stub running for minutes. The reaper
    ends them, and removes the shared memory they mapped, once tritune is SIGKILLed."""
    from tritune.triton.reaper import group_members, shared_memory, unmapped_regions

    started = time.time()
    repo = tmp_path / "repo"
    (repo / "sleepy" / "1").mkdir(parents=True)
    (repo / "sleepy" / "1" / "model.py").write_text(
        "import time\nclass TritonPythonModel:\n    def initialize(self, args):\n        time.sleep(600)\n"
    )
    (repo / "sleepy" / "config.pbtxt").write_text(
        'backend: "python"\nmax_batch_size: 0\n'
        'input [{ name: "x", data_type: TYPE_FP32, dims: [1] }]\n'
        'output [{ name: "y", data_type: TYPE_FP32, dims: [1] }]\n'
    )
    owner = interruptible_popen([sys.executable, "-c", STUCK_HOLDER, str(repo)], stdout=subprocess.PIPE, text=True)
    try:
        line = owner.stdout.readline() if owner.stdout else ""
        assert line.startswith("ready"), line
        server_pid = int(line.split()[1])
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(group_members(server_pid)) < 2:
            time.sleep(0.2)  # until the stub is up and stuck in initialize()
        members = group_members(server_pid)
        assert len(members) >= 2, "the model's stub never started"
        regions = shared_memory(members)
        owner.kill()
        owner.wait(timeout=30)
    finally:
        if owner.poll() is None:
            owner.kill()
    assert wait_until_gone(str(repo), timeout_s=60) == []
    assert group_members(server_pid) == []
    assert [r for r in regions if r.exists()] == []
    # Nor any region the server made that nobody maps now (one was left behind every time the
    # reaper took only those its processes mapped when it ended them).
    deadline = time.monotonic() + 60  # the reaper removes them after the group is gone: a busy host waits
    while unmapped_regions(started) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert unmapped_regions(started) == set()


def test_the_stubs_of_a_server_that_died_by_itself_are_ended_by_stop(tmp_path: Path, dtype_zoo_onnx: Path) -> None:
    """A tritonserver SIGKILLed (or crashed) on its own leaves its stubs reparented to init,
    out of reach of its children(): stop() ends them by the server's process group, and
    removes the shared memory they mapped and the server's temporary folder."""
    from tritune.triton.reaper import group_members, shared_memory

    deploy_onnx(tmp_path, "zoo", dtype_zoo_onnx)
    server = EmbeddedTriton(tmp_path, load_models=["zoo"])
    try:
        server.start()
        pid = server.server_pid()
        assert pid is not None and server.log_file is not None
        folder = server.log_file.parent
        stubs = [p for p in triton_processes(str(tmp_path)) if p.pid != pid]
        assert stubs, "the model's stub never started"
        regions = shared_memory(group_members(pid))
        assert regions, "the stub maps no /dev/shm region"
        os.kill(pid, signal.SIGKILL)  # the server alone: its stubs stay
        psutil.wait_procs([psutil.Process(pid)], timeout=10)
        assert not server.is_alive()
        orphans = [s for s in stubs if s.is_running() and s.status() != psutil.STATUS_ZOMBIE]
        assert orphans, "the stubs ended with their server: nothing left to prove"
    finally:
        server.stop()
    assert group_members(pid) == []
    _, alive = psutil.wait_procs(stubs, timeout=5)
    assert alive == []
    assert wait_until_gone(str(tmp_path), timeout_s=5) == []
    assert [r for r in regions if r.exists()] == []
    assert not folder.exists()


def test_a_server_that_dies_while_a_model_loads_is_seen_at_once(tmp_path: Path) -> None:
    """The stub of a model in initialize() holds the load request's connection (it inherited
    it), so the reply never comes when the server dies: the load watches the server's process
    and says it died, rather than waiting out the request's timeout (here 600 s, which would
    end the test with pytest's own timeout and a different reason)."""
    repo = tmp_path / "repo"
    (repo / "sleepy" / "1").mkdir(parents=True)
    marker = tmp_path / "initializing"
    (repo / "sleepy" / "1" / "model.py").write_text(
        "import time\nfrom pathlib import Path\nclass TritonPythonModel:\n    def initialize(self, args):\n"
        f"        Path({str(marker)!r}).touch()\n        time.sleep(600)\n"
    )
    (repo / "sleepy" / "config.pbtxt").write_text(
        'backend: "python"\nmax_batch_size: 0\n'
        'input [{ name: "x", data_type: TYPE_FP32, dims: [1] }]\n'
        'output [{ name: "y", data_type: TYPE_FP32, dims: [1] }]\n'
    )
    with EmbeddedTriton(repo) as server:
        pid = server.server_pid()
        assert pid is not None

        def kill_once_the_model_initializes() -> None:
            while not marker.exists() and server.is_alive():
                time.sleep(0.05)  # polls an observable state: the stub reached initialize()
            os.kill(pid, signal.SIGKILL)

        killer = threading.Thread(target=kill_once_the_model_initializes, daemon=True)
        killer.start()
        with ModelControl(server, timeout_s=600) as control, pytest.raises(ServerError) as caught:
            control.load("sleepy")
        killer.join(timeout=60)
        assert marker.exists(), "the model never started loading"
    assert "it died while loading a model" in caught.value.message, caught.value.message
    assert wait_until_gone(str(repo), timeout_s=30) == []  # the stub stuck in initialize() too
