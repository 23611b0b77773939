"""The GPU search space: what a GPU host adds to the automatic space (precision, TensorRT,
queue delays), the --gpus placement of every variant, a GPU memory constraint, and what the
default search costs on it. Hardware facts are faked: this host has no GPU."""

from __future__ import annotations

from typing import Any

from tritune.analysis.configs import ConfigResult, best_per_config
from tritune.config import parse_profile_config
from tritune.domain.measurement import LoadMode, LoadPoint, Measurement, MeasurementStatus
from tritune.domain.serving import ServingConfig
from tritune.domain.space import Dim, point_key
from tritune.search import build_space, create_plan
from tritune.search.factory import GPU_QUEUE_DELAYS_US, TENSORRT_PROVIDERS, gpu_automatic
from tritune.store.codec import serving_from_dict, serving_to_dict
from tritune.testing.synthetic import SYNTHETIC_SIGNATURE, SyntheticSurface
from tritune.triton.model_config import build_model_config, to_pbtxt

CUDA = ("CUDAExecutionProvider", "CPUExecutionProvider")
WITH_TRT = ("TensorrtExecutionProvider", *CUDA)


def _config(**top: Any) -> Any:
    return parse_profile_config({"profile_models": {"m": {"model_path": "m.onnx"}}, **top})


def _values(space: Any, dim: str) -> tuple[Any, ...]:
    return tuple(space.dimension(dim).values)


def test_a_gpu_host_searches_precision_tensorrt_cuda_graphs_and_queue_delay() -> None:
    space = build_space(
        _config(), "m", SYNTHETIC_SIGNATURE, gpu_available=True, precisions=("fp16", "fp32"), providers=WITH_TRT
    )
    assert _values(space, Dim.INSTANCE_KIND) == ("KIND_GPU",)
    assert _values(space, Dim.PRECISION) == ("fp32", "fp16")  # fp32 first: the default's
    assert _values(space, Dim.EXECUTION_PROVIDERS) == ((), TENSORRT_PROVIDERS)  # (): CUDA on a GPU
    assert _values(space, Dim.DYNAMIC_BATCHING) == GPU_QUEUE_DELAYS_US
    assert _values(space, Dim.INSTANCE_COUNT) == (1, 2, 3, 4, 5)  # Model Analyzer's ranges
    assert _values(space, Dim.MAX_BATCH_SIZE) == (1, 2, 4, 8, 16, 32, 64, 128)
    assert _values(space, Dim.CUDA_GRAPH) == (False, True)  # off first: the default's
    # The default is Triton's own on a GPU: one KIND_GPU instance (one per GPU), fp32, CUDA.
    default = space.variant(space.default)
    assert (default.serving.instance_kind, default.serving.instance_count, default.precision) == ("KIND_GPU", 1, "fp32")
    assert default.serving.runner.execution_providers == ()
    assert not default.serving.runner.cuda_graph
    graphs = space.variant({**space.default, Dim.CUDA_GRAPH: True}).serving
    assert graphs.runner.cuda_graph and graphs.runner.as_parameters()["enable_cuda_graph"] == "1"
    assert "enable_cuda_graph" not in default.serving.runner.as_parameters()
    cuda_only = build_space(
        _config(), "m", SYNTHETIC_SIGNATURE, gpu_available=True, precisions=("fp32",), providers=CUDA
    )
    assert _values(cuda_only, Dim.EXECUTION_PROVIDERS) == ((),)
    assert _values(cuda_only, Dim.PRECISION) == ("fp32",)  # fp16 failed validation: not offered


