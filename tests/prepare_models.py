"""Small ONNX models for the prepare tests, built in code (importable: tests/ is on sys.path
through the root conftest)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _save(graph: onnx.GraphProto, path: Path | None, opset: int = 17) -> onnx.ModelProto:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(model, str(path))
    return model


def view_one_model(path: Path | None = None) -> onnx.ModelProto:
    """The traced ``x.view(1, -1)`` pattern at batch 1: x [1, 2, 3] -> Reshape [1, -1] -> MatMul
    W [6, 4] -> y [1, 4]. Made dynamic naively, a batch of 3 returns [1, 12]-shaped garbage."""
    rng = np.random.default_rng(1)
    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["x", "flat_shape"], ["flat"], name="flatten_view"),
            helper.make_node("MatMul", ["flat", "W"], ["y"], name="fc"),
        ],
        "view_one",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        initializer=[
            numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "flat_shape"),
            numpy_helper.from_array(rng.standard_normal((6, 4)).astype(np.float32), "W"),
        ],
    )
    return _save(graph, path)


def pinned_model(path: Path | None = None, batch: int | str = 1) -> onnx.ModelProto:
    """A batch pinned beyond repair: x [1, 4] -> Reshape [-1] (drops the batch) -> Tanh ->
    Reshape [1, -1] -> y [1, 4]. A batch of 3 runs without error and answers [1, 12].
    ``batch``: the input's declared batch ("N": declared dynamic, pinned all the same)."""
    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["x", "to_vector"], ["v"], name="to_vector"),
            helper.make_node("Tanh", ["v"], ["t"]),
            helper.make_node("Reshape", ["t", "to_row"], ["y"], name="to_row"),
        ],
        "pinned",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        initializer=[
            numpy_helper.from_array(np.array([-1], dtype=np.int64), "to_vector"),
            numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "to_row"),
        ],
    )
    return _save(graph, path)


def scalar_input_model(path: Path | None = None) -> onnx.ModelProto:
    """No batch dimension at all: a scalar input."""
    graph = helper.make_graph(
        [helper.make_node("Neg", ["s"], ["y"])],
        "scalar",
        [helper.make_tensor_value_info("s", TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])],
    )
    return _save(graph, path)


def mlp_with_external_data(path: Path, width: int = 32) -> Path:
    """A dynamic-batch MLP whose weights live in ``<path>.data`` beside the ONNX file."""
    rng = np.random.default_rng(3)
    weights = [(rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32) for _ in range(2)]
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W0"], ["h"]),
            helper.make_node("Relu", ["h"], ["r"]),
            helper.make_node("MatMul", ["r", "W1"], ["y"]),
        ],
        "mlp_ext",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", width])],
        initializer=[numpy_helper.from_array(w, f"W{i}") for i, w in enumerate(weights)],
    )
    model = _save(graph, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(
        model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
        location=path.name + ".data", size_threshold=0,
    )  # fmt: skip
    return path
