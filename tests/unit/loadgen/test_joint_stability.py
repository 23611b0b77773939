"""Models measured concurrently decide together over the same windows (loadgen/joint_stability.py)."""

import pytest

from tritune.domain.status import Stability
from tritune.loadgen.joint_stability import JointController
from tritune.loadgen.stabilize import StabilityCriteria, WindowMode, WindowSpec
from tritune.loadgen.stats import WindowStats

MS = 1_000_000
TICK = 100 * MS
SPEC = WindowSpec(WindowMode.TIME, window_ns=200 * MS)  # two ticks a window


def _tick(index: int, completed: int, latency_ns: int = MS) -> WindowStats:
    tick = WindowStats(index * TICK, (index + 1) * TICK)
    for _ in range(completed):
        tick.latency.record(latency_ns)
    return tick


def _joint(max_windows: int = 10) -> JointController:
    criteria = StabilityCriteria(threshold=0.10, max_windows=max_windows)
    return JointController.of(SPEC, [criteria, criteria], [1, 1], TICK)


def _feed(joint: JointController, a: list[int], b: list[int]) -> int:
    """Feed tick counts of models a and b side by side; the ticks used until decided."""
    for index, (ca, cb) in enumerate(zip(a, b, strict=True)):
        if joint.add_ticks([_tick(index, ca), _tick(index, cb)]):
            return index + 1
    return -1


def test_a_model_stable_first_keeps_measuring_until_the_other_is():
    joint = _joint()
    # a is steady from the start; b ramps up for three windows, then holds.
    b = [10, 10, 20, 20, 40, 40] + [50] * 14
    used = _feed(joint, [30] * 20, b)
    assert joint.outcome is Stability.STABLE
    a_model, b_model = joint.controllers
    # Both closed the same windows: b's last three are stable only from window 4 to 6.
    assert len(a_model.windows) == len(b_model.windows) == 6 and used == 12
    assert joint.kept() == [3, 4, 5]
    assert [w.start_ns for w in a_model.windows] == [w.start_ns for w in b_model.windows]


def test_running_out_of_windows_marks_every_model_unstable():
    joint = _joint(max_windows=4)
    used = _feed(joint, [30] * 10, [10, 10, 40, 40, 10, 10, 40, 40, 10, 10])
    assert used == 8 and joint.outcome is Stability.UNSTABLE
    assert all(c.outcome is Stability.UNSTABLE for c in joint.controllers)
    assert "another model" in joint.controllers[0].reason


def test_a_model_that_serves_nothing_fails_the_measurement():
    joint = _joint()
    used = _feed(joint, [30] * 4, [0] * 4)
    assert used == 2 and joint.outcome is Stability.FAILED


def test_count_windows_are_refused():
    with pytest.raises(ValueError, match="time windows"):
        JointController.of(WindowSpec(WindowMode.COUNT), [StabilityCriteria()] * 2, [1, 1], TICK)
