"""Tensors that live on the GPU, moved by DLPack instead of through the host.

Triton's Python backend hands GPU inputs (``FORCE_CPU_ONLY_INPUT_TENSORS: "no"``) as
``pb_utils.Tensor`` with ``to_dlpack()`` and takes GPU outputs with ``Tensor.from_dlpack``.
ONNX Runtime imports and exports DLPack itself in recent versions; torch, where importable,
concatenates and slices on the device. Each missing piece falls back to a host copy, which is
slower but always correct. Nothing here imports Triton, so it is tested with CPU tensors.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnxruntime as ort

# ONNX Runtime's element type names (OrtValue.data_type()) -> numpy
_ORT_TYPES = {
    f"tensor({name})": np.dtype(dtype)
    for name, dtype in (
        ("float", np.float32),
        ("float16", np.float16),
        ("double", np.float64),
        ("int8", np.int8),
        ("int16", np.int16),
        ("int32", np.int32),
        ("int64", np.int64),
        ("uint8", np.uint8),
        ("uint16", np.uint16),
        ("uint32", np.uint32),
        ("uint64", np.uint64),
        ("bool", np.bool_),
    )
}


def _torch() -> Any | None:
    try:
        return importlib.import_module("torch")
    except Exception:  # noqa: BLE001 - absent, or a broken CUDA install: the host path serves
        return None


class DeviceFeed:
    """An input already on the GPU; ``value`` is an OrtValue or a torch tensor, never copied.

    ``shape`` and ``dtype`` let batching group and check it like a numpy array."""

    def __init__(self, value: Any, shape: Sequence[int], dtype: np.dtype) -> None:
        self.value = value
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)

    def host(self) -> np.ndarray:
        if isinstance(self.value, ort.OrtValue):
            return np.asarray(self.value.numpy())
        return np.asarray(self.value.detach().cpu().numpy())


def ortvalue_from_dlpack(source: Any) -> ort.OrtValue | None:
    """An OrtValue sharing ``source``'s memory (a DLPack capsule or a ``__dlpack__`` object), or
    None where this onnxruntime cannot import DLPack."""
    factory: Callable[[Any], Any] | None = getattr(ort.OrtValue, "from_dlpack", None)
    if factory is not None:
        return factory(source)
    raw = getattr(ort.capi._pybind_state.OrtValue, "from_dlpack", None)  # older builds: (capsule, is_bool)
    if raw is None:
        return None
    capsule = source.__dlpack__() if hasattr(source, "__dlpack__") else source
    return ort.OrtValue(raw(capsule, False))


def feed_from_dlpack(to_dlpack: Callable[[], Any]) -> DeviceFeed | None:
    """Take a GPU tensor by DLPack: through ONNX Runtime, else torch; None if neither can."""
    value = ortvalue_from_dlpack(to_dlpack())
    if value is not None:
        return DeviceFeed(value, value.shape(), _ORT_TYPES[value.data_type()])
    torch = _torch()
    if torch is None:
        return None
    tensor = torch.from_dlpack(to_dlpack())
    return DeviceFeed(tensor, tensor.shape, np.dtype(str(tensor.dtype).removeprefix("torch.")))


def concatenate(parts: Sequence[Any]) -> Any:
    """Join one input of several requests along axis 0, on the device where they all are and
    torch can, else on the host."""
    if all(isinstance(p, np.ndarray) for p in parts):
        return np.concatenate(parts, axis=0)
    torch = _torch() if all(isinstance(p, DeviceFeed) for p in parts) else None
    if torch is None:
        return np.concatenate([p.host() if isinstance(p, DeviceFeed) else p for p in parts], axis=0)
    joined = torch.cat([torch.from_dlpack(_dlpack_source(p.value)) for p in parts], dim=0)
    if joined.is_cuda:  # ONNX Runtime reads it on its own non-blocking stream: finish the copy first
        torch.cuda.current_stream(joined.device).synchronize()
    return DeviceFeed(joined, joined.shape, parts[0].dtype)


def pad_rows(value: Any, extra: int) -> Any:
    """``value`` with its last row repeated ``extra`` times along axis 0 (a copy of real input
    rather than zeros, which a model may divide by or take the log of); on the device where
    torch can, else on the host."""
    if extra <= 0:
        return value
    if isinstance(value, np.ndarray):
        return np.concatenate([value, np.repeat(value[-1:], extra, axis=0)], axis=0)
    torch = _torch()
    if torch is None:
        return pad_rows(value.host(), extra)
    tensor = torch.from_dlpack(_dlpack_source(value.value))
    padded = torch.cat([tensor, tensor[-1:].expand(extra, *tensor.shape[1:])], dim=0)
    if padded.is_cuda:  # as in concatenate: ONNX Runtime reads it on another stream
        torch.cuda.current_stream(padded.device).synchronize()
    return DeviceFeed(padded, padded.shape, value.dtype)


def _dlpack_source(value: Any) -> Any:
    """What a DLPack consumer accepts for an OrtValue (its C object has ``__dlpack__``)."""
    return value._ortvalue if isinstance(value, ort.OrtValue) else value


def as_host(value: Any) -> np.ndarray:
    """A numpy array of an input or output, copying from the device only where it is there."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, DeviceFeed):
        return value.host()
    return np.asarray(value.numpy())  # an OrtValue (on the host, or copied from the device)


def split_device(outputs: dict[str, Any], batch_sizes: Sequence[int]) -> list[dict[str, Any]] | None:
    """Per-request slices of device outputs as DLPack-exportable objects, without a copy.

    One request takes the whole OrtValue; several need torch to slice on the device. None when
    that is not possible here (the caller copies to the host and splits there)."""
    if len(batch_sizes) == 1:
        return [{name: _dlpack_source(value) for name, value in outputs.items()}]
    torch = _torch()
    if torch is None:
        return None
    total = sum(batch_sizes)
    tensors = {name: torch.from_dlpack(_dlpack_source(value)) for name, value in outputs.items()}
    for tensor in tensors.values():
        if tensor.dim() == 0 or tensor.shape[0] != total:
            return None  # the host split gives the error that names the fix
    bounds = np.cumsum([0, *batch_sizes])
    return [
        {name: tensor[bounds[i] : bounds[i + 1]] for name, tensor in tensors.items()} for i in range(len(batch_sizes))
    ]


def output_dtype(value: Any) -> np.dtype:
    if isinstance(value, ort.OrtValue):
        return _ORT_TYPES[value.data_type()]
    return np.dtype(str(value.dtype).removeprefix("torch."))
