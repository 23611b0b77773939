"""Which requests warm a freshly loaded model up (pure): every batch size its server can form.

A runtime pays once per new input shape (cuDNN and TensorRT pick algorithms, ONNX Runtime
allocates and caches per shape), and once per model instance (each instance is a session of its
own). Paid during the first measurement, that cost is a measurement of start-up, not of serving:
on a GPU a variant's first load point can read a small fraction of the next one's throughput.

Two senders, one plan: Triton itself (``model_warmup`` samples tritune writes into its runner's
configs, run on every instance as it loads, the instances at once) where every input's shape is
known from the config, and the load generator (``loadgen/warmup.py``) for the rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tritune.domain.devices import InstanceKind
from tritune.runner.batching import bucket_mode, padded_rows

# Parameters every config of tritune's runner carries (domain/serving.py RunnerOptions): how a
# config the server hands back is known to be the runner's, whose batch buckets apply.
_RUNNER_PARAMETERS = frozenset({"runtime", "model_filename", "graph_optimization_level"})


# The names of the warm-up samples tritune writes (``triton/backends.add_server_warmup``), one
# per batch size: how a loaded config tells that Triton warmed it up at that size.
SERVER_WARMUP_PREFIX = "tritune_warmup_batch_"


@dataclass(frozen=True)
class WarmupPlan:
    """One request of each batch size, smallest first, ``runs`` times on each of ``instances``."""

    batch_sizes: tuple[int, ...]
    instances: int = 1
    runs: int = 1  # per shape and instance: more than one where a CUDA graph must be captured

    @property
    def repeats(self) -> int:
        """Sent by a client one at a time: an idle instance that just served goes to the back of
        Triton's queue, so back-to-back requests of one size reach each instance in turn."""
        return self.instances * self.runs

    @property
    def requests(self) -> int:
        return len(self.batch_sizes) * self.repeats

    def without(self, sizes: Sequence[int]) -> WarmupPlan:
        """The plan less the batch sizes already warmed up (by Triton, as it loaded the model)."""
        return WarmupPlan(tuple(b for b in self.batch_sizes if b not in sizes), self.instances, self.runs)


