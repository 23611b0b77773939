"""The stored record of one measurement: a variant under one load, and what came of it.

Metrics use Model Analyzer's names and units so its users recognise them:
``perf_throughput`` (infer/sec); ``perf_latency_avg``/``_p50``/``_p90``/``_p95``/``_p99``,
``perf_server_queue``, ``perf_server_compute_input``/``_infer``/``_output``,
``perf_client_send_recv`` (all milliseconds); ``cpu_used_ram``, ``gpu_used_memory`` (MB);
``gpu_utilization`` (percent); ``gpu_power_usage`` (watts); and tritune's own
``host_other_cpu`` (cores other processes took, see ``host_load``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from tritune.domain.status import MeasurementStatus


class LoadMode(StrEnum):
    CONCURRENCY = "concurrency"
    REQUEST_RATE = "request_rate"


@dataclass(frozen=True)
class LoadPoint:
    """The client half of a variant."""

    mode: LoadMode = LoadMode.CONCURRENCY
    value: float = 1  # concurrency, or requests/sec
    batch_size: int = 1

    def label(self) -> str:
        unit = "concurrency" if self.mode is LoadMode.CONCURRENCY else "req/s"
        return f"{unit} {self.value:g}, batch {self.batch_size}"


@dataclass(frozen=True)
class Measurement:
    load: LoadPoint
    status: MeasurementStatus
    metrics: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None  # why it failed or is unstable
    client_bound: bool = False  # the load generator, not the server, limited the result
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status is MeasurementStatus.OK

    def metric(self, name: str) -> float | None:
        return self.metrics.get(name)
