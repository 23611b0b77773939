"""Triton ModelConfig: read a model's signature from ONNX, build the protobuf, write pbtxt."""

from __future__ import annotations

from pathlib import Path

import onnx
from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2 as mc

from tritune.domain.devices import InstanceKind
from tritune.domain.model import DYNAMIC, ModelSignature, TensorSpec
from tritune.domain.serving import ServingConfig
from tritune.errors import ModelError
from tritune.triton.backends import add_server_warmup, apply_backend_options

_ONNX_TO_TRITON: dict[int, str] = {
    onnx.TensorProto.FLOAT: "TYPE_FP32",
    onnx.TensorProto.FLOAT16: "TYPE_FP16",
    onnx.TensorProto.DOUBLE: "TYPE_FP64",
    onnx.TensorProto.BFLOAT16: "TYPE_BF16",
    onnx.TensorProto.INT8: "TYPE_INT8",
    onnx.TensorProto.INT16: "TYPE_INT16",
    onnx.TensorProto.INT32: "TYPE_INT32",
    onnx.TensorProto.INT64: "TYPE_INT64",
    onnx.TensorProto.UINT8: "TYPE_UINT8",
    onnx.TensorProto.UINT16: "TYPE_UINT16",
    onnx.TensorProto.UINT32: "TYPE_UINT32",
    onnx.TensorProto.UINT64: "TYPE_UINT64",
    onnx.TensorProto.BOOL: "TYPE_BOOL",
    onnx.TensorProto.STRING: "TYPE_STRING",
}


