"""The profile config: Model Analyzer's keys, CLI overrides, and one clear line per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from tritune.config import (
    ConfirmSettings,
    MeasurementSettings,
    ProfileConfig,
    cli_flags,
    load_profile_config,
    parse_profile_config,
)
from tritune.domain.space import Dim
from tritune.errors import UsageError
from tritune.search import build_space, create_plan
from tritune.testing.synthetic import SYNTHETIC_SIGNATURE

MA_STYLE = """
profile_models:
  resnet:
    model_config_parameters:
      max_batch_size: [4, 16]
      instance_group:
        - - kind: KIND_CPU
            count: [1, 2]
      dynamic_batching:
        max_queue_delay_microseconds: [off, 0, 100]
    parameters:
      concurrency: {start: 1, stop: 4, step: 1}
      batch_sizes: [1, 4]
objectives:
  perf_throughput: 10
  perf_latency_p99: 5
constraints:
  perf_latency_p99: {max: 50}
  cpu_used_ram: {max: 4000}
run_config_search_mode: brute
num_configs_per_model: 2
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profile.yaml"
    path.write_text(text)
    return path


def error(data: dict) -> str:
    with pytest.raises(UsageError) as caught:
        parse_profile_config(data)
    return caught.value.message


def test_model_analyzer_style_file_loads_and_builds_its_space(tmp_path: Path) -> None:
    config = load_profile_config(write(tmp_path, MA_STYLE))
    assert config.objectives_for("resnet").weights == pytest.approx(
        {"perf_throughput": 2 / 3, "perf_latency_p99": 1 / 3}
    )
    assert config.constraints_for("resnet").describe() == "perf_latency_p99 <= 50, cpu_used_ram <= 4000"
    space = build_space(config, "resnet", SYNTHETIC_SIGNATURE)
    assert space.dimension(Dim.MAX_BATCH_SIZE).values == (4, 16)
    assert space.dimension(Dim.INSTANCE_COUNT).values == (1, 2)
    assert space.dimension(Dim.DYNAMIC_BATCHING).values == (None, 0, 100)
    assert space.dimension(Dim.CLIENT_BATCH_SIZE).values == (1, 4)
    plan = create_plan(config, "resnet", SYNTHETIC_SIGNATURE)
    assert plan.manual_loads == (1, 2, 3, 4)
    assert plan.mode == "brute"


def test_automatic_ranges_follow_model_analyzer() -> None:
    config = parse_profile_config({"profile_models": "a", "run_config_search_max_instance_count": 3})
    space = build_space(config, "a", SYNTHETIC_SIGNATURE)
    assert space.dimension(Dim.INSTANCE_COUNT).values == (1, 2, 3)
    assert space.dimension(Dim.MAX_BATCH_SIZE).values == (1, 2, 4, 8, 16, 32, 64, 128)
    assert space.dimension(Dim.DYNAMIC_BATCHING).values == (0,)
    assert space.dimension(Dim.INSTANCE_KIND).values == ("KIND_CPU",)
    gpu_space = build_space(config, "a", SYNTHETIC_SIGNATURE, gpu_available=True)
    assert gpu_space.dimension(Dim.INSTANCE_KIND).values == ("KIND_GPU",)


def test_search_disabled_measures_only_the_default_and_manual_lists() -> None:
    config = parse_profile_config({"profile_models": "a", "run_config_search_disable": True})
    assert sum(1 for _ in build_space(config, "a", SYNTHETIC_SIGNATURE).grid()) == 1


def test_cli_overrides_win_over_the_file_and_none_means_not_given(tmp_path: Path) -> None:
    config = load_profile_config(
        write(tmp_path, MA_STYLE),
        {"latency-budget": 20, "run_config_search_mode": None, "min_throughput": 100},
    )
    assert config.run_config_search_mode == "brute"
    assert config.constraints_for("resnet").describe() == (
        "perf_latency_p99 <= 20, cpu_used_ram <= 4000, perf_throughput >= 100"
    )


def test_models_from_a_comma_list_and_the_config_is_frozen() -> None:
    config = parse_profile_config({"profile_models": "a, b"})
    assert list(config.profile_models) == ["a", "b"]
    with pytest.raises(Exception, match="frozen"):
        config.seed = 3  # type: ignore[misc]


