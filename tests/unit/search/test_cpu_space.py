"""The CPU search space where the server's cores are known: the runner's intra-op threads are
searched together with the instance count (instances x threads within the cores), queue delays
join the space, manual lists win, and GPU variants and backends of the user's own keep their
space. The search on the synthetic surface, where threads matter, finds the optimum."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from tritune.config import parse_profile_config
from tritune.domain.space import Dim
from tritune.search import build_space, create_plan
from tritune.search.factory import CPU_QUEUE_DELAYS_US, GPU_QUEUE_DELAYS_US
from tritune.testing.synthetic import SYNTHETIC_SIGNATURE, SyntheticSurface, profile_surface, true_optimum


def _config(model: dict[str, Any] | None = None, **top: Any) -> Any:
    return parse_profile_config({"profile_models": {"m": {"model_path": "m.onnx", **(model or {})}}, **top})


def _pairs(space: Any) -> list[tuple[int, int]]:
    """(instances, threads) in grid order, each once."""
    return list(dict.fromkeys((p[Dim.INSTANCE_COUNT], p[Dim.INTRA_OP_THREADS]) for p in space.grid()))


@pytest.mark.parametrize("cores", [1, 2, 3, 8, 16])
def test_cpu_points_keep_instances_times_threads_within_the_cores(cores: int) -> None:
    space = build_space(_config(), "m", SYNTHETIC_SIGNATURE, cpu_cores=cores)
    threads = space.dimension(Dim.INTRA_OP_THREADS).values
    assert threads[0] == 1 and threads[-1] == 0  # ordered: 1 thread first, the runtime's default last
    pairs = _pairs(space)
    for count, thread_count in pairs:
        if thread_count == 0:
            assert count == 1  # the runtime's default (every core) for one instance only
        else:
            assert thread_count == 1 or count * thread_count <= cores
    assert {c for c, _ in pairs} == {1, 2, 3, 4, 5}  # every instance count stays searchable
    assert (1, 0) in pairs  # the untuned default
    assert space.dimension(Dim.DYNAMIC_BATCHING).values == CPU_QUEUE_DELAYS_US


def test_one_thread_per_instance_is_the_first_candidate_for_many_instances() -> None:
    two = build_space(_config(), "m", SYNTHETIC_SIGNATURE, cpu_cores=2)
    assert two.dimension(Dim.INTRA_OP_THREADS).values == (1, 2, 0)
    assert _pairs(two) == [(1, 1), (1, 2), (1, 0), (2, 1), (3, 1), (4, 1), (5, 1)]
    # A climb from the default (1 instance, the runtime's default) to more instances proposes
    # the threads that fill the cores: one per instance once instances reach half the cores.
    default = dict(two.default)
    for count in (2, 3, 5):
        assert two.legal({**default, Dim.INSTANCE_COUNT: count})[Dim.INTRA_OP_THREADS] == 1  # type: ignore[index]
    eight = build_space(_config(), "m", SYNTHETIC_SIGNATURE, cpu_cores=8)
    proposed = {count: eight.legal({**eight.default, Dim.INSTANCE_COUNT: count}) for count in (2, 4, 5)}
    assert {c: p[Dim.INTRA_OP_THREADS] for c, p in proposed.items() if p} == {2: 4, 4: 2, 5: 1}
    assert [t for c, t in _pairs(eight) if c == 2] == [1, 2, 4]  # 1 thread listed first


def test_manual_lists_win_over_the_cores() -> None:
    manual = _config(
        {
            "model_config_parameters": {
                "instance_group": [{"count": [1, 2]}],
                "intra_op_threads": [4, 8],
                "dynamic_batching": {"max_queue_delay_microseconds": [0, 50]},
            }
        }
    )
    space = build_space(manual, "m", SYNTHETIC_SIGNATURE, cpu_cores=2)
    assert space.dimension(Dim.INTRA_OP_THREADS).values == (4, 8)
    assert space.dimension(Dim.DYNAMIC_BATCHING).values == (0, 50)
    assert _pairs(space) == [(1, 4), (1, 8), (2, 4), (2, 8)]  # measured as given
    disabled = build_space(_config(run_config_search_disable=True), "m", SYNTHETIC_SIGNATURE, cpu_cores=2)
    assert sum(1 for _ in disabled.grid()) == 1


def test_gpu_variants_and_own_backends_keep_their_space() -> None:
    gpu = build_space(_config(), "m", SYNTHETIC_SIGNATURE, gpu_available=True, cpu_cores=2)
    assert gpu.dimension(Dim.INTRA_OP_THREADS).values == (0,)
    assert gpu.dimension(Dim.DYNAMIC_BATCHING).values == GPU_QUEUE_DELAYS_US
    assert gpu == build_space(_config(), "m", SYNTHETIC_SIGNATURE, gpu_available=True)
    # Both kinds listed on a GPU host: CPU points search threads, GPU points keep the default.
    both = _config({"model_config_parameters": {"instance_group": [{"kind": ["KIND_CPU", "KIND_GPU"]}]}})
    mixed = build_space(both, "m", SYNTHETIC_SIGNATURE, gpu_available=True, cpu_cores=2)
    by_kind: dict[str, set[Any]] = {}
    for point in mixed.grid():
        by_kind.setdefault(str(point[Dim.INSTANCE_KIND]), set()).add(point[Dim.INTRA_OP_THREADS])
    assert by_kind == {"KIND_CPU": {0, 1, 2}, "KIND_GPU": {0}}
    # A model served by its own backend keeps its own thread knobs; it gets the queue delays.
    own = build_space(_config(), "m", SYNTHETIC_SIGNATURE, backend="onnxruntime", cpu_cores=2)
    assert own.dimension(Dim.INTRA_OP_THREADS).values == (0,)
    assert own.dimension(Dim.DYNAMIC_BATCHING).values == CPU_QUEUE_DELAYS_US
    assert own.cores is None


SMALL = {"run_config_search_max_instance_count": 4, "run_config_search_max_model_batch_size": 32}
CASES = {
    # Cheap batches on 2 cores: two single-threaded instances beat one on every core.
    "2 cores": (SyntheticSurface(seed=2, cores=2, overhead_ms=0.5, per_item_ms=0.3), (2, 1)),
    "8 cores": (SyntheticSurface(seed=1), (4, 2)),
    "16 cores": (SyntheticSurface(seed=4, cores=16, overhead_ms=3, per_item_ms=1), (4, 4)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_default_search_finds_the_thread_and_instance_optimum(case: str, tmp_path: Path) -> None:
    surface, expected = CASES[case]
    config = parse_profile_config({"profile_models": ["m"], **SMALL})
    run = profile_surface(config, surface, tmp_path, knows_cores=True)
    plan = run.plan
    optimum_point, _, optimum = true_optimum(surface, plan.space, plan.objectives, loads=range(1, 1025))
    best = run.best
    assert best.best is not None
    metrics = surface.true_metrics(plan.space.variant(best.config.params), best.best.load)
    assert metrics is not None
    assert math.exp(plan.objectives.score(metrics) - optimum) >= 0.98
    pick = (best.config.params[Dim.INSTANCE_COUNT], best.config.params[Dim.INTRA_OP_THREADS])
    assert pick == expected == (optimum_point[Dim.INSTANCE_COUNT], optimum_point[Dim.INTRA_OP_THREADS])
    assert run.measurements <= 0.15 * sum(1 for _ in plan.space.grid()) * 8  # brute: ~8 loads each


def test_the_threads_are_what_pays_on_two_cores() -> None:
    """Without the cores (threads at the runtime's default, every instance on every core) the
    best of the space is far below what one thread per instance reaches."""
    surface, _ = CASES["2 cores"]
    config = parse_profile_config({"profile_models": ["m"], **SMALL})
    objectives = create_plan(config, "m", SYNTHETIC_SIGNATURE).objectives
    blind = build_space(config, "m", SYNTHETIC_SIGNATURE)
    told = build_space(config, "m", SYNTHETIC_SIGNATURE, cpu_cores=2)
    _, _, without = true_optimum(surface, blind, objectives, loads=range(1, 1025))
    _, _, with_threads = true_optimum(surface, told, objectives, loads=range(1, 1025))
    assert math.exp(with_threads - without) > 1.15  # about 1.19: 2 instances of 1 thread
