"""Putting one variant on a server: the :class:`Deployer` seam between what a run does and how a
variant is served, and Triton's deployers (files into the output model repository, then a load
through the model-control API, never a server restart): :class:`VariantDeployer` for a model file
served by tritune's runner, :class:`UserModelDeployer` for a model of the user's repository,
:class:`EnsembleDeployer` for an ensemble of it (its composing models' variants together),
:class:`BlsDeployer` for a BLS model of it (the models it calls, under their own names),
:class:`ConcurrentDeployer` for models of it profiled concurrently (each under the variant's name)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from tritonclient.grpc import model_config_pb2 as mc

from tritune.domain.names import composing_name
from tritune.domain.serving import ServingConfig
from tritune.errors import ModelError, ModelLoadError, ServerError
from tritune.triton.control import ModelControl
from tritune.triton.ensemble import Ensemble, ensemble_config
from tritune.triton.repository import deploy_onnx
from tritune.triton.user_model import (
    Placement,
    UserModel,
    served_config,
    variant_config,
    with_instances,
    write_entry,
)

if TYPE_CHECKING:
    from tritune.loadgen.warmup import Warmup, WarmupFn


def variant_name(model: str, index: int | None) -> str:
    """Model Analyzer's names: ``<model>_config_default`` and ``<model>_config_<N>``."""
    return f"{model}_config_default" if index is None else f"{model}_config_{index}"


class Deployer(Protocol):
    """Serves variants of one model under their own names."""

    # Whether two variants can be loaded together (the confirm step loads its finalists side by
    # side when they can, one at a time when they cannot).
    side_by_side: bool

    def write(self, name: str, serving: ServingConfig, precision: str) -> None:
        """The variant's files only: a variant replayed from the store is still in the output."""
        ...

    def load(self, name: str, serving: ServingConfig, precision: str) -> float:
        """Write and load the variant; the seconds the load took. ModelLoadError when it cannot."""
        ...

    def unload(self, name: str) -> None: ...

    def check_server(self) -> None:
        """ServerError when the server serving the variants is gone (asked after a failed
        measurement: a dead server's failures are not the variant's results)."""
        ...

    def export(self, repository: Path, name: str, serving: ServingConfig, precision: str) -> Path:
        """A deployable entry ``<repository>/<name>`` outside the run; its config.pbtxt."""
        ...


def load_and_warm_up(
    deployer: Deployer,
    warm_up: WarmupFn | None,
    name: str,
    serving: ServingConfig,
    precision: str,
    client_batch_size: int,
) -> tuple[float, Warmup | None]:
    """Load a variant and warm it up for its first measurement (the search's and the confirm
    step's alike: a cold variant's first window measures cuDNN's planning, not the config); the
    load's seconds and the warm-up (None when warm-up is off). ModelLoadError when it cannot load."""
    load_time_s = deployer.load(name, serving, precision)
    return load_time_s, (warm_up(name, client_batch_size) if warm_up is not None else None)


class _ControlledDeployer:
    """Variants written into ``output_repository`` and loaded on one running Triton; subclasses
    say how a variant's entry is written (``export`` into a repository)."""

    side_by_side = True

    def __init__(self, control: ModelControl, output_repository: Path) -> None:
        self._control = control
        self._repository = output_repository
        self._loaded: set[str] = set()

    def write(self, name: str, serving: ServingConfig, precision: str) -> None:
        self.export(self._repository, name, serving, precision)

    def load(self, name: str, serving: ServingConfig, precision: str) -> float:
        self.write(name, serving, precision)
        load_time_s = self._control.load(name)
        self._loaded.add(name)
        return load_time_s

    def unload(self, name: str) -> None:
        if name in self._loaded:
            self._loaded.discard(name)
            self._control.unload(name)

    def check_server(self) -> None:
        self._control.check_server()

    def export(self, repository: Path, name: str, serving: ServingConfig, precision: str) -> Path:
        raise NotImplementedError


class VariantDeployer(_ControlledDeployer):
    """Deploys variants of one model file, served by tritune's runner."""

    def __init__(self, control: ModelControl, output_repository: Path, model_files: dict[str, Path]) -> None:
        # model_files: precision ("fp32", "fp16", ...) -> the ONNX file for it
        super().__init__(control, output_repository)
        self._model_files = model_files

    def model_file(self, precision: str) -> Path:
        """The model file of a precision; ServerError when none was prepared."""
        try:
            return self._model_files[precision]
        except KeyError:
            raise ServerError(
                f"no {precision} model file was prepared: choose one of {', '.join(self._model_files)}"
            ) from None

    def export(self, repository: Path, name: str, serving: ServingConfig, precision: str) -> Path:
        return deploy_onnx(repository, name, self.model_file(precision), serving).config_path


