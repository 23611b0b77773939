"""The load generator's request function for a ``RequestTarget``: the transport of its
protocol (``grpc_transport`` or ``http_transport``), and the one-off probe that checks the
inputs against the server before a measurement starts."""

from __future__ import annotations

from typing import Protocol

from tritune.loadgen.engine import OK, RequestResult
from tritune.loadgen.grpc_transport import GrpcRequest
from tritune.loadgen.http_transport import HttpRequest
from tritune.loadgen.payload import RequestTarget


class ClosableRequestFunc(Protocol):
    async def __call__(self) -> RequestResult: ...

    async def aclose(self) -> None: ...


def make_request_fn(target: RequestTarget) -> ClosableRequestFunc:
    """Build inside the event loop that will use it (gRPC aio channels bind to one loop)."""
    return GrpcRequest(target) if target.protocol == "grpc" else HttpRequest(target)


async def probe(target: RequestTarget) -> RequestResult:
    """Send one request of each distinct payload; the first failure is returned."""
    fn = make_request_fn(target)
    try:
        for _ in target.payloads:
            result = await fn()
            if result.error is not None:
                return result
        return OK
    finally:
        await fn.aclose()
