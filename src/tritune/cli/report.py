"""``tritune report RUN_DIR``: rebuild every report of a run from its store alone."""

from __future__ import annotations

from pathlib import Path

import click

from tritune.cli.app import App
from tritune.errors import STORAGE_ERRNOS, storage_error


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--top-n",
    type=click.IntRange(min=1),
    default=None,
    help="Configs to plot and detail (default: the run's setting, else 3).",
)
@click.option(
    "--pdf/--no-pdf",
    default=None,
    help="Also print PDFs with headless Chromium (default: when Chromium is installed).",
)
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Write reports/ and results/ here instead of RUN_DIR.",
)
@click.pass_obj
def report(app: App, run_dir: Path, top_n: int | None, pdf: bool | None, output_dir: Path | None) -> None:
    """Write the summary and detailed reports, Model Analyzer's CSVs and the report data JSON.

    Works on a partial (interrupted) run too: its reports say so.
    """
    from tritune.report import write_reports
    from tritune.report.terminal import print_written

    try:
        written = write_reports(run_dir, output_dir=output_dir, top_n=top_n, pdf=pdf)
    except OSError as error:
        if error.errno not in STORAGE_ERRNOS:
            raise
        raise storage_error(
            error.filename or output_dir or run_dir, error, "give --output-dir a writable folder"
        ) from None
    print_written(app.out, app.err, written)
