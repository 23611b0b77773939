import numpy as np
import pytest

from tritune.domain.model import ModelSignature, TensorSpec
from tritune.errors import ModelError, UsageError
from tritune.inputs import (
    DEFAULT_DYNAMIC_DIM,
    WORDS,
    batch_samples,
    load_input_file,
    make_inputs,
    parse_shape_options,
    request_feeds,
    resolve_shapes,
)
from tritune.prepare.feeds import random_feeds
from tritune.prepare.options import PrepareOptions
from tritune.triton.model_info import config_type

SIG = ModelSignature(
    inputs=(TensorSpec("ids", "TYPE_INT64", (-1, -1)), TensorSpec("img", "TYPE_FP32", (-1, 3, 8))),
    outputs=(TensorSpec("y", "TYPE_FP32", (-1, 2)),),
)


def test_shape_options_parse_and_reject_bad_forms():
    assert parse_shape_options(["ids:16", "img:3,8"]) == {"ids": (16,), "img": (3, 8)}
    for bad in ["ids", "ids:", "ids:a", ":4", "ids:0"]:
        with pytest.raises(UsageError, match="NAME:D1,D2"):
            parse_shape_options([bad])


def test_shapes_follow_perf_analyzer_semantics_batch_excluded():
    shapes = resolve_shapes(SIG, 4, {"ids": (32,)}, batched=True)
    assert shapes == {"ids": (4, 32), "img": (4, 3, 8)}
    assert resolve_shapes(SIG, 1, {}, batched=True)["ids"] == (1, DEFAULT_DYNAMIC_DIM)


def test_shapes_that_contradict_the_model_are_refused():
    with pytest.raises(UsageError, match="does not fit"):
        resolve_shapes(SIG, 1, {"img": (4, 8)}, batched=True)
    with pytest.raises(UsageError, match="unknown input"):
        resolve_shapes(SIG, 1, {"nope": (1,)}, batched=True)
    with pytest.raises(UsageError, match="use -b 1"):
        resolve_shapes(SIG, 2, {}, batched=False)


def test_shape_errors_name_the_flag_the_shapes_came_from():
    with pytest.raises(UsageError, match="^--shape img:4,8 does not fit"):
        resolve_shapes(SIG, 1, {"img": (4, 8)}, batched=True)
    with pytest.raises(UsageError, match="^--input img:4,8 does not fit"):
        resolve_shapes(SIG, 1, {"img": (4, 8)}, batched=True, flag="--input")
    with pytest.raises(UsageError, match="^--input names unknown input"):
        resolve_shapes(SIG, 1, {"nope": (1,)}, batched=True, flag="--input")


def test_inputs_have_declared_dtypes_and_safe_values():
    feeds = make_inputs(SIG, {"ids": (2, 5), "img": (2, 3, 8)}, "random", np.random.default_rng(3))
    assert feeds["ids"].dtype == np.int64 and set(np.unique(feeds["ids"])) <= {0, 1}
    assert feeds["img"].dtype == np.float32 and feeds["img"].min() >= 0 and feeds["img"].max() < 1
    zeros = make_inputs(SIG, {"ids": (1, 5), "img": (1, 3, 8)}, "zero")
    assert not zeros["img"].any()


def test_request_feeds_from_generated_data_or_a_file(tmp_path):
    (generated,) = request_feeds(SIG, 2, {"ids": (4,)}, True, "zero")
    assert generated["ids"].shape == (2, 4) and not generated["img"].any()
    path = tmp_path / "samples.npz"
    np.savez(path, ids=np.arange(20).reshape(5, 4), img=np.ones((5, 3, 8), np.float32))
    requests = request_feeds(SIG, 2, {"ids": (4,)}, True, str(path))
    assert len(requests) == 3 and requests[0]["ids"].shape == (2, 4) and requests[0]["img"].shape == (2, 3, 8)
    assert requests[0]["ids"].dtype == np.int64 and requests[2]["ids"][1].tolist() == [0, 1, 2, 3]  # round-robin


TEXT = ModelSignature(
    inputs=(TensorSpec("text", "TYPE_STRING", (-1, 1)), TensorSpec("n", "TYPE_INT32", (-1, 1))),
    outputs=(TensorSpec("y", "TYPE_FP32", (-1, 2)),),
)


def test_a_string_input_gets_text_as_bytes_random_deterministic_or_empty():
    feeds = make_inputs(TEXT, {"text": (3, 1), "n": (3, 1)}, "random", np.random.default_rng(5))
    text = feeds["text"]
    assert text.dtype == np.object_ and text.shape == (3, 1)
    assert all(isinstance(t, bytes) and set(t.decode().split()) <= set(WORDS) for t in text.ravel())
    again = make_inputs(TEXT, {"text": (3, 1), "n": (3, 1)}, "random", np.random.default_rng(5))
    assert again["text"].tolist() == text.tolist()
    zeros = make_inputs(TEXT, {"text": (2, 1), "n": (2, 1)}, "zero")
    assert zeros["text"].tolist() == [[b""], [b""]]


def test_string_samples_come_from_json_and_npz_as_utf8_bytes(tmp_path):
    data = tmp_path / "text.json"
    data.write_text(
        '{"data": [{"text": ["h\\u00e9llo world"], "n": [1]}, {"text": {"content": ["bye"], "shape": [1]}, "n": [2]},'
        ' {"text": {"b64": "cmF3"}, "n": [3]}]}'
    )
    samples = load_input_file(data, TEXT, batched=True)
    assert [s["text"].tolist() for s in samples] == [["héllo world".encode()], [b"bye"], [b"raw"]]
    (request, _) = batch_samples(samples, 2, batched=True)
    assert request["text"].dtype == np.object_ and request["text"].shape == (2, 1)
    archive = tmp_path / "text.npz"
    np.savez(archive, text=np.array([["one"], ["two"]]), n=np.array([[1], [2]], np.int32))
    samples = load_input_file(archive, TEXT, batched=True)
    assert [s["text"].tolist() for s in samples] == [[b"one"], [b"two"]]


def test_a_string_input_the_runner_cannot_serve_still_stops_prepare():
    """The load generator makes text for a repository's model; prepare's models run on tritune's runner."""
    with pytest.raises(ModelError, match=r"^input 'text': BYTES tensors are not supported .*: convert the model"):
        random_feeds(TEXT, 1, PrepareOptions(), True, np.random.default_rng(0))
    assert config_type("BYTES") == "TYPE_STRING" and config_type("FP32") == "TYPE_FP32"
