"""A user's own Triton model repository, written in code: models tritune did not write, each
served by its own backend (Triton's Python backend here), for the repository-mode tests and the
search benchmark.

``scaled`` is a ``model.py`` running an ONNX file through ONNX Runtime inside, with its own
``parameters`` (an output scale and ONNX Runtime's thread count); ``offset`` declares no tensors
in its config.pbtxt (its ``auto_complete_config`` adds them); ``fixed`` does not batch
(``max_batch_size: 0``). :func:`write_onnx_python_model` writes an entry like ``scaled`` around
any single-input, single-output ONNX file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tritune.testing.models import mlp_model

# The user's model.py: ONNX Runtime inside, settings read from the config's own parameters, the
# tensors' names from its config. Requests the dynamic batcher hands over together run as one batch.
ONNX_MODEL_PY = """
import glob, json, os
import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config["parameters"].items()}
        self.scale = np.float32(params["scale"])
        self.input = config["input"][0]["name"]
        self.output = config["output"][0]["name"]
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(params["intra_op_threads"])
        options.inter_op_num_threads = 1
        here = os.path.dirname(os.path.abspath(__file__))
        (path,) = glob.glob(os.path.join(here, "*.onnx"))
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])

    def execute(self, requests):
        inputs = [pb_utils.get_input_tensor_by_name(r, self.input).as_numpy() for r in requests]
        (outputs,) = self.session.run([self.output], {self.input: np.concatenate(inputs)})
        outputs = (outputs * self.scale).astype(np.float32)
        ends = np.cumsum([len(x) for x in inputs])[:-1]
        return [pb_utils.InferenceResponse([pb_utils.Tensor(self.output, y)]) for y in np.split(outputs, ends)]
"""
SCALED_PBTXT = """name: "scaled"
backend: "python"
max_batch_size: 8
input [ { name: "x", data_type: TYPE_FP32, dims: [ 8 ] } ]
output [ { name: "y", data_type: TYPE_FP32, dims: [ 8 ] } ]
instance_group [ { count: 1, kind: KIND_CPU } ]
parameters { key: "scale" value { string_value: "2.0" } }
parameters { key: "intra_op_threads" value { string_value: "1" } }
"""
# Tensors from auto_complete_config, not from the file (Triton's completed config fills them in).
OFFSET_PY = """
import json
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    @staticmethod
    def auto_complete_config(config):
        if not config.as_dict()["input"]:
            config.add_input({"name": "a", "data_type": "TYPE_FP32", "dims": [4]})
            config.add_output({"name": "b", "data_type": "TYPE_FP32", "dims": [4]})
        return config

    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.offset = np.float32(config["parameters"]["offset"]["string_value"])

    def execute(self, requests):
        return [
            pb_utils.InferenceResponse(
                [pb_utils.Tensor("b", pb_utils.get_input_tensor_by_name(r, "a").as_numpy() + self.offset)]
            )
            for r in requests
        ]
"""
OFFSET_PBTXT = """# The team's own comment: tritune reads it, never rewrites it.
backend: "python"
max_batch_size: 4
dynamic_batching { max_queue_delay_microseconds: 100 }
parameters { key: "offset" value { string_value: "1.5" } }
"""
FIXED_PY = """
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        return [
            pb_utils.InferenceResponse([pb_utils.Tensor("w", pb_utils.get_input_tensor_by_name(r, "v").as_numpy() * 3)])
            for r in requests
        ]
"""
FIXED_PBTXT = """name: "fixed"
backend: "python"
max_batch_size: 0
input [ { name: "v", data_type: TYPE_FP32, dims: [ 3 ] } ]
output [ { name: "w", data_type: TYPE_FP32, dims: [ 3 ] } ]
"""


def _entry(root: Path, name: str, code: str, config: str) -> Path:
    version = root / name / "1"
    version.mkdir(parents=True)
    (version / "model.py").write_text(code)
    (root / name / "config.pbtxt").write_text(config)
    return root / name


def write_user_repository(root: Path) -> Path:
    """``root`` holding ``scaled`` (ONNX Runtime inside, an MLP of width 8 in ``1/mlp.onnx``),
    ``offset`` and ``fixed``; ``root``."""
    for name, code, config in (
        ("scaled", ONNX_MODEL_PY, SCALED_PBTXT),
        ("offset", OFFSET_PY, OFFSET_PBTXT),
        ("fixed", FIXED_PY, FIXED_PBTXT),
    ):
        _entry(root, name, code, config)
    mlp_model(root / "scaled" / "1" / "mlp.onnx", width=8, depth=2)
    return root


def write_onnx_python_model(
    root: Path,
    name: str,
    onnx_file: Path,
    tensors: tuple[tuple[str, tuple[int, ...]], tuple[str, tuple[int, ...]]],
    *,
    max_batch_size: int = 8,
    instances: int = 1,
    scale: float = 1.0,
    intra_op_threads: int = 1,
) -> Path:
    """``<root>/<name>/``: the user's ``model.py`` serving ``onnx_file`` (FP32, a dynamic batch,
    one input and one output: ``tensors`` gives their names and shapes without the batch) through
    ONNX Runtime, with its own ``scale`` and ``intra_op_threads`` parameters; the entry."""
    (source, source_dims), (target, target_dims) = tensors

    def dims(shape: tuple[int, ...]) -> str:
        return ", ".join(str(d) for d in shape)

    config = (
        f'name: "{name}"\n'
        'backend: "python"\n'
        f"max_batch_size: {max_batch_size}\n"
        f'input [ {{ name: "{source}", data_type: TYPE_FP32, dims: [ {dims(source_dims)} ] }} ]\n'
        f'output [ {{ name: "{target}", data_type: TYPE_FP32, dims: [ {dims(target_dims)} ] }} ]\n'
        f"instance_group [ {{ count: {instances}, kind: KIND_CPU }} ]\n"
        f'parameters {{ key: "scale" value {{ string_value: "{scale}" }} }}\n'
        f'parameters {{ key: "intra_op_threads" value {{ string_value: "{intra_op_threads}" }} }}\n'
    )
    entry = _entry(root, name, ONNX_MODEL_PY, config)
    shutil.copyfile(onnx_file, entry / "1" / Path(onnx_file).name)
    return entry
