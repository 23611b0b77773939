"""What a profile run decides from the host's facts (faked: this host has no GPU): whether it
serves on the GPU, the precisions it prepares, and the ``gpus`` selection."""

from __future__ import annotations

import json

import pytest

from tritune.config import cli_flags, parse_profile_config
from tritune.errors import UsageError
from tritune.profile.session import automatic_precisions, left_out_reason, serving_device
from tritune.system import GpuInfo

H200 = (GpuInfo(0, "NVIDIA H200", "GPU-a", 1 << 37), GpuInfo(1, "NVIDIA H200", "GPU-b", 1 << 37))
CUDA = ("CUDAExecutionProvider", "CPUExecutionProvider")
CPU = ("CPUExecutionProvider",)


def test_a_gpu_serves_where_the_runner_gets_cuda() -> None:
    assert serving_device(H200, CUDA, None, runner=True) == (True, None)
    assert serving_device((), CPU, None, runner=True) == (False, None)  # a CPU host says nothing
    gpu, why = serving_device(H200, CPU, None, runner=True)
    assert not gpu and why is not None and "install onnxruntime-gpu" in why and "\n" not in why
    # A repository's model runs on its own backend: this process's onnxruntime does not matter.
    assert serving_device(H200, CPU, None, runner=False) == (True, None)
    assert serving_device(H200, CUDA, [1], runner=True) == (True, None)


def test_gpus_must_name_visible_gpus() -> None:
    with pytest.raises(UsageError, match=r"gpus \[2\] are not visible here \(GPUs: 0, 1\)"):
        serving_device(H200, CUDA, [0, 2], runner=True)
    with pytest.raises(UsageError, match="NVML sees no GPU"):
        serving_device((), CPU, [0], runner=True)


def test_fp16_is_tried_on_a_gpu_only_by_the_automatic_search() -> None:
    auto = parse_profile_config({"profile_models": "m"})
    assert automatic_precisions(auto, "m", gpu=True) == (("fp32", "fp16"), ("fp16",))
    assert automatic_precisions(auto, "m", gpu=False) == (("fp32",), ())
    disabled = parse_profile_config({"profile_models": "m", "run_config_search_disable": True})
    assert automatic_precisions(disabled, "m", gpu=True) == (("fp32",), ())
    cpu_only = parse_profile_config({"profile_models": {"m": {"cpu_only": True}}})
    assert automatic_precisions(cpu_only, "m", gpu=True) == (("fp32",), ())
    manual = parse_profile_config({"profile_models": {"m": {"model_config_parameters": {"precision": "fp16"}}}})
    assert automatic_precisions(manual, "m", gpu=True) == (("fp32", "fp16"), ())  # asked for: required


def test_the_reason_fp16_was_left_out_is_prepares_note() -> None:
    notes = ("shapes inferred", "fp16 left out: fp16 vs ONNX: y max abs 0.5 over 0.02")
    assert left_out_reason(notes, "fp16") == "fp16 vs ONNX: y max abs 0.5 over 0.02"
    assert "report" in left_out_reason((), "fp16")


def test_gpus_key_flag_and_identity() -> None:
    assert parse_profile_config({"profile_models": "m", "gpus": "0, 1"}).gpus == [0, 1]
    assert parse_profile_config({"profile_models": "m", "gpus": [1]}).gpus == [1]
    assert parse_profile_config({"profile_models": "m", "gpus": "all"}).gpus is None
    for bad in ("x", "0,0", [-1]):
        with pytest.raises(UsageError, match="gpus"):
            parse_profile_config({"profile_models": "m", "gpus": bad})
    # Unset, the key is not in the dump (so fingerprints stay); set, it is part of the identity.
    assert "gpus" not in json.loads(parse_profile_config({"profile_models": "m"}).model_dump_json())
    assert json.loads(parse_profile_config({"profile_models": "m", "gpus": "0"}).model_dump_json())["gpus"] == [0]
    (flag,) = [f for f in cli_flags() if f.key == "gpus"]
    assert (flag.flag, flag.kind) == ("--gpus", "str")
