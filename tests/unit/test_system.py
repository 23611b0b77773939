"""Where tritune looks for perf_analyzer: $PERF_ANALYZER, PATH, then ./.tools/bin."""

from pathlib import Path

import pytest

from tritune.system import PERF_ANALYZER_ENV, find_perf_analyzer


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_perf_analyzer_from_the_env_then_path_then_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PERF_ANALYZER_ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.chdir(tmp_path)
    assert find_perf_analyzer() is None
    tools = _executable(tmp_path / ".tools" / "bin" / "perf_analyzer")
    assert find_perf_analyzer() == tools
    on_path = _executable(tmp_path / "bin" / "perf_analyzer")
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert find_perf_analyzer() == on_path
    explicit = _executable(tmp_path / "elsewhere" / "pa")
    monkeypatch.setenv(PERF_ANALYZER_ENV, str(explicit))
    assert find_perf_analyzer() == explicit
