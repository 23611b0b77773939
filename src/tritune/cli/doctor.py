"""``tritune doctor``: what tritune finds on this machine, and what is missing."""

from __future__ import annotations

import platform
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tritune.cli import options
from tritune.cli.app import App
from tritune.domain.devices import CUDA
from tritune.errors import TrituneError
from tritune.triton.locate import find_triton, python_version_tag

if TYPE_CHECKING:  # the probe imports numpy and tritonclient: only when doctor runs
    from tritune.triton.probe import ServerPython

Row = tuple[str, str, bool]  # name, value, ok (a failing row makes doctor exit 1)


def _server_rows(tritonserver: str | None, here: ServerPython) -> tuple[list[Row], ServerPython | None]:
    """One embedded server for a moment: its version, and what its Python imports (the probe)."""
    from tritune.triton import EmbeddedTriton, ModelControl
    from tritune.triton.probe import probe_server_python, server_mismatch

    rows: list[Row] = []
    try:
        with (
            tempfile.TemporaryDirectory(prefix="tritune-doctor-") as repo,
            EmbeddedTriton(repo, tritonserver=tritonserver, startup_timeout_s=60, auto_complete=False) as server,
            ModelControl(server) as control,
        ):
            version = str(server.endpoints.api().server_metadata().get("version", "unknown"))
            rows.append(("Triton version", version, True))
            served = probe_server_python(control, server.endpoints, Path(repo))
    except TrituneError as error:
        if not rows:
            return [("Triton version", f"server did not start: {error.message}", False)], None
        # The stub could not run the probe, so it cannot run tritune's runner either.
        return [*rows, ("server's Python", f"cannot run tritune's runner: {error.message}", False)], None
    mismatch = server_mismatch(here, served)
    rows.append(("server's Python", f"{served.python_version} ({served.prefix})", True))
    rows.append(("server's onnxruntime", mismatch or served.describe(), mismatch is None))
    return rows, served


@click.command()
@options.tritonserver
@click.pass_obj
def doctor(app: App, tritonserver: str | None) -> None:
    """Report Python, Triton, the server's Python, ONNX Runtime, GPUs and perf_analyzer."""
    from tritune.system import find_perf_analyzer, list_gpus
    from tritune.triton.probe import gpu_step_missing, this_python

    here = this_python()
    served: ServerPython | None = None
    rows: list[Row] = []
    rows.append(("Python", f"{platform.python_version()} ({sys.executable})", True))
    try:
        install = find_triton(tritonserver)
        rows.append(("tritonserver", f"{install.binary} (from {install.source})", True))
        stub_ok = install.stub is not None
        rows.append(
            (
                "python-backend stub",
                str(install.stub) if stub_ok else f"none for Python {python_version_tag()}",
                stub_ok,
            )
        )
        server_rows, served = _server_rows(tritonserver, here)
        rows += server_rows
    except TrituneError as error:
        rows.append(("tritonserver", error.message, False))
    rows.append(("onnxruntime", f"{here.onnxruntime_version} ({here.site})", True))
    rows.append(("execution providers", ", ".join(here.providers), True))
    gpus = list_gpus()
    rows.append(("GPUs", "; ".join(f"{g.index}: {g.name}" for g in gpus) if gpus else "none", True))
    if gpus:  # docs/gpu.md's install steps: the step not taken yet, or that all are
        missing = gpu_step_missing(True, here, served)
        rows.append(("GPU setup", missing or f"{CUDA} here and in the server", missing is None))
    perf_analyzer = find_perf_analyzer()
    rows.append(
        (
            "perf_analyzer",
            str(perf_analyzer) if perf_analyzer else "not found (optional: only for comparisons)",
            True,
        )
    )
    for name, value, ok in rows:
        app.out.print(f"{name}: {value}", style=None if ok else "red", highlight=False, markup=False)
    failed = [name for name, _, ok in rows if not ok]
    if failed:
        # An error, not click's Exit: run_cli calls click with standalone_mode=False, where an
        # Exit becomes a return value it drops, and doctor exited 0 with failing rows.
        raise TrituneError(f"doctor found a problem in: {', '.join(failed)}; each red row above names its fix")
