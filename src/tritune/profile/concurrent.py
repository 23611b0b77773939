"""Models of the user's repository profiled concurrently (``--profile-models a,b`` with
``run_config_profile_models_concurrently_enable``): one run named by them all, whose variants
serve every model side by side (``entries.ConcurrentEntries``), whose measurements drive them all at
once (``loadgen.concurrent``) and whose objective is their weighted throughput. What the session
wires differently for such a run is here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from tritune.domain.backends import backend_name
from tritune.domain.names import concurrent_name
from tritune.errors import UsageError
from tritune.profile.records import ModelFiles
from tritune.triton.user_model import UserModel, serving_of, signature_of

if TYPE_CHECKING:
    from tritonclient.grpc import model_config_pb2 as mc

    from tritune.config import ProfileConfig
    from tritune.loadgen import MeasureOptions, WorkerPool
    from tritune.loadgen.warmup import WarmupFn
    from tritune.profile.context import MeasureFn
    from tritune.triton.server import TritonServer


def refuse_ensembles(models: tuple[UserModel, ...]) -> None:
    """UsageError when one of the models is an ensemble (its composing models are a search of
    its own)."""
    ensembles = [m.name for m in models if m.is_ensemble]
    if ensembles:
        raise UsageError(
            f"{ensembles[0]} is an ensemble, which tritune profiles on its own: drop it from the models "
            "profiled concurrently"
        )


def concurrent_model(models: tuple[UserModel, ...], completed: Mapping[str, mc.ModelConfig]) -> ModelFiles:
    """The models as one: each as Triton completed its config (``completed``, by name; as a
    single model of the repository is seen), joined under the run's name with no entry of their own."""
    steps = tuple(
        ModelFiles(
            user.name,
            {},
            signature_of(completed[user.name]),
            user,
            serving_of(completed[user.name]),
            backend_name(completed[user.name].backend, completed[user.name].platform),
        )
        for user in models
    )
    return ModelFiles(concurrent_name([m.name for m in models]), {}, steps[0].signature, steps=steps, concurrent=True)


def measure_fn_for(
    config: ProfileConfig, model: ModelFiles, server: TritonServer, options: MeasureOptions, workers: WorkerPool
) -> MeasureFn:
    """The run's measure function: every model driven at once (each weighted in the objective)
    for models profiled concurrently, else the one model (a BLS model's calls, which are in its
    code, named as the steps whose statistics are read)."""
    from tritune.loadgen import make_concurrent_measure_fn, make_measure_fn

    if model.concurrent:
        weights = {step.name: config.weighting(step.name) for step in model.steps}
        return make_concurrent_measure_fn(server, weights, options, workers)
    return make_measure_fn(server, options, workers, steps=tuple(s.name for s in model.steps))


def warmup_fn_for(model: ModelFiles, server: TritonServer, options: MeasureOptions) -> WarmupFn:
    """The run's warm-up: for models profiled concurrently, each model a variant serves."""
    from tritune.loadgen import make_concurrent_warmup_fn, make_warmup_fn

    if model.concurrent:
        return make_concurrent_warmup_fn(server, [s.name for s in model.steps], options)
    return make_warmup_fn(server, options)
