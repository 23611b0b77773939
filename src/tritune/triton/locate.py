"""Finding a tritonserver binary and assembling what it needs to run the Python backend.

Order for the binary: an explicit path, the ``TRITONSERVER`` environment variable, ``PATH``,
then the one bundled in the ``nvidia-pytriton`` wheel.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import sysconfig
from dataclasses import dataclass, replace
from pathlib import Path

from tritune.errors import ServerError

TRITONSERVER_ENV = "TRITONSERVER"


@dataclass(frozen=True)
class TritonInstall:
    """Where the pieces of one Triton installation are."""

    binary: Path
    # The directory that holds backends/python/ (libtriton_python.so) for this binary.
    python_backend: Path | None
    # The python-backend stub built for the running interpreter (None: not found).
    stub: Path | None
    # Extra shared-library directories the binary needs (the wheel's bundled libs).
    library_dirs: tuple[Path, ...]
    source: str  # "explicit", "env", "path" or "wheel"


def _pytriton_root() -> Path | None:
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def python_version_tag() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _wheel_install() -> TritonInstall | None:
    root = _pytriton_root()
    if root is None:
        return None
    server_dir = root / "tritonserver"
    binary = server_dir / "bin" / "tritonserver"
    if not binary.is_file():
        return None
    stub = server_dir / "python_backend_stubs" / python_version_tag() / "triton_python_backend_stub"
    libs = root.parent / "nvidia_pytriton.libs"
    return TritonInstall(
        binary=binary,
        python_backend=server_dir / "backends" / "python",
        stub=stub if stub.is_file() else None,
        library_dirs=(libs,) if libs.is_dir() else (),
        source="wheel",
    )


def own_backends(binary: Path) -> Path:
    """The backends folder an installation keeps next to its binary: /opt/tritonserver/{bin,backends}."""
    return binary.resolve().parent.parent / "backends"


def _install_for_binary(binary: Path, source: str) -> TritonInstall:
    """A user's own Triton: the conventional layout is /opt/tritonserver/{bin,backends}."""
    wheel = _wheel_install()
    if wheel is not None and binary.resolve() == wheel.binary.resolve():
        # The wheel's own binary named explicitly keeps the wheel's library folder and stubs
        # (without them the Python-backend stub cannot load its libraries and a load hangs).
        return replace(wheel, source=source)
    backend = own_backends(binary) / "python"
    stub = backend / "triton_python_backend_stub"
    return TritonInstall(
        binary=binary,
        python_backend=backend if backend.is_dir() else None,
        stub=stub if stub.is_file() else (wheel.stub if wheel else None),
        library_dirs=(),
        source=source,
    )


def _absolute(path: str | os.PathLike[str]) -> Path:
    """A path given relative to where the user stands: the server is started from another
    directory (its log folder), where a relative binary would not be found."""
    return Path(path).expanduser().absolute()


def find_triton(explicit: str | os.PathLike[str] | None = None) -> TritonInstall:
    """Locate a tritonserver binary; raise ServerError naming what was tried and the fix."""
    if explicit is not None:
        path = _absolute(explicit)
        bare = shutil.which(str(explicit)) if os.sep not in str(explicit) and not path.exists() else None
        path = Path(bare) if bare else path  # Model Analyzer's default is the bare name "tritonserver"
        if not (path.is_file() and os.access(path, os.X_OK)):
            problem = (
                f"{path} is a directory, not the tritonserver binary"
                if path.is_dir()
                else f"tritonserver binary {path} is not executable"
                if path.is_file()
                else f"tritonserver binary not found at {path}"
            )
            raise ServerError(
                f"{problem}: pass the path of an executable "
                "tritonserver, or leave it out to use the one bundled with nvidia-pytriton"
            )
        return _install_for_binary(path, "explicit")
    from_env = os.environ.get(TRITONSERVER_ENV)
    if from_env:
        path = _absolute(from_env)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ServerError(f"{TRITONSERVER_ENV}={from_env} is not an executable file: fix the variable or unset it")
        return _install_for_binary(path, "env")
    on_path = shutil.which("tritonserver")
    if on_path:
        return _install_for_binary(Path(on_path), "path")
    wheel = _wheel_install()
    if wheel is not None:
        return wheel
    raise ServerError(
        "no tritonserver found (looked at $TRITONSERVER, PATH and the nvidia-pytriton wheel): "
        "run `pip install nvidia-pytriton` or pass --tritonserver PATH"
    )


