"""Server modes without a server: the config keys (Model Analyzer's), the CLI shortcuts, the
tritonserver flags, the backends folder a user's Triton runs with, and what a load sends."""

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tritune.config import cli_flags, parse_profile_config
from tritune.errors import ServerError, UsageError
from tritune.profile.identity import run_fingerprint
from tritune.profile.records import ModelFiles
from tritune.testing.models import dtype_zoo_model
from tritune.triton import http_api
from tritune.triton.control import model_files
from tritune.triton.launch import parse_server_flags
from tritune.triton.locate import TritonInstall, find_triton, local_backend_directory, python_version_tag
from tritune.triton.model_config import read_signature

MODELS = {"profile_models": ["m"]}


def test_launch_modes_use_model_analyzers_keys() -> None:
    assert parse_profile_config(MODELS).triton_launch_mode == "embedded"
    remote = parse_profile_config({**MODELS, "triton_http_endpoint": "h:8000", "triton_grpc_endpoint": "h:9001"})
    assert (remote.triton_launch_mode, remote.triton_grpc_endpoint) == ("remote", "h:9001")
    assert parse_profile_config({**MODELS, "triton_server_path": "bin/ts"}).triton_launch_mode == "local"
    with pytest.raises(UsageError, match="triton_launch_mode: docker is not supported: start the container yourself"):
        parse_profile_config({**MODELS, "triton_launch_mode": "docker"})
    with pytest.raises(UsageError, match="c_api is not supported: use embedded"):
        parse_profile_config({**MODELS, "triton_launch_mode": "c_api"})
    with pytest.raises(UsageError, match="add triton_http_endpoint"):
        parse_profile_config({**MODELS, "triton_launch_mode": "remote"})
    flags = {spec.flag for spec in cli_flags()}
    assert {"--triton-launch-mode", "--triton-server-path", "--triton-http-endpoint"} <= flags
    assert {"--triton-grpc-endpoint", "--triton-metrics-url"} <= flags


def test_server_keys_leave_the_run_fingerprint_as_it_was(tmp_path: Path) -> None:
    onnx_path = dtype_zoo_model(tmp_path / "m.onnx")
    model = ModelFiles("m", {"fp32": onnx_path}, read_signature(onnx_path))
    plain = parse_profile_config(MODELS)
    remote = parse_profile_config({**MODELS, "triton_http_endpoint": "h:8000", "triton_server_flags": {"a": 1}})
    assert "triton" not in plain.model_dump_json()
    assert run_fingerprint(model, plain) == run_fingerprint(model, remote)


def test_url_and_tritonserver_flags_map_onto_the_server_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    from tritune.cli import cli
    from tritune.profile import session

    seen: list[Any] = []

    def fake_run(self: session.ProfileSession, **_: Any) -> list[Any]:
        seen.append(self.launch_settings())
        return []

    monkeypatch.setattr(session.ProfileSession, "run", fake_run)
    runner = CliRunner()
    assert runner.invoke(cli, ["profile", "m.onnx", "--url", "h:8000", "--no-report"]).exit_code == 0
    assert runner.invoke(cli, ["profile", "m.onnx", "--tritonserver", "rel/ts", "--no-report"]).exit_code == 0
    assert [(s.mode, s.http_endpoint, s.server_path) for s in seen] == [
        ("remote", "h:8000", None),
        ("local", None, "rel/ts"),
    ]


def test_server_flags_in_model_analyzers_syntax() -> None:
    flags = parse_server_flags(
        {
            "log_verbose": 1,
            "strict-model-config": False,
            "backend-config": ["onnxruntime,a=1", "python,b=2"],
            "http_port": "8100",
            "backend_directory": "/opt/b",
        }
    )
    assert flags.args == (
        "--log-verbose=1",
        "--strict-model-config=false",
        "--backend-config=onnxruntime,a=1",
        "--backend-config=python,b=2",
    )
    assert flags.ports == (8100, None, None)
    assert flags.backend_directory == Path("/opt/b")
    with pytest.raises(UsageError, match="tritune sets --model-control-mode itself"):
        parse_server_flags({"model_control_mode": "poll"})


