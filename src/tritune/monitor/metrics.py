"""Triton's Prometheus endpoint (fetched through ``triton.http_api``), parsed with
prometheus_client's parser.

perf_analyzer's ``--collect-metrics`` reads ``nv_gpu_utilization``, ``nv_gpu_power_usage``,
``nv_gpu_memory_used_bytes`` and ``nv_gpu_memory_total_bytes`` per GPU and, over the stable
windows, averages utilization and power and takes the maximum of used memory; the CPU
gauges (``nv_cpu_utilization``, ``nv_cpu_memory_used_bytes``) are treated the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from tritune.domain.connection import Connection
from tritune.triton.http_api import PLAIN, TritonHttpError, metrics_text

GPU_GAUGES = (
    "nv_gpu_utilization",
    "nv_gpu_power_usage",
    "nv_gpu_memory_used_bytes",
    "nv_gpu_memory_total_bytes",
)
CPU_GAUGES = ("nv_cpu_utilization", "nv_cpu_memory_used_bytes", "nv_cpu_memory_total_bytes")


@dataclass(frozen=True)
class MetricsSample:
    """One scrape: gauge name -> {gpu uuid (or "" for host-wide gauges): value}."""

    time_ns: int
    gauges: dict[str, dict[str, float]] = field(default_factory=dict)
    error: str | None = None

    def value(self, name: str, key: str = "") -> float | None:
        return self.gauges.get(name, {}).get(key)


def parse_metrics(text: str, time_ns: int = 0) -> MetricsSample:
    wanted = set(GPU_GAUGES) | set(CPU_GAUGES)
    gauges: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in wanted:
                key = sample.labels.get("gpu_uuid", "")
                gauges.setdefault(sample.name, {})[key] = float(sample.value)
    return MetricsSample(time_ns, gauges)


def scrape_metrics(url: str, time_ns: int = 0, timeout_s: float = 2.0, connection: Connection = PLAIN) -> MetricsSample:
    """Never raises: a failed scrape is a sample with ``error`` set."""
    try:
        text = metrics_text(url, timeout_s, connection)
    except TritonHttpError as error:
        return MetricsSample(time_ns, error=f"metrics scrape of {url} failed: {error.reason}")
    try:
        return parse_metrics(text, time_ns)
    except ValueError as error:
        return MetricsSample(time_ns, error=f"cannot parse metrics from {url}: {error}")


@dataclass(frozen=True)
class MetricsSummary:
    """Over the kept windows: per GPU uuid, average utilization (0-1 as Triton reports it)
    and power (W), maximum used memory (bytes), total memory; host CPU the same way."""

    gpu_utilization: dict[str, float] = field(default_factory=dict)
    gpu_power_usage: dict[str, float] = field(default_factory=dict)
    gpu_memory_used_bytes: dict[str, float] = field(default_factory=dict)
    gpu_memory_total_bytes: dict[str, float] = field(default_factory=dict)
    cpu_utilization: float | None = None
    cpu_memory_used_bytes: float | None = None
    samples: int = 0

    @property
    def has_gpu(self) -> bool:
        return bool(self.gpu_utilization or self.gpu_memory_used_bytes)


def _per_key(samples: Sequence[MetricsSample], name: str) -> dict[str, list[float]]:
    values: dict[str, list[float]] = {}
    for sample in samples:
        for key, value in sample.gauges.get(name, {}).items():
            values.setdefault(key, []).append(value)
    return values


def summarize_metrics(samples: Sequence[MetricsSample]) -> MetricsSummary:
    good = [s for s in samples if s.error is None]

    def mean(name: str) -> dict[str, float]:
        return {k: sum(v) / len(v) for k, v in _per_key(good, name).items()}

    def peak(name: str) -> dict[str, float]:
        return {k: max(v) for k, v in _per_key(good, name).items()}

    cpu_util = mean("nv_cpu_utilization").get("")
    cpu_mem = peak("nv_cpu_memory_used_bytes").get("")
    return MetricsSummary(
        gpu_utilization=mean("nv_gpu_utilization"),
        gpu_power_usage=mean("nv_gpu_power_usage"),
        gpu_memory_used_bytes=peak("nv_gpu_memory_used_bytes"),
        gpu_memory_total_bytes=peak("nv_gpu_memory_total_bytes"),
        cpu_utilization=cpu_util,
        cpu_memory_used_bytes=cpu_mem,
        samples=len(good),
    )
