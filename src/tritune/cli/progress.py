"""``tritune profile`` on the terminal: the run's messages, a progress bar while it measures, and
its conclusion (the report's table, or the sentence)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from tritune.cli.app import App
from tritune.domain.host_load import is_busy_host_warning
from tritune.domain.joint_space import split_joint_name
from tritune.domain.measurement import Measurement
from tritune.domain.metrics import LATENCY_P99, THROUGHPUT
from tritune.domain.status import MeasurementStatus
from tritune.profile.records import RunConclusion
from tritune.report.terminal import print_written
from tritune.report.write import WrittenReports


def describe_params(params: Mapping[str, Any]) -> str:
    steps: dict[str, dict[str, Any]] = {}  # an ensemble's: each composing model's knobs
    for key, value in params.items():
        if (split := split_joint_name(key)) is not None:
            steps.setdefault(split[0], {})[split[1]] = value
    if steps:
        own = describe_params({k: v for k, v in params.items() if split_joint_name(k) is None})
        return "; ".join([*(f"{step}: {describe_params(knobs)}" for step, knobs in steps.items()), own])
    parts = []
    for key, label in (
        ("instance_count", "instances"),
        ("max_batch_size", "max batch"),
        ("dynamic_batching", "queue delay us"),
        ("precision", ""),
        ("client_batch_size", "client batch"),
    ):
        if key in params:
            value = params[key]
            if key == "dynamic_batching" and value is None:
                parts.append("no dynamic batching")
            elif key == "precision":
                parts.append(str(value))
            else:
                parts.append(f"{label} {value}")
    return ", ".join(parts)


class RichProgress:
    """One bar counting measurements, its label saying what runs now."""

    def __init__(self, console: Console, expected_measurements: int | None = None) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[eta]}"),
            console=console,
            transient=False,
        )
        self._task = self._progress.add_task("starting", total=expected_measurements, eta="")
        self._started = time.monotonic()
        self._measured = 0
        self._current = ""

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()

    def variant_started(self, name: str, params: Mapping[str, Any]) -> None:
        self._current = f"{name} ({describe_params(params)})"
        self._progress.update(self._task, description=f"measuring {self._current}")

    def variant_ready(self, name: str, load_time_s: float, warmup: str | None) -> None:
        # Printed above the measurements it precedes: a first measurement's numbers read with it.
        ready = f"loaded in {load_time_s:.2f} s, " + (warmup or "no warm-up")
        self._progress.console.print(f"  {name}: {ready}", highlight=False, markup=False, style="dim")

    def measurement_done(self, name: str, measurement: Measurement, replayed: bool) -> None:
        if not replayed:
            self._measured += 1
        metrics = measurement.metrics
        status = measurement.status.value
        if measurement.status is MeasurementStatus.FAILED and measurement.error:
            status = f"failed: {measurement.error}"  # why, as stored (a stub that died, a lost server)
        elif THROUGHPUT in metrics:
            status = f"{metrics[THROUGHPUT]:.1f} infer/s, p99 {metrics.get(LATENCY_P99, float('nan')):.2f} ms"
        tag = " (stored)" if replayed else ""
        if measurement.status is MeasurementStatus.UNSTABLE:
            tag += " [yellow](unstable)[/yellow]"
        self._progress.console.print(f"  {name} @ {measurement.load.label()}: {status}{tag}", highlight=False)
        for warning in measurement.warnings:
            if is_busy_host_warning(warning):  # the one warning that explains the others' numbers too
                self._progress.console.print(f"    [yellow]busy host:[/yellow] {warning}", highlight=False)
        task = self._progress.tasks[0]
        eta = ""
        if task.total and self._measured:
            per = (time.monotonic() - self._started) / self._measured
            eta = f"ETA {max(task.total - task.completed - 1, 0) * per:.0f} s"
        self._progress.update(self._task, advance=1, eta=eta)

    def variant_done(self, name: str, failed: str | None) -> None:
        if failed:
            self._progress.console.print(f"  [red]{name} failed:[/red] {failed}", highlight=False)

    def confirm_round(self, number: int, planned: int, finalists: Sequence[str]) -> None:
        label = f"confirming {len(finalists)} finalists: round {number} of {planned}"
        self._current = label
        self._progress.console.print(f"  {label}", highlight=False, markup=False, style="bold")
        self._progress.update(self._task, description=label)


class TerminalNotifier:
    """The run's Notifier for the terminal: messages through the App, a RichProgress per search."""

    def __init__(self, app: App) -> None:
        self._app = app
        self._bar: RichProgress | None = None

    def info(self, message: str) -> None:
        self._app.info(message)

    def warn(self, message: str) -> None:
        self._app.warn(message)

    @contextlib.contextmanager
    def progress(self) -> Iterator[object]:
        with RichProgress(self._app.err) as bar:
            self._bar = bar
            try:
                yield bar
            finally:
                self._bar = None

    def variant_started(self, name: str, params: Mapping[str, Any]) -> None:
        if self._bar is not None:
            self._bar.variant_started(name, params)

    def variant_ready(self, name: str, load_time_s: float, warmup: str | None) -> None:
        if self._bar is not None:
            self._bar.variant_ready(name, load_time_s, warmup)

    def measurement_done(self, name: str, measurement: Measurement, replayed: bool) -> None:
        if self._bar is not None:
            self._bar.measurement_done(name, measurement, replayed)

    def variant_done(self, name: str, failed: str | None) -> None:
        if self._bar is not None:
            self._bar.variant_done(name, failed)

    def confirm_round(self, number: int, planned: int, finalists: Sequence[str]) -> None:
        if self._bar is not None:
            self._bar.confirm_round(number, planned, finalists)

    def concluded(self, conclusion: RunConclusion, reports: WrittenReports | None) -> None:
        if reports is not None:
            print_written(self._app.err, self._app.err, reports)  # the table and the sentence
        else:
            self._app.err.print(f"\n[bold]{conclusion.sentence}[/bold]", highlight=False)
        self.info(
            f"{conclusion.measured_now} measured now, {conclusion.replayed} taken from the store; "
            f"best config: {conclusion.best_config_path or 'none'}"
        )
        if conclusion.exported_to:
            self.info(f"exported the best config to {conclusion.exported_to}")
