"""The compact terminal summary shown at the end of ``tritune profile`` and ``tritune report``."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tritune.domain.measurement import LoadMode
from tritune.domain.metrics import LATENCY_P99, THROUGHPUT
from tritune.report.html import format_number
from tritune.report.records import Point, ReportData
from tritune.report.write import WrittenReports


def _short_load(point: Point | None) -> str:
    if point is None:
        return "—"
    prefix = "c" if point.load_mode is LoadMode.CONCURRENCY else "r"
    return f"{prefix}{point.load_value:g} b{point.batch_size}"


def summary_table(data: ReportData) -> Table:
    """The top configurations (and the default), one row each, best first; fits 80 columns."""
    table = Table(
        title=f"{data.model_name}: top {len(data.top)} configurations",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 1),
    )
    table.add_column("Configuration", no_wrap=True, overflow="ellipsis")
    table.add_column("MBS", justify="right", no_wrap=True)
    table.add_column("Queue", no_wrap=True)
    table.add_column("Inst.", justify="right", no_wrap=True)
    table.add_column("Load", no_wrap=True)
    table.add_column("infer/s", justify="right", no_wrap=True)
    table.add_column("p99 ms", justify="right", no_wrap=True)
    table.add_column("OK", no_wrap=True)
    marks = {"passes": "[green]yes[/]", "fails": "[red]no[/]"}
    for config in data.plotted:
        best = config.best
        name = Text("● ", style=config.color) + Text(config.name + (" *" if config.is_default else ""))
        knobs = (
            (
                str(config.max_batch_size),
                f"{config.max_queue_delay_us or 0}µs" if config.dynamic_batching else "off",
                config.instance_group,
            )
            if not config.steps
            else (  # an ensemble's: each step's, in order
                "/".join(str(s.max_batch_size) for s in config.steps),
                "/".join("off" if s.queue_delay_us is None else f"{s.queue_delay_us}µs" for s in config.steps),
                "/".join(f"{s.instances}:{s.kind}" for s in config.steps),
            )
        )
        table.add_row(
            name,
            *knobs,
            _short_load(best),
            ("~" if config.best_unstable else "") + format_number(best.get(THROUGHPUT) if best else None),
            format_number(best.get(LATENCY_P99) if best else None),
            marks.get(config.constraint_status, "failed"),
        )
    table.caption = (
        "best first; * default; MBS: max batch size; Queue: dynamic batching delay;\n"
        "Load: c=concurrency, b=batch; OK: meets the constraints"
    )
    steps = next((c.steps for c in data.plotted if c.steps), ())
    if steps:
        what = (
            "models served together: MBS, Queue and Inst. list each"
            if data.concurrent
            else "ensemble: MBS, Queue and Inst. list its steps"
        )
        table.caption += f"\n{what} in order ({'/'.join(s.model for s in steps)})"
    if any(c.best_unstable for c in data.plotted):
        table.caption += "\n~: unstable (the best point never stabilised)"
    table.caption_justify = "left"
    return table


def print_summary(console: Console, data: ReportData) -> None:
    if data.partial_message:
        console.print(f"[yellow]{data.partial_message}[/]", highlight=False)
    console.print(summary_table(data))
    if data.busy_host_note:
        console.print(f"[yellow]{data.busy_host_note}[/]", highlight=False)
    console.print(data.sentence, highlight=False, markup=False)


def print_written(out: Console, err: Console, written: WrittenReports) -> None:
    """Each model's summary on ``out``, then where the files went (and why no PDF) on ``err``."""
    for model in written.models:
        print_summary(out, model.data)
    for model in written.models:
        err.print(f"summary report: {model.summary_html}", highlight=False, markup=False)
        for path in model.detailed_html.values():
            err.print(f"detailed report: {path}", highlight=False, markup=False)
        for path in model.pdfs:
            err.print(f"PDF: {path}", highlight=False, markup=False)
    err.print(f"CSV: {', '.join(str(p) for p in written.csvs)}", highlight=False, markup=False)
    err.print(f"report data: {written.json_path}", highlight=False, markup=False)
    if written.pdf_note:
        err.print(f"[yellow]{written.pdf_note}[/]", highlight=False)