def _install(root: Path, *, python_stub: bytes | None) -> TritonInstall:
    """A fake Triton install: bin/tritonserver and backends/{onnxruntime,python}."""
    binary = root / "bin" / "tritonserver"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    (root / "backends" / "onnxruntime").mkdir(parents=True)
    python = root / "backends" / "python"
    python.mkdir()
    (python / "libtriton_python.so").write_bytes(b"so")
    ours = root / "wheel-stub"
    ours.write_bytes(b"stub for libpython" + python_version_tag().encode())
    if python_stub is not None:
        (python / "triton_python_backend_stub").write_bytes(python_stub)
    return TritonInstall(binary=binary, python_backend=python, stub=ours, library_dirs=(), source="explicit")


def test_a_local_triton_keeps_its_backends_and_gets_a_python_that_fits(tmp_path: Path) -> None:
    install = _install(tmp_path / "opt", python_stub=b"stub for libpython2.7")
    merged = local_backend_directory(install, cache_root=tmp_path / "cache")
    assert sorted(p.name for p in merged.iterdir()) == ["onnxruntime", "python"]
    assert (merged / "onnxruntime").resolve() == (tmp_path / "opt" / "backends" / "onnxruntime").resolve()
    stub = (merged / "python" / "triton_python_backend_stub").read_bytes()
    assert python_version_tag().encode() in stub  # tritune's stub, not the one for another Python
    assert local_backend_directory(install, cache_root=tmp_path / "cache") == merged  # built once

    fitting = _install(tmp_path / "own", python_stub=b"libpython" + python_version_tag().encode())
    assert local_backend_directory(fitting, cache_root=tmp_path / "cache") == tmp_path / "own" / "backends"
    with pytest.raises(ServerError, match="backend-directory"):
        local_backend_directory(fitting, tmp_path / "nowhere", cache_root=tmp_path / "cache")


def test_a_relative_server_path_is_taken_from_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install = _install(tmp_path / "opt", python_stub=None)
    monkeypatch.chdir(tmp_path)
    found = find_triton(os.path.join("opt", "bin", "tritonserver"))
    assert found.binary == install.binary and found.binary.is_absolute()


def test_a_load_sends_the_config_and_every_file_with_links_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "model.onnx"
    source.write_bytes(b"onnx bytes")
    version = tmp_path / "repo" / "m" / "1"
    (version / "pkg" / "__pycache__").mkdir(parents=True)
    (version / "model.onnx").symlink_to(source)
    os.link(source, version / "linked.onnx")
    (version / "pkg" / "code.py").write_text("x = 1\n")
    (version / "pkg" / "__pycache__" / "code.cpython.pyc").write_bytes(b"cache")
    (tmp_path / "repo" / "m" / "config.pbtxt").write_text('name: "m"')
    files = model_files(tmp_path / "repo" / "m")
    assert files == {"1/linked.onnx": b"onnx bytes", "1/model.onnx": b"onnx bytes", "1/pkg/code.py": b"x = 1\n"}

    sent: list[tuple[str, bytes | None]] = []
    monkeypatch.setattr(
        http_api, "send", lambda url, body=None, timeout_s=0, connection=None: sent.append((url, body)) or b""
    )
    http_api.TritonHttp("h:8000").load_model("m", '{"name": "m"}', files)
    ((url, body),) = sent
    parameters = json.loads(body or b"")["parameters"]
    assert url == "http://h:8000/v2/repository/models/m/load"
    assert parameters["config"] == '{"name": "m"}'
    assert base64.b64decode(parameters["file:1/model.onnx"]) == b"onnx bytes"
    assert set(parameters) == {"config", *(f"file:{p}" for p in files)}
