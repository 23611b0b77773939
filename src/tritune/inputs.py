"""Concrete input tensors for a model: shapes resolved from the signature plus user overrides
(perf_analyzer's ``--shape name:dims`` semantics: dims exclude the batch dimension of a
batching model), filled with random or zero data from an injected generator."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tritune.domain.model import DYNAMIC, ModelSignature
from tritune.errors import UsageError
from tritune.runner.dtypes import numpy_dtype

# Dynamic non-batch dims the user did not pin get this size (and a notice from the CLI).
DEFAULT_DYNAMIC_DIM = 16


def parse_shape_options(options: list[str] | tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    """``["input_ids:16", "x:3,224,224"]`` -> ``{"input_ids": (16,), "x": (3, 224, 224)}``."""
    shapes: dict[str, tuple[int, ...]] = {}
    for option in options:
        name, sep, dims = option.rpartition(":")
        try:
            parsed = tuple(int(d) for d in dims.split(","))
        except ValueError:
            parsed = ()
        if not sep or not name or not parsed or any(d <= 0 for d in parsed):
            raise UsageError(f"--shape {option!r} is not NAME:D1,D2,...: e.g. --shape input_ids:128")
        shapes[name] = parsed
    return shapes


def resolve_shapes(
    signature: ModelSignature, batch_size: int, overrides: Mapping[str, tuple[int, ...]], batched: bool
) -> dict[str, tuple[int, ...]]:
    """Full request shapes (batch dim included when ``batched``)."""
    names = {t.name for t in signature.inputs}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise UsageError(
            f"--shape names unknown input(s) {', '.join(unknown)}: the model's inputs are {', '.join(sorted(names))}"
        )
    if not batched and batch_size != 1:
        raise UsageError(
            f"batch size {batch_size} needs a model that batches (max_batch_size > 0); this one does not: use -b 1"
        )
    shapes = {}
    for tensor in signature.inputs:
        declared = tensor.shape[1:] if batched else tensor.shape
        if tensor.name in overrides:
            given = overrides[tensor.name]
            if len(given) != len(declared) or any(d not in (DYNAMIC, g) for d, g in zip(declared, given, strict=True)):
                raise UsageError(
                    f"--shape {tensor.name}:{','.join(map(str, given))} does not fit the model's shape "
                    f"{list(declared)} (-1 is free; leave the batch dimension out)"
                )
            dims = given
        else:
            dims = tuple(DEFAULT_DYNAMIC_DIM if d == DYNAMIC else d for d in declared)
        shapes[tensor.name] = ((batch_size,) if batched else ()) + tuple(dims)
    return shapes


def make_inputs(
    signature: ModelSignature,
    shapes: Mapping[str, tuple[int, ...]],
    kind: str = "random",
    rng: np.random.Generator | None = None,
) -> dict[str, np.ndarray]:
    """Random data is uniform in [0, 1) for floats and 0/1 for integers and booleans: small
    integers are valid token ids, masks and segment ids alike, so any integer input works."""
    if kind not in ("random", "zero"):
        raise UsageError(f"input data {kind!r} is not 'random' or 'zero'")
    rng = rng or np.random.default_rng(0)
    feeds = {}
    for tensor in signature.inputs:
        dtype = numpy_dtype(tensor.triton_type)
        shape = shapes[tensor.name]
        if kind == "zero":
            feeds[tensor.name] = np.zeros(shape, dtype=dtype)
        elif np.issubdtype(dtype, np.floating):
            feeds[tensor.name] = rng.random(shape, dtype=np.float32).astype(dtype)
        else:
            feeds[tensor.name] = rng.integers(0, 2, size=shape).astype(dtype)
    return feeds
