"""The one device rule and the one install fix (``tritune.domain.devices``), on faked host facts:
what was asked (auto, gpu, cpu) x the providers ONNX Runtime offers x the GPUs NVML sees."""

from __future__ import annotations

import json

import pytest

from tritune.domain.devices import CPU, CUDA, Device, InstanceKind, choose_device, install_fix
from tritune.errors import UsageError
from tritune.runner import providers as runner_providers

WITH_CUDA = (CUDA, CPU)
CPU_ONLY = (CPU,)
FIX = "pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime-gpu"


@pytest.mark.parametrize(
    ("providers", "gpus", "kind"),
    [
        (WITH_CUDA, 1, "gpu"),
        (WITH_CUDA, 0, "cpu"),  # onnxruntime-gpu lists CUDA on a host without a GPU too
        (CPU_ONLY, 0, "cpu"),  # a CPU host: nothing to say
        (CPU_ONLY, 2, "cpu"),  # a GPU without CUDA: the CPU, with a note
        (None, 2, "gpu"),  # a model on its own backend: this onnxruntime does not matter
        (None, 0, "cpu"),
    ],
)
def test_auto_is_the_gpu_only_with_cuda_and_a_visible_gpu(
    providers: tuple[str, ...] | None, gpus: int, kind: str
) -> None:
    device = choose_device("auto", providers, gpus)
    assert (device.kind, device.forced) == (kind, False)
    if providers == CPU_ONLY and gpus:
        assert (
            device.note
            == f"2 GPU(s) found, but ONNX Runtime offers no {CUDA}, so the model is served on the CPU: {FIX}"
        )
    else:
        assert device.note is None


def test_cpu_and_gpu_asked_for_by_name() -> None:
    assert choose_device("cpu", WITH_CUDA, 1) == Device("cpu", forced=True)
    assert choose_device("cpu", (), 0) == Device("cpu", forced=True)
    assert choose_device("gpu", WITH_CUDA, 1) == Device("gpu", forced=True)


@pytest.mark.parametrize(
    ("providers", "gpus", "why", "fix"),
    [
        (CPU_ONLY, 1, f"this onnxruntime lacks it (it offers {CPU})", f"{FIX}, or use --device cpu"),
        ((), 1, "this onnxruntime lacks it (it offers none)", f"{FIX}, or use --device cpu"),
        (WITH_CUDA, 0, "NVML sees no GPU here", "use --device cpu"),
        (
            CPU_ONLY,
            0,
            f"this onnxruntime lacks it (it offers {CPU}) and NVML sees no GPU here",
            f"{FIX}, or use --device cpu",
        ),
    ],
)
def test_gpu_without_cuda_or_a_gpu_is_one_line_naming_the_fix(
    providers: tuple[str, ...], gpus: int, why: str, fix: str
) -> None:
    with pytest.raises(UsageError) as caught:
        choose_device("gpu", providers, gpus)
    assert caught.value.message == f"--device gpu needs a GPU and ONNX Runtime's {CUDA}, but {why}: {fix}"
    assert "\n" not in caught.value.message


def test_an_unknown_device_is_refused() -> None:
    with pytest.raises(UsageError, match="device 'tpu' is not one of auto, cpu, gpu"):
        choose_device("tpu", WITH_CUDA, 1)


def test_a_device_names_its_providers_and_instance_kind() -> None:
    assert Device("gpu").providers == (CUDA, CPU) and Device("gpu").instance_kind is InstanceKind.KIND_GPU
    assert Device("cpu").providers == (CPU,) and Device("cpu").instance_kind is InstanceKind.KIND_CPU


def test_the_install_fix_where_a_python_imports_onnxruntime() -> None:
    assert install_fix() == FIX
    assert install_fix(python_prefix="/opt/venv") == (
        "/opt/venv/bin/python -m pip uninstall -y onnxruntime onnxruntime-gpu && "
        "/opt/venv/bin/python -m pip install onnxruntime-gpu"
    )
    assert install_fix("onnxruntime-gpu==1.20.1", target="/tmp/site") == (
        "pip install --upgrade --no-deps --target /tmp/site onnxruntime-gpu==1.20.1 (it replaces /tmp/site/onnxruntime)"
    )


def test_the_names_are_the_runners_and_the_words_already_stored() -> None:
    # One definition: the runner's (it travels into the server alone), re-exported.
    assert (
        (CUDA, CPU)
        == (runner_providers.CUDA, runner_providers.CPU)
        == ("CUDAExecutionProvider", "CPUExecutionProvider")
    )
    # StrEnum: equal to, hashed like and serialized as the words in stores and config files.
    assert InstanceKind.KIND_GPU == "KIND_GPU" and {"KIND_CPU": 1}[InstanceKind.KIND_CPU] == 1
    assert json.dumps([InstanceKind.KIND_CPU]) == '["KIND_CPU"]'
