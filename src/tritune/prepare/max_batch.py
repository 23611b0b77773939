"""The max-batch search, after Model Navigator's batch-size sweep: batch sizes 1, 2, 4, ... up
to a cap; a step is saturated when its throughput is below the best so far x (1 + threshold);
the search stops after ``backoff_limit`` saturated steps in a row, on out-of-memory, or at the
cap. The max batch size is the last step that still gained (saturated steps are dropped unless
throughput recovers). Not called a sweep: in tritune that is the load sweep of one variant.

``max_batch_search`` is pure given ``measure``; ``ort_throughput`` measures on ONNX Runtime."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

THROUGHPUT_THRESHOLD = 0.05  # Model Navigator's throughput_cutoff_threshold
BACKOFF_LIMIT = 2  # Model Navigator's throughput_backoff_limit


class OutOfMemory(Exception):
    """The step could not get the memory it needs (allocation failure or over budget)."""


@dataclass(frozen=True)
class MaxBatchStep:
    batch_size: int
    status: str  # "kept" | "saturated" | "out_of_memory" | "error"
    throughput: float | None = None  # samples per second
    latency_ms: float | None = None  # mean per inference
    note: str = ""


@dataclass(frozen=True)
class MaxBatchResult:
    max_batch_size: int
    stop_reason: str  # "saturated" | "out_of_memory" | "error" | "cap"
    steps: tuple[MaxBatchStep, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_batch_size": self.max_batch_size,
            "stop_reason": self.stop_reason,
            "steps": [asdict(s) for s in self.steps],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MaxBatchResult:
        """The inverse of ``as_dict``."""
        steps = tuple(MaxBatchStep(**step) for step in data["steps"])
        return cls(data["max_batch_size"], data["stop_reason"], steps)


@dataclass(frozen=True)
class Throughput:
    samples_per_s: float
    latency_ms: float


def batch_sizes(cap: int) -> list[int]:
    sizes, size = [], 1
    while size <= cap:
        sizes.append(size)
        size *= 2
    return sizes


def max_batch_search(
    measure: Callable[[int], Throughput],
    cap: int,
    *,
    threshold: float = THROUGHPUT_THRESHOLD,
    backoff_limit: int = BACKOFF_LIMIT,
) -> MaxBatchResult:
    steps: list[MaxBatchStep] = []
    best = 0.0
    kept = 0
    saturated_in_a_row = 0
    for size in batch_sizes(cap):
        try:
            result = measure(size)
        except OutOfMemory as error:
            steps.append(MaxBatchStep(size, "out_of_memory", note=str(error)))
            return MaxBatchResult(max(kept, 1), "out_of_memory", tuple(steps))
        except Exception as error:  # a batch that fails for another reason ends the search too
            steps.append(MaxBatchStep(size, "error", note=f"{type(error).__name__}: {error}"[:300]))
            return MaxBatchResult(max(kept, 1), "error", tuple(steps))
        if kept == 0 or result.samples_per_s >= best * (1 + threshold):
            kept, best, saturated_in_a_row = size, max(best, result.samples_per_s), 0
            steps.append(MaxBatchStep(size, "kept", result.samples_per_s, result.latency_ms))
            continue
        saturated_in_a_row += 1
        steps.append(MaxBatchStep(size, "saturated", result.samples_per_s, result.latency_ms))
        # Model Navigator: a limit of 2 stops after 2 saturated steps in a row, 0 at the first.
        if saturated_in_a_row >= max(backoff_limit, 1):
            return MaxBatchResult(kept, "saturated", tuple(steps))
    return MaxBatchResult(kept, "cap", tuple(steps))


_OOM_MARKERS = ("failed to allocate", "out of memory", "bad_alloc", "cannot allocate")


def ort_throughput(
    run: Callable[[Mapping[str, np.ndarray]], object],
    make_feeds: Callable[[int], dict[str, np.ndarray]],
    *,
    min_time_s: float,
    min_runs: int = 3,
    memory_budget_bytes: int | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Callable[[int], Throughput]:
    """A ``measure`` for the search: one warm-up run, then runs until both ``min_runs`` and
    ``min_time_s`` are reached; throughput = samples / elapsed, single stream (as Model
    Navigator measures it: no server, no concurrency)."""

    def measure(batch_size: int) -> Throughput:
        try:
            feeds = make_feeds(batch_size)
        except MemoryError as error:
            raise OutOfMemory(f"inputs for batch {batch_size} do not fit in memory: {error}") from None
        input_bytes = sum(v.nbytes for v in feeds.values())
        if memory_budget_bytes is not None and input_bytes * 4 > memory_budget_bytes:
            # Inputs are a lower bound of what one inference holds (activations come on top).
            raise OutOfMemory(f"batch {batch_size} inputs alone take {input_bytes} bytes, over the memory budget")
        try:
            run(feeds)  # warm-up: first-run allocations and kernel choice
            runs, started = 0, clock()
            while runs < min_runs or clock() - started < min_time_s:
                run(feeds)
                runs += 1
            elapsed = clock() - started
        except MemoryError as error:
            raise OutOfMemory(str(error)) from None
        except Exception as error:
            if any(marker in str(error).lower() for marker in _OOM_MARKERS):
                raise OutOfMemory(str(error).strip().splitlines()[-1][:300]) from None
            raise
        return Throughput(batch_size * runs / elapsed, 1000.0 * elapsed / runs)

    return measure
