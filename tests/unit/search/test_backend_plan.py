"""Backend knobs in the settings and the plan: Model Analyzer's keys, automatic dimensions per
backend and hardware, and tritune's own runner left exactly as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tritune.config import parse_profile_config
from tritune.domain.backends import (
    CPU_ACCELERATOR,
    CUDA_GRAPHS,
    GPU_ACCELERATOR,
    MODEL_WARMUP,
    accelerators_value,
    tensorrt_accelerator,
)
from tritune.domain.model import DYNAMIC, ModelSignature, TensorSpec
from tritune.domain.space import BACKEND_DIM_PREFIX, Dim, backend_dim
from tritune.errors import UsageError
from tritune.search.factory import build_space, create_plan

SIGNATURE = ModelSignature((TensorSpec("x", "TYPE_FP32", (DYNAMIC, 4)),), (TensorSpec("y", "TYPE_FP32", (DYNAMIC, 2)),))

# Model Analyzer's model_config_parameters, as its YAML writes them.
MA_KNOBS: dict[str, Any] = {
    "parameters": {"intra_op_thread_count": [1, 2], "execution_mode": {"string_value": ["0", "1"]}},
    "optimization": {
        "execution_accelerators": {
            "gpu_execution_accelerator": [
                [{"name": "tensorrt", "parameters": {"key": "precision_mode", "value": "FP16"}}],
                [],
            ],
            "cpu_execution_accelerator": [{"name": "openvino"}],
        },
        "cuda": {"graphs": [False, True]},
    },
    "model_warmup": ["off", "random"],
}


def _config(knobs: dict[str, Any] | None = None, **top: Any) -> Any:
    model: dict[str, Any] = {"model_path": "m.onnx"}
    if knobs is not None:
        model["model_config_parameters"] = knobs
    return parse_profile_config({"profile_models": {"m": model}, **top})


def _backend_dims(space: Any) -> dict[str, tuple[Any, ...]]:
    return {d.name: d.values for d in space.dimensions if d.name.startswith(BACKEND_DIM_PREFIX)}


def test_tritune_runner_space_is_unchanged_on_cpu_and_gpu() -> None:
    for gpu in (False, True):
        space = build_space(_config(), "m", SIGNATURE, gpu_available=gpu)
        assert _backend_dims(space) == {}
        assert space.names == build_space(_config(), "m", SIGNATURE, gpu_available=gpu, backend=None).names
        assert not any(str(k).startswith(BACKEND_DIM_PREFIX) for k in space.default)


def test_onnxruntime_searches_tensorrt_on_gpu_and_nothing_extra_on_cpu() -> None:
    gpu = build_space(_config(), "m", SIGNATURE, gpu_available=True, backend="onnxruntime")
    assert _backend_dims(gpu) == {
        backend_dim(GPU_ACCELERATOR): ("", tensorrt_accelerator("FP32"), tensorrt_accelerator("FP16"))
    }
    assert gpu.default[backend_dim(GPU_ACCELERATOR)] == ""  # the untuned default: backend's own
    assert backend_dim(GPU_ACCELERATOR) in gpu.unordered
    assert _backend_dims(build_space(_config(), "m", SIGNATURE, backend="onnxruntime")) == {}
    plan = create_plan(_config(), "m", SIGNATURE, gpu_available=True, backend="onnxruntime_onnx")
    variants = {plan.space.variant(p).serving.backend_option(GPU_ACCELERATOR) for p in plan.space.grid()}
    assert variants == {None, tensorrt_accelerator("FP32"), tensorrt_accelerator("FP16")}


def test_tensorrt_searches_cuda_graphs_on_gpu_only() -> None:
    space = build_space(_config(), "m", SIGNATURE, gpu_available=True, backend="tensorrt")
    assert _backend_dims(space) == {backend_dim(CUDA_GRAPHS): ("", "true")}
    assert _backend_dims(build_space(_config(), "m", SIGNATURE, backend="tensorrt")) == {}


def test_search_disabled_keeps_backend_defaults() -> None:
    space = build_space(
        _config(run_config_search_disable=True), "m", SIGNATURE, gpu_available=True, backend="onnxruntime"
    )
    assert _backend_dims(space) == {}


def test_model_analyzer_keys_become_manual_dimensions() -> None:
    space = build_space(_config(MA_KNOBS), "m", SIGNATURE, gpu_available=True, backend="onnxruntime")
    assert _backend_dims(space) == {
        backend_dim("parameters.intra_op_thread_count"): ("1", "2"),
        backend_dim("parameters.execution_mode"): ("0", "1"),
        backend_dim(GPU_ACCELERATOR): (tensorrt_accelerator("FP16"), ""),  # the manual list wins
        backend_dim(CPU_ACCELERATOR): (accelerators_value([{"name": "openvino"}]),),
        backend_dim(CUDA_GRAPHS): ("false", "true"),
        backend_dim(MODEL_WARMUP): ("", "random_data"),
    }
    # The default configuration leaves every backend knob at the backend's own default.
    assert {space.default[name] for name in _backend_dims(space)} == {""}
    assert space.variant(space.default).serving.backend_options == ()


def test_manual_lists_reach_any_backend_including_a_users_python_model() -> None:
    knobs = {"parameters": {"my_batch_threads": [1, 4]}, "model_warmup": "zero"}
    space = build_space(_config(knobs), "m", SIGNATURE, backend="python")
    assert _backend_dims(space) == {
        backend_dim("parameters.my_batch_threads"): ("1", "4"),
        backend_dim(MODEL_WARMUP): ("zero_data",),
    }


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"parameters": {"EXECUTION_ENV_PATH": ["a.tar.gz"]}}, "EXECUTION_ENV_PATH"),
        ({"model_warmup": ["ones"]}, "model_warmup takes off, zero_data or random_data"),
        ({"optimization": {"execution_accelerators": {"gpu_execution_accelerator": [{"precision": 1}]}}}, "name"),
        ({"optimization": {"graph": {"level": [1]}}}, "graph"),
    ],
)
def test_bad_backend_knobs_are_one_line_errors(knobs: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        _config(knobs)


def test_run_fingerprints_do_not_move_for_configs_without_backend_knobs(tmp_path: Path) -> None:
    """The fingerprint the code before backend knobs computed for the same settings."""
    from tritune.profile.identity import run_fingerprint
    from tritune.profile.records import ModelFiles

    (tmp_path / "m.onnx").write_bytes(b"not really onnx, only bytes")
    model = ModelFiles("m", {"fp32": tmp_path / "m.onnx"}, ModelSignature((), ()))
    knobs = {
        "max_batch_size": [4, 8],
        "instance_group": [{"count": [1, 2], "kind": "KIND_CPU"}],
        "dynamic_batching": {"max_queue_delay_microseconds": [0, 100]},
    }
    # Time windows of 1000 ms were the measurement then (count windows now are another run).
    then = {"measurement": {"measurement_mode": "time_windows", "measurement_interval": 1000}}
    assert run_fingerprint(model, _config(knobs, **then)) == "2a34112cf8e318e7"
    assert run_fingerprint(model, _config({**knobs, "model_warmup": "zero"}, **then)) != "2a34112cf8e318e7"


def test_the_client_batch_dimension_stays_last() -> None:
    space = build_space(_config(MA_KNOBS), "m", SIGNATURE, gpu_available=True, backend="onnxruntime")
    assert space.names[-1] == Dim.CLIENT_BATCH_SIZE
