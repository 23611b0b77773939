import numpy as np
import pytest

from tritune.runner.batching import BatchGroup, group_requests, merge_feeds, split_outputs


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
