"""An ensemble of the user's repository (``platform: "ensemble"``, ``ensemble_scheduling``): its
composing models, in step order, and the ensemble configs tritune writes around their variants.

A variant of the ensemble serves each composing model under a name of the variant's own
(``domain.names.composing_name``: ``<variant>.<model>``) and an ensemble config whose steps point
at those names, so variants can be loaded side by side; the export names them as the user did.
Everything but the steps' model names (tensor maps, inputs, outputs, the ensemble's own max batch
size) travels unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    steps = []
    for name in names:
        if not (Path(repository) / name).is_dir():
            raise UsageError(
                f"{model.name}'s step {name!r} is not in {repository}: put the composing model beside the ensemble"
            )
        step = read_user_model(repository, name)
        if step.is_ensemble:
            raise UsageError(f"{model.name}'s step {name!r} is an ensemble itself: tritune profiles one level of steps")
        steps.append(step)
    return Ensemble(model, tuple(steps))


def ensemble_config(base: mc.ModelConfig, name: str, served: Mapping[str, str]) -> mc.ModelConfig:
    """``base`` named ``name`` with each step's model renamed as ``served`` says (model -> the
    name it is served under); everything else as it is. Pure."""
    config = mc.ModelConfig()
    config.CopyFrom(base)
    config.name = name
    for step in config.ensemble_scheduling.step:
        step.model_name = served.get(step.model_name, step.model_name)
    return config
