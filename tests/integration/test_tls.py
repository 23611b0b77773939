"""A remote server behind TLS and an auth proxy, with real parts: a CA and a server certificate made
by the openssl CLI, an embedded Triton whose gRPC endpoint speaks TLS, and a small HTTPS proxy that
wants a bearer token in front of its HTTP endpoint. `tritune perf --url` measures through both with
perf_analyzer's flags, fails without them in one line that says the fix, and never prints the token."""

from __future__ import annotations

import http.client
import http.server
import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from cli_runner import run_in_process
from profile_flags import SHORT_MEASUREMENT
from tritune.cli import main
from tritune.domain.connection import Connection
from tritune.domain.serving import DynamicBatching, ServingConfig
from tritune.errors import InferenceError
from tritune.testing.models import mlp_model
from tritune.triton.control import ModelControl
from tritune.triton.infer import InferClient
from tritune.triton.repository import deploy_onnx
from tritune.triton.server import EmbeddedTriton, RemoteTriton, pick_free_ports, port_is_free

pytestmark = pytest.mark.triton

TOKEN = "t0k3n-s3cr3t"
MODEL = "tls_mlp"
# Short windows, a loose rule: states are checked here, never timings.
SHORT = ["--concurrency-range", "1", "-p", "200", "-s", "60", "-r", "4"]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ca.pem signs server.pem (for 127.0.0.1 and localhost); other_ca.pem signs nothing here."""
    if shutil.which("openssl") is None:
        pytest.fail("the openssl CLI is needed to make the test certificates")
    folder = tmp_path_factory.mktemp("certs")
    for name in ("ca", "other_ca"):
        _openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN=tritune test {name}",
            "-keyout", f"{name}.key", "-out", f"{name}.pem",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            cwd=folder,
        )  # fmt: skip
    (folder / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
    )
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", "server.key", "-out", "server.csr", cwd=folder,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "server.ext", "-out", "server.pem", cwd=folder,
    )  # fmt: skip
    return folder


def _consecutive_free_ports() -> int:
    """HTTP port P with P+1 (gRPC) and P+2 (metrics) free: what -u HOST:P assumes."""
    for _ in range(50):
        port = pick_free_ports(1)[0]
        if port + 2 < 65536 and port_is_free(port + 1) and port_is_free(port + 2):
            return port
    raise RuntimeError("no three consecutive free ports")


@pytest.fixture(scope="module")
def tls_server(certs: Path, tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[EmbeddedTriton]:
    """An embedded Triton with gRPC over TLS (HTTP stays plain, for control and the proxy)."""
    repo = tmp_path_factory.mktemp("tls-repo")
    serving = ServingConfig(max_batch_size=8, dynamic_batching=DynamicBatching())
    deploy_onnx(repo, MODEL, mlp_model(model_dir / "tls_mlp.onnx", width=16, depth=1), serving)
    port = _consecutive_free_ports()
    ssl_args = [
        "--grpc-use-ssl=true",
        f"--grpc-server-cert={certs / 'server.pem'}",
        f"--grpc-server-key={certs / 'server.key'}",
        f"--grpc-root-cert={certs / 'ca.pem'}",
    ]
    with (
        EmbeddedTriton(repo, http_port=port, grpc_port=port + 1, metrics_port=port + 2, extra_args=ssl_args) as server,
        ModelControl(server) as control,
    ):
        control.load(MODEL)
        yield server


class _AuthProxy(http.server.BaseHTTPRequestHandler):
    """HTTPS in front of Triton's plain HTTP port; refuses a request without the bearer token."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the load generator's raw connections expect
    upstream_address = ("127.0.0.1", 0)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
        return

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            reply = b'{"error":"missing or wrong bearer token"}'
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
            return
        upstream = getattr(self, "_upstream", None)
        if upstream is None:
            upstream = self._upstream = http.client.HTTPConnection(*self.upstream_address, timeout=30)
        names = ("Content-Type", "Inference-Header-Content-Length")
        headers = {name: self.headers[name] for name in names if self.headers.get(name)}
        upstream.request(self.command, self.path, body=body if self.command == "POST" else None, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for name in ("Content-Type", "Inference-Header-Content-Length"):
            if answer.getheader(name):
                self.send_header(name, answer.getheader(name))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _forward


@pytest.fixture(scope="module")
def https_proxy(tls_server: EmbeddedTriton, certs: Path) -> Iterator[str]:
    host, _, port = tls_server.endpoints.http.rpartition(":")
    handler = type("Proxy", (_AuthProxy,), {"upstream_address": (host, int(port))})
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    proxy.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs / "server.pem", certs / "server.key")
    proxy.socket = context.wrap_socket(proxy.socket, server_side=True)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{proxy.server_address[1]}"
    proxy.shutdown()
    proxy.server_close()


@pytest.fixture
def perf(capfd: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str]]:
    """`tritune perf` as the shell runs it: its exit status, and stdout and stderr at the file
    descriptors (gRPC's own C-level log lines included)."""

    def run(*args: str) -> tuple[int, str]:
        capfd.readouterr()
        code = main(["perf", MODEL, *SHORT, *args])
        out, err = capfd.readouterr()
        return code, out + err

    return run


def test_perf_measures_over_grpc_tls_and_names_the_missing_root_cert(
    tls_server: EmbeddedTriton, certs: Path, perf: Callable[..., tuple[int, str]]
) -> None:
    url = ["-u", tls_server.endpoints.http, "-i", "grpc"]
    code, text = perf(*url, "--ssl-grpc-use-ssl", "--ssl-grpc-root-certifications-file", str(certs / "ca.pem"))
    assert code == 0, text
    assert "Concurrency: 1, throughput: " in text
    # Without the root certificate, the system's CAs do not know the test CA: one line with the fix.
    code, text = perf(*url, "--ssl-grpc-use-ssl", "--no-warmup")
    assert code == 1, text
    assert "the server's certificate does not verify against CA the system's CAs" in text
    assert "pass --ssl-grpc-root-certifications-file" in text
    assert "Traceback" not in text


