"""The load generator against the real embedded Triton: both protocols, both load modes,
worker processes, server statistics, per-model memory, and the ways it can go wrong."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from tritune.cli import cli
from tritune.cpus import CpuSplit, client_side, usable_cpus
from tritune.domain.measurement import LoadPoint, MeasurementStatus
from tritune.domain.serving import DynamicBatching, ServingConfig
from tritune.errors import InferenceError, ServerError, UsageError
from tritune.loadgen import (
    Distribution,
    LoadDriver,
    LoadSpec,
    MeasureOptions,
    StabilityCriteria,
    WindowSpec,
    WorkerPool,
    make_measure_fn,
    measure,
)
from tritune.loadgen.pa_output import to_csv
from tritune.testing.models import mlp_model
from tritune.testing.processes import triton_processes
from tritune.triton.control import ModelControl
from tritune.triton.repository import deploy_onnx
from tritune.triton.server import EmbeddedTriton, RemoteTriton, pick_free_ports

pytestmark = pytest.mark.triton

# Short windows keep the suite fast; a loose threshold keeps a shared CI box from making
# the result unstable (stability itself is unit-tested on a virtual clock).
FAST = MeasureOptions(
    window=WindowSpec(window_ns=300_000_000),
    stability=StabilityCriteria(threshold=0.5, max_windows=6),
)


@pytest.fixture(scope="module")
def mlp_onnx(model_dir: Path) -> Path:
    return mlp_model(model_dir / "perf_mlp.onnx", width=32, depth=1)


@pytest.fixture(scope="module")
def perf_model(triton_server: EmbeddedTriton, control: ModelControl, mlp_onnx: Path) -> str:
    serving = ServingConfig(max_batch_size=8, dynamic_batching=DynamicBatching())
    deploy_onnx(triton_server.model_repository, "perf_mlp", mlp_onnx, serving)
    control.load("perf_mlp")
    return "perf_mlp"


def _check_numbers(result, batch: int = 1) -> None:
    assert result.status in (MeasurementStatus.OK, MeasurementStatus.UNSTABLE), result.reason
    client = result.client
    assert client is not None and client.completed > 0 and client.failed == 0
    assert result.throughput == pytest.approx(client.completed * batch * 1e9 / client.duration_ns)
    lat = client.latency
    assert 0 < lat.min_ns <= lat.p50_ns <= lat.p90_ns <= lat.p95_ns <= lat.p99_ns <= lat.max_ns
    assert result.kept_windows == min(3, len(result.windows))


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_concurrency_measurement_with_server_breakdown_and_memory(
    triton_server: EmbeddedTriton, perf_model: str, protocol: str
) -> None:
    options = MeasureOptions(**{**FAST.__dict__, "protocol": protocol})
    result = measure(triton_server, perf_model, LoadSpec.concurrency(2, batch_size=2), options)
    _check_numbers(result, batch=2)
    server = result.server
    assert server is not None and server.requests > 0 and server.failed == 0
    assert server.compute_infer_ns > 0 and server.request_ns >= server.compute_infer_ns
    # The server's own time per request cannot exceed what the client waited, on average.
    assert server.request_ns < result.client.latency.avg_ns * 1.5
    assert result.memory is not None and result.memory.processes == 1 and result.memory.rss_bytes > 10e6
    metrics = result.to_measurement().metrics
    for name in (
        "perf_throughput",
        "perf_latency_p99",
        "perf_server_queue",
        "perf_server_compute_infer",
        "perf_client_send_recv",
        "cpu_used_ram",
    ):
        assert name in metrics
    assert metrics["perf_latency_p99"] == pytest.approx(result.client.latency.p99_ns / 1e6)
    assert result.summary_line().startswith("Concurrency: 2, throughput: ")


def test_request_rate_mode_sends_the_asked_rate(triton_server: EmbeddedTriton, perf_model: str) -> None:
    result = measure(triton_server, perf_model, LoadSpec.rate(100.0, distribution=Distribution.POISSON), FAST)
    _check_numbers(result)
    client = result.client
    assert client.request_rate == pytest.approx(100.0, rel=0.35)  # Poisson over ~0.9 s
    assert client.sent >= client.completed - 5
    assert result.summary_line().startswith("Request Rate: 100, ")


def test_worker_processes_merge_into_one_result(triton_server: EmbeddedTriton, perf_model: str) -> None:
    options = MeasureOptions(**{**FAST.__dict__, "workers": 2})
    result = measure(triton_server, perf_model, LoadSpec.concurrency(2), options)
    _check_numbers(result)
    assert result.workers == 2
    assert result.server is not None and result.server.requests > 0


def test_closed_loop_gives_each_slot_a_process_up_to_the_limit(triton_server: EmbeddedTriton, perf_model: str) -> None:
    # perf_analyzer's sync mode gives each slot a thread; auto workers follow it within the cores allowed.
    options = replace(FAST, max_auto_workers=2)
    with WorkerPool() as pool, LoadDriver(triton_server, perf_model, options, pool) as driver:
        assert driver.measure(LoadSpec.concurrency(1)).workers == 1
        assert pool.pids == ()  # one slot runs in this process
        three = driver.measure(LoadSpec.concurrency(3))
        _check_numbers(three)
        assert three.workers == 2


def test_the_worker_pool_keeps_its_processes_and_replaces_a_dead_one(
    triton_server: EmbeddedTriton, perf_model: str
) -> None:
    options = replace(FAST, workers=2)
    with WorkerPool() as pool:
        with LoadDriver(triton_server, perf_model, options, pool) as driver:
            _check_numbers(driver.measure(LoadSpec.concurrency(2)))
        first = pool.pids
        assert len(first) == 2 and all(psutil.pid_exists(p) for p in first)
        # A driver given a pool leaves it open: the search's measure function reuses the processes.
        measurement = make_measure_fn(triton_server, options, pool)(perf_model, LoadPoint(value=2))
        assert measurement.status is not MeasurementStatus.FAILED and measurement.metrics["perf_throughput"] > 0
        assert pool.pids == first
        os.kill(first[0], signal.SIGKILL)
        # The signal lands asynchronously: on a busy host the next measurement could hand the
        # worker its plan before it is dead, and fail on a worker that was alive when asked.
        _wait_until_dead(first[0])
        with LoadDriver(triton_server, perf_model, options, pool) as driver:
            _check_numbers(driver.measure(LoadSpec.concurrency(2)))
        assert len(pool.pids) == 2 and first[0] not in pool.pids and first[1] in pool.pids
    assert pool.pids == ()
    assert not psutil.pid_exists(first[1]) or psutil.Process(first[1]).status() == psutil.STATUS_ZOMBIE


def _wait_until_dead(pid: int, timeout_s: float = 60.0) -> None:
    """Until ``pid`` is a zombie or gone (its parent has not collected it yet: the pool does)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} outlived SIGKILL")


