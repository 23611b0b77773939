"""A model without a batch dimension is never searched for a batch size: every point of its
space has max_batch_size 0 and no dynamic batching, whatever the automatic ranges say."""

from __future__ import annotations

from typing import Any

from tritune.config import parse_profile_config
from tritune.domain.model import ModelSignature, TensorSpec
from tritune.domain.serving import ServingConfig
from tritune.domain.space import Dim
from tritune.search import build_space
from tritune.testing.models import VAD_SIGNATURE as VAD

BATCHING = ModelSignature(
    inputs=(TensorSpec("x", "TYPE_FP32", (-1, 4)),), outputs=(TensorSpec("y", "TYPE_FP32", (-1, 4)),)
)


def _config() -> Any:
    return parse_profile_config({"profile_models": {"m": {"model_path": "m.onnx"}}})


def _batching_values(space: Any) -> set[tuple[object, object]]:
    return {(p[Dim.MAX_BATCH_SIZE], p[Dim.DYNAMIC_BATCHING]) for p in space.grid()}


def test_a_signature_without_a_batch_dimension_searches_no_batch_size() -> None:
    space = build_space(_config(), "m", VAD, cpu_cores=2)
    assert space.dimension(Dim.MAX_BATCH_SIZE).values == (0,)
    assert {size for size, _ in _batching_values(space)} == {0}
    assert space.default[Dim.MAX_BATCH_SIZE] == 0


def test_a_prepared_max_batch_size_0_holds_for_a_model_whose_signature_could_batch() -> None:
    space = build_space(_config(), "m", BATCHING, default=ServingConfig(max_batch_size=0), cpu_cores=2)
    assert space.dimension(Dim.MAX_BATCH_SIZE).values == (0,)
    searched = build_space(_config(), "m", BATCHING, cpu_cores=2)
    assert max(searched.dimension(Dim.MAX_BATCH_SIZE).values) > 0  # type: ignore[type-var]
