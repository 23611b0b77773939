"""An ensemble's search space: the composing models' knobs searched jointly.

Each step (composing model) has a space of its own (built as for a single model of the user's
repository); the joint space is their product, each dimension named by its step's model and the
knob (``prep.instance_count``), plus the client's batch size, which belongs to the ensemble. A
joint point is legal when each step's part is legal in its own space and the client batch fits
the ensemble's max batch size. :meth:`JointSpace.variant` gives one :class:`ServingConfig` of the
ensemble whose ``steps`` are the composing models' configs. A BLS model, unlike an ensemble, runs
code of its own on instances of its own: their count joins the joint space as a dimension of the
BLS model's (``instance_count``, no step prefix), the variant's own ``instance_count``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tritune.domain.devices import InstanceKind
from tritune.domain.serving import ServingConfig
from tritune.domain.space import (
    BACKEND_DIM_PREFIX,
    Dim,
    Dimension,
    Point,
    SearchSpace,
    Value,
    Variant,
    normalize_point,
    repair,
)

STEP_SEPARATOR = "."
# Model Analyzer's quick search profiles ensembles of at most this many composing models; past
# it the joint space grows too large to search in a run's time.
MAX_STEPS = 4


def step_dim(step: str, name: str) -> str:
    """A step's knob as a joint dimension: ``<model>.<knob>``."""
    return f"{step}{STEP_SEPARATOR}{name}"


def split_joint_name(name: str) -> tuple[str, str] | None:
    """(model, knob) of a joint dimension's name; None for the ensemble's own (the client batch)
    and any name of a single model's space. Model names may hold dots, knob names end it."""
    marker = STEP_SEPARATOR + BACKEND_DIM_PREFIX
    if marker in name:  # a backend knob ("prep.backend:parameters.x"): ":" is in no model name
        step, _, rest = name.partition(marker)
        return step, BACKEND_DIM_PREFIX + rest
    for dim in Dim:
        if name.endswith(STEP_SEPARATOR + dim.value) and len(name) > len(dim.value) + 1:
            return name[: -len(dim.value) - 1], dim.value
    return None


@dataclass(frozen=True)
class JointSpace(SearchSpace):
    """The composing models' spaces (``steps``: model name -> its space, in step order) searched
    together; ``max_batch_size`` is the ensemble's own (a client batch must fit it)."""

    steps: tuple[tuple[str, SearchSpace], ...] = ()
    max_batch_size: int = 0
    own_kind: str = InstanceKind.KIND_CPU  # a BLS model's instance kind, where its own instance count is searched

    def __post_init__(self) -> None:
        names = [d.name for d in self.dimensions]
        if len(set(names)) != len(names):
            raise ValueError(f"dimensions repeat a name in {names}")
        default = {d.name: d.values[0] for d in self.dimensions} | dict(normalize_point(self.default))
        object.__setattr__(self, "default", self.legal(default) or default)

    def split(self, point: Point) -> dict[str, dict[str, Value]]:
        """Each step's part of a joint point, by model name, in the step's own dimension names."""
        parts: dict[str, dict[str, Value]] = {step: {} for step, _ in self.steps}
        longest_first = sorted(parts, key=len, reverse=True)  # model names and knobs may hold dots
        for name, value in normalize_point(point).items():
            step = next((s for s in longest_first if name.startswith(s + STEP_SEPARATOR)), None)
            if step is not None:
                parts[step][name[len(step) + len(STEP_SEPARATOR) :]] = value
        return parts

    def legal(self, point: Point) -> dict[str, Value] | None:
        joint = dict(normalize_point(point))
        parts = self.split(joint)
        for step, space in self.steps:
            fixed = space.legal(parts[step])
            if fixed is None:
                return None
            joint.update({step_dim(step, knob): value for knob, value in fixed.items()})
        if Dim.CLIENT_BATCH_SIZE in joint:
            client = repair(
                {Dim.MAX_BATCH_SIZE: self.max_batch_size, Dim.CLIENT_BATCH_SIZE: joint[Dim.CLIENT_BATCH_SIZE]}
            )
            if client is None:
                return None
            joint[Dim.CLIENT_BATCH_SIZE] = client[Dim.CLIENT_BATCH_SIZE]
        return joint

    def variant(self, point: Point) -> Variant:
        parts = self.split(point)
        steps = tuple((step, space.variant(parts[step]).serving) for step, space in self.steps)
        given = normalize_point(point)
        client = int(given.get(Dim.CLIENT_BATCH_SIZE, 1))  # type: ignore[arg-type]
        if Dim.INSTANCE_COUNT not in given:  # an ensemble: the steps are all it serves
            return Variant(ServingConfig(max_batch_size=self.max_batch_size, steps=steps), client)
        count = int(given[Dim.INSTANCE_COUNT])  # type: ignore[arg-type]
        own = ServingConfig(self.max_batch_size, instance_count=count, instance_kind=self.own_kind, steps=steps)
        return Variant(own, client)


