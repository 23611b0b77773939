from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from tritune.domain.model import ModelSignature, TensorSpec
from tritune.domain.serving import DynamicBatching, RunnerOptions, ServingConfig, default_serving_config
from tritune.errors import ModelError
from tritune.runner.dtypes import numpy_dtype
from tritune.triton.model_config import (
    build_model_config,
    from_pbtxt,
    load_onnx,
    read_signature,
    serving_model_config,
    to_pbtxt,
)

DYNAMIC_SIG = ModelSignature(
    inputs=(TensorSpec("ids", "TYPE_INT64", (-1, -1)),),
    outputs=(TensorSpec("emb", "TYPE_FP32", (-1, -1, 384)),),
)
FIXED_SIG = ModelSignature(
    inputs=(TensorSpec("x", "TYPE_FP32", (1, 3, 224, 224)),),
    outputs=(TensorSpec("y", "TYPE_FP32", (1, 1000)),),
)


def test_dynamic_first_dim_gives_batching_config_without_that_dim():
    config = build_model_config("m", DYNAMIC_SIG, default_serving_config(DYNAMIC_SIG))
    assert config.max_batch_size == 8
    assert list(config.input[0].dims) == [-1]
    assert list(config.output[0].dims) == [-1, 384]
    assert config.HasField("dynamic_batching")
    assert config.backend == "python"


def test_fixed_first_dim_gives_max_batch_size_zero_and_all_dims():
    serving = default_serving_config(FIXED_SIG)
    config = build_model_config("m", FIXED_SIG, serving)
    assert config.max_batch_size == 0
    assert list(config.input[0].dims) == [1, 3, 224, 224]
    assert not config.HasField("dynamic_batching")


def test_batching_a_fixed_batch_model_is_refused_with_the_fix():
    with pytest.raises(ModelError, match="make the batch dimension dynamic"):
        build_model_config("m", FIXED_SIG, ServingConfig(max_batch_size=4))


def test_serving_knobs_reach_the_config_and_survive_pbtxt():
    serving = ServingConfig(
        max_batch_size=16,
        instance_count=3,
        dynamic_batching=DynamicBatching(max_queue_delay_us=500, preferred_batch_sizes=(4, 8)),
        runner=RunnerOptions(intra_op_threads=2, graph_optimization_level="basic"),
    )
    config = from_pbtxt(to_pbtxt(build_model_config("m", DYNAMIC_SIG, serving)))
    assert config.instance_group[0].count == 3
    assert config.dynamic_batching.max_queue_delay_microseconds == 500
    assert list(config.dynamic_batching.preferred_batch_size) == [4, 8]
    assert config.parameters["intra_op_threads"].string_value == "2"
    assert config.parameters["graph_optimization_level"].string_value == "basic"


def test_string_tensors_are_refused_clearly():
    sig = ModelSignature((TensorSpec("text", "TYPE_STRING", (-1, 1)),), (TensorSpec("y", "TYPE_FP32", (-1, 2)),))
    with pytest.raises(ModelError, match="BYTES"):
        build_model_config("m", sig, ServingConfig(max_batch_size=4))
    with pytest.raises(TypeError, match="BYTES"):
        numpy_dtype("TYPE_STRING")


def test_signature_read_from_onnx(dtype_zoo_onnx: Path):
    sig = read_signature(dtype_zoo_onnx)
    assert [t.name for t in sig.inputs] == ["x", "idx", "h", "i32", "mask"]
    assert sig.input("h").triton_type == "TYPE_FP16"
    assert sig.input("mask").triton_type == "TYPE_BOOL"
    assert sig.batch_is_dynamic


def test_missing_and_corrupt_files_give_clear_errors(tmp_path: Path):
    with pytest.raises(ModelError, match="does not exist"):
        load_onnx(tmp_path / "nope.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 50)
    with pytest.raises(ModelError, match="not a readable ONNX model|holds no ONNX graph"):
        load_onnx(bad)


def test_initializers_listed_as_inputs_are_not_model_inputs(tmp_path: Path):
    weight = helper.make_tensor("W", TensorProto.FLOAT, [2], [1.0, 2.0])
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "W"], ["y"])],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2]),
            helper.make_tensor_value_info("W", TensorProto.FLOAT, [2]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 2])],
        initializer=[weight],
    )
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph), str(path))
    assert [t.name for t in read_signature(path).inputs] == ["x"]
    assert np.dtype(numpy_dtype("TYPE_FP32")) == np.float32


