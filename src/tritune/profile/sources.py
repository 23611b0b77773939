"""What a run profiles, resolved once from the config: a model file (prepared, served by
tritune's runner), a model of the user's repository (served by its own backend), an ensemble or a
BLS model of it, or models of it profiled concurrently. Each becomes one :class:`Source` that
knows how its variants are served (the kind of group the group deployer loads, entries.py) and
how its model is known: a model file's at once, a repository's models once Triton has completed
their configs (what a backend's auto-complete adds)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from tritonclient.grpc import model_config_pb2 as mc

from tritune.config import ProfileConfig
from tritune.domain.backends import backend_name
from tritune.errors import ModelError, ModelLoadError, UsageError
from tritune.profile.concurrent import concurrent_model, refuse_ensembles
from tritune.profile.deploy import GroupDeployer, GroupKind
from tritune.profile.entries import BlsEntries, ConcurrentEntries, EnsembleEntries, ModelFileEntries, UserModelEntries
from tritune.profile.records import ModelFiles
from tritune.triton.control import ModelControl
from tritune.triton.ensemble import Ensemble, read_bls, read_ensemble
from tritune.triton.user_model import (
    Placement,
    UserModel,
    read_user_model,
    served_config,
    serving_of,
    signature_of,
    write_entry,
)

Completed = Mapping[str, mc.ModelConfig]  # Triton's completed configs, by model name


@dataclass(frozen=True)
class Source:
    """One run's model before its server starts: ``kind`` serves its variants; ``model`` makes
    the search's model from Triton's completed configs of ``completes`` (loaded as written, in
    this order; none for a model file, whose model is known at once)."""

    kind: GroupKind
    model: Callable[[Completed], ModelFiles]
    completes: tuple[UserModel, ...] = ()
    # Why a server that is sent each variant's files (one reading another repository) cannot
    # serve it; None: any server can.
    needs_own_repository: str | None = None

    def serve(self, control: ModelControl, output_repository: Path) -> tuple[ModelFiles, GroupDeployer]:
        """The search's model and the deployer of its variants on ``control``'s server."""
        if self.needs_own_repository is not None and control.sends_files:
            raise UsageError(self.needs_own_repository)
        completed = completed_configs(control, output_repository, self.completes) if self.completes else {}
        return self.model(completed), GroupDeployer(control, output_repository, self.kind)


def resolve_source(config: ProfileConfig, name: str, model_file: Callable[[], ModelFiles]) -> Source:
    """What ``name`` is in ``config``: an entry of the user's repository (its config read; an
    ensemble's or a BLS model's composing models too; models profiled concurrently each), or the
    model file ``model_file`` makes (prepared, its shapes checked)."""
    repository = config.model_repository
    if repository is not None and config.concurrent:
        return concurrent_source(tuple(read_user_model(repository, model) for model in config.profile_models))
    if repository is not None:
        user = read_user_model(repository, name)
        if config.bls_composing_models:
            return ensemble_source(read_bls(repository, user, config.bls_composing_models))
        return ensemble_source(read_ensemble(repository, user)) if user.is_ensemble else user_source(user)
    return file_source(model_file())


def file_source(model: ModelFiles) -> Source:
    """A model file (one per precision) served by tritune's runner."""
    return Source(ModelFileEntries(model.files), lambda _: model)


def user_source(user: UserModel) -> Source:
    """A model of the user's repository as Triton serves it: its tensors and its current serving
    configuration come from the config Triton completes (auto-complete included)."""
    return Source(UserModelEntries(user), lambda completed: _completed_model(user, completed), (user,))


def ensemble_source(ensemble: Ensemble) -> Source:
    """An ensemble (or a BLS model) of the user's repository as Triton serves it: the ensemble's
    tensors and max batch size, and each composing model as a single one is seen."""

    def model(completed: Completed) -> ModelFiles:
        steps = tuple(_completed_model(step, completed) for step in ensemble.steps)
        return replace(_completed_model(ensemble.model, completed), steps=steps)

    completes = (*ensemble.steps, ensemble.model)
    if ensemble.bls:  # its code calls the composing models, which each variant loads by name
        return Source(BlsEntries(ensemble), model, completes)
    # Triton polls an ensemble's composing models from its own repository, where models sent in
    # a load request are not ("model not found in any model repository").
    refusal = (
        f"{ensemble.model.name} is an ensemble, which tritune profiles on a server that reads the run's output "
        "repository: use the embedded or local launch mode, not a remote server"
    )
    return Source(EnsembleEntries(ensemble), model, completes, needs_own_repository=refusal)


def concurrent_source(models: tuple[UserModel, ...]) -> Source:
    """Models of the user's repository profiled concurrently: one model named by them all.

    Raises:
        UsageError: one of them is an ensemble (its composing models are a search of its own).
    """
    refuse_ensembles(models)
    return Source(ConcurrentEntries(models), lambda completed: concurrent_model(models, completed), models)


def _completed_model(user: UserModel, completed: Completed) -> ModelFiles:
    served = completed[user.name]
    backend = backend_name(served.backend, served.platform) if not user.is_ensemble else None
    return ModelFiles(user.name, {}, signature_of(served), user, serving_of(served), backend)


def completed_configs(
    control: ModelControl, repository: Path, models: tuple[UserModel, ...]
) -> dict[str, mc.ModelConfig]:
    """The configs Triton completes from the user's (what a backend's auto-complete adds), by
    name: ``models`` are loaded once, as written, under their own names and in this order (a
    composing model before the ensemble that calls it), read, and unloaded in reverse."""
    for entry in models:
        as_written = mc.ModelConfig()
        as_written.CopyFrom(entry.config)
        as_written.name = entry.name  # Triton checks the name against the entry's directory
        write_entry(repository, entry.name, entry, as_written, Placement.LINK)
    loaded: list[str] = []
    try:
        for entry in models:
            try:
                control.load(entry.name)
            except ModelLoadError as error:
                raise ModelError(
                    f"{entry.name} as written in {entry.directory} does not load ({error.message}): fix the model "
                    "so Triton serves it, then profile it",
                    detail=error.detail,
                ) from None
            loaded.append(entry.name)
        return {name: served_config(control.config(name)) for name in loaded}
    finally:
        for name in reversed(loaded):
            control.unload(name)
