"""The report's records: what a report shows, as plain frozen data.

``tritune.report.build.build_report_data`` fills them from a :class:`RunSnapshot` (pure), and
renderers (HTML, CSV, terminal, JSON) only read them, so tests assert on data, never on pixels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tritune.analysis import DEFAULT_OBJECTIVES, SummaryFacts
from tritune.domain.host_load import HOST_OTHER_CPU, is_busy_host_warning
from tritune.domain.measurement import LoadMode, LoadPoint
from tritune.domain.status import MeasurementStatus, RunStatus, VariantStatus
from tritune.errors import UsageError
from tritune.report.pipeline import Pipeline, StepKnobs
from tritune.store import MeasurementRecord, RunRecord, VariantRecord

DEFAULT_TOP_N = 3
MODES = ("online", "offline")


# -- inputs ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportSettings:
    """The goals a run was profiled for (stored in the run's settings JSON)."""

    objectives: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_OBJECTIVES))
    constraints: Mapping[str, Mapping[str, float | None]] = field(default_factory=dict)
    mode: str = "online"
    top_n: int = DEFAULT_TOP_N

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"report mode {self.mode!r} is unknown: use online or offline")
        if self.top_n < 1:
            raise UsageError(f"top-n is {self.top_n}: use 1 or more")

    @classmethod
    def from_run_settings(cls, settings: Mapping[str, Any], *, top_n: int | None = None) -> ReportSettings:
        """The goals as the profile run resolved and stored them, with Model Analyzer's defaults.

        ``objectives`` ({metric: weight}) and ``constraints`` ({metric: {min, max}}) are stored
        already resolved for the run's model (per-model settings, ``latency_budget``...), so a
        report never re-reads the profile config. A key is absent only in a store that holds no
        profile settings (a run opened by hand, as in tests): the defaults apply then.
        """
        objectives = settings.get("objectives") or DEFAULT_OBJECTIVES
        stored_top_n = settings.get("top_n") or DEFAULT_TOP_N
        return cls(
            objectives={str(m): float(w) for m, w in objectives.items()},
            constraints={str(m): dict(b) for m, b in (settings.get("constraints") or {}).items()},
            mode=str(settings.get("mode") or "online"),
            top_n=int(top_n if top_n is not None else stored_top_n),
        )


@dataclass(frozen=True)
class RunSnapshot:
    """What the store holds about one run, plus each variant's config.pbtxt text when on disk."""

    run: RunRecord
    variants: tuple[VariantRecord, ...]
    measurements: Mapping[int, tuple[MeasurementRecord, ...]]  # variant id -> its measurements
    config_texts: Mapping[str, str] = field(default_factory=dict)  # variant name -> config.pbtxt
    # variant id -> its confirm rounds (repeats 1, 2, ... of one load point), for the finalists
    repeats: Mapping[int, tuple[MeasurementRecord, ...]] = field(default_factory=dict)


# -- outputs -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class GpuSummary:
    name: str
    uuid: str
    memory_mb: float


@dataclass(frozen=True)
class HardwareSummary:
    cpu_model: str
    cpu_cores_physical: int
    cpu_cores_logical: int
    memory_mb: float
    gpus: tuple[GpuSummary, ...] = ()

    def describe(self) -> str:
        cpu = f"{self.cpu_model} ({self.cpu_cores_physical} cores, {self.cpu_cores_logical} threads)"
        if not self.gpus:
            return f"{cpu}, no GPU"
        gpus = ", ".join(f"{g.name} ({g.memory_mb / 1024:.0f} GiB)" for g in self.gpus)
        return f"{cpu}; GPU(s): {gpus}"


@dataclass(frozen=True)
class ConstraintSummary:
    metric: str
    min: float | None
    max: float | None


@dataclass(frozen=True)
class Goals:
    objectives: Mapping[str, float]  # normalized weights
    objective_text: str  # "maximizing throughput"
    constraints: tuple[ConstraintSummary, ...]
    constraints_text: str  # "perf_latency_p99 <= 10", or "none"
    mode: str
    top_n: int


@dataclass(frozen=True)
class Point:
    """One stored measurement, as reports show it."""

    load_mode: LoadMode
    load_value: float
    batch_size: int
    status: MeasurementStatus
    metrics: Mapping[str, float]
    satisfies: bool  # meets every constraint (False when it failed)
    error: str | None = None
    client_bound: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def usable(self) -> bool:
        return self.status is not MeasurementStatus.FAILED

    @property
    def unstable(self) -> bool:
        """Its windows never agreed: the numbers are kept, and marked wherever they are shown."""
        return self.status is MeasurementStatus.UNSTABLE

    @property
    def busy_host(self) -> bool:
        """Other processes took enough CPU during it to move its numbers (its warning says how much)."""
        return any(is_busy_host_warning(w) for w in self.warnings)

    @property
    def load_label(self) -> str:
        return LoadPoint(self.load_mode, self.load_value, self.batch_size).label()

    def get(self, metric: str) -> float | None:
        return self.metrics.get(metric)


