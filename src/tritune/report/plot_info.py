"""What each plot shows, optuna-style: a pure ``*_info(data)`` builds a NamedTuple.

Tests assert on these infos; ``tritune.report.figures`` only translates them to plotly figures.
Labels, units and titles come from the metric table (``tritune.domain.metrics``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from tritune.analysis import metric_noun
from tritune.domain.measurement import LoadMode
from tritune.domain.metrics import (
    CLIENT_SEND_RECV,
    LATENCY_BREAKDOWN,
    LATENCY_P99,
    RESOURCE_METRICS,
    SERVER_COMPUTE_INFER,
    SERVER_COMPUTE_INPUT,
    SERVER_COMPUTE_OUTPUT,
    SERVER_QUEUE,
    THROUGHPUT,
    axis_label,
    unit,
)
from tritune.report.records import ConfigSummary, Point, ReportData

_BREAKDOWN_COLORS = {
    SERVER_QUEUE: "#f59e0b",
    SERVER_COMPUTE_INPUT: "#10b981",
    SERVER_COMPUTE_INFER: "#3b82f6",
    SERVER_COMPUTE_OUTPUT: "#8b5cf6",
    CLIENT_SEND_RECV: "#9ca3af",
}


class Series(NamedTuple):
    name: str
    color: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    text: tuple[str, ...]  # hover label per point
    dashed: bool = False


class Guide(NamedTuple):
    """A constraint drawn as a dashed line: ``axis`` "x" is a vertical line at ``value``."""

    axis: str
    value: float
    label: str


class SeriesPlotInfo(NamedTuple):
    key: str  # also the plot's HTML id
    title: str
    x_label: str
    y_label: str
    series: tuple[Series, ...]
    guides: tuple[Guide, ...] = ()
    lines: bool = True  # False: markers only

    @property
    def empty(self) -> bool:
        return not any(s.x for s in self.series)


class ParetoInfo(NamedTuple):
    key: str
    title: str
    x_label: str
    y_label: str
    clouds: tuple[Series, ...]  # every usable point, per config
    front: Series
    units: tuple[str, str]  # (x, y), for the hover text
    guides: tuple[Guide, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.front.x


class BreakdownInfo(NamedTuple):
    key: str
    title: str
    x_label: str
    categories: tuple[str, ...]  # one per load level
    y_label: str
    stacks: tuple[tuple[str, str, tuple[float, ...]], ...]  # (label, color, value per category)
    throughput: tuple[float | None, ...]  # on a second y axis
    throughput_name: str
    throughput_label: str
    units: tuple[str, str]  # (the stacks', the throughput's), for the hover text

    @property
    def empty(self) -> bool:
        return not self.categories


PlotInfo = SeriesPlotInfo | ParetoInfo | BreakdownInfo


# -- infos: summary ----------------------------------------------------------------------------
def _series(config: ConfigSummary, x: Sequence[float], y: Sequence[float], text: Sequence[str]) -> Series:
    """A config's series, drawn alike in every plot: its color, and the default dashed and named so."""
    name = config.name + (" (default)" if config.is_default else "")
    return Series(name, config.color, tuple(x), tuple(y), tuple(text), dashed=config.is_default)


def _series_of(config: ConfigSummary, x_metric: str, y_metric: str) -> Series:
    """Every usable point of ``config`` that has both metrics, by increasing x."""
    points = [p for p in config.points if p.usable and x_metric in _values(p) and y_metric in _values(p)]
    points.sort(key=lambda p: _values(p)[x_metric])
    x = [_values(p)[x_metric] for p in points]
    return _series(config, x, [_values(p)[y_metric] for p in points], [p.load_label for p in points])


def _values(point: Point) -> dict[str, float]:
    """A point's metrics plus its load as pseudo-metrics, so the load can be an axis."""
    return {**point.metrics, "batch_size": float(point.batch_size), "load_value": point.load_value}


