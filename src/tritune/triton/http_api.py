"""Triton's HTTP API: the one place that knows its endpoints (health, metadata, configuration,
statistics, model control, the Prometheus text) and the one small HTTP helper they share.

Plain ``urllib``: these calls are few and far between (a load, a statistics snapshot per window),
so a connection per call costs nothing that matters, and tritonclient's gevent-based client stays
where it earns its keep (tensors, in ``triton/infer.py``). Inference requests of the load
generator are written on raw sockets; they take their path from ``infer_path``.

Every failure is a ``TritonHttpError``: ``status`` 0 when nothing answered (refused, reset,
timed out), the HTTP status otherwise, with the server's own one-line reason.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from tritune.domain.connection import Connection
from tritune.errors import ServerError
from tritune.triton.tls import explain, ssl_context

PLAIN = Connection()


@functools.lru_cache(maxsize=8)
def _opener(connection: Connection) -> urllib.request.OpenerDirector:
    # No proxy handler: the server is spoken to directly, as tritonclient does (a proxy configured
    # for the user's web traffic has no business between tritune and a loopback server).
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if connection.https:
        handlers.append(urllib.request.HTTPSHandler(context=ssl_context(connection)))
    return urllib.request.build_opener(*handlers)


class TritonHttpError(ServerError):
    """A call that failed; callers turn it into their own one-line error."""

    def __init__(self, url: str, status: int, reason: str, connection: Connection = PLAIN) -> None:
        answer = f"HTTP {status}" if status else "no answer"
        reason = connection.redact(reason)
        # A proxy's refusal or a certificate that does not verify: the one line that says the fix.
        self.fix = explain(reason, status, connection)
        super().__init__(self.fix or f"{url}: {answer}: {reason}")
        self.status = status  # 0: nothing answered
        self.reason = reason  # the server's error (first line), or why nothing answered


# Statuses Triton never gives for its health paths: another web server listens at the address.
_NOT_TRITON = frozenset({404, 405, 501})


def not_triton(address: str, error: TritonHttpError, path: str = "/v2/health/live") -> str | None:
    """The line for an address where something answered ``path`` but not as Triton does, else None."""
    if error.fix or error.status not in _NOT_TRITON:
        return None
    return (
        f"the server at {address} answered but is not a Triton server (it said {error.status} for {path}): "
        "give the address of Triton's HTTP endpoint (its --http-port, 8000 by default)"
    )


def stopped_answering(api: TritonHttp) -> str | None:
    """The line for a server that accepts connections but answers nothing (hung, SIGSTOPped),
    else None: it answered, or refused (a dead server is told by its own line)."""
    try:
        api.check_live()
    except TritonHttpError as error:
        if error.status == 0 and "timed out" in error.reason:
            return (
                f"the server at {api.address} stopped answering (no reply to /v2/health/live within "
                f"{api.timeout_s:g} s): check it, or restart it"
            )
    return None


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0] if stripped else ""


def _server_reason(body: bytes) -> str:
    """Triton answers errors with ``{"error": "..."}``; anything else is shown as it came."""
    text = body.decode(errors="replace")
    try:
        document = json.loads(text)
    except ValueError:
        return _first_line(text) or "empty response"
    if isinstance(document, dict) and "error" in document:
        return _first_line(str(document["error"])) or "empty error"
    return _first_line(text)


def send(url: str, *, body: bytes | None = None, timeout_s: float = 2.0, connection: Connection = PLAIN) -> bytes:
    """GET (or POST when ``body`` is given) ``url``; the body of a 200 answer, with the
    connection's headers (and its TLS settings for an https URL).

    Raises:
        TritonHttpError: any other status, or no answer at all.
    """
    request = urllib.request.Request(url, data=body, method="GET" if body is None else "POST")  # noqa: S310
    if body is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in connection.headers:
        request.add_header(name, value)
    if url.startswith("https://") and not connection.https:
        connection = dataclasses.replace(connection, https=True)  # a metrics URL given as https
    try:
        with _opener(connection).open(request, timeout=timeout_s) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as error:
        raise TritonHttpError(url, error.code, _server_reason(error.read()), connection) from None
    except urllib.error.URLError as error:
        raise TritonHttpError(url, 0, str(error.reason), connection) from None
    except (OSError, http.client.HTTPException) as error:  # a reset or a timeout mid-answer
        raise TritonHttpError(url, 0, str(error) or type(error).__name__, connection) from None


def metrics_text(url: str, timeout_s: float = 2.0, connection: Connection = PLAIN) -> str:
    """The Prometheus exposition text of the metrics endpoint (a full URL, another port)."""
    return send(url, timeout_s=timeout_s, connection=connection).decode(errors="replace")


def infer_path(model: str) -> str:
    """The KServe v2 inference path of ``model`` (the load generator writes it on raw sockets)."""
    return f"/v2/models/{quote(model)}/infer"


class TritonHttp:
    """The HTTP API of one server, at ``address`` ("host:port", tritonclient's form)."""

    def __init__(self, address: str, timeout_s: float = 2.0, connection: Connection = PLAIN) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self.connection = connection

    def _url(self, path: str) -> str:
        scheme = "https" if self.connection.https else "http"
        return f"{scheme}://{self.address}/v2{path}"

    def _send(self, path: str, body: bytes | None = None) -> bytes:
        return send(self._url(path), body=body, timeout_s=self.timeout_s, connection=self.connection)

    def _json(self, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        reply = self._send(path, data)
        return json.loads(reply) if reply.strip() else None

    def _answers(self, path: str) -> bool:
        try:
            self._send(path)
        except TritonHttpError:
            return False
        return True

    # -- health ------------------------------------------------------------------------------
    def is_live(self) -> bool:
        return self._answers("/health/live")

    def is_ready(self) -> bool:
        return self._answers("/health/ready")

    def is_model_ready(self, model: str) -> bool:
        return self._answers(f"/models/{quote(model)}/ready")

    def check_live(self) -> None:
        """Raises ``TritonHttpError`` with why the server did not answer (``is_live`` says only no)."""
        self._send("/health/live")

    # -- metadata, configuration, statistics -----------------------------------------------
    def server_metadata(self) -> dict[str, Any]:
        return dict(self._json(""))

    def model_metadata(self, model: str) -> dict[str, Any]:
        return dict(self._json(f"/models/{quote(model)}"))

    def model_config(self, model: str) -> dict[str, Any]:
        return dict(self._json(f"/models/{quote(model)}/config"))

    def statistics(self, model: str = "") -> dict[str, Any]:
        """Triton's statistics extension: one model, or every model when ``model`` is empty."""
        path = f"/models/{quote(model)}/stats" if model else "/models/stats"
        return dict(self._json(path))

    # -- model control (explicit mode) -------------------------------------------------------
    def repository_index(self) -> list[dict[str, Any]]:
        return list(self._json("/repository/index", {}) or [])

    def load_model(self, model: str, config_json: str | None = None, files: Mapping[str, bytes] | None = None) -> None:
        """Load or reload ``model``; a config given overrides its config.pbtxt for this load.

        ``files`` (path in the model directory -> bytes, e.g. ``1/model.onnx``) replace the
        server's own model directory: Triton's load API takes them as ``file:<path>`` parameters,
        base64-encoded, and then requires ``config`` too (docs/protocol/
        extension_model_repository.md). This is how a server without our files loads a variant.
        """
        parameters: dict[str, str] = {}
        if config_json is not None:
            parameters["config"] = config_json
        if files:
            if config_json is None:
                raise ValueError("Triton's load API takes model files only together with a config")
            parameters.update({f"file:{path}": base64.b64encode(data).decode() for path, data in files.items()})
        self._json(f"/repository/models/{quote(model)}/load", {"parameters": parameters} if parameters else {})

    def unload_model(self, model: str) -> None:
        self._json(f"/repository/models/{quote(model)}/unload", {"parameters": {"unload_dependents": False}})

    # -- system shared memory (the shared-memory extension) ----------------------------------
    def register_system_shm(self, region: str, key: str, byte_size: int) -> None:
        """Let the server read requests' tensors from the POSIX shared memory ``key`` (it maps
        it itself: only a server on this host can)."""
        body = {"key": key, "offset": 0, "byte_size": byte_size}
        self._json(f"/systemsharedmemory/region/{quote(region)}/register", body)

    def unregister_system_shm(self, region: str) -> None:
        self._json(f"/systemsharedmemory/region/{quote(region)}/unregister", {})
