"""TensorFlow SavedModel to ONNX through tf2onnx (an optional extra: tensorflow + tf2onnx).

tf2onnx has no Python ``from_saved_model``, so its documented CLI runs in a subprocess. The
reference for validation is the tf2onnx output itself run on ONNX Runtime: the later steps
(dynamic batch, shape inference, FP16, optimization) are checked against what tf2onnx produced."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from tritune.errors import ModelError
from tritune.prepare.options import PrepareOptions
from tritune.prepare.sources import Source, onnx_source

INSTALL_HINT = "pip install tensorflow tf2onnx"


def missing_packages() -> list[str]:
    return [name for name in ("tensorflow", "tf2onnx") if importlib.util.find_spec(name) is None]


def import_savedmodel(directory: Path, work_dir: Path, options: PrepareOptions) -> Source:
    missing = missing_packages()
    if missing:
        raise ModelError(
            f"a TensorFlow SavedModel needs {' and '.join(missing)}, not installed: "
            f"{INSTALL_HINT} (or export the model to ONNX yourself)"
        )
    target = work_dir / "exported.onnx"
    command = [
        sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(directory), "--output", str(target),
        "--opset", str(options.opset),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0 or not target.exists():
        lines = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
        raise ModelError(
            f"tf2onnx could not convert {directory} ({lines[-1][:300] if lines else done.returncode}): "
            "check the SavedModel's serving signature"
        )
    return onnx_source(
        "savedmodel",
        target,
        "the tf2onnx conversion on ONNX Runtime (TensorFlow itself is not run)",
        notes=[f"converted with tf2onnx at opset {options.opset}"],
    )
