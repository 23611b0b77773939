"""``tritune prepare`` on a real TensorFlow SavedModel (random weights, made here): converted by
tf2onnx, checked against TensorFlow's own outputs of the SavedModel, not against tf2onnx's.

Not collected by the suite's pytest (not ``test_*.py``): test_prepare_savedmodel.py runs these
cases in a pytest process of their own, because TensorFlow, once imported, stays loaded and the
Triton compiler torch imports later in the same process crashes beside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from tritune.cli import main
from tritune.prepare import PrepareOptions, from_tensorflow, prepare_model
from tritune.triton.model_config import from_pbtxt

FEATURES, HIDDEN, CLASSES = 8, 16, 4
# Several batch sizes, none of them the validation batch (3) prepare checks itself.
BATCHES = (1, 2, 5, 17)


def _tf() -> Any:
    # Imported where it is used: TensorFlow is slow to import, and only these tests need it here.
    import tensorflow as tf

    return tf


def save_classifier(path: Path, seed: int) -> Path:
    """A two-input, two-output classifier with random weights, saved with its serving signature
    (batch dimension None, so any batch)."""
    tf = _tf()
    rng = np.random.default_rng(seed)

    class Classifier(tf.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.w1 = tf.Variable(rng.standard_normal((FEATURES, HIDDEN)).astype(np.float32))
            self.b1 = tf.Variable(rng.standard_normal(HIDDEN).astype(np.float32))
            self.w2 = tf.Variable(rng.standard_normal((HIDDEN, CLASSES)).astype(np.float32))

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, FEATURES], tf.float32, name="features"),
                tf.TensorSpec([None, 1], tf.float32, name="temperature"),
            ]
        )
        def __call__(self, features: Any, temperature: Any) -> dict[str, Any]:
            hidden = tf.nn.relu(tf.matmul(features, self.w1) + self.b1)
            logits = tf.matmul(hidden, self.w2) / (1.0 + tf.abs(temperature))
            return {"scores": tf.nn.softmax(logits), "hidden": hidden}

    module = Classifier()
    tf.saved_model.save(module, str(path), signatures=module.__call__)
    return path


def _inputs(batch: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "features": rng.standard_normal((batch, FEATURES)).astype(np.float32),
        "temperature": rng.standard_normal((batch, 1)).astype(np.float32),
    }


def _tensorflow_outputs(saved: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The SavedModel as TensorFlow runs it: loaded afresh, its serving signature called."""
    tf = _tf()
    signature = tf.saved_model.load(str(saved)).signatures["serving_default"]
    return {name: tensor.numpy() for name, tensor in signature(**{k: tf.constant(v) for k, v in feeds.items()}).items()}


@pytest.fixture(scope="module")
def saved_classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_classifier(tmp_path_factory.mktemp("savedmodel") / "classifier", seed=0)


def test_savedmodel_is_converted_with_a_dynamic_batch_and_matches_tensorflow(saved_classifier, tmp_path, capsys):
    repo = tmp_path / "repo"
    code = main(["prepare", str(saved_classifier), "-o", str(repo), "--max-batch-cap", "4", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Traceback" not in err
    report = json.loads(out)
    assert report["passed"] and report["deployed"], report["problems"]
    # prepare's own validation ran TensorFlow, not the ONNX file tf2onnx wrote.
    assert report["source"]["kind"] == "savedmodel"
    assert "TensorFlow" in report["source"]["reference"]
    (result,) = report["validation"]["results"]
    assert result["passed"] and "signature 'serving_default'" in result["label"]
    assert report["batch"]["stacked_check"]["passed"]

    model_dir = repo / "classifier"
    config = from_pbtxt((model_dir / "config.pbtxt").read_text())
    assert config.max_batch_size >= 1 and config.HasField("dynamic_batching")
    assert sorted(i.name for i in config.input) == ["features", "temperature"]
    assert sorted(o.name for o in config.output) == ["hidden", "scores"]
    served = model_dir / "1" / "model.onnx"
    graph = onnx.load(str(served)).graph
    for tensor in [*graph.input, *graph.output]:
        batch_dim = tensor.type.tensor_type.shape.dim[0]
        assert batch_dim.dim_param and not batch_dim.HasField("dim_value"), tensor.name

    session = ort.InferenceSession(str(served), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    for batch in BATCHES:
        feeds = _inputs(batch, seed=batch)
        expected = _tensorflow_outputs(saved_classifier, feeds)
        got = dict(zip(names, session.run(names, feeds), strict=True))
        assert set(got) == set(expected) == {"scores", "hidden"}
        for name, value in expected.items():
            assert got[name].shape == value.shape == (batch, CLASSES if name == "scores" else HIDDEN)
            np.testing.assert_allclose(got[name], value, rtol=1e-4, atol=1e-5, err_msg=f"{name} at batch {batch}")
        # The outputs are not trivially alike: each row of scores is a distribution of its own.
        np.testing.assert_allclose(got["scores"].sum(axis=1), 1.0, rtol=1e-5)


def test_a_conversion_unlike_the_savedmodel_fails_validation(saved_classifier, tmp_path, monkeypatch):
    """The reference is TensorFlow: a conversion of other weights (same names and shapes) runs
    fine on ONNX Runtime and passes the batch check, and is still caught."""
    other = save_classifier(tmp_path / "other", seed=1)
    convert = from_tensorflow._convert

    def convert_the_other(directory: Path, signature: str, target: Path, opset: int) -> None:
        convert(other, signature, target, opset)

    monkeypatch.setattr(from_tensorflow, "_convert", convert_the_other)
    options = PrepareOptions(max_batch_size=2, serve_check=False)
    prepared = prepare_model(saved_classifier, tmp_path / "repo", options=options)
    assert not prepared.passed
    assert prepared.config is None and not (prepared.directory / "config.pbtxt").exists()
    (problem,) = prepared.problems
    assert problem.startswith("numeric validation failed: fp32 vs the SavedModel (signature 'serving_default')")
    assert prepared.report.batch.stacked_check is not None and prepared.report.batch.stacked_check.passed


def test_savedmodel_tensorflow_cannot_load_or_without_signature_is_one_line(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "saved_model.pb").write_bytes(b"")
    assert main(["prepare", str(empty), "-o", str(tmp_path / "repo")]) == 1
    err = capsys.readouterr().err
    assert f"TensorFlow cannot load the SavedModel {empty} (" in err
    assert "save it with tf.saved_model.save(model, path)" in err
    assert "Traceback" not in err

    unsigned = tmp_path / "unsigned"
    _tf().saved_model.save(_tf().Module(), str(unsigned))
    assert main(["prepare", str(unsigned), "-o", str(tmp_path / "repo")]) == 1
    err = capsys.readouterr().err
    assert f"the SavedModel {unsigned} has no serving signature: save it with" in err
    assert "Traceback" not in err
    assert not (tmp_path / "repo").exists()
