"""What each kind of model serves for one variant: the group of repository entries the group
deployer (deploy.py) writes, loads in order and unloads in reverse. Each kind only builds its
group from the variant; in the output repository a variant's entries are named after it where
they can be (so variants load side by side) and link the user's files; exported, everything is
named as the user named it and the files are copied."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tritonclient.grpc import model_config_pb2 as mc

from tritune.domain.names import composing_name
from tritune.domain.serving import ServingConfig
from tritune.errors import ServerError
from tritune.profile.deploy import Entry, Group
from tritune.triton.ensemble import Ensemble, ensemble_config
from tritune.triton.repository import deploy_onnx
from tritune.triton.user_model import Placement, UserModel, variant_config, with_instances, write_entry


def user_entry(served: str, model: UserModel, config: mc.ModelConfig, *, export: bool) -> Entry:
    """A model of the user's repository served as ``served`` with ``config``, beside its files:
    linked in the output repository, copied in an export."""
    placement = Placement.COPY if export else Placement.LINK
    return Entry(served, lambda repository: write_entry(repository, served, model, config, placement))


@dataclass(frozen=True)
class ModelFileEntries:
    """A model file served by tritune's runner: one entry, the file of the variant's precision."""

    files: Mapping[str, Path]  # precision ("fp32", "fp16", ...) -> the ONNX file for it
    side_by_side = True

    def model_file(self, precision: str) -> Path:
        """The model file of a precision; ServerError when none was prepared."""
        try:
            return self.files[precision]
        except KeyError:
            raise ServerError(
                f"no {precision} model file was prepared: choose one of {', '.join(self.files)}"
            ) from None

    def group(self, name: str, serving: ServingConfig, precision: str, *, export: bool) -> Group:
        path = self.model_file(precision)

        def write(repository: Path) -> Path:
            # The run's variants share the file's bytes; an export gets a file of its own.
            return deploy_onnx(repository, name, path, serving, share=not export).config_path

        return Group((Entry(name, write),))


@dataclass(frozen=True)
class UserModelEntries:
    """A model of the user's repository, served by its own backend: one entry, the user's config
    with the searched fields changed."""

    model: UserModel
    side_by_side = True

    def group(self, name: str, serving: ServingConfig, precision: str, *, export: bool) -> Group:
        # Exported, named as the user named it (an unnamed config takes its directory's name in Triton).
        config = variant_config(self.model.config, self.model.config.name if export else name, serving)
        return Group((user_entry(name, self.model, config, export=export),))


@dataclass(frozen=True)
class EnsembleEntries:
    """An ensemble of the user's repository: each composing model's variant under a name of the
    variant's own (``<variant>.<model>``), then the ensemble's config with its steps pointing at
    them (loaded after its composing models, unloaded before them)."""

    ensemble: Ensemble
    side_by_side = True

    def group(self, name: str, serving: ServingConfig, precision: str, *, export: bool) -> Group:
        model = self.ensemble.model
        name = model.name if export else name  # Triton checks a name against its directory
        served = {step: step if export else composing_name(name, step) for step in self.ensemble.step_names}
        steps = (
            user_entry(served[s.name], s, variant_config(s.config, served[s.name], serving.step(s.name)), export=export)
            for s in self.ensemble.steps
        )
        own = user_entry(name, model, ensemble_config(model.config, name, served), export=export)
        return Group((*steps, own))


@dataclass(frozen=True)
class BlsEntries:
    """A BLS model of the user's repository. Its code calls the composing models by their own
    names, so each variant serves them under those names with its configs, then the BLS model
    under the variant's name, as the user wrote it but for its instance count, the variant's own;
    two variants share the composing models' names, so a variant serves alone."""

    ensemble: Ensemble
    side_by_side = False

    def group(self, name: str, serving: ServingConfig, precision: str, *, export: bool) -> Group:
        model = self.ensemble.model
        name = model.name if export else name
        steps = (
            user_entry(s.name, s, variant_config(s.config, s.name, serving.step(s.name)), export=export)
            for s in self.ensemble.steps
        )
        own = with_instances(model.config, name, serving.instance_count, serving.instance_kind)
        return Group((*steps, user_entry(name, model, own, export=export)))


@dataclass(frozen=True)
class ConcurrentEntries:
    """Models of the user's repository profiled concurrently: each model's config, served under
    ``<variant>.<model>``, so variants load side by side (the confirm step). Nothing is served
    under the variant's own name; the first model's config stands for the variant."""

    models: tuple[UserModel, ...]
    side_by_side = True

    def group(self, name: str, serving: ServingConfig, precision: str, *, export: bool) -> Group:
        entries = []
        for model in self.models:
            served = model.name if export else composing_name(name, model.name)
            config = variant_config(model.config, served, serving.step(model.name))
            entries.append(user_entry(served, model, config, export=export))
        return Group(tuple(entries), main=0)
