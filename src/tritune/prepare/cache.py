"""Prepared copies kept between runs: `tritune profile model.onnx` prepares a file once per
(file content, served name, options, tritune and ONNX Runtime versions), not once per run folder.

An entry is written whole (a temporary folder renamed into place) and only for a preparation
that passed, so a half-written or failed one is never taken. Files go both ways as clones or
copies, never hard links: a run's prepared folder is its own to rewrite (``prepare --force``).
The cache lives in ``$TRITUNE_CACHE_DIR`` (``off``: no cache), else ``<cache>/tritune/prepared``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import onnxruntime as ort

import tritune
from tritune.prepare.options import PrepareOptions
from tritune.prepare.record import REPORT_FILE
from tritune.triton.locate import tritune_cache
from tritune.triton.repository import file_digest, place_file

CACHE_ENV = "TRITUNE_CACHE_DIR"


def prepared_cache() -> Path | None:
    """The folder of prepared copies, or None when ``$TRITUNE_CACHE_DIR`` is ``off``."""
    given = os.environ.get(CACHE_ENV, "")
    if given.lower() == "off":
        return None
    return Path(given) if given else tritune_cache() / "prepared"


def cache_key(source: Path, name: str, options: PrepareOptions) -> str | None:
    """What a prepared copy is for; None for a source that is no single file (a folder, a
    ``module:factory``), whose content this cannot vouch for."""
    if not source.is_file():
        return None
    contents = [file_digest(source)]
    if options.data is not None and Path(options.data).is_file():  # validation data: its content too
        contents.append(file_digest(Path(options.data)))
    # The options' repr names every knob (a frozen dataclass); a data path is covered by its bytes.
    identity = repr((*contents, name, options, tritune.__version__, ort.__version__))
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


def _copy_tree(source: Path, destination: Path) -> None:
    for path in sorted(source.rglob("*")):
        if path.is_file():
            place_file(path, destination / path.relative_to(source))


def take(key: str, destination: Path) -> bool:
    """Put the prepared copy ``key`` at ``destination`` (a run's ``prepared/<name>``); False
    when there is none."""
    root = prepared_cache()
    entry = None if root is None else root / key
    if entry is None or not (entry / REPORT_FILE).is_file():
        return False
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".taking-", dir=destination.parent))
    try:
        _copy_tree(entry, staging)
        if destination.exists():
            shutil.rmtree(destination)
        staging.rename(destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return True


def keep(key: str, prepared: Path) -> None:
    """Keep ``prepared`` (a passed preparation's folder) as the copy ``key``; a cache that cannot
    be written (read-only, full) is skipped: it only saves time."""
    root = prepared_cache()
    if root is None:
        return
    entry = root / key
    with contextlib.suppress(OSError):
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".keeping-", dir=root))
        try:
            _copy_tree(prepared, staging)
            if not entry.exists():  # another process may have kept the same copy meanwhile
                staging.rename(entry)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
