"""What the server uses while it is measured: Triton's Prometheus metrics, the memory of a
model's Python-backend stub processes (psutil), and their GPU memory (NVML)."""

from tritune.monitor.memory import ModelMemory, model_memory, stub_processes
from tritune.monitor.metrics import (
    MetricsSample,
    MetricsSummary,
    parse_metrics,
    scrape_metrics,
    summarize_metrics,
)

__all__ = [
    "MetricsSample",
    "MetricsSummary",
    "ModelMemory",
    "model_memory",
    "parse_metrics",
    "scrape_metrics",
    "stub_processes",
    "summarize_metrics",
]
