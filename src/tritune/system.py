"""What this machine offers tritune: Python, Triton, ONNX Runtime, GPUs, perf_analyzer."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    uuid: str
    memory_total_bytes: int


@dataclass(frozen=True)
class Hardware:
    cpu_model: str
    cpu_cores_logical: int
    cpu_cores_physical: int
    memory_total_bytes: int
    gpus: tuple[GpuInfo, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def list_gpus() -> tuple[GpuInfo, ...]:
    """GPUs seen through NVML; empty when there is no driver (a CPU machine)."""
    try:
        import pynvml
    except ImportError:
        return ()
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return ()
    try:
        gpus = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            name = pynvml.nvmlDeviceGetName(handle)
            uuid = pynvml.nvmlDeviceGetUUID(handle)
            gpus.append(
                GpuInfo(
                    index=index,
                    name=name.decode() if isinstance(name, bytes) else str(name),
                    uuid=uuid.decode() if isinstance(uuid, bytes) else str(uuid),
                    memory_total_bytes=int(pynvml.nvmlDeviceGetMemoryInfo(handle).total),
                )
            )
        return tuple(gpus)
    finally:
        with contextlib.suppress(pynvml.NVMLError):
            pynvml.nvmlShutdown()


def hardware() -> Hardware:
    return Hardware(
        cpu_model=cpu_model(),
        cpu_cores_logical=psutil.cpu_count(logical=True) or 0,
        cpu_cores_physical=psutil.cpu_count(logical=False) or 0,
        memory_total_bytes=int(psutil.virtual_memory().total),
        gpus=list_gpus(),
    )


def runtime_providers() -> tuple[str, ...]:
    """The execution providers ONNX Runtime offers in this process: the one place tritune asks,
    so a probe of the server's own runtime can take its place where that is what matters."""
    import onnxruntime as ort

    return tuple(ort.get_available_providers())


PERF_ANALYZER_ENV = "PERF_ANALYZER"
# Where scripts/get_perf_analyzer.sh puts its wrapper, relative to the directory tritune runs in
# (the benchmarks run from the repository root); an installed wheel has no source checkout to
# look into, so the checkout's location is never assumed.
TOOLS_PERF_ANALYZER = Path(".tools") / "bin" / "perf_analyzer"


def find_perf_analyzer() -> Path | None:
    """$PERF_ANALYZER, then PATH, then ``./.tools/bin`` (scripts/get_perf_analyzer.sh)."""
    explicit = os.environ.get(PERF_ANALYZER_ENV)
    if explicit and Path(explicit).is_file():
        return Path(explicit)
    found = shutil.which("perf_analyzer")
    if found:
        return Path(found)
    local = Path.cwd() / TOOLS_PERF_ANALYZER
    return local if local.is_file() else None
