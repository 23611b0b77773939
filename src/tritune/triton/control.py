"""Model control on a running Triton: load (with a config override), unload, readiness, the
config in use and the statistics, with the one-line errors the rest of tritune shows."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tritonclient.grpc import model_config_pb2 as mc

from tritune.errors import ModelLoadError, ServerError
from tritune.triton.http_api import TritonHttpError
from tritune.triton.model_config import from_pbtxt, to_json
from tritune.triton.server import TritonServer

# Left out of what is sent: the config goes as the "config" parameter, caches are rebuilt there.
_NOT_SENT = ("config.pbtxt", "config.pbtxt.tmp")


def model_files(model_dir: Path) -> dict[str, bytes]:
    """Every file of a model directory by its path inside it (``1/model.onnx``), symlinks and
    hard links followed: the server gets the bytes, not links into a filesystem it cannot see."""
    if not model_dir.is_dir():
        raise ServerError(f"no model directory {model_dir} to send to the server: write the variant first")
    files = {}
    for root, dirs, names in os.walk(model_dir, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for file_name in sorted(names):
            path = Path(root) / file_name
            relative = path.relative_to(model_dir).as_posix()
            if relative in _NOT_SENT or file_name.endswith(".pyc"):
                continue
            files[relative] = path.read_bytes()
    return files


class ModelControl:
    """Load, unload and inspect models on one server (explicit model-control mode)."""

    def __init__(self, server: TritonServer, *, repository: Path | None = None, timeout_s: float = 300.0) -> None:
        """``repository``: the local folder variants are written to. When the server reads
        another one (a remote server, a container), a load sends the model's config and files
        in the request instead of naming a model the server cannot see."""
        self._server = server
        self._api = server.endpoints.api(timeout_s=timeout_s)
        served = server.model_repository
        self._send_from = (
            repository
            if repository is not None and (served is None or served.resolve() != repository.resolve())
            else None
        )

    @property
    def sends_files(self) -> bool:
        """Whether a load sends the model's config and files (the server reads another repository)."""
        return self._send_from is not None

    def close(self) -> None:
        """Nothing held between calls (a connection per call); kept for the context manager."""

    def __enter__(self) -> ModelControl:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _server_gone(self, reason: str) -> ServerError:
        return ServerError(
            f"lost the Triton server at {self._server.endpoints.http} ({reason}): it stopped or crashed; see its log",
            detail=self._server.log_tail(),
        )

    def check_server(self) -> None:
        """ServerError when the server is gone (its process ended, or it no longer answers)."""
        if not self._server.is_alive() or not self._api.is_live():
            raise self._server_gone("no answer to a health check")

    def load(self, name: str, config: mc.ModelConfig | None = None) -> float:
        """Load (or reload, with a changed config) ``name``; returns the load time in seconds.

        A config given here overrides the config.pbtxt on disk, so a variant can be tried
        without writing files or restarting the server.
        """
        files: dict[str, bytes] = {}
        if self._send_from is not None:
            model_dir = self._send_from / name
            files = model_files(model_dir)
            config = config if config is not None else from_pbtxt((model_dir / "config.pbtxt").read_text())
        started = time.perf_counter()
        try:
            self._watched(lambda: self._api.load_model(name, to_json(config) if config is not None else None, files))
        except TritonHttpError as error:
            if error.status == 0 or not self._server.is_alive():
                raise self._server_gone(error.reason) from None
            raise self._load_failure(name, error.reason) from None
        return time.perf_counter() - started

    def _watched(self, call: Callable[[], None], every_s: float = 0.5) -> None:
        """``call`` (a request that may take minutes, such as a load), given up on as soon as the
        server's process is gone. A server that dies mid-load leaves its model's stubs holding
        the request's connection (they inherited it), so the reply would never come: the
        request waits in a thread of its own while this one watches the process. The thread is
        a daemon: stopping the server ends its stubs, and the connection with them."""
        outcome: list[BaseException | None] = []

        def run() -> None:
            try:
                call()
                outcome.append(None)
            except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
                outcome.append(error)

        thread = threading.Thread(target=run, name="triton-request", daemon=True)
        thread.start()
        while not outcome:
            thread.join(every_s)
            if not outcome and not self._server.is_alive():
                raise self._server_gone("it died while loading a model")
        if outcome[0] is not None:
            raise outcome[0]

    def _load_failure(self, name: str, reason: str) -> ServerError:
        """The server's refusal, told apart by whom it concerns: a ServerError when the server is
        set up so that no variant can load (a resumed run tries those again), a ModelLoadError
        when this model or variant is the problem."""
        address = self._server.endpoints.http
        lowered = reason.lower()
        if "explicit model load" in lowered and "not allowed" in lowered:
            return ServerError(
                f"the Triton at {address} is not in explicit model-control mode ({reason}): "
                "restart it with --model-control-mode=explicit"
            )
        return ModelLoadError(
            f"model {name!r} failed to load: {self._poll_reason(name, reason)}", detail=self._server.log_tail()
        )

    def _poll_reason(self, name: str, reason: str) -> str:
        """Without auto-complete Triton answers a config it refuses with "failed to poll from model
        repository" and logs why: the logged reason, where the server's log is at hand."""
        if "failed to poll from model repository" not in reason:
            return reason
        pattern = rf"Poll failed for model directory '{re.escape(name)}': (.*?)\"?$"
        found = re.findall(pattern, self._server.log_tail(200), flags=re.MULTILINE)
        return found[-1] if found else reason

    def unload(self, name: str, *, wait_s: float = 60.0) -> None:
        try:
            self._api.unload_model(name)
        except TritonHttpError as error:
            raise ServerError(f"could not unload model {name!r}: {error.reason}") from None
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if not self.is_ready(name):
                return
            time.sleep(0.05)

    def is_ready(self, name: str) -> bool:
        return self._api.is_model_ready(name)

    def config(self, name: str) -> dict[str, Any]:
        """The config the server is using for ``name`` (as JSON)."""
        try:
            return self._api.model_config(name)
        except TritonHttpError as error:
            raise ServerError(f"no config for model {name!r}: {error.reason}") from None

    def statistics(self, name: str = "") -> dict[str, Any]:
        try:
            return self._api.statistics(name)
        except TritonHttpError as error:
            raise ServerError(f"no statistics for model {name!r}: {error.reason}") from None
