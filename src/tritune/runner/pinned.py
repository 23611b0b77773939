"""Page-locking a host buffer so that the runtime's copy to the GPU is one DMA transfer.

From pageable memory CUDA first copies through a small pinned bounce buffer of its own, at a
fraction of the bus's speed; a registered (pinned) buffer is read by the GPU directly. The
runner's staging buffers (runner/staging.py) live for the model instance's life, so they are
worth pinning once. Through ctypes on the CUDA runtime library ONNX Runtime's CUDA provider
has already loaded: nothing to install, and where it is not there, nothing is pinned.
"""

from __future__ import annotations

import ctypes
import weakref
from functools import cache

import numpy as np

_PORTABLE = 1  # cudaHostRegisterPortable: pinned for every CUDA context of the process
_LIBRARIES = ("libcudart.so.13", "libcudart.so.12", "libcudart.so")


@cache
def _cudart() -> ctypes.CDLL | None:
    for name in _LIBRARIES:
        try:
            library = ctypes.CDLL(name)
        except OSError:
            continue
        library.cudaHostRegister.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint]
        library.cudaHostRegister.restype = ctypes.c_int
        library.cudaHostUnregister.argtypes = [ctypes.c_void_p]
        library.cudaHostUnregister.restype = ctypes.c_int
        return library
    return None


def pin(array: np.ndarray) -> bool:
    """Page-lock ``array``'s memory until it is freed; False where CUDA cannot (then it stays
    pageable, which is slower but correct)."""
    cudart = _cudart()
    if cudart is None or array.nbytes == 0:
        return False
    address = array.ctypes.data
    if cudart.cudaHostRegister(address, array.nbytes, _PORTABLE) != 0:
        return False
    # Unregistered when numpy frees the buffer: weakref callbacks run before the data is released.
    weakref.finalize(array, cudart.cudaHostUnregister, address)
    return True
