"""The load generator and measurement engine (perf_analyzer's semantics, in-process).

Public API: ``LoadDriver`` / ``measure`` / ``make_measure_fn`` with ``LoadSpec`` and
``MeasureOptions``, returning ``PerfResult`` (``.to_measurement()``); ``judge`` is the verdict
rule set on a measurement's outputs; ``warm_up`` / ``make_warmup_fn`` send a loaded model each
batch size it can form before its first measurement; ``ConcurrentDriver`` /
``make_concurrent_measure_fn`` drive several models together (models profiled concurrently).
"""

from tritune.domain.warmup_plan import WarmupPlan
from tritune.loadgen.concurrent import (
    ConcurrentDriver,
    ConcurrentResult,
    make_concurrent_measure_fn,
    make_concurrent_warmup_fn,
)
from tritune.loadgen.driver import LoadDriver, make_measure_fn, measure
from tritune.loadgen.engine import ClosedLoop, LoadEngine, OpenLoop, RequestResult
from tritune.loadgen.histogram import LatencyHistogram, LatencySummary, rank_index
from tritune.loadgen.result import MeasurementVerdict, PerfResult, WindowBrief, judge
from tritune.loadgen.schedule import Distribution, Schedule
from tritune.loadgen.spec import LoadSpec, MeasureOptions
from tritune.loadgen.stabilize import StabilityCriteria, WindowMode, WindowSpec
from tritune.loadgen.warmup import Warmup, WarmupFn, make_warmup_fn, warm_up
from tritune.loadgen.workers import WorkerPool

__all__ = [
    "ClosedLoop",
    "ConcurrentDriver",
    "ConcurrentResult",
    "Distribution",
    "LatencyHistogram",
    "LatencySummary",
    "LoadDriver",
    "LoadEngine",
    "LoadSpec",
    "MeasureOptions",
    "MeasurementVerdict",
    "OpenLoop",
    "PerfResult",
    "RequestResult",
    "Schedule",
    "StabilityCriteria",
    "Warmup",
    "WarmupFn",
    "WarmupPlan",
    "WindowBrief",
    "WindowMode",
    "WindowSpec",
    "WorkerPool",
    "judge",
    "make_concurrent_measure_fn",
    "make_concurrent_warmup_fn",
    "make_measure_fn",
    "make_warmup_fn",
    "measure",
    "rank_index",
    "warm_up",
]
