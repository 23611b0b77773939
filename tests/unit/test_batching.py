import numpy as np
import pytest

from tritune.runner.batching import BatchGroup, bucket_mode, group_requests, merge_feeds, padded_rows, split_outputs
from tritune.runner.device import pad_rows


def test_requests_with_same_shapes_form_one_group_in_order():
    requests = [{"x": np.zeros((b, 4), np.float32)} for b in (1, 3, 2)]
    assert group_requests(requests) == [BatchGroup((0, 1, 2), (1, 3, 2))]


def test_requests_with_different_inner_shapes_are_grouped_apart():
    requests = [
        {"ids": np.zeros((1, 16), np.int64)},
        {"ids": np.zeros((2, 32), np.int64)},
        {"ids": np.zeros((4, 16), np.int64)},
    ]
    assert group_requests(requests) == [BatchGroup((0, 2), (1, 4)), BatchGroup((1,), (2,))]


def test_merge_then_split_round_trips_each_request():
    rng = np.random.default_rng(1)
    requests = [{"x": rng.random((b, 3)).astype(np.float32)} for b in (2, 1, 5)]
    (group,) = group_requests(requests)
    merged = merge_feeds(requests, group)
    assert merged["x"].shape == (8, 3)
    parts = split_outputs({"y": merged["x"] * 2}, group.batch_sizes)
    for request, part in zip(requests, parts, strict=True):
        np.testing.assert_array_equal(part["y"], request["x"] * 2)


def test_split_rejects_an_output_that_lost_the_batch_dimension():
    with pytest.raises(ValueError, match="does not keep the batch dimension first"):
        split_outputs({"y": np.zeros((3, 4))}, [2, 2])


def test_auto_buckets_are_pow2_on_a_batching_gpu_instance_only() -> None:
    assert bucket_mode(None, gpu=True, max_batch_size=8) == "pow2"
    assert bucket_mode(" AUTO ", gpu=True, max_batch_size=8) == "pow2"
    assert bucket_mode("", gpu=False, max_batch_size=8) == "off"
    assert bucket_mode("auto", gpu=True, max_batch_size=0) == "off"  # no batch dimension
    assert bucket_mode("max", gpu=False, max_batch_size=8) == "max"  # given: kept as given


def test_padded_rows_by_mode() -> None:
    assert [padded_rows(r, 32, "pow2") for r in (1, 2, 3, 5, 9, 17, 32)] == [1, 2, 4, 8, 16, 32, 32]
    assert [padded_rows(r, 24, "pow2") for r in (9, 17, 24)] == [16, 24, 24]  # the max is a bucket
    assert [padded_rows(r, 8, "max") for r in (1, 5, 8)] == [8, 8, 8]
    assert [padded_rows(r, 8, "off") for r in (1, 5, 8)] == [1, 5, 8]
    assert padded_rows(3, 0, "pow2") == 3  # no batching: nothing to pad to


def test_padded_rows_names_the_modes() -> None:
    with pytest.raises(ValueError, match="not one of off, pow2, max"):
        padded_rows(1, 8, "pow3")


def test_pad_rows_repeats_the_last_row() -> None:
    x = np.arange(6, dtype=np.int64).reshape(3, 2)
    padded = pad_rows(x, 2)
    assert padded.shape == (5, 2)
    assert padded[3:].tolist() == [[4, 5], [4, 5]]
    assert pad_rows(x, 0) is x
