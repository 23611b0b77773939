"""Trials, what a searcher is told about them, the Searcher protocol, and replay for resume."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from tritune.analysis.ranking import TrialScore
from tritune.domain.space import Value, normalize_point, point_key


class LoadSweepKind(StrEnum):
    """Which load sweep the orchestrator runs for a trial (see SearchPlan.load_sweep)."""

    FULL = "full"  # Model Analyzer's sweep: concurrency 1, 2, 4, ... until the gain stops
    PROBE = "probe"  # a few load points near where this configuration should peak
    REFINE = "refine"  # a full-precision sweep that starts near an earlier probe's best load


@dataclass(frozen=True)
class Trial:
    """One configuration to deploy and measure. Serializable: see :meth:`to_dict`."""

    number: int
    params: Mapping[str, Value]
    is_default: bool = False
    load_sweep: LoadSweepKind = LoadSweepKind.FULL
    start_load: float | None = None  # where a REFINE sweep starts (the probe's best load)
    phase: str = "search"  # "search", or "refine" for the top configurations' closer look
    # Loads below the sweep's lowest measured, halving, measured after it: the low end of the
    # throughput/latency curve the report draws (a refine sweep starts near its peak).
    curve_points: int = 0

    @property
    def key(self) -> str:
        """The identity of the configuration (equal params: same variant in the store)."""
        return point_key(self.params)

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in self.params.items()},
            "is_default": self.is_default,
            "load_sweep": self.load_sweep.value,
            "start_load": self.start_load,
            "phase": self.phase,
            "curve_points": self.curve_points,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trial:
        return cls(
            number=int(data["number"]),
            params=normalize_point(data["params"]),
            is_default=bool(data.get("is_default", False)),
            load_sweep=LoadSweepKind(data.get("load_sweep", LoadSweepKind.FULL)),
            start_load=data.get("start_load"),
            phase=str(data.get("phase", "search")),
            curve_points=int(data.get("curve_points", 0)),
        )


class Searcher(Protocol):
    """Proposes configurations and learns from their results; it never measures anything.

    What it is told about a trial is a TrialScore: the configuration's best load point (score,
    how far it misses the constraints, or failure), built by tritune.analysis.config_score().

    The loop is: ``trial = ask()``; deploy and measure it; ``tell(trial, result)``; repeat until
    ``ask()`` returns None. One trial is outstanding at a time (tell before asking again).
    Searchers are deterministic for a given seed and sequence of results, so a resumed run that
    feeds the stored results back in the same order gets the same trials again.
    """

    def ask(self) -> Trial | None: ...

    def tell(self, trial: Trial, result: TrialScore) -> None: ...

    @property
    def history(self) -> list[tuple[Trial, TrialScore]]: ...

    def best(self) -> tuple[Trial, TrialScore] | None: ...


class SearchProtocolError(RuntimeError):
    """The caller broke the ask/tell contract (a programming error, not a user error)."""


@dataclass
class SearchHistory:
    """Trials told so far, and the best one."""

    entries: list[tuple[Trial, TrialScore]] = field(default_factory=list)

    def best(self) -> tuple[Trial, TrialScore] | None:
        best: tuple[Trial, TrialScore] | None = None
        for trial, result in self.entries:
            if best is None or result.key() > best[1].key():
                best = (trial, result)
        return best


def replay(searcher: Searcher, stored: Callable[[Trial], TrialScore | None]) -> Trial | None:
    """Feed a fresh searcher the results a previous run stored, up to the first new trial.

    Asks, looks each trial up with ``stored`` (e.g. by ``trial.key`` and ``trial.load_sweep`` in the
    run database) and tells the stored result, until a trial has none. That trial, already
    asked, is returned for the caller to measure and tell; None means the search had finished.
    """
    while (trial := searcher.ask()) is not None:
        result = stored(trial)
        if result is None:
            return trial
        searcher.tell(trial, result)
    return None
