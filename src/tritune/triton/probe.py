"""What the server's Python imports, asked of the server itself.

The Python-backend stub embeds its own interpreter and builds its own ``sys.path``, so the
onnxruntime tritune imports is not necessarily the one the runner gets inside the server (a
host with onnxruntime-gpu installed on a path the stub did not pick first saw every KIND_GPU
variant fail with "CUDAExecutionProvider not available"). The probe is a tiny Python-backend
model laid out exactly like the runner (the same entry ``model.py``, a ``tritune_runner``
package beside it) that answers one inference with a JSON report of ``describe_python()``:
loaded, read, unloaded. The same function describes this process, so the two compare field by
field.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import tritune.runner
from tritune.domain import devices
from tritune.domain.devices import CUDA, GPU_PROVIDERS, InstanceKind
from tritune.domain.space import Dim, SearchSpace
from tritune.errors import ServerError, UsageError
from tritune.triton.control import ModelControl
from tritune.triton.repository import RUNNER_PACKAGE
from tritune.triton.server import Endpoints

PROBE_MODEL = "tritune_python_probe"


def describe_python() -> dict[str, Any]:
    """The interpreter and the onnxruntime/numpy it imports. Runs in this process and, copied as
    source into the probe model, in the server's stub: keep it self-contained (imports inside)."""
    import importlib
    import importlib.metadata
    import os
    import sys

    report: dict[str, Any] = {"executable": sys.executable, "prefix": sys.prefix, "version": sys.version.split()[0]}
    for name in ("onnxruntime", "numpy"):
        try:
            module = importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - what failed is the report
            report[name] = {"error": f"{type(error).__name__}: {error}"}
            continue
        entry: dict[str, Any] = {"version": str(getattr(module, "__version__", "?"))}
        entry["file"] = str(getattr(module, "__file__", ""))
        if name == "onnxruntime":
            entry["providers"] = list(module.get_available_providers())
        report[name] = entry
    # onnxruntime and onnxruntime-gpu both install the module `onnxruntime`: both in the folder
    # it is imported from means one overwrote the other's files (uninstalling either breaks the
    # survivor). Copies in other folders overwrite nothing; the import order tells which wins.
    site = os.path.dirname(os.path.dirname(report["onnxruntime"].get("file") or ""))
    report["distributions"] = sorted(
        {
            str(d.metadata["Name"] or "").lower()
            for d in importlib.metadata.distributions(path=[site] if site else [])
            if str(d.metadata["Name"] or "").lower().startswith("onnxruntime")
        }
    )
    return report


_PROBE_MODEL_SOURCE = '''"""tritune's probe: reports what this stub's Python imports (see tritune/triton/probe.py)."""
from __future__ import annotations  # describe_python's annotations name types not imported here

import json

import numpy as np
import triton_python_backend_utils as pb_utils

{describe}

class TritonPythonModel:
    def execute(self, requests):
        # The JSON as raw bytes (UINT8): a STRING tensor goes through numpy's object arrays,
        # whose handling differs between the numpy versions a stub and a client may have (on a
        # numpy 2.5 host the client read an empty one).
        report = np.frombuffer(json.dumps(describe_python()).encode(), dtype=np.uint8)
        return [pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("REPORT", report)]) for _ in requests]
'''

_PROBE_CONFIG = """name: "{name}"
backend: "python"
max_batch_size: 0
input [ {{ name: "IN" data_type: TYPE_INT32 dims: [ 1 ] }} ]
output [ {{ name: "REPORT" data_type: TYPE_UINT8 dims: [ -1 ] }} ]
instance_group [ {{ kind: KIND_CPU count: 1 }} ]
"""


