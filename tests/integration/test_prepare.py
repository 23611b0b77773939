"""``tritune prepare`` on real ONNX models: the MiniLM wheel, the onnx wheel's light ResNet-50
(fixed batch 1), models with a batch pinned by Reshape, external data, and bad input."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from prepare_models import mlp_with_external_data, pinned_model, view_one_model
from tritune.cli import main
from tritune.errors import ModelError, UsageError
from tritune.prepare import (
    InputSpec,
    PrepareOptions,
    ensure_prepared,
    load_prepared,
    precision_variant,
    prepare_model,
    search_dimensions,
)
from tritune.testing.models import MINILM_INPUT_NAMES
from tritune.triton.control import ModelControl
from tritune.triton.infer import InferClient
from tritune.triton.model_config import from_pbtxt
from tritune.triton.server import EmbeddedTriton

# Short sweeps: the rule is unit-tested; here it only has to run on a real model.
QUICK = {"max_batch_cap": 4, "max_batch_min_time_s": 0.05}
MINILM_INPUTS = tuple(InputSpec(n, (8,)) for n in MINILM_INPUT_NAMES)


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _light_resnet50() -> Path:
    return Path(onnx.__file__).parent / "backend/test/data/light/light_resnet50.onnx"


@pytest.fixture(scope="module")
def prepared_minilm(tmp_path_factory: pytest.TempPathFactory, minilm_onnx: Path):
    options = PrepareOptions(inputs=MINILM_INPUTS, precisions=("fp32", "fp16"), **QUICK)
    return prepare_model(minilm_onnx, tmp_path_factory.mktemp("minilm-repo"), "minilm", options)


def test_minilm_is_validated_in_fp32_and_fp16(prepared_minilm):
    prepared = prepared_minilm
    assert prepared.passed, prepared.problems
    report = json.loads(prepared.report_path.read_text())
    assert report["batch"]["original"] == "dynamic" and report["batch"]["dynamic"]
    assert report["batch"]["stacked_check"]["passed"]
    results = {r["label"].split()[0]: r for r in report["validation"]["results"]}
    assert set(results) == {"fp32", "fp16"}
    assert report["validation"]["inputs"]["input_ids"] == {"shape": [3, 8], "dtype": "int64"}
    fp32 = results["fp32"]["outputs"][0]
    fp16 = results["fp16"]["outputs"][0]
    assert fp32["name"] == "last_hidden_state" and fp32["passed"] and fp32["max_abs"] < 1e-4
    # FP16 really changed the numbers, and stayed inside its tolerance.
    assert 0 < fp16["max_abs"] < 2e-2 + 2e-2 * 10 and fp16["mismatched"] == 0
    print(f"minilm fp16 max abs {fp16['max_abs']:.3g}, max rel {fp16['max_rel']:.3g}")


def test_minilm_fp16_file_has_fp16_weights_and_fp32_io(prepared_minilm):
    fp16 = onnx.load(str(prepared_minilm.model_files["fp16"]))
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in fp16.graph.initializer)
    assert fp16.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    session = _session(prepared_minilm.model_files["fp16"])
    assert [i.type for i in session.get_inputs()] == ["tensor(int64)"] * 3


def test_minilm_config_follows_the_measured_max_batch_search(prepared_minilm):
    prepared = prepared_minilm
    search = prepared.report.max_batch_search
    assert search is not None
    assert search.stop_reason in ("saturated", "cap", "out_of_memory")
    assert [s.batch_size for s in search.steps][:2] == [1, 2]
    assert all(s.throughput and s.throughput > 0 for s in search.steps if s.status in ("kept", "saturated"))
    print(f"minilm max-batch search: {[(s.batch_size, round(s.throughput or 0, 1)) for s in search.steps]}")
    config = from_pbtxt((prepared.directory / "config.pbtxt").read_text())
    assert config.max_batch_size == search.max_batch_size == prepared.max_batch_size >= 1
    # The report on disk keeps the key of the first reports, so older prepared folders load.
    assert json.loads(prepared.report_path.read_text())["sweep"] == search.as_dict()
    assert config.HasField("dynamic_batching")
    assert [i.name for i in config.input] == ["input_ids", "attention_mask", "token_type_ids"]
    assert list(config.output[0].dims) == [-1, 384]
    assert (prepared.directory / "1" / "model.onnx").exists() and (prepared.directory / "1" / "model.py").exists()


def test_minilm_reads_back_for_the_search(prepared_minilm, tmp_path):
    again = load_prepared(prepared_minilm.directory)
    assert ensure_prepared(prepared_minilm.directory, tmp_path).report == again.report  # no second prepare
    assert not any(tmp_path.iterdir())
    assert again.model_files == prepared_minilm.model_files
    assert again.max_batch_size == prepared_minilm.max_batch_size and again.config is not None
    dims = search_dimensions(again)
    assert dims["precision"] == ("fp32", "fp16")
    assert () in dims["execution_providers"] and ("CPUExecutionProvider",) in dims["execution_providers"]
    assert dims["max_batch_size"][0] == 1 and dims["max_batch_size"][-1] == again.max_batch_size


@pytest.mark.triton
def test_prepared_minilm_serves_on_triton(
    triton_repo: Path, triton_server: EmbeddedTriton, control: ModelControl, minilm_onnx
):
    options = PrepareOptions(inputs=MINILM_INPUTS, max_batch_size=4)
    prepared = prepare_model(minilm_onnx, triton_repo, "prepared_minilm", options)
    assert prepared.passed, prepared.problems
    control.load("prepared_minilm")
    rng = np.random.default_rng(5)
    feeds = {n: rng.integers(0, 2, (2, 8)).astype(np.int64) for n in MINILM_INPUT_NAMES}
    feeds["input_ids"] = rng.integers(0, 1000, (2, 8)).astype(np.int64)
    with InferClient(triton_server.endpoints) as client:
        served = client.infer("prepared_minilm", feeds)["last_hidden_state"]
    direct = _session(minilm_onnx).run(["last_hidden_state"], feeds)[0]
    np.testing.assert_allclose(served, direct, atol=1e-4, rtol=1e-3)
    control.unload("prepared_minilm")


@pytest.fixture(scope="module")
def prepared_resnet(tmp_path_factory: pytest.TempPathFactory):
    options = PrepareOptions(precisions=("fp32", "fp16"), max_batch_cap=2, max_batch_min_time_s=0.05)
    return prepare_model(_light_resnet50(), tmp_path_factory.mktemp("resnet-repo"), options=options)


def test_light_resnet50_fixed_batch_becomes_dynamic_and_passes_the_stacked_check(prepared_resnet):
    prepared = prepared_resnet
    assert prepared.passed, prepared.problems
    report = prepared.report
    assert report.batch.original == "fixed 1" and prepared.batch_dynamic
    check = report.batch.stacked_check
    assert check is not None and check.passed and check.label == "batch 3 vs 3 x batch 1 stacked"
    # The flatten before the classifier baked batch 1 in; prepare rewrote it and says so.
    assert any("Reshape 'n173'" in c and "[1, 2048] -> [-1, 2048]" in c for c in report.changes)
    session = _session(prepared.model_files["fp32"])
    assert session.get_inputs()[0].shape[0] == "batch"
    out = session.run(None, {"gpu_0/data_0": np.zeros((5, 3, 224, 224), np.float32)})[0]
    assert out.shape == (5, 1000)
    config = prepared.config
    assert config is not None and config.max_batch_size >= 1 and list(config.input[0].dims) == [3, 224, 224]


@pytest.mark.slow  # the pinned path runs on the small pinned models in the fast tier
def test_light_resnet50_without_the_reshape_fix_is_reported_as_pinned(tmp_path):
    options = PrepareOptions(fix_reshapes=False, max_batch_size=4)
    prepared = prepare_model(_light_resnet50(), tmp_path, "r50", options)
    assert not prepared.passed and not prepared.deployed
    assert "pinned" in prepared.problems[0] and "n173" in prepared.problems[0]
    assert prepared.report.batch.reshape_suspects == ("Reshape 'n173' has the constant shape [1, 2048]",)
    assert not (tmp_path / "r50" / "config.pbtxt").exists()


def test_a_reshape_that_pins_batch_one_is_reported_and_nothing_is_served(tmp_path, capsys):
    model = tmp_path / "pinned.onnx"
    pinned_model(model)
    code = main(["prepare", str(model), "-o", str(tmp_path / "repo"), "--max-batch-size", "4"])
    captured = capsys.readouterr()
    assert code == 1
    assert "the batch dimension is pinned (y: shape [1, 12], expected [3, 4])" in captured.err
    assert "Reshape 'to_row' has the constant shape [1, -1]" in captured.err
    assert "--force" in captured.err
    assert "stacked-batch check: FAILED" in captured.out
    report = json.loads((tmp_path / "repo" / "pinned" / "prepare_report.json").read_text())
    assert report["passed"] is False and report["deployed"] is False
    assert not (tmp_path / "repo" / "pinned" / "config.pbtxt").exists()


@pytest.mark.parametrize("batch", [pytest.param(1, marks=pytest.mark.slow), "N"], ids=["fixed", "declared-dynamic"])
def test_no_dynamic_batch_serves_a_pinned_model_without_batching(tmp_path, capsys, batch):
    """The pinned line advises --no-dynamic-batch: with it, the model is served as exported
    (it failed with the same advice before, for a model that declares its batch dynamic)."""
    model = tmp_path / "pinned.onnx"
    pinned_model(model, batch=batch)
    code = main(["prepare", str(model), "-o", str(tmp_path / "repo"), "--no-dynamic-batch"])
    captured = capsys.readouterr()
    assert code == 0, captured.err[-3000:]
    assert "batch dimension is pinned" not in captured.err
    config = (tmp_path / "repo" / "pinned" / "config.pbtxt").read_text()
    assert "max_batch_size: 0" in config or "max_batch_size" not in config


def test_forcing_a_pinned_model_serves_it_as_exported_without_batching(tmp_path):
    model = tmp_path / "pinned.onnx"
    pinned_model(model)
    prepared = prepare_model(model, tmp_path / "repo", options=PrepareOptions(force=True))
    assert not prepared.passed and prepared.deployed
    assert prepared.config is not None and prepared.config.max_batch_size == 0
    assert list(prepared.config.input[0].dims) == [1, 4]  # the fixed shape, as exported
    assert prepared.report.validation.results[0].passed  # correct at its own batch


def test_view_one_model_is_unpinned_and_validated_against_the_original(tmp_path):
    model = tmp_path / "view_one.onnx"
    view_one_model(model)
    prepared = prepare_model(model, tmp_path / "repo", options=PrepareOptions(max_batch_size=8))
    assert prepared.passed, prepared.problems
    assert prepared.max_batch_size == 8 and prepared.report.max_batch_search is None
    fp32 = prepared.report.validation.results[0]
    # The reference is the original fixed-batch model run once per sample.
    assert fp32.label == "fp32 vs the original ONNX model on ONNX Runtime" and fp32.passed
    max_abs = fp32.outputs[0].max_abs
    assert max_abs is not None and max_abs < 1e-5


def test_external_data_travels_with_the_model(tmp_path):
    source = mlp_with_external_data(tmp_path / "src" / "mlp.onnx")
    prepared = prepare_model(source, tmp_path / "repo", "mlp", PrepareOptions(precisions=("fp32", "fp16"), **QUICK))
    assert prepared.passed, prepared.problems
    served = prepared.directory / "1" / "model.onnx"
    out = _session(served).run(None, {"x": np.ones((2, 32), np.float32)})[0]
    expected = _session(source).run(None, {"x": np.ones((2, 32), np.float32)})[0]
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    fp16 = precision_variant(prepared.model_files["fp32"], "fp16", tmp_path / "again.fp16.onnx")
    assert _session(fp16).run(None, {"x": np.ones((2, 32), np.float32)})[0].dtype == np.float32


def test_user_data_and_optimization(tmp_path):
    source = mlp_with_external_data(tmp_path / "src" / "mlp.onnx")
    data = tmp_path / "inputs.npz"
    np.savez(data, x=np.random.default_rng(2).standard_normal((4, 32)).astype(np.float32))
    options = PrepareOptions(data=data, optimize="basic", max_batch_size=2)
    prepared = prepare_model(source, tmp_path / "repo", "mlp", options)
    assert prepared.passed, prepared.problems
    assert prepared.report.validation.inputs["x"].shape == (4, 32)
    assert "graph optimized offline by ONNX Runtime (basic)" in prepared.report.changes


def test_cli_prepares_and_prints_json(tmp_path, capsys):
    source = mlp_with_external_data(tmp_path / "src" / "mlp.onnx")
    code = main(["prepare", str(source), "-o", str(tmp_path / "repo"), "--max-batch-size", "2", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["passed"] and report["max_batch_size"] == 2 and report["name"] == "mlp"
    assert (tmp_path / "repo" / "mlp" / "config.pbtxt").exists()


def test_corrupt_onnx_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07garbage that is not a protobuf" * 10)
    assert main(["prepare", str(bad), "-o", str(tmp_path / "repo")]) == 1
    err = capsys.readouterr().err
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "is not a readable ONNX model" in error_lines[0]
    assert not (tmp_path / "repo").exists()


def test_unsupported_file_type_exits_with_usage(tmp_path, capsys):
    bad = tmp_path / "model.h5"
    bad.write_bytes(b"x")
    assert main(["prepare", str(bad)]) == 2
    assert "file type '.h5' is not supported" in capsys.readouterr().err


def test_shapes_that_do_not_match_exit_with_usage(tmp_path, capsys):
    source = mlp_with_external_data(tmp_path / "src" / "mlp.onnx")
    assert main(["prepare", str(source), "-o", str(tmp_path / "repo"), "--input", "x:5"]) == 2
    assert "--input x:5 does not fit the model's shape [32]" in capsys.readouterr().err
    with pytest.raises(UsageError, match="unknown input"):
        prepare_model(source, tmp_path / "repo", options=PrepareOptions(inputs=(InputSpec("nope", (3,)),)))


@pytest.mark.parametrize("absent", [("tensorflow", "tf2onnx"), ("tf2onnx",)])
def test_tensorflow_missing_is_a_clear_error(tmp_path, capsys, monkeypatch, absent):
    # The test setup installs both: a None in sys.modules makes a package absent for real, to
    # `import` (ModuleNotFoundError) and to importlib.util.find_spec (None) alike.
    for package in absent:
        monkeypatch.setitem(sys.modules, package, None)
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"")
    assert main(["prepare", str(saved), "-o", str(tmp_path / "repo")]) == 1
    err = capsys.readouterr().err
    assert f"a TensorFlow SavedModel needs {' and '.join(absent)}, not installed" in err
    assert "pip install tensorflow tf2onnx" in err
    assert "Traceback" not in err
    assert not (tmp_path / "repo").exists()
    with pytest.raises(ModelError, match=absent[0]):
        prepare_model(saved, tmp_path / "repo")


def test_output_directory_of_someone_else_is_not_overwritten(tmp_path):
    source = mlp_with_external_data(tmp_path / "src" / "mlp.onnx")
    (tmp_path / "repo" / "mlp").mkdir(parents=True)
    (tmp_path / "repo" / "mlp" / "precious.txt").write_text("keep")
    with pytest.raises(UsageError, match="not made by tritune prepare"):
        prepare_model(source, tmp_path / "repo", options=PrepareOptions(max_batch_size=2))
    assert (tmp_path / "repo" / "mlp" / "precious.txt").read_text() == "keep"
    assert os.listdir(tmp_path / "repo" / "mlp") == ["precious.txt"]
