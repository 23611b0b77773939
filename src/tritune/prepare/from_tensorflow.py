"""TensorFlow SavedModel to ONNX through tf2onnx (an optional extra: tensorflow + tf2onnx).

TensorFlow loads the SavedModel in this process and its serving signature is picked here
(``serving_default``, else the first), so tf2onnx converts that signature and no other. The
same signature, called by TensorFlow, is the reference every later step is validated against,
as the PyTorch module is for a PyTorch source: checking against tf2onnx's own output would
leave the conversion itself unchecked. tf2onnx has no Python ``from_saved_model``, so its
documented CLI runs in a subprocess."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tritune.errors import ModelError
from tritune.prepare.batch import detect_batch
from tritune.prepare.options import PrepareOptions
from tritune.prepare.sources import Source
from tritune.prepare.validate import Runner, error_text
from tritune.triton.model_config import load_onnx

INSTALL_HINT = "pip install tensorflow tf2onnx"
# The key tf.saved_model.save gives the signature it exports, and the one TF Serving calls.
SERVING_SIGNATURE = "serving_default"


def missing_packages() -> list[str]:
    return [name for name in ("tensorflow", "tf2onnx") if importlib.util.find_spec(name) is None]


def _tensorflow() -> Any:
    # TensorFlow's C++ side prints start-up notices to stderr, where the CLI's diagnostics go:
    # this quiets those it reads the setting for (the CPU-feature one; TF 2.21 prints its oneDNN
    # line before reading it). A user's own setting wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    return tf


def load_savedmodel(directory: Path) -> Any:
    tf = _tensorflow()
    try:
        return tf.saved_model.load(str(directory))
    except Exception as error:
        raise ModelError(
            f"TensorFlow cannot load the SavedModel {directory} ({error_text(error)}): "
            "save it with tf.saved_model.save(model, path)"
        ) from None


def serving_signature(model: Any, directory: Path) -> tuple[str, Any]:
    """The signature to convert and to run: ``serving_default`` when there is one, else the
    first public one (tf2onnx's own choice when it is given none)."""
    names = [name for name in model.signatures if not name.startswith("_")]
    if not names:
        raise ModelError(
            f"the SavedModel {directory} has no serving signature: save it with "
            "tf.saved_model.save(model, path, signatures=a tf.function with an input_signature)"
        )
    name = SERVING_SIGNATURE if SERVING_SIGNATURE in names else names[0]
    return name, model.signatures[name]


def signature_names(signature: Any) -> tuple[list[str], list[str]]:
    """A signature's input names (its keyword arguments) and output names (the keys of the dict
    it returns): the names tf2onnx gives the ONNX inputs and outputs."""
    _, kwargs = signature.structured_input_signature
    return list(kwargs), list(signature.structured_outputs)


def savedmodel_runner(signature: Any, input_names: list[str], output_names: list[str]) -> Runner:
    tf = _tensorflow()

    def run(feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        outputs = signature(**{name: tf.constant(feeds[name]) for name in input_names})
        return {name: np.asarray(outputs[name].numpy()) for name in output_names}

    return run


def _convert(directory: Path, signature: str, target: Path, opset: int) -> None:
    command = [
        sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(directory), "--signature_def", signature,
        "--output", str(target), "--opset", str(opset),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0 or not target.exists():
        lines = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
        raise ModelError(
            f"tf2onnx could not convert {directory} ({lines[-1][:300] if lines else done.returncode}): "
            "check the SavedModel's serving signature"
        )


def import_savedmodel(directory: Path, work_dir: Path, options: PrepareOptions) -> Source:
    missing = missing_packages()
    if missing:
        raise ModelError(
            f"a TensorFlow SavedModel needs {' and '.join(missing)}, not installed: "
            f"{INSTALL_HINT} (or export the model to ONNX yourself)"
        )
    model = load_savedmodel(directory)
    name, signature = serving_signature(model, directory)
    input_names, output_names = signature_names(signature)
    target = work_dir / "exported.onnx"
    _convert(directory, name, target, options.opset)
    exported = load_onnx(target, load_external_data=True)
    onnx_names = (sorted(i.name for i in exported.graph.input), sorted(o.name for o in exported.graph.output))
    if onnx_names != (sorted(input_names), sorted(output_names)):
        # The reference is called by these names: a renamed tensor would compare nothing.
        raise ModelError(
            f"tf2onnx named the ONNX inputs {onnx_names[0]} and outputs {onnx_names[1]}, the signature "
            f"{name!r} takes {sorted(input_names)} and returns {sorted(output_names)}: "
            "export the model to ONNX yourself"
        )
    batch = detect_batch(exported)
    tf = _tensorflow()
    return Source(
        "savedmodel",
        target,
        savedmodel_runner(signature, input_names, output_names),
        f"the SavedModel (signature {name!r}) on TensorFlow {tf.__version__}",
        # A signature with a fixed batch accepts no other, and the ONNX file keeps that batch.
        reference_batch=batch.size if batch.kind == "fixed" else None,
        notes=[f"converted with tf2onnx at opset {options.opset} (signature {name!r})"],
    )
