"""ONNX Runtime, configured from the runner options in config.pbtxt ``parameters``:

- ``execution_providers``: comma-separated, e.g. "CUDAExecutionProvider,CPUExecutionProvider"
  (default: CUDA first on a GPU instance, CPU otherwise);
- ``intra_op_threads`` / ``inter_op_threads``: 0 keeps ONNX Runtime's default;
- ``graph_optimization_level``: disable, basic, extended or all;
- the GPU options (IO binding, CUDA graphs, TensorRT): see ``ort_options``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import onnxruntime as ort

from ..device import as_host
from .base import Device
from .ort_binding import BoundRunner
from .ort_options import GPU_PROVIDERS, IoPlan, Provider, io_plan, with_options

_OPTIMIZATION_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def session_options(options: Mapping[str, str]) -> ort.SessionOptions:
    session = ort.SessionOptions()
    intra = int(options.get("intra_op_threads", "0") or 0)
    inter = int(options.get("inter_op_threads", "0") or 0)
    if intra > 0:
        session.intra_op_num_threads = intra
    if inter > 0:
        session.inter_op_num_threads = inter
        session.execution_mode = ort.ExecutionMode.ORT_PARALLEL
    level = options.get("graph_optimization_level", "all") or "all"
    if level not in _OPTIMIZATION_LEVELS:
        raise ValueError(f"graph_optimization_level {level!r} is not one of {', '.join(_OPTIMIZATION_LEVELS)}")
    session.graph_optimization_level = _OPTIMIZATION_LEVELS[level]
    return session


def providers_for(options: Mapping[str, str], device: Device) -> list[Provider]:
    requested = [p.strip() for p in (options.get("execution_providers") or "").split(",") if p.strip()]
    if not requested:
        requested = (
            ["CUDAExecutionProvider", "CPUExecutionProvider"] if device.kind == "GPU" else ["CPUExecutionProvider"]
        )
    available = set(ort.get_available_providers())
    missing = [p for p in requested if p not in available]
    if missing:
        raise ValueError(
            f"execution provider(s) {', '.join(missing)} not available in this onnxruntime "
            f"(available: {', '.join(sorted(available))}): install onnxruntime-gpu or choose another provider"
        )
    return with_options(requested, options, device.device_id)


def _provider_name(provider: Provider) -> str:
    return provider if isinstance(provider, str) else provider[0]


class OnnxRuntimeRuntime:
    def __init__(self, model_path: str, options: Mapping[str, str], device: Device) -> None:
        providers = providers_for(options, device)
        self.notes: list[str] = []  # what the server log should say about this session, once
        try:
            self._session = ort.InferenceSession(model_path, sess_options=session_options(options), providers=providers)
        except Exception as error:
            if not options.get("enable_cuda_graph"):
                raise
            # CUDA graphs refuse a model with nodes outside the CUDA EP: serve it without them.
            self.notes.append(f"CUDA graphs off ({type(error).__name__}: {error})")
            options = {key: value for key, value in options.items() if key != "enable_cuda_graph"}
            providers = providers_for(options, device)
            self._session = ort.InferenceSession(model_path, sess_options=session_options(options), providers=providers)
        self._output_names = [o.name for o in self._session.get_outputs()]
        self.input_names = [i.name for i in self._session.get_inputs()]
        self.output_names = list(self._output_names)
        # The provider the session really got first (ONNX Runtime may drop one it cannot create).
        first = self.providers[0] if self.providers else _provider_name(providers[0])
        self.plan: IoPlan = io_plan(options, first)
        device_type = "cuda" if first in GPU_PROVIDERS else "cpu"
        self._bound = (
            BoundRunner(self._session, self._output_names, self.plan, device_type, device.device_id)
            if self.plan.binding
            else None
        )

    @property
    def providers(self) -> list[str]:
        return list(self._session.get_providers())

    @property
    def outputs_on_device(self) -> bool:
        return self.plan.outputs_on_device

    def describe(self) -> str:
        return "; ".join([f"providers {', '.join(self.providers)}", self.plan.describe(), *self.notes])

    def run(self, feeds: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Numpy outputs, whatever the path (inputs may be numpy or already on the device)."""
        if self._bound is None:
            results = self._session.run(self._output_names, {name: as_host(value) for name, value in feeds.items()})
            return dict(zip(self._output_names, results, strict=True))
        return {name: as_host(value) for name, value in self._bound.run(feeds).items()}

    def run_values(self, feeds: Mapping[str, Any]) -> dict[str, Any]:
        """Outputs where the IO plan leaves them: OrtValues on the device, or numpy arrays."""
        if self._bound is None:
            return dict(self.run(feeds))
        return self._bound.run(feeds)

    @property
    def graph_error(self) -> str | None:
        return None if self._bound is None else self._bound.graph_error

    def close(self) -> None:
        self._bound = None
        del self._session
