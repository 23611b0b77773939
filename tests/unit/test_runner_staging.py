import numpy as np

from tritune.runner.batching import BatchGroup, merge_feeds
from tritune.runner.device import pad_rows
from tritune.runner.staging import StagingBuffers


def _requests(sizes: list[int], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((n, 3, 5)).astype(np.float32) for n in sizes]


def test_staged_batch_equals_concatenate_then_pad() -> None:
    parts = _requests([1, 3, 2])
    staged = StagingBuffers().stage("x", parts, extra=2)
    expected = pad_rows(merge_feeds([{"x": p} for p in parts], BatchGroup((0, 1, 2), (1, 3, 2)))["x"], 2)
    assert staged.shape == (8, 3, 5)
    np.testing.assert_array_equal(staged, expected)
    assert staged.flags.c_contiguous  # what a runtime binds without another copy


def test_the_buffer_is_reused_and_grows_only_for_a_larger_batch() -> None:
    staging = StagingBuffers()
    first = staging.stage("x", _requests([4, 4]))
    held = staging.nbytes
    second = staging.stage("x", _requests([2, 1], seed=1), extra=1)
    assert np.shares_memory(first, second)  # no new pages for a batch that fits
    assert staging.nbytes == held
    np.testing.assert_array_equal(second[3], second[2])  # the padding row repeats the last real row
    staging.stage("x", _requests([16]))
    assert staging.nbytes == 2 * held


def test_a_new_inner_shape_or_dtype_gets_its_own_buffer() -> None:
    staging = StagingBuffers()
    staging.stage("x", _requests([2, 2]))
    other = staging.stage("x", [np.ones((2, 7), np.int64), np.zeros((1, 7), np.int64)])
    assert other.dtype == np.int64 and other.shape == (3, 7)
    np.testing.assert_array_equal(other[2], np.zeros(7))
    # each input name has its own buffer: staging one does not overwrite another
    a = staging.stage("a", [np.full((2, 2), 1.0)])
    staging.stage("b", [np.full((2, 2), 2.0)])
    assert (a == 1.0).all()
