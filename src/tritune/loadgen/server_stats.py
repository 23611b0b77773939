"""Server-side latency breakdown from Triton's statistics extension (pure: the statistics
are fetched by ``loadgen.observer`` through ``triton.http_api``).

perf_analyzer snapshots the cumulative statistics at window edges and reports, per
component, delta(ns) / delta(count) between the first and last snapshot of the kept windows.
Server counts include requests outside the client's windows, so the split is approximate
in the same way perf_analyzer's is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

COMPONENTS = (
    "success",
    "fail",
    "queue",
    "compute_input",
    "compute_infer",
    "compute_output",
    "cache_hit",
    "cache_miss",
)


@dataclass(frozen=True)
class StatsSnapshot:
    """Cumulative counters of one model: component -> (count, ns), plus executions."""

    time_ns: int
    counters: Mapping[str, tuple[int, int]]
    execution_count: int = 0
    inference_count: int = 0
    batch_executions: Mapping[int, int] = field(default_factory=dict)  # batch size -> executions


def parse_model_stats(document: Mapping[str, Any], model: str, time_ns: int = 0) -> StatsSnapshot | None:
    """From the JSON of ``GET v2/models/<model>/stats`` (all versions of the model summed)."""
    counters: dict[str, list[int]] = {c: [0, 0] for c in COMPONENTS}
    executions = inferences = 0
    batches: dict[int, int] = {}
    found = False
    for entry in document.get("model_stats", []):
        if entry.get("name") != model:
            continue
        found = True
        stats = entry.get("inference_stats", {})
        for component in COMPONENTS:
            part = stats.get(component, {})
            counters[component][0] += int(part.get("count", 0))
            counters[component][1] += int(part.get("ns", 0))
        executions += int(entry.get("execution_count", 0))
        inferences += int(entry.get("inference_count", 0))
        for batch in entry.get("batch_stats", []):
            # One compute_infer per execution of that batch size.
            size, count = int(batch.get("batch_size", 0)), int(batch.get("compute_infer", {}).get("count", 0))
            batches[size] = batches.get(size, 0) + count
    if not found:
        return None
    return StatsSnapshot(time_ns, {k: (v[0], v[1]) for k, v in counters.items()}, executions, inferences, batches)


@dataclass(frozen=True)
class ServerBreakdown:
    """Average ns per request for each part of the server's time, between two snapshots."""

    requests: int  # successful requests the server finished in between
    executions: int  # model executions (batches) in between
    inferences: int
    queue_ns: float
    compute_input_ns: float
    compute_infer_ns: float
    compute_output_ns: float
    request_ns: float  # the server's whole time per successful request
    failed: int = 0
    batch_executions: Mapping[int, int] = field(default_factory=dict)  # batch size -> executions in between

    @property
    def overhead_ns(self) -> float:
        """Server time outside queue and compute (perf_analyzer's "overhead")."""
        compute = self.compute_input_ns + self.compute_infer_ns + self.compute_output_ns
        return max(0.0, self.request_ns - self.queue_ns - compute)

    @property
    def average_batch(self) -> float:
        return self.inferences / self.executions if self.executions else 0.0


def breakdown(first: StatsSnapshot, last: StatsSnapshot) -> ServerBreakdown:
    def average(component: str) -> float:
        count = last.counters[component][0] - first.counters[component][0]
        ns = last.counters[component][1] - first.counters[component][1]
        return ns / count if count > 0 else 0.0

    return ServerBreakdown(
        requests=last.counters["success"][0] - first.counters["success"][0],
        executions=last.execution_count - first.execution_count,
        inferences=last.inference_count - first.inference_count,
        queue_ns=average("queue"),
        compute_input_ns=average("compute_input"),
        compute_infer_ns=average("compute_infer"),
        compute_output_ns=average("compute_output"),
        request_ns=average("success"),
        failed=last.counters["fail"][0] - first.counters["fail"][0],
        batch_executions={
            size: delta
            for size, count in sorted(last.batch_executions.items())
            if (delta := count - first.batch_executions.get(size, 0)) > 0
        },
    )


def step_breakdowns(
    first: Mapping[str, StatsSnapshot], last: Mapping[str, StatsSnapshot], steps: tuple[str, ...]
) -> tuple[tuple[str, ServerBreakdown], ...]:
    """An ensemble's composing models' breakdowns between two snapshots of each (a step missing
    from either is left out)."""
    return tuple((s, breakdown(first[s], last[s])) for s in steps if s in first and s in last)


def step_times_ns(
    ensemble: ServerBreakdown, steps: tuple[tuple[str, ServerBreakdown], ...]
) -> dict[tuple[str, str], float]:
    """Each step's time per request of the ensemble, in ns, by (composing model, part): its whole time
    (``request``: queue, compute and the rest of the server's time for it) and its queue and
    compute parts: its own average, times the runs per ensemble request (a model that serves two
    steps counts twice)."""
    times: dict[tuple[str, str], float] = {}
    for name, step in steps:
        # A step runs a whole number of times per request (requests in flight at the window's
        # edges make the counts differ by a few).
        per_request = max(1, round(step.requests / ensemble.requests)) if ensemble.requests else 0
        compute = step.compute_input_ns + step.compute_infer_ns + step.compute_output_ns
        times[name, "request"] = step.request_ns * per_request
        times[name, "queue"] = step.queue_ns * per_request
        times[name, "compute"] = compute * per_request
    return times