class UserModelDeployer(_ControlledDeployer):
    """Deploys variants of a model of the user's repository, served by its own backend: each is
    the user's config with the searched fields changed, beside links to the user's files."""

    def __init__(self, control: ModelControl, output_repository: Path, model: UserModel) -> None:
        super().__init__(control, output_repository)
        self._model = model

    def completed_config(self) -> mc.ModelConfig:
        """The config Triton completes from the user's (what a backend's auto-complete adds):
        the model is loaded once, as written, under its own name, read, and unloaded."""
        return completed_configs(self._control, self._repository, self._model, ())[self._model.name]

    def write(self, name: str, serving: ServingConfig, precision: str) -> None:
        self._write(self._repository, name, name, serving, Placement.LINK)

    def export(self, repository: Path, name: str, serving: ServingConfig, precision: str) -> Path:
        # Named as the user named it (an unnamed config takes its directory's name in Triton).
        return self._write(repository, name, self._model.config.name, serving, Placement.COPY)

    def _write(self, repository: Path, entry: str, name: str, serving: ServingConfig, placement: Placement) -> Path:
        config = variant_config(self._model.config, name, serving)
        return write_entry(repository, entry, self._model, config, placement)


def completed_configs(
    control: ModelControl, repository: Path, model: UserModel, steps: tuple[UserModel, ...]
) -> dict[str, mc.ModelConfig]:
    """The configs Triton completes from the user's (what a backend's auto-complete adds), by
    name: ``steps`` (an ensemble's composing models) and then ``model`` are loaded once, as
    written, under their own names, read, and unloaded."""
    for entry in (*steps, model):
        as_written = mc.ModelConfig()
        as_written.CopyFrom(entry.config)
        as_written.name = entry.name  # Triton checks the name against the entry's directory
        write_entry(repository, entry.name, entry, as_written, Placement.LINK)
    loaded: list[str] = []
    try:
        for entry in (*steps, model):
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


class EnsembleDeployer(_ControlledDeployer):
    """Deploys variants of an ensemble of the user's repository: each composing model's variant
    under a name of the variant's own (``<variant>.<model>``), beside links to the user's files,
    and the ensemble's config with its steps pointing at them. The ensemble is loaded after its
    composing models and unloaded before them."""

    def __init__(self, control: ModelControl, output_repository: Path, ensemble: Ensemble) -> None:
        super().__init__(control, output_repository)
        self._ensemble = ensemble

    def completed_configs(self) -> dict[str, mc.ModelConfig]:
        """Triton's completed configs of the composing models and the ensemble, by name."""
        return completed_configs(self._control, self._repository, self._ensemble.model, self._ensemble.steps)

    def load(self, name: str, serving: ServingConfig, precision: str) -> float:
        self.write(name, serving, precision)
        seconds = 0.0
        try:
            for step in self._ensemble.step_names:
                seconds += self._control.load(self._served_name(name, step))
                self._loaded.add(self._served_name(name, step))
            seconds += self._control.load(name)
        except ModelLoadError:
            self._unload_steps(name)
            raise
        self._loaded.add(name)
        return seconds

    def unload(self, name: str) -> None:
        super().unload(name)
        self._unload_steps(name)

    def _unload_steps(self, name: str) -> None:
        for step in reversed(self._ensemble.step_names):
            super().unload(self._served_name(name, step))

    def _served_name(self, name: str, step: str) -> str:
        """The name variant ``name`` serves composing model ``step`` under."""
        return composing_name(name, step)

    def write(self, name: str, serving: ServingConfig, precision: str) -> None:
        served = {step: composing_name(name, step) for step in self._ensemble.step_names}
        self._write(self._repository, name, served, serving, Placement.LINK)

    def export(self, repository: Path, name: str, serving: ServingConfig, precision: str) -> Path:
        """Every composing model and the ensemble, named as the user named them (Triton checks a
        name against its directory); the ensemble's config.pbtxt."""
        model = self._ensemble.model
        served = {step: step for step in self._ensemble.step_names}
        return self._write(repository, model.name, served, serving, Placement.COPY)

    def _write(
        self, repository: Path, name: str, served: dict[str, str], serving: ServingConfig, placement: Placement
    ) -> Path:
        """Each composing model under its name in ``served``, then the ensemble ``name`` whose
        steps point at them; the ensemble's config.pbtxt."""
        for step in self._ensemble.steps:
            config = variant_config(step.config, served[step.name], serving.step(step.name))
            write_entry(repository, served[step.name], step, config, placement)
        model = self._ensemble.model
        return write_entry(repository, name, model, ensemble_config(model.config, name, served), placement)


