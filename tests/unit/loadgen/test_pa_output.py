"""perf_analyzer's CSV layout: the GPU columns of its verbose CSV appear only with GPU metrics."""

from __future__ import annotations

import csv
import io

from tritune.domain.measurement import MeasurementStatus
from tritune.loadgen.pa_output import VERBOSE_GPU, to_csv
from tritune.loadgen.result import PerfResult
from tritune.loadgen.spec import LoadSpec
from tritune.monitor.metrics import MetricsSummary


def _result(concurrency: int, metrics: MetricsSummary | None) -> PerfResult:
    return PerfResult("m", LoadSpec.concurrency(concurrency), MeasurementStatus.FAILED, metrics=metrics)


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_verbose_csv_carries_gpu_metrics_per_uuid() -> None:
    gpu = MetricsSummary(
        gpu_utilization={"GPU-b": 0.25, "GPU-a": 0.5},
        gpu_power_usage={"GPU-a": 120.5, "GPU-b": 80.0},
        gpu_memory_used_bytes={"GPU-a": 1024.0, "GPU-b": 0.0},
        gpu_memory_total_bytes={"GPU-a": 4096.0, "GPU-b": 4096.0},
    )
    rows = _rows(to_csv([_result(1, gpu)], verbose=True))
    assert rows[0]["Avg GPU Utilization"] == "GPU-a:0.5;GPU-b:0.25;"
    assert rows[0]["Avg GPU Power Usage"] == "GPU-a:120.5;GPU-b:80;"
    assert rows[0]["Max GPU Memory Usage"] == "GPU-a:1024;GPU-b:0;"
    assert rows[0]["Total GPU Memory"] == "GPU-a:4096;GPU-b:4096;"


def test_no_gpu_columns_on_a_cpu_host_or_without_verbose() -> None:
    cpu_only = MetricsSummary(cpu_utilization=0.5)
    header = to_csv([_result(1, cpu_only), _result(2, None)], verbose=True).splitlines()[0].split(",")
    assert not set(VERBOSE_GPU) & set(header)
    assert header[-1] == "response wait"
    gpu = MetricsSummary(gpu_utilization={"GPU-a": 0.5})
    assert "Avg GPU Utilization" not in to_csv([_result(1, gpu)]).splitlines()[0]


def test_a_level_without_metrics_gets_empty_gpu_cells() -> None:
    gpu = MetricsSummary(gpu_utilization={"GPU-a": 0.5})
    rows = _rows(to_csv([_result(1, gpu), _result(2, None)], verbose=True))
    assert sorted(row["Avg GPU Utilization"] for row in rows) == ["", "GPU-a:0.5;"]
