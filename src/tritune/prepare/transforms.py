"""File-level ONNX steps: saving (external data past protobuf's 2 GB), ONNX Runtime's symbolic
shape inference, FP16 conversion and offline graph optimization."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx

from tritune.domain.devices import CPU
from tritune.errors import ModelError

# Protobuf cannot serialize a message of 2 GiB or more; stay clear of it.
_PROTOBUF_LIMIT = 2**31 - 2**24
EXTERNAL_DATA_SUFFIX = ".data"
FP16_MAX = float(np.finfo(np.float16).max)  # 65504: onnxconverter-common's default 1e4 clamps real weights
FP16_MIN_POSITIVE = float(np.finfo(np.float16).smallest_subnormal)  # 6e-8: smaller magnitudes flush to 0


def save_model(model: onnx.ModelProto, path: Path) -> list[Path]:
    """Write ``model`` to ``path``; returns the external-data files written beside it (none
    unless the model is too large for one protobuf)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = path.with_name(path.name + EXTERNAL_DATA_SUFFIX)
    if data.exists():
        data.unlink()
    if model.ByteSize() < _PROTOBUF_LIMIT:
        onnx.save(model, str(path))
        return []
    onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location=data.name)
    return [data]


def external_files(path: Path) -> list[Path]:
    """The external-data files an ONNX file refers to (they must travel with it)."""
    model = onnx.load(str(path), load_external_data=False)
    locations: set[str] = set()
    for tensor in onnx.external_data_helper._get_all_tensors(model):
        if onnx.external_data_helper.uses_external_data(tensor):
            for entry in tensor.external_data:
                if entry.key == "location":
                    locations.add(entry.value)
    return [path.parent / location for location in sorted(locations)]


def symbolic_shape_inference(source: Path, target: Path) -> str | None:
    """Run ONNX Runtime's shipped ``symbolic_shape_infer`` with auto-merge so every output's
    dimensions are expressed in terms of the inputs' (batch included). Returns None on success,
    or why it failed (the caller keeps the model as it was and says so).

    It runs as a subprocess in a temporary directory because on failure the tool writes
    ``sym_shape_infer_temp.onnx`` into the current directory (and a crash stays contained)."""
    large = source.stat().st_size + sum(f.stat().st_size for f in external_files(source)) >= _PROTOBUF_LIMIT
    with tempfile.TemporaryDirectory(prefix="tritune-symshape-") as work:
        command = [
            sys.executable, "-m", "onnxruntime.tools.symbolic_shape_infer",
            "--input", str(source.resolve()), "--output", str(target.resolve()), "--auto_merge",
        ]  # fmt: skip
        if large:
            command += ["--save_as_external_data", "--all_tensors_to_one_file",
                        "--external_data_location", target.name + EXTERNAL_DATA_SUFFIX]  # fmt: skip
        done = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
        return lines[-1] if lines else f"exit status {done.returncode}"
    if not target.exists():
        # The tool returns None (and writes nothing) below opset 7.
        return "the tool produced no model (opset below 7 is not supported)"
    return None


def _ort_converter(model: onnx.ModelProto) -> onnx.ModelProto:
    from onnxruntime.transformers import float16

    return float16.convert_float_to_float16(
        model, min_positive_val=FP16_MIN_POSITIVE, max_finite_val=FP16_MAX, keep_io_types=True
    )


def _occ_converter(model: onnx.ModelProto) -> onnx.ModelProto:
    from onnxconverter_common import float16

    return float16.convert_float_to_float16(
        model, min_positive_val=FP16_MIN_POSITIVE, max_finite_val=FP16_MAX, keep_io_types=True
    )


# ONNX Runtime's converter first: onnxconverter-common's leaves Cast nodes whose declared type
# contradicts their output on some graphs (occ#320; seen on the MiniLM model), which ONNX
# Runtime then refuses to load. Either result must load before it counts.
FP16_CONVERTERS = (
    ("onnxruntime.transformers.float16", _ort_converter),
    ("onnxconverter-common", _occ_converter),
)


def _loads(model: onnx.ModelProto) -> str | None:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # only the load matters
    try:
        ort.InferenceSession(model.SerializeToString(), options, providers=[CPU])
    except Exception as error:
        lines = str(error).strip().splitlines()
        return lines[-1][-300:] if lines else type(error).__name__
    return None


def convert_fp16(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """FP32 weights and arithmetic to FP16, inputs and outputs kept FP32 (Cast nodes at the edges)
    so the Triton config and the clients do not change between precisions. Values beyond FP16's
    range clamp to +-65504 (not the converters' default 1e4, which clamps real weights); nonzero
    magnitudes below FP16's smallest subnormal become that subnormal instead of 0.

    Returns the model and the converter that made it."""
    if not _has_float_values(model) and not any(t.data_type == onnx.TensorProto.FLOAT for t in model.graph.initializer):
        raise ModelError("the model holds no FP32 tensors, so an FP16 variant would change nothing: drop fp16")
    failures = []
    large = model.ByteSize() >= _PROTOBUF_LIMIT
    for label, converter in FP16_CONVERTERS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # one "truncated" warning per clamped weight
                converted = converter(model)
        except Exception as error:  # the converters raise ValueError, AssertionError, ...
            failures.append(f"{label}: {type(error).__name__}: {error}"[:300])
            continue
        refused = None if large else _loads(converted)  # >2 GB cannot be checked in memory
        if refused is None:
            return converted, label
        failures.append(f"{label}: ONNX Runtime refuses the result ({refused})")
    raise ModelError(f"FP16 conversion failed ({'; '.join(failures)}): serve FP32 only (--precision fp32)")


def _has_float_values(model: onnx.ModelProto) -> bool:
    tensors = list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info)
    return any(v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for v in tensors)


def optimize_offline(source: Path, target: Path, level: str) -> None:
    """Let ONNX Runtime fold constants and fuse nodes once, into a file, instead of at every load.
    "basic" keeps standard ONNX operators; "extended" adds ONNX Runtime's fused ones."""
    import onnxruntime as ort

    levels = {
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    }
    options = ort.SessionOptions()
    options.log_severity_level = 3  # "removing unused initializer" warnings are noise here
    options.graph_optimization_level = levels[level]
    options.optimized_model_filepath = str(target)
    try:
        ort.InferenceSession(str(source), options, providers=[CPU])
    except Exception as error:
        raise ModelError(f"offline optimization ({level}) failed: {error}: use --optimize none") from None


def drop_initializer_inputs(model: onnx.ModelProto) -> list[str]:
    """Before IR 4 every initializer is also a graph input. Such inputs are really constants:
    listed as inputs they block constant folding, and the FP16 converter casts the initializer
    but not its input declaration (ONNX Runtime then refuses the file). IR 4 allows dropping them."""
    initializers = {i.name for i in model.graph.initializer}
    kept = [v for v in model.graph.input if v.name not in initializers]
    dropped = len(model.graph.input) - len(kept)
    if not dropped:
        return []
    del model.graph.input[:]
    model.graph.input.extend(kept)
    model.ir_version = max(model.ir_version, 4)
    return [f"{dropped} initializer(s) no longer listed as graph inputs (IR version {model.ir_version})"]