def test_perf_measures_through_an_https_auth_proxy_and_never_prints_the_token(
    https_proxy: str, certs: Path, perf: Callable[..., tuple[int, str]]
) -> None:
    ca = ["--ssl-https-ca-certificates-file", str(certs / "ca.pem")]
    url = ["-u", https_proxy, "-i", "http"]
    code, text = perf(*url, *ca, "-H", f"Authorization: Bearer {TOKEN}")
    assert code == 0, text
    assert "Concurrency: 1, throughput: " in text
    assert TOKEN not in text
    # No token: the proxy's 401, in one line that says the fix.
    code, text = perf(*url, *ca)
    assert code == 1, text
    assert "the server refused the request (401 Unauthorized): pass the token with -H 'Authorization: Bearer" in text
    # A wrong token is named as sent, its value hidden.
    code, text = perf(*url, *ca, "-H", "Authorization: Bearer wr0ng-t0k3n")
    assert code == 1 and "(sent: Authorization: ***)" in text, text
    assert "wr0ng-t0k3n" not in text
    # Without the CA the certificate does not verify; another CA neither.
    for extra in ([], ["--ssl-https-ca-certificates-file", str(certs / "other_ca.pem")]):
        code, text = perf(*url, *extra, "-H", f"Authorization: Bearer {TOKEN}")
        assert code == 1, text
        assert "the server's certificate does not verify against CA" in text, text
        assert "pass --ssl-https-ca-certificates-file or --ssl-https-verify-peer 0" in text
        assert TOKEN not in text
    # --ssl-https-verify-peer 0 skips the check, as perf_analyzer's does.
    code, text = perf(*url, "--ssl-https-verify-peer", "0", "-H", f"Authorization: Bearer {TOKEN}")
    assert code == 0, text


def test_a_missing_certificate_file_is_named_before_anything_starts(
    tmp_path: Path, perf: Callable[..., tuple[int, str]]
) -> None:
    missing = tmp_path / "nowhere" / "ca.pem"
    code, text = perf("-u", "127.0.0.1:1", "--ssl-https-ca-certificates-file", str(missing))
    assert code == 2, text
    assert f"--ssl-https-ca-certificates-file: {missing} is not a file" in text
    assert "cannot reach" not in text


def test_tritonclient_infers_over_grpc_tls_and_through_the_https_proxy(
    tls_server: EmbeddedTriton, https_proxy: str, certs: Path
) -> None:
    """The other clients: tritonclient's (deploy checks, the server probe) with the same settings."""
    feeds = {"x": np.zeros((1, 16), dtype=np.float32)}
    grpc_tls = Connection(grpc_ssl=True, grpc_root_certs_file=str(certs / "ca.pem"))
    with InferClient(RemoteTriton(tls_server.endpoints.http, connection=grpc_tls).endpoints, "grpc") as client:
        assert list(client.infer(MODEL, feeds)) == ["y"]
    proxied = Connection(ca_file=str(certs / "ca.pem"), headers=(("Authorization", f"Bearer {TOKEN}"),))
    with InferClient(RemoteTriton(https_proxy, connection=proxied).endpoints, "http") as client:
        assert list(client.infer(MODEL, feeds)) == ["y"]
    refused = Connection(ca_file=str(certs / "ca.pem"), headers=(("Authorization", "Bearer wr0ng-t0k3n"),))
    with (
        InferClient(RemoteTriton(https_proxy, connection=refused).endpoints, "http") as client,
        pytest.raises(InferenceError) as caught,
    ):
        client.infer(MODEL, feeds)
    assert "wr0ng-t0k3n" not in caught.value.message
    assert "the server refused the request (401 Unauthorized)" in caught.value.message


def test_profile_runs_through_the_https_proxy_and_grpc_tls_and_stores_no_token(
    tls_server: EmbeddedTriton, https_proxy: str, certs: Path, tmp_path: Path, model_dir: Path
) -> None:
    """A whole `profile` on the remote server: variants loaded through the proxy (HTTPS and the
    token), measured over gRPC with TLS; the token is in no output and no file of the run."""
    model, run_dir = mlp_model(model_dir / "tls_profile.onnx", width=16, depth=1), tmp_path / "run"
    ca = str(certs / "ca.pem")
    command = ["profile", str(model), "--run-dir", str(run_dir)]
    command += [*SHORT_MEASUREMENT, "--run-config-search-disable", "--run-config-search-max-concurrency", "1"]
    command += ["--json", "--no-report", "--protocol", "grpc", "--triton-launch-mode", "remote"]
    command += ["--triton-http-endpoint", https_proxy, "--triton-grpc-endpoint", tls_server.endpoints.grpc]
    command += ["--triton-metrics-url", "", "--ssl-https-ca-certificates-file", ca, "--ssl-grpc-use-ssl"]
    command += ["--ssl-grpc-root-certifications-file", ca, "-H", f"Authorization: Bearer {TOKEN}"]
    result = run_in_process(*command)
    assert result.returncode == 0, result.stderr[-3000:]
    (summary,) = json.loads(result.stdout)
    assert summary["best"] == "tls_profile_config_default" and summary["measured_now"] >= 1
    assert TOKEN not in result.stdout + result.stderr
    stored = [path for path in run_dir.rglob("*") if path.is_file() and TOKEN.encode() in path.read_bytes()]
    assert stored == []
