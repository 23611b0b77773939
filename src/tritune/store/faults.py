"""The store's faults as one line each: a file that is no store, a damaged one, one in a
read-only folder, a disk with no room for a write."""

from __future__ import annotations

import errno
import functools
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from tritune.errors import StorageError, TrituneError, UsageError, storage_error

_F = TypeVar("_F", bound=Callable[..., Any])


_SQLITE_HEADER = b"SQLite format 3\x00"


def open_error(path: Path, error: sqlite3.DatabaseError) -> TrituneError:
    """Why the store at ``path`` could not be opened, and the fix. A store that reads back
    whole is never called anything but intact, and no message advises removing a file: the
    results in it may be the only copy."""
    reason = str(error)
    kept = "the file is kept as it is"
    if _reads_back(path):
        return StorageError(f"the store {path} is intact but cannot be opened for writing ({_why_not(path, reason)})")
    if "malformed" in reason or _is_sqlite(path):
        return StorageError(
            f"the store {path} is damaged ({reason}): restore it from a copy, or give this run another "
            f"--run-dir ({kept})"
        )
    if not os.access(path.parent, os.W_OK):  # EROFS says no even to root
        return StorageError(
            f"the store {path} cannot be opened ({reason}): its folder {path.parent} is read-only; "
            "copy the run folder somewhere writable"
        )
    return UsageError(f"{path} is not a tritune store ({reason}): pass another run directory ({kept})")


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return file.read(len(_SQLITE_HEADER)) == _SQLITE_HEADER
    except OSError:
        return False


def _reads_back(path: Path) -> bool:
    """Whether ``path`` is a run store that opens read-only and passes SQLite's own check. Read
    as immutable, SQLite writes nothing beside it (no -shm file), so a full or read-only disk
    does not stop the check."""
    if not _is_sqlite(path):
        return False
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            return {"runs", "variants", "measurements"} <= tables and db.execute("PRAGMA quick_check").fetchone() == (
                "ok",
            )
        finally:
            db.close()
    except sqlite3.Error:
        return False


def _why_not(path: Path, reason: str) -> str:
    """What keeps an intact store from opening here: the disk full or read-only, else SQLite's
    reason; with the fix."""
    folder = path.parent
    try:
        disk = os.statvfs(folder)
    except OSError:
        return f"{reason}: copy the run folder somewhere writable and run there"
    if disk.f_flag & os.ST_RDONLY or not os.access(folder, os.W_OK):
        return f"{reason}: {folder} is on a read-only file system; copy the run folder somewhere writable"
    if disk.f_bavail * disk.f_frsize < 1 << 20:  # under 1 MiB: no room for its write-ahead log
        return f"{reason}: the disk holding {folder} is full; free some space, or copy the run folder elsewhere"
    return f"{reason}: check the disk holding {folder}, or copy the run folder elsewhere"


def writes(method: _F) -> _F:
    """A write of the store (a method of an object with ``path``) that the disk has no room for
    is one line naming the store: what was committed before stays, the rerun resumes from it."""

    @functools.wraps(method)
    def write(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode != sqlite3.SQLITE_FULL:
                raise
            full = OSError(errno.ENOSPC, str(error))
            raise storage_error(self.path, full, "give this run another --run-dir") from None

    return cast(_F, write)
