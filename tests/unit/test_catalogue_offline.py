"""The bad inputs of docs/reliability.md that are checked without a server: each is one line that
names the problem and the fix, raised as the error class that gives the documented exit status."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tritune.config import parse_profile_config
from tritune.domain.model import ModelSignature, TensorSpec
from tritune.domain.names import check_model_name
from tritune.errors import ExitStatus, ModelError, ServerError, UsageError
from tritune.inputs import load_input_file, tensor_dtype
from tritune.triton.locate import find_triton


def config_error(data: dict) -> str:
    with pytest.raises(UsageError) as caught:
        parse_profile_config(data)
    assert caught.value.exit_status is ExitStatus.USAGE
    return caught.value.message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"profile_models": "a", "checkpoint_directory": "ckpt"},
            "config: 'checkpoint_directory' is a Model Analyzer key that tritune does not support: "
            "tritune keeps its results in <run>/tritune.db: pass --run-dir",
        ),
        (
            {"profile_models": {"a": {"perf_analyzer_flags": {"shape": "x:1"}}}},
            "config: 'profile_models.a.perf_analyzer_flags' is a Model Analyzer key that tritune does not "
            "support: put perf_analyzer's settings under 'measurement' (or pass them as flags)",
        ),
        (
            {"profile_models": "a", "triton_launch_mode": "docker"},
            "config: triton_launch_mode: docker is not supported: start the container yourself "
            "(--model-control-mode=explicit) and use triton_launch_mode remote",
        ),
        (
            {"profile_models": "a", "client_protocol": "grpc"},
            "config: 'client_protocol' is a Model Analyzer key that tritune does not support: "
            "set measurement: {protocol: grpc} (or --protocol)",
        ),
    ],
)
def test_model_analyzer_keys_tritune_does_not_support_are_named(data: dict, message: str) -> None:
    """They were 'unknown key' with a list of every key, or a wrong guess (triton_docker_image ->
    'did you mean triton_server_flags?')."""
    assert config_error(data) == message


def test_an_unknown_key_still_gets_its_nearest_valid_key() -> None:
    assert config_error({"profile_models": "a", "objectivs": {}}) == (
        "config: unknown key 'objectivs': did you mean 'objectives'?"
    )


def test_tritonserver_path_problems_say_which(tmp_path: Path) -> None:
    plain = tmp_path / "tritonserver"
    plain.write_text("#!/bin/sh\n")
    os.chmod(plain, 0o644)
    with pytest.raises(ServerError, match=r"tritonserver binary .*/tritonserver is not executable: pass the path"):
        find_triton(plain)
    with pytest.raises(ServerError, match=r" is a directory, not the tritonserver binary: pass the path"):
        find_triton(tmp_path)
    with pytest.raises(ServerError, match=r"tritonserver binary not found at .*/absent: pass the path"):
        find_triton(tmp_path / "absent")


@pytest.mark.parametrize("name", ["a b", "a<b", "caf\u00e9", "a%20b", "a?b"])
def test_model_names_triton_cannot_serve_are_usage_errors(name: str) -> None:
    with pytest.raises(UsageError, match="has characters Triton cannot serve") as caught:
        check_model_name(name)
    assert caught.value.message.endswith("use letters, digits, '_', '-' and '.' (--name)")
    assert check_model_name("bert-base_1.v2") == "bert-base_1.v2"


def test_a_bytes_input_is_a_model_error_not_a_type_error() -> None:
    signature = ModelSignature((TensorSpec("text", "TYPE_STRING", (-1, 1)),), (TensorSpec("y", "TYPE_FP32", (-1,)),))
    with pytest.raises(ModelError, match=r"^input 'text': BYTES tensors are not supported .*: convert the model"):
        tensor_dtype(signature.inputs[0])


def test_input_data_json_lacking_an_input_names_the_inputs(tmp_path: Path) -> None:
    signature = ModelSignature(
        (TensorSpec("x", "TYPE_FP32", (-1, 2)), TensorSpec("m", "TYPE_INT64", (-1, 2))),
        (TensorSpec("y", "TYPE_FP32", (-1,)),),
    )
    data = tmp_path / "data.json"
    data.write_text('{"data": [{"x": [0.5, 0.5]}]}')
    with pytest.raises(UsageError) as caught:
        load_input_file(data, signature, batched=True)
    assert caught.value.message == (
        f"{data}: entry 0 lacks input 'm': give every entry a value for each of the model's inputs (x, m)"
    )
    data.write_text('{"data": []}')
    with pytest.raises(UsageError, match="holds no samples: give at least one"):
        load_input_file(data, signature, batched=True)
