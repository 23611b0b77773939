"""Models profiled concurrently on one server (``run_config_profile_models_concurrently_enable``):
one measurement holds each model's metrics (``model:<model>:<metric>``) and the combined ones, the
objective is the weighted sum of the models' throughputs, each model's constraints bind its own
metrics, and the pick is said as how the machine is shared. Pure."""

from __future__ import annotations

from collections.abc import Mapping

from tritune.analysis.constraints import Bound, Constraints
from tritune.analysis.objectives import Objectives
from tritune.domain.metrics import LATENCY_P99, METRICS, THROUGHPUT, WEIGHTED_THROUGHPUT, Combine, combine, model_metric
from tritune.domain.serving import ServingConfig

OBJECTIVE = WEIGHTED_THROUGHPUT


def combined_metrics(per_model: Mapping[str, Mapping[str, float]], weights: Mapping[str, float]) -> dict[str, float]:
    """One measurement's metrics from each model's (same windows): every model's under its
    prefix; the combined ones by the metric table's rule (the summed throughput and memory, the
    worst model's latencies; the machine's gauges once, each model's result holding the same
    reading); and ``weighted_throughput`` (each throughput times the model's weight; missing
    where a model has no throughput, so a model that served nothing cannot look good)."""
    combined: dict[str, float] = {}
    for model, metrics in per_model.items():
        combined.update({model_metric(model, name): value for name, value in metrics.items()})
    models = list(per_model.values())
    for entry in METRICS.values():
        name = entry.name
        if entry.machine:  # one host and its GPUs, sampled once for all the models
            shared = [m[name] for m in models if name in m]
            if shared:
                combined[name] = shared[0]
        elif entry.combine is not Combine.NONE and models and all(name in m for m in models):
            combined[name] = combine(name, [m[name] for m in models])
    if models and all(m.get(THROUGHPUT) for m in models):
        combined[OBJECTIVE] = sum(weights.get(name, 1.0) * m[THROUGHPUT] for name, m in per_model.items())
    return combined


def objectives() -> Objectives:
    """The objective of models profiled concurrently: their weighted throughput."""
    return Objectives({OBJECTIVE: 1.0})


def per_model_constraints(constraints: Mapping[str, Constraints]) -> Constraints:
    """Each model's constraints (model -> its bounds) on its own metrics: ``perf_latency_p99 <=
    50`` of model ``a`` binds ``model:a:perf_latency_p99``, so the pick meets every model's."""
    return Constraints(
        tuple(
            Bound(model_metric(model, b.metric), b.min, b.max)
            for model, bounds in constraints.items()
            for b in bounds.bounds
        )
    )


def knobs_phrase(serving: ServingConfig) -> str:
    """One model's share of the machine: "2 CPU instances, max batch 8, dynamic batching on"."""
    kind = serving.instance_kind.removeprefix("KIND_")
    plural = "s" if serving.instance_count != 1 else ""
    batching = serving.dynamic_batching
    dynamic = "off" if batching is None else f"on (queue delay {batching.max_queue_delay_us} µs)"
    instances = f"{serving.instance_count} {kind} instance{plural}"
    return f"{instances}, max batch {serving.max_batch_size}, dynamic batching {dynamic}"


def sharing_sentence(serving: ServingConfig, metrics: Mapping[str, float]) -> str:
    """How the pick shares the machine: each model's knobs and what it served while the others
    ran (``serving.steps``: each model's config; ``metrics``: the pick's best measurement)."""
    parts = []
    for model, config in serving.steps:
        throughput = metrics.get(model_metric(model, THROUGHPUT))
        p99 = metrics.get(model_metric(model, LATENCY_P99))
        served = []
        if throughput is not None:
            served.append(f"{throughput:,.1f} infer/sec")
        if p99 is not None:
            served.append(f"p99 {p99:.3g} ms")
        numbers = f": {', '.join(served)}" if served else ""
        parts.append(f"{model} gets {knobs_phrase(config)}{numbers}")
    return "Served together, " + "; ".join(parts) + "."