def _guides(data: ReportData, x_metric: str, y_metric: str) -> tuple[Guide, ...]:
    guides = []
    for bound in data.goals.constraints:
        for axis, metric in (("x", x_metric), ("y", y_metric)):
            if bound.metric != metric:
                continue
            if bound.max is not None:
                guides.append(Guide(axis, bound.max, f"max {bound.max:g}"))
            if bound.min is not None:
                guides.append(Guide(axis, bound.min, f"min {bound.min:g}"))
    return tuple(guides)


def _title(y_metric: str, x_metric: str) -> str:
    return f"{metric_noun(y_metric)} vs. {metric_noun(x_metric)}"


def _plotted_info(data: ReportData, key: str, x: str, y: str) -> SeriesPlotInfo:
    """``y`` against ``x`` for the plotted configs, with the constraints on either as guides."""
    series = tuple(_series_of(c, x, y) for c in data.plotted)
    return SeriesPlotInfo(key, _title(y, x), axis_label(x), axis_label(y), series, _guides(data, x, y))


def throughput_latency_info(data: ReportData) -> SeriesPlotInfo:
    return _plotted_info(data, "throughput-vs-latency", LATENCY_P99, THROUGHPUT)


def memory_latency_info(data: ReportData) -> SeriesPlotInfo | None:
    if data.memory_metric is None:
        return None
    return _plotted_info(data, "memory-vs-latency", LATENCY_P99, data.memory_metric)


def confirm_rounds_info(data: ReportData) -> SeriesPlotInfo | None:
    """The confirm step's evidence: each finalist's main objective metric round by round (the
    rounds interleave the finalists, so a drift of the host moves every line alike)."""
    finalists = [c for c in data.configs if c.rounds]
    if not finalists:
        return None
    weights = data.goals.objectives or {THROUGHPUT: 1.0}
    metric = max(weights, key=lambda name: weights[name])
    series = []
    for config in finalists:
        shown = [(i, p) for i, p in enumerate(config.rounds, start=1) if metric in p.metrics]
        text = [f"round {i}: {p.status.value}" for i, p in shown]
        values = [p.metrics[metric] for _, p in shown]
        series.append(_series(config, [float(i) for i, _ in shown], values, text))
    title = f"{metric_noun(metric).capitalize()} of the finalists, confirm round by round"
    return SeriesPlotInfo("confirm-rounds", title, "Confirm round", axis_label(metric), tuple(series))


def throughput_batch_info(data: ReportData) -> SeriesPlotInfo:
    """Offline mode: throughput against the client batch size, the best load at each size.

    When no config was measured at more than one batch size, the configs' max batch sizes are
    the only batch axis there is: one point per config at its best load.
    """
    configs = data.plotted
    swept = any(len({p.batch_size for p in c.points if p.usable}) > 1 for c in configs)
    if swept:
        swept_series: list[Series] = []
        for config in configs:
            best_by_batch: dict[int, Point] = {}
            for p in config.points:
                if p.usable and THROUGHPUT in p.metrics:
                    held = best_by_batch.get(p.batch_size)
                    if held is None or p.metrics[THROUGHPUT] > held.metrics[THROUGHPUT]:
                        best_by_batch[p.batch_size] = p
            ordered = [best_by_batch[b] for b in sorted(best_by_batch)]
            x = [float(p.batch_size) for p in ordered]
            y = [p.metrics[THROUGHPUT] for p in ordered]
            swept_series.append(_series(config, x, y, [p.load_label for p in ordered]))
        return SeriesPlotInfo(
            "throughput-vs-batch",
            f"{metric_noun(THROUGHPUT)} vs. batch size",
            "Batch size",
            axis_label(THROUGHPUT),
            tuple(swept_series),
        )
    series = tuple(
        _series(c, [float(c.max_batch_size)], [c.best.metrics[THROUGHPUT]], [c.best.load_label])
        for c in configs
        if c.best is not None and THROUGHPUT in c.best.metrics
    )
    return SeriesPlotInfo(
        "throughput-vs-batch",
        f"{metric_noun(THROUGHPUT)} vs. max batch size",
        "Max batch size",
        axis_label(THROUGHPUT),
        series,
        lines=False,
    )


