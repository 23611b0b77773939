"""Finding Triton processes, so tests can prove none is left behind; starting a child that
Ctrl-C can reach; processes that burn the CPU, for the busy-host tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import psutil

TRITON_PROCESS_NAMES = ("tritonserver", "triton_python_backend_stub")


def triton_processes(marker: str | None = None) -> list[psutil.Process]:
    """Live (non-zombie) tritonserver/stub processes; with ``marker``, only those whose
    command line or whose server's command line mentions it (e.g. a test's repository path)."""
    found = []
    for process in psutil.process_iter(["name", "cmdline", "status"]):
        try:
            if process.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            name = process.info["name"] or ""
            if not any(name.startswith(n[:15]) for n in TRITON_PROCESS_NAMES):
                continue
            if marker is not None:
                lines = " ".join(process.info["cmdline"] or [])
                parent = process.parent()
                if parent is not None:
                    lines += " " + " ".join(parent.cmdline())
                if marker not in lines:
                    continue
            found.append(process)
        except psutil.Error:
            continue
    return found


def wait_until_gone(marker: str, timeout_s: float = 15.0) -> list[psutil.Process]:
    """Processes mentioning ``marker`` still alive after ``timeout_s`` (empty: all gone)."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = triton_processes(marker)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interruptible_popen(args: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """``subprocess.Popen`` with SIGINT's default disposition in the child.

    A shell that runs the suite in the background (``cmd &``, nohup) hands its children SIGINT
    ignored, and a Python started that way never turns SIGINT into KeyboardInterrupt: a test
    that sends SIGINT would then see a child that cannot be interrupted at all."""
    return subprocess.Popen(args, preexec_fn=_default_sigint, **kwargs)


# Spins, and ends itself once the process that started it is gone (a SIGKILLed test run, whose
# clean-up never ran, leaves no spinner behind): os.kill(owner, 0) raises then.
SPIN = (
    "import os, sys\n"
    "owner = int(sys.argv[1])\n"
    "while True:\n"
    "    for _ in range(1_000_000): pass\n"
    "    os.kill(owner, 0)\n"
)

# Started through a parent that exits at once, so a spinner is nobody's child in the test: tritune
# counts its own descendants as its own load (a test may run tritune in its own process), and a
# spinner in a session of its own gets no terminal's Ctrl-C.
_DETACH = (
    "import subprocess, sys\n"
    "child = subprocess.Popen([sys.executable, '-c', *sys.argv[1:]], start_new_session=True,\n"
    "                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "print(child.pid)"
)


@contextmanager
def burning(count: int) -> Iterator[list[int]]:
    """``count`` detached Python processes spinning on the CPU, killed on the way out (an
    exception or a failed assertion in the ``with`` block included)."""
    pids: list[int] = []
    try:
        for _ in range(count):
            out = subprocess.run(
                [sys.executable, "-c", _DETACH, SPIN, str(os.getpid())], capture_output=True, text=True, check=True
            )
            pids.append(int(out.stdout.strip()))
        time.sleep(0.3)  # let them start spinning before the load does
        yield pids
    finally:
        spinners = []
        for pid in pids:
            with suppress(psutil.Error):
                spinner = psutil.Process(pid)
                spinner.kill()
                spinners.append(spinner)
        psutil.wait_procs(spinners, timeout=10)
