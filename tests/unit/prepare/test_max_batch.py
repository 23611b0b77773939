import numpy as np
import pytest

from tritune.prepare.max_batch import OutOfMemory, Throughput, batch_sizes, max_batch_search, ort_throughput


def _curve(points: dict[int, float]):
    seen = []

    def measure(batch: int) -> Throughput:
        seen.append(batch)
        return Throughput(points[batch], 1.0)

    return measure, seen


def test_batch_sizes_are_powers_of_two_up_to_the_cap():
    assert batch_sizes(1) == [1]
    assert batch_sizes(20) == [1, 2, 4, 8, 16]


def test_stops_after_two_saturated_steps_and_keeps_the_last_gain():
    measure, seen = _curve({1: 100, 2: 180, 4: 300, 8: 310, 16: 305, 32: 400, 64: 999})
    result = max_batch_search(measure, cap=64)
    # 8 gains 3% (< 5%): saturated; 16 too: stop. 32 is never measured.
    assert seen == [1, 2, 4, 8, 16]
    assert result.max_batch_size == 4 and result.stop_reason == "saturated"
    assert [s.status for s in result.steps] == ["kept", "kept", "kept", "saturated", "saturated"]


def test_throughput_that_recovers_after_one_saturated_step_is_kept():
    measure, _ = _curve({1: 100, 2: 102, 4: 200, 8: 201, 16: 202})
    result = max_batch_search(measure, cap=16)
    assert result.max_batch_size == 4 and [s.status for s in result.steps][:3] == ["kept", "saturated", "kept"]


def test_out_of_memory_ends_the_search_at_the_last_batch_that_fit():
    def measure(batch: int) -> Throughput:
        if batch >= 8:
            raise OutOfMemory("Failed to allocate memory")
        return Throughput(100.0 * batch, 1.0)

    result = max_batch_search(measure, cap=64)
    assert result.max_batch_size == 4 and result.stop_reason == "out_of_memory"
    assert result.steps[-1].status == "out_of_memory"


def test_reaching_the_cap_keeps_the_cap():
    measure, _ = _curve({1: 1, 2: 2, 4: 4})
    result = max_batch_search(measure, cap=4)
    assert result.max_batch_size == 4 and result.stop_reason == "cap"
    assert result.as_dict()["steps"][0]["batch_size"] == 1


def test_backoff_limit_zero_stops_at_the_first_saturated_step():
    measure, seen = _curve({1: 100, 2: 101, 4: 500})
    assert max_batch_search(measure, cap=4, backoff_limit=0).max_batch_size == 1
    assert seen == [1, 2]


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_ort_throughput_counts_samples_per_second_on_an_injected_clock():
    clock = _Clock()
    runs = []

    def run(feeds):
        runs.append(len(feeds["x"]))
        clock.now += 0.01 * len(feeds["x"])  # 10 ms per sample

    measure = ort_throughput(run, lambda b: {"x": np.zeros(b)}, min_time_s=0.1, min_runs=3, clock=clock)
    result = measure(4)
    assert result.samples_per_s == pytest.approx(100.0)
    assert result.latency_ms == pytest.approx(40.0)
    assert len(runs) == 1 + 3  # warm-up, then until 0.1 s and 3 runs


def test_ort_throughput_turns_allocation_failures_into_out_of_memory():
    def run(feeds):
        raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Failed to allocate memory for 1 GB")

    measure = ort_throughput(run, lambda b: {}, min_time_s=0.0)
    with pytest.raises(OutOfMemory, match="Failed to allocate"):
        measure(2)
