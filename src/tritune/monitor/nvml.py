"""GPU memory per process through NVML (nvidia-ml-py); None on a host without a driver."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable

_lock = threading.Lock()
_state: dict[str, bool] = {}


def _init() -> bool:
    """Initialise NVML once per process; remember a failure so CPU hosts pay for it once."""
    with _lock:
        if "ok" not in _state:
            try:
                import pynvml

                pynvml.nvmlInit()
                _state["ok"] = True
            except Exception:  # noqa: BLE001 - ImportError, NVMLError_LibraryNotFound, driver errors
                _state["ok"] = False
        return _state["ok"]


def gpu_memory_by_pid(pids: Iterable[int]) -> dict[int, int] | None:
    """Bytes of GPU memory each of ``pids`` uses, summed over GPUs (0 for a pid on none)."""
    if not _init():
        return None
    import pynvml

    wanted = set(pids)
    used = dict.fromkeys(wanted, 0)
    try:
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            processes = []
            with contextlib.suppress(pynvml.NVMLError):
                processes += pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
            with contextlib.suppress(pynvml.NVMLError):
                processes += pynvml.nvmlDeviceGetGraphicsRunningProcesses(handle)
            for process in processes:
                if process.pid in wanted and process.usedGpuMemory is not None:
                    used[process.pid] += int(process.usedGpuMemory)
    except pynvml.NVMLError:
        return None
    return used
