"""One host copy per input per batch: requests and padding rows written into a reused buffer.

Concatenating the requests' inputs and then padding them makes two full copies per batch, each
into a freshly allocated array that also pays its page faults; on a GPU instance, where the
model itself runs fast, those copies can cost about as much as running it. Here the rows go
straight into their place in a buffer kept per input, the padding rows are the last row
broadcast (as ``device.pad_rows`` does), and the next batch reuses the buffer: one copy, no new
pages.

Reuse is safe because one model instance runs one ``execute()`` at a time and the runtime is
done with its inputs when ``run`` returns (ONNX Runtime copies outputs into arrays of its own).

Pure numpy: tested without Triton.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

STAGING_MODES = ("on", "unpinned", "off")  # the runner's host_staging parameter


class StagingBuffers:
    """A growing buffer per input name; ``stage`` returns a view of its leading rows.

    ``pin`` (runner/pinned.py on a GPU instance) is called once on each new buffer."""

    def __init__(self, pin: Callable[[np.ndarray], bool] | None = None) -> None:
        self._buffers: dict[str, np.ndarray] = {}
        self._pin = pin
        self.pinned = 0  # buffers the pin hook took

    def stage(self, name: str, parts: Sequence[np.ndarray], extra: int = 0) -> np.ndarray:
        """``parts`` joined along axis 0, then the last row repeated ``extra`` times."""
        total = sum(int(p.shape[0]) for p in parts) + max(extra, 0)
        buffer = self._buffer(name, total, parts[0].shape[1:], parts[0].dtype)
        at = 0
        for part in parts:
            buffer[at : at + part.shape[0]] = part
            at += part.shape[0]
        if extra > 0:
            buffer[at:total] = buffer[at - 1]
        return buffer[:total]

    def _buffer(self, name: str, rows: int, inner: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        held = self._buffers.get(name)
        if held is None or held.shape[1:] != inner or held.dtype != dtype or held.shape[0] < rows:
            # Grown to the largest batch seen: a dynamic batcher's batches are bounded by max_batch_size.
            capacity = max(rows, held.shape[0] if held is not None and held.shape[1:] == inner else 0)
            held = self._buffers[name] = np.empty((capacity, *inner), dtype=dtype)
            if self._pin is not None and self._pin(held):
                self.pinned += 1
        return held

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in self._buffers.values())
