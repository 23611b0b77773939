"""An ensemble's joint space: each composing model's knobs, prefixed by its name, searched
together; its points deploy one ServingConfig whose steps are the composing models' configs."""

from __future__ import annotations

from typing import Any

import pytest

from tritune.analysis.confirm import serving_cost
from tritune.config import parse_profile_config
from tritune.domain.joint_space import MAX_STEPS, JointSpace, joint_space, step_dim
from tritune.domain.model import DYNAMIC, ModelSignature, TensorSpec
from tritune.domain.serving import DynamicBatching, ServingConfig
from tritune.domain.space import Dim, point_key
from tritune.errors import UsageError
from tritune.profile.orchestrator import plan_for
from tritune.profile.records import ModelFiles
from tritune.search.factory import build_space, create_searcher
from tritune.store.codec import serving_from_dict, serving_to_dict

SIGNATURE = ModelSignature((TensorSpec("x", "TYPE_FP32", (DYNAMIC, 8)),), (TensorSpec("y", "TYPE_FP32", (DYNAMIC, 8)),))
PREP = ServingConfig(max_batch_size=8, instance_count=1)
MODEL = ServingConfig(max_batch_size=8, instance_count=2, dynamic_batching=DynamicBatching(100))


def _config(**top: Any) -> Any:
    settings = {
        "run_config_search_max_instance_count": 2,
        "run_config_search_min_model_batch_size": 4,
        "run_config_search_max_model_batch_size": 16,
        **top,
    }
    return parse_profile_config({"profile_models": {"pipeline": {"model_path": "pipeline"}}, **settings})


def _ensemble(*steps: tuple[str, ServingConfig], batch: int = 8) -> ModelFiles:
    return ModelFiles(
        "pipeline",
        {},
        SIGNATURE,
        default=ServingConfig(max_batch_size=batch),
        steps=tuple(ModelFiles(name, {}, SIGNATURE, default=serving, backend="python") for name, serving in steps),
    )


def _space(model: ModelFiles, **top: Any) -> JointSpace:
    space = plan_for(_config(**top), model, gpu_available=False).space
    assert isinstance(space, JointSpace)
    return space


def test_each_composing_model_has_its_own_knobs_and_its_config_is_the_default() -> None:
    space = _space(_ensemble(("prep", PREP), ("model", MODEL)))
    single = build_space(_config(), "pipeline", SIGNATURE, default=MODEL, backend="python")
    searched = {name for name in single.names if name != Dim.CLIENT_BATCH_SIZE}
    assert set(space.names) == {step_dim(s, n) for s in ("prep", "model") for n in searched} | {Dim.CLIENT_BATCH_SIZE}
    # The ensemble takes batches of 8, so no composing model is given a smaller max batch size.
    assert space.dimension("model.max_batch_size").values == (8, 16)
    default = space.variant(space.default).serving
    assert default.steps == (("prep", PREP), ("model", MODEL)) and default.max_batch_size == 8
    assert space.variant(space.default).client_batch_size == 1


def test_the_grid_is_the_product_of_the_composing_models_grids() -> None:
    model = _ensemble(("prep", PREP), ("model", MODEL))
    space = _space(model)
    # Alone, each model's grid; in the ensemble, those of its points that take the ensemble's batch.
    alone = [
        {point_key(p) for p in single.grid() if p[Dim.MAX_BATCH_SIZE] >= 8}
        for single in (
            build_space(_config(), "pipeline", SIGNATURE, default=d, backend="python") for d in (PREP, MODEL)
        )
    ]
    points = list(space.grid())
    assert len(points) == len({point_key(p) for p in points}) == len(alone[0]) * len(alone[1]) > 4
    for point in points:
        serving = space.variant(point).serving
        assert [name for name, _ in serving.steps] == ["prep", "model"]
        for _, step in serving.steps:
            assert step.max_batch_size >= 8
            sizes = step.dynamic_batching.preferred_batch_sizes if step.dynamic_batching else ()
            assert all(size <= step.max_batch_size for size in sizes)


