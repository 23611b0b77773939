"""``write_reports`` and ``tritune report``: the files, their layout, partial runs, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tritune.cli import main
from tritune.errors import TrituneError, UsageError
from tritune.report import write_reports
from tritune.report.pdf import CHROMIUM_ENV
from tritune.testing.sample_run import write_sample_run


def test_layout_like_model_analyzer(tmp_path: Path):
    written = write_reports(write_sample_run(tmp_path), pdf=False)
    (model,) = written.models
    assert model.summary_html == tmp_path / "reports/summaries/toy/result_summary.html"
    assert sorted(model.detailed_html) == ["toy_config_0", "toy_config_1", "toy_config_default"]
    assert model.detailed_html["toy_config_1"] == tmp_path / "reports/detailed/toy_config_1/detailed_report.html"
    assert [p.relative_to(tmp_path).as_posix() for p in written.csvs] == [
        "results/metrics-model-inference.csv",
        "results/metrics-model-gpu.csv",
        "results/metrics-server-only.csv",
    ]
    assert written.pdf_note == "PDF reports skipped: --no-pdf given" and model.pdfs == []


def test_html_is_self_contained_and_links_between_reports(tmp_path: Path):
    written = write_reports(write_sample_run(tmp_path), pdf=False)
    summary = written.models[0].summary_html.read_text()
    assert summary.count("<script src=") == 0 and "<link " not in summary  # nothing fetched
    assert summary.count("plotly.js v") >= 1  # the bundle itself, inline
    assert 'href="../../detailed/toy_config_1/detailed_report.html"' in summary
    detailed = written.models[0].detailed_html["toy_config_1"].read_text()
    assert 'href="../../summaries/toy/result_summary.html"' in detailed
    assert "max_batch_size: 16" in detailed


def test_json_dump_holds_the_report_data(tmp_path: Path):
    written = write_reports(write_sample_run(tmp_path), pdf=False)
    payload = json.loads(written.json_path.read_text())
    (report,) = payload["reports"]
    assert report["model_name"] == "toy" and report["top"] == [
        "toy_config_1",
        "toy_config_0",
        "toy_config_default",
    ]
    assert report["gain_percent"] == pytest.approx(150.0)
    assert report["sentence"].startswith("In 14 measurements across 6 configurations")
    assert len(report["configs"]) == 6 and len(report["pareto"]) == 7


def test_partial_run_gets_a_banner(tmp_path: Path):
    written = write_reports(write_sample_run(tmp_path, status="interrupted", configs=2), pdf=False)
    summary = written.models[0].summary_html.read_text()
    assert 'id="partial-banner"' in summary
    assert "Partial results: the run was interrupted after 6 measurements" in summary
    complete = write_reports(write_sample_run(tmp_path / "full"), pdf=False).models[0].summary_html.read_text()
    assert 'id="partial-banner"' not in complete


def test_output_dir_and_top_n(tmp_path: Path):
    out = tmp_path / "elsewhere"
    written = write_reports(write_sample_run(tmp_path / "run"), output_dir=out, top_n=1, pdf=False)
    assert list(written.models[0].detailed_html) == ["toy_config_1"]
    assert (out / "reports/summaries/toy/result_summary.html").is_file()
    assert not (tmp_path / "run/reports").exists()


def test_a_directory_without_store_is_a_usage_error(tmp_path: Path):
    with pytest.raises(UsageError, match="holds no tritune.db"):
        write_reports(tmp_path, pdf=False)


def test_pdf_required_without_chromium_says_how_to_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(CHROMIUM_ENV, str(tmp_path / "no-such-chromium"))
    run_dir = write_sample_run(tmp_path / "run")
    with pytest.raises(TrituneError, match="no Chromium found to print PDF reports: install Chromium"):
        write_reports(run_dir, pdf=True)
    written = write_reports(run_dir, pdf=None)  # auto: HTML still written, the reason given
    assert written.pdf_note is not None and "no Chromium found" in written.pdf_note


def test_cli_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    run_dir = write_sample_run(tmp_path)
    assert main(["report", str(run_dir), "--no-pdf", "--top-n", "2"]) == 0
    captured = capsys.readouterr()
    assert "toy_config_1 is 150% better than the default configuration" in captured.out
    assert "summary report:" in captured.err and "PDF reports skipped" in captured.err
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "holds no tritune.db" in capsys.readouterr().err


def test_a_run_with_nothing_measured_yet_still_reports(tmp_path: Path):
    from tritune.store import Store

    with Store.in_run_dir(tmp_path) as store:
        store.open_run("empty", "fp", {}, {})  # interrupted before its first measurement
    written = write_reports(tmp_path, pdf=False)
    data = written.models[0].data
    assert data.partial and data.top == () and data.pareto == ()
    assert data.sentence == "In 0 measurements across 0 configurations, no configuration produced a usable measurement."
    summary = written.models[0].summary_html.read_text()
    assert "No measurement to plot yet." in summary and "interrupted after 0 measurements" in summary
