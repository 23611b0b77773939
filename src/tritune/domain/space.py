"""The search space: ordered value lists per serving knob, and points in it.

A *point* is a plain dict ``{dimension name: value}``; it is what searchers propose, what the
store keys variants by, and what :meth:`SearchSpace.variant` turns into a deployable
:class:`Variant` (a :class:`ServingConfig` plus the client batch size and model precision).
Values are JSON-friendly scalars or tuples (lists after a JSON round trip are turned back into
tuples by :func:`normalize_point`), so a resumed run can rebuild the same points.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeAlias

from tritune.domain.backends import UNSET, gpu_only
from tritune.domain.devices import InstanceKind
from tritune.domain.serving import DynamicBatching, RunnerOptions, ServingConfig

Value: TypeAlias = int | float | str | None | tuple[Any, ...]
Point: TypeAlias = Mapping[str, Value]


class Dim(StrEnum):
    """Dimension names. They double as keys of a point and of a stored variant's params."""

    INSTANCE_COUNT = "instance_count"
    INSTANCE_KIND = "instance_kind"  # "KIND_CPU" | "KIND_GPU"
    MAX_BATCH_SIZE = "max_batch_size"  # 0: the model does not batch
    DYNAMIC_BATCHING = "dynamic_batching"  # None: off; an int: on, with that max_queue_delay_us
    PREFERRED_BATCH_SIZES = "preferred_batch_sizes"  # tuple of ints, () for none
    EXECUTION_PROVIDERS = "execution_providers"  # tuple of provider names, () for the default
    INTRA_OP_THREADS = "intra_op_threads"  # 0: the runtime's default
    INTER_OP_THREADS = "inter_op_threads"
    PRECISION = "precision"  # "fp32", "fp16", ...: which prepared model file is served
    # tritune's runner on a GPU: CUDA graphs, one per padded batch shape. A point carries it only
    # in a space that searches it (a GPU one), so CPU points keep the keys they always had.
    CUDA_GRAPH = "cuda_graph"
    CLIENT_BATCH_SIZE = "client_batch_size"  # the batch size of each client request


# What a point means when it leaves a dimension out: the values an untuned deployment gets.
BASELINE: dict[str, Value] = {
    Dim.INSTANCE_COUNT: 1,
    Dim.INSTANCE_KIND: InstanceKind.KIND_CPU,
    Dim.MAX_BATCH_SIZE: 0,
    Dim.DYNAMIC_BATCHING: None,
    Dim.PREFERRED_BATCH_SIZES: (),
    Dim.EXECUTION_PROVIDERS: (),
    Dim.INTRA_OP_THREADS: 0,
    Dim.INTER_OP_THREADS: 0,
    Dim.PRECISION: "fp32",
    Dim.CUDA_GRAPH: False,
    Dim.CLIENT_BATCH_SIZE: 1,
}

# Dimensions whose values have no natural order: a hill climber may jump between any two.
UNORDERED: frozenset[str] = frozenset({Dim.INSTANCE_KIND, Dim.EXECUTION_PROVIDERS, Dim.PRECISION, Dim.CUDA_GRAPH})

# A backend knob's dimension is its option key under this prefix ("backend:parameters.X"), so
# points of models without backend knobs keep exactly the keys (and store keys) they had. A
# point that leaves one out means the knob is unset (the backend's default).
BACKEND_DIM_PREFIX = "backend:"


def backend_dim(key: str) -> str:
    """The dimension name of a backend option key (see domain/backends.py)."""
    return BACKEND_DIM_PREFIX + key


def backend_options(point: Point) -> tuple[tuple[str, str], ...]:
    """The backend options a point sets (its backend dimensions that are not unset)."""
    return tuple(
        sorted(
            (name[len(BACKEND_DIM_PREFIX) :], str(value))
            for name, value in point.items()
            if name.startswith(BACKEND_DIM_PREFIX) and value not in (UNSET, None)
        )
    )