def test_the_cpu_host_space_is_unchanged_whatever_the_facts() -> None:
    plain = build_space(_config(), "m", SYNTHETIC_SIGNATURE)
    faked = build_space(_config(), "m", SYNTHETIC_SIGNATURE, precisions=("fp32", "fp16"), providers=WITH_TRT)
    assert plain == faked
    assert _values(plain, Dim.PRECISION) == ("fp32",)
    assert _values(plain, Dim.EXECUTION_PROVIDERS) == ((),)
    assert _values(plain, Dim.DYNAMIC_BATCHING) == (0,)
    assert Dim.CUDA_GRAPH not in plain.names  # so a CPU point keeps the store key it always had
    assert all(Dim.CUDA_GRAPH not in point for point in plain.grid())
    cpu_only = parse_profile_config({"profile_models": {"m": {"model_path": "m.onnx", "cpu_only": True}}})
    on_gpu_host = build_space(cpu_only, "m", SYNTHETIC_SIGNATURE, gpu_available=True, precisions=("fp32", "fp16"))
    assert _values(on_gpu_host, Dim.INSTANCE_KIND) == ("KIND_CPU",)
    assert _values(on_gpu_host, Dim.PRECISION) == ("fp32",)


def test_manual_lists_win_and_backends_get_only_the_delays() -> None:
    manual = parse_profile_config(
        {
            "profile_models": {
                "m": {
                    "model_path": "m.onnx",
                    "model_config_parameters": {
                        "precision": ["fp16"],
                        "execution_providers": ["CUDAExecutionProvider"],
                        "dynamic_batching": {"max_queue_delay_microseconds": [0, 50]},
                    },
                }
            }
        }
    )
    space = build_space(manual, "m", SYNTHETIC_SIGNATURE, gpu_available=True, precisions=("fp32", "fp16"))
    assert _values(space, Dim.PRECISION) == ("fp16",)
    assert _values(space, Dim.EXECUTION_PROVIDERS) == (("CUDAExecutionProvider",),)
    assert _values(space, Dim.DYNAMIC_BATCHING) == (0, 50)
    backend = gpu_automatic(gpu=True, runner=False, precisions=("fp32", "fp16"), providers=WITH_TRT)
    assert (backend.precisions, backend.providers, backend.delays) == ((), ((),), GPU_QUEUE_DELAYS_US)
    assert backend.cuda_graphs == (False,)  # a backend of the user's has its own (optimization.cuda.graphs)
    disabled = build_space(
        _config(run_config_search_disable=True), "m", SYNTHETIC_SIGNATURE, gpu_available=True, providers=WITH_TRT
    )
    assert sum(1 for _ in disabled.grid()) == 1


def test_gpus_place_every_gpu_variant_and_reach_the_config() -> None:
    space = build_space(_config(gpus="0,1"), "m", SYNTHETIC_SIGNATURE, gpu_available=True)
    variants = [space.variant(p) for p in space.grid()]
    assert {v.serving.gpus for v in variants} == {(0, 1)}
    config = to_pbtxt(build_model_config("m", SYNTHETIC_SIGNATURE, variants[0].serving))
    assert "gpus: 0" in config and "gpus: 1" in config and "KIND_GPU" in config
    # A CPU instance carries no GPU ids (Triton refuses them there).
    cpu = build_space(_config(gpus="0,1"), "m", SYNTHETIC_SIGNATURE)
    assert {cpu.variant(p).serving.gpus for p in cpu.grid()} == {()}
    # Stored only when set, so variants without it are stored (and repr'd) as they always were.
    plain = ServingConfig(max_batch_size=8, instance_kind="KIND_GPU")
    assert "gpus" not in serving_to_dict(plain) and "gpus" not in repr(plain)
    placed = variants[0].serving
    assert serving_from_dict(serving_to_dict(placed)) == placed
    everywhere = build_space(_config(), "m", SYNTHETIC_SIGNATURE, gpu_available=True)
    default = everywhere.variant(everywhere.default).serving
    assert "gpus" not in to_pbtxt(build_model_config("m", SYNTHETIC_SIGNATURE, default))  # Triton: every GPU


def _measured(throughput: float, gpu_mb: float) -> tuple[Measurement, ...]:
    metrics = {"perf_throughput": throughput, "perf_latency_p99": 5.0, "gpu_used_memory": gpu_mb}
    return (Measurement(LoadPoint(LoadMode.CONCURRENCY, 8), MeasurementStatus.OK, metrics),)


