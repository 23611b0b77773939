"""The connection settings (TLS and headers) without a server: a header's value is never shown,
the flags and the YAML section make the same record, it travels to the workers, and the
embedded server refuses settings that are only for a server given by URL."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from tritune.cli import options
from tritune.config import load_profile_config
from tritune.config.connection import ConnectionSettings
from tritune.domain.connection import Connection, parse_headers
from tritune.errors import UsageError
from tritune.loadgen.http_transport import HttpRequest
from tritune.loadgen.payload import RequestTarget
from tritune.triton.http_api import TritonHttpError
from tritune.triton.launch import LaunchSettings, open_server
from tritune.triton.server import RemoteTriton
from tritune.triton.tls import check_files, grpc_metadata

TOKEN = "s3cr3t-t0k3n"
WITH_TOKEN = Connection(headers=(("Authorization", f"Bearer {TOKEN}"), ("X-Team", "ml")))


def test_a_header_value_is_never_shown() -> None:
    assert WITH_TOKEN.shown_headers() == "Authorization: ***, X-Team: ***"
    assert TOKEN not in repr(WITH_TOKEN) and TOKEN not in str(WITH_TOKEN)
    assert WITH_TOKEN.redact(f"proxy said: bad token Bearer {TOKEN}") == "proxy said: bad token ***"
    error = TritonHttpError("https://h:1/v2", 401, f"token {TOKEN} expired", WITH_TOKEN)
    assert TOKEN not in str(error) and TOKEN not in error.reason
    assert str(error) == (
        "the server refused the request (401 Unauthorized) (sent: Authorization: ***, X-Team: ***): "
        "pass the token with -H 'Authorization: Bearer …'"
    )
    with pytest.raises(ValueError, match=r"got \(no colon\)") as caught:
        parse_headers([f"Bearer {TOKEN}"])
    assert TOKEN not in str(caught.value)


def test_headers_are_parsed_as_perf_analyzer_takes_them() -> None:
    assert parse_headers(["Authorization: Bearer a:b", "X-Empty:"]) == (
        ("Authorization", "Bearer a:b"),
        ("X-Empty", ""),
    )
    assert grpc_metadata(WITH_TOKEN) == (("authorization", f"Bearer {TOKEN}"), ("x-team", "ml"))
    assert grpc_metadata(Connection()) is None


def test_the_flags_and_the_yaml_section_make_the_same_connection(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    @click.command()
    @options.connection
    def perf_like(connection: Connection | None) -> None:
        seen["connection"] = connection

    @click.command()
    @options.connection_keys_option
    def profile_like(connection_keys: dict[str, Any]) -> None:
        seen["keys"] = connection_keys

    flags = ["--ssl-https-ca-certificates-file", "ca.pem", "--ssl-https-verify-host", "0", "--ssl-grpc-use-ssl"]
    flags += ["-H", f"Authorization: Bearer {TOKEN}"]
    assert CliRunner().invoke(perf_like, flags).exit_code == 0
    assert CliRunner().invoke(profile_like, flags).exit_code == 0
    assert CliRunner().invoke(perf_like, []).exit_code == 0 and seen["connection"] is None
    CliRunner().invoke(perf_like, flags)
    expected = Connection(
        verify_host=False, ca_file="ca.pem", grpc_ssl=True, headers=(("Authorization", f"Bearer {TOKEN}"),)
    )
    assert seen["connection"] == expected
    # profile: the flags are the connection section's keys, over the config file's.
    config_file = tmp_path / "profile.yaml"
    config_file.write_text(
        "profile_models: [m]\ntriton_http_endpoint: h:8000\n"
        "connection:\n  ssl_https_ca_certificates_file: file-ca.pem\n  ssl_grpc_root_certifications_file: root.pem\n"
        "  headers: {X-Team: ml}\n"
    )
    overrides = {f"connection.{key}": value for key, value in seen["keys"].items()}
    config = load_profile_config(config_file, overrides)
    assert config.connection.to_connection() == Connection(
        verify_host=False,
        ca_file="ca.pem",
        grpc_ssl=True,
        grpc_root_certs_file="root.pem",
        headers=(("Authorization", f"Bearer {TOKEN}"),),
    )
    assert load_profile_config(config_file).connection.to_connection().headers == (("X-Team", "ml"),)
    # Never in a dump: not in the run's fingerprint, its stored settings or a report.
    assert "connection" not in config.model_dump() and TOKEN not in config.model_dump_json()


def test_a_header_without_a_colon_is_refused_without_its_value(tmp_path: Path) -> None:
    config_file = tmp_path / "profile.yaml"
    config_file.write_text(f"profile_models: [m]\nconnection:\n  headers: ['Bearer {TOKEN}']\n")
    with pytest.raises(UsageError, match="a header is 'Name: value'") as caught:
        load_profile_config(config_file)
    assert TOKEN not in caught.value.message


def test_the_settings_travel_to_the_workers_and_onto_every_request() -> None:
    target = RequestTarget("http", "127.0.0.1:8000", "m", (b"{}",), (None,), connection=WITH_TOKEN)
    assert pickle.loads(pickle.dumps(target)).connection == WITH_TOKEN
    request = HttpRequest(target)._requests[0]
    head = request.split(b"\r\n\r\n")[0].decode()
    assert f"Authorization: Bearer {TOKEN}" in head.splitlines() and "X-Team: ml" in head.splitlines()


def test_https_comes_from_the_url_and_every_endpoint_follows() -> None:
    endpoints = RemoteTriton("https://proxy.example:8443", connection=WITH_TOKEN).endpoints
    assert endpoints.connection.https and endpoints.http_base_url == "https://proxy.example:8443"
    assert endpoints.metrics == "https://proxy.example:8445/metrics"
    assert endpoints.api()._url("/health/live") == "https://proxy.example:8443/v2/health/live"
    assert not RemoteTriton("http://h:8000").endpoints.connection.https


def test_certificate_files_are_checked_and_only_for_a_server_given_by_url(tmp_path: Path) -> None:
    missing = str(tmp_path / "ca.pem")
    with pytest.raises(UsageError, match=rf"--ssl-grpc-root-certifications-file: {missing} is not a file"):
        check_files(Connection(grpc_ssl=True, grpc_root_certs_file=missing))
    with pytest.raises(UsageError, match="--ssl-https-ca-certificates-file: .* is not a file"):
        open_server(LaunchSettings("remote", http_endpoint="h:8000", connection=Connection(ca_file=missing)), tmp_path)
    with pytest.raises(UsageError, match="are for a server you run: pass --url"):
        open_server(LaunchSettings("embedded", connection=WITH_TOKEN), tmp_path)


def test_https_to_a_plain_server_and_grpc_files_without_the_switch() -> None:
    wrong = TritonHttpError("https://h:8000/v2", 0, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)")
    assert str(wrong).startswith("the server does not speak TLS (") and str(wrong).endswith(
        "give the URL as http://HOST:PORT"
    )
    settings = ConnectionSettings(ssl_grpc_root_certifications_file="ca.pem")
    assert settings.to_connection().grpc_ssl
