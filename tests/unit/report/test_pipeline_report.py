"""An ensemble's report: the best configuration's pipeline, each step with its knobs and its share
of the ensemble's time, from the step metrics stored with its measurements."""

from __future__ import annotations

from pathlib import Path

import pytest

from tritune.domain.measurement import LoadPoint, Measurement
from tritune.domain.metrics import step_metric
from tritune.domain.serving import DynamicBatching, ServingConfig
from tritune.domain.status import MeasurementStatus, VariantStatus
from tritune.report import build_report_data, load_run
from tritune.report.html import render_summary
from tritune.report.pipeline import pipeline_of
from tritune.store import Store


def _ensemble(prep: int, model: int) -> ServingConfig:
    return ServingConfig(
        max_batch_size=8,
        steps=(
            ("prep", ServingConfig(max_batch_size=8, instance_count=prep)),
            ("model", ServingConfig(max_batch_size=8, instance_count=model, dynamic_batching=DynamicBatching(100))),
        ),
    )


def _metrics(throughput: float, prep_ms: float, model_ms: float) -> dict[str, float]:
    return {
        "perf_throughput": throughput,
        "perf_latency_avg": prep_ms + model_ms + 0.5,
        "perf_latency_p99": 2 * (prep_ms + model_ms),
        "perf_server_request": prep_ms + model_ms + 0.1,
        step_metric("prep", "request"): prep_ms,
        step_metric("prep", "queue"): 0.1,
        step_metric("prep", "compute"): prep_ms - 0.1,
        step_metric("model", "request"): model_ms,
        step_metric("model", "queue"): 0.2,
        step_metric("model", "compute"): model_ms - 0.2,
    }


def test_the_pipeline_of_a_measurement() -> None:
    pipeline = pipeline_of("v", "concurrency 2, batch 1", _ensemble(2, 1), _metrics(100, 1.0, 2.9))
    assert [s.model for s in pipeline.steps] == ["prep", "model"]
    assert [s.share for s in pipeline.steps] == pytest.approx([0.25, 0.725])
    assert pipeline.between_steps_ms == pytest.approx(0.1) and pipeline.client_ms == pytest.approx(4.4)
    assert pipeline.steps[0].knobs == "2 CPU instances, max batch size 8, dynamic batching off"
    assert pipeline.steps[1].knobs == "1 CPU instance, max batch size 8, dynamic batching on, queue delay 100 µs"
    assert pipeline_of("v", "", _ensemble(1, 1), {}).steps[0].share is None  # nothing measured: no share


def test_the_report_shows_the_best_configurations_pipeline(tmp_path: Path) -> None:
    with Store.in_run_dir(tmp_path) as store:
        run, _ = store.open_run("pipeline", "f", {"objectives": {"perf_throughput": 1}, "top_n": 2}, {})
        for name, serving, throughput, is_default in (
            ("pipeline_config_default", _ensemble(1, 1), 100.0, True),
            ("pipeline_config_0", _ensemble(1, 2), 180.0, False),
        ):
            variant = store.variant_for(run.id, {"name": name}, serving, name=name, is_default=is_default)
            store.set_variant_status(variant.id, VariantStatus.LOADED, load_time_s=1.0)
            store.add_measurement(
                variant.id, Measurement(LoadPoint(value=2), MeasurementStatus.OK, _metrics(throughput, 1.0, 2.0))
            )
    data = build_report_data(load_run(tmp_path))
    assert data.best_name == "pipeline_config_0" and data.pipeline is not None
    assert data.pipeline.config == "pipeline_config_0" and data.pipeline.load_label == "concurrency 2, batch 1"
    assert [s.model for s in data.pipeline.steps] == ["prep", "model"]
    assert data.best is not None and data.best.describe().startswith("pipeline_config_0: prep: 1 CPU instance")
    html = render_summary(data)
    assert 'id="pipeline-steps"' in html and 'data-step="prep"' in html and 'data-step="model"' in html
    assert "model: 2 CPU instances" in html  # the configuration tables show each step's knobs
    assert data.best.instance_group == "1:CPU/2:CPU"  # as the CSVs show it


def test_the_terminal_table_lists_each_steps_knobs(tmp_path: Path) -> None:
    from rich.console import Console

    from tritune.report.terminal import summary_table

    test_the_report_shows_the_best_configurations_pipeline(tmp_path)
    console = Console(width=120, record=True)
    console.print(summary_table(build_report_data(load_run(tmp_path))))
    text = console.export_text()
    assert "off/100µs" in text and "1:CPU/2:CPU" in text and "list its steps in order (prep/model)" in text


def test_the_pipeline_is_the_median_of_the_measurements_at_its_load() -> None:
    from tritune.report.pipeline import median_metrics

    merged = median_metrics([{"a": 1.0, "b": 5.0}, {"a": 3.0}, {"a": 2.0, "b": 7.0}])
    assert merged == {"a": 2.0, "b": 6.0}
