"""The one model-name rule every command uses (tritune.domain.names)."""

from pathlib import Path

import pytest

from tritune.domain.names import check_model_name, default_model_name, is_factory_reference
from tritune.errors import UsageError


def test_default_names():
    assert default_model_name("my_pkg.models:build_resnet") == "build_resnet"
    assert default_model_name("/models/bert/model.onnx") == "bert"
    assert default_model_name("/models/resnet-50.v2.onnx") == "resnet-50_v2"


def test_a_directory_keeps_its_whole_name_and_generic_names_take_the_parent():
    assert default_model_name("/models/resnet.v2", directory=True) == "resnet_v2"
    assert default_model_name("/exports/bert/saved_model", directory=True) == "bert"
    assert default_model_name(Path("model.onnx")) == "model"  # no parent to name it
    assert default_model_name(Path("zoo/mlp.onnx")) == "mlp"


def test_factory_references():
    assert is_factory_reference("pkg.module:build")
    assert not is_factory_reference("models/a.onnx")
    assert not is_factory_reference("pkg.module:")


def test_names_that_cannot_be_a_directory_are_usage_errors():
    assert check_model_name("bert-base_1") == "bert-base_1"
    for bad in ("", "a/b", ".hidden", " padded"):
        with pytest.raises(UsageError, match="not usable as a directory name"):
            check_model_name(bad)


def test_a_name_from_a_non_ascii_file_is_one_triton_can_serve():
    """Triton's URLs carry such letters percent-encoded and unmatched: the default name keeps
    ASCII letters and digits only, so every command serves the file under the same name."""
    name = default_model_name("/models/modèle ü.onnx")
    assert name == "mod_le__" and check_model_name(name) == name


def test_a_name_too_long_for_a_directory_is_one_line_naming_the_flag():
    assert check_model_name("m" * 200) == "m" * 200
    with pytest.raises(UsageError) as refused:
        check_model_name("m" * 300)
    assert "is 300 characters long" in refused.value.message and refused.value.message.endswith("(--name)")
