"""The confirm step: the search's finalists re-measured, interleaved, on the one running server.

The top configurations (ranked as the conclusion ranks them) and the default are loaded together
under their own names, warmed up as the evaluator warms a variant, and measured round by round
at the search winner's load point: A, B, C, D, A, B, C, D, ... so drift on the host falls on
every finalist alike. Where the deployer cannot load two variants side by side (a BLS model's,
which share the composing models' names), each finalist is loaded, warmed up, measured and
unloaded in turn within each round: the same interleaving, one finalist on the server at a time.
From the second round on, a finalist clearly behind the leader leaves the race (and the server);
the rounds stop once the leader stands apart or ties. Each round is stored as a repeat of that
load point (repeat 1, 2, ...), so a rerun after Ctrl-C replays the stored rounds, and the same
race, and measures only what is missing. The decision (medians, spread, racing, ties, the
unstable rule) is ``tritune.analysis.confirm``'s.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence

from tritune.analysis.configs import ConfigBest, ConfigResult, best_per_config
from tritune.analysis.confirm import (
    ConfirmResult,
    Finalist,
    behind,
    decide,
    needs_another_round,
    serving_cost,
    standing,
)
from tritune.analysis.constraints import Constraints
from tritune.analysis.objectives import Objectives
from tritune.config import ConfirmSettings
from tritune.domain.measurement import LoadPoint, Measurement, MeasurementStatus
from tritune.errors import ModelLoadError, ServerError
from tritune.profile.context import RunContext
from tritune.profile.deploy import load_and_warm_up
from tritune.store import RunRecord, VariantRecord


def finalists_of(
    configs: Sequence[ConfigResult], objectives: Objectives, constraints: Constraints, top: int
) -> list[ConfigBest]:
    """The ``top`` configurations with a usable best load point, ranked as the conclusion ranks
    them, and the default (when it has one and is not among them): the search winner first."""
    bests = [b for b in best_per_config(configs, objectives, constraints) if b.best is not None]
    chosen = bests[: max(top, 1)]
    default = next((b for b in bests if b.config.is_default), None)
    if default is not None and default not in chosen:
        chosen.append(default)
    return chosen


class ConfirmStep:
    """Re-measures the finalists in rounds and decides on their medians (see the module doc)."""

    def __init__(
        self,
        context: RunContext,
        run: RunRecord,
        *,
        settings: ConfirmSettings,
        objectives: Objectives,
        constraints: Constraints,
        top: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = context.store
        self._run = run
        self._deployer = context.deployer
        self._measure = context.measure
        self._notifier = context.notifier
        self._settings = settings
        self._objectives = objectives
        self._constraints = constraints
        self._top = top
        self._warm_up = context.warm_up
        self._clock = clock
        self.measured_now = 0
        self.replayed = 0

    def run(self, configs: Sequence[ConfigResult]) -> ConfirmResult | None:
        """The decision, or None when there is nothing to confirm (the step is off, or fewer than
        two configurations have a usable measurement)."""
        if self._settings.rounds == 0:
            return None
        chosen = finalists_of(configs, self._objectives, self._constraints, self._top)
        if len(chosen) < 2 or chosen[0].best is None:
            return None
        load = chosen[0].best.load
        by_name = {v.name: v for v in self._store.variants(self._run.id)}
        variants = [by_name[b.config.name] for b in chosen]
        self._notifier.info(
            f"confirming {len(variants)} finalists at {load.label()}: " + ", ".join(v.name for v in variants)
        )
        rounds = self._rounds(variants, load)
        finalists = [
            Finalist(v.name, tuple(rounds[v.name]), serving_cost(v.serving), v.is_default)
            for v in variants
            if v.name in rounds
        ]
        return decide(finalists, load, self._objectives, self._constraints)

    def _rounds(self, variants: list[VariantRecord], load: LoadPoint) -> dict[str, list[Measurement]]:
        settings = self._settings
        rounds: dict[str, list[Measurement]] = {v.name: [] for v in variants}
        loaded: list[str] = []
        started = self._clock()
        done = 0
        try:
            while True:
                number = done + 1
                stored = {v.name: self._store.find_measurement(v.id, load, repeat=number) for v in variants}
                missing = any(m is None for m in stored.values())
                if missing and done >= 1 and self._clock() - started > settings.budget_s:
                    self._notifier.info(
                        f"the confirm step's budget ({settings.budget_s:g} s) is spent: {done} rounds measured"
                    )
                    break
                planned = max(settings.rounds, number)
                self._notifier.confirm_round(number, planned, [v.name for v in variants])
                alone = not self._deployer.side_by_side
                if missing and not loaded and not alone:
                    variants = self._load(variants, load, loaded)
                kept = []
                for variant in variants:
                    measurement = stored.get(variant.name)
                    if measurement is None and alone:
                        measurement = self._measure_alone(variant, load, number)
                        if measurement is None:
                            continue
                    elif measurement is None:
                        measurement = self._measure_round(variant, load, number)
                    else:
                        self.replayed += 1
                        self._notifier.measurement_done(variant.name, measurement, replayed=True)
                    rounds[variant.name].append(measurement)
                    kept.append(variant)
                done = number
                standings = [
                    standing(
                        Finalist(v.name, tuple(rounds[v.name]), is_default=v.is_default),
                        self._objectives,
                        self._constraints,
                    )
                    for v in kept
                ]
                by_name = {s.name: s for s in standings}
                out = behind(standings, done)
                for name in out:
                    why = "clearly behind the leader" if by_name[name].eligible else "no round of it was stable"
                    self._notifier.info(f"{name} leaves the confirm step after {done} rounds: {why}")
                    if name in loaded:
                        loaded.remove(name)
                        with contextlib.suppress(ServerError):
                            self._deployer.unload(name)
                variants = [v for v in kept if v.name not in out]
                racing = [s for s in standings if s.name not in out]
                if not needs_another_round(racing, done, settings.rounds, settings.max_rounds):
                    break
        finally:
            for name in loaded:
                with contextlib.suppress(ServerError):  # a dead server is reported by the next load
                    self._deployer.unload(name)
        return {name: measured for name, measured in rounds.items() if measured}

    def _measure_round(self, variant: VariantRecord, load: LoadPoint, number: int) -> Measurement:
        started = self._clock()
        measurement = self._measure(variant.name, load)
        if measurement.status is MeasurementStatus.FAILED:
            self._deployer.check_server()  # a dead server's failure is no round of this finalist
        self._store.add_measurement(variant.id, measurement, duration_s=self._clock() - started, repeat=number)
        self.measured_now += 1
        self._notifier.measurement_done(variant.name, measurement, replayed=False)
        return measurement

    def _measure_alone(self, variant: VariantRecord, load: LoadPoint, number: int) -> Measurement | None:
        """One round of a finalist that is served alone: loaded and warmed up, measured, unloaded;
        None (with a warning) when it no longer loads."""
        if not self._load([variant], load, []):
            return None
        try:
            return self._measure_round(variant, load, number)
        finally:
            with contextlib.suppress(ServerError):  # a dead server is reported by the next load
                self._deployer.unload(variant.name)

    def _load(self, variants: list[VariantRecord], load: LoadPoint, loaded: list[str]) -> list[VariantRecord]:
        """Load every finalist together (each under its own name) and warm each up; one that no
        longer loads leaves the confirm step with a warning."""
        kept = []
        for variant in variants:
            precision = str(variant.params.get("precision", "fp32"))
            try:
                serving = variant.serving
                load_and_warm_up(self._deployer, self._warm_up, variant.name, serving, precision, load.batch_size)
            except ModelLoadError as error:
                self._notifier.warn(f"{variant.name} left the confirm step: {error.message}")
                continue
            loaded.append(variant.name)
            kept.append(variant)
        return kept
