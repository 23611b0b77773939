"""The metric vocabulary: one table of every metric tritune measures or understands.

Names, units and headers are Model Analyzer's, so its users recognise them and scripts written
against its CSVs keep working. Everything that needs to know about a metric (which way is better,
its unit, the CSV header, the axis label) reads this table: the load generator writes these names,
the analysis ranks by their direction, the store keeps them as they are, the reports label them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from tritune.errors import UsageError


class Direction(IntEnum):
    MINIMIZE = -1
    MAXIMIZE = 1


class Combine(StrEnum):
    """How one metric's readings of several parts (models served together, a server's GPUs) make
    one reading of the whole."""

    NONE = "none"  # not combined: each part's own (a server-time breakdown)
    SUM = "sum"  # the parts add up: throughput, memory, power
    WORST = "worst"  # the worst part speaks for all: a latency
    MEAN = "mean"  # the parts' average: a utilization


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    direction: Direction
    header: str  # Model Analyzer's ``record.header()``: scripts index its CSV columns by it
    label: str  # a short axis label
    combine: Combine = Combine.NONE
    # A reading of the whole host (its GPUs, its other processes), not of one model: models
    # measured together each see the same one, so it is taken once.
    machine: bool = False


# The names, as every module writes them (Model Analyzer's, but where said otherwise).
THROUGHPUT = "perf_throughput"
LATENCY = "perf_latency"  # Model Analyzer's alias of p99; also the prefix of every latency
LATENCY_AVG = "perf_latency_avg"
LATENCY_STD = "perf_latency_std"  # not Model Analyzer's
THROUGHPUT_SPREAD = "perf_throughput_spread"  # not Model Analyzer's
LATENCY_P50 = "perf_latency_p50"
LATENCY_P90 = "perf_latency_p90"
LATENCY_P95 = "perf_latency_p95"
LATENCY_P99 = "perf_latency_p99"
SERVER_QUEUE = "perf_server_queue"
SERVER_COMPUTE_INPUT = "perf_server_compute_input"
SERVER_COMPUTE_INFER = "perf_server_compute_infer"
SERVER_COMPUTE_OUTPUT = "perf_server_compute_output"
SERVER_REQUEST = "perf_server_request"
CLIENT_SEND_RECV = "perf_client_send_recv"
CLIENT_RESPONSE_WAIT = "perf_client_response_wait"
CPU_USED_RAM = "cpu_used_ram"
CPU_FREE_RAM = "cpu_free_ram"
CPU_AVAILABLE_RAM = "cpu_available_ram"
GPU_USED_MEMORY = "gpu_used_memory"
GPU_FREE_MEMORY = "gpu_free_memory"
GPU_TOTAL_MEMORY = "gpu_total_memory"
GPU_UTILIZATION = "gpu_utilization"
GPU_POWER_USAGE = "gpu_power_usage"
HOST_OTHER_CPU = "host_other_cpu"
OUTPUT_TOKEN_THROUGHPUT = "output_token_throughput"
WEIGHTED_THROUGHPUT = "weighted_throughput"

_MAX, _MIN = Direction.MAXIMIZE, Direction.MINIMIZE
_SUM, _WORST, _MEAN = Combine.SUM, Combine.WORST, Combine.MEAN

METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(THROUGHPUT, "infer/sec", _MAX, "Throughput (infer/sec)", "Throughput (infer/sec)", _SUM),
        Metric(LATENCY_AVG, "ms", _MIN, "Avg Latency (ms)", "Avg latency (ms)", _WORST),
        Metric(LATENCY_P50, "ms", _MIN, "p50 Latency (ms)", "p50 latency (ms)", _WORST),
        Metric(LATENCY_P90, "ms", _MIN, "p90 Latency (ms)", "p90 latency (ms)", _WORST),
        Metric(LATENCY_P95, "ms", _MIN, "p95 Latency (ms)", "p95 latency (ms)", _WORST),
        Metric(LATENCY_P99, "ms", _MIN, "p99 Latency (ms)", "p99 latency (ms)", _WORST),
        Metric(LATENCY, "ms", _MIN, "p99 Latency (ms)", "latency (ms)", _WORST),  # MA's alias of p99
        # Not Model Analyzer's: the spread of the request latencies around their average.
        Metric(LATENCY_STD, "ms", _MIN, "Latency Std (ms)", "Latency std (ms)"),
        # Not Model Analyzer's: how far the kept windows' throughputs lie apart, (max - min) / mean:
        # the noise of this measurement, measured (the search stops where gains fall within it).
        Metric(THROUGHPUT_SPREAD, "%", _MIN, "Throughput Spread (%)", "Throughput spread (%)", _WORST),
        Metric(SERVER_QUEUE, "ms", _MIN, "Server Queue (ms)", "Queue"),
        Metric(SERVER_COMPUTE_INPUT, "ms", _MIN, "Server Compute Input (ms)", "Compute input"),
        Metric(SERVER_COMPUTE_INFER, "ms", _MIN, "Server Compute Infer (ms)", "Compute infer"),
        Metric(SERVER_COMPUTE_OUTPUT, "ms", _MIN, "Server Compute Output (ms)", "Compute output"),
        Metric(CLIENT_SEND_RECV, "ms", _MIN, "Client Send/Recv (ms)", "Client send/recv"),
        Metric(CLIENT_RESPONSE_WAIT, "ms", _MIN, "Client Response Wait (ms)", "Client response wait"),
        Metric(CPU_USED_RAM, "MB", _MIN, "RAM Usage (MB)", "RAM usage (MB)", _SUM),
        Metric(CPU_FREE_RAM, "MB", _MAX, "RAM Free (MB)", "RAM free (MB)", machine=True),
        Metric(CPU_AVAILABLE_RAM, "MB", _MAX, "RAM Available (MB)", "RAM available (MB)", machine=True),
        Metric(GPU_USED_MEMORY, "MB", _MIN, "GPU Memory Usage (MB)", "GPU memory (MB)", _SUM),
        Metric(GPU_FREE_MEMORY, "MB", _MAX, "GPU Free Memory (MB)", "GPU free memory (MB)", _SUM, machine=True),
        Metric(GPU_TOTAL_MEMORY, "MB", _MIN, "GPU Total Memory (MB)", "GPU total memory (MB)", _SUM, machine=True),
        # Model Analyzer treats utilization as "more is better".
        Metric(GPU_UTILIZATION, "%", _MAX, "GPU Utilization (%)", "GPU utilization (%)", _MEAN, machine=True),
        Metric(GPU_POWER_USAGE, "W", _MIN, "GPU Power Usage (W)", "GPU power (W)", _SUM, machine=True),
        # Not Model Analyzer's: the server's whole time per request (Triton's success duration),
        # written for an ensemble, whose steps' times (step metrics below) add up to it.
        Metric(SERVER_REQUEST, "ms", _MIN, "Server Request (ms)", "Server time per request (ms)"),
        # Not Model Analyzer's: CPU that processes other than the server, its stubs and tritune
        # took on the cores those run on, in cores (CPU-seconds per second); see host_load.py.
        Metric(
            HOST_OTHER_CPU, "cores", _MIN, "Other Processes CPU (cores)", "Other processes' CPU (cores)", machine=True
        ),
        Metric(
            OUTPUT_TOKEN_THROUGHPUT,
            "tokens/sec",
            _MAX,
            "Output Token Throughput (tokens/sec)",
            "Tokens/sec",
            _SUM,
        ),
        # Not Model Analyzer's: models profiled concurrently, the sum of each model's throughput
        # times its weighting (profile_models.<model>.weighting): the objective of such a run.
        Metric(
            WEIGHTED_THROUGHPUT,
            "infer/sec",
            _MAX,
            "Weighted Throughput (infer/sec)",
            "Weighted throughput (infer/sec)",
        ),
    )
}

# Latency families of LLM profiling: every flavour (avg, p50..p99) of each is a latency to minimize.
_LATENCY_FAMILIES = (LATENCY, "time_to_first_token", "inter_token_latency")

# The stacked latency breakdown of a detailed report, bottom to top (server path first).
LATENCY_BREAKDOWN: tuple[str, ...] = (
    SERVER_QUEUE,
    SERVER_COMPUTE_INPUT,
    SERVER_COMPUTE_INFER,
    SERVER_COMPUTE_OUTPUT,
    CLIENT_SEND_RECV,
)

# Columns of the "every measurement" table, in this order, when measured.
MEASUREMENT_COLUMNS: tuple[str, ...] = (
    THROUGHPUT,
    LATENCY_P50,
    LATENCY_P90,
    LATENCY_P95,
    LATENCY_P99,
    LATENCY_AVG,
    *LATENCY_BREAKDOWN,
    CPU_USED_RAM,
    GPU_USED_MEMORY,
    GPU_UTILIZATION,
    GPU_POWER_USAGE,
    HOST_OTHER_CPU,
)

# What a host reports about its own resources, per model, in the reports' resource plots.
RESOURCE_METRICS: tuple[str, ...] = (GPU_USED_MEMORY, CPU_USED_RAM, GPU_UTILIZATION, GPU_POWER_USAGE)


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
    return (per_model[1] if per_model else name).startswith(LATENCY)


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


def combine(name: str, values: Sequence[float]) -> float:
    """``name``'s readings of several parts as one, by the table's rule for it (a latency's
    worst is its largest, a throughput's its smallest).

    Raises:
        ValueError: no readings, or the table combines ``name`` not (``Combine.NONE``).
    """
    rule = METRICS[name].combine if name in METRICS else Combine.NONE
    if not values or rule is Combine.NONE:
        raise ValueError(f"{name} has no rule to combine {len(values)} readings by")
    if rule is Combine.SUM:
        return sum(values)
    if rule is Combine.MEAN:
        return sum(values) / len(values)
    return max(values) if direction(name) is Direction.MINIMIZE else min(values)
