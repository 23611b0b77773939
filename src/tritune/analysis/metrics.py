"""Which way is better for each metric (Model Analyzer's names; see domain/measurement.py)."""

from __future__ import annotations

from enum import IntEnum

from tritune.errors import UsageError


class Direction(IntEnum):
    MINIMIZE = -1
    MAXIMIZE = 1


_MAXIMIZE = {
    "perf_throughput",
    "output_token_throughput",
    "gpu_free_memory",
    "cpu_free_ram",
    "cpu_available_ram",
    "gpu_utilization",  # MA treats utilization as "more is better"
}
_MINIMIZE_EXACT = {
    "gpu_used_memory",
    "gpu_total_memory",
    "gpu_power_usage",
    "cpu_used_ram",
    "perf_client_send_recv",
    "perf_client_response_wait",
    "perf_server_queue",
    "perf_server_compute_input",
    "perf_server_compute_infer",
    "perf_server_compute_output",
}
# Every latency flavour (avg, p50..p99) of every latency family.
_MINIMIZE_PREFIXES = ("perf_latency", "time_to_first_token", "inter_token_latency")

LATENCY_PREFIXES = ("perf_latency",)

UNITS = {"perf_throughput": "infer/sec", "gpu_used_memory": "MB", "cpu_used_ram": "MB"}


def direction(metric: str) -> Direction:
    """The direction of a known metric.

    Raises:
        UsageError: the metric is not one tritune measures (with the list of known prefixes).
    """
    if metric in _MAXIMIZE:
        return Direction.MAXIMIZE
    if metric in _MINIMIZE_EXACT or metric.startswith(_MINIMIZE_PREFIXES):
        return Direction.MINIMIZE
    raise UsageError(f"unknown metric {metric!r}: use one of {', '.join(sorted(known_metrics()))}")


def is_known(metric: str) -> bool:
    try:
        direction(metric)
    except UsageError:
        return False
    return True


def known_metrics() -> set[str]:
    latency = {f"perf_latency_{s}" for s in ("avg", "p50", "p90", "p95", "p99")} | {"perf_latency"}
    return _MAXIMIZE | _MINIMIZE_EXACT | latency


def is_latency(metric: str) -> bool:
    """Latency metrics grow with load, so a load sweep may stop once they exceed a budget."""
    return metric.startswith(LATENCY_PREFIXES)