def load_onnx(path: str | Path, *, load_external_data: bool = False) -> onnx.ModelProto:
    """Read an ONNX file, turning every way it can be wrong into a ModelError with the fix."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"model file {path} does not exist: check the path")
    if not path.is_file():
        raise ModelError(f"{path} is not a file: pass the .onnx file itself")
    try:
        model = onnx.load(str(path), load_external_data=load_external_data)
    except Exception as error:  # onnx raises DecodeError, ValueError, OSError...
        raise ModelError(
            f"{path} is not a readable ONNX model ({type(error).__name__}): re-export it or check the file is complete"
        ) from None
    if not model.graph.node and not model.graph.output:
        raise ModelError(f"{path} holds no ONNX graph: re-export the model or check the file is complete")
    return model


def _tensor_spec(value: onnx.ValueInfoProto) -> TensorSpec:
    tensor_type = value.type.tensor_type
    if not value.type.HasField("tensor_type"):
        kind = (value.type.WhichOneof("value") or "unknown type").removesuffix("_type").replace("_", " ")
        raise ModelError(
            f"tensor {value.name!r} is a {kind}, not a plain tensor, which Triton cannot carry: "
            "export the model with plain tensor inputs and outputs"
        )
    triton_type = _ONNX_TO_TRITON.get(tensor_type.elem_type)
    if triton_type is None:
        raise ModelError(
            f"tensor {value.name!r} has ONNX element type {tensor_type.elem_type}, which Triton cannot carry"
        )
    shape = tuple(
        d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else DYNAMIC for d in tensor_type.shape.dim
    )
    return TensorSpec(value.name, triton_type, shape)


def signature_from_onnx(model: onnx.ModelProto) -> ModelSignature:
    initializers = {i.name for i in model.graph.initializer}
    inputs = tuple(_tensor_spec(v) for v in model.graph.input if v.name not in initializers)
    outputs = tuple(_tensor_spec(v) for v in model.graph.output)
    return ModelSignature(inputs, outputs)


def read_signature(path: str | Path) -> ModelSignature:
    return signature_from_onnx(load_onnx(path))


# The runner parameter naming the tensors the model holds as scalars (shape []) that a
# non-batching config serves as [1]: the runner reshapes them on the way in and out.
SCALARS_PARAMETER = "scalar_tensors"


def _config_tensor(tensor: TensorSpec, batched: bool, kind: type) -> object:
    dims = list(tensor.shape[1:] if batched else tensor.shape)
    # Triton needs at least one dim. A batching model's per-sample scalar is [1] with reshape to
    # [] (the model sees [batch]); a non-batching model may have no empty reshape ("scalar
    # tensors are not supported"), so its scalar is a plain [1] the runner reshapes (scalars()).
    message = kind(name=tensor.name, data_type=mc.DataType.Value(tensor.triton_type), dims=dims or [1])
    if not dims and batched:
        message.reshape.SetInParent()  # type: ignore[attr-defined]
    return message


def scalars(signature: ModelSignature, batched: bool) -> list[str]:
    """The tensors a non-batching config serves as [1] although the model holds them as []."""
    return [] if batched else [t.name for t in signature.inputs + signature.outputs if not t.shape]


def build_model_config(name: str, signature: ModelSignature, serving: ServingConfig) -> mc.ModelConfig:
    """The complete config for running ``signature`` through the tritune runner.

    ``serving.max_batch_size`` > 0 needs a dynamic first dimension on every tensor; the
    first dimension is then dropped from the config's dims, as Triton expects.
    """
    for tensor in signature.inputs + signature.outputs:
        if tensor.triton_type == "TYPE_STRING":
            raise ModelError(
                f"tensor {tensor.name!r} is a string (BYTES) tensor, which the tritune runner does not "
                "support yet: export the model with numeric inputs and outputs"
            )
    batched = serving.max_batch_size > 0
    if batched and not signature.batch_is_dynamic:
        raise ModelError(
            f"model {name!r} has a fixed first dimension, so it cannot batch (max_batch_size "
            f"{serving.max_batch_size}): use max_batch_size 0 or make the batch dimension dynamic "
            "(tritune prepare)"
        )
    config = serving_model_config(name, serving)
    if serving.instance_kind == InstanceKind.KIND_GPU:
        # The Python backend copies every input to the host unless told otherwise; "no" hands the
        # runner GPU-resident inputs (ensembles, CUDA shared memory) as they are, for DLPack.
        config.parameters["FORCE_CPU_ONLY_INPUT_TENSORS"].string_value = "no"
    config.input.extend(_config_tensor(t, batched, mc.ModelInput) for t in signature.inputs)
    config.output.extend(_config_tensor(t, batched, mc.ModelOutput) for t in signature.outputs)
    if scalars(signature, batched):
        config.parameters[SCALARS_PARAMETER].string_value = ",".join(scalars(signature, batched))
    add_server_warmup(config)
    # After the inputs (a warmup sample needs them) and the server's warm-up: a model_warmup the
    # user set replaces it.
    return apply_backend_options(config, serving)


def serving_model_config(name: str, serving: ServingConfig) -> mc.ModelConfig:
    """The config without inputs and outputs: all that a stored variant knows (reports render it).

    Raises:
        ValueError: ``serving.instance_kind`` is not a Triton instance kind.
    """
    config = mc.ModelConfig(name=name, backend="python", max_batch_size=serving.max_batch_size)
    group = mc.ModelInstanceGroup(
        count=serving.instance_count, kind=mc.ModelInstanceGroup.Kind.Value(serving.instance_kind)
    )
    if serving.instance_kind == InstanceKind.KIND_GPU:
        group.gpus.extend(serving.gpus)  # none: Triton places the count on every GPU
    config.instance_group.append(group)
    # Triton rejects dynamic batching on a model that does not batch.
    if serving.dynamic_batching is not None and serving.max_batch_size > 0:
        batching = config.dynamic_batching
        batching.SetInParent()
        batching.max_queue_delay_microseconds = serving.dynamic_batching.max_queue_delay_us
        batching.preferred_batch_size.extend(serving.dynamic_batching.preferred_batch_sizes)
    for key, value in serving.runner.as_parameters().items():
        config.parameters[key].string_value = value
    return config


def to_pbtxt(config: mc.ModelConfig) -> str:
    return text_format.MessageToString(config)


def from_pbtxt(text: str) -> mc.ModelConfig:
    config = mc.ModelConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as error:
        raise ModelError(f"config.pbtxt does not parse: {error}") from None
    return config


def to_json(config: mc.ModelConfig) -> str:
    """The form the model-control API takes as a config override."""
    return json_format.MessageToJson(config, preserving_proto_field_name=True)
