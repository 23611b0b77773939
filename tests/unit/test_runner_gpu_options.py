"""The runner's GPU options: which IO path a session takes, and what each provider is given."""

from __future__ import annotations

import pytest

from tritune.domain.model import ModelSignature, TensorSpec
from tritune.domain.serving import RunnerOptions, ServingConfig
from tritune.runner.runtimes.ort_options import (
    CUDA,
    DEFAULT_TRT_WORKSPACE,
    TENSORRT,
    IoPlan,
    io_plan,
    provider_options,
    trt_profile,
    with_options,
)
from tritune.triton.model_config import build_model_config

SIG = ModelSignature((TensorSpec("x", "TYPE_FP32", (-1, 4)),), (TensorSpec("y", "TYPE_FP32", (-1, 4)),))


@pytest.mark.parametrize(
    ("options", "provider", "plan"),
    [
        ({}, "CPUExecutionProvider", IoPlan()),  # the CPU path stays numpy in and out
        ({"io_binding": "host"}, "CPUExecutionProvider", IoPlan(binding=True)),
        ({}, CUDA, IoPlan(binding=True, outputs_on_device=False)),  # host outputs measured faster
        ({"io_binding": "device"}, TENSORRT, IoPlan(binding=True, outputs_on_device=True)),
        ({"io_binding": "host"}, CUDA, IoPlan(binding=True)),
        ({"io_binding": "off"}, CUDA, IoPlan()),
        ({"enable_cuda_graph": "1"}, CUDA, IoPlan(binding=True, cuda_graph=True)),
        ({"enable_cuda_graph": "1", "io_binding": "off"}, CUDA, IoPlan(binding=True, cuda_graph=True)),
        ({"enable_cuda_graph": "1"}, "CPUExecutionProvider", IoPlan()),  # no graphs without a GPU
        ({"io_binding": "device"}, "CPUExecutionProvider", IoPlan(binding=True)),  # no device to stay on
    ],
)
def test_the_io_path_follows_the_options_and_the_provider(options, provider, plan) -> None:
    assert io_plan(options, provider) == plan


def test_an_unknown_io_mode_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="auto, device, host, off"):
        io_plan({"io_binding": "gpu"}, CUDA)


def test_cuda_gets_its_device_and_graphs_only_when_asked() -> None:
    assert provider_options(CUDA, {}, 1) == {"device_id": "1"}
    assert provider_options(CUDA, {"enable_cuda_graph": "true"}, 0) == {"device_id": "0", "enable_cuda_graph": "1"}
    assert provider_options("CPUExecutionProvider", {"enable_cuda_graph": "1"}, 0) == {}


def test_tensorrt_gets_fp16_the_engine_cache_a_workspace_and_a_batch_profile() -> None:
    options = {"trt_fp16": "1", "trt_cache_dir": "/run/trt_cache", "max_batch_size": "32", "input_dims": "x:3x8x8"}
    result = provider_options(TENSORRT, options, 2)
    assert result["device_id"] == "2"
    assert result["trt_fp16_enable"] == "True"
    assert result["trt_engine_cache_enable"] == "True"
    assert result["trt_engine_cache_path"] == "/run/trt_cache"
    assert result["trt_max_workspace_size"] == str(DEFAULT_TRT_WORKSPACE)
    assert result["trt_profile_min_shapes"] == "x:1x3x8x8"
    assert result["trt_profile_max_shapes"] == "x:32x3x8x8"
    plain = provider_options(TENSORRT, {"trt_max_workspace_size": "1024"}, 0)
    assert plain["trt_fp16_enable"] == "False"
    assert plain["trt_max_workspace_size"] == "1024"
    assert "trt_engine_cache_enable" not in plain and "trt_profile_min_shapes" not in plain


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"max_batch_size": "8", "input_dims": "a:4;b:"}, "a:1x4,b:1"),  # b: a scalar per row
        ({"max_batch_size": "8", "input_dims": "ids:-1"}, None),  # dynamic length: no guessed range
        ({"max_batch_size": "0", "input_dims": "x:4"}, None),  # no batching: TensorRT sees the shape
        ({}, None),
    ],
)
def test_the_tensorrt_profile_covers_every_batch_where_the_dims_are_fixed(options, expected) -> None:
    profile = trt_profile(options)
    assert profile.get("trt_profile_min_shapes") == expected


def test_providers_without_options_stay_plain_names() -> None:
    assert with_options([CUDA, "CPUExecutionProvider"], {}, 0) == [(CUDA, {"device_id": "0"}), "CPUExecutionProvider"]


def test_runner_options_without_gpu_knobs_keep_their_parameters_and_repr() -> None:
    plain = RunnerOptions()
    assert set(plain.as_parameters()) == {
        "runtime",
        "execution_providers",
        "intra_op_threads",
        "inter_op_threads",
        "graph_optimization_level",
        "model_filename",
    }
    assert "cuda_graph" not in repr(plain)
    gpu = RunnerOptions(cuda_graph=True, trt_fp16=True, trt_cache_dir="/r/trt_cache", io_binding="host")
    assert gpu.as_parameters() | {} == plain.as_parameters() | {
        "enable_cuda_graph": "1",
        "trt_fp16": "1",
        "trt_cache_dir": "/r/trt_cache",
        "io_binding": "host",
    }
    assert "cuda_graph=True" in repr(gpu)


def test_only_gpu_variants_take_gpu_inputs_as_they_are() -> None:
    gpu = build_model_config("m", SIG, ServingConfig(max_batch_size=4, instance_kind="KIND_GPU"))
    assert gpu.parameters["FORCE_CPU_ONLY_INPUT_TENSORS"].string_value == "no"
    cpu = build_model_config("m", SIG, ServingConfig(max_batch_size=4))
    assert "FORCE_CPU_ONLY_INPUT_TENSORS" not in cpu.parameters
