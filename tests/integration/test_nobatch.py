"""A model without a batch dimension (issue #16), on the real embedded Triton: a scalar int64 ``sr``,
``input`` [-1, -1] and a state with its batch on axis 1. prepare says it is served without
batching, names what it filled in and the lines that would work, takes full shapes, serves the
scalar as dims [1] and proves the config with one request; profile never searches a batch size."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from cli_runner import run_in_process
from profile_flags import SHORT_MEASUREMENT
from tritune.cli import main
from tritune.prepare import InputSpec, PrepareOptions, prepare_model
from tritune.testing.models import vad_model
from tritune.testing.processes import wait_until_gone
from tritune.triton import model_config
from tritune.triton.infer import InferClient
from tritune.triton.model_config import from_pbtxt
from tritune.triton.server import EmbeddedTriton

pytestmark = pytest.mark.triton

FULL_SHAPES = ["--input", "input:1,576", "--input", "state:2,1,128"]


@pytest.fixture(scope="module")
def vad(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return vad_model(tmp_path_factory.mktemp("vad") / "vad.onnx")


def _prepare(vad: Path, repo: Path, *extra: str) -> int:
    return main(["prepare", str(vad), "-o", str(repo), *extra])


def test_prepare_says_without_batching_what_it_filled_in_and_the_lines_that_work(vad, tmp_path, capsys):
    assert _prepare(vad, tmp_path / "repo") == 0
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "repo" / "vad" / "prepare_report.json").read_text())
    expected = [
        "served without batching (max_batch_size 0): full shapes are needed, the batch dimension included "
        "(--input NAME:D1,D2,... or --data)",
        "free dimensions filled in: input[0]=16, input[1]=16, state[1]=16 (the real sizes go in --input or --data)",
        "sr (int64 scalar): filled with random 0/1; a real value (a sample rate, a length) goes in --data",
        "to choose the shapes: --input input:16,16 --input state:2,16,128",
        "to give real inputs: --data inputs.npz (numpy.savez with input [16, 16] float32, "
        "state [2, 16, 128] float32, sr [] int64)",
        "served by Triton: config.pbtxt loaded and answered one request (input [16, 16], state [2, 16, 128], sr [1])",
    ]
    for line in expected:
        assert line in report["notes"]
        assert f"  note: {line}" in out.splitlines()
    assert report["passed"] and report["deployed"] and report["max_batch_size"] == 0
    config = from_pbtxt((tmp_path / "repo" / "vad" / "config.pbtxt").read_text())
    sr = next(t for t in config.input if t.name == "sr")
    assert list(sr.dims) == [1] and not sr.HasField("reshape")
    assert config.max_batch_size == 0 and not config.HasField("dynamic_batching")


@pytest.mark.slow  # the full tier: the fast tier prepares and profiles the model without batching in the other tests
def test_prepare_takes_full_shapes_and_refuses_a_short_one_with_the_full_shape(vad, tmp_path, capsys):
    assert _prepare(vad, tmp_path / "repo", *FULL_SHAPES) == 0
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "repo" / "vad" / "prepare_report.json").read_text())
    assert report["validation"]["inputs"]["input"]["shape"] == [1, 576]
    assert report["validation"]["inputs"]["state"]["shape"] == [2, 1, 128]
    assert not any(n.startswith("free dimensions") for n in report["notes"])
    proven = (
        "served by Triton: config.pbtxt loaded and answered one request (input [1, 576], state [2, 1, 128], sr [1])"
    )
    assert proven in out
    assert _prepare(vad, tmp_path / "repo2", "--input", "input:576") == 2
    err = capsys.readouterr().err
    assert (
        "--input input:576 does not fit the model's shape [-1, -1]: the model is served without batching, "
        "so give the full shape, the batch dimension included (-1 is free), e.g. --input input:1,576"
    ) in err
    assert "leave the batch dimension out" not in err


@pytest.mark.slow  # the full tier: the fast tier prepares and profiles the model without batching in the other tests
def test_a_config_triton_refuses_is_one_problem_naming_its_reason_and_is_not_left_behind(
    vad, tmp_path, capsys, monkeypatch
):
    """The config prepare wrote before #16 (an empty reshape on a non-batching model's scalar)."""
    original = model_config._config_tensor

    def old_rendering(tensor, batched, kind):  # type: ignore[no-untyped-def]
        message = original(tensor, batched, kind)
        if not tensor.shape:
            message.reshape.SetInParent()
        return message

    monkeypatch.setattr(model_config, "_config_tensor", old_rendering)
    assert _prepare(vad, tmp_path / "repo", *FULL_SHAPES) == 1
    captured = capsys.readouterr()
    report = json.loads((tmp_path / "repo" / "vad" / "prepare_report.json").read_text())
    (problem,) = report["problems"]
    assert problem.startswith("the written config.pbtxt does not load in Triton: ")
    assert "cannot have empty reshape for non-batching model" in problem and "\n" not in problem
    assert not report["deployed"] and not (tmp_path / "repo" / "vad" / "config.pbtxt").exists()
    assert "so no config.pbtxt was written" in captured.err
    assert _prepare(vad, tmp_path / "skipped", *FULL_SHAPES, "--no-serve-check") == 0  # the check is what caught it


def test_the_served_scalar_reaches_the_model_as_a_scalar(vad, triton_repo, triton_server: EmbeddedTriton, control):
    options = PrepareOptions(inputs=(InputSpec("input", (1, 576)), InputSpec("state", (2, 1, 128))))
    prepared = prepare_model(vad, triton_repo, "vad_served", options)
    assert prepared.passed, prepared.problems
    control.load("vad_served")
    rng = np.random.default_rng(3)
    feeds = {"input": rng.random((1, 576), np.float32), "state": rng.random((2, 1, 128), np.float32)}
    session = ort.InferenceSession(str(vad), providers=["CPUExecutionProvider"])
    with InferClient(triton_server.endpoints) as client:
        for rate in (8000, 16000):
            served = client.infer("vad_served", feeds | {"sr": np.array([rate], np.int64)})
            outputs = session.run(None, feeds | {"sr": np.array(rate, np.int64)})
            direct = dict(zip(["output", "stateN"], outputs, strict=True))
            for name in ("output", "stateN"):
                np.testing.assert_allclose(served[name], direct[name], rtol=1e-5)
    control.unload("vad_served")


def test_profile_never_searches_a_batch_size_for_a_model_without_one(vad, tmp_path):
    run_dir = tmp_path / "run"
    result = run_in_process(
        "profile", str(vad), "--run-dir", str(run_dir), *SHORT_MEASUREMENT,
        "--run-config-search-max-instance-count", "1", "--run-config-search-max-concurrency", "2",
        "--json", "--no-report", "--confirm-rounds", "0",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (summary,) = json.loads(result.stdout)
    assert summary["best"]
    with sqlite3.connect(run_dir / "tritune.db") as db:
        rows = db.execute("SELECT name, status, serving_json FROM variants").fetchall()
    assert len(rows) >= 2
    for name, status, serving_json in rows:
        serving = json.loads(serving_json)
        assert serving["max_batch_size"] == 0 and serving["dynamic_batching"] is None, name
        assert status != "failed", name
    best = from_pbtxt((run_dir / "best" / "config.pbtxt").read_text())
    assert best.max_batch_size == 0 and not best.HasField("dynamic_batching")
    assert wait_until_gone(str(run_dir)) == []
