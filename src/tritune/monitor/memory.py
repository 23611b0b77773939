"""Per-model memory: the Python backend runs every model instance in its own stub process, so
the memory of a model variant is the memory of its stubs (RSS and USS via psutil, GPU memory
via NVML on a GPU host)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from tritune.monitor.nvml import gpu_memory_by_pid

STUB_NAME = "triton_python_backend_stub"


def _serves(cmdline: Sequence[str], model: str) -> bool:
    # The stub's first argument is <repository>/<model>/<version>/model.py.
    for arg in cmdline[1:3]:
        path = Path(arg)
        if path.suffix == ".py" and path.parent.parent.name == model:
            return True
    return False


def stub_processes(server_pid: int, model: str) -> list[psutil.Process]:
    """The live stub processes of ``model`` under the server ``server_pid``."""
    try:
        children = psutil.Process(server_pid).children(recursive=True)
    except psutil.Error:
        return []
    found = []
    for child in children:
        with contextlib.suppress(psutil.Error):
            if child.name().startswith(STUB_NAME[:15]) and _serves(child.cmdline(), model):
                found.append(child)
    return found


@dataclass(frozen=True)
class ModelMemory:
    processes: int
    rss_bytes: int
    uss_bytes: int | None  # None where the platform cannot tell
    gpu_bytes: int | None  # None without NVML (a CPU host)

    @staticmethod
    def peak(samples: Sequence[ModelMemory]) -> ModelMemory | None:
        if not samples:
            return None
        uss = [s.uss_bytes for s in samples if s.uss_bytes is not None]
        gpu = [s.gpu_bytes for s in samples if s.gpu_bytes is not None]
        return ModelMemory(
            processes=max(s.processes for s in samples),
            rss_bytes=max(s.rss_bytes for s in samples),
            uss_bytes=max(uss) if uss else None,
            gpu_bytes=max(gpu) if gpu else None,
        )


def model_memory(server_pid: int | None, model: str) -> ModelMemory | None:
    """None when the server is not ours (remote) or the model has no stub process."""
    if server_pid is None:
        return None
    stubs = stub_processes(server_pid, model)
    if not stubs:
        return None
    rss = 0
    uss: int | None = 0
    for stub in stubs:
        with contextlib.suppress(psutil.Error):
            try:
                info = stub.memory_full_info()
                rss += info.rss
                uss = None if uss is None else uss + info.uss
            except (psutil.AccessDenied, AttributeError):
                rss += stub.memory_info().rss
                uss = None
    gpu = gpu_memory_by_pid([s.pid for s in stubs])
    return ModelMemory(len(stubs), rss, uss, None if gpu is None else sum(gpu.values()))