@dataclass(frozen=True)
class Dimension:
    """One knob and the values the search may give it, in order (small to large where ordered)."""

    name: str
    values: tuple[Value, ...]
    ordered: bool = True

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError(f"dimension {self.name!r} has no values: give it at least one")
        values = tuple(_freeze(v) for v in self.values)
        if len(set(values)) != len(values):
            raise ValueError(f"dimension {self.name!r} repeats a value in {list(values)}: list each value once")
        object.__setattr__(self, "values", values)

    def __len__(self) -> int:
        return len(self.values)

    def index(self, value: Value) -> int:
        return self.values.index(_freeze(value))


@dataclass(frozen=True)
class Variant:
    """What a point deploys and how the client calls it (the load level comes from the sweep)."""

    serving: ServingConfig
    client_batch_size: int = 1
    precision: str = "fp32"


@dataclass(frozen=True)
class SearchSpace:
    """An ordered product of dimensions, the default point, and the rules that make a point legal.

    Args:
        dimensions: the searched knobs, in the order grids enumerate them (last varies fastest).
        default: the untuned configuration every search measures first (it may lie off the grid).
        runner: runner options a point does not set (runtime, model file name, ...).
        gpus: the GPUs every KIND_GPU variant is placed on (empty: all); not a dimension, so
            points and their store keys stay what they are.
        cores: the cores the server may use, where they bound the intra-op threads: a KIND_CPU
            point keeps instances x threads within them (see :func:`repair`); None: unbounded.
    """

    dimensions: tuple[Dimension, ...]
    default: Mapping[str, Value] = field(default_factory=dict)
    runner: RunnerOptions = field(default_factory=RunnerOptions)
    gpus: tuple[int, ...] = ()
    cores: int | None = None

    def __post_init__(self) -> None:
        names = [d.name for d in self.dimensions]
        if len(set(names)) != len(names):
            raise ValueError(f"dimensions repeat a name in {names}")
        default = {d.name: d.values[0] for d in self.dimensions} | dict(normalize_point(self.default))
        object.__setattr__(self, "default", repair(default) or default)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dimensions)

    @property
    def unordered(self) -> frozenset[str]:
        """Dimensions a searcher treats as categories: the vocabulary's, and any built unordered."""
        return frozenset(d.name for d in self.dimensions if d.name in UNORDERED or not d.ordered)

    def dimension(self, name: str) -> Dimension:
        for dim in self.dimensions:
            if dim.name == name:
                return dim
        raise KeyError(name)

    @property
    def size(self) -> int:
        """Points in the raw product (before illegal combinations are merged away)."""
        size = 1
        for dim in self.dimensions:
            size *= len(dim)
        return size

    def point(self, indices: Sequence[int]) -> dict[str, Value]:
        return {d.name: d.values[i] for d, i in zip(self.dimensions, indices, strict=True)}

    def indices(self, point: Point) -> tuple[int, ...] | None:
        """Index of each dimension's value, or None when the point lies off the grid."""
        try:
            return tuple(d.index(point[d.name]) for d in self.dimensions)
        except (KeyError, ValueError):
            return None

    def legal(self, point: Point) -> dict[str, Value] | None:
        """The legal point a proposal stands for (see :func:`repair`), kept on this grid."""
        fixed = repair(point, self)
        return None if fixed is None else fixed

    def grid(self) -> Iterator[dict[str, Value]]:
        """Every legal point once, in product order; illegal combinations fold into legal ones."""
        seen: set[str] = set()
        for combo in itertools.product(*(range(len(d)) for d in self.dimensions)):
            point = self.legal(self.point(combo))
            if point is None:
                continue
            key = point_key(point)
            if key not in seen:
                seen.add(key)
                yield point

    def variant(self, point: Point) -> Variant:
        """The deployable variant a point stands for; dimensions it leaves out take BASELINE."""
        p = BASELINE | dict(normalize_point(point))
        delay = p[Dim.DYNAMIC_BATCHING]
        batching = (
            None
            if delay is None
            else DynamicBatching(
                max_queue_delay_us=int(delay),  # type: ignore[arg-type]
                preferred_batch_sizes=tuple(p[Dim.PREFERRED_BATCH_SIZES]),  # type: ignore[arg-type]
            )
        )
        runner = dataclasses.replace(
            self.runner,
            execution_providers=tuple(p[Dim.EXECUTION_PROVIDERS]),  # type: ignore[arg-type]
            intra_op_threads=int(p[Dim.INTRA_OP_THREADS]),  # type: ignore[arg-type]
            inter_op_threads=int(p[Dim.INTER_OP_THREADS]),  # type: ignore[arg-type]
            cuda_graph=bool(p[Dim.CUDA_GRAPH]),
        )
        serving = ServingConfig(
            max_batch_size=int(p[Dim.MAX_BATCH_SIZE]),  # type: ignore[arg-type]
            instance_count=int(p[Dim.INSTANCE_COUNT]),  # type: ignore[arg-type]
            instance_kind=str(p[Dim.INSTANCE_KIND]),
            dynamic_batching=batching,
            runner=runner,
            backend_options=backend_options(p),
            gpus=self.gpus if p[Dim.INSTANCE_KIND] == InstanceKind.KIND_GPU else (),
        )
        return Variant(serving, int(p[Dim.CLIENT_BATCH_SIZE]), str(p[Dim.PRECISION]))  # type: ignore[arg-type]


