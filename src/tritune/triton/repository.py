"""The on-disk model repository: ``<repo>/<name>/config.pbtxt`` and
``<repo>/<name>/<version>/{model.py, model.onnx, tritune_runner/}``."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tritonclient.grpc import model_config_pb2 as mc

import tritune.runner
from tritune.domain.serving import ServingConfig, default_serving_config
from tritune.errors import ModelError
from tritune.triton.model_config import build_model_config, read_signature, to_pbtxt

RUNNER_PACKAGE = "tritune_runner"
_RUNNER_SOURCE = Path(tritune.runner.__file__).parent


@dataclass(frozen=True)
class DeployedModel:
    name: str
    directory: Path
    config: mc.ModelConfig

    @property
    def config_path(self) -> Path:
        return self.directory / "config.pbtxt"


def install_runner(version_dir: Path) -> None:
    """Copy the runner beside the model: model.py (entry) and the tritune_runner package."""
    version_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(_RUNNER_SOURCE / "entry_model.py", version_dir / "model.py")
    target = version_dir / RUNNER_PACKAGE
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(_RUNNER_SOURCE, target, ignore=shutil.ignore_patterns("__pycache__", "entry_model.py", "*.pyc"))


def file_digest(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB blocks (a model may be gigabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def place_file(source: Path, destination: Path, *, share: bool = False) -> None:
    """Put ``source`` at ``destination``.

    ``share``: a variant inside a run, hard-linked where possible so the variants of one big
    model share its bytes (the run owns them). Otherwise (an export, ``best/``, a user's own
    deploy) the file gets its own inode: a copy-on-write clone where the filesystem has them, a
    copy elsewhere; never a hard link, which would change with the user's next save of the
    source and no longer match its config.pbtxt.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    if destination.exists() or destination.is_symlink():
        destination.unlink()
    if share:
        try:
            os.link(source, destination)
            return
        except OSError:
            pass
    elif _clone(source, destination):
        return
    shutil.copy2(source, destination)


_FICLONE = 0x40049409  # Linux ioctl: share the source's extents copy-on-write (btrfs, XFS, ...)


def _clone(source: Path, destination: Path) -> bool:
    """A reflink of ``source`` at ``destination``; False (nothing left behind) where the
    filesystem or the platform has none."""
    if not hasattr(fcntl, "ioctl"):
        return False
    try:
        with open(source, "rb") as src, open(destination, "wb") as dst:
            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
    except OSError:
        destination.unlink(missing_ok=True)
        return False
    shutil.copystat(source, destination)
    return True


def write_config(model_dir: Path, config: mc.ModelConfig) -> Path:
    path = model_dir / "config.pbtxt"
    model_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".pbtxt.tmp")
    tmp.write_text(to_pbtxt(config))
    tmp.replace(path)  # a reader never sees half a config
    return path


def deploy_onnx(
    repository: str | os.PathLike[str],
    name: str,
    onnx_path: str | os.PathLike[str],
    serving: ServingConfig | None = None,
    *,
    version: int = 1,
    external_data: list[Path] | None = None,
    share: bool = False,
) -> DeployedModel:
    """Lay out a model for the tritune runner and write its completed config.pbtxt.

    ``share``: the model file may be hard-linked (a run's own variants); otherwise the entry
    stands on its own (see :func:`place_file`)."""
    onnx_path = Path(onnx_path)
    signature = read_signature(onnx_path)
    serving = serving or default_serving_config(signature)
    if not name or "/" in name or name.startswith("."):
        raise ModelError(f"model name {name!r} is not usable as a directory name: choose a plain name")
    config = build_model_config(name, signature, serving)
    model_dir = Path(repository) / name
    version_dir = model_dir / str(version)
    place_file(onnx_path, version_dir / serving.runner.model_filename, share=share)
    for extra in external_data or []:
        place_file(extra, version_dir / extra.name, share=share)
    install_runner(version_dir)
    write_config(model_dir, config)
    return DeployedModel(name, model_dir, config)
