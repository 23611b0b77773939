"""The server's reaper: a small process that outlives tritune only to end what tritune started.

The kernel SIGTERMs the server when tritune dies (``PR_SET_PDEATHSIG``), but a server busy
loading a model ignores SIGTERM until the load ends (a stub stuck in ``initialize()``: minutes),
and the stubs, the temporary folder and the shared-memory regions have no such link at all.
So each embedded server gets a reaper in a session of its own: it polls tritune's pid, and once
tritune is gone (SIGKILL included) it SIGTERMs the server's process group, SIGKILLs what is left
after a grace period, and removes the server's ``/dev/shm`` regions and temporary folder. When
tritune stops the server itself, the reaper sees the group gone and exits without a word.

    python -m tritune.triton.reaper OWNER_PID SERVER_PID [FOLDER ...]
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterable
from pathlib import Path

POLL_S = 0.5
GRACE_S = 5.0
SHM = "/dev/shm/"
PYTHON_BACKEND_REGION = "triton_python_backend_shm_region_"  # the Python backend's regions for its stubs


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_members(pgid: int) -> list[int]:
    """The live pids whose process group is ``pgid`` (the server and the stubs it started);
    a zombie, dead and waiting for its parent to collect it, is not counted."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                # Fields 3 (state) and 5 (process group) of /proc/<pid>/stat, after the command name.
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    members.append(int(entry.name))
    return members


def shared_memory(pids: Iterable[int]) -> set[Path]:
    """The /dev/shm files these processes map (the Python backend's regions)."""
    regions: set[Path] = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
                path = line.split(maxsplit=5)[-1] if line.count(" ") >= 5 else ""
                if path.startswith(SHM):
                    regions.add(Path(path.removesuffix(" (deleted)")))
    return regions


def unmapped_regions(since_epoch: float) -> set[Path]:
    """The Python backend's regions made since ``since_epoch`` that no live process maps.

    ``shared_memory`` of a group finds only what its processes map when they are ended; a region
    nobody maps by then is missed: a server stuck loading a model, whose tritune was SIGKILLed,
    left one 1 MiB region behind every time the reaper ended it. Another server's regions are
    mapped by its live processes and kept."""
    candidates = set()
    for path in Path(SHM).glob(f"{PYTHON_BACKEND_REGION}*"):
        with contextlib.suppress(OSError):
            if path.stat().st_mtime >= since_epoch:
                candidates.add(path)
    if not candidates:
        return set()
    every = [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    return candidates - shared_memory(every)


def end_group(pgid: int, grace_s: float = GRACE_S) -> set[Path]:
    """SIGTERM the group, SIGKILL it after ``grace_s``; the shared memory its members mapped."""
    regions = shared_memory(group_members(pgid))
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    return regions


def remove(paths: Iterable[Path]) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                path.unlink()


def watch(owner: int, server: int, folders: list[Path], started_epoch: float) -> None:
    """``started_epoch``: when the server started (``time.time()``), before any of its stubs."""
    while alive(owner):
        if not group_members(server):
            return  # tritune stopped the server itself
        time.sleep(POLL_S)
    regions = end_group(server)
    remove([*regions, *unmapped_regions(started_epoch), *folders])


def _started(pid: int) -> float:
    """When the server started (its stubs' regions are newer); now, if it is already gone."""
    import psutil  # here, not at the top: the reaper's own start stays light (stdlib, then this)

    try:
        # Less a margin: a create time is boot time (whole seconds) plus clock ticks, up to a
        # second off the wall clock a region's mtime is read by.
        return float(psutil.Process(pid).create_time()) - 2.0
    except psutil.Error:
        return time.time()


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is for tritune, not for this
    owner, server, *folders = argv
    watch(int(owner), int(server), [Path(f) for f in folders], _started(int(server)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
