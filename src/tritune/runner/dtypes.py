"""Triton data-type names and their numpy equivalents."""

from __future__ import annotations

import numpy as np

TRITON_TO_NUMPY: dict[str, np.dtype] = {
    "TYPE_BOOL": np.dtype(np.bool_),
    "TYPE_UINT8": np.dtype(np.uint8),
    "TYPE_UINT16": np.dtype(np.uint16),
    "TYPE_UINT32": np.dtype(np.uint32),
    "TYPE_UINT64": np.dtype(np.uint64),
    "TYPE_INT8": np.dtype(np.int8),
    "TYPE_INT16": np.dtype(np.int16),
    "TYPE_INT32": np.dtype(np.int32),
    "TYPE_INT64": np.dtype(np.int64),
    "TYPE_FP16": np.dtype(np.float16),
    "TYPE_FP32": np.dtype(np.float32),
    "TYPE_FP64": np.dtype(np.float64),
}

UNSUPPORTED = {"TYPE_STRING": "BYTES", "TYPE_BF16": "BF16"}


def numpy_dtype(triton_type: str) -> np.dtype:
    if triton_type in UNSUPPORTED:
        raise TypeError(
            f"{UNSUPPORTED[triton_type]} tensors are not supported by the tritune runner yet: "
            "convert the model so that this tensor is numeric"
        )
    try:
        return TRITON_TO_NUMPY[triton_type]
    except KeyError:
        raise TypeError(f"unknown Triton data type {triton_type!r}") from None
