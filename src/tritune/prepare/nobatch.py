"""What prepare tells the user about a model it serves without batching (pure): that full shapes
are needed, every free dimension it filled in and with what, an integer scalar it made up, and
the ``--input`` and ``--data`` lines that give real values instead."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np

from tritune.domain.model import DYNAMIC, ModelSignature

SERVED_WITHOUT_BATCHING = (
    "served without batching (max_batch_size 0): full shapes are needed, the batch dimension included "
    "(--input NAME:D1,D2,... or --data)"
)


def filled_dimensions(
    signature: ModelSignature, feeds: Mapping[str, np.ndarray], given: Collection[str] = ()
) -> list[str]:
    """``input[0]=16`` for each free (-1) dimension of each input not ``given`` (by --input) and
    the size it ran with."""
    filled: list[str] = []
    for tensor in signature.inputs:
        if tensor.name in given:
            continue
        shape = feeds[tensor.name].shape
        filled.extend(f"{tensor.name}[{axis}]={shape[axis]}" for axis, d in enumerate(tensor.shape) if d == DYNAMIC)
    return filled


def made_up_scalars(signature: ModelSignature, feeds: Mapping[str, np.ndarray]) -> list[str]:
    """Integer scalars (a sample rate, a length, an id) that random data fills with 0/1."""
    return [
        t.name
        for t in signature.inputs
        if not t.shape and (np.issubdtype(feeds[t.name].dtype, np.integer) or feeds[t.name].dtype == np.bool_)
    ]


def input_line(signature: ModelSignature, feeds: Mapping[str, np.ndarray]) -> str:
    """The ``--input`` flags that give each input with a free dimension the shape it ran with."""
    return " ".join(
        f"--input {t.name}:{','.join(str(d) for d in feeds[t.name].shape)}"
        for t in signature.inputs
        if DYNAMIC in t.shape
    )


def data_line(signature: ModelSignature, feeds: Mapping[str, np.ndarray]) -> str:
    """The ``--data`` file that gives every input real values: its arrays, shapes and dtypes."""
    arrays = ", ".join(f"{t.name} {list(feeds[t.name].shape)} {feeds[t.name].dtype}" for t in signature.inputs)
    return f"--data inputs.npz (numpy.savez with {arrays})"


def unbatched_notes(
    signature: ModelSignature, feeds: Mapping[str, np.ndarray], *, user_data: bool, given: Collection[str] = ()
) -> list[str]:
    """The notes for a model served without batching: one line each (see the module docstring).
    With ``user_data`` (--data) nothing was filled in, so only the first line is said; inputs
    ``given`` by --input are not said to be filled in."""
    notes = [SERVED_WITHOUT_BATCHING]
    if user_data:
        return notes
    filled = filled_dimensions(signature, feeds, given)
    if filled:
        notes.append(f"free dimensions filled in: {', '.join(filled)} (the real sizes go in --input or --data)")
    scalars = made_up_scalars(signature, feeds)
    if scalars:
        shown = ", ".join(f"{n} ({feeds[n].dtype} scalar)" for n in scalars)
        notes.append(f"{shown}: filled with random 0/1; a real value (a sample rate, a length) goes in --data")
    if filled or scalars:
        if filled:
            notes.append(f"to choose the shapes: {input_line(signature, feeds)}")
        notes.append(f"to give real inputs: {data_line(signature, feeds)}")
    return notes
