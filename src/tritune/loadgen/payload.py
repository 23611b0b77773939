"""Requests built and serialized once, sent many times: the gRPC ``ModelInferRequest`` bytes
and the HTTP body (Triton's binary tensor extension), made by tritonclient's own builders,
and the picklable ``RequestTarget`` a worker process rebuilds its transport from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import np_to_triton_dtype

from tritune.domain.connection import Connection
from tritune.loadgen.shm import Slot
from tritune.triton.infer import check_protocol
from tritune.triton.model_info import ModelInfo
from tritune.triton.server import Endpoints


def _triton_dtype(array: np.ndarray) -> str:
    return "BYTES" if array.dtype == np.object_ else np_to_triton_dtype(array.dtype)


def grpc_payload(model: str, feeds: Mapping[str, np.ndarray], slots: Mapping[str, Slot] | None = None) -> bytes:
    """``slots``: inputs the server reads from shared memory instead of the request."""
    inputs = []
    for name, array in feeds.items():
        tensor = grpcclient.InferInput(name, list(array.shape), _triton_dtype(array))
        slot = (slots or {}).get(name)
        if slot is None:
            tensor.set_data_from_numpy(array)
        else:
            tensor.set_shared_memory(slot.region, slot.byte_size, slot.offset)
        inputs.append(tensor)
    request = grpcclient._utils._get_inference_request(  # the client's own builder, used once
        model_name=model,
        inputs=inputs,
        model_version="",
        request_id="",
        outputs=None,
        sequence_id=0,
        sequence_start=False,
        sequence_end=False,
        priority=0,
        timeout=None,
        parameters=None,
    )
    return bytes(request.SerializeToString())


def http_payload(
    feeds: Mapping[str, np.ndarray], output_names: Sequence[str], slots: Mapping[str, Slot] | None = None
) -> tuple[bytes, int | None]:
    inputs = []
    for name, array in feeds.items():
        tensor = httpclient.InferInput(name, list(array.shape), _triton_dtype(array))
        slot = (slots or {}).get(name)
        if slot is None:
            tensor.set_data_from_numpy(array, binary_data=True)
        else:
            tensor.set_shared_memory(slot.region, slot.byte_size, slot.offset)
        inputs.append(tensor)
    outputs = [httpclient.InferRequestedOutput(name, binary_data=True) for name in output_names]
    body, json_size = httpclient.InferenceServerClient.generate_request_body(inputs, outputs=outputs or None)
    return bytes(body), json_size


@dataclass(frozen=True)
class RequestTarget:
    """Everything a worker process needs to build its request function (picklable)."""

    protocol: str
    url: str  # host:port of the protocol's endpoint
    model: str
    payloads: tuple[bytes, ...]  # cycled through, one per request
    json_sizes: tuple[int | None, ...] = ()  # HTTP only
    timeout_s: float = 60.0
    connection: Connection = field(default_factory=Connection)  # TLS and headers

    @classmethod
    def build(
        cls,
        endpoints: Endpoints,
        info: ModelInfo,
        feeds: Sequence[Mapping[str, np.ndarray]],
        protocol: str = "grpc",
        timeout_s: float = 60.0,
        slots: Sequence[Mapping[str, Slot]] = (),
    ) -> RequestTarget:
        """``slots``: per feed, the inputs placed in shared memory (none when empty)."""
        check_protocol(protocol)
        placed = list(slots) or [{} for _ in feeds]
        if protocol == "grpc":
            return cls(
                "grpc",
                endpoints.grpc,
                info.name,
                tuple(grpc_payload(info.name, f, s) for f, s in zip(feeds, placed, strict=True)),
                timeout_s=timeout_s,
                connection=endpoints.connection,
            )
        built = [http_payload(f, info.output_names, s) for f, s in zip(feeds, placed, strict=True)]
        return cls(
            "http",
            endpoints.http,
            info.name,
            tuple(b for b, _ in built),
            tuple(s for _, s in built),
            timeout_s=timeout_s,
            connection=endpoints.connection,
        )
