"""The ``tritune`` command: one module per subcommand, an App object in ``ctx.obj``.

Errors derived from TrituneError become a one-line message on stderr (plus detail such as a
server log tail) and the error's exit status; Ctrl-C exits 130.
"""

from __future__ import annotations

import sys

import click

from tritune import __version__
from tritune.cli.app import App, run_cli
from tritune.cli.doctor import doctor
from tritune.cli.infer import infer
from tritune.cli.perf import perf
from tritune.cli.prepare import prepare
from tritune.cli.profile import profile
from tritune.cli.report import report


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tritune")
@click.option("-v", "--verbose", is_flag=True, help="Print tracebacks and extra detail on errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Find, by measurement, the best way to serve a model on the Triton Inference Server."""
    ctx.obj = App(verbose=verbose)


cli.add_command(doctor)
cli.add_command(infer)
cli.add_command(perf)
cli.add_command(prepare)
cli.add_command(profile)
cli.add_command(report)


def main(argv: list[str] | None = None) -> int:
    return run_cli(cli, argv if argv is not None else sys.argv[1:])


__all__ = ["cli", "main"]
