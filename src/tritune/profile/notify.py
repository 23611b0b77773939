"""What a run tells whoever waits for it: messages, progress, and the conclusion.

The run only calls these; how they look is the caller's business (the CLI draws them on the
terminal, see ``tritune.cli.progress``; tests and benchmarks pass a :class:`QuietNotifier`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from tritune.domain.measurement import Measurement
from tritune.domain.metrics import THROUGHPUT

if TYPE_CHECKING:
    from tritune.profile.records import RunConclusion
    from tritune.report.write import WrittenReports


class Notifier(Protocol):
    def info(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...

    def progress(self) -> contextlib.AbstractContextManager[object]:
        """Held while one model's search runs (the variant and measurement events come inside)."""
        ...

    def variant_started(self, name: str, params: Mapping[str, Any]) -> None: ...

    def variant_ready(self, name: str, load_time_s: float, warmup: str | None) -> None:
        """Loaded in ``load_time_s`` and warmed up (``warmup`` says how; None: not warmed up)."""
        ...

    def measurement_done(self, name: str, measurement: Measurement, replayed: bool) -> None: ...

    def variant_done(self, name: str, failed: str | None) -> None: ...

    def confirm_round(self, number: int, planned: int, finalists: Sequence[str]) -> None:
        """Round ``number`` of the confirm step starts (``planned`` rounds so far: overlapping
        finalists add rounds); its measurements follow as ``measurement_done``."""
        ...

    def concluded(self, conclusion: RunConclusion, reports: WrittenReports | None) -> None:
        """One model's run is over: its conclusion, and the reports when they were written."""
        ...


class QuietNotifier:
    """Says nothing."""

    def info(self, message: str) -> None:
        return None

    def warn(self, message: str) -> None:
        return None

    def progress(self) -> contextlib.AbstractContextManager[object]:
        return contextlib.nullcontext()

    def variant_started(self, name: str, params: Mapping[str, Any]) -> None:
        return None

    def variant_ready(self, name: str, load_time_s: float, warmup: str | None) -> None:
        return None

    def measurement_done(self, name: str, measurement: Measurement, replayed: bool) -> None:
        return None

    def variant_done(self, name: str, failed: str | None) -> None:
        return None

    def confirm_round(self, number: int, planned: int, finalists: Sequence[str]) -> None:
        return None

    def concluded(self, conclusion: RunConclusion, reports: WrittenReports | None) -> None:
        return None


class LineNotifier(QuietNotifier):
    """One plain line per loaded variant and per measurement, with the seconds each took, for a
    benchmark's log: where a search's time goes (loads, warm-ups, windows), visible even when the
    run is cut off. ``prefix`` tells apart searches logged together."""

    def __init__(self, prefix: str = "") -> None:
        self._prefix = prefix
        self._last = time.monotonic()

    def _line(self, text: str) -> None:
        print(f"    {self._prefix}{text}", flush=True)

    def variant_ready(self, name: str, load_time_s: float, warmup: str | None) -> None:
        self._line(f"{name}: loaded in {load_time_s:.1f} s; {warmup or 'no warm-up'}")
        self._last = time.monotonic()

    def measurement_done(self, name: str, measurement: Measurement, replayed: bool) -> None:
        took = time.monotonic() - self._last
        self._last = time.monotonic()
        rate = measurement.metrics.get(THROUGHPUT, 0.0)
        how = "stored" if replayed else f"{took:.1f} s"
        why = f": {measurement.error}" if measurement.error else ""  # an unstable one says why (few batches, ...)
        status = measurement.status.value
        self._line(f"{name} at {measurement.load.label()}: {rate:,.0f} infer/s, {status} ({how}){why}")

    def confirm_round(self, number: int, planned: int, finalists: Sequence[str]) -> None:
        self._line(f"confirm round {number} of {planned}: {', '.join(finalists)}")
