"""A BLS model of the user's repository: Model Analyzer's ``bls_composing_models`` parsed, the
called models read, each variant's entries written under the user's names (the BLS code calls
them by name), and the confirm step measuring finalists one at a time when they cannot load
side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tritune.analysis.confirm import serving_cost
from tritune.config import parse_profile_config
from tritune.domain.serving import ServingConfig
from tritune.domain.space import Dim
from tritune.errors import ModelLoadError, UsageError
from tritune.profile.deploy import GroupDeployer
from tritune.profile.entries import BlsEntries
from tritune.profile.orchestrator import plan_for
from tritune.profile.records import ModelFiles
from tritune.testing.deployer import InMemoryDeployer, RecordingControl
from tritune.testing.ensemble_repository import write_bls_repository
from tritune.testing.synthetic import SyntheticSurface, profile_surface
from tritune.triton.ensemble import read_bls
from tritune.triton.model_config import from_pbtxt
from tritune.triton.user_model import read_user_model, serving_of, signature_of

VARIANT = ServingConfig(
    max_batch_size=8,
    steps=(
        ("prep", ServingConfig(max_batch_size=8, instance_count=2)),
        ("scaled", ServingConfig(max_batch_size=16, instance_count=3)),
    ),
)


def _read(repository: Path, names: tuple[str, ...] = ("prep", "scaled"), model: str = "bls") -> Any:
    return read_bls(repository, read_user_model(repository, model), names)


@pytest.mark.parametrize("given", ["prep, scaled", ["prep", "scaled"]])
def test_bls_composing_models_take_model_analyzers_spellings(tmp_path: Path, given: object) -> None:
    config = parse_profile_config(
        {"model_repository": str(tmp_path), "profile_models": ["bls"], "bls_composing_models": given}
    )
    assert config.bls_composing_models == ["prep", "scaled"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"bls_composing_models": "prep,prep"}, "repeat a model"),
        ({"bls_composing_models": "prep", "model_repository": None}, "give model_repository"),
    ],
)
def test_bls_composing_models_that_cannot_be_profiled_are_refused(
    tmp_path: Path, data: dict[str, Any], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        parse_profile_config({"model_repository": str(tmp_path), "profile_models": ["bls"], **data})


def test_the_called_models_are_read_in_the_yamls_order(tmp_path: Path) -> None:
    bls = _read(write_bls_repository(tmp_path / "models"), ("scaled", "prep"))
    assert bls.bls and bls.step_names == ("scaled", "prep") and bls.model.config.backend == "python"


@pytest.mark.parametrize(
    ("names", "model", "message"),
    [
        (("prep", "nope"), "bls", "composing model 'nope' is not in"),
        (("prep", "bls"), "bls", "names bls, the BLS model itself"),
        (("prep", "pipeline"), "bls", "composing model 'pipeline' is an ensemble itself"),
        (("prep",), "pipeline", "pipeline is an ensemble, .* drop bls_composing_models"),
        (("a", "b", "c", "d", "e"), "bls", "names 5 models; tritune searches at most 4"),
    ],
)
def test_a_bls_model_that_cannot_be_searched_is_refused(
    tmp_path: Path, names: tuple[str, ...], model: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        _read(write_bls_repository(tmp_path / "models"), names, model)


def test_a_variant_serves_the_called_models_under_their_own_names(tmp_path: Path) -> None:
    out = tmp_path / "out"
    deployer = GroupDeployer(None, out, BlsEntries(_read(write_bls_repository(tmp_path / "models"))))  # type: ignore[arg-type]
    assert not deployer.side_by_side
    deployer.write("bls_config_1", VARIANT, "fp32")
    assert from_pbtxt((out / "bls_config_1" / "config.pbtxt").read_text()).name == "bls_config_1"
    prep = from_pbtxt((out / "prep" / "config.pbtxt").read_text())
    assert (prep.name, prep.instance_group[0].count) == ("prep", 2)
    scaled = from_pbtxt((out / "scaled" / "config.pbtxt").read_text())
    assert (scaled.name, scaled.instance_group[0].count, scaled.max_batch_size) == ("scaled", 3, 16)
    assert not (out / "bls_config_1.prep").exists()

    exported = deployer.export(tmp_path / "exported", "bls_config_1", VARIANT, "fp32")
    assert exported == tmp_path / "exported" / "bls" / "config.pbtxt" and from_pbtxt(exported.read_text()).name == "bls"
    assert from_pbtxt((tmp_path / "exported" / "prep" / "config.pbtxt").read_text()).instance_group[0].count == 2
    assert not (tmp_path / "exported" / "bls" / "1" / "model.py").is_symlink()


def test_the_bls_models_own_instance_count_is_searched_with_the_called_models(tmp_path: Path) -> None:
    """Its code runs on instances of its own: their count is a dimension of the joint space, and
    a variant's BLS config gets it (the default keeps the user's config as written)."""
    repository = write_bls_repository(tmp_path / "models")
    bls = _read(repository)
    model = ModelFiles(
        "bls",
        {},
        signature_of(bls.model.config),
        user=bls.model,
        default=serving_of(bls.model.config),
        backend="python",
        steps=tuple(
            ModelFiles(s.name, {}, signature_of(s.config), user=s, default=serving_of(s.config), backend="python")
            for s in bls.steps
        ),
    )
    config = parse_profile_config(
        {
            "model_repository": str(repository),
            "profile_models": {"bls": {"model_config_parameters": {"instance_group": [{"count": [1, 2]}]}}},
            "bls_composing_models": "prep, scaled",
            "run_config_search_disable": True,
        }
    )
    space = plan_for(config, model, gpu_available=False).space
    assert space.dimension(Dim.INSTANCE_COUNT).values == (1, 2)
    assert len(list(space.grid())) == 2 * 2 * 2  # itself x prep x scaled
    assert space.variant(space.default).serving.instance_count == 1
    variant = space.variant({**space.default, Dim.INSTANCE_COUNT: 2}).serving
    assert variant.instance_count == 2 and [n for n, _ in variant.steps] == ["prep", "scaled"]
    assert serving_cost(variant)[0] == serving_cost(space.variant(space.default).serving)[0] + 1

    out = tmp_path / "out"
    deployer = GroupDeployer(None, out, BlsEntries(bls))  # type: ignore[arg-type]
    deployer.write("bls_config_1", variant, "fp32")
    written = from_pbtxt((out / "bls_config_1" / "config.pbtxt").read_text())
    assert (written.name, written.instance_group[0].count, written.max_batch_size) == ("bls_config_1", 2, 8)
    deployer.write("bls_config_default", space.variant(space.default).serving, "fp32")
    default = from_pbtxt((out / "bls_config_default" / "config.pbtxt").read_text())
    assert default.instance_group == bls.model.config.instance_group  # as the user wrote it


def test_a_bls_variant_loads_the_called_models_first_and_serves_alone(tmp_path: Path) -> None:
    control = RecordingControl()
    deployer = GroupDeployer(control, tmp_path / "out", BlsEntries(_read(write_bls_repository(tmp_path / "models"))))
    deployer.load("bls_config_1", VARIANT, "fp32")
    assert control.loaded == ["prep", "scaled", "bls_config_1"]
    with pytest.raises(ModelLoadError, match="cannot load beside bls_config_1"):
        deployer.load("bls_config_2", VARIANT, "fp32")
    deployer.unload("bls_config_1")
    assert control.loaded == []
    deployer.load("bls_config_2", VARIANT, "fp32")  # the called models reloaded with its configs
    assert control.loaded == ["prep", "scaled", "bls_config_2"]


def test_the_confirm_step_measures_finalists_one_at_a_time_when_they_cannot_share_a_server(tmp_path: Path) -> None:
    config = parse_profile_config(
        {
            "profile_models": {"m": {"model_config_parameters": {"instance_group": [{"count": [1, 2, 3]}]}}},
            "confirm": {"rounds": 2, "max_rounds": 2},
            "num_configs_per_model": 2,
        }
    )
    deployer = InMemoryDeployer(side_by_side=False)
    run = profile_surface(config, SyntheticSurface(seed=1, cores=2), tmp_path / "run", deployer=deployer)
    confirmation = run.conclusion.confirmation
    assert confirmation is not None and confirmation.rounds == 2 and len(confirmation.standings) >= 2
    assert deployer.most_loaded == 1 and not deployer.loaded
