"""Model Analyzer's three CSVs, same file names and default columns, so existing scripts keep working.

MA's defaults (``config_defaults.py``): the inference table has Model, Batch, Concurrency, Model
Config Path, Instance Group, Max Batch Size, Satisfies Constraints, Throughput, p99 Latency; the
GPU table swaps the metrics for GPU UUID, memory, utilization and power; the server-only table
holds one row per GPU for the server without models. Rows are the configs best first, each
one's measurements in load order; failed measurements have no numbers and are left out, as MA
never records them.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tritune.domain.measurement import LoadMode
from tritune.domain.metrics import (
    GPU_POWER_USAGE,
    GPU_USED_MEMORY,
    GPU_UTILIZATION,
    HOST_OTHER_CPU,
    LATENCY_P99,
    THROUGHPUT,
    header,
)
from tritune.report.records import ConfigSummary, Point, ReportData

INFERENCE_CSV = "metrics-model-inference.csv"
GPU_CSV = "metrics-model-gpu.csv"
SERVER_CSV = "metrics-server-only.csv"

_INFERENCE_METRICS = (THROUGHPUT, LATENCY_P99)
# tritune's own, after Model Analyzer's columns (scripts index them by header): the CPU other
# processes took during the measurement, in cores.
_INFERENCE_EXTRA = (HOST_OTHER_CPU,)
_GPU_METRICS = (GPU_USED_MEMORY, GPU_UTILIZATION, GPU_POWER_USAGE)
_COLUMN_HEADERS = {
    "model_name": "Model",
    "batch_size": "Batch",
    "concurrency": "Concurrency",
    "request_rate": "Request Rate",
    "model_config_path": "Model Config Path",
    "instance_group": "Instance Group",
    "max_batch_size": "Max Batch Size",
    "satisfies_constraints": "Satisfies Constraints",
    "gpu_uuid": "GPU UUID",
}


@dataclass(frozen=True)
class CsvTable:
    filename: str
    fields: tuple[str, ...]  # MA's field names (its *_output_fields)
    rows: tuple[tuple[str, ...], ...]

    @property
    def headers(self) -> tuple[str, ...]:
        return tuple(_COLUMN_HEADERS.get(f) or header(f) for f in self.fields)


def _number(value: float | None) -> str:
    # MA rounds to one decimal; sub-millisecond CPU latencies need more, and a longer number
    # parses the same way in every script.
    if value is None:
        return ""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _load_fields(points: Sequence[Point]) -> tuple[str, ...]:
    modes = {p.load_mode for p in points}
    if modes == {LoadMode.REQUEST_RATE}:
        return ("request_rate",)
    if LoadMode.REQUEST_RATE in modes:
        return ("concurrency", "request_rate")
    return ("concurrency",)


def _common(field: str, data: ReportData, config: ConfigSummary, point: Point) -> str | None:
    values = {
        "model_name": data.model_name,
        "batch_size": str(point.batch_size),
        "concurrency": f"{point.load_value:g}" if point.load_mode is LoadMode.CONCURRENCY else "",
        "request_rate": f"{point.load_value:g}" if point.load_mode is LoadMode.REQUEST_RATE else "",
        "model_config_path": config.name,
        "instance_group": config.instance_group,
        "max_batch_size": str(config.max_batch_size),
        "satisfies_constraints": "Yes" if point.satisfies else "No",
    }
    return values.get(field)


Row = tuple[ReportData, ConfigSummary, Point]


def _rows(datas: Sequence[ReportData]) -> list[Row]:
    return [(d, c, p) for d in datas for c in d.configs for p in c.points if p.usable]


def _cell(field: str, row: Row) -> str:
    data, config, point = row
    if field == "gpu_uuid":
        # tritune's GPU metrics cover the devices the model ran on as one figure; name them all.
        return ",".join(g.uuid for g in data.hardware.gpus)
    common = _common(field, data, config, point)
    return common if common is not None else _number(point.get(field))


def _measurement_table(
    filename: str,
    datas: Sequence[ReportData],
    before_load: tuple[str, ...],
    after_load: tuple[str, ...],
    keep: Callable[[Row], bool] = lambda row: True,
) -> CsvTable:
    """One row per usable measurement ``keep`` accepts; the load columns fit every measurement's mode."""
    every = _rows(datas)
    fields = (*before_load, *_load_fields([p for _, _, p in every]), *after_load)
    rows = [r for r in every if keep(r)]
    return CsvTable(filename, fields, tuple(tuple(_cell(f, r) for f in fields) for r in rows))


def inference_table(datas: Sequence[ReportData]) -> CsvTable:
    """MA's columns, then tritune's extra ones that any measurement of the runs carries."""
    extra = tuple(m for m in _INFERENCE_EXTRA if any(d.metric_present(m) for d in datas))
    return _measurement_table(
        INFERENCE_CSV,
        datas,
        ("model_name", "batch_size"),
        (
            "model_config_path",
            "instance_group",
            "max_batch_size",
            "satisfies_constraints",
            *_INFERENCE_METRICS,
            *extra,
        ),
    )


def gpu_table(datas: Sequence[ReportData]) -> CsvTable:
    """One row per measurement that carries GPU metrics (none on a CPU-only run, as in MA)."""
    return _measurement_table(
        GPU_CSV,
        datas,
        ("model_name", "gpu_uuid", "batch_size"),
        ("model_config_path", "instance_group", "satisfies_constraints", *_GPU_METRICS),
        keep=lambda row: any(m in row[2].metrics for m in _GPU_METRICS),
    )


def server_table(datas: Sequence[ReportData]) -> CsvTable:
    """MA's server-only table. tritune does not measure an idle server, so only the GPUs are named."""
    fields = ("model_name", "gpu_uuid", *_GPU_METRICS)
    gpus = {g.uuid: g for d in datas for g in d.hardware.gpus}
    return CsvTable(SERVER_CSV, fields, tuple(("triton-server", uuid, "", "", "") for uuid in gpus))


def csv_tables(datas: Sequence[ReportData]) -> list[CsvTable]:
    """The three tables over every model's report (MA writes all models into one set of files)."""
    return [inference_table(datas), gpu_table(datas), server_table(datas)]


def write_csvs(tables: Sequence[CsvTable], directory: Path) -> list[Path]:
    """Write each table (header row included, even when empty) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for table in tables:
        path = directory / table.filename
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(table.headers)
            writer.writerows(table.rows)
        paths.append(path)
    return paths
