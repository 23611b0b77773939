"""Prepare's device: the max-batch search and the served instance kind follow the GPU where ONNX
Runtime has CUDA (facts faked here: this host has no GPU)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tritune.system
from tritune.domain.devices import CPU, CUDA
from tritune.errors import UsageError
from tritune.prepare import PrepareOptions, prepare_model
from tritune.prepare import steps as prepare_steps
from tritune.prepare.sources import onnx_device_runner
from tritune.system import GpuInfo
from tritune.testing.models import mlp_model
from tritune.triton.model_config import from_pbtxt

CPU_ONLY = (CPU,)
WITH_CUDA = (CUDA, CPU)
QUICK = {"max_batch_cap": 2, "max_batch_min_time_s": 0.01}


# The device rule itself (auto/gpu/cpu x providers x GPUs) is tests/unit/test_devices.py.


def test_prepare_options_are_checked() -> None:
    with pytest.raises(UsageError, match="device 'tpu'"):
        PrepareOptions(device="tpu")
    with pytest.raises(UsageError, match="served"):
        PrepareOptions(precisions=("fp32", "fp16"), optional_precisions=("fp32",))


def _fake_gpu_host(monkeypatch: pytest.MonkeyPatch, *, cuda_starts: bool) -> None:
    monkeypatch.setattr(tritune.system, "runtime_providers", lambda: WITH_CUDA)
    monkeypatch.setattr(tritune.system, "list_gpus", lambda: (GpuInfo(0, "H200", "GPU-0", 1 << 37),))

    def runner(path: Path, providers: Any = CPU_ONLY) -> Any:
        run, _ = onnx_device_runner(path)  # this host computes on the CPU either way
        return run, tuple(providers) if cuda_starts else CPU_ONLY

    monkeypatch.setattr(prepare_steps, "onnx_device_runner", runner)


def _kind(prepared: Any) -> str:
    config = from_pbtxt((prepared.directory / "config.pbtxt").read_text())
    (group,) = config.instance_group
    assert group.count == 1  # Triton's default: one instance (per GPU on KIND_GPU)
    return str(config.instance_group[0].Kind.Name(group.kind))


def test_a_gpu_host_searches_on_the_gpu_and_serves_kind_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_gpu_host(monkeypatch, cuda_starts=True)
    model = mlp_model(tmp_path / "mlp.onnx")
    prepared = prepare_model(model, tmp_path / "repo", "mlp", PrepareOptions(**QUICK))
    assert _kind(prepared) == "KIND_GPU"
    assert any("ran on the GPU" in note for note in prepared.report.notes)
    forced_cpu = prepare_model(model, tmp_path / "repo", "cpu", PrepareOptions(device="cpu", **QUICK))
    assert _kind(forced_cpu) == "KIND_CPU"
    assert not any("GPU" in note for note in forced_cpu.report.notes)


@pytest.mark.slow  # the full tier: a prepare run on a faked GPU host; the others keep its path in the fast tier
def test_cuda_that_does_not_start_falls_back_to_the_cpu_unless_forced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_gpu_host(monkeypatch, cuda_starts=False)
    model = mlp_model(tmp_path / "mlp.onnx")
    prepared = prepare_model(model, tmp_path / "repo", "mlp", PrepareOptions(**QUICK))
    assert _kind(prepared) == "KIND_CPU"
    assert any("could not start CUDAExecutionProvider" in note for note in prepared.report.notes)
    with pytest.raises(UsageError, match="--device gpu: .*install onnxruntime-gpu"):
        prepare_model(model, tmp_path / "repo", "forced", PrepareOptions(device="gpu", **QUICK))


def test_a_gpu_without_cuda_prepares_on_the_cpu_and_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tritune.system, "runtime_providers", lambda: CPU_ONLY)
    monkeypatch.setattr(tritune.system, "list_gpus", lambda: (GpuInfo(0, "H200", "GPU-0", 1 << 37),))
    prepared = prepare_model(mlp_model(tmp_path / "mlp.onnx"), tmp_path / "repo", "mlp", PrepareOptions(**QUICK))
    assert _kind(prepared) == "KIND_CPU"
    (note,) = prepared.report.notes
    assert (
        note.startswith(f"1 GPU(s) found, but ONNX Runtime offers no {CUDA}") and "pip install onnxruntime-gpu" in note
    )


def test_a_cpu_host_is_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tritune.system, "runtime_providers", lambda: CPU_ONLY)
    monkeypatch.setattr(tritune.system, "list_gpus", lambda: ())
    prepared = prepare_model(mlp_model(tmp_path / "mlp.onnx"), tmp_path / "repo", "mlp", PrepareOptions(**QUICK))
    assert _kind(prepared) == "KIND_CPU"
    assert prepared.report.notes == ()
    with pytest.raises(UsageError, match="install onnxruntime-gpu"):
        prepare_model(mlp_model(tmp_path / "m2.onnx"), tmp_path / "repo", "m2", PrepareOptions(device="gpu"))


@pytest.mark.slow  # the full tier: a prepare run on a faked GPU host; the others keep its path in the fast tier
def test_an_optional_precision_that_fails_is_a_note_not_a_problem(tmp_path: Path) -> None:
    strict = {"fp16": prepare_steps.PrepareOptions().tolerance("fp32")}  # fp16 cannot meet fp32's bound
    options = PrepareOptions(
        precisions=("fp32", "fp16"), optional_precisions=("fp16",), tolerances=strict, device="cpu", **QUICK
    )
    prepared = prepare_model(mlp_model(tmp_path / "mlp.onnx"), tmp_path / "repo", "mlp", options)
    assert prepared.passed and prepared.precisions == ("fp32",)
    assert any(note.startswith("fp16 left out: ") for note in prepared.report.notes)
    required = PrepareOptions(precisions=("fp32", "fp16"), tolerances=strict, device="cpu", **QUICK)
    failed = prepare_model(mlp_model(tmp_path / "mlp.onnx"), tmp_path / "repo", "mlp2", required)
    assert not failed.passed
