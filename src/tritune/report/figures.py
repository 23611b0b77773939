"""Plots, optuna-style: ``tritune.report.plot_info`` builds a NamedTuple, a ``*_plot(info)`` draws it.

Tests assert on the info objects; the plot functions only translate them to plotly figures.
Every trace is SVG (``scatter``/``bar``, never ``scattergl``), so it prints to PDF crisply and a
browser test can count its paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from tritune.report.plot_info import BreakdownInfo, Guide, ParetoInfo, PlotInfo, Series, SeriesPlotInfo

_FONT = "Inter, -apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"


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


def _scatter(series: Series, hover: str, **style: Any) -> go.Scatter:
    """One series as an SVG scatter trace; ``style`` sets its mode, line and marker."""
    return go.Scatter(
        x=list(series.x), y=list(series.y), text=list(series.text), name=series.name, hovertemplate=hover, **style
    )


def series_plot(info: SeriesPlotInfo) -> go.Figure:
    fig = go.Figure()
    for s in info.series:
        line = {"color": s.color, "width": 2.5, "dash": "dash" if s.dashed else "solid"}
        marker = {"color": s.color, "size": 8 if info.lines else 12}
        hover = "%{text}<br>%{x:.4g}, %{y:.4g}<extra>%{fullData.name}</extra>"
        fig.add_trace(_scatter(s, hover, mode="lines+markers" if info.lines else "markers", line=line, marker=marker))
    _add_guides(fig, info.guides)
    return _layout(fig, info.title, info.x_label, info.y_label)


def pareto_plot(info: ParetoInfo) -> go.Figure:
    fig = go.Figure()
    x_unit, y_unit = info.units
    values = f"%{{x:.4g}} {x_unit}, %{{y:.4g}} {y_unit}"
    cloud_hover = f"%{{text}}<br>{values}<extra>%{{fullData.name}}</extra>"
    for s in info.clouds:
        marker = {"color": s.color, "size": 8, "opacity": 0.55}
        fig.add_trace(_scatter(s, cloud_hover, mode="markers", marker=marker))
    front = info.front
    line = {"color": front.color, "width": 2, "shape": "hv"}
    marker = {"color": front.color, "size": 11, "symbol": "diamond-open", "line": {"width": 2}}
    hover = f"%{{text}}<br>{values}<extra>front</extra>"
    fig.add_trace(_scatter(front, hover, mode="lines+markers", line=line, marker=marker))
    _add_guides(fig, info.guides)
    return _layout(fig, info.title, info.x_label, info.y_label)


def breakdown_plot(info: BreakdownInfo) -> go.Figure:
    fig = go.Figure()
    categories = list(info.categories)
    latency_unit, throughput_unit = info.units
    for label, color, values in info.stacks:
        fig.add_trace(
            go.Bar(
                x=categories,
                y=list(values),
                name=label,
                marker={"color": color},
                hovertemplate=f"%{{y:.4g}} {latency_unit}<extra>{label}</extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=categories,
            y=list(info.throughput),
            name=info.throughput_name,
            yaxis="y2",
            mode="lines+markers",
            line={"color": "#111827", "width": 2.5},
            marker={"size": 8},
            hovertemplate=f"%{{y:.4g}} {throughput_unit}<extra>{info.throughput_name.lower()}</extra>",
        )
    )
    _layout(fig, info.title, info.x_label, info.y_label)
    fig.update_layout(
        barmode="stack",
        yaxis2={
            "title": {"text": info.throughput_label},
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
