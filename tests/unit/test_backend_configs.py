"""Each backend's generated configs against model_config.proto and the backends' own docs.

Native backends cannot run here (the wheel ships only the Python backend), so every generated
config is checked the way the server reads it: it must round-trip through protobuf text and
JSON (the model-control API's form) as a ``model_config_pb2.ModelConfig``, and its knobs must
equal the fragment the backend's README shows, parsed as the server would parse it.
"""

from __future__ import annotations

import pytest
from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2 as mc

from tritune.domain.backends import (
    CPU_ACCELERATOR,
    CUDA_GRAPHS,
    GPU_ACCELERATOR,
    MODEL_WARMUP,
    ONNXRUNTIME,
    OPENVINO,
    PYTHON,
    PYTORCH,
    TENSORRT,
    accelerators_value,
    automatic_knobs,
    tensorrt_accelerator,
)
from tritune.domain.model import DYNAMIC, ModelSignature, TensorSpec
from tritune.domain.serving import ServingConfig
from tritune.triton.backends import WARMUP_NAME, apply_backend_options
from tritune.triton.model_config import build_model_config, from_pbtxt, to_json, to_pbtxt

SIGNATURE = ModelSignature(
    inputs=(TensorSpec("x", "TYPE_FP32", (DYNAMIC, 3, DYNAMIC)), TensorSpec("ids", "TYPE_INT64", (DYNAMIC, 4))),
    outputs=(TensorSpec("y", "TYPE_FP32", (DYNAMIC, 2)),),
)


def _base(backend: str, kind: str = "KIND_GPU") -> mc.ModelConfig:
    """A user's config for ``backend``: the knobs tritune does not search stay as they are."""
    config = build_model_config("m", SIGNATURE, ServingConfig(max_batch_size=8, instance_kind=kind))
    config.ClearField("parameters")  # the runner's parameters: not the user's
    config.backend = backend
    return config


def _render(backend: str, *options: tuple[str, str], kind: str = "KIND_GPU") -> mc.ModelConfig:
    config = apply_backend_options(_base(backend, kind), ServingConfig(backend_options=options))
    # What the server reads: the text file, and the JSON the load API takes.
    assert from_pbtxt(to_pbtxt(config)) == config
    assert json_format.Parse(to_json(config), mc.ModelConfig()) == config
    return config


def _fragment(text: str) -> mc.ModelConfig:
    return text_format.Parse(text, mc.ModelConfig())


def _knobs(config: mc.ModelConfig) -> mc.ModelConfig:
    """Only the fields backend options write."""
    out = mc.ModelConfig()
    out.parameters.MergeFrom(config.parameters)
    if config.HasField("optimization"):
        out.optimization.CopyFrom(config.optimization)
    out.model_warmup.extend(config.model_warmup)
    return out


# From triton-inference-server/server docs/user_guide/optimization.md ("ONNX with TensorRT
# Optimization"), the same block the onnxruntime_backend README shows.
ORT_TENSORRT = """
optimization { execution_accelerators {
  gpu_execution_accelerator : [ {
    name : "tensorrt"
    parameters { key: "precision_mode" value: "FP16" }
    parameters { key: "max_workspace_size_bytes" value: "1073741824" }
    }]
}}
"""


def test_onnxruntime_tensorrt_accelerator_is_the_documented_block() -> None:
    value = accelerators_value(
        [{"name": "tensorrt", "parameters": {"precision_mode": "FP16", "max_workspace_size_bytes": 1073741824}}]
    )
    config = _render(ONNXRUNTIME, (GPU_ACCELERATOR, value))
    assert _knobs(config) == _fragment(ORT_TENSORRT)
    assert config.backend == "onnxruntime" and config.instance_group[0].kind == mc.ModelInstanceGroup.KIND_GPU


@pytest.mark.parametrize("precision", ["FP32", "FP16"])
def test_automatic_onnxruntime_gpu_values_render_tensorrt_precision(precision: str) -> None:
    (knob,) = automatic_knobs(ONNXRUNTIME, gpu=True)
    assert tensorrt_accelerator(precision) in knob.automatic
    config = _render(ONNXRUNTIME, (GPU_ACCELERATOR, tensorrt_accelerator(precision)))
    assert _knobs(config) == _fragment(
        'optimization { execution_accelerators { gpu_execution_accelerator : [ { name : "tensorrt" '
        f'parameters {{ key: "precision_mode" value: "{precision}" }} }} ] }} }}'
    )


def test_onnxruntime_cuda_accelerator_and_openvino_are_the_readme_blocks() -> None:
    cuda = accelerators_value(
        [{"name": "cuda", "parameters": {"cudnn_conv_use_max_workspace": "0", "use_ep_level_unified_stream": "1"}}]
    )
    assert _knobs(_render(ONNXRUNTIME, (GPU_ACCELERATOR, cuda))) == _fragment(
        """optimization { execution_accelerators {
          gpu_execution_accelerator : [ {
            name : "cuda"
            parameters { key: "cudnn_conv_use_max_workspace" value: "0" }
            parameters { key: "use_ep_level_unified_stream" value: "1" }}
          ]
        }}"""
    )
    openvino = accelerators_value([{"name": "openvino"}])
    assert _knobs(_render(ONNXRUNTIME, (CPU_ACCELERATOR, openvino), kind="KIND_CPU")) == _fragment(
        'optimization { execution_accelerators { cpu_execution_accelerator : [ { name : "openvino" } ] }}'
    )