def test_per_model_objectives_and_constraints_override_global_ones() -> None:
    config = parse_profile_config(
        {
            "profile_models": {
                "a": {"objectives": ["perf_latency_p99"], "constraints": {"perf_throughput": {"min": 5}}}
            },
            "constraints": {"perf_throughput": {"min": 1}, "perf_latency_p99": {"max": 9}},
        }
    )
    assert config.objectives_for("a").metrics == ("perf_latency_p99",)
    assert config.constraints_for("a").describe() == "perf_throughput >= 5, perf_latency_p99 <= 9"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"profile_models": "a", "run_config_serch_mode": "brute"},
            "config: unknown key 'run_config_serch_mode': did you mean 'run_config_search_mode'?",
        ),
        (
            {"profile_models": "a", "run_config_search_mode": "fast"},
            "config: run_config_search_mode: input should be 'default', 'brute', 'quick' or 'optuna', got 'fast'",
        ),
        (
            {"profile_models": "a", "run_config_search_max_instance_count": "many"},
            "config: run_config_search_max_instance_count: input should be a valid integer, "
            "unable to parse string as an integer, got 'many'",
        ),
        (
            {
                "profile_models": "a",
                "run_config_search_min_model_batch_size": 64,
                "run_config_search_max_model_batch_size": 8,
            },
            "config: run_config_search_min_model_batch_size (64) is above "
            "run_config_search_max_model_batch_size (8): lower run_config_search_min_model_batch_size "
            "or raise run_config_search_max_model_batch_size",
        ),
        (
            {"profile_models": "a", "constraints": {"perf_latency_p99": {"min": 5, "max": 2}}},
            "config: constraints.perf_latency_p99: min 5 is above max 2: swap them",
        ),
        (
            {"profile_models": "a", "constraints": {"perf_latency_p99": {}}},
            "config: constraints.perf_latency_p99: give min, max or both, e.g. {max: 100}",
        ),
        (
            {"profile_models": "a", "objectives": {"perf_thruput": 1}},
            "config: objectives: unknown metric 'perf_thruput': did you mean 'perf_throughput'?",
        ),
        ({}, "config: profile_models is required: add it (e.g. 'profile_models: [my_model]')"),
        (
            {"profile_models": {"a": {"model_config_parameters": {"max_batch_sise": [4]}}}},
            "config: unknown key 'profile_models.a.model_config_parameters.max_batch_sise': "
            "did you mean 'max_batch_size'?",
        ),
        (
            {"profile_models": {"a": {"parameters": {"concurrency": [1], "request_rate": [10]}}}},
            "config: profile_models.a.parameters: give concurrency or request_rate, not both (one load mode per run)",
        ),
        (
            {"profile_models": "a", "latency_budget": 0},
            "config: latency_budget: input should be greater than 0, got 0",
        ),
    ],
)
def test_each_mistake_is_one_line_naming_the_key_and_the_fix(data: dict, message: str) -> None:
    assert error(data) == message


def test_several_mistakes_give_one_line_each() -> None:
    lines = error({"profile_models": "a", "seed": "x", "mode": "batch"}).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("config: mode:") and lines[1].startswith("config: seed:")