def joint_space(
    steps: Mapping[str, SearchSpace],
    *,
    max_batch_size: int,
    client_batch_sizes: tuple[int, ...],
    own: SearchSpace | None = None,
) -> JointSpace:
    """The joint space of ``steps`` (each composing model's own space, in step order); ``own``:
    a BLS model's own space, whose instance counts join it (its default's count first measured).

    A step's client batch size is not its own (the ensemble's client sends it), so it is left
    out; a step's max batch sizes below the ensemble's are left out too (Triton refuses an
    ensemble whose composing model takes smaller batches than it does).

    Raises:
        ValueError: more than MAX_STEPS steps, or a step with no max batch size the ensemble fits.
    """
    if len(steps) > MAX_STEPS:
        raise ValueError(
            f"the ensemble has {len(steps)} composing models; tritune searches at most {MAX_STEPS} jointly"
        )
    fitted = {step: _fit_batches(step, space, max_batch_size) for step, space in steps.items()}
    dims = [
        Dimension(step_dim(step, d.name), d.values, d.ordered)
        for step, space in fitted.items()
        for d in space.dimensions
        if d.name != Dim.CLIENT_BATCH_SIZE
    ]
    dims.append(Dimension(Dim.CLIENT_BATCH_SIZE, client_batch_sizes or (1,)))
    default: dict[str, Value] = {
        step_dim(step, knob): value
        for step, space in fitted.items()
        for knob, value in space.default.items()
        if knob != Dim.CLIENT_BATCH_SIZE
    }
    default[Dim.CLIENT_BATCH_SIZE] = (client_batch_sizes or (1,))[0]
    own_kind: str = InstanceKind.KIND_CPU
    if own is not None and Dim.INSTANCE_COUNT in own.names:
        dims.append(own.dimension(Dim.INSTANCE_COUNT))
        default[Dim.INSTANCE_COUNT] = own.default[Dim.INSTANCE_COUNT]
        own_kind = str(own.default.get(Dim.INSTANCE_KIND, own_kind))
    return JointSpace(
        tuple(dims), default=default, steps=tuple(fitted.items()), max_batch_size=max_batch_size, own_kind=own_kind
    )


def _fit_batches(step: str, space: SearchSpace, ensemble_batch: int) -> SearchSpace:
    """``space`` without max batch sizes below the ensemble's (its default's is kept as it is)."""
    if ensemble_batch <= 0 or Dim.MAX_BATCH_SIZE not in space.names:
        return space
    dims = []
    for dim in space.dimensions:
        if dim.name == Dim.MAX_BATCH_SIZE:
            kept = tuple(v for v in dim.values if int(v) >= ensemble_batch)  # type: ignore[arg-type]
            if not kept:
                raise ValueError(
                    f"{step}: no max batch size searched is at least the ensemble's {ensemble_batch} "
                    f"(searched: {list(dim.values)}): widen the max batch sizes"
                )
            dim = Dimension(dim.name, kept, dim.ordered)
        dims.append(dim)
    return SearchSpace(tuple(dims), default=space.default, runner=space.runner, gpus=space.gpus, cores=space.cores)
