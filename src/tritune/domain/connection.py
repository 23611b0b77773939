"""How tritune reaches a server behind TLS or an auth proxy: perf_analyzer's ``--ssl-*`` flags and
``-H`` headers as one picklable record (it travels into the load generator's worker processes).

A header's value is a secret (a token): ``shown_headers()`` is the only form that may be printed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

HIDDEN = "***"
_SCHEMES = {"bearer", "basic", "token", "digest", "negotiate"}  # authorization schemes, not secrets


@dataclass(frozen=True)
class Connection:
    """TLS and headers for every client: the HTTP API, the load generator, metrics, ``infer``."""

    # HTTP (perf_analyzer's --ssl-https-*); https comes from the URL's scheme.
    https: bool = False
    verify_peer: bool = True
    verify_host: bool = True
    ca_file: str | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    # gRPC (perf_analyzer's --ssl-grpc-*)
    grpc_ssl: bool = False
    grpc_root_certs_file: str | None = None
    grpc_private_key_file: str | None = None
    grpc_cert_chain_file: str | None = None
    # Sent with every request (-H "Name: value"), on HTTP and as gRPC metadata.
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def files(self) -> tuple[tuple[str, str], ...]:
        """(flag, path) of every file given, for the check before anything starts."""
        named = (
            ("--ssl-https-ca-certificates-file", self.ca_file),
            ("--ssl-https-client-certificate-file", self.client_cert_file),
            ("--ssl-https-private-key-file", self.client_key_file),
            ("--ssl-grpc-root-certifications-file", self.grpc_root_certs_file),
            ("--ssl-grpc-private-key-file", self.grpc_private_key_file),
            ("--ssl-grpc-certificate-chain-file", self.grpc_cert_chain_file),
        )
        return tuple((flag, path) for flag, path in named if path)

    def shown_headers(self) -> str:
        """The headers as they may be printed: ``Authorization: ***``."""
        return ", ".join(f"{name}: {HIDDEN}" for name, _ in self.headers)

    def redact(self, text: str) -> str:
        """``text`` with every header value replaced by ``***`` (for a message that may echo one)."""
        for _, value in self.headers:
            # The whole value, then its parts: a server may echo the token without its scheme.
            secrets = [value, *(p for p in value.split() if len(p) >= 4 and p.lower() not in _SCHEMES)]
            for secret in secrets:
                if secret:
                    text = text.replace(secret, HIDDEN)
        return text

    def __repr__(self) -> str:  # never a header value in a repr (a traceback, a log)
        return (
            f"Connection(https={self.https}, verify_peer={self.verify_peer}, grpc_ssl={self.grpc_ssl}, "
            f"headers=[{self.shown_headers()}])"
        )


def parse_headers(values: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """perf_analyzer's ``-H "Name: value"`` strings -> (name, value) pairs.

    Raises:
        ValueError: a string without a name and a colon (the message never shows the value).
    """
    pairs = []
    for text in values:
        name, colon, value = text.partition(":")
        if not colon or not name.strip() or any(c.isspace() for c in name.strip()):
            shown = name.strip()[:40] if colon else "(no colon)"
            raise ValueError(f"a header is 'Name: value', got {shown}: {HIDDEN}")
        pairs.append((name.strip(), value.strip()))
    return tuple(pairs)
