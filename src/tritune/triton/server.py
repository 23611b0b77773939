"""Launching the embedded Triton Inference Server, or attaching to a running one.

One server serves a whole run: variants are loaded and unloaded through the model-control
API instead of restarting the server per variant.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Protocol

from tritune.domain.connection import Connection
from tritune.errors import ServerError
from tritune.interrupts import held_interrupts
from tritune.triton.endpoints import Endpoints
from tritune.triton.http_api import TritonHttp, TritonHttpError, not_triton
from tritune.triton.locate import TritonInstall, find_triton, prepare_backend_directory, server_environment
from tritune.triton.process_group import start_reaper, terminate_group

LOOPBACK = "127.0.0.1"


class TritonServer(Protocol):
    """What the rest of tritune needs of a server, embedded or remote."""

    @property
    def endpoints(self) -> Endpoints: ...

    @property
    def model_repository(self) -> Path | None: ...

    def is_alive(self) -> bool: ...

    def log_tail(self, lines: int = 40) -> str: ...

    def server_pid(self) -> int | None: ...


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def pick_free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """Ports the kernel reports free now (a later bind may still race, which start() retries)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _die_with_parent() -> None:
    """Runs in the child before exec: ask the kernel to SIGTERM the server when tritune dies,
    so even a SIGKILLed tritune leaves no orphan tritonserver behind."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def _prepare_child(cpus: frozenset[int] | None) -> None:
    """Runs in the child before exec: dies with tritune, and stays on ``cpus`` (the stubs the
    server starts later inherit them)."""
    _die_with_parent()
    if cpus:
        os.sched_setaffinity(0, cpus)


class EmbeddedTriton:
    """A tritonserver process owned by tritune (context manager).

    Started with explicit model control on free loopback ports (or the ports given),
    stopped with its whole process group, Python-backend stubs included.
    """

    def __init__(
        self,
        model_repository: str | os.PathLike[str],
        *,
        install: TritonInstall | None = None,
        tritonserver: str | os.PathLike[str] | None = None,
        http_port: int | None = None,
        grpc_port: int | None = None,
        metrics_port: int | None = None,
        log_path: str | os.PathLike[str] | None = None,
        startup_timeout_s: float = 120.0,
        load_models: Sequence[str] = (),
        extra_args: Sequence[str] = (),
        log_verbose: int = 0,
        cpus: frozenset[int] | None = None,
        backend_directory: str | os.PathLike[str] | None = None,
        auto_complete: bool = True,
    ) -> None:
        """``cpus``: run the server, and the model stubs it starts, on these cores only.
        ``backend_directory``: the backends folder to run with (a user's own Triton keeps its
        own, see ``locate.local_backend_directory``); by default one holding only the Python
        backend for this interpreter. ``auto_complete=False`` for models whose configs are
        complete (tritune's runner): the Python backend then starts no stub per load just to ask
        the model for its config, which costs more than the load itself."""
        self._repository = Path(model_repository).resolve()
        self._backend_directory = Path(backend_directory) if backend_directory is not None else None
        self._cpus = cpus
        self._install = install
        self._tritonserver = tritonserver
        self._requested_ports = (http_port, grpc_port, metrics_port)
        self._log_path = Path(log_path) if log_path else None
        self._startup_timeout_s = startup_timeout_s
        self._load_models = list(load_models)
        self._extra_args = list(extra_args)
        self._auto_complete = auto_complete
        self._log_verbose = log_verbose
        self._process: subprocess.Popen[bytes] | None = None
        self._started_epoch: float | None = None  # time.time() at start
        self._reaper: subprocess.Popen[bytes] | None = None
        self._endpoints: Endpoints | None = None
        self._log_file: Path | None = None
        self._owned_log_dir: tempfile.TemporaryDirectory[str] | None = None

    # -- the TritonServer protocol -------------------------------------------------------
    @property
    def endpoints(self) -> Endpoints:
        if self._endpoints is None:
            raise ServerError("the embedded Triton is not started: use it as a context manager")
        return self._endpoints

    @property
    def model_repository(self) -> Path:
        return self._repository

    def is_alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def server_pid(self) -> int | None:
        return self._process.pid if self._process else None

    def log_tail(self, lines: int = 40) -> str:
        if self._log_file is None or not self._log_file.exists():
            return ""
        with self._log_file.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    @property
    def log_file(self) -> Path | None:
        return self._log_file

    @property
    def backend_directory(self) -> Path | None:
        """The --backend-directory the server runs with (None before start)."""
        return self._backend_directory

    # -- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> EmbeddedTriton:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        if not self._repository.is_dir():
            raise ServerError(
                f"model repository {self._repository} does not exist: create it or pass an existing directory"
            )
        install = self._install or find_triton(self._tritonserver)
        backend_dir = self._backend_directory or prepare_backend_directory(install)
        self._backend_directory = backend_dir
        explicit = any(p is not None for p in self._requested_ports)
        for name, port in zip(("http", "grpc", "metrics"), self._requested_ports, strict=True):
            if port is not None and not port_is_free(port):
                raise ServerError(
                    f"port {port} ({name}) is already in use: give another {name}-port in triton_server_flags "
                    "or stop the process that holds it"
                )
        attempts = 1 if explicit else 3
        for attempt in range(attempts):
            ports = [p if p is not None else 0 for p in self._requested_ports]
            free = iter(pick_free_ports(3))
            ports = [p or next(free) for p in ports]
            try:
                self._launch(install, backend_dir, ports)
                return
            except BaseException as error:
                # Another process may have taken an auto-picked port between pick and bind
                # (read before stop(), which removes a log of tritune's own).
                retry = (
                    isinstance(error, ServerError)
                    and attempt + 1 < attempts
                    and "already in use" in self.log_tail(200).lower()
                )
                self.stop()  # a failed start (Ctrl-C and SIGTERM included): __exit__ will not run
                if retry:
                    continue
                raise

    def _auto_complete_args(self) -> list[str]:
        """Triton's flag that turns auto-complete off, unless the user's flags say it themselves."""
        given = any(a.startswith(("--disable-auto-complete-config", "--strict-model-config")) for a in self._extra_args)
        return [] if self._auto_complete or given else ["--disable-auto-complete-config"]

    def _launch(self, install: TritonInstall, backend_dir: Path, ports: list[int]) -> None:
        http_port, grpc_port, metrics_port = ports
        if self._log_path is None:
            self._owned_log_dir = tempfile.TemporaryDirectory(prefix="tritune-triton-")
            self._log_file = Path(self._owned_log_dir.name) / "tritonserver.log"
        else:
            self._log_file = self._log_path
            self._log_file.parent.mkdir(parents=True, exist_ok=True)
        command = [
            str(install.binary),
            f"--model-repository={self._repository}",
            f"--backend-directory={backend_dir}",
            "--model-control-mode=explicit",
            f"--http-address={LOOPBACK}",
            f"--http-port={http_port}",
            f"--grpc-address={LOOPBACK}",
            f"--grpc-port={grpc_port}",
            f"--metrics-address={LOOPBACK}",
            f"--metrics-port={metrics_port}",
            "--allow-metrics=true",
            "--exit-on-error=false",
            "--strict-readiness=false",
            f"--log-verbose={self._log_verbose}",
            *[f"--load-model={name}" for name in self._load_models],
            *self._extra_args,
            *self._auto_complete_args(),
        ]
        env = server_environment(install)
        self._started_epoch = time.time()  # its stubs' regions are newer (stop() looks for them)
        with held_interrupts(), self._log_file.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=str(self._log_file.parent),
                start_new_session=True,  # its own process group: stop() signals the whole tree
                preexec_fn=functools.partial(_prepare_child, self._cpus),  # noqa: PLW1509 - prctl and affinity
            )
            self._reaper = start_reaper(self._process.pid, self._owned_log_dir)
        self._endpoints = Endpoints(
            http=f"{LOOPBACK}:{http_port}",
            grpc=f"{LOOPBACK}:{grpc_port}",
            metrics=f"http://{LOOPBACK}:{metrics_port}/metrics",
        )
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self._startup_timeout_s
        api = TritonHttp(self.endpoints.http, timeout_s=1.0)
        while time.monotonic() < deadline:
            if not self.is_alive():
                raise ServerError(self._death_message(), detail=self.log_tail())
            if api.is_ready():
                return
            time.sleep(0.05)
        raise ServerError(
            f"tritonserver did not become ready within {self._startup_timeout_s:.0f} s: see its log {self._log_hint()}",
            detail=self.log_tail(),
        )

    def _death_message(self) -> str:
        code = self._process.returncode if self._process else None
        tail = self.log_tail(200)
        lowered = tail.lower()
        if "already in use" in lowered or "address in use" in lowered:
            return f"tritonserver exited (code {code}): a port is already in use; pass other ports"
        if "failed to load" in lowered or "load failed" in lowered:
            return f"tritonserver exited (code {code}): a model failed to load; see the log below"
        return f"tritonserver exited during startup (code {code}): see its log {self._log_hint()}"

    def _log_hint(self) -> str:
        """Where the log is to be read: a log in tritune's own temporary folder goes when the
        server is stopped, so the error's detail (its tail, printed below) is what remains."""
        return "below" if self._owned_log_dir is not None else str(self._log_file)

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop the server and every process it started; idempotent."""
        process, self._process = self._process, None
        if process is not None:
            terminate_group(process, timeout_s, self._started_epoch)
        reaper, self._reaper = self._reaper, None
        if reaper is not None:  # its server is gone: nothing left for it to do
            reaper.kill()
            reaper.wait(timeout=5)
        owned, self._owned_log_dir = self._owned_log_dir, None
        if owned is not None:  # the log of a server nobody asked to keep (errors carry its tail)
            with contextlib.suppress(OSError):
                owned.cleanup()
        self._endpoints = None

    def __del__(self) -> None:  # last resort; stop() is the contract
        with contextlib.suppress(Exception):
            self.stop(timeout_s=2.0)


class RemoteTriton:
    """A Triton server tritune does not own (local binary started by the user, a container,
    another host). Needs --model-control-mode=explicit on that server to load variants."""

    def __init__(
        self,
        url: str,
        *,
        grpc_url: str | None = None,
        metrics_url: str | None = None,
        connection: Connection | None = None,
    ) -> None:
        http = url.removeprefix("http://").removeprefix("https://").rstrip("/")
        host, _, port_text = http.rpartition(":")
        if not host or not port_text.isdigit():
            raise ServerError(f"cannot parse server URL {url!r}: give it as host:port, e.g. localhost:8000")
        port = int(port_text)
        given = connection or Connection()  # TLS and headers
        connection = replace(given, https=given.https or url.startswith("https://"))  # as perf_analyzer's -u
        scheme = "https" if connection.https else "http"
        self._endpoints = Endpoints(
            http=http,
            grpc=grpc_url or f"{host}:{port + 1}",
            metrics=metrics_url if metrics_url is not None else f"{scheme}://{host}:{port + 2}/metrics",
            connection=connection,
        )

    @property
    def endpoints(self) -> Endpoints:
        return self._endpoints

    @property
    def model_repository(self) -> None:
        return None

    def is_alive(self) -> bool:
        return self._endpoints.api(timeout_s=2.0).is_live()

    def server_pid(self) -> None:
        return None

    def log_tail(self, lines: int = 40) -> str:
        return ""

    def __enter__(self) -> RemoteTriton:
        try:
            self._endpoints.api(timeout_s=2.0).check_live()
        except TritonHttpError as error:
            if error.fix:
                raise ServerError(f"Triton at {self._endpoints.http_base_url}: {error.fix}") from None
            if other := not_triton(self._endpoints.http, error):
                raise ServerError(other) from None
            raise ServerError(
                f"cannot reach Triton at {self._endpoints.http_base_url} ({error.reason}): start it with "
                "`tritonserver --model-repository=DIR --model-control-mode=explicit` or fix the URL "
                "(-u/--url; profile: --triton-http-endpoint)"
            ) from None
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None
