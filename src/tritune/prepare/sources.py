"""What the user hands in, and how it becomes an ONNX file plus a reference to compare against.

Kinds: an ONNX file (external data beside it is fine), a TorchScript archive (.pt/.pth), a
torch.export ExportedProgram (.pt2), a Python factory ``package.module:function`` returning an
``nn.Module``, and a TensorFlow SavedModel directory (through tf2onnx, an optional extra)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import onnxruntime as ort

from tritune.domain.devices import CPU
from tritune.domain.names import is_factory_reference
from tritune.errors import ModelError, UsageError
from tritune.prepare.batch import detect_batch
from tritune.prepare.options import PrepareOptions
from tritune.prepare.validate import Runner
from tritune.runner.cpu_threads import confined_default_threads
from tritune.triton.model_config import load_onnx

TORCHSCRIPT_SUFFIXES = (".pt", ".pth", ".torchscript")
EXPORTED_PROGRAM_SUFFIXES = (".pt2",)
SUPPORTED = (
    "an .onnx file, a TorchScript .pt, an ExportedProgram .pt2, a factory package.module:function "
    "or a TensorFlow SavedModel directory"
)


@dataclass
class Source:
    """An imported model.

    ``reference`` runs the source itself (the framework model, or the original ONNX on ONNX
    Runtime); ``reference_batch`` is the only batch size it accepts, None when any works.
    ``reference_label`` names it in the report."""

    kind: str
    onnx_path: Path
    reference: Runner
    reference_label: str
    reference_batch: int | None = None
    notes: list[str] = field(default_factory=list)


def source_kind(model: str) -> str:
    path = Path(model)
    if path.is_dir():
        if (path / "saved_model.pb").exists() or (path / "saved_model.pbtxt").exists():
            return "savedmodel"
        raise UsageError(f"{model} is a directory without saved_model.pb: pass {SUPPORTED}")
    if path.exists():
        suffix = path.suffix.lower()
        if suffix == ".onnx":
            return "onnx"
        if suffix in TORCHSCRIPT_SUFFIXES:
            return "torchscript"
        if suffix in EXPORTED_PROGRAM_SUFFIXES:
            return "exported_program"
        raise UsageError(f"{model}: file type {suffix or '(none)'!r} is not supported: pass {SUPPORTED}")
    if is_factory_reference(model):
        return "factory"
    raise UsageError(f"{model} does not exist and is not a package.module:function factory: pass {SUPPORTED}")


def onnx_session(path: Path, providers: Sequence[str] = (CPU,)) -> ort.InferenceSession:
    options = ort.SessionOptions()
    # Warnings (unused initializers) are noise here, and run errors come back as exceptions.
    options.log_severity_level = 4
    confined = confined_default_threads()
    if confined is not None:  # under taskset, ONNX Runtime's own default pins threads to other cores
        options.intra_op_num_threads = confined[0]
    try:
        return ort.InferenceSession(str(path), options, providers=list(providers))
    except Exception as error:
        lines = str(error).strip().splitlines()
        raise ModelError(
            f"ONNX Runtime cannot load {path.name} ({lines[-1][:300] if lines else type(error).__name__}): "
            "re-export the model (check its opset and operators)"
        ) from None


def onnx_runner(path: Path) -> Runner:
    return onnx_device_runner(path)[0]


def onnx_device_runner(path: Path, providers: Sequence[str] = (CPU,)) -> tuple[Runner, tuple[str, ...]]:
    """A runner on ``providers`` (numpy in and out), and the providers the session really got:
    ONNX Runtime leaves out one it cannot start rather than fail."""
    session = onnx_session(path, providers)
    names = [o.name for o in session.get_outputs()]

    def run(feeds: object) -> dict:  # type: ignore[type-arg]
        return dict(zip(names, session.run(names, dict(feeds)), strict=True))  # type: ignore[call-overload]

    return run, tuple(session.get_providers())


def onnx_source(kind: str, path: Path, label: str, notes: list[str] | None = None) -> Source:
    """A source whose reference is the ONNX file ``path`` itself on ONNX Runtime: at its own
    batch size when that is fixed, since the file accepts no other."""
    model = load_onnx(path, load_external_data=True)  # fails early on missing external data
    batch = detect_batch(model)
    fixed = batch.size if batch.kind == "fixed" else None
    return Source(kind, path, onnx_runner(path), label, reference_batch=fixed, notes=notes or [])


def import_onnx(path: Path) -> Source:
    return onnx_source("onnx", path, "the original ONNX model on ONNX Runtime")


def import_source(model: str, work_dir: Path, options: PrepareOptions) -> Source:
    kind = source_kind(model)
    if kind == "onnx":
        return import_onnx(Path(model))
    if kind == "savedmodel":
        from tritune.prepare.from_tensorflow import import_savedmodel

        return import_savedmodel(Path(model), work_dir, options)
    from tritune.prepare.from_torch import import_torch

    return import_torch(kind, model, work_dir, options)
