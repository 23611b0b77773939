"""Where a model is prepared and served, and the names that say it.

ONNX Runtime's execution-provider names are defined once, in the runner (it travels into the
server alone and imports nothing from tritune), and re-exported here. Triton's instance kinds are
an enum equal to the words in stores and config files. One rule picks the device from what the
user asked and what the host offers, and one fix says how to get onnxruntime-gpu where a Python
imports it: ``tritune doctor``, ``prepare`` and ``profile`` all say the same. Pure: the host's
facts are arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from tritune.errors import UsageError
from tritune.runner.providers import CPU, CUDA, GPU_PROVIDERS, TENSORRT

__all__ = [
    "CPU",
    "CUDA",
    "DEVICES",
    "GPU_PACKAGE",
    "GPU_PROVIDERS",
    "TENSORRT",
    "Device",
    "InstanceKind",
    "choose_device",
    "install_fix",
]


class InstanceKind(StrEnum):
    """Triton's instance-group kinds. StrEnum, so they equal the words already in stores, config
    files and Triton's config JSON ("KIND_GPU")."""

    KIND_CPU = "KIND_CPU"
    KIND_GPU = "KIND_GPU"


DEVICES = ("auto", "cpu", "gpu")
GPU_PACKAGE = "onnxruntime-gpu"


def install_fix(package: str = GPU_PACKAGE, *, python_prefix: str | None = None, target: str | None = None) -> str:
    """How to get ``package`` where a Python imports it. onnxruntime and onnxruntime-gpu both
    install the module ``onnxruntime`` and overwrite each other's files, so both go before the one
    wanted comes in.

    ``python_prefix``: that Python's environment (its own pip installs there); ``target``: a folder
    on its PYTHONPATH (``pip install --target``, which replaces the module there); neither: the
    ``pip`` of the environment tritune runs in.
    """
    if target is not None:
        return f"pip install --upgrade --no-deps --target {target} {package} (it replaces {target}/onnxruntime)"
    pip = f"{python_prefix}/bin/python -m pip" if python_prefix else "pip"
    return f"{pip} uninstall -y onnxruntime onnxruntime-gpu && {pip} install {package}"


@dataclass(frozen=True)
class Device:
    kind: str  # "cpu" | "gpu"
    forced: bool = False  # asked for by name (--device gpu), so a fallback is an error
    note: str | None = None  # a GPU is there but unusable: why, with the fix (one line)

    @property
    def gpu(self) -> bool:
        return self.kind == "gpu"

    @property
    def providers(self) -> tuple[str, ...]:
        """ONNX Runtime's providers for a session on this device, in priority order."""
        return (CUDA, CPU) if self.gpu else (CPU,)

    @property
    def instance_kind(self) -> InstanceKind:
        return InstanceKind.KIND_GPU if self.gpu else InstanceKind.KIND_CPU


def choose_device(requested: str, providers: Sequence[str] | None, gpu_count: int) -> Device:
    """The device a model is prepared and served on.

    ``requested``: auto, gpu or cpu. ``providers``: the execution providers ONNX Runtime offers
    where tritune's runner would run the model (None: the model's own backend serves it, so
    ONNX Runtime's do not matter). ``gpu_count``: the GPUs NVML sees.

    ``auto`` is the GPU where there is one and ONNX Runtime offers CUDA (onnxruntime-gpu lists
    CUDA on a host without a GPU too), else the CPU; where a GPU is there without CUDA, the
    device's note says so with the fix. ``gpu`` needs both; ``cpu`` is the CPU.

    Raises:
        UsageError: ``gpu`` asked for without the CUDA provider or without a GPU (one line naming
            the fix), or an unknown device.
    """
    if requested not in DEVICES:
        raise UsageError(f"device {requested!r} is not one of {', '.join(DEVICES)}")
    if requested == "cpu":
        return Device("cpu", forced=True)
    cuda = providers is None or CUDA in providers
    if requested == "gpu":
        missing = [] if cuda else [f"this onnxruntime lacks it (it offers {', '.join(providers or ()) or 'none'})"]
        if gpu_count < 1:
            missing.append("NVML sees no GPU here")
        if missing:
            fix = "use --device cpu" if cuda else f"{install_fix()}, or use --device cpu"
            raise UsageError(f"--device gpu needs a GPU and ONNX Runtime's {CUDA}, but {' and '.join(missing)}: {fix}")
        return Device("gpu", forced=True)
    if gpu_count < 1:
        return Device("cpu")
    if not cuda:
        return Device(
            "cpu",
            note=f"{gpu_count} GPU(s) found, but ONNX Runtime offers no {CUDA}, so the model is served on the CPU: "
            f"{install_fix()}",
        )
    return Device("gpu")
