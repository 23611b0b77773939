"""Faults of the processes tritune talks to: a URL where something else than Triton answers, a
server that stops answering, a stub that dies mid-measurement. One line naming the problem and
the fix, a non-zero exit, nothing stored lost, nothing left running, no traceback."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tritune.testing.models import mlp_model

pytestmark = pytest.mark.triton

TRITUNE = [sys.executable, "-m", "tritune"]


def _error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def not_triton() -> Iterator[str]:
    """A plain web server on a free port: it answers every path with 404."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_a_url_where_something_else_answers_is_not_called_unreachable(not_triton: str, tmp_path: Path) -> None:
    perf = subprocess.run(
        [*TRITUNE, "perf", "-u", not_triton, "mlp", "-p", "200"], capture_output=True, text=True, timeout=120
    )
    assert perf.returncode == 1
    line = _error_line(perf)
    assert f"the server at {not_triton} answered but is not a Triton server" in line, line
    assert "404 for /v2/health/live" in line and "Triton's HTTP endpoint" in line, line
    assert "cannot reach" not in line

    model = mlp_model(tmp_path / "mlp.onnx", width=8, depth=1)
    remote = [
        "--triton-launch-mode",
        "remote",
        "--triton-http-endpoint",
        not_triton,
        "--run-config-search-disable",
        "--no-report",
    ]
    profile = subprocess.run(
        [*TRITUNE, "profile", str(model), "--run-dir", str(tmp_path / "run"), *remote],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert profile.returncode == 1
    line = _error_line(profile)
    assert f"the server at {not_triton} answered but is not a Triton server" in line, line
