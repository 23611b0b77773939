"""ONNX Runtime, configured from the runner options in config.pbtxt ``parameters``:

- ``execution_providers``: comma-separated, e.g. "CUDAExecutionProvider,CPUExecutionProvider"
  (default: CUDA first on a GPU instance, CPU otherwise);
- ``intra_op_threads`` / ``inter_op_threads``: 0 keeps ONNX Runtime's default (intra-op: counted
  within the cores the server may use where it is confined, see ``cpu_threads``);
- ``graph_optimization_level``: disable, basic, extended or all;
- the GPU options (IO binding, CUDA graphs, TensorRT): see ``ort_options``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import onnxruntime as ort

from ..cpu_threads import confined_default_threads
from ..device import as_host
from ..providers import CPU, CUDA
from .base import Device
from .ort_binding import BoundRunner
from .ort_options import GPU_PROVIDERS, IoPlan, Provider, io_plan, with_options

_OPTIMIZATION_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def intra_op_threads(options: Mapping[str, str]) -> tuple[int, str | None]:
    """The intra-op count to give ONNX Runtime (0: its own default) and, where 0 was resolved
    within a confined process's cores, the server-log note saying so."""
    intra = int(options.get("intra_op_threads", "0") or 0)
    if intra > 0:
        return intra, None
    confined = confined_default_threads()
    if confined is None:
        return 0, None
    count, cpus = confined
    return count, (
        f"intra-op threads {count} (ONNX Runtime's default, one per physical core, counted within the "
        f"CPUs this server may use, {len(cpus)} of {os.cpu_count()}: left at 0 it would pin threads to the others)"
    )


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
        requested = [CUDA, CPU] if device.kind == "GPU" else [CPU]
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
    """One model on ONNX Runtime. With ``batch_buckets`` set (the runner pads batches to a few
    sizes), each batch size gets a session of its own, created on first use: a session whose
    shapes never change keeps its kernels' plans (ONNX Runtime's CUDA convolutions re-plan on
    every change of input shape); the price is one copy of the weights per size."""

    def __init__(self, model_path: str, options: Mapping[str, str], device: Device) -> None:
        self._model_path = model_path
        self._device = device
        self.notes: list[str] = []  # what the server log should say about this session, once
        intra, threads_note = intra_op_threads(options)
        if threads_note:  # resolved once: every session of this model (one per batch size) uses it
            self.notes.append(threads_note)
            options = {**options, "intra_op_threads": str(intra)}
        try:
            session = self._new_session(options)
        except Exception as error:
            if not options.get("enable_cuda_graph"):
                raise
            # CUDA graphs refuse a model with nodes outside the CUDA EP: serve it without them.
            self.notes.append(f"CUDA graphs off ({type(error).__name__}: {error})")
            options = {key: value for key, value in options.items() if key != "enable_cuda_graph"}
            session = self._new_session(options)
        self._options = dict(options)
        self._session = session
        self._output_names = [o.name for o in session.get_outputs()]
        self.input_names = [i.name for i in session.get_inputs()]
        self.output_names = list(self._output_names)
        # The provider the session really got first (ONNX Runtime may drop one it cannot create).
        first = self.providers[0] if self.providers else _provider_name(providers_for(options, device)[0])
        self.plan: IoPlan = io_plan(options, first)
        self._device_type = "cuda" if first in GPU_PROVIDERS else "cpu"
        self._per_batch = (options.get("batch_buckets") or "off") != "off"
        self._unclaimed: ort.InferenceSession | None = session  # the first batch size takes it
        self._runners: dict[int, tuple[ort.InferenceSession, BoundRunner | None]] = {}
        self._bound = self._bind(session)

    def _new_session(self, options: Mapping[str, str]) -> ort.InferenceSession:
        providers = providers_for(options, self._device)
        return ort.InferenceSession(self._model_path, sess_options=session_options(options), providers=providers)

    def _bind(self, session: ort.InferenceSession) -> BoundRunner | None:
        if not self.plan.binding:
            return None
        return BoundRunner(session, self._output_names, self.plan, self._device_type, self._device.device_id)

    def _for_rows(self, feeds: Mapping[str, Any]) -> tuple[ort.InferenceSession, BoundRunner | None]:
        """The session (and its binding) that runs batches of this many rows."""
        if not self._per_batch or not feeds:
            return self._session, self._bound
        rows = int(next(iter(feeds.values())).shape[0])
        if rows not in self._runners:
            if self._unclaimed is not None:
                self._runners[rows], self._unclaimed = (self._unclaimed, self._bound), None
            else:
                session = self._new_session(self._options)
                self._runners[rows] = (session, self._bind(session))
        return self._runners[rows]

    @property
    def providers(self) -> list[str]:
        return list(self._session.get_providers())

    @property
    def outputs_on_device(self) -> bool:
        return self.plan.outputs_on_device

    def describe(self) -> str:
        per_batch = ["one session per padded batch size"] if self._per_batch else []
        return "; ".join([f"providers {', '.join(self.providers)}", self.plan.describe(), *per_batch, *self.notes])

    def run(self, feeds: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Numpy outputs, whatever the path (inputs may be numpy or already on the device)."""
        session, bound = self._for_rows(feeds)
        if bound is None:
            results = session.run(self._output_names, {name: as_host(value) for name, value in feeds.items()})
            return dict(zip(self._output_names, results, strict=True))
        return {name: as_host(value) for name, value in bound.run(feeds).items()}

    def run_values(self, feeds: Mapping[str, Any]) -> dict[str, Any]:
        """Outputs where the IO plan leaves them: OrtValues on the device, or numpy arrays."""
        session, bound = self._for_rows(feeds)
        if bound is None:
            return dict(self.run(feeds))
        return bound.run(feeds)

    @property
    def graph_error(self) -> str | None:
        bound = [b for _, b in self._runners.values() if b is not None] + ([self._bound] if self._bound else [])
        return next((b.graph_error for b in bound if b.graph_error), None)

    def close(self) -> None:
        self._bound, self._unclaimed = None, None
        self._runners.clear()
        del self._session
