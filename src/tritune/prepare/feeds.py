"""The inputs prepare runs models on: random data shaped by the signature and ``--input``
(perf's ``--shape`` rules), or the user's ``--data`` file checked against the signature."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tritune.domain.model import ModelSignature
from tritune.errors import UsageError
from tritune.inputs import make_inputs, resolve_shapes, tensor_dtype
from tritune.prepare.options import PrepareOptions
from tritune.prepare.validate import error_text


def load_validation_data(path: Path, signature: ModelSignature, batched: bool) -> dict[str, np.ndarray]:
    try:
        with np.load(path) as archive:
            data = {k: archive[k] for k in archive.files}
    except Exception as error:
        raise UsageError(f"cannot read validation data {path} ({error_text(error)}): pass an .npz file") from None
    expected = {t.name for t in signature.inputs}
    if set(data) != expected:
        raise UsageError(
            f"validation data {path} holds {sorted(data)}, the model's inputs are {sorted(expected)}: "
            "store one array per input, named after it"
        )
    for tensor in signature.inputs:
        array = data[tensor.name]
        declared = tensor.shape
        if len(array.shape) != len(declared) or any(
            d not in (-1, a) for d, a in zip(declared, array.shape, strict=True)
        ):
            raise UsageError(
                f"validation data {tensor.name!r} has shape {list(array.shape)}, "
                f"the model expects {list(declared)} (-1 is free; the batch dimension included)"
            )
        data[tensor.name] = array.astype(tensor_dtype(tensor), copy=False)
    if batched and min(a.shape[0] for a in data.values()) < 2:
        raise UsageError(f"validation data {path} holds one sample: give at least 2 so batching is checked")
    return data


def _input_shapes(
    signature: ModelSignature, batch: int, options: PrepareOptions, batched: bool
) -> dict[str, tuple[int, ...]]:
    for spec in options.inputs:
        if spec.dtype is None:
            continue
        try:
            declared = tensor_dtype(signature.input(spec.name))
        except KeyError:
            continue  # resolve_shapes names the unknown input
        if np.dtype(spec.dtype) != declared:
            raise UsageError(
                f"--input {spec.name} says {spec.dtype}, the model's input is {declared.name}: fix --input"
            )
    overrides = {spec.name: spec.dims for spec in options.inputs}
    return resolve_shapes(signature, batch, overrides, batched, flag="--input")


def random_feeds(
    signature: ModelSignature, batch: int, options: PrepareOptions, batched: bool, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    for tensor in signature.inputs:
        tensor_dtype(tensor)  # a string input, which the load generator can make, the runner cannot serve
    return make_inputs(signature, _input_shapes(signature, batch, options, batched), "random", rng)


def validation_feeds(
    signature: ModelSignature, batch: int, options: PrepareOptions, *, batched: bool
) -> dict[str, np.ndarray]:
    """The user's ``--data`` when given, else random inputs from ``options.seed``."""
    if options.data:
        return load_validation_data(options.data, signature, batched and batch > 1)
    return random_feeds(signature, batch, options, batched, np.random.default_rng(options.seed))
