"""What prepare tells the user about the sizes it made up (pure). For a model it serves without
batching: that full shapes are needed, every free dimension it filled in and with what, an integer
scalar it made up, and the ``--input`` and ``--data`` lines that give real values instead. For a
batching model: each free dimension besides the batch (a sequence length) it filled in, and the
``--input`` line, batch left out, that sets it."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np

from tritune.domain.model import DYNAMIC, ModelSignature

SERVED_WITHOUT_BATCHING = (
    "served without batching (max_batch_size 0): full shapes are needed, the batch dimension included "
    "(--input NAME:D1,D2,... or --data)"
)


def filled_dimensions(
    signature: ModelSignature, feeds: Mapping[str, np.ndarray], given: Collection[str] = (), *, first_axis: int = 0
) -> list[str]:
    """``input[0]=16`` for each free (-1) dimension from ``first_axis`` on (1: past the batch) of
    each input not ``given`` (by --input) and the size it ran with."""
    filled: list[str] = []
    for tensor in signature.inputs:
        if tensor.name in given:
            continue
        shape = feeds[tensor.name].shape
        filled.extend(
            f"{tensor.name}[{axis}]={shape[axis]}"
            for axis, d in enumerate(tensor.shape)
            if d == DYNAMIC and axis >= first_axis
        )
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


def batched_notes(
    signature: ModelSignature, feeds: Mapping[str, np.ndarray], *, user_data: bool, given: Collection[str] = ()
) -> list[str]:
    """The notes for a batching model whose inputs have free dimensions besides the batch: which
    it filled in and with what, and the ``--input`` line (the batch left out, as --input takes it
    for a batching model) that sets them. Nothing when --data gave the inputs, or when --input
    gave every such input: the sizes are then the user's own."""
    if user_data:
        return []
    filled = filled_dimensions(signature, feeds, given, first_axis=1)
    if not filled:
        return []
    line = " ".join(
        f"--input {t.name}:{','.join(str(d) for d in feeds[t.name].shape[1:])}"
        for t in signature.inputs
        if DYNAMIC in t.shape[1:] and t.name not in given
    )
    return [
        f"free dimensions besides the batch filled in: {', '.join(filled)} "
        "(the sizes the check and the max-batch search ran with; the real ones go in --input or --data)",
        f"to choose them: {line}",
    ]
