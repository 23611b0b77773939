"""The metric vocabulary: one table of every metric tritune measures or understands.

Names, units and headers are Model Analyzer's, so its users recognise them and scripts written
against its CSVs keep working. Everything that needs to know about a metric (which way is better,
its unit, the CSV header, the axis label) reads this table: the load generator writes these names,
the analysis ranks by their direction, the store keeps them as they are, the reports label them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from tritune.errors import UsageError


class Direction(IntEnum):
    MINIMIZE = -1
    MAXIMIZE = 1


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    direction: Direction
    header: str  # Model Analyzer's ``record.header()``: scripts index its CSV columns by it
    label: str  # a short axis label


_MAX, _MIN = Direction.MAXIMIZE, Direction.MINIMIZE

METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("perf_throughput", "infer/sec", _MAX, "Throughput (infer/sec)", "Throughput (infer/sec)"),
        Metric("perf_latency_avg", "ms", _MIN, "Avg Latency (ms)", "Avg latency (ms)"),
        Metric("perf_latency_p50", "ms", _MIN, "p50 Latency (ms)", "p50 latency (ms)"),
        Metric("perf_latency_p90", "ms", _MIN, "p90 Latency (ms)", "p90 latency (ms)"),
        Metric("perf_latency_p95", "ms", _MIN, "p95 Latency (ms)", "p95 latency (ms)"),
        Metric("perf_latency_p99", "ms", _MIN, "p99 Latency (ms)", "p99 latency (ms)"),
        Metric("perf_latency", "ms", _MIN, "p99 Latency (ms)", "latency (ms)"),  # MA's alias of p99
        Metric("perf_server_queue", "ms", _MIN, "Server Queue (ms)", "Queue"),
        Metric("perf_server_compute_input", "ms", _MIN, "Server Compute Input (ms)", "Compute input"),
        Metric("perf_server_compute_infer", "ms", _MIN, "Server Compute Infer (ms)", "Compute infer"),
        Metric("perf_server_compute_output", "ms", _MIN, "Server Compute Output (ms)", "Compute output"),
        Metric("perf_client_send_recv", "ms", _MIN, "Client Send/Recv (ms)", "Client send/recv"),
        Metric("perf_client_response_wait", "ms", _MIN, "Client Response Wait (ms)", "Client response wait"),
        Metric("cpu_used_ram", "MB", _MIN, "RAM Usage (MB)", "RAM usage (MB)"),
        Metric("cpu_free_ram", "MB", _MAX, "RAM Free (MB)", "RAM free (MB)"),
        Metric("cpu_available_ram", "MB", _MAX, "RAM Available (MB)", "RAM available (MB)"),
        Metric("gpu_used_memory", "MB", _MIN, "GPU Memory Usage (MB)", "GPU memory (MB)"),
        Metric("gpu_free_memory", "MB", _MAX, "GPU Free Memory (MB)", "GPU free memory (MB)"),
        Metric("gpu_total_memory", "MB", _MIN, "GPU Total Memory (MB)", "GPU total memory (MB)"),
        # Model Analyzer treats utilization as "more is better".
        Metric("gpu_utilization", "%", _MAX, "GPU Utilization (%)", "GPU utilization (%)"),
        Metric("gpu_power_usage", "W", _MIN, "GPU Power Usage (W)", "GPU power (W)"),
        # Not Model Analyzer's: CPU that processes other than the server, its stubs and tritune
        # took on the cores those run on, in cores (CPU-seconds per second); see host_load.py.
        # Not Model Analyzer's: the server's whole time per request (Triton's success duration),
        # written for an ensemble, whose steps' times (step metrics below) add up to it.
        Metric("perf_server_request", "ms", _MIN, "Server Request (ms)", "Server time per request (ms)"),
        Metric("host_other_cpu", "cores", _MIN, "Other Processes CPU (cores)", "Other processes' CPU (cores)"),
        Metric("output_token_throughput", "tokens/sec", _MAX, "Output Token Throughput (tokens/sec)", "Tokens/sec"),
        # Not Model Analyzer's: models profiled concurrently, the sum of each model's throughput
        # times its weighting (profile_models.<model>.weighting): the objective of such a run.
        Metric(
            "weighted_throughput",
            "infer/sec",
            _MAX,
            "Weighted Throughput (infer/sec)",
            "Weighted throughput (infer/sec)",
        ),
    )
}

# Latency families of LLM profiling: every flavour (avg, p50..p99) of each is a latency to minimize.
_LATENCY_FAMILIES = ("perf_latency", "time_to_first_token", "inter_token_latency")

# The stacked latency breakdown of a detailed report, bottom to top (server path first).
LATENCY_BREAKDOWN: tuple[str, ...] = (
    "perf_server_queue",
    "perf_server_compute_input",
    "perf_server_compute_infer",
    "perf_server_compute_output",
    "perf_client_send_recv",
)

# Columns of the "every measurement" table, in this order, when measured.
MEASUREMENT_COLUMNS: tuple[str, ...] = (
    "perf_throughput",
    "perf_latency_p50",
    "perf_latency_p90",
    "perf_latency_p95",
    "perf_latency_p99",
    "perf_latency_avg",
    *LATENCY_BREAKDOWN,
    "cpu_used_ram",
    "gpu_used_memory",
    "gpu_utilization",
    "gpu_power_usage",
    "host_other_cpu",
)

# What a host reports about its own resources, per model, in the reports' resource plots.
RESOURCE_METRICS: tuple[str, ...] = ("gpu_used_memory", "cpu_used_ram", "gpu_utilization", "gpu_power_usage")


# An ensemble's steps, from Triton's statistics of each composing model: ``step:<model>:<part>``,
# the step's time per request ("request": its queue, compute and the rest of the server's time for
# it) and the queue and compute parts of that, in ms.
STEP_PREFIX = "step:"
STEP_PARTS = ("request", "queue", "compute")


def step_metric(step: str, part: str) -> str:
    """The metric name of one part of an ensemble step's time (``part`` in STEP_PARTS)."""
    return f"{STEP_PREFIX}{step}:{part}"


