"""Runtimes the runner can execute a model with, by name.

A runtime is any class with ``__init__(model_path, options, device)`` and
``run(feeds) -> outputs``; adding PyTorch or OpenVINO means adding a module here and one
line in ``_FACTORIES``, with no change to the Triton plumbing.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Protocol

from .base import Device, Runtime

# name -> "module:Class" (imported lazily, so one runtime's missing library never breaks another)
_FACTORIES: dict[str, str] = {
    "onnxruntime": "ort:OnnxRuntimeRuntime",
}


class RuntimeFactory(Protocol):
    def __call__(self, model_path: str, options: Mapping[str, str], device: Device) -> Runtime: ...


def available_runtimes() -> list[str]:
    return sorted(_FACTORIES)


def create_runtime(name: str, model_path: str, options: Mapping[str, str], device: Device) -> Runtime:
    if name not in _FACTORIES:
        raise ValueError(f"unknown runtime {name!r}: choose one of {', '.join(available_runtimes())}")
    module_name, class_name = _FACTORIES[name].split(":")
    module = importlib.import_module(f".{module_name}", __name__)
    factory: RuntimeFactory = getattr(module, class_name)
    return factory(model_path, options, device)


__all__ = ["Device", "Runtime", "available_runtimes", "create_runtime"]