def test_a_client_batch_never_exceeds_the_ensembles_max_batch() -> None:
    space = _space(_ensemble(("prep", PREP), ("model", MODEL), batch=4))
    point = {**space.default, Dim.CLIENT_BATCH_SIZE: 8}
    assert space.legal(point) is None or space.legal(point)[Dim.CLIENT_BATCH_SIZE] <= 4  # type: ignore[index]


def test_searchers_climb_the_joint_space() -> None:
    space = _space(_ensemble(("prep", PREP), ("model", MODEL)))
    searcher = create_searcher("default", space)
    asked = []
    while (trial := searcher.ask()) is not None and len(asked) < 12:
        asked.append(trial)
        variant = space.variant(trial.params)
        assert variant.serving.step("prep").instance_count in (1, 2)
        searcher.tell(trial, _score(variant.serving))
    assert asked[0].is_default and len({point_key(t.params) for t in asked}) == len(asked) > 3


def _score(serving: ServingConfig) -> Any:
    from tritune.analysis.ranking import TrialScore

    instances = sum(step.instance_count for _, step in serving.steps)
    return TrialScore(score=float(instances))


def test_an_ensemble_of_too_many_models_or_batches_that_do_not_fit_is_refused() -> None:
    with pytest.raises(UsageError, match=f"at most {MAX_STEPS} jointly"):
        _space(_ensemble(*((f"m{i}", PREP) for i in range(MAX_STEPS + 1))))
    with pytest.raises(UsageError, match="no max batch size searched is at least the ensemble's 32"):
        _space(_ensemble(("prep", PREP), ("model", MODEL), batch=32))
    with pytest.raises(ValueError, match="at most"):
        joint_space(
            {f"m{i}": build_space(_config(), "pipeline", SIGNATURE) for i in range(5)},
            max_batch_size=8,
            client_batch_sizes=(1,),
        )


def test_an_ensembles_serving_config_is_stored_and_costed_with_its_steps() -> None:
    ensemble = ServingConfig(max_batch_size=8, steps=(("prep", PREP), ("model", MODEL)))
    assert serving_from_dict(serving_to_dict(ensemble)) == ensemble
    assert "steps" not in serving_to_dict(PREP)  # other variants are stored as they were
    assert "steps" not in repr(PREP)
    assert serving_cost(ensemble) == (3, 16, 100)
    assert ensemble.step("model") == MODEL


def test_knobs_and_model_names_with_dots_keep_their_step() -> None:
    from tritune.domain.space import Dimension, SearchSpace, backend_dim

    knob = backend_dim("parameters.intra_op_thread_count")
    step = SearchSpace((Dimension(Dim.INSTANCE_COUNT, (1, 2)), Dimension(knob, ("1", "2"))))
    space = joint_space({"pre.proc": step, "pre": step}, max_batch_size=0, client_batch_sizes=(1,))
    point = {step_dim("pre.proc", knob): "2", step_dim("pre", knob): "1", step_dim("pre.proc", Dim.INSTANCE_COUNT): 2}
    parts = space.split(point)
    assert parts == {"pre.proc": {knob: "2", Dim.INSTANCE_COUNT: 2}, "pre": {knob: "1"}}
    serving = space.variant({**space.default, **point}).serving
    assert serving.step("pre.proc").backend_options == (("parameters.intra_op_thread_count", "2"),)
    assert serving.step("pre").backend_options == (("parameters.intra_op_thread_count", "1"),)


def test_a_joint_points_names_say_their_model_and_knob() -> None:
    from tritune.cli.progress import describe_params
    from tritune.domain.joint_space import split_joint_name
    from tritune.domain.space import backend_dim

    assert split_joint_name("pre.proc.instance_count") == ("pre.proc", "instance_count")
    assert split_joint_name("prep." + backend_dim("parameters.x")) == ("prep", backend_dim("parameters.x"))
    assert split_joint_name("client_batch_size") is None and split_joint_name("instance_count") is None
    text = describe_params({"prep.instance_count": 2, "scaled.instance_count": 1, "client_batch_size": 1})
    assert text == "prep: instances 2; scaled: instances 1; client batch 1"
