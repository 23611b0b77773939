"""What prepare says about the sizes it made up: for a model served without batching, full shapes,
the free dimensions it filled in, a made-up integer scalar, and the --input/--data lines that would
work; for a batching model, its free dimensions besides the batch and the --input line for them."""

from __future__ import annotations

import numpy as np
import pytest

from tritune.domain.model import ModelSignature, TensorSpec
from tritune.errors import UsageError
from tritune.inputs import resolve_shapes
from tritune.prepare.nobatch import SERVED_WITHOUT_BATCHING, batched_notes, unbatched_notes
from tritune.testing.models import VAD_SIGNATURE as VAD

FEEDS = {
    "input": np.zeros((16, 16), np.float32),
    "state": np.zeros((2, 16, 128), np.float32),
    "sr": np.array(1, np.int64),
}


def test_generated_inputs_name_every_filled_dimension_the_scalar_and_the_lines_that_would_work():
    notes = unbatched_notes(VAD, FEEDS, user_data=False)
    assert notes == [
        SERVED_WITHOUT_BATCHING,
        "free dimensions filled in: input[0]=16, input[1]=16, state[1]=16 (the real sizes go in --input or --data)",
        "sr (int64 scalar): filled with random 0/1; a real value (a sample rate, a length) goes in --data",
        "to choose the shapes: --input input:16,16 --input state:2,16,128",
        "to give real inputs: --data inputs.npz (numpy.savez with input [16, 16] float32, "
        "state [2, 16, 128] float32, sr [] int64)",
    ]
    assert "without batching" in notes[0] and "full shapes are needed" in notes[0]


def test_inputs_given_by_input_are_not_said_to_be_filled_in_and_data_says_only_the_first_line():
    given = {"input": np.zeros((1, 576), np.float32), "state": np.zeros((2, 1, 128), np.float32)}
    notes = unbatched_notes(VAD, given | {"sr": FEEDS["sr"]}, user_data=False, given=("input", "state"))
    assert not any(n.startswith("free dimensions") or n.startswith("to choose") for n in notes)
    assert notes[1].startswith("sr (int64 scalar)") and notes[2].startswith("to give real inputs: --data")
    partly = unbatched_notes(VAD, FEEDS, user_data=False, given=("input",))
    assert partly[1].startswith("free dimensions filled in: state[1]=16 (")
    assert unbatched_notes(VAD, FEEDS, user_data=True) == [SERVED_WITHOUT_BATCHING]


def test_a_float_scalar_is_not_called_made_up():
    signature = ModelSignature(inputs=(TensorSpec("t", "TYPE_FP32", ()),), outputs=())
    assert unbatched_notes(signature, {"t": np.array(0.5, np.float32)}, user_data=False) == [SERVED_WITHOUT_BATCHING]


def test_a_non_batching_models_input_takes_its_full_shape_and_a_short_one_says_how():
    shapes = resolve_shapes(VAD, 1, {"input": (1, 576), "state": (2, 1, 128)}, False, flag="--input")
    assert shapes == {"input": (1, 576), "state": (2, 1, 128), "sr": ()}
    with pytest.raises(UsageError) as caught:
        resolve_shapes(VAD, 1, {"input": (576,)}, False, flag="--input")
    message = caught.value.message
    assert "leave the batch dimension out" not in message
    assert message == (
        "--input input:576 does not fit the model's shape [-1, -1]: the model is served without batching, "
        "so give the full shape, the batch dimension included (-1 is free), e.g. --input input:1,576"
    )
    with pytest.raises(UsageError, match=r"e\.g\. --input state:2,1,128$"):
        resolve_shapes(VAD, 1, {"state": (5,)}, False, flag="--input")
    batching = ModelSignature(inputs=(TensorSpec("x", "TYPE_FP32", (-1, 32)),), outputs=())
    with pytest.raises(UsageError, match=r"leave the batch dimension out"):
        resolve_shapes(batching, 2, {"x": (1, 32)}, True, flag="--input")


# -- a batching model's free dimensions besides the batch (a sequence length) --------------------

TEXT = ModelSignature(
    inputs=(
        TensorSpec("input_ids", "TYPE_INT64", (-1, -1)),
        TensorSpec("mask", "TYPE_INT64", (-1, -1)),
        TensorSpec("image", "TYPE_FP32", (-1, 3, -1, 8)),
        TensorSpec("scale", "TYPE_FP32", (-1, 4)),
    ),
    outputs=(TensorSpec("y", "TYPE_FP32", (-1, 2)),),
)
TEXT_FEEDS = {
    "input_ids": np.zeros((4, 16), np.int64),
    "mask": np.zeros((4, 16), np.int64),
    "image": np.zeros((4, 3, 16, 8), np.float32),
    "scale": np.zeros((4, 4), np.float32),
}


def test_a_batching_models_free_dimensions_are_named_and_the_input_line_leaves_the_batch_out():
    assert batched_notes(TEXT, TEXT_FEEDS, user_data=False) == [
        "free dimensions besides the batch filled in: input_ids[1]=16, mask[1]=16, image[2]=16 "
        "(the sizes the check and the max-batch search ran with; the real ones go in --input or --data)",
        "to choose them: --input input_ids:16 --input mask:16 --input image:3,16,8",
    ]


def test_a_batching_model_says_nothing_of_sizes_it_did_not_make_up():
    assert batched_notes(TEXT, TEXT_FEEDS, user_data=True) == []  # --data: the user's own
    partly = batched_notes(TEXT, TEXT_FEEDS, user_data=False, given=("input_ids", "mask"))
    assert partly[0].startswith("free dimensions besides the batch filled in: image[2]=16 (")
    assert partly[1] == "to choose them: --input image:3,16,8"
    assert batched_notes(TEXT, TEXT_FEEDS, user_data=False, given=("input_ids", "mask", "image")) == []
    fixed = ModelSignature(inputs=(TensorSpec("x", "TYPE_FP32", (-1, 4)),), outputs=TEXT.outputs)
    assert batched_notes(fixed, {"x": np.zeros((4, 4), np.float32)}, user_data=False) == []