def test_a_stored_variant_renders_without_tensors_as_the_deployed_config_does():
    serving = ServingConfig(max_batch_size=16, instance_count=3, dynamic_batching=DynamicBatching(500, (8,)))
    alone = serving_model_config("m", serving)
    deployed = build_model_config("m", DYNAMIC_SIG, serving)
    assert not alone.input and not alone.output
    del deployed.input[:], deployed.output[:]
    assert to_pbtxt(alone) == to_pbtxt(deployed)
    unbatched = serving_model_config("m", ServingConfig(max_batch_size=0, dynamic_batching=DynamicBatching()))
    assert not unbatched.HasField("dynamic_batching")


SCALAR_SIG = ModelSignature(
    inputs=(TensorSpec("input", "TYPE_FP32", (-1, -1)), TensorSpec("sr", "TYPE_INT64", ())),
    outputs=(TensorSpec("output", "TYPE_FP32", (-1, 1)), TensorSpec("level", "TYPE_FP32", ())),
)


def test_a_non_batching_scalar_is_served_as_dims_1_without_reshape():
    """Triton refuses an empty reshape on a non-batching model ('scalar tensors are not
    supported'): the scalar is a plain [1] and the runner is told to reshape it."""
    config = from_pbtxt(to_pbtxt(build_model_config("vad", SCALAR_SIG, ServingConfig(max_batch_size=0))))
    sr = next(t for t in config.input if t.name == "sr")
    level = next(t for t in config.output if t.name == "level")
    assert list(sr.dims) == [1] and not sr.HasField("reshape")
    assert list(level.dims) == [1] and not level.HasField("reshape")
    assert config.parameters["scalar_tensors"].string_value == "sr,level"
    assert "reshape" not in to_pbtxt(config)


def test_a_batching_models_per_sample_scalar_keeps_dims_1_with_reshape_to_empty():
    signature = ModelSignature(
        inputs=(TensorSpec("x", "TYPE_FP32", (-1,)),), outputs=(TensorSpec("y", "TYPE_FP32", (-1, 2)),)
    )
    config = build_model_config("m", signature, default_serving_config(signature))
    assert list(config.input[0].dims) == [1] and config.input[0].HasField("reshape")
    assert list(config.input[0].reshape.shape) == []
    assert "scalar_tensors" not in config.parameters


IMAGE_SIG = ModelSignature(
    inputs=(TensorSpec("x", "TYPE_FP32", (-1, 3, 32, 32)),),
    outputs=(TensorSpec("y", "TYPE_FP32", (-1, 10)),),
)


def _warmups(config) -> list[tuple[str, int, int, list[int], bool]]:
    return [
        (w.name, w.batch_size, w.count, list(w.inputs["x"].dims), w.inputs["x"].zero_data) for w in config.model_warmup
    ]


def test_the_runner_config_has_triton_warm_up_each_batch_size_the_plan_names():
    """On a CPU the powers of two up to the max batch size, run once by each instance as Triton
    loads it; on a GPU with CUDA graphs the runner's buckets, each run until its graph is captured."""
    cpu = ServingConfig(max_batch_size=8, instance_count=2, dynamic_batching=DynamicBatching())
    assert _warmups(build_model_config("m", IMAGE_SIG, cpu)) == [
        (f"tritune_warmup_batch_{b}", b, 1, [3, 32, 32], True) for b in (1, 2, 4, 8)
    ]
    gpu = ServingConfig(
        max_batch_size=16,
        instance_kind="KIND_GPU",
        dynamic_batching=DynamicBatching(),
        runner=RunnerOptions(cuda_graph=True),
    )
    assert [(w[1], w[2]) for w in _warmups(build_model_config("m", IMAGE_SIG, gpu))] == [
        (b, 3) for b in (1, 2, 4, 8, 16)
    ]
    # Survives the trip through config.pbtxt, as a user deploys it.
    written = from_pbtxt(to_pbtxt(build_model_config("m", IMAGE_SIG, cpu)))
    assert [w.batch_size for w in written.model_warmup] == [1, 2, 4, 8]


def test_a_dynamic_dimension_besides_the_batch_leaves_the_warm_up_to_the_load_generator():
    """Its size is the measured load's (--shape), which the config does not know."""
    config = build_model_config("m", DYNAMIC_SIG, default_serving_config(DYNAMIC_SIG))
    assert list(config.input[0].dims) == [-1] and not config.model_warmup
