"""The TLS side of a ``Connection``: the ``ssl.SSLContext`` of HTTPS clients, the gRPC channel
credentials, the check that every certificate file exists before anything starts, and the one-line
explanation of a handshake or a proxy's refusal."""

from __future__ import annotations

import functools
import re
import ssl
from pathlib import Path

import grpc

from tritune.domain.connection import Connection
from tritune.errors import UsageError


def check_files(connection: Connection) -> None:
    """Raises ``UsageError`` naming the flag and the file that is not there (before any server starts)."""
    for flag, path in connection.files:
        if not Path(path).is_file():
            raise UsageError(f"{flag}: {path} is not a file: give the path of the PEM file")


@functools.lru_cache(maxsize=8)
def ssl_context(connection: Connection) -> ssl.SSLContext:
    """The client context of an HTTPS connection (cached: a Connection is frozen)."""
    return configure(ssl.create_default_context(cafile=connection.ca_file), connection)


def configure(context: ssl.SSLContext, connection: Connection) -> ssl.SSLContext:
    """Peer and host checks and the client certificate on a context made with the CA file
    (also gevent's, which tritonclient's HTTP client takes)."""
    if not connection.verify_peer:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif not connection.verify_host:
        context.check_hostname = False
    if connection.client_cert_file:
        context.load_cert_chain(connection.client_cert_file, connection.client_key_file)
    return context


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


def grpc_credentials(connection: Connection) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=_read(connection.grpc_root_certs_file),
        private_key=_read(connection.grpc_private_key_file),
        certificate_chain=_read(connection.grpc_cert_chain_file),
    )


def grpc_metadata(connection: Connection) -> tuple[tuple[str, str], ...] | None:
    """gRPC metadata keys are lower case."""
    return tuple((name.lower(), value) for name, value in connection.headers) or None


_VERIFY_FAILED = re.compile(r"CERTIFICATE_VERIFY_FAILED\]?:?\s*(?:certificate verify failed:?\s*)?([^(:]*)", re.I)


def _short(reason: str) -> str:
    """A handshake's failure in a few words (gRPC's and OpenSSL's are a paragraph)."""
    found = _VERIFY_FAILED.search(reason)
    if found is None:
        return reason
    return "certificate verify failed" + (f": {found.group(1).strip()}" if found.group(1).strip() else "")


def _is_certificate_problem(reason: str) -> bool:
    text = reason.lower()
    return "certificate" in text or "handshake" in text or ("ssl" in text and "wrong version" not in text)


def explain(reason: str, status: int, connection: Connection, *, protocol: str = "http") -> str | None:
    """The one-line fix for a refusal (401/403) or a certificate that does not verify; None otherwise."""
    if status in (401, 403):
        word = "Unauthorized" if status == 401 else "Forbidden"
        given = f" (sent: {connection.shown_headers()})" if connection.headers else ""
        return (
            f"the server refused the request ({status} {word}){given}: pass the token with -H 'Authorization: Bearer …'"
        )
    if status == 0 and "wrong_version_number" in reason.lower():  # TLS spoken to a plain server
        return f"the server does not speak TLS ({reason}): give the URL as http://HOST:PORT"
    if status == 0 and _is_certificate_problem(reason):
        if protocol == "grpc":
            ca = connection.grpc_root_certs_file or "the system's CAs"
            return (
                f"the server's certificate does not verify against CA {ca} ({_short(connection.redact(reason))}): "
                "pass --ssl-grpc-root-certifications-file"
            )
        ca = connection.ca_file or "the system's CAs"
        return (
            f"the server's certificate does not verify against CA {ca} ({_short(connection.redact(reason))}): "
            "pass --ssl-https-ca-certificates-file or --ssl-https-verify-peer 0"
        )
    return None