def test_onnxruntime_thread_parameters_are_the_readme_block() -> None:
    config = _render(
        ONNXRUNTIME,
        ("parameters.intra_op_thread_count", "0"),
        ("parameters.execution_mode", "0"),
        ("parameters.inter_op_thread_count", "0"),
        kind="KIND_CPU",
    )
    assert _knobs(config) == _fragment(
        """parameters { key: "intra_op_thread_count" value: { string_value: "0" } }
        parameters { key: "execution_mode" value: { string_value: "0" } }
        parameters { key: "inter_op_thread_count" value: { string_value: "0" } }"""
    )


def test_tensorrt_cuda_graphs_and_allocation_strategy() -> None:
    (knob,) = automatic_knobs(TENSORRT, gpu=True)
    assert knob.key == CUDA_GRAPHS
    config = _render(TENSORRT, (CUDA_GRAPHS, "true"), ("parameters.execution_context_allocation_strategy", "STATIC"))
    assert _knobs(config) == _fragment(
        """optimization { cuda { graphs: true } }
        parameters: { key: "execution_context_allocation_strategy" value: { string_value: "STATIC" } }"""
    )
    assert not _render(TENSORRT, (CUDA_GRAPHS, "false")).optimization.cuda.graphs


def test_pytorch_parameters_are_the_readme_blocks() -> None:
    config = _render(PYTORCH, ("parameters.INFERENCE_MODE", "true"), ("parameters.INTRA_OP_THREAD_COUNT", "2"))
    assert _knobs(config) == _fragment(
        """parameters: { key: "INFERENCE_MODE" value: { string_value: "true" } }
        parameters: { key: "INTRA_OP_THREAD_COUNT" value: { string_value: "2" } }"""
    )


def test_openvino_latency_mode_is_the_readme_example() -> None:
    config = _render(
        OPENVINO, ("parameters.NUM_STREAMS", "1"), ("parameters.PERFORMANCE_HINT", "LATENCY"), kind="KIND_CPU"
    )
    assert _knobs(config) == _fragment(
        """parameters: [
        { key: "NUM_STREAMS" value: { string_value: "1" } },
        { key: "PERFORMANCE_HINT" value: { string_value: "LATENCY" } }
        ]"""
    )


def test_python_backend_keeps_the_users_parameters_and_adds_its_own() -> None:
    base = _base(PYTHON, "KIND_CPU")
    base.parameters["my_threads"].string_value = "4"
    options = (("parameters.my_threads", "2"), ("parameters.FORCE_CPU_ONLY_INPUT_TENSORS", "no"))
    serving = ServingConfig(backend_options=options)
    config = apply_backend_options(base, serving)
    assert {k: v.string_value for k, v in config.parameters.items()} == {
        "my_threads": "2",
        "FORCE_CPU_ONLY_INPUT_TENSORS": "no",
    }
    assert base.parameters["my_threads"].string_value == "4"  # the user's config is not changed


@pytest.mark.parametrize("data", ["zero_data", "random_data"])
def test_warmup_is_one_batch_one_sample_per_input(data: str) -> None:
    config = _render(ONNXRUNTIME, (MODEL_WARMUP, data), kind="KIND_CPU")
    assert (
        _knobs(config).model_warmup
        == _fragment(
            f"""model_warmup [ {{
          name: "{WARMUP_NAME}"
          batch_size: 1
          inputs {{ key: "x" value: {{ data_type: TYPE_FP32 dims: [ 3, 1 ] {data}: true }} }}
          inputs {{ key: "ids" value: {{ data_type: TYPE_INT64 dims: [ 4 ] {data}: true }} }}
        }} ]"""
        ).model_warmup
    )


def test_no_options_leave_the_config_as_it_was() -> None:
    base = build_model_config("m", SIGNATURE, ServingConfig(max_batch_size=8))
    assert apply_backend_options(base, ServingConfig(max_batch_size=8)) == base


def test_an_accelerator_list_replaces_the_users_and_bad_options_are_refused() -> None:
    base = _base(ONNXRUNTIME)
    base.optimization.execution_accelerators.gpu_execution_accelerator.add(name="tensorrt")
    config = apply_backend_options(base, ServingConfig(backend_options=((GPU_ACCELERATOR, ""),)))
    assert list(config.optimization.execution_accelerators.gpu_execution_accelerator) == []
    with pytest.raises(ValueError, match="unknown backend option"):
        apply_backend_options(base, ServingConfig(backend_options=(("optimization.bogus", "1"),)))
    with pytest.raises(ValueError, match="true or false"):
        apply_backend_options(base, ServingConfig(backend_options=((CUDA_GRAPHS, "yes"),)))
    with pytest.raises(ValueError, match=MODEL_WARMUP):
        apply_backend_options(base, ServingConfig(backend_options=((MODEL_WARMUP, "ones"),)))


def test_the_runners_config_renders_its_manual_backend_knobs() -> None:
    """tritune's runner takes manual lists too (model_warmup): build_model_config writes them."""
    serving = ServingConfig(max_batch_size=8, backend_options=((MODEL_WARMUP, "zero_data"),))
    config = build_model_config("m", SIGNATURE, serving)
    assert config.backend == "python" and config.parameters["runtime"].string_value == "onnxruntime"
    assert [w.name for w in config.model_warmup] == [WARMUP_NAME]
    assert set(config.model_warmup[0].inputs) == {"x", "ids"}
    assert from_pbtxt(to_pbtxt(config)) == config
