"""Options that more than one command takes, each declared once (hatch's style), so a flag's
spelling, default, type and help cannot drift between commands.

Each name is a plain click decorator (``@options.tritonserver``); where commands rightly
differ in a default, a function takes it and returns the decorator
(``@options.measurement(interval_ms=5000)``). The parameter each one passes to the command is
named in its comment."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from tritune.config.connection import ConnectionSettings
from tritune.domain.connection import Connection, parse_headers
from tritune.errors import UsageError

F = TypeVar("F", bound=Callable[..., Any])

# perf_analyzer's default, and tritune's HTTP client costs the load generator less CPU per
# request than gRPC.
DEFAULT_PROTOCOL = "http"

# -> tritonserver: str | None
tritonserver = click.option("--tritonserver", type=click.Path(dir_okay=False), help="Use this tritonserver binary.")

# -> url: str | None
url = click.option(
    "-u", "--url", default=None, help="HTTP host:port of a running Triton to use instead of the embedded one."
)

# -> protocol: str
protocol = click.option(
    "-i",
    "--protocol",
    type=click.Choice(["http", "grpc"]),
    default=DEFAULT_PROTOCOL,
    show_default=True,
    help="HTTP is perf_analyzer's default and costs the load generator less CPU per request than gRPC.",
)

# -> shapes: tuple[str, ...] (tritune.inputs.parse_shape_options reads them)
shapes = click.option(
    "--shape",
    "shapes",
    multiple=True,
    metavar="NAME:D1,D2",
    help="Dims of an input with dynamic dims, the batch dimension left out. Repeatable.",
)

# -> batch_size: int
batch_size = click.option(
    "-b", "--batch-size", default=1, show_default=True, type=click.IntRange(min=1), help="Samples per request."
)

# -> input_data: str
input_data = click.option(
    "--input-data", default="random", show_default=True, help="random, zero, or a .json / .npz file of samples."
)

# -> max_batch_size: int | None
max_batch_size = click.option(
    "--max-batch-size",
    default=None,
    type=click.IntRange(min=0),
    help="Serve the model with this max_batch_size (0: without batching) instead of the one "
    "tritune picks (prepare measures it; perf takes the model's default).",
)

# -> server_cpus: int | None (tritune.cpus.server_split checks it, with one-line errors)
server_cpus = click.option(
    "--server-cpus",
    type=int,
    default=None,
    help="Pin the embedded server to the first N cores and the load generator to the rest "
    "(steadier numbers on a small host).",
)

# -> workers: int | None
workers = click.option(
    "--workers",
    default=None,
    type=click.IntRange(min=1),
    help="Load-generator processes (default: a concurrency slot each, up to the usable cores; "
    "for a request rate 1, more while it cannot keep up).",
)

# -> as_json: bool
as_json = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")

# -> name: str | None (tritune.domain.names: the default and the check)
model_name = click.option(
    "--name",
    default=None,
    help="Model name (default: the file's stem, its directory's name for <name>/model.onnx, "
    "a factory's function name).",
)

# -> inputs: tuple[str, ...] (tritune.prepare.parse_input_option reads them)
model_inputs = click.option(
    "--input",
    "inputs",
    multiple=True,
    metavar="NAME:D1,D2[:DTYPE]",
    help="For a model that needs preparing: an input's per-sample shape (batch left out), "
    "and its dtype for PyTorch. Repeatable.",
)


def measurement(*, interval_ms: int, min_interval_ms: int = 1) -> Callable[[F], F]:
    """perf_analyzer's window and stability flags: ``-p/--measurement-interval`` (-> measurement_interval,
    ms), ``-s/--stability-percentage`` (-> stability_percentage) and ``-r/--max-trials`` (-> max_trials:
    windows before a measurement counts as unstable). The window's default is the command's:
    perf_analyzer's 5 s for perf, shorter for a search that measures many variants."""
    window, percent = click.IntRange(min=min_interval_ms), click.FloatRange(min=0)
    table = (
        (("-p", "--measurement-interval"), interval_ms, window, "Measurement window (ms)."),
        (("-s", "--stability-percentage"), 10.0, percent, "Stable when the last 3 windows are within this %."),
        (("-r", "--max-trials"), 10, click.IntRange(min=3), "Windows before a measurement is given up as unstable."),
    )
    decorators = [
        click.option(*flags, default=default, show_default=True, type=kind, help=text)
        for flags, default, kind, text in table
    ]

    def apply(command: F) -> F:
        for decorator in reversed(decorators):  # the first listed shows first in --help
            command = decorator(command)
        return command

    return apply


