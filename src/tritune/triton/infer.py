"""Sending one inference to Triton over gRPC or HTTP (the load generator has its own,
faster path; this one is for deploy checks and the ``infer`` command)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

from tritune.domain.connection import Connection
from tritune.errors import InferenceError, UsageError
from tritune.triton.server import Endpoints
from tritune.triton.tls import configure, explain

PROTOCOLS = ("grpc", "http")


def check_protocol(protocol: str) -> None:
    """Refuse a protocol Triton does not speak (the load generator's requests check it too)."""
    if protocol not in PROTOCOLS:
        raise UsageError(f"protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}")


def _gevent_context(connection: Connection) -> Any:
    """tritonclient's HTTP client runs on gevent: its SSL context must be gevent's."""
    import gevent.ssl

    def factory(**_: Any) -> Any:
        return configure(gevent.ssl.create_default_context(cafile=connection.ca_file), connection)

    return factory


class InferClient:
    def __init__(self, endpoints: Endpoints, protocol: str = "grpc", timeout_s: float = 120.0) -> None:
        check_protocol(protocol)
        self.protocol = protocol
        self._module = grpcclient if protocol == "grpc" else httpclient
        self._timeout_s = timeout_s
        connection = self._connection = endpoints.connection
        self._headers = dict(connection.headers) or None
        if protocol == "grpc":
            self._client: grpcclient.InferenceServerClient | httpclient.InferenceServerClient = (
                grpcclient.InferenceServerClient(
                    endpoints.grpc,
                    ssl=connection.grpc_ssl,
                    root_certificates=connection.grpc_root_certs_file,
                    private_key=connection.grpc_private_key_file,
                    certificate_chain=connection.grpc_cert_chain_file,
                )
            )
        else:
            self._client = httpclient.InferenceServerClient(
                endpoints.http,
                connection_timeout=timeout_s,
                network_timeout=timeout_s,
                ssl=connection.https,
                ssl_context_factory=_gevent_context(connection) if connection.https else None,
                insecure=not connection.verify_peer,
            )

    def infer(self, model: str, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        inputs = []
        for name, array in feeds.items():
            tensor = self._module.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
            tensor.set_data_from_numpy(array)
            inputs.append(tensor)
        try:
            if self.protocol == "grpc":
                result = self._client.infer(model, inputs, client_timeout=self._timeout_s, headers=self._headers)
            else:
                result = self._client.infer(model, inputs, headers=self._headers)
        except InferenceServerException as error:
            message = self._connection.redact((error.message() or str(error)).strip().splitlines()[0])
            status = str(error.status() or "")
            fix = explain(message, int(status) if status.isdigit() else 0, self._connection)
            raise InferenceError(fix or f"inference on {model!r} failed: {message}") from None
        except OSError as error:  # HTTPS: a handshake that failed
            reason = self._connection.redact(str(error))
            raise InferenceError(explain(reason, 0, self._connection) or f"inference on {model!r}: {reason}") from None
        response = result.get_response()
        names = (
            [o.name for o in response.outputs] if self.protocol == "grpc" else [o["name"] for o in response["outputs"]]
        )
        return {name: result.as_numpy(name) for name in names}

    def close(self) -> None:
        # tritonclient's __del__ closes again; dropped here it runs now, not at interpreter exit
        # when grpc's module globals are gone ("Exception ignored in ... __del__").
        client = self.__dict__.pop("_client", None)
        if client is not None:
            client.close()

    def __enter__(self) -> InferClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
