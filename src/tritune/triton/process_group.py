"""The embedded server's processes as one group: the reaper that ends them if tritune dies
first, and the stop that ends them when tritune is done (the server, its stubs, their
``/dev/shm`` regions), whether the server is still running or died by itself."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import psutil

from tritune.triton.reaper import group_members, remove, shared_memory, unmapped_regions


def start_reaper(server_pid: int, owned: tempfile.TemporaryDirectory[str] | None) -> subprocess.Popen[bytes]:
    """The process that ends the server, its stubs and its files if tritune dies first
    (reaper.py says why the kernel's parent-death signal is not enough)."""
    package_root = str(Path(__file__).resolve().parents[2])  # tritune importable from a checkout too
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    folders = [owned.name] if owned is not None else []
    return subprocess.Popen(
        [sys.executable, "-m", "tritune.triton.reaper", str(os.getpid()), str(server_pid), *folders],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,  # outside the server's group, and out of a terminal's Ctrl-C
    )


def terminate_group(process: subprocess.Popen[bytes], timeout_s: float, started_epoch: float | None = None) -> None:
    """End the server, every process of its group and any stub that left it; remove the
    ``/dev/shm`` regions they mapped and, given when the server started (``time.time()``), the
    Python backend's regions made since then that nobody maps any more (reaper.unmapped_regions).

    The group, not the tree: a server that died by itself leaves its stubs reparented to init,
    out of ``children()`` but still in the server's process group."""
    pgid = process.pid
    members = _processes(group_members(pgid))
    with contextlib.suppress(psutil.Error):
        members += [p for p in psutil.Process(pgid).children(recursive=True) if p not in members]
    # A server killed rather than stopped leaves the Python backend's regions in /dev/shm.
    regions = shared_memory(p.pid for p in members)
    if process.poll() is not None:
        # Nothing left to unload the models, and the stubs ignore SIGTERM: end them at once.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    else:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
    process.wait(timeout=5)
    # Stubs that left the group (or outlived the server) are ended one by one.
    _, alive = psutil.wait_procs([m for m in members if m.pid != pgid], timeout=3)
    for member in alive:
        with contextlib.suppress(psutil.Error):
            member.kill()
    psutil.wait_procs(alive, timeout=3)
    if started_epoch is not None:
        regions |= unmapped_regions(started_epoch)
    remove(regions)


def _processes(pids: Sequence[int]) -> list[psutil.Process]:
    found = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            found.append(psutil.Process(pid))
    return found
