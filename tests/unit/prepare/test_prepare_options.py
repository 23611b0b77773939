from pathlib import Path

import pytest

from tritune.errors import UsageError
from tritune.prepare.options import DEFAULT_TOLERANCES, InputSpec, PrepareOptions, Tolerance, parse_input_option
from tritune.prepare.sources import source_kind


def test_parse_input_option():
    assert parse_input_option("x:3,224,224") == InputSpec("x", (3, 224, 224))
    assert parse_input_option("ids:128:int64") == InputSpec("ids", (128,), "int64")
    for bad in ("x", "x:3,a", "x:0", ":3", "x:3:notatype"):
        with pytest.raises(UsageError):
            parse_input_option(bad)


def test_options_are_validated_once():
    with pytest.raises(UsageError, match="bf16"):
        PrepareOptions(precisions=("bf16",))
    with pytest.raises(UsageError, match="below 2"):
        PrepareOptions(validation_batch=1)
    with pytest.raises(UsageError, match="optimization"):
        PrepareOptions(optimize="all")
    with pytest.raises(UsageError, match="twice"):
        PrepareOptions(inputs=(InputSpec("x", (1,)), InputSpec("x", (2,))))


def test_tolerances_default_per_precision_and_can_be_overridden():
    options = PrepareOptions(tolerances={"fp16": Tolerance(1e-1, 1e-1)})
    assert options.tolerance("fp32") == DEFAULT_TOLERANCES["fp32"]
    assert options.tolerance("fp16") == Tolerance(1e-1, 1e-1)
    assert DEFAULT_TOLERANCES["fp16"].atol > DEFAULT_TOLERANCES["fp32"].atol


def test_source_kinds_and_unsupported_inputs(tmp_path: Path):
    (tmp_path / "m.onnx").write_bytes(b"")
    (tmp_path / "m.pt").write_bytes(b"")
    (tmp_path / "m.pt2").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("hi")
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"")
    assert source_kind(str(tmp_path / "m.onnx")) == "onnx"
    assert source_kind(str(tmp_path / "m.pt")) == "torchscript"
    assert source_kind(str(tmp_path / "m.pt2")) == "exported_program"
    assert source_kind(str(saved)) == "savedmodel"
    assert source_kind("my_pkg.models:build") == "factory"
    with pytest.raises(UsageError, match="'.txt' is not supported"):
        source_kind(str(tmp_path / "notes.txt"))
    with pytest.raises(UsageError, match="without saved_model.pb"):
        source_kind(str(tmp_path))
    with pytest.raises(UsageError, match="does not exist"):
        source_kind(str(tmp_path / "missing.onnx"))
