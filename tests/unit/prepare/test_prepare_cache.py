"""The cache of prepared copies: keyed by what the preparation depends on, written whole, taken as
files of the run's own, off when asked, skipped when it cannot be written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tritune.prepare.cache import CACHE_ENV, cache_key, keep, prepared_cache, take
from tritune.prepare.options import PrepareOptions
from tritune.prepare.record import REPORT_FILE


def _prepared(folder: Path) -> Path:
    (folder / "variants" / "fp32").mkdir(parents=True)
    (folder / "variants" / "fp32" / "model.onnx").write_bytes(b"onnx bytes")
    (folder / "config.pbtxt").write_text('name: "m"\n')
    (folder / REPORT_FILE).write_text("{}")
    return folder


def test_the_key_follows_the_file_the_name_and_the_options(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"one")
    key = cache_key(model, "m", PrepareOptions())
    assert key is not None and key == cache_key(model, "m", PrepareOptions())
    assert cache_key(model, "other", PrepareOptions()) != key
    assert cache_key(model, "m", PrepareOptions(precisions=("fp32", "fp16"))) != key
    model.write_bytes(b"two")  # the user saved the model again
    assert cache_key(model, "m", PrepareOptions()) != key
    assert cache_key(tmp_path, "m", PrepareOptions()) is None  # a folder: not vouched for
    assert cache_key(Path("torchvision.models:resnet18"), "m", PrepareOptions()) is None


def test_a_kept_copy_is_taken_whole_as_files_of_the_run_s_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    source = _prepared(tmp_path / "run1" / "prepared" / "m")
    target = tmp_path / "run2" / "prepared" / "m"  # a fresh run: no prepared/ folder yet
    assert not take("k", target)  # nothing kept yet
    keep("k", source)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["k"]  # no staging folder left
    assert take("k", target)
    assert (target / "variants" / "fp32" / "model.onnx").read_bytes() == b"onnx bytes"
    kept = tmp_path / "cache" / "k" / "config.pbtxt"
    assert (target / "config.pbtxt").stat().st_ino != kept.stat().st_ino  # rewriting it leaves the cache alone
    (target / "config.pbtxt").write_text("changed")
    assert kept.read_text() == 'name: "m"\n'


def test_the_cache_is_off_when_asked_and_skipped_when_it_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, "off")
    assert prepared_cache() is None
    source = _prepared(tmp_path / "p" / "m")
    keep("k", source)  # nothing, no error
    assert not take("k", tmp_path / "p" / "again")
    blocked = tmp_path / "a-file"  # the cache's parent is a file: no folder can be made there
    blocked.write_text("")
    monkeypatch.setenv(CACHE_ENV, str(blocked / "cache"))
    keep("k", source)  # only saves time: a cache it cannot write is skipped
    assert blocked.is_file() and not take("k", tmp_path / "p" / "again")
