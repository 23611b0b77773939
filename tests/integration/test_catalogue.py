"""The bad inputs and faults of docs/reliability.md that no other test feeds: each is run as a
user runs it (``python -m tritune ...``) and must end with one ``error:`` line that names the
fix, the documented exit status, no traceback, and the user's files as they were."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from cli_runner import error_line
from cli_runner import run_in_process as run_cli
from profile_flags import SHORT_MEASUREMENT
from tritune.testing.models import mlp_model
from tritune.testing.processes import wait_until_gone
from tritune.triton.server import EmbeddedTriton

pytestmark = pytest.mark.triton

TRITUNE = [sys.executable, "-m", "tritune"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def mlp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mlp_model(tmp_path_factory.mktemp("catalogue") / "mlp.onnx", width=8, depth=1)


# -- the model ----------------------------------------------------------------------------------


def test_truncated_model_file(tmp_path: Path, mlp: Path) -> None:
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(mlp.read_bytes()[: mlp.stat().st_size // 2])
    result = run_cli("infer", str(truncated))
    assert result.returncode == 1
    line = error_line(result)
    assert "truncated.onnx is not a readable ONNX model" in line and "check the file is complete" in line


def _sequence_model(path: Path) -> Path:
    sequence = helper.make_tensor_sequence_value_info("s", TensorProto.FLOAT, ["n"])
    length = helper.make_tensor_value_info("y", TensorProto.INT64, [])
    graph = helper.make_graph([helper.make_node("SequenceLength", ["s"], ["y"])], "seq", [sequence], [length])
    return _save(graph, path)


def _optional_model(path: Path) -> Path:
    element = helper.make_tensor_type_proto(TensorProto.FLOAT, [2])
    optional = helper.make_value_info("s", helper.make_optional_type_proto(element))
    has = helper.make_tensor_value_info("y", TensorProto.BOOL, [])
    graph = helper.make_graph([helper.make_node("OptionalHasElement", ["s"], ["y"])], "opt", [optional], [has])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize(("build", "kind"), [(_sequence_model, "sequence"), (_optional_model, "optional")])
def test_input_that_triton_cannot_express(tmp_path: Path, build: Callable[[Path], Path], kind: str) -> None:
    """The line named 'sequence/map' whatever the type was, and no fix."""
    model = build(tmp_path / "odd.onnx")
    for command in (["infer", str(model)], ["prepare", str(model), "-o", str(tmp_path / "repo")]):
        result = run_cli(*command)
        assert result.returncode == 1
        assert error_line(result) == (
            f"error: tensor 's' is a {kind}, not a plain tensor, which Triton cannot carry: "
            "export the model with plain tensor inputs and outputs"
        )
    assert not (tmp_path / "repo").exists()


def test_string_input_is_one_line_in_infer_and_prepare(tmp_path: Path) -> None:
    """prepare used to end in a TypeError traceback from the runner's dtype table."""
    x = helper.make_tensor_value_info("x", TensorProto.STRING, ["batch", 1])
    y = helper.make_tensor_value_info("y", TensorProto.STRING, ["batch", 1])
    model = _save(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "str", [x], [y]), tmp_path / "s.onnx")
    result = run_cli("infer", str(model))
    assert result.returncode == 1
    assert "tensor 'x' is a string (BYTES) tensor" in error_line(result)
    assert "export the model with numeric inputs and outputs" in error_line(result)
    result = run_cli("prepare", str(model), "-o", str(tmp_path / "repo"))
    assert result.returncode == 1
    assert error_line(result) == (
        "error: input 'x': BYTES tensors are not supported by the tritune runner yet: "
        "convert the model so that this tensor is numeric"
    )
    assert not (tmp_path / "repo").exists()


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["infer", "absent.onnx"], 1, "error: model file absent.onnx does not exist: check the path"),
        (
            ["infer", "random.onnx"],
            1,
            "error: random.onnx is not a readable ONNX model (DecodeError): re-export it or check the file is complete",
        ),
        (
            ["profile"],
            2,
            "error: give a MODEL file, --model-repository DIR --profile-models a,b, or a config file with "
            "profile_models: tritune profile model.onnx",
        ),
        (
            ["perf", "mlp", "-u", "127.0.0.1:1", "--server-cpus", "1"],
            2,
            "error: --server-cpus pins the embedded server: a server given by URL runs elsewhere; drop one",
        ),
    ],
    ids=["missing-model", "random-bytes-model", "no-model", "server-cpus-with-url"],
)
def test_exact_line_and_status(tmp_path: Path, args: list[str], status: int, message: str) -> None:
    """The cases test_failures.py checks for 'non-zero' and a fragment, held to the exact status and line."""
    (tmp_path / "random.onnx").write_bytes(bytes(range(256)) * 16)
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == status
    assert error_line(result) == message


