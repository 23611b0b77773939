"""The one group deployer, without a server: a variant's entries load in order and unload in
reverse, also when a load fails midway; and each source resolves to the kind of group it serves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tritune.config import parse_profile_config
from tritune.domain.model import ModelSignature
from tritune.domain.serving import ServingConfig
from tritune.errors import ModelLoadError
from tritune.profile.deploy import GroupDeployer
from tritune.profile.entries import (
    BlsEntries,
    ConcurrentEntries,
    EnsembleEntries,
    ModelFileEntries,
    UserModelEntries,
)
from tritune.profile.records import ModelFiles
from tritune.profile.sources import resolve_source
from tritune.testing.deployer import RecordingControl
from tritune.testing.ensemble_repository import write_bls_repository, write_ensemble_repository
from tritune.triton.ensemble import read_ensemble
from tritune.triton.model_config import from_pbtxt, to_json
from tritune.triton.user_model import read_user_model

VARIANT = ServingConfig(
    max_batch_size=8,
    steps=(("prep", ServingConfig(max_batch_size=8)), ("scaled", ServingConfig(max_batch_size=8))),
)


def _ensemble(tmp_path: Path, refuse: tuple[str, ...] = ()) -> tuple[RecordingControl, GroupDeployer]:
    repository = write_ensemble_repository(tmp_path / "models")
    ensemble = read_ensemble(repository, read_user_model(repository, "pipeline"))
    control = RecordingControl(refuse)
    return control, GroupDeployer(control, tmp_path / "out", EnsembleEntries(ensemble))


def test_a_group_loads_in_order_and_unloads_in_reverse(tmp_path: Path) -> None:
    control, deployer = _ensemble(tmp_path)
    deployer.load("v1", VARIANT, "fp32")
    deployer.load("v2", VARIANT, "fp32")  # side by side: names of its own
    assert control.loaded == ["v1.prep", "v1.scaled", "v1", "v2.prep", "v2.scaled", "v2"]
    deployer.unload("v1")
    assert control.calls[-3:] == ["unload v1", "unload v1.scaled", "unload v1.prep"]
    assert control.loaded == ["v2.prep", "v2.scaled", "v2"]
    deployer.unload("v1")  # nothing of it is left to unload
    assert control.calls[-1] == "unload v1.prep"


@pytest.mark.parametrize(("refused", "unloaded"), [("v.scaled", ["v.prep"]), ("v", ["v.scaled", "v.prep"])])
def test_a_load_that_fails_midway_unloads_what_it_loaded_in_reverse(
    tmp_path: Path, refused: str, unloaded: list[str]
) -> None:
    control, deployer = _ensemble(tmp_path, refuse=(refused,))
    with pytest.raises(ModelLoadError, match=f"model '{refused}' failed to load"):
        deployer.load("v", VARIANT, "fp32")
    loads = [c for c in control.calls if c.startswith("load")]
    assert control.calls == [*loads, *(f"unload {name}" for name in unloaded)]
    assert loads[-1] == f"load {refused}" and control.loaded == []
    deployer.unload("v")  # the evaluator's unload after a failed load finds nothing loaded
    assert control.calls[-1] == f"unload {unloaded[-1]}"


def test_models_profiled_concurrently_are_one_group_and_unload_in_reverse_after_a_failure(tmp_path: Path) -> None:
    repository = write_ensemble_repository(tmp_path / "models")
    models = tuple(read_user_model(repository, m) for m in ("prep", "scaled"))
    control = RecordingControl(refuse=("v.scaled",))
    deployer = GroupDeployer(control, tmp_path / "out", ConcurrentEntries(models))
    with pytest.raises(ModelLoadError):
        deployer.load("v", VARIANT, "fp32")
    assert control.calls == ["load v.prep", "load v.scaled", "unload v.prep"] and control.loaded == []


class _Completing(RecordingControl):
    """Completes a config as Triton would were nothing to add: what was written, read back."""

    sends_files = False

    def __init__(self, repository: Path) -> None:
        super().__init__()
        self.repository = repository

    def config(self, name: str) -> dict[str, Any]:
        written = from_pbtxt((self.repository / name / "config.pbtxt").read_text())
        return dict(json.loads(to_json(written)))


@pytest.mark.parametrize(
    ("settings", "name", "kind", "completed"),
    [
        ({}, "prep", UserModelEntries, ["prep"]),
        ({}, "pipeline", EnsembleEntries, ["prep", "scaled", "pipeline"]),
        ({"bls_composing_models": "prep, scaled"}, "bls", BlsEntries, ["prep", "scaled", "bls"]),
        (
            {"profile_models": "prep,scaled", "run_config_profile_models_concurrently_enable": True},
            "prep_and_scaled",
            ConcurrentEntries,
            ["prep", "scaled"],
        ),
    ],
)
def test_each_source_of_a_repository_resolves_to_its_kind_of_group(
    tmp_path: Path, settings: dict[str, Any], name: str, kind: type, completed: list[str]
) -> None:
    repository = write_bls_repository(tmp_path / "models")
    config = parse_profile_config({"model_repository": str(repository), "profile_models": [name], **settings})
    source = resolve_source(config, name, model_file=lambda: pytest.fail("no model file is read"))
    assert isinstance(source.kind, kind) and [m.name for m in source.completes] == completed
    control = _Completing(tmp_path / "out")
    model, deployer = source.serve(control, tmp_path / "out")  # type: ignore[arg-type]
    assert model.name == name and deployer.kind is source.kind
    assert [c.split()[1] for c in control.calls] == [*completed, *reversed(completed)]  # loaded as written
    assert [s.name for s in model.steps] == ([] if kind is UserModelEntries else ["prep", "scaled"])


def test_a_model_file_resolves_to_its_own_entry(tmp_path: Path) -> None:
    config = parse_profile_config({"profile_models": ["m"]})
    files = ModelFiles("m", {"fp32": tmp_path / "m.onnx"}, ModelSignature((), ()))
    source = resolve_source(config, "m", model_file=lambda: files)
    assert source.kind == ModelFileEntries(files.files) and source.completes == ()
    model, deployer = source.serve(RecordingControl(), tmp_path / "out")  # type: ignore[arg-type]
    assert model is files and deployer.side_by_side
