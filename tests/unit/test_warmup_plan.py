"""The warm-up plan: every batch size the server can form for a variant, once per instance."""

import pytest

from tritune.domain.warmup_plan import (
    CUDA_GRAPH_RUNS,
    WarmupPlan,
    instance_total,
    plan_from_config,
    warmup_batch_sizes,
)


@pytest.mark.parametrize(
    ("max_batch", "batching", "client", "preferred", "sizes"),
    [
        (0, True, 1, (), (1,)),  # no batch dimension: one request
        (0, False, 4, (), (1,)),
        (8, False, 1, (), (1,)),  # no batcher: only what the client sends
        (8, False, 4, (), (4,)),
        (8, False, 16, (), (8,)),  # a client batch over the max is capped (its measurement fails anyway)
        (8, True, 1, (), (1, 2, 4, 8)),
        (12, True, 1, (), (1, 2, 4, 8, 12)),  # the max itself, what a saturated batcher forms
        (16, True, 3, (), (3, 6, 12, 15)),  # multiples of the client batch
        (32, True, 1, (6, 64), (1, 2, 4, 6, 8, 16, 32)),  # preferred sizes it can form
        (1, True, 1, (), (1,)),
    ],
)
def test_batch_sizes(
    max_batch: int, batching: bool, client: int, preferred: tuple[int, ...], sizes: tuple[int, ...]
) -> None:
    assert (
        warmup_batch_sizes(max_batch, dynamic_batching=batching, client_batch_size=client, preferred=preferred) == sizes
    )


def test_the_count_stays_logarithmic_in_the_max() -> None:
    assert len(warmup_batch_sizes(1024, dynamic_batching=True)) == 11
    assert len(warmup_batch_sizes(1000, dynamic_batching=True)) == 11  # 1..512 and 1000


def test_instances_count_each_gpu_of_a_group() -> None:
    assert instance_total({}) == 1
    assert instance_total({"instance_group": [{"count": 3, "kind": "KIND_CPU"}]}) == 3
    groups = [{"count": 2, "kind": "KIND_GPU", "gpus": [0, 1]}, {"count": 1, "kind": "KIND_CPU"}]
    assert instance_total({"instance_group": groups}) == 5


def test_plan_from_the_servers_config() -> None:
    config = {
        "max_batch_size": 8,
        "dynamic_batching": {"preferred_batch_size": [3], "max_queue_delay_microseconds": 0},
        "instance_group": [{"count": 2, "kind": "KIND_CPU"}],
    }
    plan = plan_from_config(config, client_batch_size=1)
    assert plan == WarmupPlan((1, 2, 3, 4, 8), instances=2) and plan.requests == 10
    assert plan_from_config({**config, "dynamic_batching": None}, 2) == WarmupPlan((2,), 2)
    assert plan_from_config({"max_batch_size": 0}) == WarmupPlan((1,), 1)


def test_gpu_instances_warm_every_batch_size_the_batcher_can_form() -> None:
    """cuDNN tunes per exact input shape: on a GPU the powers of two are not enough."""
    config = {
        "max_batch_size": 8,
        "dynamic_batching": {"max_queue_delay_microseconds": 0},
        "instance_group": [{"count": 1, "kind": "KIND_GPU"}],
    }
    assert plan_from_config(config).batch_sizes == (1, 2, 3, 4, 5, 6, 7, 8)
    assert plan_from_config(config, client_batch_size=2).batch_sizes == (2, 4, 6, 8)
    assert plan_from_config({**config, "dynamic_batching": None}).batch_sizes == (1,)


def _runner_config(kind: str, max_batch: int, **parameters: str) -> dict[str, object]:
    """A config of tritune's runner as the server hands it back (its parameters as string values)."""
    values = {"runtime": "onnxruntime", "model_filename": "model.onnx", "graph_optimization_level": "all", **parameters}
    return {
        "backend": "python",
        "max_batch_size": max_batch,
        "dynamic_batching": {"max_queue_delay_microseconds": 0},
        "instance_group": [{"count": 5, "kind": kind}],
        "parameters": {k: {"string_value": v} for k, v in values.items()},
    }


def test_the_runners_gpu_buckets_are_the_only_shapes_warmed() -> None:
    """The runner pads GPU batches to powers of two: 8 shapes at max batch 128, not 128 sizes."""
    plan = plan_from_config(_runner_config("KIND_GPU", 128))
    assert plan.batch_sizes == (1, 2, 4, 8, 16, 32, 64, 128) and plan.requests == 40
    assert plan_from_config(_runner_config("KIND_GPU", 12)).batch_sizes == (1, 2, 4, 8, 12)
    # a client batch of 3: the largest multiple padded to each bucket (3 -> 4, 6 -> 8, 15 -> 16)
    assert plan_from_config(_runner_config("KIND_GPU", 16), client_batch_size=3).batch_sizes == (3, 6, 15)
    assert plan_from_config(_runner_config("KIND_GPU", 16, batch_buckets="max")).batch_sizes == (16,)
    every = tuple(range(1, 17))
    assert plan_from_config(_runner_config("KIND_GPU", 16, batch_buckets="off")).batch_sizes == every
    # not the runner (a user's model.py without its parameters): every size stays
    user = {**_runner_config("KIND_GPU", 16), "parameters": {}}
    assert plan_from_config(user).batch_sizes == every
    # the runner on the CPU pads nothing: the CPU plan is unchanged
    assert plan_from_config(_runner_config("KIND_CPU", 16)).batch_sizes == (1, 2, 4, 8, 16)


def test_cuda_graphs_warm_each_shape_until_it_is_captured() -> None:
    """With the runner's CUDA graphs a shape's first runs are plain (buffers sized, then ONNX
    Runtime's uncaptured run): each is sent CUDA_GRAPH_RUNS times per instance, so the capture
    is paid before the first window, not in it."""
    plain = plan_from_config(_runner_config("KIND_GPU", 8))
    graphs = plan_from_config(_runner_config("KIND_GPU", 8, enable_cuda_graph="1"))
    assert graphs.batch_sizes == plain.batch_sizes == (1, 2, 4, 8)
    assert graphs.repeats == CUDA_GRAPH_RUNS * plain.repeats == CUDA_GRAPH_RUNS * 5
    # on a CPU instance the runner takes no graphs: the parameter changes nothing
    cpu = plan_from_config(_runner_config("KIND_CPU", 8, enable_cuda_graph="1"))
    assert cpu.repeats == plan_from_config(_runner_config("KIND_CPU", 8)).repeats
