"""Putting one variant on a server: the :class:`Deployer` seam between what a run does and how a
variant is served, and :class:`VariantDeployer`, which serves it from Triton (files into the
output model repository, then a load through the model-control API, never a server restart)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from tritune.domain.serving import ServingConfig
from tritune.errors import ServerError
from tritune.triton.control import ModelControl
from tritune.triton.repository import deploy_onnx


def variant_name(model: str, index: int | None) -> str:
    """Model Analyzer's names: ``<model>_config_default`` and ``<model>_config_<N>``."""
    return f"{model}_config_default" if index is None else f"{model}_config_{index}"


class Deployer(Protocol):
    """Serves variants of one model under their own names."""

    def write(self, name: str, serving: ServingConfig, precision: str) -> None:
        """The variant's files only: a variant replayed from the store is still in the output."""
        ...

    def load(self, name: str, serving: ServingConfig, precision: str) -> float:
        """Write and load the variant; the seconds the load took. ModelLoadError when it cannot."""
        ...

    def unload(self, name: str) -> None: ...

    def export(self, repository: Path, name: str, serving: ServingConfig, precision: str) -> Path:
        """A deployable entry ``<repository>/<name>`` outside the run; its config.pbtxt."""
        ...


class VariantDeployer:
    """Deploys variants of one model into ``output_repository`` on one running Triton."""

    def __init__(self, control: ModelControl, output_repository: Path, model_files: dict[str, Path]) -> None:
        # model_files: precision ("fp32", "fp16", ...) -> the ONNX file for it
        self._control = control
        self._repository = output_repository
        self._model_files = model_files
        self._loaded: set[str] = set()

    def model_file(self, precision: str) -> Path:
        """The model file of a precision; ServerError when none was prepared."""
        try:
            return self._model_files[precision]
        except KeyError:
            raise ServerError(
                f"no {precision} model file was prepared: choose one of {', '.join(self._model_files)}"
            ) from None

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

    def export(self, repository: Path, name: str, serving: ServingConfig, precision: str) -> Path:
        return deploy_onnx(repository, name, self.model_file(precision), serving).config_path
