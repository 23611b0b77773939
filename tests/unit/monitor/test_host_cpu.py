"""A busy host, named: the arithmetic of ``host_other_cpu`` and when it warns (pure), and one
real sample of this host."""

from __future__ import annotations

import os

import psutil
import pytest

from tritune.domain.host_load import (
    HOST_OTHER_CPU,
    OtherProcess,
    busiest_others,
    busy_host_warning,
    is_busy,
    is_busy_host_warning,
    other_cores,
)
from tritune.domain.metrics import MEASUREMENT_COLUMNS, Direction, metric
from tritune.domain.status import MeasurementStatus, Stability
from tritune.loadgen import LoadSpec, PerfResult, judge
from tritune.monitor.host_cpu import (
    HostCpuSample,
    busy_and_steal_s,
    others_between,
    ours_between,
    sample_host_cpu,
    steal_between,
    watched_cores,
)


def test_others_are_the_busy_time_less_ours_per_second() -> None:
    assert other_cores(busy_s=5.0, ours_s=2.0, wall_s=2.0) == pytest.approx(1.5)
    assert other_cores(busy_s=1.0, ours_s=1.02, wall_s=1.0) == 0.0  # tick rounding never goes negative
    assert other_cores(busy_s=1.0, ours_s=0.0, wall_s=0.0) == 0.0


def test_our_time_counts_survivors_and_newcomers_not_a_reused_pid_from_before() -> None:
    start = HostCpuSample(10.0, 1000.0, busy_s=100.0, ours={1: (500.0, 3.0), 2: (600.0, 1.0), 3: (700.0, 9.0)})
    end = HostCpuSample(
        12.0,
        1002.0,
        busy_s=106.0,
        # 1 ran 2 s more; 2 ended; 3's pid now belongs to a process started in the span (0.5 s);
        # 4 started in the span (1 s); 5 existed before but was not seen at the start: skipped.
        ours={1: (500.0, 5.0), 3: (1001.0, 0.5), 4: (1000.5, 1.0), 5: (900.0, 7.0)},
    )
    assert ours_between(start, end) == pytest.approx(3.5)
    assert others_between(start, end) == pytest.approx((6.0 - 3.5) / 2.0)


def _core_times(user: float, nice: float, system: float, idle: float, steal: float) -> object:
    """One core's times as psutil reads them on this host (Linux: steal, irq, softirq, ...)."""
    record = type(psutil.cpu_times())
    fields = dict.fromkeys(record._fields, 0.0)
    fields.update(user=user, nice=nice, system=system, idle=idle)
    if "steal" in fields:
        fields["steal"] = steal
    return record(**fields)


def test_steal_time_is_busy_time_of_someone_else_and_interrupts_are_not() -> None:
    per_core = [_core_times(10, 1, 4, 50, 3), _core_times(20, 0, 5, 40, 7), _core_times(99, 0, 0, 0, 99)]
    busy, steal = busy_and_steal_s(per_core, {0, 1, 7})  # core 2 not watched, core 7 not there
    if "steal" in type(psutil.cpu_times())._fields:
        assert (busy, steal) == (pytest.approx(50.0), pytest.approx(10.0))
    else:  # not on Linux: no steal to read
        assert (busy, steal) == (pytest.approx(40.0), 0.0)


def test_stolen_cores_are_part_of_the_others() -> None:
    start = HostCpuSample(10.0, 1000.0, busy_s=100.0, ours={1: (500.0, 3.0)}, steal_s=20.0)
    end = HostCpuSample(12.0, 1002.0, busy_s=104.0, ours={1: (500.0, 4.0)}, steal_s=21.6)
    assert others_between(start, end) == pytest.approx(1.5)
    assert steal_between(start, end) == pytest.approx(0.8)
    assert steal_between(end, start) == 0.0  # no wall time forward: nothing


def test_the_warning_says_how_much_other_virtual_machines_took() -> None:
    text = busy_host_warning(1.5, 2, (OtherProcess("make", 41, 0.6),), stolen=0.8)
    assert text is not None and is_busy_host_warning(text)
    assert "(0.8 of it taken by other virtual machines on this host (steal time); the busiest others" in text
    quiet_hypervisor = busy_host_warning(1.5, 2, (), stolen=0.01)
    assert quiet_hypervisor is not None and "steal" not in quiet_hypervisor and "(" not in quiet_hypervisor


