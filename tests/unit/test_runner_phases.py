"""The runner's phase clock: sums per phase, one report line when due, then a fresh count."""

from __future__ import annotations

from tritune.runner.phases import PhaseClock


class FakeClock:
    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now


def test_phases_are_summed_and_reported_per_execution_when_due() -> None:
    clock = FakeClock()
    phases = PhaseClock("resnet", every_s=1.0, clock=clock)
    for _ in range(2):
        with phases.phase("merge"):
            clock.now += 3_000_000  # 3 ms
        with phases.phase("run"):
            clock.now += 10_000_000
        assert phases.executed(requests=4, rows=32) is None  # 26 ms in: not due
    clock.now = 1_000_000_000
    line = phases.executed(requests=4, rows=32)
    assert line == (
        "tritune runner phases resnet: 3 executions, 12 requests, 96 rows; per execution "
        "read 0.00 ms, merge 2.00 ms, pad 0.00 ms, run 6.67 ms, respond 0.00 ms"
    )
    clock.now += 500_000_000
    assert phases.executed(requests=1, rows=1) is None  # counting again from the report


def test_a_phase_that_raises_still_counts_its_time() -> None:
    clock = FakeClock()
    phases = PhaseClock("m", every_s=0.0, clock=clock)
    try:
        with phases.phase("run"):
            clock.now += 2_000_000
            raise RuntimeError("model failed")
    except RuntimeError:
        pass
    assert "run 2.00 ms" in (phases.executed(requests=1, rows=1) or "")
