"""Shared fixtures: real models and a real embedded Triton for the whole session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tritune.testing.models import dtype_zoo_model, minilm_path
from tritune.testing.processes import wait_until_gone
from tritune.triton.control import ModelControl
from tritune.triton.server import EmbeddedTriton


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def dtype_zoo_onnx(model_dir: Path) -> Path:
    return dtype_zoo_model(model_dir / "dtype_zoo.onnx")


@pytest.fixture(scope="session")
def minilm_onnx() -> Path:
    return minilm_path()


@pytest.fixture(autouse=True)
def _own_prepared_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own cache of prepared copies (the processes it starts inherit it): one test's
    preparation never stands in for another's."""
    monkeypatch.setenv("TRITUNE_CACHE_DIR", str(tmp_path_factory.mktemp("prepared-cache")))


@pytest.fixture(scope="session")
def triton_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("session-repo")


@pytest.fixture(scope="session")
def triton_server(triton_repo: Path) -> Iterator[EmbeddedTriton]:
    """One embedded Triton for the tests that only need a server (explicit model control); the
    models loaded on it have complete configs, as tritune's own servers do (no auto-complete)."""
    with EmbeddedTriton(triton_repo, auto_complete=False) as server:
        yield server
    assert wait_until_gone(str(triton_repo)) == [], "the session's Triton left processes behind"


@pytest.fixture(scope="session")
def control(triton_server: EmbeddedTriton) -> Iterator[ModelControl]:
    with ModelControl(triton_server) as model_control:
        yield model_control
