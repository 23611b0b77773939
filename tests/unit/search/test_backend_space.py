"""Backend knobs in the domain: the catalogue, points <-> ServingConfig, the store's JSON."""

from __future__ import annotations

import json

import pytest

from tritune.domain.backends import (
    CUDA_GRAPHS,
    GPU_ACCELERATOR,
    MODEL_WARMUP,
    ONNXRUNTIME,
    OPENVINO,
    PYTHON,
    PYTORCH,
    RUNNER,
    TENSORRT,
    accelerators_value,
    automatic_knobs,
    backend_name,
    knobs,
    parse_accelerators,
    tensorrt_accelerator,
)
from tritune.domain.serving import DynamicBatching, ServingConfig
from tritune.domain.space import (
    Dim,
    Dimension,
    SearchSpace,
    backend_dim,
    point_from_serving,
    point_key,
)
from tritune.store.codec import canonical_json, serving_from_dict, serving_to_dict


def test_backend_names_follow_config_pbtxt() -> None:
    assert backend_name("onnxruntime") == ONNXRUNTIME
    assert backend_name("", "onnxruntime_onnx") == ONNXRUNTIME
    assert backend_name(None, "tensorrt_plan") == TENSORRT
    assert backend_name("", "pytorch_libtorch") == PYTORCH
    assert backend_name(None) == RUNNER


def test_automatic_knobs_per_backend_and_hardware() -> None:
    assert automatic_knobs(RUNNER, gpu=True) == ()  # the runner keeps its own knobs
    assert automatic_knobs(PYTHON, gpu=True) == ()
    assert automatic_knobs(ONNXRUNTIME, gpu=False) == ()
    (ort,) = automatic_knobs(ONNXRUNTIME, gpu=True)
    assert ort.key == GPU_ACCELERATOR and ort.automatic[0] == "" and not ort.ordered
    assert [parse_accelerators(v) for v in ort.automatic[1:]] == [
        [{"name": "tensorrt", "parameters": {"precision_mode": "FP32"}}],
        [{"name": "tensorrt", "parameters": {"precision_mode": "FP16"}}],
    ]
    (trt,) = automatic_knobs(TENSORRT, gpu=True)
    assert (trt.key, trt.automatic) == (CUDA_GRAPHS, ("", "true"))
    assert automatic_knobs(OPENVINO, gpu=False) == automatic_knobs(PYTORCH, gpu=True) == ()


def test_every_backend_documents_warmup_and_cites_a_source() -> None:
    for backend in (RUNNER, ONNXRUNTIME, TENSORRT, PYTORCH, OPENVINO, PYTHON):
        catalogue = knobs(backend)
        assert catalogue[0].key == MODEL_WARMUP
        assert all(k.source.startswith("triton-inference-server/") for k in catalogue)
    keys = {k.key for k in knobs(ONNXRUNTIME)}
    assert {"parameters.intra_op_thread_count", "parameters.inter_op_thread_count"} <= keys
    assert {"parameters.INTRA_OP_THREAD_COUNT", "parameters.INFERENCE_MODE"} <= {k.key for k in knobs(PYTORCH)}
    assert {"parameters.NUM_STREAMS", "parameters.PERFORMANCE_HINT"} <= {k.key for k in knobs(OPENVINO)}


def test_accelerator_values_are_canonical() -> None:
    one = accelerators_value([{"name": "tensorrt", "parameters": [{"key": "precision_mode", "value": "FP16"}]}])
    assert one == tensorrt_accelerator("FP16")
    assert accelerators_value([]) == ""
    with pytest.raises(ValueError, match="needs a name"):
        accelerators_value([{"parameters": {}}])


def _backend_space() -> SearchSpace:
    return SearchSpace(
        (
            Dimension(Dim.INSTANCE_KIND, ("KIND_CPU", "KIND_GPU")),
            Dimension(Dim.MAX_BATCH_SIZE, (8,)),
            Dimension(backend_dim(GPU_ACCELERATOR), ("", tensorrt_accelerator("FP16")), ordered=False),
            Dimension(backend_dim("parameters.intra_op_thread_count"), ("", "2")),
        )
    )


def test_points_carry_backend_knobs_into_the_serving_config_and_back() -> None:
    space = _backend_space()
    point = {
        Dim.INSTANCE_KIND: "KIND_GPU",
        Dim.MAX_BATCH_SIZE: 8,
        backend_dim(GPU_ACCELERATOR): tensorrt_accelerator("FP16"),
        backend_dim("parameters.intra_op_thread_count"): "",
    }
    serving = space.variant(point).serving
    assert serving.backend_options == ((GPU_ACCELERATOR, tensorrt_accelerator("FP16")),)  # unset ones leave
    assert serving.backend_option(GPU_ACCELERATOR) == tensorrt_accelerator("FP16")
    back = point_from_serving(serving)
    assert back[backend_dim(GPU_ACCELERATOR)] == tensorrt_accelerator("FP16")
    assert space.unordered == frozenset({Dim.INSTANCE_KIND, backend_dim(GPU_ACCELERATOR)})


def test_gpu_only_knobs_fold_to_unset_on_cpu_instances() -> None:
    grid = list(_backend_space().grid())
    cpu = [p for p in grid if p[Dim.INSTANCE_KIND] == "KIND_CPU"]
    assert {p[backend_dim(GPU_ACCELERATOR)] for p in cpu} == {""}
    assert len(grid) == 2 + 4  # CPU: 2 thread counts; GPU: 2 accelerators x 2 thread counts
    manual = SearchSpace(
        (
            Dimension(Dim.INSTANCE_KIND, ("KIND_CPU",)),
            Dimension(backend_dim(GPU_ACCELERATOR), (tensorrt_accelerator("FP16"),)),
        )
    )
    assert len(list(manual.grid())) == 1  # a manual list without "" keeps its value


def test_points_without_backend_knobs_keep_their_keys() -> None:
    serving = ServingConfig(max_batch_size=8, dynamic_batching=DynamicBatching())
    assert not any(str(k).startswith("backend:") for k in point_from_serving(serving))
    assert "backend_options" not in repr(serving)
    assert point_key(point_from_serving(serving)) == point_key(point_from_serving(ServingConfig(**vars(serving))))


def test_options_are_sorted_so_equal_knobs_are_equal_configs() -> None:
    a = ServingConfig(backend_options=(("b", "1"), ("a", "2")))
    b = ServingConfig(backend_options=(("a", "2"), ("b", "1")))
    assert a == b and hash(a) == hash(b) and a.backend_options == (("a", "2"), ("b", "1"))


def test_store_round_trips_backend_options_and_reads_old_rows() -> None:
    serving = ServingConfig(max_batch_size=4, backend_options=((MODEL_WARMUP, "zero_data"), (CUDA_GRAPHS, "true")))
    assert serving_from_dict(json.loads(canonical_json(serving_to_dict(serving)))) == serving
    plain = ServingConfig(max_batch_size=4)
    data = serving_to_dict(plain)
    assert "backend_options" not in data  # stored exactly as before the field existed
    old_row = json.loads(canonical_json(data))
    assert serving_from_dict(old_row) == plain


def test_docs_cite_every_knob_and_its_source() -> None:
    from pathlib import Path

    docs = (Path(__file__).parents[3] / "docs" / "backends.md").read_text()
    for backend in (RUNNER, ONNXRUNTIME, TENSORRT, PYTORCH, OPENVINO, PYTHON):
        for knob in knobs(backend):
            assert knob.key.removeprefix("parameters.") in docs, knob.key
            for source in knob.source.split("; "):
                assert source.split(" ")[0] in docs and source.split(" ")[1] in docs, source