def interpreter_library_dir() -> Path:
    """The directory of the running interpreter's libpython.

    It must come first on LD_LIBRARY_PATH: otherwise the stub may load another libpython
    of the same version and fail with "'_thread.RLock' object has no attribute
    '_recursion_count'".
    """
    return Path(str(sysconfig.get_config_var("LIBDIR")))


def tritune_cache() -> Path:
    """tritune's cache folder (the backends folders, prepared copies): ``$XDG_CACHE_HOME/tritune``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tritune"


def prepare_backend_directory(install: TritonInstall, cache_root: Path | None = None) -> Path:
    """Return a --backend-directory whose python/ holds libtriton_python.so and the stub
    for this interpreter. Built once per (binary, Python) and reused: copying on every
    start would cost a second per server."""
    if install.python_backend is None or install.stub is None:
        raise ServerError(
            f"no Python backend stub for Python {python_version_tag()} next to {install.binary}: "
            "use the tritonserver bundled with nvidia-pytriton (unset TRITONSERVER) or install "
            "Triton's python backend for this Python"
        )
    identity = f"{install.binary.resolve()}:{install.binary.stat().st_mtime_ns}:{install.stub}"
    key = f"{hashlib.sha1(identity.encode()).hexdigest()[:12]}-py{python_version_tag()}"
    target = (cache_root or tritune_cache()) / "backends" / key
    if (target / "python" / "triton_python_backend_stub").is_file():
        return target
    staging = target.parent / f".{key}.{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(install.python_backend, staging / "python", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(install.stub, staging / "python" / "triton_python_backend_stub")
    try:
        staging.rename(target)
    except OSError:
        # Another process built it at the same moment; theirs is as good as ours.
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _stub_fits(stub: Path) -> bool:
    """Whether a python-backend stub embeds this interpreter's Python: the runner imports from
    this environment's site-packages, which another Python version cannot load."""
    try:
        return f"libpython{python_version_tag()}".encode() in stub.read_bytes()
    except OSError:
        return False


def local_backend_directory(install: TritonInstall, own: Path | None = None, cache_root: Path | None = None) -> Path:
    """The --backend-directory for a user's own Triton: its own backends folder (``own``, or the
    one next to the binary), with tritune's Python backend beside them only when that folder
    has none that runs this interpreter. The merge is a folder of symlinks in the cache, so the
    user's installation is never written to."""
    folder = _absolute(own) if own is not None else own_backends(install.binary)
    if not folder.is_dir():
        raise ServerError(
            f"no backends folder at {folder} for {install.binary}: pass the right one as "
            "triton_server_flags: {backend-directory: DIR}"
        )
    python = folder / "python"
    if (python / "libtriton_python.so").is_file() and _stub_fits(python / "triton_python_backend_stub"):
        return folder
    ours = prepare_backend_directory(install, cache_root) / "python"
    entries = sorted(e.name for e in folder.iterdir() if e.is_dir() and e.name != "python")
    identity = f"{folder.resolve()}:{','.join(entries)}:{ours}"
    target = (cache_root or tritune_cache()) / "backends" / f"merged-{hashlib.sha1(identity.encode()).hexdigest()[:12]}"
    if (target / "python").exists():
        return target
    staging = target.parent / f".{target.name}.{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in entries:
        (staging / name).symlink_to(folder.resolve() / name, target_is_directory=True)
    (staging / "python").symlink_to(ours, target_is_directory=True)
    try:
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # built by another process at the same moment
    return target


def server_environment(install: TritonInstall, extra_pythonpath: list[str] | None = None) -> dict[str, str]:
    """The environment for tritonserver and the stubs it starts."""
    env = dict(os.environ)
    lib_dirs = [str(interpreter_library_dir()), *map(str, install.library_dirs)]
    if env.get("LD_LIBRARY_PATH"):
        lib_dirs.append(env["LD_LIBRARY_PATH"])
    env["LD_LIBRARY_PATH"] = os.pathsep.join(lib_dirs)
    # The stub must import what the runner imports (numpy, onnxruntime, tritune itself).
    paths = [*(extra_pythonpath or []), *[p for p in sys.path if p and Path(p).is_dir()]]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    # The stub's embedded interpreter finds its prefix (and so the venv's site-packages, via
    # pyvenv.cfg) from the first python3 on PATH; without this it takes the base install's
    # site-packages and its numpy, which may not match ours.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env
