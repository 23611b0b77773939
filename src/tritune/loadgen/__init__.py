"""The load generator and measurement engine (perf_analyzer's semantics, in-process).

Public API: ``Profiler`` / ``measure`` / ``make_measure_fn`` with ``LoadSpec`` and
``MeasureOptions``, returning ``PerfResult`` (``.to_measurement()``).
"""

from tritune.loadgen.engine import ClosedLoop, LoadEngine, OpenLoop, RequestResult
from tritune.loadgen.histogram import LatencyHistogram, LatencySummary, rank_index
from tritune.loadgen.profiler import LoadSpec, MeasureOptions, PerfResult, Profiler, make_measure_fn, measure
from tritune.loadgen.schedule import Distribution, Schedule
from tritune.loadgen.stabilize import StabilityCriteria, WindowMode, WindowSpec

__all__ = [
    "ClosedLoop",
    "Distribution",
    "LatencyHistogram",
    "LatencySummary",
    "LoadEngine",
    "LoadSpec",
    "MeasureOptions",
    "OpenLoop",
    "PerfResult",
    "Profiler",
    "RequestResult",
    "Schedule",
    "StabilityCriteria",
    "WindowMode",
    "WindowSpec",
    "make_measure_fn",
    "measure",
    "rank_index",
]
