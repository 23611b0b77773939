"""Presenting results the way perf_analyzer does: summary lines, its CSV columns (in usec,
rows sorted by throughput), and a plain dict for ``--json``."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from tritune.loadgen.result import PerfResult

CSV_TAIL = ["p50 latency", "p90 latency", "p95 latency", "p99 latency"]
# The parts of the average latency, in usec; they add up to it (the plain CSV has no average).
CSV_LATENCY_PARTS = [
    "Client Send",
    "Network+Server Send/Recv",
    "Server Queue",
    "Server Compute Input",
    "Server Compute Infer",
    "Server Compute Output",
    "Client Recv",
]
CSV_MIDDLE = ["Inferences/Second", *CSV_LATENCY_PARTS]
VERBOSE_EXTRA = ["Avg latency", "request/response", "response wait"]
# perf_analyzer's verbose CSV with --collect-metrics: per GPU "uuid:value;" in each cell.
VERBOSE_GPU = ["Avg GPU Utilization", "Avg GPU Power Usage", "Max GPU Memory Usage", "Total GPU Memory"]


def _has_gpu_metrics(results: Sequence[PerfResult]) -> bool:
    return any(r.metrics is not None and r.metrics.has_gpu for r in results)


def csv_header(results: Sequence[PerfResult], verbose: bool = False) -> list[str]:
    first = "Request Rate" if results and results[0].load.open_loop else "Concurrency"
    header = [first, *CSV_MIDDLE, *CSV_TAIL]
    if verbose:
        header += VERBOSE_EXTRA + (VERBOSE_GPU if _has_gpu_metrics(results) else [])
    return header


def _per_gpu(values: dict[str, float]) -> str:
    return "".join(f"{uuid}:{value:g};" for uuid, value in sorted(values.items()))


def gpu_cells(result: PerfResult) -> list[str]:
    metrics = result.metrics
    if metrics is None:
        return [""] * len(VERBOSE_GPU)
    return [
        _per_gpu(metrics.gpu_utilization),
        _per_gpu(metrics.gpu_power_usage),
        _per_gpu(metrics.gpu_memory_used_bytes),
        _per_gpu(metrics.gpu_memory_total_bytes),
    ]


def csv_row(result: PerfResult, verbose: bool = False) -> list[str]:
    client, server = result.client, result.server
    us = 1e-3
    avg = client.latency.avg_ns * us if client else 0.0
    send = client.avg_send_ns * us if client else 0.0
    recv = client.avg_recv_ns * us if client else 0.0
    queue = server.queue_ns * us if server else 0.0
    c_in = server.compute_input_ns * us if server else 0.0
    c_inf = server.compute_infer_ns * us if server else 0.0
    c_out = server.compute_output_ns * us if server else 0.0
    # perf_analyzer: what the client waited that the server does not account for, clamped at 0
    network = max(0.0, avg - send - recv - (queue + c_in + c_inf + c_out))
    level = f"{result.load.value:g}" if result.load.open_loop else str(int(result.load.value))
    percentiles = [client.latency.percentile_ns(p) * us if client else 0.0 for p in (50, 90, 95, 99)]
    row = [
        level,
        f"{result.throughput:.6g}",
        *(f"{v:.0f}" for v in (send, network, queue, c_in, c_inf, c_out, recv)),
    ]
    row += [f"{v:.0f}" for v in percentiles]
    if verbose:
        row += [f"{avg:.0f}", f"{send + recv:.0f}", f"{max(0.0, avg - send - recv):.0f}"]
    return row


def to_csv(results: Sequence[PerfResult], verbose: bool = False) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(csv_header(results, verbose))
    with_gpu = verbose and _has_gpu_metrics(results)
    for result in sorted(results, key=lambda r: r.throughput):
        writer.writerow(csv_row(result, verbose) + (gpu_cells(result) if with_gpu else []))
    return buffer.getvalue()


def to_dict(result: PerfResult) -> dict[str, Any]:
    data: dict[str, Any] = {
        "model": result.model,
        "load": {
            "mode": str(result.load.mode),
            "value": result.load.value,
            "batch_size": result.load.batch_size,
            "distribution": str(result.load.distribution),
        },
        "status": str(result.status),
        "reason": result.reason,
        "client_bound": result.client_bound,
        "warnings": list(result.warnings),
        "workers": result.workers,
        "windows": [asdict(w) for w in result.windows],
        "kept_windows": result.kept_windows,
        "metrics": dict(result.to_measurement().metrics),
    }
    if result.client is not None:
        client = asdict(result.client)
        data["client"] = client
    data["server"] = asdict(result.server) if result.server else None
    data["server_metrics"] = asdict(result.metrics) if result.metrics else None
    data["memory"] = asdict(result.memory) if result.memory else None
    return data
