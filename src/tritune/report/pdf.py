"""PDF copies of the HTML reports, printed by a headless Chromium (Model Analyzer used wkhtmltopdf).

Chromium runs the page's JavaScript, so the plotly plots are drawn before printing. It is an
optional system package: without it the HTML reports are still written and the caller says why
there is no PDF.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tritune.errors import TrituneError

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
        command = [
            str(chromium),
            *_FLAGS,
            f"--user-data-dir={profile}",
            f"--print-to-pdf={pdf}",
            html.resolve().as_uri(),
        ]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise TrituneError(
                f"Chromium took over {timeout_s:g} s to print {html.name}: rerun with --no-pdf"
            ) from None
    if result.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        raise TrituneError(
            f"Chromium could not print {html.name} to PDF (exit {result.returncode}): rerun with --no-pdf",
            detail=result.stderr[-2000:],
        )
    return pdf
