"""What the search gets from a prepared model: one ONNX file per precision, and the dimensions
(precision, execution providers, max batch sizes) ``tritune profile`` may vary."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

from tritune.domain.devices import CPU, CUDA
from tritune.errors import UsageError
from tritune.prepare.options import PrepareOptions
from tritune.prepare.pipeline import prepare_model
from tritune.prepare.record import REPORT_FILE, PreparedModel, load_prepared
from tritune.prepare.steps import Log
from tritune.prepare.transforms import convert_fp16, save_model
from tritune.triton.model_config import load_onnx

# Providers that run on this host's hardware; the rest (TensorRT, OpenVINO, ...) need their own
# setup and are opted into explicitly.
_SEARCHABLE_PROVIDERS = (CPU, CUDA)


def precision_variant(model_path: str | Path, precision: str, target: str | Path | None = None) -> Path:
    """The ``precision`` version of an FP32 ONNX file (``fp32`` returns the file itself). The FP16
    file keeps FP32 inputs/outputs; it is written to ``target`` (default: beside the source,
    ``<stem>.fp16.onnx``). Not validated: prefer ``prepare_model``'s validated variants."""
    source = Path(model_path)
    if precision == "fp32":
        return source
    if precision != "fp16":
        raise UsageError(f"precision {precision!r} is not fp32 or fp16")
    destination = Path(target) if target else source.with_name(f"{source.stem}.fp16.onnx")
    save_model(convert_fp16(load_onnx(source, load_external_data=True))[0], destination)
    return destination


def search_dimensions(prepared: PreparedModel, *, gpu: bool = False) -> dict[str, tuple[object, ...]]:
    """Values per search dimension (names as in ``tritune.domain.space.Dim``): the validated
    precisions, the execution providers worth trying here, and the max batch sizes up to the
    measured maximum (0 alone when the model cannot batch)."""
    available = set(ort.get_available_providers())
    providers: list[tuple[str, ...]] = [()]  # the runner's default for the device
    if gpu and CUDA in available:
        providers.append((CUDA, CPU))
    providers.extend((p,) for p in _SEARCHABLE_PROVIDERS if p in available and (gpu or p == CPU))
    unique = tuple(dict.fromkeys(providers))
    if prepared.max_batch_size > 0:
        sizes: list[int] = []
        size = 1
        while size < prepared.max_batch_size:
            sizes.append(size)
            size *= 2
        sizes.append(prepared.max_batch_size)
    else:
        sizes = [0]
    return {
        "precision": prepared.precisions,
        "execution_providers": unique,
        "max_batch_size": tuple(sizes),
    }


def ensure_prepared(
    model: str | Path,
    out_dir: str | Path,
    name: str | None = None,
    options: PrepareOptions | None = None,
    *,
    log: Log | None = None,
) -> PreparedModel:
    """What ``tritune profile`` calls on its MODEL argument: a directory that ``tritune prepare``
    made is read back as it is; anything else (a raw ONNX/PyTorch/TensorFlow model) is prepared
    into ``out_dir`` first. The caller decides what to do with ``passed=False``."""
    path = Path(model)
    if path.is_dir() and (path / REPORT_FILE).exists():
        return load_prepared(path)
    return prepare_model(model, out_dir, name, options, log=log)
