"""Running the tools that benchmarks/vs_model_analyzer.py compares, and reading what they leave.

Model Analyzer (MA) 1.58 from its own venv (scripts/get_model_analyzer.sh), in its ``local``
launch mode: it starts the tritonserver binary of the nvidia-pytriton wheel (the one tritune's
embedded server is) with tritune's Python-backend folder and the environment the backend's stub
needs (``tritune.triton.locate``: LD_LIBRARY_PATH with libpython's folder, PYTHONPATH with this
venv's site-packages, this venv's bin first on PATH), on ports picked free, perf_analyzer from
scripts/get_perf_analyzer.sh. No GPU is visible, so MA makes every variant ``KIND_CPU``
(``cpu_only``). Its reports are skipped (``--no-report`` on tritune's side). Its measurements,
configurations and pick are read from its checkpoint.

Every command runs in its own session with its output time-stamped into a log; afterwards any
tritonserver, Python-backend stub or perf_analyzer it left behind (found by its model repository
or its ports on the command line) is ended.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import yaml

from tritune.triton.locate import find_triton, prepare_backend_directory, server_environment
from tritune.triton.server import pick_free_ports

REPO = Path(__file__).resolve().parents[1]
MODEL_ANALYZER = REPO / ".tools" / "model-analyzer" / "bin" / "model-analyzer"
SERVER_PROCESSES = ("tritonserver", "triton_python_backend_stub", "perf_analyzer")


@dataclass
class Bounds:
    instances: int
    batch: int
    concurrency: int


@dataclass
class ToolResult:
    """One tool's run: its wall time, what it measured, and its pick (a model folder with
    config.pbtxt and version 1, and the concurrency it found it best at)."""

    tool: str
    started: str  # local time the run began
    wall_s: float
    measurements: int
    configurations: int
    pick_dir: str
    concurrency: int
    found: float  # the pick's throughput as the tool measured it
    details: dict[str, Any] = field(default_factory=dict)


class ToolFailed(Exception):
    """A tool exited non-zero or produced no pick: the message is one line, with its log."""


def timed_run(
    command: list[str], log: Path, *, cwd: Path, env: dict[str, str], timeout_s: float, stdout: Path | None = None
) -> tuple[int, float]:
    """Run ``command`` in its own session; each line it prints goes to ``log`` prefixed with
    the seconds since the start (stdout to ``stdout`` instead, where given). Returns the exit
    code (-9 when it ran past ``timeout_s`` and was killed) and the wall time."""
    started = time.monotonic()
    with log.open("w") as sink, stdout.open("w") if stdout else open(os.devnull, "w") as out:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=out if stdout else subprocess.PIPE,
            stderr=subprocess.PIPE if stdout else subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        timer = threading.Timer(timeout_s, kill_group, (process.pid,))
        timer.start()
        try:
            stream = process.stderr if stdout else process.stdout
            assert stream is not None
            for line in stream:
                sink.write(f"{time.monotonic() - started:8.1f}s {line}")
                sink.flush()
            code = process.wait()
        except BaseException:
            kill_group(process.pid)
            raise
        finally:
            timer.cancel()
    return code, time.monotonic() - started


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def end_leftovers(markers: list[str]) -> list[str]:
    """End the servers, stubs and perf_analyzers whose command line holds one of ``markers``
    (a model repository of this benchmark, one of its ports); their descriptions."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        argv = process.info["cmdline"] or []
        if argv and Path(argv[0]).name in SERVER_PROCESSES and any(m in " ".join(argv) for m in markers):
            found.append(process)
    for process in found:
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(found, timeout=10)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            continue
    return [f"{p.pid} {' '.join((p.info['cmdline'] or [])[:2])}" for p in found]


def ma_config(repository: Path, model: str, mode: str, bounds: Bounds, step: Path, perf_analyzer: Path) -> dict:
    """MA's profile config: the model, the bounds, the local server as tritune's own runs it."""
    install = find_triton()  # the nvidia-pytriton wheel's tritonserver (what tritune embeds)
    env = server_environment(install)
    http, grpc, metrics = pick_free_ports(3)
    return {
        "model_repository": str(repository),
        "profile_models": model,
        "run_config_search_mode": mode,
        "run_config_search_max_instance_count": bounds.instances,
        "run_config_search_max_model_batch_size": bounds.batch,
        "run_config_search_max_concurrency": bounds.concurrency,
        "triton_launch_mode": "local",
        "triton_server_path": str(install.binary),
        "triton_server_flags": {"backend_directory": str(prepare_backend_directory(install))},
        "triton_server_environment": {key: env[key] for key in ("LD_LIBRARY_PATH", "PYTHONPATH", "PATH")},
        "triton_http_endpoint": f"localhost:{http}",
        "triton_grpc_endpoint": f"localhost:{grpc}",
        "triton_metrics_url": f"http://localhost:{metrics}/metrics",
        "perf_analyzer_path": str(perf_analyzer),
        "output_model_repository_path": str(step / "output_models"),
        "override_output_model_repository": True,
        "checkpoint_directory": str(step / "checkpoints"),
        "export_path": str(step / "results"),
        "triton_output_path": str(step / "tritonserver.log"),
        "skip_summary_reports": True,
        "skip_detailed_reports": True,
    }


