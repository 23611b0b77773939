"""An ensemble of the user's repository (``platform: "ensemble"``, ``ensemble_scheduling``): its
composing models, in step order, and the ensemble configs tritune writes around their variants.
A BLS model (a Python model whose code calls others by name, ``bls_composing_models`` in the
YAML) is read into the same record, its calls in the order the YAML lists them.

A variant of the ensemble serves each composing model under a name of the variant's own
(``domain.names.composing_name``: ``<variant>.<model>``) and an ensemble config whose steps point
at those names, so variants can be loaded side by side; the export names them as the user did.
Everything but the steps' model names (tensor maps, inputs, outputs, the ensemble's own max batch
size) travels unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tritonclient.grpc import model_config_pb2 as mc

from tritune.domain.joint_space import MAX_STEPS
from tritune.errors import UsageError
from tritune.triton.user_model import UserModel, read_user_model


@dataclass(frozen=True)
class Ensemble:
    """The ensemble's own entry and each composing model's, in step order (each model once)."""

    model: UserModel
    steps: tuple[UserModel, ...]
    # A BLS model: its code calls the composing models by their own names, so a variant cannot
    # serve them under names of its own (and two variants cannot be loaded side by side).
    bls: bool = False

    @property
    def step_names(self) -> tuple[str, ...]:
        return tuple(step.name for step in self.steps)


def step_models(config: mc.ModelConfig) -> tuple[str, ...]:
    """The composing models' names in step order, each once (a model may serve two steps)."""
    return tuple(dict.fromkeys(step.model_name for step in config.ensemble_scheduling.step))


def read_ensemble(repository: Path, model: UserModel) -> Ensemble:
    """The ensemble ``model`` and its composing models, each read from ``repository``.

    Raises:
        UsageError: a step names no model of the repository, is an ensemble itself, or there
            are more composing models than tritune searches jointly (the message says which).
    """
    names = step_models(model.config)
    if not names:
        raise UsageError(f"{model.name} is an ensemble without steps: list its models in ensemble_scheduling")
    if len(names) > MAX_STEPS:
        raise UsageError(
            f"{model.name} has {len(names)} composing models ({', '.join(names)}); tritune searches at most "
            f"{MAX_STEPS} jointly: profile parts of the pipeline as ensembles of their own"
        )
    return Ensemble(model, _composing(repository, model, names))


def read_bls(repository: Path, model: UserModel, names: Sequence[str]) -> Ensemble:
    """The BLS ``model`` and the models it calls (``names``, bls_composing_models), each read
    from ``repository``.

    Raises:
        UsageError: the model is an ensemble, a name is the model itself or no model of the
            repository, or there are more than tritune searches jointly.
    """
    if model.is_ensemble:
        raise UsageError(
            f"{model.name} is an ensemble, whose composing models its config names: drop bls_composing_models"
        )
    if model.name in names:
        raise UsageError(f"bls_composing_models names {model.name}, the BLS model itself: list the models it calls")
    if len(names) > MAX_STEPS:
        raise UsageError(
            f"bls_composing_models names {len(names)} models; tritune searches at most {MAX_STEPS} jointly"
        )
    return Ensemble(model, _composing(repository, model, tuple(names)), bls=True)


def _composing(repository: Path, model: UserModel, names: tuple[str, ...]) -> tuple[UserModel, ...]:
    steps = []
    for name in names:
        if not (Path(repository) / name).is_dir():
            raise UsageError(
                f"{model.name}'s composing model {name!r} is not in {repository}: put it beside {model.name}"
            )
        step = read_user_model(repository, name)
        if step.is_ensemble:
            raise UsageError(
                f"{model.name}'s composing model {name!r} is an ensemble itself: tritune profiles one level of steps"
            )
        steps.append(step)
    return tuple(steps)


def ensemble_config(base: mc.ModelConfig, name: str, served: Mapping[str, str]) -> mc.ModelConfig:
    """``base`` named ``name`` with each step's model renamed as ``served`` says (model -> the
    name it is served under); everything else as it is. Pure."""
    config = mc.ModelConfig()
    config.CopyFrom(base)
    config.name = name
    for step in config.ensemble_scheduling.step:
        step.model_name = served.get(step.model_name, step.model_name)
    return config
