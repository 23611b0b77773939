"""gRPC through raw ``grpc.aio``: a prebuilt ``ModelInferRequest`` goes out as bytes and the
reply comes back raw (no per-request protobuf building). Errors come back as ``RequestResult``
kinds (``grpc UNAVAILABLE``, ``timeout``), never as exceptions."""

from __future__ import annotations

import itertools
import time

import grpc
from tritonclient.grpc import service_pb2

from tritune.loadgen.engine import RequestResult
from tritune.loadgen.payload import RequestTarget
from tritune.triton.tls import explain, grpc_credentials, grpc_metadata

_INFER_METHOD = "/inference.GRPCInferenceService/ModelInfer"
_UNLIMITED = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


class GrpcRequest:
    def __init__(self, target: RequestTarget) -> None:
        connection = target.connection
        self._connection = connection
        self._channel = (
            grpc.aio.secure_channel(target.url, grpc_credentials(connection), options=_UNLIMITED)
            if connection.grpc_ssl
            else grpc.aio.insecure_channel(target.url, options=_UNLIMITED)
        )
        self._metadata = grpc_metadata(connection)
        # No serializers: the prebuilt bytes go out as they are, the reply comes back raw.
        self._call = self._channel.unary_unary(_INFER_METHOD)
        self._payloads = itertools.cycle(target.payloads)
        self._single = target.payloads[0] if len(target.payloads) == 1 else None
        self._timeout_s = target.timeout_s

    async def __call__(self) -> RequestResult:
        payload = self._single if self._single is not None else next(self._payloads)
        try:
            raw = await self._call(payload, timeout=self._timeout_s, metadata=self._metadata)
        except grpc.aio.AioRpcError as error:
            code = error.code()
            kind = "timeout" if code is grpc.StatusCode.DEADLINE_EXCEEDED else f"grpc {code.name}"
            return RequestResult(error=kind, message=self._message(code, error.details() or code.name))
        # Unmarshal as perf_analyzer does, and time it: that is the client's receive cost.
        started = time.perf_counter_ns()
        service_pb2.ModelInferResponse.FromString(raw)
        return RequestResult(recv_ns=time.perf_counter_ns() - started)

    def _message(self, code: grpc.StatusCode, details: str) -> str:
        """The server's first line; the fix for a refusal or a handshake that failed."""
        line = self._connection.redact(details.splitlines()[0] if details else code.name)
        status = {grpc.StatusCode.UNAUTHENTICATED: 401, grpc.StatusCode.PERMISSION_DENIED: 403}.get(code, 0)
        if status == 0 and code is not grpc.StatusCode.UNAVAILABLE:
            return line
        if status == 0 and not self._connection.grpc_ssl:
            if "Socket closed" in line or "handshake" in line.lower() or "ssl" in line.lower():
                return f"{line}: the server may speak TLS: pass --ssl-grpc-use-ssl"
            return line
        return explain(line, status, self._connection, protocol="grpc") or line

    async def aclose(self) -> None:
        await self._channel.close()
