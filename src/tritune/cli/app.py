"""What every command shares: console output (diagnostics to stderr, data to stdout) and the
mapping from errors to exit statuses."""

from __future__ import annotations

import signal
import threading
import traceback
from dataclasses import dataclass, field
from types import FrameType

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


class Terminated(KeyboardInterrupt):
    """SIGTERM, as ``timeout``, CI and ``docker stop`` send it, handled like Ctrl-C: what was
    measured stays stored, the run says how to resume, and the server and its stubs are stopped
    on the way out (Python's default for SIGTERM is to die at once, leaving them behind)."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the clean-up short
    raise Terminated()


def run_cli(command: click.Command, argv: list[str]) -> int:
    """Run ``command`` and return an exit status instead of raising."""
    verbose = "-v" in argv or "--verbose" in argv
    err = Console(stderr=True, soft_wrap=True)
    main_thread = threading.current_thread() is threading.main_thread()  # signals are set there only
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if main_thread else None
    try:
        return _run(command, argv, err, verbose)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _run(command: click.Command, argv: list[str], err: Console, verbose: bool) -> int:
    try:
        command.main(args=argv, prog_name="tritune", standalone_mode=False)
    except TrituneError as error:
        err.print(_error_line(error.message), style="red", highlight=False, markup=False)
        if error.detail:
            err.print(error.detail, style="dim", highlight=False, markup=False)
        if verbose:
            err.print(traceback.format_exc(), markup=False)
        return int(error.exit_status)
    except (click.exceptions.Abort, KeyboardInterrupt) as stop:
        # click turns a KeyboardInterrupt (and so a Terminated) into Abort, keeping it as the cause.
        if isinstance(stop, Terminated) or isinstance(stop.__cause__, Terminated):
            err.print("terminated (SIGTERM)", style="yellow")
            return int(ExitStatus.TERMINATED)
        err.print("interrupted", style="yellow")
        return int(ExitStatus.INTERRUPTED)
    except click.ClickException as error:
        error.show()
        return int(error.exit_code)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    return int(ExitStatus.OK)
