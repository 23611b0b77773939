"""How a model file reaches a repository entry: a run's own variants may share the source's
bytes (a hard link), but nothing the user takes away (an export, best/, a deploy of their own)
does: re-saving the source in place must not change it under its config.pbtxt."""

from __future__ import annotations

from pathlib import Path

from tritune.testing.models import mlp_model
from tritune.triton.repository import deploy_onnx, place_file


def _resave_in_place(path: Path, data: bytes) -> None:
    """What an editor or `torch.onnx.export` to the same path does: the same inode, new bytes."""
    with open(path, "r+b") as file:
        file.truncate(0)
        file.write(data)


def test_a_shared_file_is_the_source_s_bytes(tmp_path: Path) -> None:
    source = tmp_path / "model.onnx"
    source.write_bytes(b"first")
    place_file(source, tmp_path / "run" / "model.onnx", share=True)
    assert (tmp_path / "run" / "model.onnx").stat().st_ino == source.stat().st_ino


def test_a_file_the_user_takes_away_has_its_own_inode_and_keeps_its_bytes(tmp_path: Path) -> None:
    source = tmp_path / "model.onnx"
    source.write_bytes(b"first")
    taken = tmp_path / "export" / "model.onnx"
    place_file(source, taken)
    assert taken.stat().st_ino != source.stat().st_ino
    _resave_in_place(source, b"second, longer")
    assert taken.read_bytes() == b"first"


def test_placing_again_replaces_a_link_left_by_an_earlier_version(tmp_path: Path) -> None:
    """An export folder written by an older tritune holds a hard link: writing it again must not
    write through the link into the user's file."""
    source, taken = tmp_path / "model.onnx", tmp_path / "export" / "model.onnx"
    source.write_bytes(b"first")
    place_file(source, taken, share=True)
    place_file(source, taken)
    assert taken.stat().st_ino != source.stat().st_ino and taken.read_bytes() == b"first"


def test_deploy_onnx_copies_unless_told_the_entry_is_the_run_s_own(tmp_path: Path) -> None:
    model = mlp_model(tmp_path / "mlp.onnx", width=4, depth=1)
    own = deploy_onnx(tmp_path / "mine", "mlp", model)
    shared = deploy_onnx(tmp_path / "run", "mlp", model, share=True)
    assert (own.directory / "1" / "model.onnx").stat().st_ino != model.stat().st_ino
    assert (shared.directory / "1" / "model.onnx").stat().st_ino == model.stat().st_ino
