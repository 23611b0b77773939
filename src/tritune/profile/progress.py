"""Progress on the terminal while a profile runs: what is being measured, how much is done."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from tritune.domain.measurement import Measurement


def describe_params(params: Mapping[str, Any]) -> str:
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
    """A ProgressSink: one bar counting measurements, its label saying what runs now."""

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

    def measurement_done(self, name: str, measurement: Measurement, replayed: bool) -> None:
        if not replayed:
            self._measured += 1
        metrics = measurement.metrics
        status = measurement.status.value
        if "perf_throughput" in metrics:
            status = (
                f"{metrics['perf_throughput']:.1f} infer/s, p99 {metrics.get('perf_latency_p99', float('nan')):.2f} ms"
            )
        tag = " (stored)" if replayed else ""
        if measurement.status.value == "unstable":
            tag += " [yellow](unstable)[/yellow]"
        self._progress.console.print(f"  {name} @ {measurement.load.label()}: {status}{tag}", highlight=False)
        task = self._progress.tasks[0]
        eta = ""
        if task.total and self._measured:
            per = (time.monotonic() - self._started) / self._measured
            eta = f"ETA {max(task.total - task.completed - 1, 0) * per:.0f} s"
        self._progress.update(self._task, advance=1, eta=eta)

    def variant_done(self, name: str, failed: str | None) -> None:
        if failed:
            self._progress.console.print(f"  [red]{name} failed:[/red] {failed}", highlight=False)
