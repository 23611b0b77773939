"""Model control on a running Triton: load (with a config override), unload, readiness, the
config in use and the statistics, with the one-line errors the rest of tritune shows."""

from __future__ import annotations

import time
from typing import Any

from tritonclient.grpc import model_config_pb2 as mc

from tritune.errors import ModelLoadError, ServerError
from tritune.triton.http_api import TritonHttp, TritonHttpError
from tritune.triton.model_config import to_json
from tritune.triton.server import TritonServer


class ModelControl:
    """Load, unload and inspect models on one server (explicit model-control mode)."""

    def __init__(self, server: TritonServer, *, timeout_s: float = 300.0) -> None:
        self._server = server
        self._api = TritonHttp(server.endpoints.http, timeout_s=timeout_s)

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

    def load(self, name: str, config: mc.ModelConfig | None = None) -> float:
        """Load (or reload, with a changed config) ``name``; returns the load time in seconds.

        A config given here overrides the config.pbtxt on disk, so a variant can be tried
        without writing files or restarting the server.
        """
        started = time.perf_counter()
        try:
            self._api.load_model(name, to_json(config) if config is not None else None)
        except TritonHttpError as error:
            if error.status == 0 or not self._server.is_alive():
                raise self._server_gone(error.reason) from None
            raise ModelLoadError(
                f"model {name!r} failed to load: {error.reason}", detail=self._server.log_tail()
            ) from None
        return time.perf_counter() - started

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
