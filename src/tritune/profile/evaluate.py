"""Evaluating one variant: deploy it, run its load sweep, store every measurement.

Stored measurements are replayed through the sweep instead of being measured again, so a
rerun after Ctrl-C or a crash skips what was done (and deploys nothing for a variant that
is complete). A variant that fails to load, or whose measurements all fail, is stored as
failed with its reason and the search goes on. A failure is the model's (ModelLoadError: kept
on resume) or the server's (any other ServerError, e.g. unreachable or not in explicit mode:
the run stops, and a resumed run tries that variant again).

A loaded variant is warmed up (``WarmupFn``: each batch size it can form) before its first
measurement, so that measurement sees the model serving, not starting; the warm-up's time is
stored beside the load time, and a warm-up that failed is a one-line reason on the variant.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from tritune.domain.measurement import LoadPoint, Measurement, MeasurementStatus
from tritune.domain.serving import ServingConfig
from tritune.domain.status import FailureCause, VariantStatus
from tritune.errors import ModelLoadError, ServerError
from tritune.profile.context import RunContext
from tritune.profile.deploy import load_and_warm_up
from tritune.store import RunRecord, VariantRecord


class LoadSweepLike(Protocol):
    """The ask/tell shape of a per-variant load sweep."""

    def ask(self) -> LoadPoint | None: ...

    def tell(self, load: LoadPoint, measurement: Measurement) -> None: ...


@dataclass
class VariantEvaluation:
    """What evaluating one variant gave: its measurements (replayed or new), or why it failed."""

    variant: VariantRecord
    measurements: list[Measurement] = field(default_factory=list)
    failed: str | None = None
    measured_now: int = 0  # measurements taken in this process (not replayed from the store)

    @property
    def name(self) -> str:
        return self.variant.name


class VariantEvaluator:
    def __init__(self, context: RunContext, run: RunRecord) -> None:
        """``context.warm_up``: None measures each variant right after its load (warm-up off)."""
        self._store = context.store
        self._run = run
        self._deployer = context.deployer
        self._measure = context.measure
        self._notifier = context.notifier
        self._warm_up = context.warm_up

    def evaluate(
        self,
        name: str,
        params: Mapping[str, Any],
        serving: ServingConfig,
        sweep: LoadSweepLike,
        *,
        precision: str = "fp32",
        is_default: bool = False,
    ) -> VariantEvaluation:
        variant = self._store.variant_for(self._run.id, params, serving, name=name, is_default=is_default)
        evaluation = VariantEvaluation(variant)
        self._notifier.variant_started(variant.name, params)
        if variant.status == VariantStatus.FAILED and variant.failure is not FailureCause.SERVER:
            evaluation.failed = variant.error or "failed earlier"
            self._notifier.variant_done(variant.name, evaluation.failed)
            return evaluation
        if variant.status == VariantStatus.FAILED:
            # The server failed it (unreachable, died, misconfigured), not the model: try it again,
            # re-measuring the load points that failed then.
            self._store.forget_failed_measurements(variant.id)
            self._store.set_variant_status(variant.id, VariantStatus.PENDING)
        loaded = False
        try:
            while (load := sweep.ask()) is not None:
                stored = self._store.find_measurement(variant.id, load)
                if stored is not None:
                    measurement = stored
                    self._notifier.measurement_done(variant.name, measurement, replayed=True)
                else:
                    if not loaded:
                        self._load(variant, serving, precision, load.batch_size)
                        loaded = True
                    started = time.monotonic()
                    measurement = self._measure(variant.name, load)
                    if measurement.status is MeasurementStatus.FAILED:
                        # Failed because the server died? Then it is not this variant's result:
                        # nothing is stored for it, the run stops, and a rerun measures it again.
                        self._deployer.check_server()
                    self._store.add_measurement(variant.id, measurement, duration_s=time.monotonic() - started)
                    evaluation.measured_now += 1
                    self._notifier.measurement_done(variant.name, measurement, replayed=False)
                evaluation.measurements.append(measurement)
                sweep.tell(load, measurement)
        except ModelLoadError as error:
            evaluation.failed = error.message
            self._store.set_variant_status(
                variant.id, VariantStatus.FAILED, error=error.message, failure=FailureCause.MODEL
            )
        except ServerError as error:
            # No variant can be served now: stored as the server's failure (a resumed run tries
            # it again) and the run stops with the server's one-line message.
            self._store.set_variant_status(
                variant.id, VariantStatus.FAILED, error=error.message, failure=FailureCause.SERVER
            )
            raise
        finally:
            if loaded:
                # A dead server is reported by the next load, with its log.
                with contextlib.suppress(ServerError):
                    self._deployer.unload(variant.name)
        # Unstable measurements still carry numbers (marked as such); only a variant whose every
        # measurement failed outright counts as failed.
        if (
            evaluation.failed is None
            and evaluation.measurements
            and all(m.status is MeasurementStatus.FAILED for m in evaluation.measurements)
        ):
            evaluation.failed = next((m.error for m in evaluation.measurements if m.error), "no measurement succeeded")
        if evaluation.failed is None and not loaded:
            # Fully replayed from the store: its files must still be in the output repository.
            self._deployer.write(variant.name, serving, precision)
        self._notifier.variant_done(variant.name, evaluation.failed)
        return evaluation

    def _load(self, variant: VariantRecord, serving: ServingConfig, precision: str, client_batch_size: int) -> None:
        """Load the variant and warm it up. The files are (re)written even on resume: the output
        repository must hold every variant whether or not this process measured it."""
        load_time_s, warmup = load_and_warm_up(
            self._deployer, self._warm_up, variant.name, serving, precision, client_batch_size
        )
        self._store.set_variant_status(
            variant.id,
            VariantStatus.LOADED,
            load_time_s=load_time_s,
            warmup_s=warmup.seconds if warmup is not None else None,
            # A failed warm-up does not stop the variant: its first measurement fails with the
            # same reason if the model cannot serve, and a size it never forms costs nothing.
            error=warmup.error if warmup is not None else None,
        )
        self._notifier.variant_ready(variant.name, load_time_s, warmup.describe() if warmup is not None else None)
