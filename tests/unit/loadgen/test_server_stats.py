import pytest

from tritune.loadgen.server_stats import breakdown, parse_model_stats


def _doc(
    success: int, ns: int, queue_ns: int, infer_ns: int, executions: int, batches: dict[int, int] | None = None
) -> dict:
    stats = {
        "success": {"count": success, "ns": ns},
        "fail": {"count": 1, "ns": 5},
        "queue": {"count": success, "ns": queue_ns},
        "compute_input": {"count": success, "ns": success * 10_000},
        "compute_infer": {"count": success, "ns": infer_ns},
        "compute_output": {"count": success, "ns": success * 20_000},
    }
    return {
        "model_stats": [
            {
                "name": "m",
                "version": "1",
                "inference_stats": stats,
                "execution_count": executions,
                "inference_count": success,
                "batch_stats": [
                    {"batch_size": size, "compute_infer": {"count": count, "ns": count * 1_000}}
                    for size, count in (batches or {}).items()
                ],
            },
            {
                "name": "other",
                "version": "1",
                "inference_stats": stats,
                "execution_count": 9,
                "inference_count": 9,
            },
        ]
    }


def test_breakdown_is_delta_ns_over_delta_count():
    first = parse_model_stats(_doc(100, 100 * 900_000, 100 * 100_000, 100 * 500_000, 50), "m")
    last = parse_model_stats(
        _doc(
            300,
            100 * 900_000 + 200 * 1_000_000,
            100 * 100_000 + 200 * 200_000,
            100 * 500_000 + 200 * 600_000,
            100,
        ),
        "m",
    )
    assert first is not None and last is not None
    result = breakdown(first, last)
    assert result.requests == 200 and result.executions == 50 and result.average_batch == 4
    assert result.queue_ns == pytest.approx(200_000)
    assert result.compute_infer_ns == pytest.approx(600_000)
    assert result.compute_input_ns == pytest.approx(10_000)
    assert result.request_ns == pytest.approx(1_000_000)
    assert result.overhead_ns == pytest.approx(1_000_000 - 200_000 - 630_000)
    assert result.failed == 0


def test_an_unknown_model_has_no_snapshot():
    assert parse_model_stats(_doc(1, 1, 1, 1, 1), "missing") is None


def test_batch_executions_are_counted_per_batch_size_between_snapshots():
    first = parse_model_stats(_doc(10, 10, 10, 10, 6, batches={1: 4, 3: 2}), "m")
    last = parse_model_stats(_doc(40, 40, 40, 40, 16, batches={1: 4, 3: 8, 4: 3}), "m")
    assert first is not None and last is not None
    assert first.batch_executions == {1: 4, 3: 2}
    # Batch size 1 ran no more in between, so it is left out.
    assert breakdown(first, last).batch_executions == {3: 6, 4: 3}
