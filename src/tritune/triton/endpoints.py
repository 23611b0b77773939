"""Where a server answers, and how to reach it (TLS and headers): ``Endpoints``."""

from __future__ import annotations

from dataclasses import dataclass, field

from tritune.domain.connection import Connection
from tritune.triton.http_api import TritonHttp


@dataclass(frozen=True)
class Endpoints:
    """Addresses in tritonclient's form ("host:port", no scheme)."""

    http: str
    grpc: str
    metrics: str | None  # full URL of the Prometheus endpoint, None when not served
    connection: Connection = field(default_factory=Connection)  # TLS and headers of every client

    @property
    def http_base_url(self) -> str:
        return f"{'https' if self.connection.https else 'http'}://{self.http}"

    def api(self, timeout_s: float = 2.0) -> TritonHttp:
        """The HTTP API of this server, with its connection's TLS and headers."""
        return TritonHttp(self.http, timeout_s=timeout_s, connection=self.connection)