@dataclass(frozen=True)
class ServerPython:
    """One Python's view: where it lives and the onnxruntime and numpy it imports."""

    executable: str
    prefix: str
    python_version: str
    onnxruntime_version: str | None
    onnxruntime_file: str | None
    providers: tuple[str, ...]
    numpy_version: str | None
    onnxruntime_error: str | None = None
    distributions: tuple[str, ...] = ()

    @classmethod
    def from_report(cls, report: dict[str, Any]) -> ServerPython:
        ort = report.get("onnxruntime") or {}
        numpy = report.get("numpy") or {}
        return cls(
            executable=str(report.get("executable") or ""),
            prefix=str(report.get("prefix") or ""),
            python_version=str(report.get("version") or "?"),
            onnxruntime_version=ort.get("version"),
            onnxruntime_file=ort.get("file"),
            providers=tuple(ort.get("providers") or ()),
            numpy_version=numpy.get("version") or numpy.get("error"),
            onnxruntime_error=ort.get("error"),
            distributions=tuple(report.get("distributions") or ()),
        )

    @property
    def site(self) -> Path | None:
        """The folder that holds the ``onnxruntime`` package (a site-packages or a --target dir)."""
        return Path(self.onnxruntime_file).parent.parent if self.onnxruntime_file else None

    def describe(self) -> str:
        if self.onnxruntime_error:
            return f"no onnxruntime ({self.onnxruntime_error})"
        return f"onnxruntime {self.onnxruntime_version} from {self.site}; providers: {', '.join(self.providers)}"


def parse_server_python(text: str | bytes) -> ServerPython:
    """The probe's answer (JSON) as a record."""
    try:
        report = json.loads(text)
    except ValueError:
        raise ServerError(f"tritune's probe answered something that is not JSON: {str(text)[:80]!r}") from None
    if not isinstance(report, dict):
        raise ServerError(f"tritune's probe answered {type(report).__name__}, not an object")
    return ServerPython.from_report(report)


def this_python() -> ServerPython:
    return ServerPython.from_report(describe_python())


def write_probe_model(repository: Path, name: str = PROBE_MODEL) -> Path:
    """The probe as the runner is laid out: the runner's own entry model.py (so the stub's paths
    are set up as for every variant) and a ``tritune_runner.triton_model`` that reports."""
    model_dir = repository / name
    package = model_dir / "1" / RUNNER_PACKAGE
    shutil.rmtree(model_dir, ignore_errors=True)
    package.mkdir(parents=True)
    shutil.copy2(Path(tritune.runner.__file__).parent / "entry_model.py", model_dir / "1" / "model.py")
    (package / "__init__.py").write_text("")
    describe = inspect.getsource(describe_python)
    (package / "triton_model.py").write_text(_PROBE_MODEL_SOURCE.format(describe=describe))
    (model_dir / "config.pbtxt").write_text(_PROBE_CONFIG.format(name=name))
    return model_dir


def probe_server_python(control: ModelControl, endpoints: Endpoints, repository: Path) -> ServerPython:
    """Load the probe on a running server (``repository``: the folder ``control`` loads from),
    read its one answer, unload it and remove its files."""
    from tritune.triton.infer import InferClient

    model_dir = write_probe_model(repository)
    try:
        control.load(PROBE_MODEL)
        # gRPC: under numpy 2.5 tritonclient's HTTP result read the binary output back empty;
        # the gRPC result carries it as protobuf bytes.
        with InferClient(endpoints, "grpc") as client:
            try:
                answer = client.infer(PROBE_MODEL, {"IN": np.zeros(1, dtype=np.int32)})["REPORT"]
            except ValueError:  # the client could not shape the data it got: none came
                answer = np.zeros(0, dtype=np.uint8)
    finally:
        with contextlib.suppress(ServerError):  # a probe that never loaded has nothing to unload
            control.unload(PROBE_MODEL)
        shutil.rmtree(model_dir, ignore_errors=True)
    if answer.size == 0:
        # Seen where the server's Python had numpy 2.5: the stub (built for numpy 1.x, which
        # tritune pins) sent every tensor's shape without its data; with numpy 1.26 it answered.
        raise ServerError(
            "the server's Python backend sent tritune's probe an empty tensor, so it would send every "
            "model's outputs empty too: install numpy<2 in the server's Python (pip install 'numpy<2')"
        )
    return parse_server_python(answer.astype(np.uint8).tobytes())


# -- what the reports mean ------------------------------------------------------------------


def install_fix(server: ServerPython, package: str = devices.GPU_PACKAGE) -> str:
    """Where ``package`` has to go so that the server's Python imports it (the one fix of
    ``tritune.domain.devices``, for that Python)."""
    site, prefix = server.site, server.prefix
    if site is not None and not (prefix and site.is_relative_to(prefix)):
        # a folder on PYTHONPATH (pip install --target), not an environment
        return devices.install_fix(package, target=str(site))
    return devices.install_fix(package, python_prefix=prefix or None)


