"""HTML rendering: jinja2 templates, plotly figures, plotly.js inlined once per file (no CDN).

Each report is one self-contained file that opens offline: styles and scripts are inline and
the plotly.js bundle comes from the installed ``plotly`` package.
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import plotly.io as pio
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from tritune import __version__
from tritune.domain.metrics import (
    GPU_UTILIZATION,
    HOST_OTHER_CPU,
    LATENCY_P99,
    MEASUREMENT_COLUMNS,
    THROUGHPUT,
    axis_label,
    header,
    unit,
)
from tritune.report import figures, plot_info
from tritune.report.records import ConfigSummary, ReportData

_TEMPLATES = Path(__file__).parent / "templates"
_PLOT_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


@dataclass(frozen=True)
class RenderedPlot:
    key: str
    title: str
    html: str  # empty when there is nothing to draw
    empty_message: str = "No measurement to plot yet."


@functools.cache
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


@functools.cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(_TEMPLATES)),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = format_number
    return env


def format_number(value: float | None) -> str:
    """Three significant digits below 100, one decimal up to 1000, thousands separators above."""
    if value is None:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.3g}"


def gain_text(data: ReportData) -> str:
    gain = data.gain_percent
    if gain is None or data.facts.best_is_default or round(gain) <= 0:
        return ""
    return f"+{round(gain)}%"


def _render_plot(info: plot_info.PlotInfo) -> RenderedPlot:
    if info.empty:
        return RenderedPlot(info.key, info.title, "")
    fig = figures.plot(info)
    html = pio.to_html(
        fig,
        include_plotlyjs=False,
        full_html=False,
        div_id=info.key,
        config=_PLOT_CONFIG,
        default_height="420px",
    )
    return RenderedPlot(info.key, info.title, html)


def _common(data: ReportData) -> dict[str, object]:
    return {
        "data": data,
        "version": __version__,
        "generated": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "plotly_js": _plotly_js(),
    }


def _best_metric(config: ConfigSummary, metric: str | None) -> float | None:
    if metric is None or config.best is None:
        return None
    return config.best.get(metric)


def _config_table_columns(data: ReportData) -> list[tuple[str, str | None]]:
    """The metric columns of the config tables, (header, metric); memory follows the hardware.

    A run that measured no memory keeps an empty memory column, so the tables line up run to run.
    """
    metrics = (LATENCY_P99, THROUGHPUT, data.memory_metric, GPU_UTILIZATION)
    columns = [(axis_label(m) if m is not None else "Memory (MB)", m) for m in metrics]
    if data.metric_present(HOST_OTHER_CPU):  # a busy host named beside the numbers it moved
        columns.append((axis_label(HOST_OTHER_CPU), HOST_OTHER_CPU))
    return columns


def render_summary(data: ReportData, detailed_links: Mapping[str, str] | None = None) -> str:
    """The summary report of one model. ``detailed_links``: config name -> relative URL."""
    top = [data.config(name) for name in data.top]
    return (
        _environment()
        .get_template("summary.html.j2")
        .render(
            **_common(data),
            plots=[_render_plot(info) for info in plot_info.summary_infos(data)],
            gain_text=gain_text(data),
            top_configs=top,
            failed_count=sum(1 for c in data.configs if c.rank is None),
            started=_dt.datetime.fromtimestamp(data.created_at).astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            metric_columns=_config_table_columns(data),
            metric=_best_metric,
            detailed_links=dict(detailed_links or {}),
        )
    )


def render_detailed(data: ReportData, config: ConfigSummary, summary_link: str | None = None) -> str:
    """The detailed report of one configuration."""
    columns = [m for m in MEASUREMENT_COLUMNS if any(m in p.metrics for p in config.points)]
    return (
        _environment()
        .get_template("detailed.html.j2")
        .render(
            **_common(data),
            config=config,
            plots=[_render_plot(info) for info in plot_info.detailed_infos(config)],
            columns=columns,
            header=header,
            unit=unit,
            summary_link=summary_link,
        )
    )