@dataclass(frozen=True)
class ConfigSummary:
    """One configuration (variant): how it serves, what was measured, where it ranks."""

    name: str
    rank: int | None  # 1 = best; None when nothing usable was measured
    is_default: bool
    status: VariantStatus
    error: str | None
    color: str
    max_batch_size: int
    dynamic_batching: bool
    max_queue_delay_us: int | None
    preferred_batch_sizes: tuple[int, ...]
    instance_count: int
    instance_kind: str
    instance_group: str  # Model Analyzer's "2:CPU"
    runtime: str
    execution_providers: tuple[str, ...]
    params: Mapping[str, Any]
    points: tuple[Point, ...]
    best: Point | None
    feasible: bool  # its best point meets the constraints
    config_pbtxt: str
    config_pbtxt_source: str  # "output model repository", "rendered from the store" or "unavailable"
    # What starting it cost: the load, then the warm-up requests (None: not loaded / not warmed up).
    load_time_s: float | None = None
    warmup_s: float | None = None
    # The confirm step's rounds of a finalist, in order (empty for the others).
    rounds: tuple[Point, ...] = ()
    steps_text: str = ""  # an ensemble's: each composing model's knobs (report/pipeline.py)
    steps: tuple[StepKnobs, ...] = ()  # the same, as values

    @property
    def batching_text(self) -> str:
        if not self.dynamic_batching:
            return "off"
        text = f"on, queue delay {self.max_queue_delay_us or 0} µs"
        if self.preferred_batch_sizes:
            text += f", preferred {list(self.preferred_batch_sizes)}"
        return text

    @property
    def best_unstable(self) -> bool:
        return self.best is not None and self.best.unstable

    @property
    def constraint_status(self) -> str:
        if self.best is None:
            return "failed"
        return "passes" if self.feasible else "fails"

    def describe(self) -> str:
        """Model Analyzer's best-config bullet: instances, batch size, batching, runtime (an
        ensemble: each composing model's knobs)."""
        if self.steps_text:
            return f"{self.name}: {self.steps_text}"
        kind = self.instance_kind.removeprefix("KIND_")
        plural = "s" if self.instance_count != 1 else ""
        parts = [f"{self.instance_count} {kind} instance{plural}", f"max batch size {self.max_batch_size}"]
        parts.append(f"dynamic batching {self.batching_text}")
        runtime = self.runtime + (f" ({', '.join(self.execution_providers)})" if self.execution_providers else "")
        if self.params.get("cuda_graph"):  # the runner's, searched on a GPU
            runtime += " with CUDA graphs"
        parts.append(f"runtime {runtime}")
        return f"{self.name}: " + ", ".join(parts)


@dataclass(frozen=True)
class ParetoPoint:
    config: str
    load_label: str
    x: float  # ReportData.pareto_metrics[0]
    y: float  # ReportData.pareto_metrics[1]


@dataclass(frozen=True)
class ReportData:
    model_name: str
    run_id: int
    run_status: RunStatus
    partial: bool
    partial_message: str | None
    created_at: float
    hardware: HardwareSummary
    goals: Goals
    facts: SummaryFacts
    sentence: str
    gain_percent: float | None
    best_name: str | None
    default_name: str | None
    configs: tuple[ConfigSummary, ...]  # best first; configs with nothing usable last
    top: tuple[str, ...]  # names of the top-N configs, best first
    pareto: tuple[ParetoPoint, ...]  # the front, by increasing x
    pareto_metrics: tuple[str, str]
    memory_metric: str | None  # gpu_used_memory on GPU runs, cpu_used_ram on CPU runs
    measurement_count: int
    pipeline: Pipeline | None = None  # an ensemble's: the best configuration's steps and their shares
    concurrent: bool = False  # models profiled concurrently: the steps are models served side by side

    def config(self, name: str) -> ConfigSummary:
        for config in self.configs:
            if config.name == name:
                return config
        raise KeyError(name)

    @property
    def plotted(self) -> tuple[ConfigSummary, ...]:
        """The configs drawn in the summary plots: the top N, then the default if not among them."""
        chosen = [self.config(name) for name in self.top]
        default = next((c for c in self.configs if c.is_default and c.name not in self.top), None)
        if default is not None and default.best is not None:
            chosen.append(default)
        return tuple(chosen)

    @property
    def best(self) -> ConfigSummary | None:
        return self.config(self.best_name) if self.best_name else None

    def metric_present(self, metric: str) -> bool:
        return any(metric in p.metrics for c in self.configs for p in c.points)

    @property
    def busy_host_count(self) -> int:
        """Measurements during which other processes took enough CPU to warn."""
        return sum(p.busy_host for c in self.configs for p in c.points)

    @property
    def busy_host_note(self) -> str | None:
        """The summary's note on a busy host: how many measurements, the worst share, the fix."""
        count = self.busy_host_count
        if not count:
            return None
        worst = max((p.get(HOST_OTHER_CPU) or 0.0) for c in self.configs for p in c.points if p.busy_host)
        total = self.measurement_count
        return (
            f"Busy host: other processes took a large share of the CPU during {count} of "
            f"{total} measurement{'' if total == 1 else 's'} (up to {worst:.1f} cores), so those numbers may be low "
            "and unstable. Stop other work on this host, or pin with --server-cpus, and measure again."
        )