UNGUARDED_SCRIPT = """
import sys
from tritune.cpus import CpuSplit, client_side, usable_cpus
from tritune.loadgen import LoadSpec, MeasureOptions, StabilityCriteria, WindowSpec, measure
from tritune.triton.server import RemoteTriton

server = RemoteTriton(sys.argv[1], grpc_url=sys.argv[2], metrics_url="")
options = MeasureOptions(workers=2, window=WindowSpec(window_ns=300_000_000),
                         stability=StabilityCriteria(threshold=0.5, max_windows=6))
result = measure(server, sys.argv[3], LoadSpec.concurrency(2), options)
print("measured", result.status, result.workers, flush=True)
"""


def test_a_script_without_a_main_guard_is_not_run_again_by_the_workers(
    triton_server: EmbeddedTriton, perf_model: str, tmp_path: Path
) -> None:
    # multiprocessing's spawn would re-run this script's top level in each worker.
    script = tmp_path / "bench.py"
    script.write_text(UNGUARDED_SCRIPT)
    endpoints = triton_server.endpoints
    done = subprocess.run(
        [sys.executable, str(script), endpoints.http, endpoints.grpc, perf_model],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # Printed once: the workers did not run the script again.
    assert done.stdout.splitlines() in (["measured ok 2"], ["measured unstable 2"]), (done.stdout, done.stderr[-2000:])


def test_server_cpus_pin_the_server_its_stubs_and_the_load_generator(tmp_path: Path, mlp_onnx: Path) -> None:
    cores = usable_cpus()
    split = CpuSplit.first_for_server(1, cores)
    repo = tmp_path / "repo"
    deploy_onnx(repo, "pinned", mlp_onnx, ServingConfig(max_batch_size=8, dynamic_batching=DynamicBatching()))
    with EmbeddedTriton(repo, cpus=split.server) as server, ModelControl(server) as control:
        control.load("pinned")
        pid = server.server_pid()
        assert pid is not None and set(psutil.Process(pid).cpu_affinity()) == split.server
        stubs = [p for p in triton_processes(str(repo)) if p.pid != pid]
        assert stubs and all(set(p.cpu_affinity()) == split.server for p in stubs)  # started after: inherited
        with client_side(split), WorkerPool() as pool:
            with LoadDriver(server, "pinned", replace(FAST, workers=2), pool) as driver:
                _check_numbers(driver.measure(LoadSpec.concurrency(2)))
            assert len(pool.pids) == 2
            assert all(set(psutil.Process(p).cpu_affinity()) == split.client for p in pool.pids)
        assert usable_cpus() == cores  # the caller's cores back


def test_a_sweep_reuses_the_driver_and_writes_perf_analyzer_csv(triton_server: EmbeddedTriton, perf_model: str) -> None:
    driver = LoadDriver(triton_server, perf_model, FAST)
    results = driver.sweep([LoadSpec.concurrency(1), LoadSpec.concurrency(3)])
    lines = to_csv(results).splitlines()
    assert lines[0].split(",")[:3] == ["Concurrency", "Inferences/Second", "Client Send"]
    assert lines[0].endswith("p99 latency")
    assert len(lines) == 3


def test_measure_fn_fits_the_orchestrator(triton_server: EmbeddedTriton, perf_model: str) -> None:
    measure_point = make_measure_fn(triton_server, FAST)
    measurement = measure_point(perf_model, LoadPoint(value=1))
    assert measurement.status in (MeasurementStatus.OK, MeasurementStatus.UNSTABLE)
    assert measurement.metrics["perf_throughput"] > 0
    missing = measure_point("no_such_model", LoadPoint(value=1))
    assert missing.status is MeasurementStatus.FAILED and "not loaded" in (missing.error or "")


# -- bad input ----------------------------------------------------------------------------------


def test_unknown_model_names_the_ready_ones(triton_server: EmbeddedTriton, perf_model: str) -> None:
    with pytest.raises(UsageError, match=r"'nope' is not loaded.*perf_mlp"):
        LoadDriver(triton_server, "nope", FAST)


def test_unreachable_server_is_a_clear_error() -> None:
    (port,) = pick_free_ports(1)
    with pytest.raises(ServerError, match="cannot reach Triton"):
        LoadDriver(RemoteTriton(f"127.0.0.1:{port}"), "m", FAST)


def test_shapes_that_do_not_fit_are_refused(triton_server: EmbeddedTriton, perf_model: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not fit"):
        measure(
            triton_server,
            perf_model,
            LoadSpec.concurrency(1),
            MeasureOptions(**{**FAST.__dict__, "shapes": {"x": (7,)}}),
        )
    with pytest.raises(UsageError, match="unknown input"):
        measure(
            triton_server,
            perf_model,
            LoadSpec.concurrency(1),
            MeasureOptions(**{**FAST.__dict__, "shapes": {"wrong": (32,)}}),
        )
    data = tmp_path / "bad.json"
    data.write_text(json.dumps({"data": [{"x": {"content": [0.5] * 16, "shape": [16]}}]}))
    with pytest.raises(InferenceError, match="rejected the request"):
        measure(
            triton_server,
            perf_model,
            LoadSpec.concurrency(1),
            MeasureOptions(**{**FAST.__dict__, "input_data": str(data)}),
        )
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps({"data": [{"y": [0.0] * 32}]}))
    with pytest.raises(UsageError, match="lacks input 'x'"):
        measure(
            triton_server,
            perf_model,
            LoadSpec.concurrency(1),
            MeasureOptions(**{**FAST.__dict__, "input_data": str(missing)}),
        )


def test_input_data_from_a_json_file_is_used(triton_server: EmbeddedTriton, perf_model: str, tmp_path: Path) -> None:
    data = tmp_path / "good.json"
    data.write_text(json.dumps({"data": [{"x": [0.1] * 32}, {"x": {"content": [0.2] * 32, "shape": [32]}}]}))
    result = measure(
        triton_server,
        perf_model,
        LoadSpec.concurrency(1, batch_size=3),
        MeasureOptions(**{**FAST.__dict__, "input_data": str(data)}),
    )
    _check_numbers(result, batch=3)


@pytest.fixture
def doomed_server(tmp_path: Path, mlp_onnx: Path) -> Iterator[EmbeddedTriton]:
    repo = tmp_path / "repo"
    repo.mkdir()
    deploy_onnx(repo, "victim", mlp_onnx, ServingConfig(max_batch_size=8, dynamic_batching=DynamicBatching()))
    with EmbeddedTriton(repo) as server, ModelControl(server) as control:
        control.load("victim")
        yield server


def test_server_killed_mid_measurement_fails_with_what_was_measured(doomed_server: EmbeddedTriton) -> None:
    options = MeasureOptions(
        window=WindowSpec(window_ns=300_000_000),
        stability=StabilityCriteria(threshold=0.0, max_windows=100),  # never stable: keeps measuring
        request_timeout_s=5,
    )
    driver = LoadDriver(doomed_server, "victim", options)
    driver.target(1)  # inputs built and checked before the clock starts

    def kill_after_windows() -> None:
        # Killed once the server has answered some requests, however slow a busy host makes it.
        from tritune.triton.control import ModelControl

        deadline = time.monotonic() + 120
        with ModelControl(doomed_server) as control:
            start = int(control.statistics("victim")["model_stats"][0].get("inference_count", 0))  # the warm-up's
            while time.monotonic() < deadline:
                stats = control.statistics("victim")["model_stats"][0]
                if int(stats.get("inference_count", 0)) >= start + 20:
                    break
                time.sleep(0.1)
        time.sleep(0.5)  # into a later window (only when the kill happens, never asserted)
        doomed_server.stop(timeout_s=5)

    killer = threading.Thread(target=kill_after_windows)
    killer.start()
    result = driver.measure(LoadSpec.concurrency(2))
    killer.join()
    assert result.status is MeasurementStatus.FAILED
    assert "died" in result.reason
    assert result.client is not None and result.client.completed > 0  # measured before the kill
    assert any(w.failed > 0 or w.completed == 0 for w in result.windows)


# -- the command ---------------------------------------------------------------------------------


def test_perf_command_prints_summary_csv_and_json(mlp_onnx: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    csv_path = tmp_path / "results.csv"
    args = [
        "perf",
        str(mlp_onnx),
        "--concurrency-range",
        "1:2:1",
        "-p",
        "300",
        "-s",
        "50",
        "-r",
        "5",
        "-i",
        "http",
        "-f",
        str(csv_path),
    ]
    outcome = runner.invoke(cli, args, catch_exceptions=False)
    assert outcome.exit_code == 0, outcome.output
    assert "Concurrency: 1, throughput: " in outcome.stdout
    assert "Concurrency: 2, throughput: " in outcome.stdout
    rows = csv_path.read_text().splitlines()
    assert rows[0].startswith("Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue")
    assert len(rows) == 3
    outcome = runner.invoke(
        cli,
        ["perf", str(mlp_onnx), "--request-rate-range", "50", "-p", "300", "-s", "50", "-r", "5", "--json"],
        catch_exceptions=False,
    )
    assert outcome.exit_code == 0, outcome.output
    data = json.loads(outcome.stdout)
    assert data[0]["load"]["mode"] == "request_rate" and data[0]["metrics"]["perf_throughput"] > 0


def test_another_client_loading_the_model_is_named_from_the_server_s_statistics(
    triton_server: EmbeddedTriton, perf_model: str
) -> None:
    """Two `tritune perf -u` against one server each read low and said nothing; the server's own
    request count, beyond this measurement's, names the other client (a quiet run does not)."""
    quiet = measure(triton_server, perf_model, LoadSpec.concurrency(2), FAST)
    assert not [w for w in quiet.warnings if w.startswith("another client")], quiet.warnings

    # The other client: a perf of its own that never settles (a 0.01 % threshold), killed after.
    other = subprocess.Popen(
        [sys.executable, "-m", "tritune", "perf", perf_model, "-u", triton_server.endpoints.http]
        + ["--concurrency-range", "2", "-p", "500", "-s", "0.01", "-r", "1000", "--no-warmup"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with ModelControl(triton_server) as control:
            before = int(control.statistics(perf_model)["model_stats"][0].get("inference_count", 0))
            while int(control.statistics(perf_model)["model_stats"][0].get("inference_count", 0)) < before + 200:
                assert other.poll() is None, "the other client ended before it loaded the server"
                time.sleep(0.1)  # polls an observable state: the other client's requests served
        shared = measure(triton_server, perf_model, LoadSpec.concurrency(2), FAST)
    finally:
        other.kill()
        other.wait(timeout=30)
    named = [w for w in shared.warnings if w.startswith("another client was loading this model")]
    assert len(named) == 1, shared.warnings
    assert shared.server is not None and shared.client is not None
    assert shared.server.requests > shared.client.completed
