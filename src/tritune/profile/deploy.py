"""Putting one variant on the running server: files into the output model repository, then a
load through the model-control API (never a server restart)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from tritonclient.grpc import model_config_pb2 as mc

from tritune.domain.serving import ServingConfig
from tritune.errors import ServerError
from tritune.triton.control import ModelControl
from tritune.triton.repository import deploy_onnx


def variant_name(model: str, index: int | None) -> str:
    """Model Analyzer's names: ``<model>_config_default`` and ``<model>_config_<N>``."""
    return f"{model}_config_default" if index is None else f"{model}_config_{index}"


@dataclass(frozen=True)
class LoadedVariant:
    name: str
    config: mc.ModelConfig
    load_time_s: float


class VariantDeployer:
    """Deploys variants of one model into ``output_repository`` on one running server."""

    def __init__(self, control: ModelControl, output_repository: Path, model_files: dict[str, Path]) -> None:
        # model_files: precision ("fp32", "fp16", ...) -> the ONNX file for it
        self._control = control
        self._repository = output_repository
        self._model_files = model_files
        self._loaded: set[str] = set()

    def model_file(self, precision: str) -> Path:
        try:
            return self._model_files[precision]
        except KeyError:
            raise ServerError(
                f"no {precision} model file was prepared: choose one of {', '.join(self._model_files)}"
            ) from None

    def write(self, name: str, serving: ServingConfig, precision: str = "fp32") -> mc.ModelConfig:
        return deploy_onnx(self._repository, name, self.model_file(precision), serving).config

    def load(self, name: str, serving: ServingConfig, precision: str = "fp32") -> LoadedVariant:
        config = self.write(name, serving, precision)
        load_time_s = self._control.load(name)
        self._loaded.add(name)
        return LoadedVariant(name, config, load_time_s)

    def unload(self, name: str) -> None:
        if name in self._loaded:
            self._loaded.discard(name)
            self._control.unload(name)

    def unload_all(self) -> None:
        for name in list(self._loaded):
            with contextlib.suppress(ServerError):
                self.unload(name)