# -- options ------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["x", "x:a,b", ":3", "x:"])
def test_malformed_shape_option(mlp: Path, shape: str) -> None:
    result = run_cli("infer", str(mlp), "--shape", shape)
    assert result.returncode == 2
    assert error_line(result) == f"error: --shape {shape!r} is not NAME:D1,D2,...: e.g. --shape input_ids:128"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("x=3", " is not NAME:D1,D2,...[:DTYPE]: e.g. --input x:3,224,224:float32"),
        ("x", " is not NAME:D1,D2,...[:DTYPE]: e.g. --input x:3,224,224:float32"),
        ("x:3:float99", ": 'float99' is not a numpy dtype such as float32 or int64"),
    ],
)
def test_malformed_input_option(tmp_path: Path, mlp: Path, spec: str, message: str) -> None:
    result = run_cli("prepare", str(mlp), "-o", str(tmp_path / "repo"), "--input", spec)
    assert result.returncode == 2
    assert error_line(result) == f"error: --input {spec!r}{message}"
    assert not (tmp_path / "repo").exists()


def test_tritonserver_that_is_not_an_executable_file(tmp_path: Path, mlp: Path) -> None:
    plain = tmp_path / "tritonserver"
    plain.write_text("#!/bin/sh\n")  # not executable
    result = run_cli("infer", str(mlp), "--tritonserver", str(plain))
    assert result.returncode == 1
    assert error_line(result).startswith(f"error: tritonserver binary {plain} is not executable: pass the path")
    result = run_cli("infer", str(mlp), "--tritonserver", str(tmp_path))
    assert result.returncode == 2
    assert "is a directory" in error_line(result)
    # A relative path is taken from where the user stands and named absolute in the message.
    result = run_cli("infer", str(mlp), "--tritonserver", "bin/tritonserver", cwd=tmp_path)
    assert result.returncode == 1
    assert f"tritonserver binary not found at {tmp_path / 'bin' / 'tritonserver'}:" in error_line(result)
    assert wait_until_gone(str(tmp_path)) == []


@pytest.mark.parametrize("name", ["a b", "a<b"])
def test_model_name_triton_cannot_serve(tmp_path: Path, mlp: Path, name: str) -> None:
    """Triton looked such a model up percent-encoded and failed to load it after starting."""
    result = run_cli("infer", str(mlp), "--name", name)
    assert result.returncode == 2
    assert error_line(result).startswith(f"error: model name {name!r} has characters Triton cannot serve")
    run_dir = tmp_path / "run"
    result = run_cli("profile", str(mlp), "--name", name, "--run-dir", str(run_dir))
    assert result.returncode == 2
    assert "has characters Triton cannot serve" in error_line(result)
    assert not (run_dir / "tritune.db").exists()


def test_remote_server_that_does_not_answer(mlp: Path) -> None:
    result = run_cli("perf", "mlp", "--url", "127.0.0.1:1")
    assert result.returncode == 1
    line = error_line(result)
    assert line.startswith("error: cannot reach Triton at http://127.0.0.1:1 (")
    assert "or fix the URL (-u/--url" in line


