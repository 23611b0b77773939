"""Plots, optuna-style: a pure ``*_info(data)`` builds a NamedTuple, then a ``*_plot(info)`` draws it.

Tests assert on the info objects; the plot functions only translate them to plotly figures.
Every trace is SVG (``scatter``/``bar``, never ``scattergl``), so it prints to PDF crisply and a
browser test can count its paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import plotly.graph_objects as go

from tritune.domain.metrics import LATENCY_BREAKDOWN, RESOURCE_METRICS, axis_label
from tritune.report.records import ConfigSummary, Point, ReportData

_BREAKDOWN_COLORS = {
    "perf_server_queue": "#f59e0b",
    "perf_server_compute_input": "#10b981",
    "perf_server_compute_infer": "#3b82f6",
    "perf_server_compute_output": "#8b5cf6",
    "perf_client_send_recv": "#9ca3af",
}
_FONT = "Inter, -apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"


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
    guides: tuple[Guide, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.front.x


class BreakdownInfo(NamedTuple):
    key: str
    title: str
    x_label: str
    categories: tuple[str, ...]  # one per load level
    stacks: tuple[tuple[str, str, tuple[float, ...]], ...]  # (label, color, ms per category)
    throughput: tuple[float | None, ...]

    @property
    def empty(self) -> bool:
        return not self.categories


PlotInfo = SeriesPlotInfo | ParetoInfo | BreakdownInfo


# -- infos: summary ----------------------------------------------------------------------------
def _series_of(config: ConfigSummary, x_metric: str, y_metric: str, *, sort_by_x: bool = True) -> Series:
    points = [p for p in config.points if p.usable and x_metric in _values(p) and y_metric in _values(p)]
    if sort_by_x:
        points.sort(key=lambda p: _values(p)[x_metric])
    return Series(
        name=config.name + (" (default)" if config.is_default else ""),
        color=config.color,
        x=tuple(_values(p)[x_metric] for p in points),
        y=tuple(_values(p)[y_metric] for p in points),
        text=tuple(p.load_label for p in points),
        dashed=config.is_default,
    )


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


def throughput_latency_info(data: ReportData) -> SeriesPlotInfo:
    x, y = "perf_latency_p99", "perf_throughput"
    return SeriesPlotInfo(
        key="throughput-vs-latency",
        title="Throughput vs. p99 latency",
        x_label=axis_label(x),
        y_label=axis_label(y),
        series=tuple(_series_of(c, x, y) for c in data.plotted),
        guides=_guides(data, x, y),
    )


def memory_latency_info(data: ReportData) -> SeriesPlotInfo | None:
    if data.memory_metric is None:
        return None
    x, y = "perf_latency_p99", data.memory_metric
    kind = "GPU memory" if y == "gpu_used_memory" else "RAM"
    return SeriesPlotInfo(
        key="memory-vs-latency",
        title=f"{kind} vs. p99 latency",
        x_label=axis_label(x),
        y_label=axis_label(y),
        series=tuple(_series_of(c, x, y) for c in data.plotted),
        guides=_guides(data, x, y),
    )


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
                if p.usable and "perf_throughput" in p.metrics:
                    held = best_by_batch.get(p.batch_size)
                    if held is None or p.metrics["perf_throughput"] > held.metrics["perf_throughput"]:
                        best_by_batch[p.batch_size] = p
            ordered = [best_by_batch[b] for b in sorted(best_by_batch)]
            swept_series.append(
                Series(
                    name=config.name + (" (default)" if config.is_default else ""),
                    color=config.color,
                    x=tuple(float(p.batch_size) for p in ordered),
                    y=tuple(p.metrics["perf_throughput"] for p in ordered),
                    text=tuple(p.load_label for p in ordered),
                    dashed=config.is_default,
                )
            )
        return SeriesPlotInfo(
            "throughput-vs-batch",
            "Throughput vs. batch size",
            "Batch size",
            axis_label("perf_throughput"),
            tuple(swept_series),
        )
    series = tuple(
        Series(
            name=c.name + (" (default)" if c.is_default else ""),
            color=c.color,
            x=(float(c.max_batch_size),),
            y=(c.best.metrics["perf_throughput"],),
            text=(c.best.load_label,),
            dashed=c.is_default,
        )
        for c in configs
        if c.best is not None and "perf_throughput" in c.best.metrics
    )
    return SeriesPlotInfo(
        "throughput-vs-batch",
        "Throughput vs. max batch size",
        "Max batch size",
        axis_label("perf_throughput"),
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
        guides=_guides(data, x, y),
    )


def summary_infos(data: ReportData) -> list[PlotInfo]:
    """The summary report's plots, in page order."""
    infos: list[PlotInfo] = [throughput_latency_info(data)]
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
    if modes == {"concurrency"}:
        x_label = "Concurrency"
    elif modes == {"request_rate"}:
        x_label = "Request rate (req/s)"
    present = [m for m in LATENCY_BREAKDOWN if any(m in p.metrics for p in points)]
    return BreakdownInfo(
        key=f"breakdown-{config.name}",
        title="Latency breakdown (average per request) and throughput",
        x_label=x_label,
        categories=tuple(_category(p, points) for p in points),
        stacks=tuple(
            (axis_label(m), _BREAKDOWN_COLORS[m], tuple(p.metrics.get(m, 0.0) for p in points)) for m in present
        ),
        throughput=tuple(p.metrics.get("perf_throughput") for p in points),
    )


