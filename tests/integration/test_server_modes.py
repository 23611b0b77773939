"""Server modes on real servers: remote (a server started on a repository of its own, variants
sent in the load request), local (the wheel's binary named explicitly, keeping its backends),
and resume after the server was misconfigured."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from cli_runner import CliResult, run_in_process
from profile_flags import SHORT_MEASUREMENT
from tritune.testing.models import mlp_model
from tritune.testing.processes import wait_until_gone
from tritune.triton.control import ModelControl
from tritune.triton.infer import InferClient
from tritune.triton.launch import LaunchSettings, open_server
from tritune.triton.locate import find_triton, own_backends
from tritune.triton.repository import deploy_onnx
from tritune.triton.server import EmbeddedTriton

pytestmark = pytest.mark.triton

# One variant (the default) and a short sweep: these tests are about the server, not the search.
SMALL = [
    *SHORT_MEASUREMENT,
    "--run-config-search-disable",
    "--run-config-search-max-concurrency",
    "2",
    "--json",
    "--no-report",
]


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mlp_model(tmp_path_factory.mktemp("modes-model") / "mlp.onnx", width=16, depth=1)


def _profile(model: Path, run_dir: Path, *extra: str, cwd: Path | None = None) -> CliResult:
    return run_in_process("profile", str(model), "--run-dir", str(run_dir), *SMALL, *extra, cwd=cwd)


def _remote_flags(server: EmbeddedTriton) -> list[str]:
    endpoints = server.endpoints
    return [
        "--triton-launch-mode",
        "remote",
        "--triton-http-endpoint",
        endpoints.http,
        "--triton-grpc-endpoint",
        endpoints.grpc,
        "--triton-metrics-url",
        endpoints.metrics or "",
    ]


def _variants(run_dir: Path) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(run_dir / "tritune.db") as db:
        return db.execute("SELECT name, status, failure FROM variants ORDER BY id").fetchall()


def test_remote_mode_sends_variants_to_a_server_with_its_own_repository(tmp_path: Path, small_model: Path) -> None:
    server_repo, run_dir = tmp_path / "server-repo", tmp_path / "run"
    server_repo.mkdir()
    with EmbeddedTriton(server_repo) as server:
        result = _profile(small_model, run_dir, *_remote_flags(server))
        assert result.returncode == 0, result.stderr[-3000:]
        (summary,) = json.loads(result.stdout)
        assert summary["best"] == "mlp_config_default" and summary["measured_now"] >= 1
        # Nothing was shared: the server's repository is as empty as it started.
        assert list(server_repo.iterdir()) == []
        assert "successfully loaded 'mlp_config_default'" in server.log_tail(400)
    assert wait_until_gone(str(server_repo)) == []


def test_resume_retries_what_a_misconfigured_server_failed(tmp_path: Path, small_model: Path) -> None:
    server_repo, run_dir = tmp_path / "server-repo", tmp_path / "run"
    server_repo.mkdir()
    # Started without explicit model control: no variant can load there.
    with EmbeddedTriton(server_repo, extra_args=["--model-control-mode=none"]) as wrong:
        failed = _profile(small_model, run_dir, *_remote_flags(wrong))
    assert failed.returncode == 1
    assert "not in explicit model-control mode" in failed.stderr and "--model-control-mode=explicit" in failed.stderr
    assert _variants(run_dir) == [("mlp_config_default", "failed", "server")]
    # The same command against a server set up right (another address) resumes and retries it.
    with EmbeddedTriton(server_repo) as right:
        resumed = _profile(small_model, run_dir, *_remote_flags(right))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    (summary,) = json.loads(resumed.stdout)
    assert summary["resumed"] is True and summary["best"] == "mlp_config_default"
    assert _variants(run_dir) == [("mlp_config_default", "loaded", None)]
    assert wait_until_gone(str(server_repo)) == []


def test_local_mode_runs_the_given_binary_with_its_own_backends(tmp_path: Path, small_model: Path) -> None:
    binary = find_triton().binary
    repo = tmp_path / "repo"
    deploy_onnx(repo, "mlp", small_model)
    with open_server(LaunchSettings("local", server_path=str(binary)), repo) as server:
        assert isinstance(server, EmbeddedTriton) and server.backend_directory is not None
        ran_with = {p.name for p in server.backend_directory.iterdir()}
        assert {p.name for p in own_backends(binary).iterdir()} <= ran_with
        with ModelControl(server) as control:
            control.load("mlp")
        with InferClient(server.endpoints, "http") as client:
            assert client.infer("mlp", {"x": np.ones((2, 16), np.float32)})["y"].shape == (2, 16)
    assert wait_until_gone(str(repo)) == []


def test_local_mode_takes_a_relative_server_path(tmp_path: Path, small_model: Path) -> None:
    relative = os.path.relpath(find_triton().binary, tmp_path)
    result = _profile(small_model, tmp_path / "run", "--tritonserver", relative, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)[0]["best"] == "mlp_config_default"
    assert wait_until_gone(str(tmp_path / "run")) == []
