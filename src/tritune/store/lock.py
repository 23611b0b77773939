"""One tritune at a time per run folder.

Two runs on one folder would interleave their measurements into one store and overwrite each
other's best config. An advisory lock (``flock``) on ``<run>/tritune.lock`` keeps the second
out with one line naming the holder; the kernel drops the lock when its holder ends, however
it ends (SIGKILL included), so a stale lock file never blocks a later run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from tritune.errors import TrituneError

LOCK_FILE = "tritune.lock"


class RunFolderBusy(TrituneError):
    """Another process holds the run folder's lock."""


@contextlib.contextmanager
def run_lock(root: Path) -> Iterator[None]:
    """Hold ``root``'s lock for the block; RunFolderBusy when another process holds it."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise RunFolderBusy(
                f"run folder {root} is in use by another tritune (pid {holder}): wait for it to finish, "
                "or give this run another --run-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing drops the lock