def test_a_variant_over_the_gpu_memory_bound_is_infeasible() -> None:
    plan = create_plan(_config(constraints={"gpu_used_memory": {"max": 4000}}), "m", SYNTHETIC_SIGNATURE)
    big = ConfigResult("m_config_1", _measured(9000.0, 6000.0))
    small = ConfigResult("m_config_2", _measured(5000.0, 3000.0))
    ranked = best_per_config([big, small], plan.objectives, plan.constraints)
    assert [r.config.name for r in ranked] == ["m_config_2", "m_config_1"]
    assert ranked[0].outcome.feasible and not ranked[1].outcome.feasible
    assert not plan.score(big.measurements).feasible


def test_the_default_search_stays_cheap_on_the_gpu_space() -> None:
    """The default mode's hill climb on the full automatic GPU space (2 precisions x 2 provider
    lists x 5 instance counts x 8 max batch sizes x 3 delays x CUDA graphs off/on) measures a small part of the grid
    and gets near the best of it on the synthetic GPU surface."""
    config = _config()
    plan = create_plan(
        config, "m", SYNTHETIC_SIGNATURE, gpu_available=True, precisions=("fp32", "fp16"), providers=WITH_TRT
    )
    surface = SyntheticSurface(has_gpu=True, noise=0.0)
    loads = [2.0**k for k in range(9)]

    def measurements(params: Any) -> list[Measurement]:
        variant = plan.space.variant(params)
        return [
            surface.measure(variant, LoadPoint(LoadMode.CONCURRENCY, load, variant.client_batch_size)) for load in loads
        ]

    def best(params: Any) -> float:
        return max(m.metrics.get("perf_throughput", 0.0) for m in measurements(params))

    tried: dict[str, Any] = {}
    while (trial := plan.searcher.ask()) is not None:
        tried[point_key(trial.params)] = trial.params
        plan.searcher.tell(trial, plan.score(measurements(trial.params)))
    grid = list(plan.space.grid())
    assert len(grid) == 2 * 2 * 5 * 8 * 3 * 2
    assert len(tried) <= len(grid) // 8, (len(tried), len(grid))
    optimum = max(best(p) for p in grid)
    assert max(best(p) for p in tried.values()) >= 0.95 * optimum


def test_gpus_replace_a_user_configs_gpu_ids() -> None:
    from tritune.triton.model_config import from_pbtxt
    from tritune.triton.user_model import variant_config

    base = from_pbtxt('name: "m" backend: "onnxruntime" instance_group [ { count: 2 kind: KIND_GPU gpus: [3] } ]')
    placed = variant_config(base, "m_config_1", ServingConfig(instance_count=2, instance_kind="KIND_GPU", gpus=(0, 1)))
    assert list(placed.instance_group[0].gpus) == [0, 1]
    kept = variant_config(base, "m_config_2", ServingConfig(instance_count=2, instance_kind="KIND_GPU"))
    assert list(kept.instance_group[0].gpus) == [3]  # no --gpus: the user's placement stays


def test_cuda_graphs_fold_away_on_a_cpu_instance_and_survive_storage() -> None:
    """A space listing both instance kinds: a CPU point with CUDA graphs on is the same point
    with them off (measured once); a GPU point keeps them, through the store's codec too."""
    both = parse_profile_config(
        {
            "profile_models": {
                "m": {
                    "model_path": "m.onnx",
                    "model_config_parameters": {"instance_group": [{"count": [1], "kind": ["KIND_CPU", "KIND_GPU"]}]},
                }
            }
        }
    )
    space = build_space(both, "m", SYNTHETIC_SIGNATURE, gpu_available=True)
    grid = list(space.grid())
    cpu = [p for p in grid if p[Dim.INSTANCE_KIND] == "KIND_CPU"]
    gpu = [p for p in grid if p[Dim.INSTANCE_KIND] == "KIND_GPU"]
    assert cpu and {p[Dim.CUDA_GRAPH] for p in cpu} == {False}
    assert {p[Dim.CUDA_GRAPH] for p in gpu} == {False, True}
    assert len(gpu) == 2 * len(cpu)
    on = space.variant(next(p for p in gpu if p[Dim.CUDA_GRAPH])).serving
    assert serving_from_dict(serving_to_dict(on)) == on
    assert 'key: "enable_cuda_graph"' in to_pbtxt(build_model_config("m", SYNTHETIC_SIGNATURE, on))
