"""Model Analyzer's CSVs: file names, headers and rows from known measurements."""

from __future__ import annotations

import csv
from pathlib import Path

from tritune.report import build_report_data, load_run
from tritune.report.csv_export import csv_tables, gpu_table, inference_table, server_table, write_csvs
from tritune.testing.sample_run import GPU_UUID, write_sample_run

INFERENCE_HEADER = [
    "Model",
    "Batch",
    "Concurrency",
    "Model Config Path",
    "Instance Group",
    "Max Batch Size",
    "Satisfies Constraints",
    "Throughput (infer/sec)",
    "p99 Latency (ms)",
]
GPU_HEADER = [
    "Model",
    "GPU UUID",
    "Batch",
    "Concurrency",
    "Model Config Path",
    "Instance Group",
    "Satisfies Constraints",
    "GPU Memory Usage (MB)",
    "GPU Utilization (%)",
    "GPU Power Usage (W)",
]


def _data(tmp_path: Path, **kwargs):
    return build_report_data(load_run(write_sample_run(tmp_path, **kwargs)))


def test_inference_table_rows_best_config_first_failed_measurements_left_out(tmp_path: Path):
    table = inference_table([_data(tmp_path, settings={"constraints": {"perf_latency_p99": {"max": 10}}})])
    assert list(table.headers) == INFERENCE_HEADER
    assert len(table.rows) == 12  # 4 configs x 3 loads; the 2 failed measurements have no numbers
    assert table.rows[:3] == (
        ("toy", "1", "1", "toy_config_0", "2:GPU", "8", "Yes", "120", "2.5"),
        ("toy", "1", "2", "toy_config_0", "2:GPU", "8", "Yes", "220", "3.5"),
        ("toy", "1", "4", "toy_config_0", "2:GPU", "8", "Yes", "300", "6"),
    )
    assert table.rows[5] == ("toy", "1", "4", "toy_config_1", "3:GPU", "16", "No", "400", "12")


def test_gpu_and_server_tables(tmp_path: Path):
    data = _data(tmp_path)
    gpu = gpu_table([data])
    assert list(gpu.headers) == GPU_HEADER
    assert gpu.rows[0] == ("toy", GPU_UUID, "1", "1", "toy_config_1", "3:GPU", "Yes", "800", "10", "51")
    assert len(gpu.rows) == 12
    server = server_table([data])
    assert list(server.headers) == [
        "Model",
        "GPU UUID",
        "GPU Memory Usage (MB)",
        "GPU Utilization (%)",
        "GPU Power Usage (W)",
    ]
    assert server.rows == (("triton-server", GPU_UUID, "", "", ""),)


def test_cpu_only_run_has_header_only_gpu_tables(tmp_path: Path):
    data = _data(tmp_path, cpu_only=True)
    assert gpu_table([data]).rows == () and server_table([data]).rows == ()
    assert len(inference_table([data]).rows) == 12


def test_files_are_written_with_ma_names_and_parse_back(tmp_path: Path):
    data = _data(tmp_path / "run")
    paths = write_csvs(csv_tables([data]), tmp_path / "results")
    assert [p.name for p in paths] == [
        "metrics-model-inference.csv",
        "metrics-model-gpu.csv",
        "metrics-server-only.csv",
    ]
    with paths[0].open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12
    best = max(rows, key=lambda r: float(r["Throughput (infer/sec)"]))
    assert best["Model Config Path"] == "toy_config_1" and best["p99 Latency (ms)"] == "12"
    # A GPU UUID list holds commas: the csv module must quote it, as MA's writer does.
    with paths[1].open(newline="") as handle:
        assert next(csv.DictReader(handle))["GPU UUID"] == GPU_UUID
