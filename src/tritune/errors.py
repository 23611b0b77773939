"""The error tree. Every error a user can cause carries a one-line message that names the
problem and the fix; the CLI maps each class to an exit status."""

from __future__ import annotations

import errno
from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    CONSTRAINTS_UNMET = 3  # the run finished, but no configuration meets the constraints
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
    TERMINATED = 143  # SIGTERM (128 + SIGTERM): timeout, CI, docker stop


class TrituneError(Exception):
    """Root of every error tritune raises on purpose."""

    exit_status: ExitStatus = ExitStatus.ERROR

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        # Long context (a server log tail) that the CLI prints below the one-line message.
        self.detail = detail


class UsageError(TrituneError):
    """Bad user input: a missing file, a malformed option or config."""

    exit_status = ExitStatus.USAGE


class ConstraintsUnmetError(TrituneError):
    """The run finished and kept everything, but no configuration meets the constraints: a
    script must not take the closest one for an answer."""

    exit_status = ExitStatus.CONSTRAINTS_UNMET


class ModelError(TrituneError):
    """The model file cannot be read or used as given."""


class ServerError(TrituneError):
    """The Triton server could not be found, started, reached, or it died."""


class ModelLoadError(ServerError):
    """The server refused to load a model (or a variant of it)."""


class InferenceError(TrituneError):
    """An inference request failed."""


# The errors that mean the disk will not take what tritune writes: the user's to fix.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


class StorageError(TrituneError):
    """A file or folder tritune writes cannot be written: the disk is full or read-only."""


def storage_error(path: object, error: OSError, elsewhere: str) -> StorageError:
    """``error`` (one of STORAGE_ERRNOS) writing ``path`` as one line naming the path and the
    fix: free some space, or ``elsewhere`` (another place to write, e.g. "give another --run-dir")."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageError(f"no space left on the device writing {path}: free some space or {elsewhere}")
    if error.errno == errno.EROFS:
        return StorageError(f"{path} is on a read-only file system: {elsewhere}")
    return StorageError(f"{path} cannot be written ({error.strerror}): {elsewhere}")
