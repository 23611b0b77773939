"""What ``tritune prepare`` may be told: one frozen record, validated once at the boundary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tritune.domain.devices import DEVICES
from tritune.errors import UsageError

PRECISIONS = ("fp32", "fp16")
OPTIMIZATION_LEVELS = ("none", "basic", "extended")


@dataclass(frozen=True)
class Tolerance:
    """An element passes when ``|candidate - reference| <= atol + rtol * |reference|``
    (numpy.isclose semantics, so the bound holds on zeros and on large values alike)."""

    atol: float
    rtol: float


# FP32: ONNX Runtime and PyTorch use different kernels (and a batch of N may take another kernel
# than a batch of 1), so bit equality is not expected; 1e-4 absolute covers float summation order.
# FP16: 10 mantissa bits give ~1e-3 relative per operation; deep networks accumulate that, and
# the FP16 literature (TensorRT#2709, #3101) settles on 1e-2 ... 1e-3.
DEFAULT_TOLERANCES: dict[str, Tolerance] = {
    "fp32": Tolerance(atol=1e-4, rtol=1e-3),
    "fp16": Tolerance(atol=2e-2, rtol=2e-2),
}


@dataclass(frozen=True)
class InputSpec:
    """One model input as the user describes it: per-sample dims (the batch dimension left out)
    and, for framework models that carry no signature, the dtype."""

    name: str
    dims: tuple[int, ...]
    dtype: str | None = None  # numpy name: float32, int64, ...


@dataclass(frozen=True)
class PrepareOptions:
    """Every knob of the pipeline.

    Args:
        inputs: per-input sample shapes (and dtypes for PyTorch models), batch dimension left out.
        precisions: the variants to produce; the first is the one the repository serves.
        tolerances: per precision; missing ones take DEFAULT_TOLERANCES.
        dynamic_batch: make a fixed batch dimension dynamic (off: keep the model's own batch).
        fix_reshapes: rewrite Reshape constants that bake in the fixed batch size (the change is
            reported; the stacked-batch check verifies it either way).
        optimize: ONNX Runtime graph optimization written to the file offline ("none": off).
            "basic" is portable; "extended" may add ONNX Runtime-only fused operators.
        validation_batch: batch size of the numeric checks (>= 2 so batching is exercised).
        data: an .npz file with validation inputs (arrays by input name, batch included).
        max_batch_size: skip the max-batch search and use this (0: the model does not batch).
        max_batch_cap: the largest batch the max-batch search may try (a power of 2).
        max_batch_min_time_s: time measured per batch size of the search (more is steadier, less is quicker).
        opset: the ONNX opset for exports from PyTorch and TensorFlow.
        force: write a serving repository even when a check failed.
        seed: for generated inputs.
        device: where the max-batch search runs and the config serves: "auto" (the GPU where
            ONNX Runtime has CUDA and a GPU is visible, else the CPU), "cpu" or "gpu".
        optional_precisions: precisions tried but not required: one that cannot be made or
            fails validation is left out with a note, not a problem (profile's automatic fp16).
        serve_check: load the written config in an embedded Triton and send it one request of the
            validation inputs (``tritune prepare`` does, unless --no-serve-check; off here, so
            a caller that serves the model itself, as profile does, starts no second server).
    """

    inputs: tuple[InputSpec, ...] = ()
    precisions: tuple[str, ...] = ("fp32",)
    tolerances: dict[str, Tolerance] = field(default_factory=dict)
    dynamic_batch: bool = True
    fix_reshapes: bool = True
    optimize: str = "none"
    validation_batch: int = 3
    data: Path | None = None
    max_batch_size: int | None = None
    max_batch_cap: int = 128
    max_batch_min_time_s: float = 0.5
    opset: int = 18
    force: bool = False
    seed: int = 0
    device: str = "auto"
    optional_precisions: tuple[str, ...] = ()
    serve_check: bool = False

    def __post_init__(self) -> None:
        if not self.precisions:
            raise UsageError("no precision given: use --precision fp32 (or fp32,fp16)")
        unknown = [p for p in self.precisions if p not in PRECISIONS]
        if unknown:
            raise UsageError(f"precision {unknown[0]!r} is not one of {', '.join(PRECISIONS)}")
        if len(set(self.precisions)) != len(self.precisions):
            raise UsageError(f"precisions {list(self.precisions)} repeat a value: list each once")
        if self.optimize not in OPTIMIZATION_LEVELS:
            raise UsageError(f"optimization {self.optimize!r} is not one of {', '.join(OPTIMIZATION_LEVELS)}")
        if self.validation_batch < 2:
            raise UsageError(f"validation batch {self.validation_batch} is below 2: batching needs at least 2")
        if self.max_batch_size is not None and self.max_batch_size < 0:
            raise UsageError(f"max batch size {self.max_batch_size} is negative: use 0 (no batching) or more")
        if self.max_batch_cap < 1:
            raise UsageError(f"max batch cap {self.max_batch_cap} is below 1: use a power of 2 such as 64")
        if self.device not in DEVICES:
            raise UsageError(f"device {self.device!r} is not one of {', '.join(DEVICES)}")
        if self.precisions[0] in self.optional_precisions:
            raise UsageError(f"precision {self.precisions[0]!r} is the one served, so it cannot be optional")
        names = [i.name for i in self.inputs]
        if len(set(names)) != len(names):
            raise UsageError(f"inputs {names} name one input twice: give each --input once")

    @property
    def given_inputs(self) -> tuple[str, ...]:
        """The inputs whose shapes --input gives."""
        return tuple(i.name for i in self.inputs)

    def tolerance(self, precision: str) -> Tolerance:
        return self.tolerances.get(precision, DEFAULT_TOLERANCES[precision])


def parse_input_option(option: str) -> InputSpec:
    """``"x:3,224,224"`` or ``"input_ids:128:int64"`` -> InputSpec (batch dimension left out)."""
    parts = option.split(":")
    error = UsageError(f"--input {option!r} is not NAME:D1,D2,...[:DTYPE]: e.g. --input x:3,224,224:float32")
    if len(parts) not in (2, 3) or not parts[0]:
        raise error
    dims_text = parts[1].strip()
    try:
        # "NAME:" (empty dims) is a per-sample scalar; "NAME:" plus a dtype works the same.
        dims = tuple(int(d) for d in dims_text.split(",")) if dims_text else ()
    except ValueError:
        raise error from None
    if any(d <= 0 for d in dims):
        raise error
    dtype = parts[2].strip() if len(parts) == 3 else None
    if dtype is not None:
        import numpy as np

        try:
            dtype = np.dtype(dtype).name
        except TypeError:
            raise UsageError(f"--input {option!r}: {dtype!r} is not a numpy dtype such as float32 or int64") from None
    return InputSpec(parts[0], dims, dtype)