def point_from_serving(
    serving: ServingConfig, *, client_batch_size: int = 1, precision: str = "fp32"
) -> dict[str, Value]:
    """The point for a ServingConfig (e.g. the default configuration the deployer would use)."""
    batching = serving.dynamic_batching
    point: dict[str, Value] = {
        Dim.INSTANCE_COUNT: serving.instance_count,
        Dim.INSTANCE_KIND: serving.instance_kind,
        Dim.MAX_BATCH_SIZE: serving.max_batch_size,
        Dim.DYNAMIC_BATCHING: None if batching is None else batching.max_queue_delay_us,
        Dim.PREFERRED_BATCH_SIZES: () if batching is None else tuple(batching.preferred_batch_sizes),
        Dim.EXECUTION_PROVIDERS: tuple(serving.runner.execution_providers),
        Dim.INTRA_OP_THREADS: serving.runner.intra_op_threads,
        Dim.INTER_OP_THREADS: serving.runner.inter_op_threads,
        Dim.PRECISION: precision,
        Dim.CLIENT_BATCH_SIZE: client_batch_size,
    }
    if serving.runner.cuda_graph:  # only where set: see Dim.CUDA_GRAPH
        point[Dim.CUDA_GRAPH] = True
    point.update((backend_dim(key), value) for key, value in serving.backend_options)
    return point


