"""Human names of metrics, as Model Analyzer prints them (its CSV headers are its users' API)."""

from __future__ import annotations

# metric -> (Model Analyzer's header, short axis label). The headers are MA's
# ``record.header()`` strings: scripts written against MA's CSVs index columns by them.
_METRICS: dict[str, tuple[str, str]] = {
    "perf_throughput": ("Throughput (infer/sec)", "Throughput (infer/sec)"),
    "perf_latency_avg": ("Avg Latency (ms)", "Avg latency (ms)"),
    "perf_latency_p50": ("p50 Latency (ms)", "p50 latency (ms)"),
    "perf_latency_p90": ("p90 Latency (ms)", "p90 latency (ms)"),
    "perf_latency_p95": ("p95 Latency (ms)", "p95 latency (ms)"),
    "perf_latency_p99": ("p99 Latency (ms)", "p99 latency (ms)"),
    "perf_server_queue": ("Server Queue (ms)", "Queue"),
    "perf_server_compute_input": ("Server Compute Input (ms)", "Compute input"),
    "perf_server_compute_infer": ("Server Compute Infer (ms)", "Compute infer"),
    "perf_server_compute_output": ("Server Compute Output (ms)", "Compute output"),
    "perf_client_send_recv": ("Client Send/Recv (ms)", "Client send/recv"),
    "perf_client_response_wait": ("Client Response Wait (ms)", "Client response wait"),
    "cpu_used_ram": ("RAM Usage (MB)", "RAM usage (MB)"),
    "gpu_used_memory": ("GPU Memory Usage (MB)", "GPU memory (MB)"),
    "gpu_utilization": ("GPU Utilization (%)", "GPU utilization (%)"),
    "gpu_power_usage": ("GPU Power Usage (W)", "GPU power (W)"),
}

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
)


def header(metric: str) -> str:
    """Model Analyzer's column header for ``metric`` (the metric name itself when MA has none)."""
    return _METRICS.get(metric, (metric, metric))[0]


def axis_label(metric: str) -> str:
    return _METRICS.get(metric, (metric, metric))[1]
