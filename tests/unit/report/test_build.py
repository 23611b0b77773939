"""The report data built from a real store filled with known measurements (tritune.testing.sample_run)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tritune.config import parse_profile_config
from tritune.report import ReportSettings, build_report_data, load_run
from tritune.report.build import DEFAULT_COLOR
from tritune.testing.sample_run import ALL_FAILED, LOAD_FAILED, write_sample_run

DEFAULT = "toy_config_default"
P99_MAX_10 = {"objectives": {"perf_throughput": 1}, "constraints": {"perf_latency_p99": {"max": 10}}}


def _data(tmp_path: Path, **kwargs):
    return build_report_data(load_run(write_sample_run(tmp_path, **kwargs)))


def test_unconstrained_ranking_top_n_sentence_and_gain(tmp_path: Path):
    data = _data(tmp_path)
    assert data.top == ("toy_config_1", "toy_config_0", DEFAULT)
    assert [c.name for c in data.configs][:4] == ["toy_config_1", "toy_config_0", DEFAULT, "toy_config_2"]
    assert [c.rank for c in data.configs] == [1, 2, 3, 4, None, None]
    assert {c.name for c in data.configs[4:]} == {LOAD_FAILED, ALL_FAILED}
    assert data.gain_percent == pytest.approx(150.0)  # 400 vs. the default's 160 infer/sec
    assert data.sentence == (
        "In 14 measurements across 6 configurations, toy_config_1 is 150% better than the default "
        "configuration at maximizing throughput: 400.0 infer/sec, p99 12 ms."
    )
    assert data.best_name == "toy_config_1" and data.default_name == DEFAULT
    assert not data.partial and data.partial_message is None
    assert data.measurement_count == 14


def test_constraints_change_the_winner_and_each_config_best_point(tmp_path: Path):
    data = _data(tmp_path, settings=P99_MAX_10)
    assert data.top == ("toy_config_0", "toy_config_1", DEFAULT)
    config_1 = data.config("toy_config_1")
    # Its 400 infer/sec point misses the 10 ms budget: its best feasible point is concurrency 2.
    assert config_1.best is not None and config_1.best.load_value == 2 and config_1.feasible
    assert [p.satisfies for p in config_1.points] == [True, True, False]
    assert data.gain_percent == pytest.approx(87.5)  # 300 vs. 160
    assert (
        "toy_config_0 is 88% better than the default configuration at maximizing throughput "
        "under the given constraints" in data.sentence
    )
    assert data.goals.constraints_text == "perf_latency_p99 <= 10"


def test_nothing_feasible_ranks_by_how_far_each_misses(tmp_path: Path):
    settings = {"constraints": {"perf_latency_p99": {"max": 1}}}
    data = _data(tmp_path, settings=settings)
    assert data.top[0] == "toy_config_2"  # 1.5 ms misses 1 ms by the least
    assert not any(c.feasible for c in data.configs)
    assert "no configuration meets the given constraints; toy_config_2 comes closest" in data.sentence


def test_pareto_front_over_every_measurement(tmp_path: Path):
    data = _data(tmp_path)
    assert data.pareto_metrics == ("perf_latency_p99", "perf_throughput")
    assert [(p.config, p.x, p.y) for p in data.pareto] == [
        ("toy_config_2", 1.5, 90.0),
        (DEFAULT, 2.0, 100.0),
        ("toy_config_0", 2.5, 120.0),
        ("toy_config_0", 3.5, 220.0),
        ("toy_config_1", 5.0, 240.0),
        ("toy_config_0", 6.0, 300.0),
        ("toy_config_1", 12.0, 400.0),
    ]
    constrained = _data(tmp_path / "c", settings=P99_MAX_10)
    assert [(p.x, p.y) for p in constrained.pareto][-1] == (6.0, 300.0)  # 12 ms is out of budget


def test_partial_run_is_marked_and_still_reported(tmp_path: Path):
    data = _data(tmp_path, status="interrupted", configs=2)
    assert data.partial
    assert (
        data.partial_message == "Partial results: the run was interrupted after 6 measurements (status: interrupted)."
    )
    assert data.top == ("toy_config_0", DEFAULT)
    assert data.sentence.startswith("In 6 measurements across 2 configurations, toy_config_0 is 88% better")


def test_a_run_still_marked_running_is_partial(tmp_path: Path):
    data = _data(tmp_path, status="running", configs=1)
    assert data.partial and "interrupted after 3 measurements (or is still running)" in (data.partial_message or "")
    assert data.gain_percent == pytest.approx(0.0)
    assert "provides no gain over the default configuration" in data.sentence


def test_settings_defaults_nesting_and_overrides():
    assert ReportSettings.from_run_settings({}) == ReportSettings()
    assert ReportSettings().objectives == {"perf_throughput": 10.0} and ReportSettings().top_n == 3
    stored = ReportSettings.from_run_settings({"mode": "offline", "top_n": 5, "objectives": {"perf_latency_p99": 1}})
    assert stored.mode == "offline" and stored.top_n == 5 and stored.objectives == {"perf_latency_p99": 1.0}
    assert ReportSettings.from_run_settings({"top_n": 5}, top_n=1).top_n == 1
    assert ReportSettings.from_run_settings(_stored_goals({"num_configs_per_model": 2})).top_n == 2


def test_top_n_limits_the_detailed_configs(tmp_path: Path):
    snapshot = load_run(write_sample_run(tmp_path))
    data = build_report_data(snapshot, ReportSettings(top_n=1))
    assert data.top == ("toy_config_1",)
    assert [c.name for c in data.plotted] == ["toy_config_1", DEFAULT]  # the default is always drawn


def test_configs_carry_serving_fields_colors_and_config_text(tmp_path: Path):
    data = _data(tmp_path)
    config_1 = data.config("toy_config_1")
    assert (config_1.max_batch_size, config_1.instance_group, config_1.max_queue_delay_us) == (
        16,
        "3:GPU",
        500,
    )
    assert config_1.batching_text == "on, queue delay 500 µs, preferred [8]"
    assert config_1.describe().startswith("toy_config_1: 3 GPU instances, max batch size 16")
    assert "CUDA graphs" not in config_1.describe()
    graphs = dataclasses.replace(config_1, params={**config_1.params, "cuda_graph": True})
    assert graphs.describe().endswith("runtime onnxruntime with CUDA graphs")
    assert data.config("toy_config_2").batching_text == "off"
    assert data.config(DEFAULT).color == DEFAULT_COLOR
    colors = [c.color for c in data.configs]
    assert len(set(colors)) == len(colors)
    assert config_1.config_pbtxt_source == "output model repository"
    assert "max_batch_size: 16" in config_1.config_pbtxt
    rendered = data.config("toy_config_2")  # the sample writes no file for it
    assert rendered.config_pbtxt_source == "rendered from the store"
    assert "max_batch_size: 4" in rendered.config_pbtxt and "instance_group" in rendered.config_pbtxt
    failed = data.config(LOAD_FAILED)
    assert (
        failed.best is None and failed.error == "out of memory while loading" and failed.constraint_status == "failed"
    )
    broken = data.config(ALL_FAILED)
    assert [p.status for p in broken.points] == ["failed", "failed"] and broken.best is None


def test_memory_metric_and_hardware(tmp_path: Path):
    data = _data(tmp_path)
    assert data.memory_metric == "gpu_used_memory"
    assert data.hardware.cpu_model == "Test CPU 9000" and data.hardware.gpus[0].memory_mb == 24 * 1024
    assert data.hardware.describe() == "Test CPU 9000 (4 cores, 8 threads); GPU(s): Test GPU (24 GiB)"


def test_unknown_objective_in_stored_settings_is_a_usage_error(tmp_path: Path):
    from tritune.errors import UsageError

    with pytest.raises(UsageError, match="unknown metric"):
        _data(tmp_path, settings={"objectives": {"perf_nonsense": 1}})


def test_cpu_only_run_plots_ram(tmp_path: Path):
    data = _data(tmp_path, cpu_only=True)
    assert data.memory_metric == "cpu_used_ram"
    assert data.hardware.gpus == () and data.hardware.describe().endswith("no GPU")


def _stored_goals(raw: dict, model: str = "toy") -> dict:
    """The settings a profile run stores for ``model`` (ProfileRun in profile/orchestrator.py)."""
    config = parse_profile_config({"profile_models": [model], **raw})
    constraints = config.constraints_for(model)
    return {
        "objectives": dict(config.objectives_for(model).weights),
        "constraints": {
            b.metric: {k: v for k, v in (("min", b.min), ("max", b.max)) if v is not None} for b in constraints.bounds
        },
        "mode": config.mode,
        "top_n": config.num_configs_per_model,
        "config": json.loads(config.model_dump_json()),
    }


def test_settings_are_the_goals_the_profile_run_resolved_for_its_model():
    stored = _stored_goals(
        {
            "profile_models": {
                "toy": {"objectives": {"perf_latency_p99": 1}, "constraints": {"gpu_used_memory": {"max": 900}}}
            },
            "objectives": {"perf_throughput": 1},
            "latency_budget": 10,
            "mode": "offline",
            "num_configs_per_model": 2,
        }
    )
    settings = ReportSettings.from_run_settings(stored)
    assert settings.objectives == {"perf_latency_p99": 1.0}
    assert settings.constraints == {"gpu_used_memory": {"max": 900.0}, "perf_latency_p99": {"max": 10.0}}
    assert (settings.mode, settings.top_n) == ("offline", 2)
    # Model Analyzer's shortcuts reach the report through the stored constraints.
    plain = ReportSettings.from_run_settings(_stored_goals({"min_throughput": 50, "latency_budget": 10}))
    assert plain.constraints == {"perf_throughput": {"min": 50.0}, "perf_latency_p99": {"max": 10.0}}
