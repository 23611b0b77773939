import numpy as np

from tritune.prepare.options import Tolerance
from tritune.prepare.validate import compare_output, compare_outputs, run_in_chunks, stacked_batch_check

TOL = Tolerance(atol=1e-3, rtol=1e-2)


def test_within_tolerance_passes_and_reports_the_largest_errors():
    ref = np.array([1.0, 10.0, 0.0], dtype=np.float32)
    got = ref + np.array([5e-4, 5e-2, 9e-4], dtype=np.float32)
    result = compare_output("y", ref, got, TOL)
    assert result.passed and result.mismatched == 0
    assert np.isclose(result.max_abs, 5e-2, rtol=1e-3)
    # Relative error only where |ref| > atol: 5e-2 / 10 beats 5e-4 / 1; the 0 is skipped.
    assert np.isclose(result.max_rel, 5e-3, rtol=1e-3)


def test_an_element_outside_atol_plus_rtol_fails():
    ref = np.array([1.0, 2.0], dtype=np.float32)
    got = np.array([1.0, 2.1], dtype=np.float32)  # 0.1 > 1e-3 + 1e-2 * 2
    result = compare_output("y", ref, got, TOL)
    assert not result.passed and result.mismatched == 1 and result.elements == 2


def test_shape_mismatch_and_new_nan_fail_with_a_note():
    shape = compare_output("y", np.zeros((3, 4)), np.zeros((1, 4)), TOL)
    assert not shape.passed and shape.note == "shape [1, 4], expected [3, 4]"
    nan = compare_output("y", np.ones(3), np.array([1.0, np.nan, 1.0]), TOL)
    assert not nan.passed and "non-finite" in nan.note
    same_nan = compare_output("y", np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), TOL)
    assert same_nan.passed


def test_missing_output_is_an_error():
    comparison = compare_outputs("c", {"a": np.zeros(1), "b": np.zeros(1)}, {"a": np.zeros(1)}, TOL)
    assert not comparison.passed and "missing ['b']" in comparison.error
    assert "FAILED" in comparison.summary()


def _feeds(n: int = 3) -> dict[str, np.ndarray]:
    return {"x": np.arange(n * 4, dtype=np.float32).reshape(n, 4)}


def test_stacked_check_passes_for_a_per_sample_function():
    check = stacked_batch_check(lambda f: {"y": np.tanh(f["x"]) * 2}, _feeds(), TOL)
    assert check.passed, check.summary()
    assert check.label == "batch 3 vs 3 x batch 1 stacked"


def test_stacked_check_catches_samples_that_leak_into_each_other():
    # Normalizing over the whole batch is the kind of cross-sample bug a batch check must see.
    check = stacked_batch_check(lambda f: {"y": f["x"] - f["x"].mean(axis=0)}, _feeds(), TOL)
    assert not check.passed
    assert check.outputs[0].mismatched > 0


def test_stacked_check_catches_a_pinned_batch_by_shape_and_by_error():
    pinned = stacked_batch_check(lambda f: {"y": f["x"].reshape(1, -1)[:, :4]}, _feeds(), TOL)
    assert not pinned.passed and pinned.outputs[0].note == "shape [1, 4], expected [3, 4]"

    def only_batch_one(feeds):
        if feeds["x"].shape[0] != 1:
            raise RuntimeError("Reshape: input 12 elements, requested shape [1, 4]")
        return {"y": feeds["x"]}

    failed = stacked_batch_check(only_batch_one, _feeds(), TOL)
    assert not failed.passed and failed.error.startswith("batch 3 does not run: RuntimeError")


def test_run_in_chunks_stacks_sub_batches():
    calls = []

    def run(feeds):
        calls.append(feeds["x"].shape[0])
        return {"y": feeds["x"] * 2}

    out = run_in_chunks(run, _feeds(4), 2)
    assert calls == [2, 2]
    np.testing.assert_array_equal(out["y"], _feeds(4)["x"] * 2)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_reduction_order_noise_is_not_a_pinned_batch():
    """A batch-correct classifier whose batched outputs differ from stacked single runs by
    reduction order (4.5e-3 on a softmax, measured on a production model) passes, with a note."""
    weights = 10 * np.random.default_rng(0).standard_normal((4, 214))  # a trained, confident classifier

    def classifier(feeds):
        y = _softmax(feeds["x"] @ weights)
        if len(y) > 1:  # another batch size sums in another order
            y = y + np.random.default_rng(1).uniform(-4.5e-3, 4.5e-3, y.shape)
        return {"y": y}

    check = stacked_batch_check(classifier, {"x": np.random.default_rng(2).random((3, 4))}, TOL)
    assert check.passed, check.summary()
    assert "reduction order, not a pinned batch" in check.outputs[0].note


def test_a_broadcast_row_is_a_pinned_batch_whatever_its_size():
    """A pinned batch that repeats the first sample's answer for every row is named as such,
    even where its error is small against the output's scale."""
    weights = np.random.default_rng(0).standard_normal((4, 8))

    def broadcast(feeds):
        y = feeds["x"] @ weights
        return {"y": np.repeat(y[:1], len(y), axis=0)}

    feeds = {"x": 1.0 + 0.001 * np.random.default_rng(3).random((3, 4))}  # nearly equal samples
    check = stacked_batch_check(broadcast, feeds, Tolerance(atol=1e-6, rtol=1e-6))
    assert not check.passed
    assert "rows do not follow their own samples" in check.outputs[0].note


def test_a_large_error_is_named_with_its_share_of_the_scale():
    feeds = {"x": 100 * _feeds()["x"]}  # rows far apart: each batched row stays nearest its own
    check = stacked_batch_check(lambda f: {"y": f["x"] * (1.0 if len(f["x"]) == 1 else 1.1)}, feeds, TOL)
    assert not check.passed
    assert "of the output's scale" in check.outputs[0].note and "more than reduction order" in check.outputs[0].note
