"""The pure half of prepare's serve check: the validation inputs shaped as a client sends them
to the written config, and the verdict on what Triton answered."""

from __future__ import annotations

import numpy as np

from tritune.domain.model import ModelSignature, TensorSpec
from tritune.domain.serving import DynamicBatching, ServingConfig
from tritune.prepare.options import DEFAULT_TOLERANCES, PrepareOptions, Tolerance
from tritune.prepare.pipeline import served_tolerance
from tritune.prepare.serve_check import compare_served, served_feeds
from tritune.triton.model_config import build_model_config

TOLERANCE = Tolerance(1e-4, 1e-3)
VAD = ModelSignature(
    inputs=(TensorSpec("input", "TYPE_FP32", (-1, -1)), TensorSpec("sr", "TYPE_INT64", ())),
    outputs=(TensorSpec("output", "TYPE_FP32", (-1, 1)),),
)
BATCHING = ModelSignature(
    inputs=(TensorSpec("x", "TYPE_FP32", (-1, 4)), TensorSpec("t", "TYPE_FP32", (-1,))),
    outputs=(TensorSpec("y", "TYPE_FP32", (-1, 4)),),
)


def test_a_non_batching_scalar_is_sent_as_1_and_the_rest_as_validated():
    config = build_model_config("vad", VAD, ServingConfig())
    feeds = {"input": np.zeros((1, 576), np.float32), "sr": np.array(16000, np.int64)}
    sent = served_feeds(config, feeds)
    assert sent["sr"].shape == (1,) and sent["sr"][0] == 16000 and sent["input"].shape == (1, 576)


def test_a_batching_model_gets_its_first_rows_within_max_batch_size_and_scalars_per_row():
    config = build_model_config("m", BATCHING, ServingConfig(max_batch_size=2, dynamic_batching=DynamicBatching()))
    feeds = {"x": np.ones((3, 4), np.float32), "t": np.ones(3, np.float32)}
    sent = served_feeds(config, feeds)
    assert sent["x"].shape == (2, 4) and sent["t"].shape == (2, 1)
    reference = {"y": np.arange(12, dtype=np.float32).reshape(3, 4)}
    assert compare_served(config, feeds, reference, {"y": reference["y"][:2]}, TOLERANCE) is None


def test_a_missing_reshaped_or_differing_output_is_one_line():
    config = build_model_config("vad", VAD, ServingConfig())
    feeds = {"input": np.zeros((1, 8), np.float32), "sr": np.array(1, np.int64)}
    reference = {"output": np.array([[0.5]], np.float32)}
    assert compare_served(config, feeds, reference, {"output": np.array([[0.5]], np.float32)}, TOLERANCE) is None
    assert "without its output 'output'" in (compare_served(config, feeds, reference, {}, TOLERANCE) or "")
    wrong_shape = compare_served(config, feeds, reference, {"output": np.zeros((2, 1), np.float32)}, TOLERANCE)
    assert wrong_shape and "of shape [2, 1], the model gives [1, 1]" in wrong_shape
    differing = compare_served(config, feeds, reference, {"output": np.array([[0.9]], np.float32)}, TOLERANCE)
    assert differing == (
        "Triton served 'vad' with output 'output' differing from the model run directly "
        "(max abs difference 0.4; allowed 0.0001 + 0.001 x |reference|)"
    )


def test_fp32_on_a_gpu_instance_is_held_to_tf32_bounds_and_the_cpu_to_fp32s():
    # ONNX Runtime's CUDA provider computes fp32 products in TF32: an fp32 bound there failed a
    # correct 1024-wide MLP on an H200; the CPU and explicit precisions keep their own bounds.
    fp32_only = PrepareOptions(inputs=(), precisions=("fp32",))
    cpu = build_model_config("m", BATCHING, ServingConfig(max_batch_size=2, dynamic_batching=DynamicBatching()))
    gpu = build_model_config("m", BATCHING, ServingConfig(max_batch_size=2, instance_kind="KIND_GPU"))
    assert served_tolerance(cpu, fp32_only) == DEFAULT_TOLERANCES["fp32"]
    assert served_tolerance(gpu, fp32_only) == DEFAULT_TOLERANCES["fp16"]
    half_first = PrepareOptions(inputs=(), precisions=("fp16", "fp32"))
    assert served_tolerance(gpu, half_first) == DEFAULT_TOLERANCES["fp16"]
    strict = PrepareOptions(inputs=(), precisions=("fp32",), tolerances={"fp32": Tolerance(1e-6, 1e-6)})
    assert served_tolerance(gpu, strict) == Tolerance(1e-6, 1e-6)  # the user's own bound is kept