# -- the config file ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        ("run_config_serch_mode: brute", "unknown key 'run_config_serch_mode': did you mean 'run_config_search_mode'?"),
        (
            "run_config_search_max_concurrency: lots",
            "run_config_search_max_concurrency: input should be a valid integer",
        ),
        (
            "perf_analyzer_flags: {percentile: 95}",
            "'perf_analyzer_flags' is a Model Analyzer key that tritune does not support: "
            "put perf_analyzer's settings under 'measurement'",
        ),
        (
            "triton_docker_image: nvcr.io/nvidia/tritonserver:24.08-py3",
            "'triton_docker_image' is a Model Analyzer key that tritune does not support: "
            "start the container yourself and use triton_launch_mode: remote",
        ),
    ],
    ids=["typo", "wrong-type", "perf-analyzer-flags", "docker"],
)
def test_config_file_mistake(tmp_path: Path, mlp: Path, yaml: str, message: str) -> None:
    config = tmp_path / "profile.yaml"
    config.write_text(f"profile_models:\n  mlp:\n    model_path: {mlp}\n{yaml}\n")
    result = run_cli("profile", "-f", str(config), "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 2
    assert message in error_line(result)
    assert not (tmp_path / "run").exists()


# -- the server and the store -------------------------------------------------------------------


def test_http_port_already_taken(tmp_path: Path, mlp: Path) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    config = tmp_path / "profile.yaml"
    config.write_text(f"profile_models:\n  mlp:\n    model_path: {mlp}\ntriton_server_flags:\n  http-port: {port}\n")
    run_dir = tmp_path / "run"
    try:
        result = run_cli("profile", "-f", str(config), "--run-dir", str(run_dir), "--no-report")
    finally:
        holder.close()
    assert result.returncode == 1
    assert error_line(result) == (
        f"error: port {port} (http) is already in use: give another http-port in triton_server_flags "
        "or stop the process that holds it"
    )
    assert wait_until_gone(str(run_dir)) == []


def test_corrupt_store_is_refused_and_kept(tmp_path: Path, mlp: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    store = run_dir / "tritune.db"
    store.write_bytes(bytes(range(256)) * 16)
    before = digest(store)
    for command in (["report", str(run_dir)], ["profile", str(mlp), "--run-dir", str(run_dir), "--no-report"]):
        result = run_cli(*command)
        assert result.returncode == 2
        line = error_line(result)
        assert "tritune.db is not a tritune store (file is not a database)" in line
        assert line.endswith("pass another run directory (the file is kept as it is)")
        assert digest(store) == before
    assert wait_until_gone(str(run_dir)) == []


def test_report_of_a_folder_without_a_run(tmp_path: Path) -> None:
    from tritune.store import Store

    absent = tmp_path / "nowhere"
    result = run_cli("report", str(absent))
    assert result.returncode == 2
    line = error_line(result)
    assert line == f"error: {absent} holds no tritune.db: pass the run directory that `tritune profile` wrote"
    assert not absent.exists()
    Store.in_run_dir(tmp_path / "empty").close()
    result = run_cli("report", str(tmp_path / "empty"))
    assert result.returncode == 2
    line = error_line(result)
    assert line == f"error: the store in {tmp_path / 'empty'} holds no run yet: run `tritune profile` first"
    assert not (tmp_path / "empty" / "reports").exists()


def test_store_from_a_newer_tritune_is_refused_and_kept(tmp_path: Path, mlp: Path) -> None:
    from tritune.store import Store

    run_dir = tmp_path / "run"
    Store.in_run_dir(run_dir).close()
    store = run_dir / "tritune.db"
    with sqlite3.connect(store) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.close()
    before = digest(store)
    result = run_cli(
        "profile", str(mlp), "--run-dir", str(run_dir), "--no-report", *SHORT_MEASUREMENT, "--run-config-search-disable"
    )
    assert result.returncode != 0
    assert "newer" in error_line(result)
    assert digest(store) == before


def test_no_configuration_meets_the_latency_budget(tmp_path: Path, mlp: Path) -> None:
    """The closest config is named as such and kept as best/ and exported, every measurement is
    stored, and the exit status (3) tells a script that the best it finds misses the budget."""
    run_dir, export = tmp_path / "run", tmp_path / "export"
    result = run_cli(
        "profile",
        str(mlp),
        "--run-dir",
        str(run_dir),
        "--no-report",
        "--json",
        "--export",
        str(export),
        *SHORT_MEASUREMENT,
        "--latency-budget",
        "0.0001",
        # The default alone: what is tested is the verdict on a run that meets nothing, not the search.
        "--run-config-search-disable",
        "--confirm-rounds",
        "0",
    )
    assert result.returncode == 3, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "no configuration meets the given constraints;" in result.stdout + result.stderr
    line = error_line(result)
    assert line.startswith("error: no configuration of mlp meets the constraints (perf_latency_p99 <= 0.0001); ")
    assert "loosen the constraint" in line and "widen the search" in line
    (summary,) = json.loads(result.stdout)
    assert summary["constraints_met"] is False and summary["best"] in line
    # Nothing lost: the best and the export written, every measurement stored.
    assert (run_dir / "best" / "config.pbtxt").exists()
    assert (export / "mlp" / "config.pbtxt").exists()
    with sqlite3.connect(run_dir / "tritune.db") as db:
        (count,) = db.execute("SELECT COUNT(*) FROM measurements").fetchone()
    assert count >= summary["measurements"] > 0  # the search's, and any confirm rounds
    assert wait_until_gone(str(run_dir)) == []


# -- slow and huge models (a user's Python-backend models on a server tritune reaches by URL) ------

SLEEPY_PY = """
import time
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        time.sleep(0.5)
        return [
            pb_utils.InferenceResponse([pb_utils.Tensor("y", pb_utils.get_input_tensor_by_name(r, "x").as_numpy())])
            for r in requests
        ]
"""
HUGE_PY = """
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        y = np.ones((1, 4_000_000), np.float32)
        return [pb_utils.InferenceResponse([pb_utils.Tensor("y", y)]) for _ in requests]
"""


@pytest.fixture(scope="module")
def slow_and_huge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with ``sleepy`` (0.5 s a request) and ``huge`` (16 MB a response); its HTTP address."""
    root = tmp_path_factory.mktemp("user-models")
    for name, code, width in (("sleepy", SLEEPY_PY, 4), ("huge", HUGE_PY, 4_000_000)):
        (root / name / "1").mkdir(parents=True)
        (root / name / "1" / "model.py").write_text(code)
        (root / name / "config.pbtxt").write_text(
            f'name: "{name}"\nbackend: "python"\nmax_batch_size: 8\n'
            'input [ { name: "x", data_type: TYPE_FP32, dims: [ 4 ] } ]\n'
            f'output [ {{ name: "y", data_type: TYPE_FP32, dims: [ {width} ] }} ]\n'
        )
    with EmbeddedTriton(root, load_models=["sleepy", "huge"]) as server:
        yield server.endpoints.http
    assert wait_until_gone(str(root)) == []


def test_inference_longer_than_the_measurement_window(tmp_path: Path, slow_and_huge: str) -> None:
    """It was a warning, a table of zeros and exit 0."""
    csv = tmp_path / "sleepy.csv"
    result = run_cli("perf", "sleepy", "-u", slow_and_huge, "-p", "100", "-r", "3", "-f", str(csv))
    assert result.returncode == 1
    assert error_line(result) == (
        "error: 1 of 1 measurements failed: no valid requests recorded within window 1: a request takes longer "
        "than the window, give a longer one (--measurement-interval)"
    )
    assert csv.read_text().startswith("Concurrency,")  # what was measured is still written


def test_huge_outputs_are_measured(slow_and_huge: str) -> None:
    result = run_cli("perf", "huge", "-u", slow_and_huge, "-p", "2000", "-s", "100", "-r", "3")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "Concurrency: 1, throughput: " in result.stdout


def test_a_model_name_too_long_for_a_directory(tmp_path: Path, mlp: Path) -> None:
    """Refused before anything is written: an OSError (File name too long) came from deep in
    the run before."""
    name = "m" * 300
    for command in (["infer", str(mlp), "--name", name], ["profile", str(mlp), "--name", name]):
        result = run_cli(*command, "--run-dir", str(tmp_path / "run")) if command[0] == "profile" else run_cli(*command)
        assert result.returncode == 2
        assert "too long for a directory of the model repository" in error_line(result)
    long_stem = tmp_path / f"{'m' * 250}.onnx"  # a file's name holds 255 bytes: this one fits, its variants' would not
    long_stem.symlink_to(mlp)
    result = run_cli("profile", str(long_stem), "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 2 and error_line(result).endswith("(--name)")
    assert not (tmp_path / "run").exists()


def test_a_file_named_in_other_letters_is_served(tmp_path: Path, mlp: Path) -> None:
    """`infer` refused it up front while `profile` started the server and failed every variant:
    both now serve it under an ASCII name."""
    model = tmp_path / "modèle ü.onnx"
    model.write_bytes(mlp.read_bytes())
    result = run_cli("infer", str(model), "-n", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr


def test_a_range_that_is_empty_names_its_option(mlp: Path) -> None:
    result = run_cli("perf", str(mlp), "--concurrency-range", "0")
    assert result.returncode == 2
    assert error_line(result) == (
        "error: --concurrency-range '0' needs 0 < start <= end and step > 0, e.g. --concurrency-range 1:16:2"
    )
    result = run_cli("perf", str(mlp), "--request-rate-range", "a:b")
    assert result.returncode == 2
    assert error_line(result).startswith("error: --request-rate-range 'a:b' is not start[:end[:step]]")


def test_a_config_file_given_as_a_pipe_is_read(tmp_path: Path, mlp: Path) -> None:
    """`-f <(...)` is a pipe that gives its text once; the command reads the config twice (for
    MODEL's entry, then whole): it said "does not exist". The typo is found on the second read."""
    pipe = tmp_path / "config.fifo"
    os.mkfifo(pipe)
    text = f"profile_models: {{mlp: {{model_path: {mlp}}}}}\nrun_config_serch_mode: brute\n"

    def write() -> None:
        with open(pipe, "w") as writer:
            writer.write(text)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    result = run_cli("profile", str(mlp), "-f", str(pipe), "--run-dir", str(tmp_path / "run"))
    writer.join(timeout=10)
    assert result.returncode == 2
    assert "did you mean 'run_config_search_mode'" in error_line(result)
    result = run_cli("profile", "-f", str(tmp_path))
    assert result.returncode == 2 and "is a folder: give the YAML file" in error_line(result)