def repair(point: Point, space: SearchSpace | None = None) -> dict[str, Value] | None:
    """Make a proposal legal by changing only the knobs that depend on the max batch size (and
    GPU-only backend knobs and the runner's CUDA graphs, which are unset (off) on a CPU
    instance; and, in a space with ``cores``, the intra-op threads, which depend on the instances).

    Triton rejects dynamic batching without batching, preferred batch sizes above the max batch
    size, and client batches above it. Rather than waste a measurement (or a searcher's draw)
    on a load failure, such a knob takes the nearest legal value of its dimension at or below
    the proposed one (the next legal one above when none is below). Threads within ``cores``: on
    a CPU instance, instances x threads <= cores, 0 (every core) for one instance only, 1 always
    (more instances than cores still run one thread each); on a GPU instance, 0 (the runtime's
    default: the CPU only runs what the GPU does not). Without a space the repair
    uses the obvious legal value (off, (), 1). Returns None when no legal value exists.
    """
    p = dict(normalize_point(point))
    mbs = int(p.get(Dim.MAX_BATCH_SIZE, BASELINE[Dim.MAX_BATCH_SIZE]))  # type: ignore[arg-type]
    limit = max(mbs, 1)

    def batching_ok(v: Value) -> bool:
        return v is None or mbs > 0

    def preferred_ok(v: Value) -> bool:
        sizes = tuple(v)  # type: ignore[arg-type]
        if not sizes:
            return True
        return p.get(Dim.DYNAMIC_BATCHING) is not None and max(sizes) <= mbs

    def client_ok(v: Value) -> bool:
        return int(v) <= limit  # type: ignore[arg-type]

    def device_ok(v: Value) -> bool:
        # A GPU accelerator or CUDA graphs on a CPU instance changes nothing: measure it once.
        return v in (UNSET, None, False) or p.get(Dim.INSTANCE_KIND) != InstanceKind.KIND_CPU

    def threads_ok(v: Value) -> bool:
        threads = int(v)  # type: ignore[arg-type]
        if p.get(Dim.INSTANCE_KIND) != InstanceKind.KIND_CPU:
            return threads == 0
        count = int(p.get(Dim.INSTANCE_COUNT, 1))  # type: ignore[arg-type]
        return count == 1 if threads == 0 else threads == 1 or count * threads <= (cores or 1)

    cores = space.cores if space is not None and Dim.INTRA_OP_THREADS in space.names else None

    def foldable(name: str) -> bool:
        # Only where the dimension can be unset (a manual list without "" keeps its values).
        return gpu_only(name[len(BACKEND_DIM_PREFIX) :]) and (
            space is None or name not in space.names or UNSET in space.dimension(name).values
        )

    rules = (
        (Dim.DYNAMIC_BATCHING, batching_ok, None),
        (Dim.PREFERRED_BATCH_SIZES, preferred_ok, ()),
        (Dim.CLIENT_BATCH_SIZE, client_ok, 1),
        (Dim.CUDA_GRAPH, device_ok, False),
        *(((Dim.INTRA_OP_THREADS, threads_ok, 0),) if cores is not None else ()),
        *((name, device_ok, UNSET) for name in sorted(p) if name.startswith(BACKEND_DIM_PREFIX) and foldable(name)),
    )
    for name, ok, fallback in rules:
        if name not in p or ok(p[name]):
            continue
        choices: tuple[Value, ...] = (fallback,)
        if space is not None and name in space.names:
            choices = space.dimension(name).values
        replacement = _nearest_legal(choices, p[name], ok)
        if replacement is _MISSING:
            return None
        p[name] = replacement
    return p


_MISSING: Any = object()


def _nearest_legal(choices: tuple[Value, ...], current: Value, ok: Any) -> Value:
    try:
        at = choices.index(current)
    except ValueError:
        at = len(choices)
    below = [v for v in choices[:at] if ok(v)]
    if below:
        return below[-1]
    above = [v for v in choices[at:] if ok(v)]
    return above[0] if above else _MISSING


def normalize_point(point: Point) -> dict[str, Value]:
    """Lists (from JSON) back to tuples, so a stored point equals the one that was proposed."""
    return {str(k): _freeze(v) for k, v in point.items()}


def point_key(point: Point) -> str:
    """A stable text identity of a point (sorted keys; tuples and lists print alike)."""
    import json

    return json.dumps(normalize_point(point), sort_keys=True, separators=(",", ":"), default=list)


def powers_of_two(low: int, high: int) -> tuple[int, ...]:
    """Model Analyzer's automatic max-batch-size range: 2**k within [low, high]."""
    values: list[int] = []
    v = 1
    while v <= high:
        if v >= low:
            values.append(v)
        v *= 2
    return tuple(values)


def _freeze(value: Any) -> Value:
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        # 100.0 from a YAML/JSON round trip is the same knob value as 100.
        return int(value)
    return value  # type: ignore[no-any-return]
