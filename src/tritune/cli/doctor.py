"""``tritune doctor``: what tritune finds on this machine, and what is missing."""

from __future__ import annotations

import platform
import sys

import click

from tritune.cli import options
from tritune.cli.app import App
from tritune.errors import TrituneError
from tritune.triton.locate import find_triton, python_version_tag


@click.command()
@options.tritonserver
@click.pass_obj
def doctor(app: App, tritonserver: str | None) -> None:
    """Report Python, Triton, ONNX Runtime, GPUs and perf_analyzer as tritune sees them."""
    import onnxruntime

    from tritune.system import find_perf_analyzer, list_gpus, triton_version

    rows: list[tuple[str, str, bool]] = []
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
        try:
            rows.append(("Triton version", triton_version(tritonserver), True))
        except TrituneError as error:
            rows.append(("Triton version", f"server did not start: {error.message}", False))
    except TrituneError as error:
        rows.append(("tritonserver", error.message, False))
    rows.append(("onnxruntime", onnxruntime.__version__, True))
    rows.append(("execution providers", ", ".join(onnxruntime.get_available_providers()), True))
    gpus = list_gpus()
    rows.append(("GPUs", "; ".join(f"{g.index}: {g.name}" for g in gpus) if gpus else "none", True))
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
    if not all(ok for _, _, ok in rows):
        raise click.exceptions.Exit(1)
