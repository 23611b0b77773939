import pytest

from tritune.monitor.metrics import parse_metrics, summarize_metrics

TEXT = """# HELP nv_gpu_utilization GPU utilization rate [0.0 - 1.0)
# TYPE nv_gpu_utilization gauge
nv_gpu_utilization{{gpu_uuid="GPU-a"}} {util_a}
nv_gpu_utilization{{gpu_uuid="GPU-b"}} 0.1
# HELP nv_gpu_memory_used_bytes GPU used memory (bytes)
# TYPE nv_gpu_memory_used_bytes gauge
nv_gpu_memory_used_bytes{{gpu_uuid="GPU-a"}} {mem_a}
# HELP nv_gpu_power_usage GPU power usage in watts
# TYPE nv_gpu_power_usage gauge
nv_gpu_power_usage{{gpu_uuid="GPU-a"}} {power_a}
# HELP nv_cpu_utilization CPU utilization rate [0.0 - 1.0]
# TYPE nv_cpu_utilization gauge
nv_cpu_utilization {cpu}
# HELP nv_inference_count Number of inferences performed
# TYPE nv_inference_count counter
nv_inference_count{{model="m",version="1"}} 42
"""


def _sample(util_a: float, mem_a: float, power_a: float, cpu: float, t: int = 0):
    return parse_metrics(TEXT.format(util_a=util_a, mem_a=mem_a, power_a=power_a, cpu=cpu), t)


def test_gauges_are_read_per_gpu():
    sample = _sample(0.5, 1e9, 200.0, 0.25)
    assert sample.value("nv_gpu_utilization", "GPU-a") == 0.5
    assert sample.value("nv_gpu_utilization", "GPU-b") == 0.1
    assert sample.value("nv_cpu_utilization") == 0.25
    assert "nv_inference_count" not in sample.gauges


def test_summary_averages_utilization_and_power_and_takes_peak_memory():
    summary = summarize_metrics([_sample(0.4, 1e9, 100.0, 0.2), _sample(0.8, 3e9, 300.0, 0.4)])
    assert summary.gpu_utilization["GPU-a"] == pytest.approx(0.6)
    assert summary.gpu_power_usage["GPU-a"] == pytest.approx(200.0)
    assert summary.gpu_memory_used_bytes["GPU-a"] == 3e9
    assert summary.cpu_utilization == pytest.approx(0.3)
    assert summary.has_gpu and summary.samples == 2


def test_a_cpu_only_server_has_no_gpu_figures():
    sample = parse_metrics("# TYPE nv_cpu_utilization gauge\nnv_cpu_utilization 0.5\n")
    summary = summarize_metrics([sample])
    assert not summary.has_gpu and summary.cpu_utilization == 0.5
