"""Ctrl-C and SIGTERM held while a child process is started and recorded, then delivered.

Python runs a signal's handler in the main thread at the next point the interpreter checks, and
a fork is such a point: the handler's KeyboardInterrupt is then raised inside the interpreter's
at-fork hooks (logging's lock release), where it is printed as "Exception ignored ... Traceback"
and lost (seen: `tritune prepare` interrupted while it started Triton). Or it lands between the
child's start and the line that records it, and nobody stops that child. Held over the start,
the signal is delivered just after, where the caller's clean-up sees the child.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

HELD = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def held_interrupts() -> Iterator[None]:
    """Hold SIGINT and SIGTERM over the block; the first one that came is raised again at its
    end, to the handler that was in place (KeyboardInterrupt, tritune's Terminated). Off the main
    thread, where Python runs no handler and none can be set, the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        came.append(signum)

    previous = {sig: signal.signal(sig, hold) for sig in HELD}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            # None: a handler not set from Python, which cannot be put back; the default stands in.
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        if came:
            # Delivered as a signal, so the handler now in place decides (default, ignored, raise).
            signal.raise_signal(came[0])
