"""ONNX Runtime, configured from the runner options in config.pbtxt ``parameters``:

- ``execution_providers``: comma-separated, e.g. "CUDAExecutionProvider,CPUExecutionProvider"
  (default: CUDA first on a GPU instance, CPU otherwise);
- ``intra_op_threads`` / ``inter_op_threads``: 0 keeps ONNX Runtime's default;
- ``graph_optimization_level``: disable, basic, extended or all.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import onnxruntime as ort

from .base import Device

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


def providers_for(options: Mapping[str, str], device: Device) -> list[str | tuple[str, dict[str, str]]]:
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
    result: list[str | tuple[str, dict[str, str]]] = []
    for provider in requested:
        if provider in ("CUDAExecutionProvider", "TensorrtExecutionProvider"):
            result.append((provider, {"device_id": str(device.device_id)}))
        else:
            result.append(provider)
    return result


class OnnxRuntimeRuntime:
    def __init__(self, model_path: str, options: Mapping[str, str], device: Device) -> None:
        self._session = ort.InferenceSession(
            model_path, sess_options=session_options(options), providers=providers_for(options, device)
        )
        self._output_names = [o.name for o in self._session.get_outputs()]
        self.input_names = [i.name for i in self._session.get_inputs()]
        self.output_names = list(self._output_names)

    @property
    def providers(self) -> list[str]:
        return list(self._session.get_providers())

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        results = self._session.run(self._output_names, dict(feeds))
        return dict(zip(self._output_names, results, strict=True))

    def close(self) -> None:
        del self._session
