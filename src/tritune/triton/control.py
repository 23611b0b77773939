"""The model-control, metadata and statistics APIs of a running Triton."""

from __future__ import annotations

import time
from typing import Any

import tritonclient.http as httpclient
from tritonclient.grpc import model_config_pb2 as mc
from tritonclient.utils import InferenceServerException

from tritune.errors import ModelLoadError, ServerError
from tritune.triton.model_config import to_json
from tritune.triton.server import TritonServer


class ModelControl:
    """Load, unload and inspect models on one server (explicit model-control mode)."""

    def __init__(self, server: TritonServer, *, timeout_s: float = 300.0) -> None:
        self._server = server
        self._client = httpclient.InferenceServerClient(
            server.endpoints.http, connection_timeout=timeout_s, network_timeout=timeout_s
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ModelControl:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _server_gone(self, error: Exception) -> ServerError:
        return ServerError(
            f"lost the Triton server at {self._server.endpoints.http} ({error}): it stopped or crashed; see its log",
            detail=self._server.log_tail(),
        )

    def load(self, name: str, config: mc.ModelConfig | None = None) -> float:
        """Load (or reload, with a changed config) ``name``; returns the load time in seconds.

        A config given here overrides the config.pbtxt on disk, so a variant can be tried
        without writing files or restarting the server.
        """
        started = time.perf_counter()
        try:
            self._client.load_model(name, config=to_json(config) if config is not None else None)
        except InferenceServerException as error:
            if not self._server.is_alive():
                raise self._server_gone(error) from None
            message = (error.message() or str(error)).strip().splitlines()[0]
            raise ModelLoadError(f"model {name!r} failed to load: {message}", detail=self._server.log_tail()) from None
        except (ConnectionError, OSError) as error:
            raise self._server_gone(error) from None
        return time.perf_counter() - started

    def unload(self, name: str, *, wait_s: float = 60.0) -> None:
        try:
            self._client.unload_model(name)
        except InferenceServerException as error:
            raise ServerError(f"could not unload model {name!r}: {error.message()}") from None
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if not self.is_ready(name):
                return
            time.sleep(0.05)

    def is_ready(self, name: str) -> bool:
        try:
            return bool(self._client.is_model_ready(name))
        except InferenceServerException:
            return False

    def config(self, name: str) -> dict[str, Any]:
        """The config the server is using for ``name`` (as JSON)."""
        try:
            return dict(self._client.get_model_config(name))
        except InferenceServerException as error:
            raise ServerError(f"no config for model {name!r}: {error.message()}") from None

    def metadata(self, name: str) -> dict[str, Any]:
        try:
            return dict(self._client.get_model_metadata(name))
        except InferenceServerException as error:
            raise ServerError(f"model {name!r} is not available: {error.message()}") from None

    def statistics(self, name: str = "") -> dict[str, Any]:
        try:
            return dict(self._client.get_inference_statistics(name))
        except InferenceServerException as error:
            raise ServerError(f"no statistics for model {name!r}: {error.message()}") from None

    def server_metadata(self) -> dict[str, Any]:
        try:
            return dict(self._client.get_server_metadata())
        except InferenceServerException as error:
            raise self._server_gone(error) from None

    def repository_index(self) -> list[dict[str, Any]]:
        return list(self._client.get_model_repository_index())
