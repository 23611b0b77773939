"""A model of the user's repository: reading it (one-line errors), its variants (only the searched
fields change), the entries written for it, its search space and its run identity."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from tritune.config import parse_profile_config
from tritune.domain.serving import DynamicBatching, ServingConfig
from tritune.domain.space import Dim
from tritune.errors import UsageError
from tritune.profile.identity import run_fingerprint
from tritune.profile.records import ModelFiles
from tritune.search import build_space
from tritune.triton.model_config import to_pbtxt
from tritune.triton.user_model import (
    Placement,
    config_diff,
    read_user_model,
    served_config,
    serving_of,
    signature_of,
    variant_config,
    write_entry,
)

USER_CONFIG = """
name: "bert"
backend: "onnxruntime"
max_batch_size: 16
input [ { name: "ids", data_type: TYPE_INT64, dims: [ -1 ] } ]
output [ { name: "logits", data_type: TYPE_FP32, dims: [ 2 ] } ]
instance_group [ { count: 1, kind: KIND_GPU, gpus: [ 0, 1 ] } ]
dynamic_batching { max_queue_delay_microseconds: 50, preferred_batch_size: [ 8 ], preserve_ordering: true }
parameters { key: "intra_op_thread_count" value { string_value: "4" } }
optimization { execution_accelerators { gpu_execution_accelerator { name: "tensorrt" } } }
model_warmup { name: "w" batch_size: 1 inputs { key: "ids" value { data_type: TYPE_INT64 dims: 4 zero_data: true } } }
"""


def _config(text: str = USER_CONFIG) -> mc.ModelConfig:
    return text_format.Parse(text, mc.ModelConfig())


def _without_searched(config: mc.ModelConfig) -> mc.ModelConfig:
    rest = mc.ModelConfig()
    rest.CopyFrom(config)
    for field in ("name", "instance_group", "max_batch_size", "dynamic_batching"):
        rest.ClearField(field)
    return rest


def test_a_variant_changes_only_the_searched_fields() -> None:
    base = _config()
    serving = ServingConfig(max_batch_size=4, instance_count=3, instance_kind="KIND_GPU", dynamic_batching=None)
    variant = variant_config(base, "bert_config_1", serving)
    assert variant.name == "bert_config_1" and variant.max_batch_size == 4
    assert [(g.count, g.kind, list(g.gpus)) for g in variant.instance_group] == [
        (3, mc.ModelInstanceGroup.KIND_GPU, [0, 1])
    ]
    assert not variant.HasField("dynamic_batching")
    assert _without_searched(variant) == _without_searched(base)  # backend, parameters, tensors, warmup...
    assert base == _config(), "the user's config is not modified"


def test_dynamic_batching_keeps_the_users_other_batching_fields() -> None:
    batching = DynamicBatching(max_queue_delay_us=0, preferred_batch_sizes=(4, 16))
    variant = variant_config(_config(), "v", ServingConfig(max_batch_size=16, dynamic_batching=batching))
    assert variant.dynamic_batching.max_queue_delay_microseconds == 0
    assert list(variant.dynamic_batching.preferred_batch_size) == [4, 16]
    assert variant.dynamic_batching.preserve_ordering
    # A CPU group cannot name GPUs: they go with the kind.
    assert (
        list(variant.instance_group[0].gpus) == [] and variant.instance_group[0].kind == mc.ModelInstanceGroup.KIND_CPU
    )


def test_the_default_configuration_reproduces_the_users_config() -> None:
    base = _config()
    assert variant_config(base, "bert", serving_of(base)) == base
    plain = _config('backend: "python"\nmax_batch_size: 0\n')
    fixed = variant_config(plain, "p", ServingConfig(max_batch_size=0, dynamic_batching=DynamicBatching()))
    assert fixed.max_batch_size == 0 and not fixed.HasField("dynamic_batching")
    assert [(g.count, g.kind) for g in fixed.instance_group] == [(1, mc.ModelInstanceGroup.KIND_CPU)]


def test_a_sequence_model_is_never_given_dynamic_batching() -> None:
    sequence = _config(
        'backend: "python"\nmax_batch_size: 4\nsequence_batching { max_sequence_idle_microseconds: 9 }\n'
    )
    assert variant_config(sequence, "s", ServingConfig(max_batch_size=2)).HasField("sequence_batching")
    with pytest.raises(ValueError, match="sequence_batching"):
        variant_config(sequence, "s", ServingConfig(max_batch_size=2, dynamic_batching=DynamicBatching()))


def test_the_completed_config_gives_the_signature_and_the_current_serving() -> None:
    served = served_config(
        {
            "name": "m",
            "max_batch_size": 8,
            "input": [{"name": "x", "data_type": "TYPE_FP32", "dims": ["3", 4]}],
            "output": [{"name": "y", "data_type": "TYPE_FP32", "dims": [2]}],
            "instance_group": [{"name": "m_0", "kind": "KIND_CPU", "count": 2, "gpus": []}],
            "a_field_of_a_newer_server": True,
        }
    )
    signature = signature_of(served)
    assert [t.shape for t in signature.inputs] == [(-1, 3, 4)] and signature.batch_is_dynamic
    assert serving_of(served) == ServingConfig(max_batch_size=8, instance_count=2, instance_kind="KIND_CPU")


def _entry(root: Path, name: str = "bert", config: str = USER_CONFIG, versions: tuple[str, ...] = ("1",)) -> Path:
    (root / name).mkdir(parents=True)
    if config:
        (root / name / "config.pbtxt").write_text(config)
    for version in versions:
        (root / name / version).mkdir()
        (root / name / version / "model.onnx").write_bytes(b"onnx bytes")
    return root


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda root: root.mkdir(), r"'bert' is not in .*; it holds no model: check --profile-models"),
        (lambda root: _entry(root, config=""), r"has no config.pbtxt: write one"),
        (lambda root: _entry(root, config='backend: "python"\nmax_batch_sizes: 4\n'), r"config.pbtxt:2: not a valid"),
        (lambda root: _entry(root, versions=()), r"has no version directory: put the model files in .*/1/"),
    ],
)
def test_reading_a_user_model_says_what_is_wrong_and_the_fix(tmp_path: Path, setup, message: str) -> None:
    setup(tmp_path / "repo")
    with pytest.raises(UsageError, match=message) as error:
        read_user_model(tmp_path / "repo", "bert")
    assert "\n" not in error.value.message
    with pytest.raises(UsageError, match="is not a directory: check --model-repository"):
        read_user_model(tmp_path / "nowhere", "bert")


def test_entries_link_or_copy_the_users_files_and_never_write_into_them(tmp_path: Path) -> None:
    model = read_user_model(_entry(tmp_path / "repo"), "bert")
    assert model.backend == "onnxruntime" and list(model.version_files()) == ["1/model.onnx"]
    (tmp_path / "repo" / "bert" / "1" / "assets").mkdir()
    linked = write_entry(tmp_path / "out", "bert_config_0", model, model.config, Placement.LINK)
    assert (linked.parent / "1" / "assets").is_dir()
    assert (linked.parent / "1" / "model.onnx").is_symlink() and not (linked.parent / "1").is_symlink()
    copied = write_entry(tmp_path / "export", "bert", model, model.config, Placement.COPY)
    assert not (copied.parent / "1" / "model.onnx").is_symlink()
    assert (copied.parent / "1" / "model.onnx").read_bytes() == b"onnx bytes"
    with pytest.raises(UsageError, match="export to another folder"):
        write_entry(tmp_path / "repo", "bert", model, model.config, Placement.COPY)
    assert (tmp_path / "repo" / "bert" / "config.pbtxt").read_text() == USER_CONFIG


def test_the_diff_shows_what_the_winner_changes(tmp_path: Path) -> None:
    model = read_user_model(_entry(tmp_path / "repo"), "bert")
    best = variant_config(
        model.config, "bert", ServingConfig(max_batch_size=32, instance_count=1, instance_kind="KIND_GPU")
    )
    changed = [
        line
        for line in config_diff(model, to_pbtxt(best)).splitlines()
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert "-max_batch_size: 16" in changed and "+max_batch_size: 32" in changed
    assert all("parameters" not in line and "backend" not in line for line in changed)
    assert config_diff(model, to_pbtxt(model.config)).startswith("# ")


def test_a_model_that_does_not_batch_gets_no_batch_dimensions() -> None:
    config = parse_profile_config({"profile_models": "m", "model_repository": "/models"})
    served = _config(
        'name: "m"\nmax_batch_size: 0\ninput [ { name: "x", data_type: TYPE_FP32, dims: [ 3 ] } ]\n'
        "instance_group [ { count: 2, kind: KIND_CPU } ]\n"
    )
    space = build_space(config, "m", signature_of(served), default=serving_of(served))
    assert space.dimension(Dim.MAX_BATCH_SIZE).values == (0,)
    assert space.dimension(Dim.DYNAMIC_BATCHING).values == (None,)
    assert space.default[Dim.INSTANCE_COUNT] == 2 and space.dimension(Dim.INSTANCE_COUNT).values == (1, 2, 3, 4, 5)
    batching = _config('name: "m"\nmax_batch_size: 8\ninput [ { name: "x", data_type: TYPE_FP32, dims: [ 3 ] } ]\n')
    space = build_space(config, "m", signature_of(batching), default=serving_of(batching), dynamic_batching=False)
    assert len(space.dimension(Dim.MAX_BATCH_SIZE)) > 1 and space.dimension(Dim.DYNAMIC_BATCHING).values == (None,)


def test_a_repository_run_is_identified_by_the_config_text_and_the_version_files(tmp_path: Path) -> None:
    repo = _entry(tmp_path / "repo")
    config = parse_profile_config({"profile_models": ["bert"], "model_repository": str(repo)})
    elsewhere = parse_profile_config({"profile_models": "bert", "model_repository": str(tmp_path)})

    def fingerprint(profile_config=config) -> str:
        model = read_user_model(repo, "bert")
        return run_fingerprint(ModelFiles("bert", {}, signature_of(model.config), user=model), profile_config)

    first = fingerprint()
    assert fingerprint() == first == fingerprint(elsewhere)
    (repo / "bert" / "1" / "model.onnx").write_bytes(b"retrained")
    assert fingerprint() != first
    second = fingerprint()
    (repo / "bert" / "config.pbtxt").write_text(USER_CONFIG + "# a comment\n")
    assert fingerprint() != second


def test_repository_settings_in_yaml_and_their_one_line_errors() -> None:
    config = parse_profile_config({"model_repository": "/models", "profile_models": "a, b"})
    assert list(config.profile_models) == ["a", "b"] and config.model_repository == Path("/models")
    mapped = parse_profile_config(
        {"model_repository": "/m", "profile_models": {"a": {"parameters": {"concurrency": 4}}}}
    )
    assert mapped.profile_models["a"].parameters.concurrency == [4]
    with pytest.raises(UsageError, match="drop model_path"):
        parse_profile_config({"model_repository": "/m", "profile_models": {"a": {"model_path": "a.onnx"}}})


def test_a_variant_writes_the_backend_knobs_it_searched_and_keeps_the_rest() -> None:
    base = _config()
    knobs = (("parameters.intra_op_thread_count", "2"),)
    variant = variant_config(base, "bert_config_2", ServingConfig(max_batch_size=16, backend_options=knobs))
    assert variant.parameters["intra_op_thread_count"].string_value == "2"
    # What no knob names stays the user's: their TensorRT accelerator, their warmup.
    assert [a.name for a in variant.optimization.execution_accelerators.gpu_execution_accelerator] == ["tensorrt"]
    assert [w.name for w in variant.model_warmup] == ["w"]
    untouched = variant_config(base, "bert_config_3", ServingConfig(max_batch_size=16))
    assert untouched.parameters["intra_op_thread_count"].string_value == "4"


def test_a_user_models_search_gets_its_backends_knobs() -> None:
    """On a GPU host an onnxruntime model's accelerators are searched without a manual list;
    tritune's runner (backend None) has no such knob."""
    from tritune.profile.orchestrator import plan_for

    config = parse_profile_config({"profile_models": "bert", "model_repository": "/models"})
    served = _config()

    def knob_dims(backend: str | None) -> list[str]:
        model = ModelFiles("bert", {}, signature_of(served), default=serving_of(served), backend=backend)
        space = plan_for(config, model, gpu_available=True).space
        return [d.name for d in space.dimensions if d.name.endswith("gpu_execution_accelerator")]

    assert len(knob_dims("onnxruntime")) == 1
    assert knob_dims(None) == []