@pytest.mark.parametrize(
    ("others", "cores", "busy"),
    [
        (0.49, 2, False),
        (0.5, 2, True),
        (1.3, 2, True),
        (0.2, 1, False),
        (0.25, 1, True),
        (1.9, 16, False),
        (4, 16, True),
    ],
)
def test_a_quarter_of_the_cores_we_run_on_is_busy(others: float, cores: int, busy: bool) -> None:
    assert is_busy(others, cores) is busy
    assert (busy_host_warning(others, cores) is not None) is busy


def test_the_warning_names_the_share_the_cause_and_the_fix() -> None:
    text = busy_host_warning(1.3, 2)
    assert text is not None and is_busy_host_warning(text)
    assert "1.3 of the 2 cores" in text and "stop other work" in text and "--server-cpus" in text
    assert busy_host_warning(None, 2) is None and busy_host_warning(5.0, 0) is None
    assert not is_busy_host_warning("request latency is not stabilizing")


def test_the_warning_names_the_busiest_others_when_known() -> None:
    busiest = (OtherProcess("make", 41, 0.92), OtherProcess("cc1", 57, 0.31))
    text = busy_host_warning(1.3, 2, busiest)
    assert text is not None and is_busy_host_warning(text)
    assert "the busiest others just after it: make (pid 41) 0.9, cc1 (pid 57) 0.3" in text
    assert "--server-cpus" in text
    assert busy_host_warning(0.2, 2, busiest) is None  # a quiet host names nobody


def test_the_busiest_others_are_ranked_by_cores_over_the_span_and_ours_are_left_out() -> None:
    span = (1000.0, 1000.5)
    before = {
        10: (100.0, 50.0, "build"),  # 0.4 s more: 0.8 cores
        11: (100.0, 5.0, "idle"),  # 0.01 s more: 0.02 cores, background
        12: (100.0, 7.0, "tritonserver"),  # ours
        13: (200.0, 1.0, "old"),  # its pid is reused by a process started in the span
        15: (300.0, 2.0, "gone"),  # ended in the span
    }
    after = {
        10: (100.0, 50.4, "build"),
        11: (100.0, 5.01, "idle"),
        12: (100.0, 9.0, "tritonserver"),
        13: (1000.2, 0.1, "new"),  # all its time is in the span: 0.2 cores
        14: (500.0, 3.0, "unseen"),  # older than the span yet missing before: skipped
        16: (1000.1, 0.2, "cc1"),  # started in the span: 0.4 cores
    }
    named = busiest_others(before, after, frozenset({12}), span)
    assert [(p.name, p.pid) for p in named] == [("build", 10), ("cc1", 16), ("new", 13)]
    assert named[0].cores == pytest.approx(0.8) and named[1].cores == pytest.approx(0.4)
    assert len(busiest_others(before, after, frozenset({12}), span, top=1)) == 1
    assert busiest_others(before, after, frozenset(), (5.0, 5.0)) == []


def test_the_verdict_carries_the_warning_and_keeps_the_status() -> None:
    quiet = judge(Stability.STABLE, "", None, open_loop=False, host_other_cpu=0.1, host_cores=2)
    busy = judge(Stability.STABLE, "", None, open_loop=False, host_other_cpu=1.3, host_cores=2)
    assert quiet.warnings == () and busy.status is MeasurementStatus.OK
    assert len(busy.warnings) == 1 and is_busy_host_warning(busy.warnings[0])


def test_the_metric_is_stored_in_cores_and_minimized() -> None:
    entry = metric(HOST_OTHER_CPU)
    assert (entry.unit, entry.direction) == ("cores", Direction.MINIMIZE)
    assert HOST_OTHER_CPU in MEASUREMENT_COLUMNS
    result = PerfResult("m", LoadSpec.concurrency(1), MeasurementStatus.OK, host_other_cpu=0.75)
    assert result.to_measurement().metrics == {HOST_OTHER_CPU: 0.75}
    assert HOST_OTHER_CPU not in PerfResult("m", LoadSpec.concurrency(1), MeasurementStatus.OK).to_measurement().metrics


def test_a_real_sample_sees_this_process_and_the_cores_it_may_use() -> None:
    cores = watched_cores(None)
    assert cores == frozenset(os.sched_getaffinity(0))
    first = sample_host_cpu(cores, None)
    sum(i * i for i in range(200_000))  # some CPU of our own
    second = sample_host_cpu(cores, None)
    assert os.getpid() in second.ours
    assert second.busy_s >= first.busy_s and ours_between(first, second) >= 0.0
    assert others_between(first, second) >= 0.0
