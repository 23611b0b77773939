"""``write_reports``: every report of a run directory, laid out like Model Analyzer's.

    <out>/reports/summaries/<model>/result_summary.html (+ .pdf)
    <out>/reports/detailed/<variant>/detailed_report.html (+ .pdf), for each top config
    <out>/results/metrics-model-inference.csv, metrics-model-gpu.csv, metrics-server-only.csv
    <out>/reports/report_data.json

``<out>`` is the run directory unless told otherwise. Everything comes from the store alone.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tritune import __version__
from tritune.domain.layout import RunLayout
from tritune.errors import TrituneError
from tritune.report.build import build_report_data
from tritune.report.csv_export import csv_tables, write_csvs
from tritune.report.html import render_detailed, render_summary
from tritune.report.load import latest_per_model, load_runs
from tritune.report.pdf import INSTALL_HINT, find_chromium, print_pdf
from tritune.report.records import ReportData, ReportSettings


@dataclass(frozen=True)
class ModelReports:
    data: ReportData
    summary_html: Path
    detailed_html: dict[str, Path]  # config name -> file
    pdfs: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class WrittenReports:
    models: list[ModelReports]
    csvs: list[Path]
    json_path: Path
    pdf_note: str | None = None  # why there are no PDFs, when there are none


def _relative(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start.parent)).as_posix()


def _write_model(data: ReportData, out: Path) -> ModelReports:
    summary = RunLayout(out).summary_html(data.model_name)
    detailed = {name: RunLayout(out).detailed_html(name) for name in data.top}
    for name, path in detailed.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_detailed(data, data.config(name), _relative(summary, path)), encoding="utf-8")
    summary.parent.mkdir(parents=True, exist_ok=True)
    links = {name: _relative(path, summary) for name, path in detailed.items()}
    summary.write_text(render_summary(data, links), encoding="utf-8")
    return ModelReports(data, summary, detailed)


def _jsonable(value: Any) -> Any:
    """JSON has no infinity or NaN: they become null, so strict parsers read the file."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def report_json(datas: list[ReportData]) -> str:
    payload = {"tritune_version": __version__, "reports": [dataclasses.asdict(d) for d in datas]}
    return json.dumps(_jsonable(payload), indent=2, allow_nan=False)


def write_reports(
    run_dir: str | Path,
    *,
    output_dir: str | Path | None = None,
    top_n: int | None = None,
    pdf: bool | None = None,
) -> WrittenReports:
    """Build the report data of every model in ``run_dir``'s store and write all reports.

    Args:
        run_dir: a run directory holding the store (``tritune.db``).
        output_dir: where to write (default: ``run_dir``).
        top_n: how many top configs get plots and detailed reports (default: the run's setting, else 3).
        pdf: True: PDFs are required (error without Chromium); False: none; None: when Chromium is installed.

    Raises:
        UsageError: no store or no run in ``run_dir``.
        TrituneError: ``pdf=True`` and no Chromium, or Chromium failed.
    """
    run_dir = Path(run_dir)
    out = Path(output_dir) if output_dir is not None else run_dir
    datas = [
        build_report_data(snapshot, ReportSettings.from_run_settings(snapshot.run.settings, top_n=top_n))
        for snapshot in latest_per_model(load_runs(run_dir))
    ]
    models = [_write_model(data, out) for data in datas]
    csvs = write_csvs(csv_tables(datas), RunLayout(out).results)
    json_path = RunLayout(out).report_json
    json_path.write_text(report_json(datas), encoding="utf-8")

    pdf_note = None
    chromium = find_chromium() if pdf is not False else None
    if pdf is True and chromium is None:
        raise TrituneError(f"no Chromium found to print PDF reports: {INSTALL_HINT}")
    if chromium is not None:
        for model in models:
            for html in [model.summary_html, *model.detailed_html.values()]:
                model.pdfs.append(print_pdf(html, html.with_suffix(".pdf"), chromium=chromium))
    else:
        pdf_note = "PDF reports skipped: " + (
            "--no-pdf given" if pdf is False else f"no Chromium found ({INSTALL_HINT})"
        )
    return WrittenReports(models, csvs, json_path, pdf_note)
