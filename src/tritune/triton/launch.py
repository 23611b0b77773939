"""Which server a run measures on, in Model Analyzer's launch modes: ``embedded`` (the server
bundled with nvidia-pytriton), ``local`` (the user's tritonserver binary, with its own backends)
and ``remote`` (a server the user runs; variants travel in the load request)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tritune.domain.connection import Connection
from tritune.errors import UsageError
from tritune.triton.locate import find_triton, local_backend_directory
from tritune.triton.server import EmbeddedTriton, RemoteTriton, TritonServer
from tritune.triton.tls import check_files

LaunchMode = Literal["embedded", "local", "remote"]

# Flags tritune sets itself on a server it starts: the run depends on them.
_RESERVED_FLAGS = ("model-repository", "model-store", "model-control-mode", "load-model")
_PORT_FLAGS = ("http-port", "grpc-port", "metrics-port")


@dataclass(frozen=True)
class LaunchSettings:
    """The server settings of a run (the config's ``triton_*`` keys)."""

    mode: LaunchMode = "embedded"
    server_path: str | None = None
    flags: Mapping[str, Any] = field(default_factory=dict)
    http_endpoint: str | None = None
    grpc_endpoint: str | None = None
    metrics_url: str | None = None
    connection: Connection = field(default_factory=Connection)  # remote mode: TLS and headers


@dataclass(frozen=True)
class ServerFlags:
    """``triton_server_flags`` split by who uses them."""

    ports: tuple[int | None, int | None, int | None]  # http, grpc, metrics: None picks a free one
    backend_directory: Path | None
    args: tuple[str, ...]  # the rest, passed to tritonserver as they are


def _flag_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def parse_server_flags(flags: Mapping[str, Any]) -> ServerFlags:
    """Model Analyzer's ``triton_server_flags``: ``{log_verbose: 1, backend-config: [a, b]}``
    (``_`` or ``-`` in names, a list repeats the flag) -> tritonserver arguments."""
    ports: dict[str, int] = {}
    backend_directory: Path | None = None
    args: list[str] = []
    for key, value in flags.items():
        name = str(key).strip().lstrip("-").replace("_", "-")
        if name in _RESERVED_FLAGS:
            raise UsageError(f"triton_server_flags: tritune sets --{name} itself: remove it")
        if name in _PORT_FLAGS:
            try:
                ports[name] = int(value)
            except (TypeError, ValueError):
                raise UsageError(f"triton_server_flags: --{name} must be a port number, got {value!r}") from None
        elif name == "backend-directory":
            backend_directory = Path(str(value))
        else:
            args += [f"--{name}={_flag_value(v)}" for v in (value if isinstance(value, list) else [value])]
    return ServerFlags(
        (ports.get("http-port"), ports.get("grpc-port"), ports.get("metrics-port")), backend_directory, tuple(args)
    )


def open_server(
    settings: LaunchSettings,
    repository: Path,
    *,
    log_path: str | os.PathLike[str] | None = None,
    cpus: frozenset[int] | None = None,
    auto_complete: bool = True,
) -> contextlib.AbstractContextManager[TritonServer]:
    """The run's server, not started yet (a context manager): a remote one is only checked on
    entry; an embedded or local one serves ``repository`` in explicit model-control mode, with
    Triton's auto-complete off when ``auto_complete`` is False (every config it loads is complete)."""
    if settings.mode == "remote":
        if not settings.http_endpoint:
            raise UsageError("remote mode needs the server's address: pass --triton-http-endpoint HOST:PORT")
        check_files(settings.connection)
        remote = RemoteTriton(
            settings.http_endpoint,
            grpc_url=settings.grpc_endpoint,
            metrics_url=settings.metrics_url,
            connection=settings.connection,
        )
        return remote  # type: ignore[return-value]
    if settings.connection != Connection():
        raise UsageError(
            "the connection settings (--ssl-*, -H) are for a server you run: pass --url "
            "(triton_launch_mode: remote); tritune's own server is plain HTTP on loopback"
        )
    flags = parse_server_flags(settings.flags)
    install = find_triton(settings.server_path if settings.mode == "local" else None)
    backends = None
    if settings.mode == "local" or flags.backend_directory is not None:
        # The binary's own backends (native ones included), tritune's Python backend beside them.
        backends = local_backend_directory(install, flags.backend_directory)
    http_port, grpc_port, metrics_port = flags.ports
    return EmbeddedTriton(  # type: ignore[return-value]
        repository,
        install=install,
        backend_directory=backends,
        http_port=http_port,
        grpc_port=grpc_port,
        metrics_port=metrics_port,
        extra_args=flags.args,
        log_path=log_path,
        cpus=cpus,
        auto_complete=auto_complete,
    )
