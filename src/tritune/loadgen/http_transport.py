"""HTTP on raw keep-alive asyncio connections: each request is one prebuilt byte string
(headers plus Triton's binary tensor body). Errors come back as ``RequestResult`` kinds
(``http 400``, ``timeout``, ``connection``), never as exceptions."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time

from tritune.loadgen.engine import OK, RequestResult
from tritune.loadgen.payload import RequestTarget
from tritune.triton.http_api import infer_path
from tritune.triton.tls import explain, ssl_context


class _HttpConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection carrying one request at a time. Triton always
    answers with a Content-Length, so a response is complete once that many body bytes came."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.usable = True
        self.sent_at = 0.0  # time.monotonic() of the request in flight, 0 when idle
        self._buffer = bytearray()
        self._need = -1  # total bytes of the response in progress (headers + body), -1 unknown
        self._body_start = 0
        self._status = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.usable = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(str(exc) if exc else "server closed the connection"))

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if self._need < 0:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self._status = int(buffer[9:12])  # "HTTP/1.1 200 OK"
            # Triton's own spelling is the fast path; anything else gets a full parse.
            at = buffer.find(b"\r\nContent-Length: ", 0, end)
            if at >= 0 and buffer.find(b"\r\nConnection: close", 0, end) < 0:
                line_end = buffer.find(b"\r\n", at + 2)
                length = int(buffer[at + 18 : line_end if 0 <= line_end < end else end])
            else:
                length = self._parse_head(bytes(buffer[:end]))
            self._need = end + 4 + length
            self._body_start = end + 4
        if len(buffer) >= self._need:
            body = bytes(buffer[self._body_start : self._need])
            del buffer[: self._need]
            self._need = -1
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result((self._status, body))

    def _parse_head(self, head: bytes) -> int:
        length = 0
        for line in head.decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                self.usable = False
        return length

    def send(self, request: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.waiter

    def close(self) -> None:
        self.usable = False
        if self.transport is not None:
            self.transport.close()


class HttpRequest:
    """HTTP through a pool of raw asyncio connections: each request is one prebuilt byte
    string (headers and binary-tensor body) written to a socket, so the client costs a few
    microseconds of Python per request instead of an HTTP library's hundred or more."""

    def __init__(self, target: RequestTarget) -> None:
        host, _, port = target.url.rpartition(":")
        self._host, self._port = host, int(port)
        self._connection = connection = target.connection
        self._ssl = ssl_context(connection) if connection.https else None
        extra = [f"{name}: {value}" for name, value in connection.headers]
        path = infer_path(target.model)
        self._requests = []
        for body, json_size in zip(target.payloads, target.json_sizes, strict=True):
            headers = [f"POST {path} HTTP/1.1", f"Host: {target.url}", *extra, f"Content-Length: {len(body)}"]
            if json_size is not None:
                headers += ["Content-Type: application/octet-stream", f"Inference-Header-Content-Length: {json_size}"]
            else:
                headers.append("Content-Type: application/json")
            self._requests.append(("\r\n".join(headers) + "\r\n\r\n").encode() + body)
        self._single = self._requests[0] if len(self._requests) == 1 else None
        self._cycle = itertools.cycle(self._requests)
        self._timeout_s = target.timeout_s
        self._idle: list[_HttpConnection] = []
        self._all: set[_HttpConnection] = set()
        self._watchdog: asyncio.Task[None] | None = None

    async def _connect(self) -> _HttpConnection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(
            _HttpConnection,
            self._host,
            self._port,
            ssl=self._ssl,
            server_hostname=self._host if self._ssl is not None else None,
        )
        self._all.add(connection)
        return connection

    async def __call__(self) -> RequestResult:
        request = self._single if self._single is not None else next(self._cycle)
        idle = self._idle
        connection = idle.pop() if idle else None
        while connection is not None and not connection.usable:
            self._all.discard(connection)
            connection = idle.pop() if idle else None
        if connection is None:
            try:
                connection = await self._connect()
            except OSError as error:
                fix = explain(str(error), 0, self._connection)
                return RequestResult(
                    error="connection", message=fix or f"cannot connect to {self._host}:{self._port}: {error}"
                )
        if self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().create_task(self._expire_slow())
        waiter = connection.send(request)
        connection.sent_at = time.monotonic()
        try:
            status, body = await waiter
        except TimeoutError:
            connection.close()
            self._all.discard(connection)
            return RequestResult(error="timeout", message=f"no reply within {self._timeout_s:g} s")
        except ConnectionError as error:
            self._all.discard(connection)
            return RequestResult(error="connection", message=str(error))
        connection.sent_at = 0.0
        if connection.usable:
            idle.append(connection)
        else:
            connection.close()
            self._all.discard(connection)
        if status != 200:
            message = self._connection.redact(body[:300].decode(errors="replace"))
            return RequestResult(error=f"http {status}", message=explain(message, status, self._connection) or message)
        return OK

    async def _expire_slow(self) -> None:
        """One watchdog instead of a timer per request (a timer costs about as much as the
        send): requests older than the timeout fail as timeouts, checked 4 times a timeout."""
        period = max(0.05, min(1.0, self._timeout_s / 4))
        while True:
            await asyncio.sleep(period)
            limit = time.monotonic() - self._timeout_s
            for connection in list(self._all):
                waiter = connection.waiter
                if connection.sent_at and connection.sent_at < limit and waiter is not None and not waiter.done():
                    waiter.set_exception(TimeoutError(f"no reply within {self._timeout_s:g} s"))

    async def aclose(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        for connection in self._all:
            connection.close()
        self._all.clear()
        self._idle.clear()
