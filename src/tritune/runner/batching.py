"""Pure batching logic: many requests become one runtime call, and back.

Requests are grouped by the shape of their non-batch dimensions (two requests with
different sequence lengths cannot be concatenated), each group is concatenated along
axis 0, and the outputs are split back by each request's batch size.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# numpy arrays, or device tensors with the same .shape and .dtype (runner/device.py)
Feeds = Mapping[str, Any]


@dataclass(frozen=True)
class BatchGroup:
    """Requests (by index) that run together, and each one's batch size."""

    request_indices: tuple[int, ...]
    batch_sizes: tuple[int, ...]


def _signature(feeds: Feeds) -> tuple[tuple[str, tuple[int, ...], str], ...]:
    return tuple(sorted((name, tuple(a.shape[1:]), a.dtype.str) for name, a in feeds.items()))


def group_requests(requests: Sequence[Feeds]) -> list[BatchGroup]:
    """Group requests whose inputs can be concatenated along the batch axis, keeping order."""
    groups: dict[tuple[tuple[str, tuple[int, ...], str], ...], list[int]] = {}
    for index, feeds in enumerate(requests):
        groups.setdefault(_signature(feeds), []).append(index)
    result = []
    for indices in groups.values():
        sizes = tuple(int(next(iter(requests[i].values())).shape[0]) for i in indices)
        result.append(BatchGroup(tuple(indices), sizes))
    return result


def _host_concatenate(parts: Sequence[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts, axis=0)


def merge_feeds(
    requests: Sequence[Feeds], group: BatchGroup, concatenate: Callable[[Sequence[Any]], Any] = _host_concatenate
) -> dict[str, Any]:
    """One feed per input for the group; ``concatenate`` joins along axis 0 (the runner passes
    one that keeps GPU inputs on the GPU)."""
    members = [requests[i] for i in group.request_indices]
    if len(members) == 1:
        return dict(members[0])
    return {name: concatenate([m[name] for m in members]) for name in members[0]}


def split_outputs(outputs: Mapping[str, np.ndarray], batch_sizes: Sequence[int]) -> list[dict[str, np.ndarray]]:
    """Split each output along axis 0 into one dict per request."""
    total = sum(batch_sizes)
    for name, array in outputs.items():
        if array.ndim == 0 or array.shape[0] != total:
            raise ValueError(
                f"output {name!r} has shape {array.shape} but the batch holds {total} rows: the model "
                "does not keep the batch dimension first (set max_batch_size: 0 for such a model)"
            )
    bounds = np.cumsum([0, *batch_sizes])
    return [
        {name: array[bounds[i] : bounds[i + 1]] for name, array in outputs.items()} for i in range(len(batch_sizes))
    ]


# How a batch is padded before it runs (the runner's ``batch_buckets`` parameter):
#   off  - as formed by the batcher;
#   pow2 - to the next power of two (max_batch_size is a bucket too), so a runtime meets at
#          most log2(max_batch_size) + 2 shapes;
#   max  - always to max_batch_size: one shape.
# Why: ONNX Runtime's CUDA convolutions re-plan whenever their input shape differs from the
# previous run's (a CNN fed batches of varying size re-plans on most of them and runs far slower
# than at a fixed size). The runtime keeps one session per padded size.
BUCKET_MODES = ("off", "pow2", "max")


def bucket_mode(option: str | None, *, gpu: bool, max_batch_size: int) -> str:
    """The mode a ``batch_buckets`` parameter means: "auto" (or unset) is pow2 on a GPU instance
    of a batching model, off elsewhere. The warm-up plan (loadgen/warmup_plan.py) reads the same
    rule to send only the shapes the runtime will see."""
    mode = (option or "auto").strip().lower()
    if mode == "auto":
        return "pow2" if gpu and max_batch_size > 0 else "off"
    return mode


def padded_rows(rows: int, max_batch_size: int, mode: str) -> int:
    """The rows a batch of ``rows`` runs as (never fewer, never above ``max_batch_size`` unless
    ``rows`` already is)."""
    if mode not in BUCKET_MODES:
        raise ValueError(f"batch_buckets {mode!r} is not one of {', '.join(BUCKET_MODES)}")
    if mode == "off" or max_batch_size <= 0 or rows >= max_batch_size:
        return rows
    if mode == "max":
        return max_batch_size
    return min(1 << max(rows - 1, 0).bit_length(), max_batch_size)
