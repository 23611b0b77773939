"""Stabilization with perf_analyzer's semantics (pure).

Windows are built from short engine ticks: a time window is a fixed number of ticks, a count
window closes at the first tick edge where enough requests have completed and it has lasted its
shortest length (perf_analyzer polls every second; ticks are finer); a count window sized to the
load takes its request count from the load itself. A measurement is stable when, over the last 3 windows,
every throughput is > 0 and both throughput and latency satisfy max/min <= 1 + threshold.
The result merges those windows; after ``max_windows`` it is returned marked unstable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from tritune.domain.status import Stability
from tritune.loadgen.stats import WindowStats


class WindowMode(StrEnum):
    TIME = "time_windows"
    COUNT = "count_windows"


@dataclass(frozen=True)
class WindowSpec:
    mode: WindowMode = WindowMode.TIME
    window_ns: int = 5_000_000_000  # perf_analyzer's -p default, 5000 ms
    # Count windows: requests that close a window (0: sized to the load, sized_request_count()).
    request_count: int = 50
    min_window_ns: int = 0  # count windows: none closes sooner
    count_timeout_ns: int = 30_000_000_000  # a count window that waits this long closes anyway
    warmup_ns: int = 0  # ticks before this much time are thrown away


# A count window sized to the load holds this many completions per request in flight: each slot
# cycles that often, so the server forms at least that many batches however it groups them.
REQUESTS_PER_SLOT = 8
MIN_SIZED_REQUESTS = 20
# An open loop's sized window holds about this long of its requests at the target rate.
OPEN_LOOP_WINDOW_S = 0.25


def sized_request_count(load_value: float, open_loop: bool) -> int:
    """The requests that close a count window sized to the load: enough completions per request
    in flight (closed loop) or per target rate (open loop) for a stable window, so a fast model is
    measured in a fraction of a second and a slow one gets whole windows, not cut ones."""
    wanted = load_value * OPEN_LOOP_WINDOW_S if open_loop else load_value * REQUESTS_PER_SLOT
    return max(MIN_SIZED_REQUESTS, math.ceil(wanted))


@dataclass(frozen=True)
class StabilityCriteria:
    threshold: float = 0.10  # perf_analyzer's -s 10 %
    windows: int = 3  # hard-coded in perf_analyzer
    max_windows: int = 10  # -r / --max-trials
    percentile: int | None = None  # latency compared: average, or pXX
    # perf_analyzer's async (and rate) mode accepts a stable throughput alone, with a warning.
    latency_optional: bool = False


@dataclass(frozen=True)
class Verdict:
    stable: bool
    throughput_stable: bool
    latency_stable: bool
    reason: str = ""


def window_latency_ns(window: WindowStats, percentile: int | None) -> float:
    if percentile is None:
        return window.latency.mean_ns()
    return float(window.latency.percentile_ns(percentile))


def _within(values: Sequence[float], threshold: float) -> bool:
    low, high = min(values), max(values)
    return low > 0 and high / low <= 1.0 + threshold


def check_stability(windows: Sequence[WindowStats], batch_size: int, criteria: StabilityCriteria) -> Verdict:
    """Judge the last ``criteria.windows`` windows."""
    if len(windows) < criteria.windows:
        return Verdict(False, False, False, f"only {len(windows)} of {criteria.windows} windows")
    recent = windows[-criteria.windows :]
    throughputs = [w.throughput(batch_size) for w in recent]
    latencies = [window_latency_ns(w, criteria.percentile) for w in recent]
    throughput_ok = _within(throughputs, criteria.threshold)
    latency_ok = _within(latencies, criteria.threshold)
    stable = throughput_ok and (latency_ok or criteria.latency_optional)
    if stable:
        reason = "" if latency_ok else "request latency is not stabilizing (throughput is)"
    else:
        parts = []
        if not throughput_ok:
            parts.append("throughput " + ", ".join(f"{t:.1f}" for t in throughputs) + " infer/sec")
        if not latency_ok:
            parts.append("latency " + ", ".join(f"{x / 1000:.0f}" for x in latencies) + " usec")
        reason = f"last {criteria.windows} windows differ by more than {criteria.threshold:.0%}: " + "; ".join(parts)
    return Verdict(stable, throughput_ok, latency_ok, reason)


def ticks_per_window(window_ns: int, tick_ns: int) -> int:
    return max(1, round(window_ns / tick_ns))


def tick_length_ns(window: WindowSpec, preferred_tick_ns: int = 100_000_000) -> int:
    """A tick that divides a time window evenly (about ``preferred_tick_ns`` long)."""
    if window.mode is WindowMode.TIME:
        count = max(1, round(window.window_ns / preferred_tick_ns))
        return max(1, window.window_ns // count)
    return preferred_tick_ns


def sized_window(window: WindowSpec, load_value: float, open_loop: bool) -> WindowSpec:
    """``window`` with its request count for this load when it is a count window sized to the load."""
    if window.mode is not WindowMode.COUNT or window.request_count:
        return window
    return replace(window, request_count=sized_request_count(load_value, open_loop))


@dataclass
class MeasurementController:
    """Turns a stream of ticks into windows and decides when the measurement is done."""

    window: WindowSpec
    criteria: StabilityCriteria
    batch_size: int
    tick_ns: int
    windows: list[WindowStats] = field(default_factory=list)
    outcome: Stability = Stability.RUNNING
    verdict: Verdict | None = None
    reason: str = ""
    started: int = 0  # windows begun (the observer snapshots the server at window edges)
    _current: WindowStats | None = None
    _current_ticks: int = 0
    _seen_ns: int = 0

    @property
    def warmed_up(self) -> bool:
        return self._seen_ns >= self.window.warmup_ns

    def add_tick(self, tick: WindowStats) -> bool:
        """Feed the next tick; True once the measurement is decided (stable, unstable, failed)."""
        if self.outcome is not Stability.RUNNING:
            return True
        self._seen_ns += tick.duration_ns
        if self._seen_ns <= self.window.warmup_ns:
            return False
        if self._current is None:
            self._current = tick.copy()
            self.started += 1
        else:
            self._current.extend(tick)
        self._current_ticks += 1
        if self._window_full(self._current):
            closed, self._current, self._current_ticks = self._current, None, 0
            self._close(closed)
        return self.outcome is not Stability.RUNNING

    def _window_full(self, window: WindowStats) -> bool:
        if self.window.mode is WindowMode.TIME:
            return self._current_ticks >= ticks_per_window(self.window.window_ns, self.tick_ns)
        finished = window.completed + window.failed
        if window.duration_ns >= self.window.count_timeout_ns:
            return True
        return finished >= self.window.request_count and window.duration_ns >= self.window.min_window_ns

    def _close(self, window: WindowStats) -> None:
        self.windows.append(window)
        if window.completed == 0:
            self.outcome = Stability.FAILED
            number = len(self.windows)
            if window.failed:
                kinds = ", ".join(f"{k} x{n}" for k, n in sorted(window.errors.items()))
                example = next(iter(window.error_examples.values()), "")
                self.reason = f"every request in window {number} failed ({kinds}): {example}"
            else:
                self.reason = (
                    f"no valid requests recorded within window {number}: a request takes longer than "
                    "the window, give a longer one (--measurement-interval)"
                )
            return
        self.verdict = check_stability(self.windows, self.batch_size, self.criteria)
        if self.verdict.stable:
            self.outcome = Stability.STABLE
            self.reason = self.verdict.reason
        elif len(self.windows) >= self.criteria.max_windows:
            self.outcome = Stability.UNSTABLE
            self.reason = (
                f"failed to obtain a stable measurement within {self.criteria.max_windows} windows: "
                f"{self.verdict.reason}"
            )

    def kept_windows(self) -> list[WindowStats]:
        """The windows the result merges: the last N with any successful request."""
        usable = [w for w in self.windows if w.completed > 0]
        return usable[-self.criteria.windows :]
