"""Running an ONNX Runtime session through an IOBinding, with CUDA graphs where asked.

A plain ``session.run`` takes numpy and returns numpy: every output is copied to the host and
every GPU input would be too. Binding takes inputs where they are (host arrays or device
OrtValues) and leaves outputs on the device. CUDA graphs replay a captured launch sequence,
which needs the same buffers every time: each distinct input shape gets its own graph (ONNX
Runtime's ``gpu_graph_id``) with buffers allocated once; new data is copied into them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnxruntime as ort

from ..device import DeviceFeed, as_host
from .ort_options import IoPlan

# Each captured graph pins its buffers and activations; past this many shapes the rest run
# uncaptured rather than fill the GPU (a dynamic batcher forms at most max_batch_size shapes).
MAX_GRAPHS = 64
_SKIP_GRAPH = "-1"  # ONNX Runtime's gpu_graph_id that runs without capture or replay

ShapeKey = tuple[tuple[str, tuple[int, ...], str], ...]


@dataclass
class _Graph:
    """One captured shape: its run options and its fixed input and output buffers."""

    binding: Any
    run_options: ort.RunOptions
    inputs: dict[str, ort.OrtValue]
    outputs: dict[str, ort.OrtValue]


def _run_options(graph_id: str) -> ort.RunOptions:
    options = ort.RunOptions()
    options.add_run_config_entry("gpu_graph_id", graph_id)
    return options


class BoundRunner:
    def __init__(
        self, session: ort.InferenceSession, output_names: list[str], plan: IoPlan, device_type: str, device_id: int
    ) -> None:
        self._session = session
        self._output_names = output_names
        self._plan = plan
        self._device_type = device_type  # "cuda" for a GPU provider, "cpu" otherwise
        self._device_id = device_id
        self._graphs: dict[ShapeKey, _Graph] = {}
        self.graph_error: str | None = None  # why CUDA graphs were given up, once they are

    def run(self, feeds: Mapping[str, Any]) -> dict[str, Any]:
        """Outputs as OrtValues (on the device when the plan says so) or numpy (graph buffers)."""
        on_host = all(isinstance(v, np.ndarray) for v in feeds.values())  # graph buffers take host data
        if self._plan.cuda_graph and self.graph_error is None and on_host:
            key: ShapeKey = tuple(sorted((n, tuple(v.shape), v.dtype.str) for n, v in feeds.items()))
            graph = self._graphs.get(key)
            if graph is not None:
                return self._replay(graph, feeds)
            outputs = self._run_bound(feeds, _run_options(_SKIP_GRAPH))
            if len(self._graphs) < MAX_GRAPHS:
                self._graphs[key] = self._new_graph(feeds, outputs)
            return outputs
        return self._run_bound(feeds, _run_options(_SKIP_GRAPH) if self._plan.cuda_graph else None)

    def _run_bound(self, feeds: Mapping[str, Any], run_options: ort.RunOptions | None) -> dict[str, Any]:
        binding = self._session.io_binding()
        for name, value in feeds.items():
            self._bind_input(binding, name, value)
        where = self._device_type if self._plan.outputs_on_device else "cpu"
        for name in self._output_names:
            binding.bind_output(name, where, self._device_id)
        self._session.run_with_iobinding(binding, run_options)
        return dict(zip(self._output_names, binding.get_outputs(), strict=True))

    def _bind_input(self, binding: Any, name: str, value: Any) -> None:
        if isinstance(value, np.ndarray):
            binding.bind_cpu_input(name, np.ascontiguousarray(value))
        elif isinstance(value, DeviceFeed) and isinstance(value.value, ort.OrtValue):
            binding.bind_ortvalue_input(name, value.value)
        elif isinstance(value, DeviceFeed):  # a torch tensor: bound by its address, no copy
            tensor = value.value = value.value.contiguous()  # kept by the feed until the run ends
            device, index = tensor.device.type, tensor.device.index  # "cuda" on a GPU host
            device_id = index if index is not None else self._device_id
            binding.bind_input(name, device, device_id, value.dtype.type, list(value.shape), tensor.data_ptr())
        else:
            binding.bind_ortvalue_input(name, value)

    def _new_graph(self, feeds: Mapping[str, np.ndarray], outputs: Mapping[str, Any]) -> _Graph:
        """Fixed buffers for this shape (the outputs' shapes from the uncaptured run just made)."""
        graph_id = str(len(self._graphs))
        binding = self._session.io_binding()
        inputs, fixed_outputs = {}, {}
        for name, array in feeds.items():
            contiguous = np.ascontiguousarray(array)
            inputs[name] = ort.OrtValue.ortvalue_from_numpy(contiguous, self._device_type, self._device_id)
            binding.bind_ortvalue_input(name, inputs[name])
        for name, value in outputs.items():
            host = as_host(value)
            fixed_outputs[name] = ort.OrtValue.ortvalue_from_shape_and_type(
                list(host.shape), host.dtype.type, self._device_type, self._device_id
            )
            binding.bind_ortvalue_output(name, fixed_outputs[name])
        return _Graph(binding, _run_options(graph_id), inputs, fixed_outputs)

    def _replay(self, graph: _Graph, feeds: Mapping[str, np.ndarray]) -> dict[str, Any]:
        try:
            for name, array in feeds.items():
                graph.inputs[name].update_inplace(np.ascontiguousarray(array))
            self._session.run_with_iobinding(graph.binding, graph.run_options)
        except Exception as error:  # noqa: BLE001 - a model CUDA graphs cannot capture still serves
            self.graph_error = f"{type(error).__name__}: {error}"
            self._graphs.clear()
            return self._run_bound(feeds, _run_options(_SKIP_GRAPH))
        # Copied out: the next replay of this shape overwrites the buffers.
        return {name: np.array(value.numpy()) for name, value in graph.outputs.items()}