class BlsDeployer(EnsembleDeployer):
    """Deploys variants of a BLS model of the user's repository. Its code calls the composing
    models by their own names, so each variant (re)loads them under those names with its
    configs, then the BLS model under the variant's name; two variants cannot be loaded side by
    side. The BLS model's own config is the user's (named as the variant)."""

    side_by_side = False

    def load(self, name: str, serving: ServingConfig, precision: str) -> float:
        loaded = [n for n in self._loaded if n not in self._ensemble.step_names]
        if loaded:  # the composing models are shared: another variant would now call this one's
            raise ModelLoadError(f"{name} cannot load beside {', '.join(loaded)}: a BLS variant serves alone")
        return super().load(name, serving, precision)

    def write(self, name: str, serving: ServingConfig, precision: str) -> None:
        self._write(self._repository, name, serving, Placement.LINK)

    def export(self, repository: Path, name: str, serving: ServingConfig, precision: str) -> Path:
        return self._write(repository, self._ensemble.model.name, serving, Placement.COPY)

    def _served_name(self, name: str, step: str) -> str:
        return step

    def _write(  # type: ignore[override]
        self, repository: Path, name: str, serving: ServingConfig, placement: Placement
    ) -> Path:
        """Each composing model under its own name with the variant's config, then the BLS model
        ``name`` as the user wrote it but for its instance count, the variant's own; the BLS
        model's config.pbtxt."""
        for step in self._ensemble.steps:
            config = variant_config(step.config, step.name, serving.step(step.name))
            write_entry(repository, step.name, step, config, placement)
        model = self._ensemble.model
        own = with_instances(model.config, name, serving.instance_count, serving.instance_kind)
        return write_entry(repository, name, model, own, placement)


class ConcurrentDeployer(_ControlledDeployer):
    """Deploys variants of models of the user's repository profiled concurrently: a variant is
    each model's config, served under ``<variant>.<model>`` beside links to the user's files, so
    variants load side by side (the confirm step). Nothing is served under the variant's own
    name; the export names each model as the user did."""

    def __init__(self, control: ModelControl, output_repository: Path, models: tuple[UserModel, ...]) -> None:
        super().__init__(control, output_repository)
        self._models = models

    def completed_configs(self) -> dict[str, mc.ModelConfig]:
        """Triton's completed configs of the models, by name (each loaded as written, then unloaded)."""
        first, *others = self._models
        return completed_configs(self._control, self._repository, first, tuple(others))

    def load(self, name: str, serving: ServingConfig, precision: str) -> float:
        self.write(name, serving, precision)
        seconds = 0.0
        try:
            for model in self._models:
                seconds += self._control.load(composing_name(name, model.name))
                self._loaded.add(composing_name(name, model.name))
        except ModelLoadError:
            self.unload(name)
            raise
        return seconds

    def unload(self, name: str) -> None:
        for model in reversed(self._models):
            super().unload(composing_name(name, model.name))

    def write(self, name: str, serving: ServingConfig, precision: str) -> None:
        self._write(
            self._repository, {m.name: composing_name(name, m.name) for m in self._models}, serving, Placement.LINK
        )

    def export(self, repository: Path, name: str, serving: ServingConfig, precision: str) -> Path:
        """Every model, named as the user named it; the first model's config.pbtxt."""
        return self._write(repository, {m.name: m.name for m in self._models}, serving, Placement.COPY)

    def _write(self, repository: Path, served: dict[str, str], serving: ServingConfig, placement: Placement) -> Path:
        paths = []
        for model in self._models:
            config = variant_config(model.config, served[model.name], serving.step(model.name))
            paths.append(write_entry(repository, served[model.name], model, config, placement))
        return paths[0]
