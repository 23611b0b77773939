"""From the profile config to a search plan: the space, the searcher for the mode, the load sweeps.

Modes:
    brute: every grid point with a full load sweep (Model Analyzer's brute mode).
    quick: Model Analyzer's hill climbing, one index step at a time, a short probe of the load
        per configuration, then the top ``num_configs_per_model`` and the default get a
        refining sweep.
    optuna: TPE with constraints over the grid, probes, then the same refinement.
    default: hill climbing with momentum and a two-step escape from flat stretches, budget-aware
        probes (a few load points where the configuration should peak, halving past a latency
        cap), then refinement. It measures a small fraction of what brute force measures and
        lands on (nearly) the same optimum; tests/unit/search/test_modes.py holds it to that.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from tritune.analysis.concurrent import objectives as concurrent_objectives
from tritune.analysis.concurrent import per_model_constraints
from tritune.analysis.configs import config_score
from tritune.analysis.constraints import Constraints
from tritune.analysis.objectives import Objectives
from tritune.analysis.ranking import TrialScore
from tritune.config import ModelConfigParameters, ProfileConfig
from tritune.domain.backends import UNSET, automatic_knobs, backend_name, knobs
from tritune.domain.devices import InstanceKind
from tritune.domain.measurement import LoadMode, Measurement
from tritune.domain.model import ModelSignature
from tritune.domain.serving import ServingConfig, default_serving_config
from tritune.domain.space import (
    Dim,
    Dimension,
    SearchSpace,
    Value,
    Variant,
    backend_dim,
    point_from_serving,
    powers_of_two,
)
from tritune.search.automatic import (
    CPU_QUEUE_DELAYS_US,
    GPU_QUEUE_DELAYS_US,
    TENSORRT_PROVIDER,
    TENSORRT_PROVIDERS,
    AutomaticValues,
    cpu_automatic,
    gpu_automatic,
)
from tritune.search.base import BaseSearcher
from tritune.search.bayes import BayesSearcher, trial_budget
from tritune.search.grid import GridSearcher
from tritune.search.hill_climb import HillClimbSearcher
from tritune.search.load_sweep import LoadSweep, SweepSettings
from tritune.search.refine import RefineTop
from tritune.search.trial import LoadSweepKind, Searcher, Trial

MODES = ("default", "brute", "quick", "optuna")
__all__ = [  # the automatic values live in automatic.py; these names stay importable from here
    "CPU_QUEUE_DELAYS_US",
    "GPU_QUEUE_DELAYS_US",
    "TENSORRT_PROVIDER",
    "TENSORRT_PROVIDERS",
    "AutomaticValues",
    "SearchPlan",
    "build_space",
    "cpu_automatic",
    "create_plan",
    "create_searcher",
    "gpu_automatic",
]

# Probes: at most this many load points per configuration while searching.
PROBE_POINTS = 3


def build_space(
    config: ProfileConfig,
    model: str,
    signature: ModelSignature,
    *,
    gpu_available: bool = False,
    default: ServingConfig | None = None,
    dynamic_batching: bool = True,
    backend: str | None = None,
    precisions: Sequence[str] = (),
    providers: Sequence[str] = (),
    cpu_cores: int | None = None,
) -> SearchSpace:
    """The grid for one model: manual lists where the config gives them, automatic ranges elsewhere.

    Automatic ranges follow Model Analyzer: instance counts min..max, max batch sizes the powers
    of two in [min, max], dynamic batching on without delay. With ``run_config_search_disable``
    only manual lists vary; every other knob stays at the default configuration's value.

    ``default`` is how the model is served now (a user's own config), measured first and kept
    where nothing is searched (its instance kind, unless listed); None: what an untuned Triton
    serves a model file with. A model served with ``max_batch_size: 0`` is never searched for a
    batch size or dynamic batching, nor is dynamic batching with ``dynamic_batching`` False (the
    model has a scheduler of its own). ``backend`` is the backend the model is served with
    (None: tritune's runner); its knobs join the grid (see :func:`backend_dimensions`).

    On a GPU (``gpu_available`` and not ``cpu_only``) the automatic space adds what pays there
    (see :func:`gpu_automatic`): the queue delays, and for tritune's runner the validated
    ``precisions`` the model has, the ``providers`` ONNX Runtime offers (TensorRT) and its CUDA
    graphs; every KIND_GPU variant is placed on the config's ``gpus``.

    ``cpu_cores`` (the cores the server may use: the ``--server-cpus`` split, else this process's;
    None where not known) adds what pays on the CPU (see :func:`cpu_automatic`) where a KIND_CPU
    instance is searched: queue delays, and for tritune's runner its intra-op threads, searched
    with the instance count so that instances x threads stay within the cores. A manual list wins
    over either. Without any fact the space is Model Analyzer's.
    """
    settings = config.profile_models[model]
    gpu = gpu_available and not settings.cpu_only
    # A model that does not batch stays so (a user's config or prepare's says max_batch_size 0,
    # or the signature has no dynamic first dimension): Triton would refuse it a batch dimension.
    default = default or default_serving_config(signature, gpu=gpu)
    batches = default.max_batch_size > 0
    manual = settings.model_config_parameters
    batch_sizes = tuple(settings.parameters.batch_sizes or (1,))
    base = point_from_serving(default, client_batch_size=batch_sizes[0])
    auto = not config.run_config_search_disable
    knob_dims = backend_dimensions(backend_name(backend), manual, gpu=gpu, auto=auto)
    base.update({d.name: UNSET for d in knob_dims})  # the untuned default leaves every knob unset

    def values(name: str, given: Sequence[Value] | None, automatic: Sequence[Value]) -> Dimension:
        if given:
            chosen = tuple(given)
        elif auto:
            chosen = tuple(automatic)
        else:
            chosen = (base[name],)
        return Dimension(name, tuple(dict.fromkeys(chosen)), ordered=name not in _UNORDERED_NAMES)

    groups = manual.instance_group if manual else None
    counts = sorted({c for g in groups for c in g.count}) if groups else None
    kinds = list(dict.fromkeys(k for g in groups for k in g.kind)) if groups else None
    batching = manual.dynamic_batching if manual else None

    def fixed(name: str) -> Dimension:
        return Dimension(name, (base[name],))

    on_gpu = gpu_automatic(gpu=gpu, runner=backend is None, precisions=precisions, providers=providers)
    instance_counts = counts or range(
        config.run_config_search_min_instance_count, config.run_config_search_max_instance_count + 1
    )
    cpu_searched = InstanceKind.KIND_CPU in kinds if kinds else default.instance_kind == InstanceKind.KIND_CPU
    on_cpu = cpu_automatic(
        cores=cpu_cores if cpu_searched else None, runner=backend is None, instance_counts=instance_counts
    )
    delays = on_gpu.delays if gpu else on_cpu.delays
    given_threads = manual.intra_op_threads if manual else None
    threads = values(Dim.INTRA_OP_THREADS, given_threads, on_cpu.threads)
    # The cores bound the automatic thread counts only: a manual list is measured as given.
    bounded = on_cpu.cores if threads.values == on_cpu.threads and len(threads) > 1 else None
    dims = (
        values(Dim.INSTANCE_KIND, kinds, [default.instance_kind]),
        values(Dim.PRECISION, manual.precision if manual else None, on_gpu.precisions or [base[Dim.PRECISION]]),
        values(
            Dim.EXECUTION_PROVIDERS,
            [tuple(p) for p in manual.execution_providers] if manual and manual.execution_providers else None,
            on_gpu.providers,
        ),
        values(Dim.INSTANCE_COUNT, counts, instance_counts),
        values(
            Dim.MAX_BATCH_SIZE,
            manual.max_batch_size if manual else None,
            powers_of_two(config.run_config_search_min_model_batch_size, config.run_config_search_max_model_batch_size),
        )
        if batches
        else fixed(Dim.MAX_BATCH_SIZE),
        values(Dim.DYNAMIC_BATCHING, batching.max_queue_delay_microseconds if batching else None, delays)
        if batches and dynamic_batching
        else fixed(Dim.DYNAMIC_BATCHING),
        values(
            Dim.PREFERRED_BATCH_SIZES,
            [tuple(p) for p in batching.preferred_batch_size] if batching else None,
            [()],
        )
        if batches and dynamic_batching
        else fixed(Dim.PREFERRED_BATCH_SIZES),
        threads,
        values(Dim.INTER_OP_THREADS, manual.inter_op_threads if manual else None, [0]),
        # Only where searched (a GPU space of the runner): see Dim.CUDA_GRAPH.
        *((Dimension(Dim.CUDA_GRAPH, on_gpu.cuda_graphs),) if auto and len(on_gpu.cuda_graphs) > 1 else ()),
        *knob_dims,
        Dimension(Dim.CLIENT_BATCH_SIZE, batch_sizes),
    )
    return SearchSpace(dims, default=base, runner=default.runner, gpus=tuple(config.gpus or ()), cores=bounded)


def backend_dimensions(
    backend: str, manual: ModelConfigParameters | None, *, gpu: bool, auto: bool
) -> tuple[Dimension, ...]:
    """The backend's knobs as dimensions: a manual list where the config gives one, else the
    knob's automatic values where it is searched automatically on this hardware (none for
    tritune's runner, so its space is what it always was). The first automatic value is the
    backend's default, which the default configuration keeps."""
    given = manual.backend_lists() if manual else {}
    documented = {k.key: k for k in knobs(backend)}
    automatic = [k for k in automatic_knobs(backend, gpu=gpu) if k.key not in given] if auto else []
    dims = [Dimension(backend_dim(k.key), k.automatic, ordered=k.ordered) for k in automatic]
    for key, chosen in given.items():
        knob = documented.get(key)
        dims.append(Dimension(backend_dim(key), tuple(dict.fromkeys(chosen)), ordered=knob.ordered if knob else True))
    return tuple(dims)


_UNORDERED_NAMES = {Dim.INSTANCE_KIND, Dim.PRECISION, Dim.EXECUTION_PROVIDERS}


def create_searcher(
    mode: str,
    space: SearchSpace,
    *,
    seed: int = 0,
    top_n: int = 3,
    optuna_min_trials: int = 20,
    optuna_max_trials: int = 60,
    optuna_early_exit: int = 10,
) -> Searcher:
    """The searcher for a mode (see the module docstring). Raises ValueError for an unknown mode."""
    inner: BaseSearcher
    if mode == "brute":
        return GridSearcher(space)
    if mode == "quick":
        inner = HillClimbSearcher(space, momentum=False, max_radius=1)
    elif mode == "default":
        inner = HillClimbSearcher(space, momentum=True, max_radius=2)
    elif mode == "optuna":
        budget = trial_budget(space, optuna_min_trials, optuna_max_trials)
        inner = BayesSearcher(
            space, seed=seed, max_trials=budget, min_trials=optuna_min_trials, early_exit=optuna_early_exit
        )
    else:
        raise ValueError(f"unknown search mode {mode!r}: use one of {', '.join(MODES)}")
    return RefineTop(inner, top_n=top_n)


@dataclass
class SearchPlan:
    """Everything the orchestrator needs for one model; it holds the (stateful) searcher.

    The loop (ProfileRun.search runs it, with the store and the deployer)::

        while (trial := plan.searcher.ask()) is not None:
            variant = plan.variant(trial)            # deploy it (same params: same variant)
            sweep = plan.load_sweep(trial)
            while (load := sweep.ask()) is not None:
                sweep.tell(load, stored_or_measured(variant, load))
            plan.searcher.tell(trial, plan.score(sweep.measurements))
    """

    model: str
    mode: str
    space: SearchSpace
    searcher: Searcher
    objectives: Objectives
    constraints: Constraints
    load_mode: LoadMode = LoadMode.CONCURRENCY
    manual_loads: tuple[float, ...] = ()
    minimum: float = 1
    maximum: float = 1024
    binary_search_steps: int = 5
    caps: dict[str, float] = field(default_factory=dict)

    def variant(self, trial: Trial) -> Variant:
        return self.space.variant(trial.params)

    def score(self, measurements: Sequence[Measurement], error: str | None = None) -> TrialScore:
        """What to tell the searcher: the best load point's outcome (or a failure with ``error``)."""
        return config_score(measurements, self.objectives, self.constraints, error=error)

    def sweep_settings(self, trial: Trial) -> SweepSettings:
        """Manual loads if given; else a probe, a refining sweep from the probe's best, or a full sweep."""
        base = SweepSettings(
            mode=self.load_mode,
            start=self.minimum,
            minimum=self.minimum,
            maximum=self.maximum,
            latency_caps=self.caps,
            binary_search_steps=self.binary_search_steps,
        )
        if self.manual_loads:
            return dataclasses.replace(base, values=self.manual_loads)
        if trial.load_sweep is LoadSweepKind.PROBE:
            return dataclasses.replace(base, start=self._probe_start(trial), window=2, max_points=PROBE_POINTS)
        if trial.load_sweep is LoadSweepKind.REFINE and trial.start_load is not None:
            # Onwards from the probe's best load: more load may still pay (window 3, not 2).
            return dataclasses.replace(base, start=trial.start_load, window=3, curve_points=trial.curve_points)
        return base  # Model Analyzer's full sweep: from the minimum, 5 % over the last 4 steps

    def load_sweep(self, trial: Trial) -> LoadSweep:
        return LoadSweep(self.sweep_settings(trial), batch_size=self.variant(trial).client_batch_size)

    def _probe_start(self, trial: Trial) -> float:
        if trial.start_load is not None:
            return min(max(trial.start_load, self.minimum), self.maximum)  # a neighbour's best load
        if self.load_mode is LoadMode.REQUEST_RATE:
            return self.minimum
        # Model Analyzer's quick-mode load: enough requests in flight to fill every instance's
        # batch twice over (concurrency = 2 * max batch size * instances / client batch).
        variant = self.variant(trial)
        items = 2 * max(variant.serving.max_batch_size, 1) * variant.serving.instance_count
        return float(min(max(math.ceil(items / variant.client_batch_size), self.minimum), self.maximum))


def create_plan(
    config: ProfileConfig,
    model: str,
    signature: ModelSignature,
    *,
    gpu_available: bool = False,
    space: SearchSpace | None = None,
    backend: str | None = None,
    precisions: Sequence[str] = (),
    providers: Sequence[str] = (),
    cpu_cores: int | None = None,
) -> SearchPlan:
    """The search plan for one model of a validated config, over ``space`` (built by
    :func:`build_space` when not given, with ``backend``'s knobs; None: tritune's runner)."""
    settings = config.profile_models[model]
    space = space or build_space(
        config,
        model,
        signature,
        gpu_available=gpu_available,
        backend=backend,
        precisions=precisions,
        providers=providers,
        cpu_cores=cpu_cores,
    )
    mode = "brute" if config.run_config_search_disable else config.run_config_search_mode
    searcher = create_searcher(
        mode,
        space,
        seed=config.seed,
        top_n=config.num_configs_per_model,
        optuna_min_trials=config.optuna_min_trials,
        optuna_max_trials=config.optuna_max_trials,
        optuna_early_exit=config.optuna_early_exit_threshold,
    )
    rate = bool(settings.parameters.request_rate) or config.request_rate_search_enable
    constraints = config.constraints_for(model)
    return SearchPlan(
        model=model,
        mode=mode,
        space=space,
        searcher=searcher,
        objectives=config.objectives_for(model),
        constraints=constraints,
        load_mode=LoadMode.REQUEST_RATE if rate else LoadMode.CONCURRENCY,
        manual_loads=tuple(settings.parameters.request_rate or settings.parameters.concurrency or ()),
        minimum=config.run_config_search_min_request_rate if rate else config.run_config_search_min_concurrency,
        maximum=config.run_config_search_max_request_rate if rate else config.run_config_search_max_concurrency,
        binary_search_steps=config.run_config_search_max_binary_search_steps,
        caps=constraints.latency_caps(),
    )


def concurrent_plan(
    config: ProfileConfig, name: str, models: Sequence[str], signature: ModelSignature, space: SearchSpace
) -> SearchPlan:
    """The plan of models profiled concurrently (``name``: the run's, ``space``: their joint
    space): the load sweep of the first model's settings (each model gets that load), the
    weighted throughput as the objective, and each model's constraints on its own metrics; a
    latency budget on any model caps the sweep."""
    plan = create_plan(config, models[0], signature, space=space)
    constraints = per_model_constraints({m: config.constraints_for(m) for m in models})
    return replace(
        plan, model=name, objectives=concurrent_objectives(), constraints=constraints, caps=constraints.latency_caps()
    )