def resource_infos(config: ConfigSummary) -> list[SeriesPlotInfo]:
    """Memory, utilization and power against p99 latency, for each of them that was measured."""
    infos = []
    for metric in RESOURCE_METRICS:
        series = _series_of(config, "perf_latency_p99", metric)
        if series.x:
            infos.append(
                SeriesPlotInfo(
                    key=f"{metric.replace('_', '-')}-{config.name}",
                    title=f"{axis_label(metric)} vs. p99 latency",
                    x_label=axis_label("perf_latency_p99"),
                    y_label=axis_label(metric),
                    series=(series,),
                )
            )
    return infos


def detailed_infos(config: ConfigSummary) -> list[PlotInfo]:
    return [breakdown_info(config), *resource_infos(config)]


# -- plots -------------------------------------------------------------------------------------
def _layout(fig: go.Figure, title: str, x_label: str, y_label: str) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 15}},
        template="plotly_white",
        font={"family": _FONT, "size": 12, "color": "#1f2937"},
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        legend={"orientation": "h", "y": -0.2, "x": 0},
        hovermode="closest",
        height=420,
    )
    fig.update_xaxes(title_text=x_label, zeroline=False, showline=True, linecolor="#d1d5db")
    fig.update_yaxes(title_text=y_label, zeroline=False, showline=True, linecolor="#d1d5db", rangemode="tozero")
    return fig


def _add_guides(fig: go.Figure, guides: Sequence[Guide]) -> None:
    for guide in guides:
        line = {"dash": "dash", "color": "#ef4444", "width": 1.5}
        if guide.axis == "x":
            fig.add_vline(x=guide.value, line=line, annotation_text=guide.label)
        else:
            fig.add_hline(y=guide.value, line=line, annotation_text=guide.label)


def series_plot(info: SeriesPlotInfo) -> go.Figure:
    fig = go.Figure()
    for s in info.series:
        fig.add_trace(
            go.Scatter(
                x=list(s.x),
                y=list(s.y),
                text=list(s.text),
                name=s.name,
                mode="lines+markers" if info.lines else "markers",
                line={"color": s.color, "width": 2.5, "dash": "dash" if s.dashed else "solid"},
                marker={"color": s.color, "size": 8 if info.lines else 12},
                hovertemplate="%{text}<br>%{x:.4g}, %{y:.4g}<extra>%{fullData.name}</extra>",
            )
        )
    _add_guides(fig, info.guides)
    return _layout(fig, info.title, info.x_label, info.y_label)


def pareto_plot(info: ParetoInfo) -> go.Figure:
    fig = go.Figure()
    for s in info.clouds:
        fig.add_trace(
            go.Scatter(
                x=list(s.x),
                y=list(s.y),
                text=list(s.text),
                name=s.name,
                mode="markers",
                marker={"color": s.color, "size": 8, "opacity": 0.55},
                hovertemplate="%{text}<br>%{x:.4g} ms, %{y:.4g}/s<extra>%{fullData.name}</extra>",
            )
        )
    front = info.front
    fig.add_trace(
        go.Scatter(
            x=list(front.x),
            y=list(front.y),
            text=list(front.text),
            name=front.name,
            mode="lines+markers",
            line={"color": front.color, "width": 2, "shape": "hv"},
            marker={"color": front.color, "size": 11, "symbol": "diamond-open", "line": {"width": 2}},
            hovertemplate="%{text}<br>%{x:.4g} ms, %{y:.4g}/s<extra>front</extra>",
        )
    )
    _add_guides(fig, info.guides)
    return _layout(fig, info.title, info.x_label, info.y_label)


def breakdown_plot(info: BreakdownInfo) -> go.Figure:
    fig = go.Figure()
    categories = list(info.categories)
    for label, color, values in info.stacks:
        fig.add_trace(
            go.Bar(
                x=categories,
                y=list(values),
                name=label,
                marker={"color": color},
                hovertemplate="%{y:.4g} ms<extra>" + label + "</extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=categories,
            y=list(info.throughput),
            name="Throughput",
            yaxis="y2",
            mode="lines+markers",
            line={"color": "#111827", "width": 2.5},
            marker={"size": 8},
            hovertemplate="%{y:.4g} infer/sec<extra>throughput</extra>",
        )
    )
    _layout(fig, info.title, info.x_label, "Latency (ms)")
    fig.update_layout(
        barmode="stack",
        yaxis2={
            "title": {"text": axis_label("perf_throughput")},
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
            "tickmode": "auto",
            "tickformat": ",.0f",
        },
        legend={"orientation": "h", "y": -0.2, "x": 0, "traceorder": "normal"},
        margin={"r": 70},
    )
    fig.update_xaxes(type="category")
    return fig


def plot(info: PlotInfo) -> go.Figure:
    if isinstance(info, SeriesPlotInfo):
        return series_plot(info)
    if isinstance(info, ParetoInfo):
        return pareto_plot(info)
    return breakdown_plot(info)
