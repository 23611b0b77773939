"""An ensemble of the user's repository: its composing models read in step order, each variant's
entries written under names of its own, the export named as the user named everything."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tritune.domain.serving import DynamicBatching, ServingConfig
from tritune.errors import UsageError
from tritune.profile.deploy import GroupDeployer
from tritune.profile.entries import EnsembleEntries
from tritune.testing.ensemble_repository import write_ensemble_repository
from tritune.triton.ensemble import ensemble_config, read_ensemble, step_models
from tritune.triton.model_config import from_pbtxt
from tritune.triton.user_model import read_user_model

VARIANT = ServingConfig(
    max_batch_size=8,
    steps=(
        ("prep", ServingConfig(max_batch_size=8, instance_count=2)),
        ("scaled", ServingConfig(max_batch_size=16, instance_count=1, dynamic_batching=DynamicBatching(200))),
    ),
)


def _read(repository: Path) -> Any:
    return read_ensemble(repository, read_user_model(repository, "pipeline"))


def test_the_ensembles_composing_models_are_read_in_step_order(tmp_path: Path) -> None:
    ensemble = _read(write_ensemble_repository(tmp_path / "models"))
    assert ensemble.model.is_ensemble and not any(step.is_ensemble for step in ensemble.steps)
    assert ensemble.step_names == ("prep", "scaled") == step_models(ensemble.model.config)
    renamed = ensemble_config(ensemble.model.config, "v", {"prep": "v.prep"})
    assert [s.model_name for s in renamed.ensemble_scheduling.step] == ["v.prep", "scaled"] and renamed.name == "v"
    assert ensemble.model.config.ensemble_scheduling.step[0].model_name == "prep"  # the user's, untouched


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda root: shutil.rmtree(root / "prep"), r"composing model 'prep' is not in .*: put it beside"),
        (
            lambda root: (root / "prep" / "config.pbtxt").write_text('platform: "ensemble"\n'),
            r"composing model 'prep' is an ensemble itself",
        ),
    ],
)
def test_an_ensemble_that_cannot_be_profiled_says_why(tmp_path: Path, change: Any, message: str) -> None:
    root = write_ensemble_repository(tmp_path / "models")
    change(root)
    with pytest.raises(UsageError, match=message):
        _read(root)


def test_an_ensemble_of_too_many_models_is_refused(tmp_path: Path) -> None:
    root = write_ensemble_repository(tmp_path / "models")
    config = (root / "pipeline" / "config.pbtxt").read_text()
    steps = "".join(f'{{ model_name: "m{i}" model_version: -1 }},' for i in range(5))
    (root / "pipeline" / "config.pbtxt").write_text(config.replace("step [", f"step [ {steps}"))
    with pytest.raises(UsageError, match="has 7 composing models .* tritune searches at most 4 jointly"):
        _read(root)


def test_a_variant_serves_its_composing_models_under_its_own_names(tmp_path: Path) -> None:
    repository = write_ensemble_repository(tmp_path / "models")
    out = tmp_path / "out"
    deployer = GroupDeployer(None, out, EnsembleEntries(_read(repository)))  # type: ignore[arg-type]  # writes only
    deployer.write("pipeline_config_1", VARIANT, "fp32")
    ensemble = from_pbtxt((out / "pipeline_config_1" / "config.pbtxt").read_text())
    steps = [s.model_name for s in ensemble.ensemble_scheduling.step]
    assert steps == ["pipeline_config_1.prep", "pipeline_config_1.scaled"] and ensemble.max_batch_size == 8
    prep = from_pbtxt((out / "pipeline_config_1.prep" / "config.pbtxt").read_text())
    assert (prep.name, prep.instance_group[0].count, prep.max_batch_size) == ("pipeline_config_1.prep", 2, 8)
    scaled = from_pbtxt((out / "pipeline_config_1.scaled" / "config.pbtxt").read_text())
    assert scaled.dynamic_batching.max_queue_delay_microseconds == 200 and scaled.max_batch_size == 16
    assert scaled.parameters["scale"].string_value == "2.0"  # the user's own parameters travel
    assert (out / "pipeline_config_1.scaled" / "1" / "model.py").is_symlink()
    assert (out / "pipeline_config_1" / "1").is_dir()

    exported = deployer.export(tmp_path / "exported", "pipeline", VARIANT, "fp32")
    assert exported == tmp_path / "exported" / "pipeline" / "config.pbtxt"
    ensemble = from_pbtxt(exported.read_text())
    assert [s.model_name for s in ensemble.ensemble_scheduling.step] == ["prep", "scaled"]
    prep = from_pbtxt((tmp_path / "exported" / "prep" / "config.pbtxt").read_text())
    assert (prep.name, prep.instance_group[0].count) == ("prep", 2)
    assert not (tmp_path / "exported" / "scaled" / "1" / "model.py").is_symlink()


def test_an_ensemble_on_a_server_that_reads_another_repository_is_refused(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from tritune.config import parse_profile_config
    from tritune.profile.sources import resolve_source

    repository = write_ensemble_repository(tmp_path / "models")
    config = parse_profile_config({"model_repository": str(repository), "profile_models": ["pipeline"]})
    source = resolve_source(config, "pipeline", model_file=lambda: pytest.fail("no model file is read"))
    assert isinstance(source.kind, EnsembleEntries)
    remote = SimpleNamespace(sends_files=True)  # loads would send config and files
    with pytest.raises(UsageError, match="pipeline is an ensemble, .* use the embedded or local launch mode"):
        source.serve(remote, tmp_path / "run")  # type: ignore[arg-type]


def test_an_edit_to_a_composing_model_starts_a_new_run(tmp_path: Path) -> None:
    from tritune.config import parse_profile_config
    from tritune.domain.model import ModelSignature
    from tritune.profile.identity import run_fingerprint
    from tritune.profile.records import ModelFiles

    repository = write_ensemble_repository(tmp_path / "models")
    config = parse_profile_config({"model_repository": str(repository), "profile_models": ["pipeline"]})

    def fingerprint() -> str:
        ensemble = _read(repository)
        steps = tuple(ModelFiles(s.name, {}, ModelSignature((), ()), user=s) for s in ensemble.steps)
        return run_fingerprint(
            ModelFiles("pipeline", {}, ModelSignature((), ()), user=ensemble.model, steps=steps), config
        )

    before = fingerprint()
    assert fingerprint() == before  # the same repository resumes
    (repository / "prep" / "1" / "model.py").write_text(
        (repository / "prep" / "1" / "model.py").read_text() + "\n# edited\n"
    )
    assert fingerprint() != before
