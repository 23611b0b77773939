"""The ``connection`` section of the profile configuration: perf_analyzer's TLS flags and ``-H``
headers as YAML keys, for a server given by ``triton_http_endpoint``. The section is left out of
every dump (a header holds a token): not in the run's fingerprint, the stored settings or a report.

    connection:
      ssl_https_ca_certificates_file: ca.pem
      headers: ["Authorization: Bearer ..."]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator

from tritune.config.sections import FrozenSection
from tritune.domain.connection import Connection, parse_headers


class ConnectionSettings(FrozenSection):
    ssl_grpc_use_ssl: bool = Field(default=False, description="gRPC: connect over TLS")
    ssl_grpc_root_certifications_file: str | None = Field(default=None, description="gRPC: the CA (PEM)")
    ssl_grpc_private_key_file: str | None = Field(default=None, description="gRPC: the client's key (PEM)")
    ssl_grpc_certificate_chain_file: str | None = Field(default=None, description="gRPC: the client's chain")
    ssl_https_verify_peer: int = Field(default=1, ge=0, le=1, description="HTTPS: 0 skips the check")
    ssl_https_verify_host: int = Field(default=2, ge=0, le=2, description="HTTPS: 0 skips the name check")
    ssl_https_ca_certificates_file: str | None = Field(default=None, description="HTTPS: the CA (PEM)")
    ssl_https_client_certificate_file: str | None = Field(default=None, description="HTTPS: the client's cert")
    ssl_https_private_key_file: str | None = Field(default=None, description="HTTPS: the client's key (PEM)")
    headers: tuple[tuple[str, str], ...] = Field(
        default=(), description="'Name: value' strings (or a mapping) sent with every request"
    )

    @field_validator("headers", mode="before")
    @classmethod
    def _headers(cls, value: Any) -> Any:
        # A value error never echoes its input (a token); a type error would.
        if isinstance(value, tuple) and all(isinstance(v, tuple) and len(v) == 2 for v in value):
            value = [f"{name}: {text}" for name, text in value]  # parsed already (the -H flags)
        elif isinstance(value, Mapping):
            value = [f"{name}: {text}" for name, text in value.items()]
        elif isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError("give headers as a list of 'Name: value' strings")
        return parse_headers(value)

    def to_connection(self) -> Connection:
        return Connection(
            verify_peer=bool(self.ssl_https_verify_peer),
            verify_host=bool(self.ssl_https_verify_host),
            ca_file=self.ssl_https_ca_certificates_file,
            client_cert_file=self.ssl_https_client_certificate_file,
            client_key_file=self.ssl_https_private_key_file,
            # A root certificate, key or chain given means TLS (perf_analyzer would ignore them).
            grpc_ssl=self.ssl_grpc_use_ssl
            or any(
                (
                    self.ssl_grpc_root_certifications_file,
                    self.ssl_grpc_private_key_file,
                    self.ssl_grpc_certificate_chain_file,
                )
            ),
            grpc_root_certs_file=self.ssl_grpc_root_certifications_file,
            grpc_private_key_file=self.ssl_grpc_private_key_file,
            grpc_cert_chain_file=self.ssl_grpc_certificate_chain_file,
            headers=self.headers,
        )
