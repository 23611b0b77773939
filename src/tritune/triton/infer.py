"""Sending one inference to Triton over gRPC or HTTP (the load generator has its own,
faster path; this one is for deploy checks and the ``infer`` command)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

from tritune.errors import InferenceError, UsageError
from tritune.triton.server import Endpoints

PROTOCOLS = ("grpc", "http")


def check_protocol(protocol: str) -> None:
    """Refuse a protocol Triton does not speak (the load generator's requests check it too)."""
    if protocol not in PROTOCOLS:
        raise UsageError(f"protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}")


class InferClient:
    def __init__(self, endpoints: Endpoints, protocol: str = "grpc", timeout_s: float = 120.0) -> None:
        check_protocol(protocol)
        self.protocol = protocol
        self._module = grpcclient if protocol == "grpc" else httpclient
        self._timeout_s = timeout_s
        if protocol == "grpc":
            self._client: grpcclient.InferenceServerClient | httpclient.InferenceServerClient = (
                grpcclient.InferenceServerClient(endpoints.grpc)
            )
        else:
            self._client = httpclient.InferenceServerClient(
                endpoints.http, connection_timeout=timeout_s, network_timeout=timeout_s
            )

    def infer(self, model: str, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        inputs = []
        for name, array in feeds.items():
            tensor = self._module.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
            tensor.set_data_from_numpy(array)
            inputs.append(tensor)
        try:
            if self.protocol == "grpc":
                result = self._client.infer(model, inputs, client_timeout=self._timeout_s)
            else:
                result = self._client.infer(model, inputs)
        except InferenceServerException as error:
            message = (error.message() or str(error)).strip().splitlines()[0]
            raise InferenceError(f"inference on {model!r} failed: {message}") from None
        response = result.get_response()
        names = (
            [o.name for o in response.outputs] if self.protocol == "grpc" else [o["name"] for o in response["outputs"]]
        )
        return {name: result.as_numpy(name) for name in names}

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> InferClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
