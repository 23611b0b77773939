"""ONNX Runtime's setup from the runner options, as pure functions (no session is made here).

GPU options (config.pbtxt ``parameters``, all optional):

- ``io_binding``: ``auto`` (default: IO binding with outputs copied to the host by ONNX Runtime
  on a GPU provider, the plain numpy path on the CPU), ``device`` (outputs left on the GPU and
  handed to Triton by DLPack), ``host`` (what auto is on a GPU) or ``off`` (the numpy path
  everywhere). Host outputs are auto's choice because they serve faster
  (``benchmarks/gpu_io_paths.py`` compares the paths; docs/benchmarks.md): each request's
  slice of a device output crosses to Triton as a GPU tensor of its own (Triton's compute-output
  step takes longer), while ONNX Runtime copies the whole batch's outputs back in one go.
- ``enable_cuda_graph``: ``1`` captures one CUDA graph per input shape (IO binding, outputs
  copied to the host because the graph's buffers are reused);
- ``trt_fp16``: ``1`` lets the TensorRT EP use fp16 kernels; ``trt_cache_dir``: the engine
  cache folder; ``trt_max_workspace_size``: bytes (default 4 GiB);
- ``max_batch_size`` / ``input_dims`` (set by the runner from config.pbtxt): the TensorRT
  optimization profile, so one engine covers every batch size instead of one build per shape.
"""

from __future__ import annotations

import ctypes
import importlib.util
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..providers import CUDA, GPU_PROVIDERS, TENSORRT

IO_MODES = ("auto", "device", "host", "off")
DEFAULT_TRT_WORKSPACE = 4 << 30  # enough tactics for a CNN or a BERT without starving instances
_TRUE = {"1", "true", "yes", "on"}

Provider = str | tuple[str, dict[str, str]]


def flag(options: Mapping[str, str], key: str) -> bool:
    return str(options.get(key, "")).strip().lower() in _TRUE


@dataclass(frozen=True)
class IoPlan:
    """How tensors go in and out of a session."""

    binding: bool = False  # run through an IOBinding
    outputs_on_device: bool = False  # outputs stay on the GPU and leave through DLPack
    cuda_graph: bool = False  # one captured graph per input shape

    def describe(self) -> str:
        if not self.binding:
            return "numpy in and out (no IO binding)"
        where = "on the GPU (DLPack)" if self.outputs_on_device else "copied to the host"
        return f"IO binding, outputs {where}, CUDA graphs {'on' if self.cuda_graph else 'off'}"


def io_plan(options: Mapping[str, str], first_provider: str) -> IoPlan:
    """The IO path for a session whose first (preferred) provider is ``first_provider``.

    CUDA graphs need fixed input shapes and fixed buffers, so they imply IO binding with the
    graph's own output buffers (copied to the host, as the next replay overwrites them)."""
    mode = (options.get("io_binding") or "auto").strip().lower()
    if mode not in IO_MODES:
        raise ValueError(f"io_binding {mode!r} is not one of {', '.join(IO_MODES)}")
    gpu = first_provider in GPU_PROVIDERS
    graph = gpu and flag(options, "enable_cuda_graph")
    if graph:
        return IoPlan(binding=True, outputs_on_device=False, cuda_graph=True)
    if mode == "off" or (mode == "auto" and not gpu):
        return IoPlan()
    return IoPlan(binding=True, outputs_on_device=gpu and mode == "device")


def trt_profile(options: Mapping[str, str]) -> dict[str, str]:
    """TensorRT's min/opt/max shapes for batch 1..max_batch_size, where every other dim is fixed.

    ``input_dims`` is ``name:3x224x224;other:16`` (config.pbtxt dims, batch dim excluded)."""
    batch = int(options.get("max_batch_size") or 0)
    encoded = options.get("input_dims") or ""
    if batch <= 0 or not encoded:
        return {}
    shapes: list[tuple[str, str]] = []
    for entry in encoded.split(";"):
        name, _, dims = entry.rpartition(":")
        if not name or any(not d.isdigit() or int(d) <= 0 for d in dims.split("x") if dims):
            return {}  # a dynamic inner dim: let TensorRT build per shape rather than guess a range
        shapes.append((name, dims))

    def spell(rows: int) -> str:
        return ",".join(f"{name}:{rows}" + (f"x{dims}" if dims else "") for name, dims in shapes)

    return {
        "trt_profile_min_shapes": spell(1),
        "trt_profile_opt_shapes": spell(batch),
        "trt_profile_max_shapes": spell(batch),
    }


def provider_options(provider: str, options: Mapping[str, str], device_id: int) -> dict[str, str]:
    """The options ONNX Runtime takes for one provider (CPU providers take none)."""
    if provider == CUDA:
        result = {"device_id": str(device_id)}
        if flag(options, "enable_cuda_graph"):
            result["enable_cuda_graph"] = "1"
        return result
    if provider == TENSORRT:
        result = {
            "device_id": str(device_id),
            "trt_fp16_enable": "True" if flag(options, "trt_fp16") else "False",
            "trt_max_workspace_size": str(int(options.get("trt_max_workspace_size") or DEFAULT_TRT_WORKSPACE)),
            **trt_profile(options),
        }
        if flag(options, "enable_cuda_graph"):
            result["trt_cuda_graph_enable"] = "True"
        cache = options.get("trt_cache_dir") or ""
        if cache:  # engines take minutes to build: reuse them across instances and runs
            result |= {"trt_engine_cache_enable": "True", "trt_engine_cache_path": cache}
            result |= {"trt_timing_cache_enable": "True", "trt_timing_cache_path": cache}
        return result
    return {}


def with_options(requested: Sequence[str], options: Mapping[str, str], device_id: int) -> list[Provider]:
    result: list[Provider] = []
    for provider in requested:
        extra = provider_options(provider, options, device_id)
        result.append((provider, extra) if extra else provider)
    return result


def tensorrt_usable() -> bool:
    """Whether TensorRT's libraries load here: ONNX Runtime lists its TensorRT EP whenever the
    wheel was built with it, even where libnvinfer is missing and every session would fail."""
    if importlib.util.find_spec("tensorrt") is not None or importlib.util.find_spec("tensorrt_libs") is not None:
        return True
    for soname in ("libnvinfer.so.10", "libnvinfer.so"):
        try:
            ctypes.CDLL(soname)
            return True
        except OSError:
            continue
    return False
