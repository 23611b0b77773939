"""Where ``tritune prepare`` runs the model for its max-batch search, and so which instance kind
its config.pbtxt serves: the GPU through ONNX Runtime's CUDA execution provider where this
process has it and a GPU is visible, the CPU otherwise. ``choose_device`` is pure given those
facts, so the GPU decision is tested on a CPU host."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tritune.errors import UsageError

DEVICES = ("auto", "cpu", "gpu")
CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"
INSTALL_GPU = "install onnxruntime-gpu (pip install onnxruntime-gpu, in place of onnxruntime)"


@dataclass(frozen=True)
class Device:
    kind: str  # "cpu" | "gpu"
    forced: bool = False  # asked for by name (--device gpu), so a fallback is an error

    @property
    def gpu(self) -> bool:
        return self.kind == "gpu"

    @property
    def providers(self) -> tuple[str, ...]:
        """ONNX Runtime's providers for a session on this device, in priority order."""
        return (CUDA_PROVIDER, CPU_PROVIDER) if self.gpu else (CPU_PROVIDER,)

    @property
    def instance_kind(self) -> str:
        return "KIND_GPU" if self.gpu else "KIND_CPU"


def choose_device(requested: str, providers: Sequence[str], gpu_count: int) -> Device:
    """``auto`` is the GPU when ONNX Runtime offers CUDA and NVML sees a GPU (onnxruntime-gpu
    lists CUDA on a host without one too), else the CPU; ``gpu`` needs the CUDA provider.

    Raises:
        UsageError: ``gpu`` asked for without the CUDA provider, or an unknown device.
    """
    if requested not in DEVICES:
        raise UsageError(f"device {requested!r} is not one of {', '.join(DEVICES)}")
    if requested == "cpu":
        return Device("cpu", forced=True)
    cuda = CUDA_PROVIDER in providers
    if requested == "gpu":
        if not cuda:
            raise UsageError(
                f"--device gpu needs ONNX Runtime's {CUDA_PROVIDER}, which this onnxruntime lacks "
                f"(it offers {', '.join(providers) or 'none'}): {INSTALL_GPU}, or use --device cpu"
            )
        return Device("gpu", forced=True)
    return Device("gpu" if cuda and gpu_count > 0 else "cpu")