def server_mismatch(here: ServerPython, server: ServerPython) -> str | None:
    """Why the server's runner would not get the onnxruntime tritune measured with, with the
    fix; None when both import the same one."""
    if server.onnxruntime_error:
        wanted = devices.GPU_PACKAGE if CUDA in here.providers else "onnxruntime"
        return (
            f"the server's Python cannot import onnxruntime ({server.onnxruntime_error}): {install_fix(server, wanted)}"
        )
    missing = [p for p in here.providers if p not in server.providers]
    if missing:
        return (
            f"the server's Python imports onnxruntime {server.onnxruntime_version} from {server.site} "
            f"without {', '.join(missing)}: {install_fix(server)}"
        )
    if (server.onnxruntime_version, server.onnxruntime_file) != (here.onnxruntime_version, here.onnxruntime_file):
        wanted = f"{devices.GPU_PACKAGE if CUDA in here.providers else 'onnxruntime'}=={here.onnxruntime_version}"
        return (
            f"the server's Python imports onnxruntime {server.onnxruntime_version} from {server.site}, tritune "
            f"{here.onnxruntime_version} from {here.site}: {install_fix(server, wanted)}"
        )
    return None


def gpu_step_missing(gpus: bool, here: ServerPython, server: ServerPython | None) -> str | None:
    """The GPU install of docs/gpu.md, step by step: which one this machine has not taken (None: all, or
    no GPU to take them for)."""
    if not gpus:
        return None
    if {"onnxruntime", "onnxruntime-gpu"} <= set(here.distributions):
        return f"both onnxruntime and onnxruntime-gpu are installed (one overwrote the other): {devices.install_fix()}"
    if CUDA not in here.providers:
        return f"a GPU is present but onnxruntime {here.onnxruntime_version} has no {CUDA}: {devices.install_fix()}"
    if server is not None and CUDA not in server.providers:
        return f"tritune has {CUDA} but the server's Python does not: {install_fix(server)}"
    return None


def gpu_variants_possible(space: SearchSpace) -> bool:
    """Whether a search over ``space`` may deploy a variant that needs a GPU provider: a KIND_GPU
    instance, or a CUDA/TensorRT provider asked for (the default point included)."""
    names = set(space.names)
    kinds = [*(space.dimension(Dim.INSTANCE_KIND).values if Dim.INSTANCE_KIND in names else ())]
    providers = [*(space.dimension(Dim.EXECUTION_PROVIDERS).values if Dim.EXECUTION_PROVIDERS in names else ())]
    kinds.append(space.default.get(Dim.INSTANCE_KIND))
    providers.append(space.default.get(Dim.EXECUTION_PROVIDERS))
    asked = {p for listed in providers if isinstance(listed, tuple) for p in listed}
    return InstanceKind.KIND_GPU in kinds or bool(asked & set(GPU_PROVIDERS))


def needs_probe(space: SearchSpace, *, gpus: bool, own_backend: bool) -> bool:
    """Probe the run's server only where it can matter: a GPU host, a model served by tritune's
    runner (a repository's own backend brings its own runtime) and GPU variants in the space."""
    return gpus and not own_backend and gpu_variants_possible(space)


def gpu_refusal(server: ServerPython) -> str | None:
    """The one-line refusal of a search with GPU variants whose runner cannot get CUDA."""
    if CUDA in server.providers:
        return None
    return (
        f"GPU variants need {CUDA}, but the server's Python has {server.describe()}: {install_fix(server)} "
        "(or search CPU variants only: cpu_only: true)"
    )


def check_gpu_runtime(
    space: SearchSpace,
    control: ModelControl,
    endpoints: Endpoints,
    repository: Path,
    *,
    gpus: bool,
    own_backend: bool,
) -> None:
    """Before a search: refuse GPU variants the server's runner could not run (one probe, only
    where :func:`needs_probe` says so)."""
    if not needs_probe(space, gpus=gpus, own_backend=own_backend):
        return
    refusal = gpu_refusal(probe_server_python(control, endpoints, repository))
    if refusal is not None:
        raise UsageError(refusal)
