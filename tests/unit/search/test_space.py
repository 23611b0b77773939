"""The search space: legal points, grid enumeration, points to deployable variants."""

from __future__ import annotations

import json

import pytest

from tritune.domain.serving import DynamicBatching, ServingConfig
from tritune.domain.space import (
    Dim,
    Dimension,
    SearchSpace,
    normalize_point,
    point_from_serving,
    point_key,
    powers_of_two,
    repair,
)


def _space() -> SearchSpace:
    return SearchSpace(
        (
            Dimension(Dim.INSTANCE_COUNT, (1, 2)),
            Dimension(Dim.MAX_BATCH_SIZE, (0, 2, 8)),
            Dimension(Dim.DYNAMIC_BATCHING, (None, 0, 500)),
            Dimension(Dim.CLIENT_BATCH_SIZE, (1, 4)),
        ),
        default={
            Dim.INSTANCE_COUNT: 1,
            Dim.MAX_BATCH_SIZE: 8,
            Dim.DYNAMIC_BATCHING: 0,
            Dim.CLIENT_BATCH_SIZE: 1,
        },
    )


def test_powers_of_two_follow_model_analyzer_ranges() -> None:
    assert powers_of_two(1, 128) == (1, 2, 4, 8, 16, 32, 64, 128)
    assert powers_of_two(3, 20) == (4, 8, 16)


def test_grid_holds_only_legal_points_each_once() -> None:
    grid = list(_space().grid())
    keys = [point_key(p) for p in grid]
    assert len(keys) == len(set(keys))
    for p in grid:
        if p[Dim.MAX_BATCH_SIZE] == 0:  # no batching: no dynamic batcher, client batch 1
            assert p[Dim.DYNAMIC_BATCHING] is None and p[Dim.CLIENT_BATCH_SIZE] == 1
        assert p[Dim.CLIENT_BATCH_SIZE] <= max(p[Dim.MAX_BATCH_SIZE], 1)
    # 2 instances x (mbs 0: 1 point; mbs 2: 3 delays x 1 client batch; mbs 8: 3 x 2)
    assert len(grid) == 2 * (1 + 3 + 6)


def test_repair_changes_only_knobs_that_depend_on_max_batch_size() -> None:
    fixed = repair({Dim.MAX_BATCH_SIZE: 0, Dim.DYNAMIC_BATCHING: 500, Dim.CLIENT_BATCH_SIZE: 4}, _space())
    assert fixed == {Dim.MAX_BATCH_SIZE: 0, Dim.DYNAMIC_BATCHING: None, Dim.CLIENT_BATCH_SIZE: 1}
    space = SearchSpace((Dimension(Dim.MAX_BATCH_SIZE, (0, 4)), Dimension(Dim.DYNAMIC_BATCHING, (0, 100))))
    # Dynamic batching cannot be turned off in this space, so mbs 0 has no legal point.
    assert space.legal({Dim.MAX_BATCH_SIZE: 0, Dim.DYNAMIC_BATCHING: 0}) is None


def test_point_maps_to_serving_config_and_back() -> None:
    space = _space()
    point = {
        Dim.INSTANCE_COUNT: 2,
        Dim.MAX_BATCH_SIZE: 8,
        Dim.DYNAMIC_BATCHING: 500,
        Dim.CLIENT_BATCH_SIZE: 4,
    }
    variant = space.variant(point)
    assert variant.serving == ServingConfig(
        max_batch_size=8, instance_count=2, dynamic_batching=DynamicBatching(max_queue_delay_us=500)
    )
    assert variant.client_batch_size == 4
    back = point_from_serving(variant.serving, client_batch_size=4)
    assert {k: back[k] for k in point} == point


def test_runner_dimensions_reach_runner_options() -> None:
    space = SearchSpace(
        (
            Dimension(Dim.EXECUTION_PROVIDERS, (("CPUExecutionProvider",), ()), ordered=False),
            Dimension(Dim.INTRA_OP_THREADS, (1, 2)),
            Dimension(Dim.PRECISION, ("fp32", "fp16"), ordered=False),
        )
    )
    variant = space.variant(
        {Dim.EXECUTION_PROVIDERS: ("CPUExecutionProvider",), Dim.INTRA_OP_THREADS: 2, Dim.PRECISION: "fp16"}
    )
    assert variant.serving.runner.execution_providers == ("CPUExecutionProvider",)
    assert variant.serving.runner.intra_op_threads == 2
    assert variant.precision == "fp16"


def test_points_survive_a_json_round_trip() -> None:
    point = {
        Dim.PREFERRED_BATCH_SIZES: (4, 8),
        Dim.DYNAMIC_BATCHING: 100,
        Dim.EXECUTION_PROVIDERS: ("A", "B"),
    }
    again = normalize_point(json.loads(json.dumps(point)))
    assert again == point
    assert point_key(again) == point_key(point)


def test_dimension_rejects_duplicates_and_emptiness() -> None:
    with pytest.raises(ValueError, match="repeats a value"):
        Dimension(Dim.INSTANCE_COUNT, (1, 1))
    with pytest.raises(ValueError, match="no values"):
        Dimension(Dim.INSTANCE_COUNT, ())


def test_the_default_is_what_an_untuned_triton_serves() -> None:
    from tritune.domain.model import ModelSignature, TensorSpec
    from tritune.domain.serving import default_serving_config

    batching = ModelSignature((TensorSpec("x", "TYPE_FP32", (-1, 4)),), (TensorSpec("y", "TYPE_FP32", (-1, 4)),))
    fixed = ModelSignature((TensorSpec("x", "TYPE_FP32", (1, 4)),), (TensorSpec("y", "TYPE_FP32", (1, 4)),))
    assert default_serving_config(batching) == ServingConfig(max_batch_size=8, dynamic_batching=DynamicBatching())
    assert default_serving_config(batching, gpu=True).instance_kind == "KIND_GPU"
    assert default_serving_config(fixed, 16) == ServingConfig(max_batch_size=0)
