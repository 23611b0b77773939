"""A busy host and unstable points in the reports: the note, the column, the marks, the legend."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from rich.console import Console

from tritune.domain.host_load import HOST_OTHER_CPU
from tritune.domain.metrics import axis_label, header
from tritune.report import build_report_data, load_run, write_reports
from tritune.report.csv_export import inference_table
from tritune.report.terminal import print_summary
from tritune.testing.sample_run import write_sample_run


def test_the_data_counts_busy_measurements_and_marks_unstable_bests(tmp_path: Path) -> None:
    data = build_report_data(load_run(write_sample_run(tmp_path, busy_host=True)))
    assert data.busy_host_count == 4  # each config's concurrency-4 measurement
    note = data.busy_host_note
    assert note is not None and "4 of 14 measurements" in note and "1.3 cores" in note and "--server-cpus" in note
    unstable_bests = [c.name for c in data.configs if c.best_unstable]
    assert unstable_bests, "maximizing throughput, some config's best is its unstable concurrency-4 point"
    assert all(c.best is not None and c.best.load_value == 4 for c in data.configs if c.best_unstable)

    quiet = build_report_data(load_run(write_sample_run(tmp_path / "quiet")))
    assert quiet.busy_host_count == 0 and quiet.busy_host_note is None
    assert not any(c.best_unstable for c in quiet.configs)


def test_the_csv_has_the_busy_metric_after_model_analyzers_columns(tmp_path: Path) -> None:
    table = inference_table([build_report_data(load_run(write_sample_run(tmp_path, busy_host=True)))])
    assert table.headers[-3:] == ("Throughput (infer/sec)", "p99 Latency (ms)", header(HOST_OTHER_CPU))
    assert {row[-1] for row in table.rows} == {"0.05", "1.3"}
    quiet = inference_table([build_report_data(load_run(write_sample_run(tmp_path / "quiet")))])
    assert header(HOST_OTHER_CPU) not in quiet.headers  # Model Analyzer's columns, as they were


def test_the_html_reports_show_the_note_the_column_and_the_marks(tmp_path: Path) -> None:
    written = write_reports(write_sample_run(tmp_path, busy_host=True), pdf=False)
    model = written.models[0]
    summary = model.summary_html.read_text()
    assert 'id="busy-host-note"' in summary and "Busy host: other processes" in summary
    assert axis_label(HOST_OTHER_CPU).replace("'", "&#39;") in summary  # the config tables' column
    assert 'class="badge warn unstable"' in summary and 'class="note legend"' in summary
    rows = next(csv.reader(io.StringIO(written.csvs[0].read_text())))
    assert rows[-1] == header(HOST_OTHER_CPU)

    best = model.data.best
    assert best is not None
    detailed = model.detailed_html[best.name].read_text()
    assert f"<th>{header(HOST_OTHER_CPU)}</th>" in detailed
    assert 'class="badge warn busy"' in detailed and 'id="busy-host-legend"' in detailed
    assert 'class="badge warn unstable"' in detailed

    quiet = write_reports(write_sample_run(tmp_path / "quiet"), pdf=False).models[0].summary_html.read_text()
    assert 'id="busy-host-note"' not in quiet and 'class="badge warn' not in quiet


def test_the_terminal_summary_marks_an_unstable_best_and_prints_the_note(tmp_path: Path) -> None:
    data = build_report_data(load_run(write_sample_run(tmp_path, busy_host=True)))
    console = Console(file=io.StringIO(), width=100, color_system=None)
    print_summary(console, data)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "~: unstable" in text and "Busy host:" in text
    assert any("~" in line and "c4 b1" in line for line in text.splitlines())
