"""Request inputs in system shared memory (perf_analyzer's ``--shared-memory system``).

A large input (an image is 602 KB in fp32) costs the client its serialization and the server
its parsing on every request; from shared memory the server reads it in place. The inputs are
written once per batch size into one POSIX shared-memory file, registered with the server
through its shared-memory extension, and each prebuilt request names its region, offset and
size instead of carrying the bytes. Outputs still come back in the responses: they are small
for the models this matters for, and a region per request slot would be needed to share them.
Only a server on this host can map the file: the driver refuses any other.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tritune.errors import UsageError
from tritune.triton.http_api import TritonHttp, TritonHttpError

SHM_MODES = ("none", "system")
_ALIGN = 64  # each tensor starts on a cache line
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]", "0.0.0.0"})
_serial = itertools.count()
_SHM_ROOT = Path("/dev/shm")


@dataclass(frozen=True)
class Slot:
    """Where one input tensor lies in the region."""

    region: str
    offset: int
    byte_size: int


def layout(region: str, feeds: Sequence[Mapping[str, np.ndarray]]) -> tuple[list[dict[str, Slot]], int]:
    """Each feed's numeric inputs placed one after another (aligned), and the region's size.
    BYTES (object) tensors stay in the request: their wire form is not their memory."""
    offset = 0
    placed: list[dict[str, Slot]] = []
    for feed in feeds:
        slots = {}
        for name, array in feed.items():
            if array.dtype == np.object_:
                continue
            slots[name] = Slot(region, offset, array.nbytes)
            offset += -(-array.nbytes // _ALIGN) * _ALIGN
        placed.append(slots)
    return placed, max(offset, _ALIGN)


def check_local(address: str) -> None:
    """UsageError unless the server at ``address`` ("host:port") runs on this host."""
    host = address.rsplit(":", 1)[0]  # "host:port", tritonclient's form
    if host not in _LOCAL_HOSTS and host != os.uname().nodename:
        raise UsageError(
            f"--shared-memory system needs the server on this host, not {host}: "
            "leave it out (--shared-memory none) for a remote server"
        )


class InputRegion:
    """One shared-memory file holding the inputs of one set of feeds, registered with a server.
    Closing unregisters it (a server already gone is fine) and removes the file."""

    def __init__(self, api: TritonHttp, feeds: Sequence[Mapping[str, np.ndarray]]) -> None:
        check_local(api.address)
        self.name = f"tritune-in-{os.getpid()}-{next(_serial)}"
        self.path = _SHM_ROOT / self.name  # where shm_open("/name") puts it on Linux
        self.slots, size = layout(self.name, feeds)
        buffer = bytearray(size)
        for feed, slots in zip(feeds, self.slots, strict=True):
            for name, slot in slots.items():
                data = np.ascontiguousarray(feed[name]).tobytes()
                buffer[slot.offset : slot.offset + slot.byte_size] = data
        self.path.write_bytes(bytes(buffer))
        self._api = api
        try:
            api.register_system_shm(self.name, f"/{self.name}", size)
        except TritonHttpError as error:
            self.path.unlink(missing_ok=True)
            raise UsageError(
                f"the server refused the shared-memory inputs ({error.message}): "
                "leave out --shared-memory for this server"
            ) from None

    def close(self) -> None:
        with contextlib.suppress(TritonHttpError):  # the server is gone: its mapping went with it
            self._api.unregister_system_shm(self.name)
        self.path.unlink(missing_ok=True)
