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

_INFER_METHOD = "/inference.GRPCInferenceService/ModelInfer"
_UNLIMITED = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


class GrpcRequest:
    def __init__(self, target: RequestTarget) -> None:
        self._channel = grpc.aio.insecure_channel(target.url, options=_UNLIMITED)
        # No serializers: the prebuilt bytes go out as they are, the reply comes back raw.
        self._call = self._channel.unary_unary(_INFER_METHOD)
        self._payloads = itertools.cycle(target.payloads)
        self._single = target.payloads[0] if len(target.payloads) == 1 else None
        self._timeout_s = target.timeout_s

    async def __call__(self) -> RequestResult:
        payload = self._single if self._single is not None else next(self._payloads)
        try:
            raw = await self._call(payload, timeout=self._timeout_s)
        except grpc.aio.AioRpcError as error:
            code = error.code()
            kind = "timeout" if code is grpc.StatusCode.DEADLINE_EXCEEDED else f"grpc {code.name}"
            return RequestResult(error=kind, message=(error.details() or code.name).splitlines()[0])
        # Unmarshal as perf_analyzer does, and time it: that is the client's receive cost.
        started = time.perf_counter_ns()
        service_pb2.ModelInferResponse.FromString(raw)
        return RequestResult(recv_ns=time.perf_counter_ns() - started)

    async def aclose(self) -> None:
        await self._channel.close()
