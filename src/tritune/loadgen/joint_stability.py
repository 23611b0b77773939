"""The windows of models measured concurrently (pure): one :class:`MeasurementController` per
model, all fed ticks of the same spans, so window k of every model covers the same time. The
measurement is decided together: stable when every model is stable over the same last windows,
failed when one fails, unstable when the windows run out before all are stable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tritune.domain.status import Stability
from tritune.loadgen.stabilize import MeasurementController, StabilityCriteria, WindowMode, WindowSpec
from tritune.loadgen.stats import WindowStats


@dataclass
class JointController:
    """Each model's controller (in the models' order), deciding together."""

    controllers: tuple[MeasurementController, ...]

    @classmethod
    def of(
        cls, window: WindowSpec, criteria: Sequence[StabilityCriteria], batch_sizes: Sequence[int], tick_ns: int
    ) -> JointController:
        """Controllers for the models (one criteria and batch size each) on one window spec.

        Raises:
            ValueError: count windows, which close at each model's own pace and so would not
                cover the same spans.
        """
        if window.mode is not WindowMode.TIME:
            raise ValueError("models measured concurrently need time windows, which every model shares")
        return cls(
            tuple(MeasurementController(window, c, b, tick_ns) for c, b in zip(criteria, batch_sizes, strict=True))
        )

    @property
    def first(self) -> MeasurementController:
        """The controller whose window edges stand for all (they close on the same ticks)."""
        return self.controllers[0]

    @property
    def outcome(self) -> Stability:
        outcomes = [c.outcome for c in self.controllers]
        for decided in (Stability.FAILED, Stability.UNSTABLE, Stability.RUNNING):
            if decided in outcomes:
                return decided
        return Stability.STABLE

    def add_ticks(self, ticks: Sequence[WindowStats]) -> bool:
        """Feed each model its tick of the same span; True once the measurement is decided."""
        for controller, tick in zip(self.controllers, ticks, strict=True):
            controller.add_tick(tick)
        outcome = self.outcome
        if outcome is Stability.RUNNING:
            # A model stable before the others keeps measuring, so that every model's kept
            # windows are the same ones; it is judged again as each window closes.
            for controller in self.controllers:
                if controller.outcome is Stability.STABLE:
                    controller.outcome = Stability.RUNNING
            return False
        if outcome is Stability.UNSTABLE:
            # The windows ran out: every model's result is marked so (its own reason if it has one).
            for controller in self.controllers:
                if controller.outcome is Stability.STABLE:
                    controller.outcome = Stability.UNSTABLE
                    controller.reason = "another model served beside it did not stabilize"
        return True

    def kept(self) -> list[int]:
        """The indices of the windows every model's result merges (the same for all)."""
        kept: list[int] | None = None
        for controller in self.controllers:
            ids = {id(w) for w in controller.kept_windows()}
            mine = [i for i, w in enumerate(controller.windows) if id(w) in ids]
            kept = mine if kept is None else [i for i in kept if i in mine]
        return kept or []
