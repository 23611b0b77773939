"""Models of a repository profiled concurrently, without a server: the key and its flag, the
joint plan (each model's space, the weighted objective, each model's constraints), the variant's
files (every model under the variant's name; the export under the user's names), the run's
identity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tritune.config import ProfileConfig, load_profile_config, parse_profile_config
from tritune.domain.serving import DynamicBatching, ServingConfig
from tritune.errors import UsageError
from tritune.profile.concurrent import concurrent_model
from tritune.profile.deploy import GroupDeployer
from tritune.profile.entries import ConcurrentEntries
from tritune.profile.identity import run_fingerprint
from tritune.profile.orchestrator import plan_for
from tritune.profile.sources import concurrent_source
from tritune.testing.ensemble_repository import write_ensemble_repository
from tritune.triton.model_config import from_pbtxt
from tritune.triton.user_model import UserModel, read_user_model

MODELS = ("prep", "scaled")
VARIANT = ServingConfig(
    max_batch_size=0,
    steps=(
        ("prep", ServingConfig(max_batch_size=8, instance_count=2)),
        ("scaled", ServingConfig(max_batch_size=4, dynamic_batching=DynamicBatching(50))),
    ),
)


def _config(repository: Path | None, **more: Any) -> ProfileConfig:
    data: dict[str, Any] = {"profile_models": ",".join(MODELS), "run_config_profile_models_concurrently_enable": True}
    if repository is not None:
        data["model_repository"] = str(repository)
    return parse_profile_config(data | more)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"profile_models": "prep"}, r"needs two or more profile_models \(got \['prep'\]\): list them"),
        ({"model_repository": None}, "profiles models of a repository: give model_repository"),
        ({"bls_composing_models": "scaled"}, "bls_composing_models profiles one BLS model, .* drop one"),
        ({"objectives": {"perf_latency_p99": 1}}, "weighted throughput: drop objectives .*weighting"),
        ({"profile_models": "a,b,c,d,e"}, r"at most 4 models jointly \(got 5\)"),
    ],
)
def test_the_key_is_refused_where_it_cannot_apply(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    data: dict[str, Any] = {
        "profile_models": ",".join(MODELS),
        "model_repository": str(tmp_path),
        "run_config_profile_models_concurrently_enable": True,
    }
    data.update(change)
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(UsageError, match=message) as error:
        parse_profile_config(data)
    assert "\n" not in error.value.message  # one line


def test_the_flag_sets_the_key_and_weighting_is_stored_only_when_given(tmp_path: Path) -> None:
    from tritune.config.flags import cli_flags

    key = "run_config_profile_models_concurrently_enable"
    (flag,) = [f for f in cli_flags() if f.key == key]
    assert (flag.flag, flag.kind) == ("--run-config-profile-models-concurrently-enable", "bool")
    config = load_profile_config(None, {"profile_models": "a,b", "model_repository": str(tmp_path), key: True})
    assert config.concurrent and config.weighting("a") == 1.0
    weighted = parse_profile_config(
        {
            "profile_models": {"a": {"weighting": 3}, "b": None},
            "model_repository": str(tmp_path),
            "run_config_profile_models_concurrently_enable": True,
        }
    )
    assert weighted.weighting("a") == 3.0 and weighted.weighting("b") == 1.0
    # Off (the default) and unweighted, the dump is what it was before the keys: runs resume.
    plain = parse_profile_config({"profile_models": "a,b", "model_repository": str(tmp_path)}).model_dump()
    assert "run_config_profile_models_concurrently_enable" not in plain
    assert "weighting" not in plain["profile_models"]["a"]


def _completed(models: tuple[UserModel, ...]) -> dict[str, Any]:
    """What Triton would complete from the user's configs: here, the configs as written."""
    return {m.name: m.config for m in models}


def _group(repository: Path) -> Any:
    models = tuple(read_user_model(repository, m) for m in MODELS)
    return concurrent_model(models, _completed(models))


