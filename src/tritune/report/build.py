"""``build_report_data``: everything a report shows, built purely from stored run records.

``build_report_data(snapshot, settings)`` is a pure function of what the store holds (see
``tritune.report.load`` for the thin loader): it ranks, picks the top N, colors the configs,
and computes the sentence and the Pareto front into the records of ``tritune.report.records``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from tritune.analysis import (
    Constraints,
    Objectives,
    best_per_config,
    objective_phrase,
    pareto_front,
    summary_facts,
    summary_sentence,
)
from tritune.analysis.concurrent import sharing_sentence
from tritune.analysis.configs import ConfigBest
from tritune.analysis.confirm import (
    ConfirmResult,
    Finalist,
    confirmed_facts,
    confirmed_ranking,
    decide,
    race,
    serving_cost,
)
from tritune.domain.measurement import Measurement, MeasurementStatus
from tritune.domain.metrics import CPU_USED_RAM, GPU_USED_MEMORY, LATENCY_P99, THROUGHPUT, parse_model_metric
from tritune.domain.status import RunStatus
from tritune.report.pipeline import Pipeline, describe_steps, median_metrics, pipeline_of, step_knobs_of
from tritune.report.records import (
    ConfigSummary,
    ConstraintSummary,
    Goals,
    GpuSummary,
    HardwareSummary,
    ParetoPoint,
    Point,
    ReportData,
    ReportSettings,
    RunSnapshot,
)
from tritune.store import VariantRecord
from tritune.store.results import config_results_of

PARETO_METRICS = (LATENCY_P99, THROUGHPUT)  # (x, y) of the trade-off plot

# One color per configuration, the same in every plot and table of a run: the default is
# always gray, the others follow their rank.
DEFAULT_COLOR = "#6b7280"
PALETTE = (
    "#2563eb",
    "#dc2626",
    "#059669",
    "#d97706",
    "#7c3aed",
    "#0891b2",
    "#db2777",
    "#65a30d",
    "#ea580c",
    "#4f46e5",
)


def build_report_data(snapshot: RunSnapshot, settings: ReportSettings | None = None) -> ReportData:
    """Rank the run's configurations, pick the top N, compute the sentence and the Pareto front."""
    run = snapshot.run
    settings = settings or ReportSettings.from_run_settings(run.settings)
    objectives = Objectives.of(settings.objectives)
    constraints = Constraints.of(settings.constraints)

    results = config_results_of(snapshot.variants, snapshot.measurements)
    facts = summary_facts(results, objectives, constraints)
    confirmation = _confirmation(snapshot, objectives, constraints)
    if confirmation is not None:
        facts = confirmed_facts(facts, confirmation)  # the finalists' rounds decide, as the run did
    bests = confirmed_ranking(best_per_config(results, objectives, constraints), confirmation)
    by_name = {v.name: v for v in snapshot.variants}
    hardware = _hardware(run.hardware)

    configs = []
    palette = iter(PALETTE * (len(bests) // len(PALETTE) + 1))
    rank = 0
    for best in bests:
        variant = by_name[best.config.name]
        usable = best.best is not None
        rank += usable
        color = DEFAULT_COLOR if variant.is_default else next(palette)
        configs.append(
            _config_summary(
                variant,
                best.config.measurements,
                best.best,
                rank if usable else None,
                best.outcome.feasible,
                color,
                constraints,
                len(hardware.gpus),
                snapshot.config_texts.get(variant.name),
                tuple(r.measurement for r in sorted(snapshot.repeats.get(variant.id, ()), key=lambda r: r.repeat)),
            )
        )
    top = tuple(c.name for c in configs if c.rank is not None)[: settings.top_n]
    shared = _sharing(bests, facts.best_name, by_name)
    count = facts.measurements  # the confirm rounds included
    partial = run.status is not RunStatus.COMPLETE
    return ReportData(
        model_name=run.model_name,
        run_id=run.id,
        run_status=run.status,
        partial=partial,
        partial_message=_partial_message(run.status, count) if partial else None,
        created_at=run.created_at,
        hardware=hardware,
        goals=_goals(objectives, constraints, settings),
        facts=facts,
        sentence=f"{summary_sentence(facts)} {shared}" if shared else summary_sentence(facts),
        gain_percent=facts.gain_percent,
        best_name=facts.best_name,
        default_name=facts.default_name,
        configs=tuple(configs),
        top=top,
        pareto=_pareto(configs, constraints),
        pareto_metrics=PARETO_METRICS,
        memory_metric=_memory_metric(configs),
        measurement_count=count,
        pipeline=None if shared else _pipeline(configs, facts.best_name, by_name),
        concurrent=bool(shared),
    )


def _sharing(bests: Sequence[ConfigBest], best_name: str | None, variants: Mapping[str, VariantRecord]) -> str:
    """How models profiled concurrently share the machine at the pick (its measurement holds each
    model's metrics); "" for any other run."""
    best = next((b for b in bests if b.config.name == best_name), None)
    if best is None or best.best is None or not any(parse_model_metric(m) for m in best.best.metrics):
        return ""
    return sharing_sentence(variants[best.config.name].serving, best.best.metrics)


def _pipeline(
    configs: Sequence[ConfigSummary], best_name: str | None, variants: Mapping[str, VariantRecord]
) -> Pipeline | None:
    """An ensemble's best configuration's steps at its best load point, the median of its
    measurements there (the search's and the confirm rounds'); None for other models."""
    best = next((c for c in configs if c.name == best_name), None)
    if best is None or best.best is None or not variants[best.name].serving.steps:
        return None
    at_best = [p.metrics for p in (best.best, *best.rounds) if p.usable and p.load_label == best.best.load_label]
    pipeline = pipeline_of(best.name, best.best.load_label, variants[best.name].serving, median_metrics(at_best))
    return dataclasses.replace(pipeline, measurements=len(at_best))


def _confirmation(snapshot: RunSnapshot, objectives: Objectives, constraints: Constraints) -> ConfirmResult | None:
    """The confirm step's decision from its stored rounds, raced again as the run raced them."""
    finalists = [
        Finalist(
            v.name,
            tuple(r.measurement for r in sorted(snapshot.repeats[v.id], key=lambda r: r.repeat)),
            serving_cost(v.serving),
            v.is_default,
        )
        for v in snapshot.variants
        if snapshot.repeats.get(v.id)
    ]
    if len(finalists) < 2:
        return None
    load = finalists[0].rounds[0].load
    return decide(race(finalists, objectives, constraints), load, objectives, constraints)


def _partial_message(status: RunStatus, count: int) -> str:
    noun = "measurement" if count == 1 else "measurements"
    if status is RunStatus.RUNNING:
        return f"Partial results: the run was interrupted after {count} {noun} (or is still running)."
    return f"Partial results: the run was interrupted after {count} {noun} (status: {status})."


def _goals(objectives: Objectives, constraints: Constraints, settings: ReportSettings) -> Goals:
    return Goals(
        objectives=dict(objectives.weights),
        objective_text=objective_phrase(objectives),
        constraints=tuple(ConstraintSummary(b.metric, b.min, b.max) for b in constraints.bounds),
        constraints_text=constraints.describe() or "none",
        mode=settings.mode,
        top_n=settings.top_n,
    )


def _hardware(data: Mapping[str, Any]) -> HardwareSummary:
    gpus = tuple(
        GpuSummary(
            name=str(g.get("name", "GPU")),
            uuid=str(g.get("uuid", "")),
            memory_mb=float(g.get("memory_total_bytes", 0)) / 2**20,
        )
        for g in data.get("gpus") or ()
    )
    return HardwareSummary(
        cpu_model=str(data.get("cpu_model") or "unknown CPU"),
        cpu_cores_physical=int(data.get("cpu_cores_physical") or 0),
        cpu_cores_logical=int(data.get("cpu_cores_logical") or 0),
        memory_mb=float(data.get("memory_total_bytes") or 0) / 2**20,
        gpus=gpus,
    )


def _point(measurement: Measurement, constraints: Constraints) -> Point:
    usable = measurement.status is not MeasurementStatus.FAILED
    return Point(
        load_mode=measurement.load.mode,
        load_value=float(measurement.load.value),
        batch_size=measurement.load.batch_size,
        status=measurement.status,
        metrics={k: v for k, v in measurement.metrics.items() if math.isfinite(v)},
        satisfies=usable and constraints.satisfied(measurement.metrics),
        error=measurement.error,
        client_bound=measurement.client_bound,
        warnings=tuple(measurement.warnings),
    )


def _config_summary(
    variant: VariantRecord,
    measurements: Sequence[Measurement],
    best: Measurement | None,
    rank: int | None,
    feasible: bool,
    color: str,
    constraints: Constraints,
    gpu_count: int,
    config_text: str | None,
    rounds: Sequence[Measurement] = (),
) -> ConfigSummary:
    serving = variant.serving
    ordered = sorted(measurements, key=lambda m: (m.load.mode.value, m.load.batch_size, m.load.value))
    points = tuple(_point(m, constraints) for m in ordered)
    best_point = points[ordered.index(best)] if best is not None else None
    kind = serving.instance_kind.removeprefix("KIND_")
    # Model Analyzer counts a GPU group once per GPU it runs on.
    total = serving.instance_count * (max(gpu_count, 1) if kind == "GPU" else 1)
    group = f"{total}:{kind}"
    if serving.steps:  # an ensemble's: each step's group, in step order ("2:CPU/1:CPU")
        group = "/".join(f"{s.instances}:{s.kind}" for s in step_knobs_of(serving))
        if serving.instance_count > 1:  # a BLS model's own instances, before its steps'
            group = f"{serving.instance_count}:{kind}+{group}"
    if config_text is not None:
        text, source = config_text, "output model repository"
    else:
        text, source = _render_config(variant)
    batching = serving.dynamic_batching
    return ConfigSummary(
        name=variant.name,
        rank=rank,
        is_default=variant.is_default,
        status=variant.status,
        error=variant.error,
        color=color,
        max_batch_size=serving.max_batch_size,
        dynamic_batching=batching is not None and serving.max_batch_size > 0,
        max_queue_delay_us=batching.max_queue_delay_us if batching is not None else None,
        preferred_batch_sizes=tuple(batching.preferred_batch_sizes) if batching is not None else (),
        instance_count=serving.instance_count,
        instance_kind=serving.instance_kind,
        instance_group=group,
        runtime=serving.runner.runtime,
        execution_providers=tuple(serving.runner.execution_providers),
        params=dict(variant.params),
        points=points,
        best=best_point,
        feasible=feasible and best_point is not None,
        config_pbtxt=text,
        config_pbtxt_source=source,
        load_time_s=variant.load_time_s,
        warmup_s=variant.warmup_s,
        rounds=tuple(_point(m, constraints) for m in rounds),
        steps_text=describe_steps(serving),
        steps=step_knobs_of(serving),
    )


def _render_config(variant: VariantRecord) -> tuple[str, str]:
    """The serving part of config.pbtxt, from the stored ServingConfig.

    The stored record has no tensor signature, so inputs and outputs are left out; the file the
    profile run wrote to the output model repository is preferred whenever it exists.
    """
    # Imported here: it loads onnx and protobuf, which only a variant without its file needs.
    from tritune.triton.model_config import serving_model_config, to_pbtxt

    try:
        config = serving_model_config(variant.name, variant.serving)
    except (ValueError, TypeError) as error:  # a config the protobuf schema rejects must not sink the whole report
        return f"# config.pbtxt unavailable: {error}\n", "unavailable"
    note = "# Rendered from the run store: the output model repository has no config.pbtxt for this\n"
    note += "# variant, so its inputs and outputs are not shown.\n"
    return note + to_pbtxt(config), "rendered from the store"


def _pareto(configs: Sequence[ConfigSummary], constraints: Constraints) -> tuple[ParetoPoint, ...]:
    items = [(c.name, p) for c in configs for p in c.points if p.usable]
    front = pareto_front(items, list(PARETO_METRICS), constraints, metrics=lambda item: item[1].metrics)
    x_metric, y_metric = PARETO_METRICS
    points = [ParetoPoint(name, p.load_label, p.metrics[x_metric], p.metrics[y_metric]) for name, p in front]
    return tuple(sorted(points, key=lambda p: (p.x, p.y)))


def _memory_metric(configs: Sequence[ConfigSummary]) -> str | None:
    """GPU memory when any was used (a GPU run), else RAM, else nothing to plot."""
    points = [p for c in configs for p in c.points]
    if any((p.get(GPU_USED_MEMORY) or 0) > 0 for p in points):
        return GPU_USED_MEMORY
    if any(p.get(CPU_USED_RAM) is not None for p in points):
        return CPU_USED_RAM
    return None
