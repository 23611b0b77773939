"""What every command shares: console output (diagnostics to stderr, data to stdout) and the
mapping from errors to exit statuses."""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field

import click
from rich.console import Console

from tritune.errors import ExitStatus, TrituneError


@dataclass
class App:
    verbose: bool = False
    out: Console = field(default_factory=lambda: Console(soft_wrap=True))
    err: Console = field(default_factory=lambda: Console(stderr=True, soft_wrap=True))

    def info(self, message: str) -> None:
        self.err.print(message, highlight=False)

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/yellow] {message}", highlight=False)


def _error_line(message: str) -> str:
    return f"error: {message}"


def run_cli(command: click.Command, argv: list[str]) -> int:
    """Run ``command`` and return an exit status instead of raising."""
    verbose = "-v" in argv or "--verbose" in argv
    err = Console(stderr=True, soft_wrap=True)
    try:
        command.main(args=argv, prog_name="tritune", standalone_mode=False)
    except TrituneError as error:
        err.print(_error_line(error.message), style="red", highlight=False, markup=False)
        if error.detail:
            err.print(error.detail, style="dim", highlight=False, markup=False)
        if verbose:
            err.print(traceback.format_exc(), markup=False)
        return int(error.exit_status)
    except click.exceptions.Abort:
        err.print("interrupted", style="yellow")
        return int(ExitStatus.INTERRUPTED)
    except KeyboardInterrupt:
        err.print("interrupted", style="yellow")
        return int(ExitStatus.INTERRUPTED)
    except click.ClickException as error:
        error.show()
        return int(error.exit_code)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    return int(ExitStatus.OK)