def test_the_plan_searches_both_models_jointly_for_their_weighted_throughput(tmp_path: Path) -> None:
    repository = write_ensemble_repository(tmp_path / "models")
    config = _config(
        repository,
        profile_models={
            "prep": {"constraints": {"perf_latency_p99": {"max": 20}}, "weighting": 2},
            "scaled": {"model_config_parameters": {"instance_group": [{"count": [1, 3], "kind": "KIND_CPU"}]}},
        },
        constraints={"perf_latency_p99": {"max": 50}},
    )
    group = _group(repository)
    assert group.name == "prep_and_scaled" and group.concurrent and [s.name for s in group.steps] == list(MODELS)
    plan = plan_for(config, group, gpu_available=False)
    assert plan.model == "prep_and_scaled" and dict(plan.objectives.weights) == {"weighted_throughput": 1.0}
    # Each model's own constraint (the global one applies to each; prep's own bound wins for it).
    assert plan.constraints.latency_caps() == {"model:prep:perf_latency_p99": 20, "model:scaled:perf_latency_p99": 50}
    names = plan.space.names
    assert "prep.instance_count" in names and "scaled.instance_count" in names
    # scaled's manual list is its own; prep keeps the automatic range.
    dims = {d.name: d.values for d in plan.space.dimensions}
    assert dims["scaled.instance_count"] == (1, 3) and len(dims["prep.instance_count"]) > 2
    variant = plan.space.variant({**plan.space.default, "scaled.instance_count": 3})
    assert variant.serving.step("scaled").instance_count == 3 and variant.client_batch_size == 1


def test_an_ensemble_is_not_profiled_concurrently(tmp_path: Path) -> None:
    repository = write_ensemble_repository(tmp_path / "models")
    models = tuple(read_user_model(repository, m) for m in ("pipeline", "prep"))
    with pytest.raises(UsageError, match="pipeline is an ensemble, which tritune profiles on its own"):
        concurrent_source(models)


def test_a_variant_serves_every_model_under_its_name_and_exports_them_under_the_users(tmp_path: Path) -> None:
    repository = write_ensemble_repository(tmp_path / "models")
    out = tmp_path / "out"
    models = tuple(read_user_model(repository, m) for m in MODELS)
    deployer = GroupDeployer(None, out, ConcurrentEntries(models))  # type: ignore[arg-type]  # writes only
    deployer.write("prep_and_scaled_config_1", VARIANT, "fp32")
    prep = from_pbtxt((out / "prep_and_scaled_config_1.prep" / "config.pbtxt").read_text())
    assert (prep.name, prep.instance_group[0].count, prep.max_batch_size) == ("prep_and_scaled_config_1.prep", 2, 8)
    scaled = from_pbtxt((out / "prep_and_scaled_config_1.scaled" / "config.pbtxt").read_text())
    assert scaled.dynamic_batching.max_queue_delay_microseconds == 50 and scaled.max_batch_size == 4
    assert not (out / "prep_and_scaled_config_1").exists()  # no entry of their own

    exported = deployer.export(tmp_path / "exported", "prep_and_scaled", VARIANT, "fp32")
    assert exported == tmp_path / "exported" / "prep" / "config.pbtxt"
    for model, count in (("prep", 2), ("scaled", 1)):
        config = from_pbtxt((tmp_path / "exported" / model / "config.pbtxt").read_text())
        assert (config.name, config.instance_group[0].count) == (model, count)


def test_an_edit_to_either_model_starts_a_new_run(tmp_path: Path) -> None:
    repository = write_ensemble_repository(tmp_path / "models")
    config = _config(repository)
    before = run_fingerprint(_group(repository), config)
    assert run_fingerprint(_group(repository), config) == before
    model_py = repository / "prep" / "1" / "model.py"
    model_py.write_text(model_py.read_text() + "\n# edited\n")
    assert run_fingerprint(_group(repository), config) != before
