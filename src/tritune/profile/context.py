"""The collaborators one run's steps share, built once by whoever runs it (the session, a test, a
benchmark) and passed to each: :class:`ProfileRun` (orchestrator.py) hands the same
:class:`RunContext` to its :class:`VariantEvaluator` (evaluate.py) and its :class:`ConfirmStep`
(confirm.py), so the three cannot disagree on the store, the deployer or the measurement."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tritune.domain.measurement import LoadPoint, Measurement
from tritune.profile.deploy import Deployer
from tritune.profile.notify import Notifier, QuietNotifier
from tritune.store import Store

if TYPE_CHECKING:  # the caller builds it; the run only calls it
    from tritune.loadgen.warmup import WarmupFn

MeasureFn = Callable[[str, LoadPoint], Measurement]
"""Measure the loaded model ``name`` under ``load`` (the load generator, in-process)."""


@dataclass(frozen=True)
class RunContext:
    """What a run measures with and where it keeps what it measured."""

    store: Store
    deployer: Deployer
    measure: MeasureFn
    notifier: Notifier = field(default_factory=QuietNotifier)
    # Sent to each variant after its load, before its first measurement (None: warm-up off).
    warm_up: WarmupFn | None = None
