"""The batch dimension of an ONNX graph: find it, make a fixed one dynamic, and find the Reshape
constants that pin it (pure functions on ModelProto; no IO)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

BATCH_SYMBOL = "batch"


@dataclass(frozen=True)
class BatchInfo:
    """``kind``: "dynamic" (already symbolic), "fixed" (every input starts with ``size``) or
    "none" (no common first dimension, so the model cannot batch; ``reason`` says why)."""

    kind: str
    size: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class ReshapeSuspect:
    """A Reshape whose constant target shape starts with the batch size seen at export time."""

    node: str
    shape: tuple[int, ...]

    def describe(self) -> str:
        return f"Reshape {self.node!r} has the constant shape {list(self.shape)}"


def graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    """The real inputs: before IR 4 every initializer is also listed as a graph input."""
    initializers = {i.name for i in model.graph.initializer}
    return [v for v in model.graph.input if v.name not in initializers]


def _first_dim(value: onnx.ValueInfoProto) -> tuple[bool, int | None]:
    """(has a first dimension, its fixed size or None when symbolic/unknown)."""
    dims = value.type.tensor_type.shape.dim
    if not value.type.tensor_type.HasField("shape") or not dims:
        return False, None
    first = dims[0]
    return True, (first.dim_value if first.HasField("dim_value") and first.dim_value > 0 else None)


def detect_batch(model: onnx.ModelProto) -> BatchInfo:
    tensors = graph_inputs(model) + list(model.graph.output)
    if not graph_inputs(model):
        return BatchInfo("none", reason="the model has no inputs")
    sizes: set[int | None] = set()
    for value in tensors:
        has_dim, size = _first_dim(value)
        if not has_dim:
            return BatchInfo("none", reason=f"tensor {value.name!r} is a scalar, so it has no batch dimension")
        sizes.add(size)
    input_sizes = {_first_dim(v)[1] for v in graph_inputs(model)}
    if input_sizes == {None}:
        return BatchInfo("dynamic")
    if len(input_sizes) == 1:
        (size,) = input_sizes
        return BatchInfo("fixed", size=size)
    shown = ", ".join(sorted("dynamic" if s is None else str(s) for s in input_sizes))
    return BatchInfo("none", reason=f"the inputs' first dimensions differ ({shown}), so none is a batch")


def _set_first_dim(value: onnx.ValueInfoProto, symbol: str) -> None:
    first = value.type.tensor_type.shape.dim[0]
    first.Clear()
    first.dim_param = symbol


def _constant_values(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    values = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return values


def _static_first_dims(model: onnx.ModelProto) -> dict[str, int]:
    """First dimension of every value ONNX's own shape inference can size (on the fixed model)."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # shape inference is a hint here; the stacked-batch check decides
        return {}
    firsts: dict[str, int] = {}
    for value in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        has_dim, size = _first_dim(value)
        if has_dim and size is not None:
            firsts[value.name] = size
    return firsts


def _allows_zero(node: onnx.NodeProto) -> bool:
    return any(a.name == "allowzero" and a.i == 1 for a in node.attribute)


def reshape_suspects(model: onnx.ModelProto, batch_size: int = 1) -> list[ReshapeSuspect]:
    """Reshapes whose constant target starts with ``batch_size``: the classic traced
    ``x.view(1, -1)`` that keeps batch 1 for every batch. A hint for the report; whether the
    batch really is pinned is what the stacked-batch check measures."""
    constants = _constant_values(model)
    suspects = []
    for node in model.graph.node:
        if node.op_type != "Reshape" or len(node.input) < 2 or node.input[1] not in constants:
            continue
        shape = constants[node.input[1]].reshape(-1)
        if shape.size and int(shape[0]) == batch_size:
            suspects.append(ReshapeSuspect(node.name or node.output[0], tuple(int(v) for v in shape)))
    return suspects


def _unfreeze_reshapes(model: onnx.ModelProto, batch_size: int, firsts: dict[str, int]) -> list[str]:
    """Rewrite target shapes ``[B, ...]`` where the Reshape's input starts with B: to ``[-1, ...]``
    when no other entry is -1 (the batch is then inferred from the element count), else to
    ``[0, ...]`` (0 copies the input's first dim; impossible under ``allowzero=1``, which the
    dynamo exporter sets). At batch B the result is identical, so the rewrite never changes what
    the exported model computed; at other batches it follows the input."""
    constants = _constant_values(model)
    changes = []
    for index, node in enumerate(model.graph.node):
        if node.op_type != "Reshape" or len(node.input) < 2 or node.input[1] not in constants:
            continue
        if firsts.get(node.input[0]) != batch_size:
            continue
        shape = constants[node.input[1]].reshape(-1).astype(np.int64)
        if not shape.size or int(shape[0]) != batch_size:
            continue
        fixed = shape.copy()
        if -1 not in shape[1:].tolist():
            fixed[0] = -1
        elif not _allows_zero(node):
            fixed[0] = 0
        else:
            continue
        # A new initializer per node: the old constant may feed other nodes too.
        name = f"{node.input[1]}__tritune_batch_{index}"
        model.graph.initializer.append(numpy_helper.from_array(fixed, name))
        node.input[1] = name
        changes.append(
            f"Reshape {node.name or node.output[0]!r}: constant shape {shape.tolist()} -> {fixed.tolist()} "
            "(the batch dimension follows the input)"
        )
    return changes


def make_batch_dynamic(
    model: onnx.ModelProto, batch_size: int, *, symbol: str = BATCH_SYMBOL, fix_reshapes: bool = True
) -> tuple[onnx.ModelProto, list[str]]:
    """A copy of ``model`` whose inputs and outputs start with ``symbol`` instead of
    ``batch_size``; value_info is cleared because every stored intermediate shape is stale."""
    firsts = _static_first_dims(model) if fix_reshapes else {}
    result = onnx.ModelProto()
    result.CopyFrom(model)
    changes = []
    if fix_reshapes:
        changes.extend(_unfreeze_reshapes(result, batch_size, firsts))
    for value in graph_inputs(result) + list(result.graph.output):
        has_dim, size = _first_dim(value)
        if has_dim and size == batch_size:
            _set_first_dim(value, symbol)
            changes.append(f"{value.name!r}: first dimension {batch_size} -> {symbol!r}")
    del result.graph.value_info[:]
    return result, changes


def link_output_batch(model: onnx.ModelProto, symbol: str = BATCH_SYMBOL) -> list[str]:
    """Outputs that declare a fixed first dimension on a dynamic-batch model (stale exports) get
    the batch symbol; the stacked-batch check verifies that they really follow the batch."""
    changes = []
    for value in model.graph.output:
        has_dim, size = _first_dim(value)
        if has_dim and size is not None:
            _set_first_dim(value, symbol)
            changes.append(f"output {value.name!r}: first dimension {size} -> {symbol!r}")
    return changes
