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


def open_error(path: Path, error: sqlite3.DatabaseError) -> TrituneError:
    """Why the store at ``path`` could not be opened, and the fix."""
    reason = str(error)
    if "malformed" in reason:
        return StorageError(
            f"the store {path} is damaged ({reason}): restore it from a copy, or give this run another "
            "--run-dir (the file is kept as it is)"
        )
    if not os.access(path.parent, os.W_OK):  # EROFS says no even to root
        return StorageError(
            f"the store {path} cannot be opened ({reason}): its folder {path.parent} is read-only; "
            "copy the run folder somewhere writable"
        )
    return UsageError(f"{path} is not a tritune store ({reason}): pass another run directory or remove the file")


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
