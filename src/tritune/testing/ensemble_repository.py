"""A user's ensemble, written in code: ``pipeline`` (``platform: "ensemble"``) ties two models
of the user's own, each served by Triton's Python backend, for the ensemble tests.

``prep`` scales its input (``raw`` -> ``x``, times :data:`PREP_SCALE`) in numpy; ``scaled``
runs an MLP through ONNX Runtime inside its ``model.py`` (as in ``user_repository``), ``x`` ->
``y``. The ensemble takes ``raw`` and answers ``y``; every model batches (max batch 8).
``bls`` (:func:`write_bls_repository`) is the same pipeline as a BLS model: a Python model whose
code calls ``prep`` and then ``scaled`` by name (``pb_utils.InferenceRequest``).
"""

from __future__ import annotations

from pathlib import Path

from tritune.testing.models import mlp_model
from tritune.testing.user_repository import write_onnx_python_model

WIDTH = 8
PREP_SCALE = 0.5
PREP_PY = f"""
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        return [
            pb_utils.InferenceResponse(
                [pb_utils.Tensor("x", (pb_utils.get_input_tensor_by_name(r, "raw").as_numpy() * {PREP_SCALE})
                 .astype(np.float32))]
            )
            for r in requests
        ]
"""
PREP_PBTXT = f"""name: "prep"
backend: "python"
max_batch_size: 8
input [ {{ name: "raw", data_type: TYPE_FP32, dims: [ {WIDTH} ] }} ]
output [ {{ name: "x", data_type: TYPE_FP32, dims: [ {WIDTH} ] }} ]
instance_group [ {{ count: 1, kind: KIND_CPU }} ]
"""
PIPELINE_PBTXT = f"""# The user's pipeline: prep, then the model.
name: "pipeline"
platform: "ensemble"
max_batch_size: 8
input [ {{ name: "raw", data_type: TYPE_FP32, dims: [ {WIDTH} ] }} ]
output [ {{ name: "y", data_type: TYPE_FP32, dims: [ {WIDTH} ] }} ]
ensemble_scheduling {{
  step [
    {{
      model_name: "prep"
      model_version: -1
      input_map {{ key: "raw" value: "raw" }}
      output_map {{ key: "x" value: "prepared" }}
    }},
    {{
      model_name: "scaled"
      model_version: -1
      input_map {{ key: "x" value: "prepared" }}
      output_map {{ key: "y" value: "y" }}
    }}
  ]
}}
"""


def write_ensemble_repository(root: Path) -> Path:
    """``root`` holding ``pipeline`` (the ensemble), ``prep`` and ``scaled`` (an MLP of width
    :data:`WIDTH` in ``scaled/1/mlp.onnx``, its output times 2); ``root``."""
    version = root / "prep" / "1"
    version.mkdir(parents=True)
    (version / "model.py").write_text(PREP_PY)
    (root / "prep" / "config.pbtxt").write_text(PREP_PBTXT)
    onnx_file = mlp_model(root / "mlp.onnx", width=WIDTH, depth=2)
    write_onnx_python_model(root, "scaled", onnx_file, (("x", (WIDTH,)), ("y", (WIDTH,))), scale=2.0)
    onnx_file.unlink()
    (root / "pipeline" / "1").mkdir(parents=True)  # Triton wants a version directory, even empty
    (root / "pipeline" / "config.pbtxt").write_text(PIPELINE_PBTXT)
    return root


BLS_PY = """
import triton_python_backend_utils as pb_utils


def call(model, name, array, output):
    # BLS: the model is called by its name on the server that serves this one.
    request = pb_utils.InferenceRequest(
        model_name=model, inputs=[pb_utils.Tensor(name, array)], requested_output_names=[output]
    )
    response = request.exec()
    if response.has_error():
        raise pb_utils.TritonModelException(response.error().message())
    return pb_utils.get_output_tensor_by_name(response, output).as_numpy()


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for r in requests:
            try:
                x = call("prep", "raw", pb_utils.get_input_tensor_by_name(r, "raw").as_numpy(), "x")
                y = call("scaled", "x", x, "y")
                responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("y", y)]))
            except pb_utils.TritonModelException as error:
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(str(error))))
        return responses
"""
BLS_PBTXT = f"""name: "bls"
backend: "python"
max_batch_size: 8
input [ {{ name: "raw", data_type: TYPE_FP32, dims: [ {WIDTH} ] }} ]
output [ {{ name: "y", data_type: TYPE_FP32, dims: [ {WIDTH} ] }} ]
instance_group [ {{ count: 1, kind: KIND_CPU }} ]
"""


def write_bls_repository(root: Path) -> Path:
    """The repository of :func:`write_ensemble_repository` with ``bls`` beside ``pipeline``: the
    same pipeline, its calls in code; ``root``."""
    write_ensemble_repository(root)
    version = root / "bls" / "1"
    version.mkdir(parents=True)
    (version / "model.py").write_text(BLS_PY)
    (root / "bls" / "config.pbtxt").write_text(BLS_PBTXT)
    return root