def parse_step_metric(name: str) -> tuple[str, str] | None:
    """(step, part) of a step metric's name, or None for any other metric."""
    if not name.startswith(STEP_PREFIX):
        return None
    step, _, part = name[len(STEP_PREFIX) :].rpartition(":")
    return (step, part) if step and part in STEP_PARTS else None


# Models profiled concurrently: each model's own metrics, ``model:<model>:<metric>`` (any metric
# of the table, e.g. ``model:a:perf_latency_p99``), beside the combined ones.
MODEL_PREFIX = "model:"


def model_metric(model: str, name: str) -> str:
    """The name of one model's ``name`` in a measurement of models served concurrently."""
    return f"{MODEL_PREFIX}{model}:{name}"


def parse_model_metric(name: str) -> tuple[str, str] | None:
    """(model, metric) of a per-model metric's name, or None for any other metric. Model names
    hold no ":" (Triton serves none with it), so the first one after the prefix ends the model."""
    if not name.startswith(MODEL_PREFIX):
        return None
    model, _, base = name[len(MODEL_PREFIX) :].partition(":")
    return (model, base) if model and base else None


def metric(name: str) -> Metric:
    """The table's entry for ``name`` (a latency-family flavour gets a generic entry).

    Raises:
        UsageError: the metric is not one tritune measures (with the list of known ones).
    """
    if name in METRICS:
        return METRICS[name]
    if name.startswith(_LATENCY_FAMILIES):
        return Metric(name, "ms", Direction.MINIMIZE, name, name)
    step = parse_step_metric(name)
    if step is not None:
        return Metric(name, "ms", Direction.MINIMIZE, f"Step {step[0]} {step[1].title()} (ms)", f"{step[0]} {step[1]}")
    per_model = parse_model_metric(name)
    if per_model is not None and is_known(per_model[1]):
        model, base = per_model[0], metric(per_model[1])
        return Metric(name, base.unit, base.direction, f"{model} {base.header}", f"{model} {base.label}")
    raise UsageError(f"unknown metric {name!r}: use one of {', '.join(sorted(METRICS))}")


def direction(name: str) -> Direction:
    return metric(name).direction


def is_known(name: str) -> bool:
    if name in METRICS or name.startswith(_LATENCY_FAMILIES) or parse_step_metric(name) is not None:
        return True
    per_model = parse_model_metric(name)
    return per_model is not None and is_known(per_model[1])


def known_metrics() -> set[str]:
    return set(METRICS)


def is_latency(name: str) -> bool:
    """Latency metrics grow with load, so a load sweep may stop once they exceed a budget (a
    model's own latency among models profiled concurrently too)."""
    per_model = parse_model_metric(name)
    return (per_model[1] if per_model else name).startswith("perf_latency")


def header(name: str) -> str:
    """Model Analyzer's column header for ``name`` (the name itself when MA has none)."""
    entry = METRICS.get(name) or _per_model(name)
    return entry.header if entry else name


def axis_label(name: str) -> str:
    entry = METRICS.get(name) or _per_model(name)
    return entry.label if entry else name


def unit(name: str) -> str:
    entry = METRICS.get(name) or _per_model(name)
    return entry.unit if entry else ""


def _per_model(name: str) -> Metric | None:
    return metric(name) if parse_model_metric(name) is not None and is_known(name) else None
