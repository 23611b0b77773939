"""PDF copies of the HTML reports, printed by a headless Chromium (Model Analyzer used wkhtmltopdf).

Chromium runs the page's JavaScript, so the plotly plots are drawn before printing. It is an
optional system package: without it the HTML reports are still written and the caller says why
there is no PDF.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psutil

from tritune.errors import TrituneError
from tritune.interrupts import held_interrupts

CHROMIUM_ENV = "TRITUNE_CHROMIUM"
_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_HINT = "install Chromium (Debian/Ubuntu: apt-get install chromium) or pass --no-pdf"

# Flags for a headless run on a machine without a display or network: no sandbox (it refuses
# to start as root otherwise, and the page is our own file), no GPU, no background traffic,
# and a throwaway profile so runs never share state.
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--no-pdf-header-footer",
    "--run-all-compositor-stages-before-draw",
    # Lets plotly finish drawing before the page is printed.
    "--virtual-time-budget=20000",
    # The width of an A4 landscape page inside its margins (the templates' @page rule), so the
    # plots are laid out on screen at the size they print at.
    "--window-size=1030,1400",
)


def find_chromium() -> Path | None:
    """``$TRITUNE_CHROMIUM`` when set, else the first Chromium or Chrome on PATH."""
    explicit = os.environ.get(CHROMIUM_ENV)
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def require_chromium() -> Path:
    chromium = find_chromium()
    if chromium is None:
        raise TrituneError(f"no Chromium found to print PDF reports: {INSTALL_HINT}")
    return chromium


def print_pdf(html: Path, pdf: Path, *, chromium: Path | None = None, timeout_s: float = 180) -> Path:
    """Print ``html`` to ``pdf``.

    Raises:
        TrituneError: no Chromium, or it failed or produced no file (with its stderr as detail).
    """
    chromium = chromium or require_chromium()
    pdf.parent.mkdir(parents=True, exist_ok=True)
    pdf.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="tritune-chromium-") as profile:
        # Printed inside the throwaway folder and moved into place whole: a run stopped mid-print
        # leaves no partial PDF behind.
        printing = Path(profile) / "print.pdf"
        command = [
            str(chromium),
            *_FLAGS,
            f"--user-data-dir={profile}/data",
            f"--print-to-pdf={printing}",
            html.resolve().as_uri(),
        ]
        returncode, stderr = _run_chromium(command, timeout_s, html)
        if returncode == 0 and printing.is_file() and printing.stat().st_size > 0:
            os.replace(printing, pdf)
    if not pdf.is_file():
        raise TrituneError(
            f"Chromium could not print {html.name} to PDF (exit {returncode}): rerun with --no-pdf",
            detail=stderr[-2000:],
        )
    return pdf


def _run_chromium(command: list[str], timeout_s: float, html: Path) -> tuple[int, str]:
    """Chromium's exit code and stderr. It runs in a process group of its own, and on any way
    out (a timeout, Ctrl-C) the whole group is ended and waited for: its helper processes
    otherwise outlive it and keep writing into the profile folder while it is removed."""
    process = None
    try:
        with held_interrupts():  # a Ctrl-C comes after the start, where the group is ended
            process = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
            )
        _, stderr = process.communicate(timeout=timeout_s)
        return process.returncode, stderr
    except subprocess.TimeoutExpired:
        raise TrituneError(f"Chromium took over {timeout_s:g} s to print {html.name}: rerun with --no-pdf") from None
    finally:
        if process is not None:
            _end_group(process)


def _end_group(process: subprocess.Popen[str]) -> None:
    """Chromium and every helper it started (its group, and any descendant that left it)."""
    try:
        chromium = psutil.Process(process.pid)
        family = [chromium, *chromium.children(recursive=True)]
    except psutil.Error:
        family = []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    for member in family:
        with contextlib.suppress(psutil.Error):
            member.kill()
    process.wait()
    psutil.wait_procs(family, timeout=10)