def warmup_batch_sizes(
    max_batch_size: int,
    *,
    dynamic_batching: bool,
    client_batch_size: int = 1,
    preferred: Sequence[int] = (),
    every_size: bool = False,
) -> tuple[int, ...]:
    """The batch sizes the server can form for this model and client, smallest first.

    Without batching on the model (max_batch_size 0) a request has no batch dimension: one
    request. Without the dynamic batcher every batch is the client's. With it, the batcher joins
    client requests into any multiple of the client batch up to max_batch_size; all of them
    would cost up to max_batch_size requests per instance, so the plan takes the client batch
    times each power of two (the shape buckets runtimes tune for, and what a batcher forms
    under light load), the largest multiple (what it forms under saturation, where the
    measurements that decide a search are taken) and the preferred sizes it aims for.

    ``every_size``: every multiple instead. On a GPU, cuDNN searches convolution algorithms for
    each new input shape, a second or more per shape for a CNN: a CNN warmed with batches 1, 2,
    4 and 8 still fails its first measurement windows at a concurrency where the batcher forms
    batches of 3, 5, 6 and 7.
    """
    if max_batch_size <= 0:
        return (1,)
    client = max(1, min(client_batch_size, max_batch_size))
    if not dynamic_batching:
        return (client,)
    if every_size:
        return tuple(range(client, max_batch_size + 1, client))
    sizes = {client * (max_batch_size // client)}
    size = client
    while size <= max_batch_size:
        sizes.add(size)
        size *= 2
    sizes.update(p for p in preferred if 0 < p <= max_batch_size)
    return tuple(sorted(sizes))


def instance_total(config: Mapping[str, Any]) -> int:
    """How many instances a model config (Triton's JSON) runs: a GPU group once per GPU it names."""
    total = 0
    for group in config.get("instance_group") or ():
        count = int(group.get("count", 1) or 1)
        gpus = group.get("gpus") or ()
        total += count * (len(gpus) if group.get("kind") == InstanceKind.KIND_GPU and gpus else 1)
    return max(total, 1)


def _on_gpu(config: Mapping[str, Any]) -> bool:
    return any(g.get("kind") == InstanceKind.KIND_GPU for g in config.get("instance_group") or ())


def _max_batch_size(config: Mapping[str, Any]) -> int:
    return int(config.get("max_batch_size", 0) or 0)


def _parameters(config: Mapping[str, Any]) -> dict[str, str]:
    """The config's ``parameters`` as plain strings (Triton's JSON wraps each in ``string_value``)."""
    return {k: str((v or {}).get("string_value", "")) for k, v in (config.get("parameters") or {}).items()}


def runner_buckets(config: Mapping[str, Any]) -> str | None:
    """The batch buckets tritune's runner pads to under this config (runner/batching.py), or None
    when the model is not served by the runner (a user's backend meets every size it is sent)."""
    if config.get("backend") != "python":
        return None
    parameters = _parameters(config)
    if not _RUNNER_PARAMETERS.issubset(parameters):
        return None
    return bucket_mode(parameters.get("batch_buckets"), gpu=_on_gpu(config), max_batch_size=_max_batch_size(config))


# Runs of one shape until its CUDA graph replays: the runner's first run of a shape is a plain one
# that sizes the graph's buffers (runtimes/ort_binding.py); ONNX Runtime is taken to run a graph id
# once uncaptured before it captures it (not yet checked on a GPU here: one run to spare).
CUDA_GRAPH_RUNS = 3


def _cuda_graphs(config: Mapping[str, Any]) -> bool:
    return _on_gpu(config) and _parameters(config).get("enable_cuda_graph") == "1"


def bucketed(sizes: Sequence[int], max_batch_size: int, mode: str) -> tuple[int, ...]:
    """One size per shape the runtime meets when batches are padded (``mode``): the largest of
    ``sizes`` padded to each shape, so a request that pads to nothing is sent where one exists."""
    largest: dict[int, int] = {}
    for size in sorted(sizes):
        largest[padded_rows(size, max_batch_size, mode)] = size
    return tuple(sorted(largest.values()))


def plan_from_config(config: Mapping[str, Any], client_batch_size: int = 1) -> WarmupPlan:
    """The warm-up of a model as the server loaded it (its config JSON, as Triton completed it).

    On a GPU every size the batcher can form is a new shape, except where tritune's runner pads
    batches to buckets: there only the buckets are (at max batch 128, 8 shapes per instance
    instead of 128, and warming every size would cost a variant tens of seconds). With
    the runner's CUDA graphs each shape is sent until its graph is captured (CUDA_GRAPH_RUNS)."""
    batching = config.get("dynamic_batching")
    max_batch_size = _max_batch_size(config)
    sizes = warmup_batch_sizes(
        max_batch_size,
        dynamic_batching=batching is not None,
        client_batch_size=client_batch_size,
        preferred=[int(p) for p in (batching or {}).get("preferred_batch_size") or ()],
        every_size=_on_gpu(config),
    )
    buckets = runner_buckets(config)
    if buckets is not None and buckets != "off":
        sizes = bucketed(sizes, max_batch_size, buckets)
    graphs = buckets is not None and _cuda_graphs(config)
    return WarmupPlan(sizes, instance_total(config), CUDA_GRAPH_RUNS if graphs else 1)


def server_warmup_sizes(config: Mapping[str, Any]) -> tuple[int, ...]:
    """The batch sizes Triton warmed the model up with as it loaded it: the samples of tritune's
    (``SERVER_WARMUP_PREFIX``) in its config JSON; a user's own samples are not counted on."""
    samples = config.get("model_warmup") or ()
    return tuple(
        sorted(int(w.get("batch_size", 1)) for w in samples if str(w.get("name", "")).startswith(SERVER_WARMUP_PREFIX))
    )