# perf_analyzer's TLS and header flags, spelled as it spells them: (flags, parameter, type, help).
_CONNECTION_FLAGS: tuple[tuple[tuple[str, ...], str, Any, str], ...] = (
    (("--ssl-grpc-use-ssl",), "ssl_grpc_use_ssl", None, "gRPC: connect over TLS."),
    (("--ssl-grpc-root-certifications-file",), "ssl_grpc_root_certifications_file", str, "gRPC: the CA (PEM)."),
    (("--ssl-grpc-private-key-file",), "ssl_grpc_private_key_file", str, "gRPC: the client's key (PEM)."),
    (("--ssl-grpc-certificate-chain-file",), "ssl_grpc_certificate_chain_file", str, "gRPC: the client's chain."),
    (("--ssl-https-verify-peer",), "ssl_https_verify_peer", click.IntRange(0, 1), "HTTPS: 0 skips the check."),
    (("--ssl-https-verify-host",), "ssl_https_verify_host", click.IntRange(0, 2), "HTTPS: 0 skips the name check."),
    (("--ssl-https-ca-certificates-file",), "ssl_https_ca_certificates_file", str, "HTTPS: the CA (PEM)."),
    (("--ssl-https-client-certificate-file",), "ssl_https_client_certificate_file", str, "HTTPS: client cert."),
    (("--ssl-https-private-key-file",), "ssl_https_private_key_file", str, "HTTPS: the client's key (PEM)."),
    (("-H", "--header"), "header", str, "'Name: value' sent with every request (repeatable; never printed)."),
)


def connection_keys(values: dict[str, Any]) -> dict[str, Any]:
    """The connection flags given (popped from ``values``) as the ``connection`` section's keys."""
    given = {name: values.pop(name) for _, name, _, _ in _CONNECTION_FLAGS}
    # Not given: None, an unset switch, no -H (a 0, as in --ssl-https-verify-peer 0, is given).
    unset = [name for name, v in given.items() if v is None or v is False or v == ()]
    keys = {("headers" if name == "header" else name): v for name, v in given.items() if name not in unset}
    if "headers" in keys:
        try:
            keys["headers"] = parse_headers(keys["headers"])
        except ValueError as error:  # its message hides the value
            raise click.BadParameter(str(error), param_hint="-H/--header") from None
    return keys


def connection_from(values: dict[str, Any]) -> Connection | None:
    """The flags given (popped from ``values``); None when none was given."""
    keys = connection_keys(values)
    return ConnectionSettings(**keys).to_connection() if keys else None


def connection(command: F, *, as_keys: bool = False) -> F:
    """perf_analyzer's ``--ssl-*`` flags and ``-H`` for a server given by URL (-> connection:
    Connection | None, None when none was given; with ``as_keys`` -> connection_keys: the
    ``connection`` section's keys given, for a command that reads them with its config file)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if as_keys:
            kwargs["connection_keys"] = connection_keys(kwargs)
        else:
            kwargs["connection"] = connection_from(kwargs)
        return command(*args, **kwargs)

    decorated: Any = wrapper
    for flags, name, kind, text in reversed(_CONNECTION_FLAGS):
        if kind is None:
            decorated = click.option(*flags, name, is_flag=True, help=text)(decorated)
        elif name == "header":
            decorated = click.option(*flags, name, multiple=True, metavar="'NAME: VALUE'", help=text)(decorated)
        else:
            decorated = click.option(*flags, name, type=kind, default=None, help=text)(decorated)
    return decorated  # type: ignore[no-any-return]


def connection_keys_option(command: F) -> F:
    """``connection`` for a command with a config file (-> connection_keys: dict[str, Any])."""
    return connection(command, as_keys=True)


def check_writable(path: Path, option: str, *, folder: bool) -> None:
    """Refuse, before anything is measured, an output path that cannot be written: a folder
    (``folder``) that is a file, or a file whose folder is absent or not writable."""
    if folder and path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path} is a file, not a folder: give a folder (it is created if absent)")
    if not folder and path.is_dir():
        raise UsageError(f"{option} {path} is a folder: give the path of a file")
    if not folder and path.exists() and os.access(path, os.W_OK):
        return  # a file there to overwrite (/dev/null), whatever its folder
    parent = path if folder else path.parent
    if not folder and not parent.is_dir():
        raise UsageError(f"{option} {path}: the folder {parent} does not exist: create it or give another path")
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent  # a folder that is absent is created under the nearest one there
    if not os.access(parent, os.W_OK | os.X_OK):  # EROFS says no even to root
        raise UsageError(f"{option} {path}: the folder {parent} is not writable: give a path in a writable folder")
