"""Open-loop arrival schedules (pure): when each request should be sent, as integer
nanosecond offsets from the start of the run.

The random generator is injected. Several worker processes share one schedule: each
generates the same global sequence (same seed) and sends every ``count``-th arrival, so the
combined load is exactly the requested process (a thinned-by-index Poisson stream is still
the original stream when the parts are put back together).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from tritune.errors import UsageError

NS_PER_S = 1_000_000_000
_CHUNK = 4096


class Distribution(StrEnum):
    CONSTANT = "constant"
    POISSON = "poisson"


@dataclass(frozen=True)
class Schedule:
    """A rate with a distribution, or explicit intervals (looped, as perf_analyzer does)."""

    rate: float = 0.0  # requests/sec; ignored when intervals are given
    distribution: Distribution = Distribution.CONSTANT
    intervals_ns: tuple[int, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.intervals_ns and not self.rate > 0:
            raise UsageError(f"request rate {self.rate} must be > 0")
        if self.intervals_ns and (min(self.intervals_ns) < 0 or sum(self.intervals_ns) == 0):
            raise UsageError("request intervals must be >= 0 and not all 0")

    @property
    def mean_rate(self) -> float:
        if self.intervals_ns:
            return len(self.intervals_ns) * NS_PER_S / sum(self.intervals_ns)
        return self.rate

    def gaps(self, rng: np.random.Generator) -> Iterator[np.ndarray]:
        """Endless chunks of gaps (ns) between consecutive arrivals."""
        if self.intervals_ns:
            pattern = np.asarray(self.intervals_ns, dtype=np.int64)
            repeats = max(1, _CHUNK // len(pattern))
            chunk = np.tile(pattern, repeats)
            while True:
                yield chunk
        mean_gap_ns = NS_PER_S / self.rate
        if self.distribution is Distribution.CONSTANT:
            # Accumulate in float and round the cumulative time, so the rate has no drift.
            position = 0.0
            while True:
                ends = position + mean_gap_ns * np.arange(1, _CHUNK + 1)
                starts = np.concatenate(([position], ends[:-1]))
                yield (np.rint(ends) - np.rint(starts)).astype(np.int64)
                position = float(ends[-1])
        while True:
            yield np.rint(rng.exponential(mean_gap_ns, _CHUNK)).astype(np.int64)


def arrival_offsets(schedule: Schedule, rng: np.random.Generator, part: int = 0, parts: int = 1) -> Iterator[int]:
    """Endless arrival offsets (ns from the start) of arrivals ``part``, ``part + parts``, ...
    of the global sequence; the first global arrival is at offset 0."""
    if not 0 <= part < parts:
        raise ValueError(f"part {part} not in 0..{parts - 1}")
    now = 0
    index = 0
    for chunk in schedule.gaps(rng):
        cumulative = now + np.concatenate(([0], np.cumsum(chunk[:-1])))
        for offset in cumulative[(part - index) % parts :: parts]:
            yield int(offset)
        now = int(cumulative[-1] + chunk[-1])
        index += len(chunk)


def first_offsets(schedule: Schedule, count: int, seed: int | None = None, part: int = 0, parts: int = 1) -> list[int]:
    rng = np.random.default_rng(schedule.seed if seed is None else seed)
    iterator = arrival_offsets(schedule, rng, part, parts)
    return [next(iterator) for _ in range(count)]


def read_intervals_file(path: str | Path) -> tuple[int, ...]:
    """perf_analyzer's --request-intervals file: one interval in microseconds per line."""
    path = Path(path)
    try:
        lines = path.read_text().split()
    except OSError as error:
        raise UsageError(f"cannot read request intervals file {path}: {error.strerror}") from None
    try:
        values = tuple(int(round(float(x) * 1000)) for x in lines)
    except ValueError:
        raise UsageError(f"{path} must hold one interval in microseconds per line") from None
    if not values:
        raise UsageError(f"{path} holds no intervals: write one interval in microseconds per line")
    return values


def parse_range(text: str, *, integer: bool, option: str = "range") -> list[float]:
    """perf_analyzer's ``start:end:step`` (end and step optional) into the list of levels;
    ``option`` names the flag it came from in the error line."""
    parts = text.split(":")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if not 1 <= len(numbers) <= 3 or (integer and any(n != int(n) for n in numbers)):
        kind = "integers" if integer else "numbers"
        raise UsageError(f"{option} {text!r} is not start[:end[:step]] of {kind}, e.g. {option} 1:16:2")
    start = numbers[0]
    end = numbers[1] if len(numbers) > 1 else start
    step = numbers[2] if len(numbers) > 2 else 1.0
    if start <= 0 or end < start or step <= 0:
        raise UsageError(f"{option} {text!r} needs 0 < start <= end and step > 0, e.g. {option} 1:16:2")
    levels: list[float] = []
    value = start
    while value <= end + 1e-9:
        levels.append(int(value) if integer else round(value, 6))
        value += step
    return levels


def split_concurrency(concurrency: int, parts: int) -> Sequence[int]:
    """Concurrency slots per worker, as even as possible (no worker gets 0 unless forced)."""
    base, extra = divmod(concurrency, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]