def test_file_problems_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_profile_config(tmp_path / "missing.yaml")
    with pytest.raises(UsageError, match=r"profile.yaml:2:\d+: not valid YAML"):
        load_profile_config(write(tmp_path, "profile_models: [a\nobjectives: {"))
    with pytest.raises(UsageError, match="top level must be a mapping"):
        load_profile_config(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(UsageError, match=r"profile.yaml: unknown key 'bogus'"):
        load_profile_config(write(tmp_path, "profile_models: [a]\nbogus: 1\n"))


def test_every_top_level_key_has_a_flag() -> None:
    flags = {f.key: f for f in cli_flags()}
    # The measurement section's keys are flags of their own (perf_analyzer's names).
    sections = {f"measurement.{key}" for key in MeasurementSettings.model_fields}
    sections |= {f"confirm.{key}" for key in ConfirmSettings.model_fields}
    # connection: perf_analyzer's --ssl-* and -H, declared in cli/options.py (perf takes them too).
    assert set(flags) == set(ProfileConfig.model_fields) - {"measurement", "confirm", "connection"} | sections
    assert len({f.dest for f in flags.values()}) == len(flags)  # one click parameter each
    assert flags["measurement.max_trials"].flag == "--max-trials"
    assert flags["measurement.shape"].kind == "repeatable"
    assert flags["measurement.server_cpus"].kind == "int"
    assert flags["latency_budget"].flag == "--latency-budget"
    assert flags["run_config_search_mode"].choices == ("default", "brute", "quick", "optuna")
    assert flags["run_config_search_disable"].kind == "bool"
    # The confirm section's flags name their section.
    assert [flags[f"confirm.{k}"].flag for k in ("rounds", "max_rounds", "budget_s")] == [
        "--confirm-rounds",
        "--confirm-max-rounds",
        "--confirm-budget",
    ]
    assert flags["confirm.budget_s"].dest == "confirm_budget_s"


def test_the_confirm_settings_are_not_part_of_the_run_identity(tmp_path: Path) -> None:
    from tritune.profile.identity import run_fingerprint
    from tritune.profile.records import ModelFiles
    from tritune.testing.synthetic import SYNTHETIC_SIGNATURE

    model_file = tmp_path / "m.onnx"
    model_file.write_bytes(b"m")
    model = ModelFiles("m", {"fp32": model_file}, SYNTHETIC_SIGNATURE)
    plain = load_profile_config(None, {"profile_models": "m"})
    more = load_profile_config(
        None, {"profile_models": "m", "confirm.rounds": 5, "confirm.max_rounds": 8, "confirm.budget_s": 30}
    )
    assert more.confirm == ConfirmSettings(rounds=5, max_rounds=8, budget_s=30)
    assert run_fingerprint(model, plain) == run_fingerprint(model, more)


def test_measurement_settings_come_from_the_file_and_flags_replace_one_key(tmp_path: Path) -> None:
    path = write(tmp_path, 'profile_models: [a]\nmeasurement:\n  protocol: grpc\n  max_trials: 5\n  shape: ["x:3,8"]\n')
    config = load_profile_config(path, {"measurement.max_trials": 7, "measurement.server_cpus": None})
    assert config.measurement == MeasurementSettings(protocol="grpc", max_trials=7, shape={"x": (3, 8)})
    assert parse_profile_config({"profile_models": "a", "measurement": {"shape": {"x": [4]}}}).measurement.shape == {
        "x": (4,)
    }
    assert error({"profile_models": "a", "measurement": {"max_trials": 2}}) == (
        "config: measurement.max_trials: input should be greater than or equal to 3, got 2"
    )
    assert error({"profile_models": "a", "measurement": {"max_trails": 2}}) == (
        "config: unknown key 'measurement.max_trails': did you mean 'max_trials'?"
    )


@pytest.mark.parametrize(
    ("measurement", "fingerprint"),
    [
        # Time windows of 1000 ms were the only windows then (count windows of 250 ms now are
        # another measurement, and another run).
        ({"measurement_mode": "time_windows", "measurement_interval": 1000}, "97a224141dbbfaa5"),
        (
            {
                "measurement_mode": "time_windows",
                "protocol": "grpc",
                "measurement_interval": 150,
                "stability_percentage": 50,
                "max_trials": 4,
                "shape": {"x": [3, 8]},
                "server_cpus": 1,
            },
            "5233f48b5ce36b30",
        ),
    ],
)
def test_run_fingerprints_stay_those_stored_before_the_measurement_section(
    tmp_path: Path, measurement: dict, fingerprint: str
) -> None:
    """Computed by the code before the measurement settings joined the config (then separate
    MeasureSettings): the same settings must resume the runs it stored."""
    from tritune.domain.model import ModelSignature
    from tritune.profile.identity import run_fingerprint
    from tritune.profile.records import ModelFiles

    (tmp_path / "m.onnx").write_bytes(b"not really onnx, only bytes")
    model = ModelFiles("m", {"fp32": tmp_path / "m.onnx"}, ModelSignature((), ()))
    config = parse_profile_config(
        {"profile_models": {"m": {"model_path": "m.onnx"}}, "latency_budget": 20, "measurement": measurement}
    )
    assert run_fingerprint(model, config) == fingerprint


def test_a_command_line_model_keeps_its_entry_of_the_config_file(tmp_path: Path) -> None:
    from tritune.config import model_with_file_settings

    settings = {"objectives": {"perf_latency_p99": 1}}
    model = tmp_path / "mlp.onnx"
    # By name, by model_path, or the only entry; the path given on the command line wins.
    assert model_with_file_settings({"mlp": settings}, "mlp", model, named=False) == {
        "mlp": {**settings, "model_path": str(model)}
    }
    by_path = {"a": {}, "b": {"model_path": str(model)}}
    assert list(model_with_file_settings(by_path, "mlp", model, named=False)) == ["b"]
    assert list(model_with_file_settings({"only": {}}, "mlp", model, named=False)) == ["only"]
    assert model_with_file_settings({}, "mlp", model, named=False) == {"mlp": {"model_path": str(model)}}
    with pytest.raises(UsageError, match=r"none of the config file's profile_models \(a, b\)"):
        model_with_file_settings({"a": {}, "b": {}}, "mlp", model, named=False)
    with pytest.raises(UsageError, match="--name"):
        model_with_file_settings({"only": {}}, "other", model, named=True)
