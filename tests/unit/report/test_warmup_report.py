"""A variant's load and warm-up times reach the report data, its JSON and the HTML tables."""

from __future__ import annotations

import json
from pathlib import Path

from tritune.domain.status import VariantStatus
from tritune.report import write_reports
from tritune.store import Store
from tritune.testing.sample_run import write_sample_run


def test_the_start_times_are_in_the_report(tmp_path: Path) -> None:
    run_dir = write_sample_run(tmp_path)
    with Store.in_run_dir(run_dir) as store:
        (run,) = store.runs()
        variant = next(v for v in store.variants(run.id) if v.name == "toy_config_1")
        store.set_variant_status(variant.id, VariantStatus.LOADED, warmup_s=0.75)
        load_time_s = variant.load_time_s
    written = write_reports(run_dir, pdf=False)
    (model,) = written.models
    config = model.data.config("toy_config_1")
    assert (config.load_time_s, config.warmup_s) == (load_time_s, 0.75)
    assert model.data.config("toy_config_0").warmup_s is None  # stored before warm-ups: none
    (report,) = json.loads(written.json_path.read_text())["reports"]
    stored = {c["name"]: (c["load_time_s"], c["warmup_s"]) for c in report["configs"]}
    assert stored["toy_config_1"] == (load_time_s, 0.75)
    summary = model.summary_html.read_text()
    assert "Load + warm-up (s)" in summary and f"{load_time_s:.3g} + 0.75" in summary
    detailed = model.detailed_html["toy_config_1"].read_text()
    assert "then warmed up in 0.75 s" in detailed