def pareto_info(data: ReportData) -> ParetoInfo:
    x, y = data.pareto_metrics
    clouds = tuple(_series_of(c, x, y) for c in data.configs if c.rank is not None)
    front = Series(
        name="Pareto front",
        color="#111827",
        x=tuple(p.x for p in data.pareto),
        y=tuple(p.y for p in data.pareto),
        text=tuple(f"{p.config}, {p.load_label}" for p in data.pareto),
    )
    return ParetoInfo(
        key="pareto-front",
        title="Pareto front (every measurement)",
        x_label=axis_label(x),
        y_label=axis_label(y),
        clouds=clouds,
        front=front,
        units=(unit(x), unit(y)),
        guides=_guides(data, x, y),
    )


def summary_infos(data: ReportData) -> list[PlotInfo]:
    """The summary report's plots, in page order: the confirm rounds (the pick's evidence) first."""
    rounds = confirm_rounds_info(data)
    infos: list[PlotInfo] = [rounds] if rounds is not None else []
    infos.append(throughput_latency_info(data))
    memory = memory_latency_info(data)
    if memory is not None:
        infos.append(memory)
    if data.goals.mode == "offline":
        infos.append(throughput_batch_info(data))
    infos.append(pareto_info(data))
    return infos


# -- infos: detailed ---------------------------------------------------------------------------
def _category(point: Point, points: Sequence[Point]) -> str:
    """A short load label: just the concurrency (or rate) unless batch sizes differ too."""
    one_batch = len({p.batch_size for p in points}) == 1
    one_mode = len({p.load_mode for p in points}) == 1
    value = f"{point.load_value:g}" if one_mode else point.load_label.split(",")[0]
    return value if one_batch else f"{value} × b{point.batch_size}"


def breakdown_info(config: ConfigSummary) -> BreakdownInfo:
    points = [p for p in config.points if p.usable]
    modes = {p.load_mode for p in points}
    x_label = "Load"
    if modes == {LoadMode.CONCURRENCY}:
        x_label = "Concurrency"
    elif modes == {LoadMode.REQUEST_RATE}:
        x_label = "Request rate (req/s)"
    present = [m for m in LATENCY_BREAKDOWN if any(m in p.metrics for p in points)]
    throughput, latency_unit = THROUGHPUT, unit(LATENCY_BREAKDOWN[0])  # the stack shares one unit
    return BreakdownInfo(
        key=f"breakdown-{config.name}",
        title="Latency breakdown (average per request) and throughput",
        x_label=x_label,
        y_label=f"Latency ({latency_unit})",
        categories=tuple(_category(p, points) for p in points),
        stacks=tuple(
            (axis_label(m), _BREAKDOWN_COLORS[m], tuple(p.metrics.get(m, 0.0) for p in points)) for m in present
        ),
        throughput=tuple(p.metrics.get(throughput) for p in points),
        throughput_name=metric_noun(throughput),
        throughput_label=axis_label(throughput),
        units=(latency_unit, unit(throughput)),
    )


def resource_infos(config: ConfigSummary) -> list[SeriesPlotInfo]:
    """Memory, utilization and power against p99 latency, for each of them that was measured."""
    infos = []
    for metric in RESOURCE_METRICS:
        series = _series_of(config, LATENCY_P99, metric)
        if series.x:
            infos.append(
                SeriesPlotInfo(
                    key=f"{metric.replace('_', '-')}-{config.name}",
                    title=_title(metric, LATENCY_P99),
                    x_label=axis_label(LATENCY_P99),
                    y_label=axis_label(metric),
                    series=(series,),
                )
            )
    return infos


def detailed_infos(config: ConfigSummary) -> list[PlotInfo]:
    return [breakdown_info(config), *resource_infos(config)]