def run_model_analyzer(
    repository: Path, model: str, mode: str, bounds: Bounds, step: Path, perf_analyzer: Path, timeout_s: float
) -> ToolResult:
    """One MA profile run in ``step`` (a fresh folder), timed; its pick from its checkpoint."""
    if not MODEL_ANALYZER.is_file():
        raise ToolFailed(f"model-analyzer not found at {MODEL_ANALYZER}: run scripts/get_model_analyzer.sh")
    config = ma_config(repository, model, mode, bounds, step, perf_analyzer)
    (step / "results").mkdir(parents=True)
    (step / "config.yml").write_text(yaml.safe_dump(config))
    # MA's own Python: nothing of this venv on its paths (the server gets them from its config).
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    log = step / "model_analyzer.log"
    started = time.strftime("%H:%M:%S")
    command = [str(MODEL_ANALYZER), "profile", "-f", str(step / "config.yml")]
    try:
        code, wall_s = timed_run(command, log, cwd=step, env=env, timeout_s=timeout_s)
    finally:
        # Its servers by their repository (the profiled one for its server-only metrics, then its
        # output one) or ports, its perf_analyzers by the server they drive.
        http, grpc = (config[k].rsplit(":", 1)[1] for k in ("triton_http_endpoint", "triton_grpc_endpoint"))
        markers = [str(repository), str(step), f"--http-port={http}", f"localhost:{grpc}", f"localhost:{http}"]
        left = end_leftovers(markers)
        if left:
            print(f"  ended what MA left running: {'; '.join(left)}", flush=True)
    if code != 0:
        reason = f"ran past --timeout ({timeout_s:.0f} s), killed" if wall_s >= timeout_s else f"exited {code}"
        raise ToolFailed(f"MA {mode} {reason} after {wall_s:.0f} s; log says: {last_error(log)} (log: {log})")
    measurements, configurations, best = read_checkpoint(step / "checkpoints", model)
    if best is None:
        raise ToolFailed(f"MA {mode} measured nothing usable (log: {log})")
    variant, concurrency, throughput = best
    return ToolResult(
        f"ma_{mode}",
        started,
        wall_s,
        measurements,
        configurations,
        str(step / "output_models" / variant),
        concurrency,
        throughput,
        {"variant": variant, "log": str(log)},
    )


def last_error(log: Path) -> str:
    """The last line of MA's log that says what went wrong (else its last line)."""
    lines = [line.split("s ", 1)[-1].strip() for line in log.read_text(errors="replace").splitlines()]
    lines = [line for line in lines if line and line != "[Model Analyzer]"]
    for line in reversed(lines):
        if any(word in line.lower() for word in ("error", "exception", "failed", "unable")):
            return line
    return lines[-1] if lines else "no output"


def read_checkpoint(folder: Path, model: str) -> tuple[int, int, tuple[str, int, float] | None]:
    """From MA's newest checkpoint: its measurements, its configurations, and its pick (the
    variant with the highest measured throughput, its objective, at the concurrency it had it)."""
    checkpoints = sorted(folder.glob("*.ckpt"), key=lambda p: int(p.stem))
    if not checkpoints:
        return 0, 0, None
    results = json.loads(checkpoints[-1].read_text())["ResultManager.results"]["_results"].get(model, {})
    measurements = 0
    best: tuple[str, int, float] | None = None
    for variant, (_, runs) in results.items():
        for run in runs.values():
            measurements += 1
            (per_model,) = run["_model_config_measurements"]
            metrics = dict(per_model["_non_gpu_data"])
            throughput = float(metrics.get("perf_throughput", {}).get("_value", 0.0))
            concurrency = int(per_model["_model_specific_pa_params"]["concurrency-range"])
            if best is None or throughput > best[2]:
                best = (variant, concurrency, throughput)
    return measurements, len(results), best
