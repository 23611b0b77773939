"""An ensemble's pipeline as reports show it: each step (composing model) with its knobs and its
share of the ensemble's latency, from the step metrics of a measurement (Triton's per-model
statistics, see ``loadgen.server_stats.step_times_ns``). Pure."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tritune.domain.metrics import LATENCY_AVG, SERVER_REQUEST, step_metric
from tritune.domain.serving import ServingConfig


@dataclass(frozen=True)
class StepKnobs:
    """A composing model's searched knobs in a configuration of the ensemble."""

    model: str
    max_batch_size: int
    queue_delay_us: int | None  # None: no dynamic batching
    instances: int
    kind: str  # "CPU" or "GPU"


def step_knobs_of(serving: ServingConfig) -> tuple[StepKnobs, ...]:
    """An ensemble configuration's steps, in order (empty for any other model)."""
    return tuple(
        StepKnobs(
            name,
            step.max_batch_size,
            step.dynamic_batching.max_queue_delay_us if step.dynamic_batching is not None else None,
            step.instance_count,
            step.instance_kind.removeprefix("KIND_"),
        )
        for name, step in serving.steps
    )


@dataclass(frozen=True)
class PipelineStep:
    model: str
    knobs: str  # "2 CPU instances, max batch size 8, dynamic batching off"
    time_ms: float | None  # the step's time per ensemble request (None: not measured)
    queue_ms: float | None
    compute_ms: float | None
    share: float | None  # of the ensemble's server time per request (0..1)


@dataclass(frozen=True)
class Pipeline:
    """The best configuration's pipeline at its best load point."""

    config: str
    load_label: str
    steps: tuple[PipelineStep, ...]
    server_ms: float | None  # the ensemble's whole server time per request (Triton's)
    client_ms: float | None  # the client's average latency (server time plus the way there and back)
    measurements: int = 1  # how many measurements at that load point the figures are the median of

    @property
    def steps_ms(self) -> float | None:
        times = [s.time_ms for s in self.steps]
        return None if any(t is None for t in times) else sum(t for t in times if t is not None)

    @property
    def between_steps_ms(self) -> float | None:
        """The ensemble's own time: passing tensors from step to step (server time not in a step;
        0 where requests in flight at the window's edges make the steps add up past it)."""
        steps = self.steps_ms
        return None if steps is None or self.server_ms is None else max(0.0, self.server_ms - steps)


def step_knobs(serving: ServingConfig) -> str:
    """A composing model's searched knobs in words."""
    kind = serving.instance_kind.removeprefix("KIND_")
    plural = "s" if serving.instance_count != 1 else ""
    batching = serving.dynamic_batching
    dynamic = "off" if batching is None else f"on, queue delay {batching.max_queue_delay_us} µs"
    return (
        f"{serving.instance_count} {kind} instance{plural}, max batch size {serving.max_batch_size}, "
        f"dynamic batching {dynamic}"
    )


def describe_steps(serving: ServingConfig) -> str:
    """An ensemble's configuration in one line: each step's knobs (a BLS model's own instances
    first, where it runs more than one)."""
    if not serving.steps:
        return ""
    own = [f"itself: {serving.instance_count} instances"] if serving.instance_count > 1 else []
    return "; ".join([*own, *(f"{name}: {step_knobs(step)}" for name, step in serving.steps)])


def pipeline_of(config: str, load_label: str, serving: ServingConfig, metrics: Mapping[str, float]) -> Pipeline:
    """The pipeline of an ensemble configuration (``serving.steps``) from one measurement's metrics."""
    server = metrics.get(SERVER_REQUEST)

    def step(name: str, knobs: ServingConfig) -> PipelineStep:
        time = metrics.get(step_metric(name, "request"))
        share = time / server if time is not None and server else None
        queue, compute = metrics.get(step_metric(name, "queue")), metrics.get(step_metric(name, "compute"))
        return PipelineStep(name, step_knobs(knobs), time, queue, compute, share)

    steps = tuple(step(name, knobs) for name, knobs in serving.steps)
    return Pipeline(config, load_label, steps, server, metrics.get(LATENCY_AVG))


def median_metrics(measurements: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Each metric's median over the measurements that have it (one noisy window edge moves a
    step's share of one measurement; the median of several does not follow it)."""
    names = dict.fromkeys(name for metrics in measurements for name in metrics)
    return {name: statistics.median(m[name] for m in measurements if name in m) for name in names}
