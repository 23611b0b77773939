"""The prepare report: a typed record that reads the JSON earlier versions wrote and writes it
back unchanged (the fixture is a report tritune 0.1.0 wrote before the record existed)."""

import json
import shutil
from pathlib import Path

import pytest

from tritune.errors import ModelError
from tritune.prepare import PrepareReport, load_prepared
from tritune.prepare.record import REPORT_FILE

OLD_REPORT = Path(__file__).parent / "prepare_report_0.1.0.json"


def test_a_report_written_before_reads_back_and_round_trips_unchanged():
    data = json.loads(OLD_REPORT.read_text())
    report = PrepareReport.from_dict(data)
    assert report.name == "mlp" and report.passed and report.batch.dynamic
    assert report.batch.stacked_check is not None and report.batch.stacked_check.passed
    assert [c.label.split()[0] for c in report.validation.results] == ["fp32", "fp16"]
    assert report.max_batch_search is not None and report.max_batch_search.max_batch_size == report.max_batch_size
    assert report.to_dict() == data


def test_load_prepared_reads_the_folder(tmp_path: Path):
    model_dir = tmp_path / "repo" / "mlp"
    model_dir.mkdir(parents=True)
    shutil.copy(OLD_REPORT, model_dir / REPORT_FILE)
    prepared = load_prepared(model_dir)
    assert prepared.name == "mlp" and prepared.directory == model_dir and prepared.repository == tmp_path / "repo"
    assert prepared.model_files == {
        "fp32": model_dir / "variants" / "fp32" / "model.onnx",
        "fp16": model_dir / "variants" / "fp16" / "model.onnx",
    }
    assert prepared.precisions == ("fp32", "fp16") and prepared.passed and prepared.problems == ()
    assert prepared.config is None and not prepared.deployed  # the config.pbtxt is not there
    written = prepared.report.write(tmp_path)
    assert json.loads(written.read_text()) == json.loads(OLD_REPORT.read_text())


def test_a_folder_without_a_readable_report_is_a_model_error(tmp_path: Path):
    with pytest.raises(ModelError, match="no prepare_report.json: run tritune prepare"):
        load_prepared(tmp_path)
    (tmp_path / REPORT_FILE).write_text('{"name": "x"}')
    with pytest.raises(ModelError, match="is not a prepare report .*run tritune prepare again"):
        load_prepared(tmp_path)
