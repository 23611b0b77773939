"""A busy host, named: how much CPU processes other than the measured ones took during a
measurement, and when that is enough to say so.

``host_other_cpu`` (unit: cores, i.e. CPU-seconds per second of the measurement) is the CPU
time spent on the cores tritune and the server may run on by anything but the Triton server,
its Python-backend stubs, tritune itself and its load-generator workers, plus the time a
virtual machine's hypervisor gave its cores to other guests (steal): either way a core our
server and clients wanted went to someone else. It is measured by ``tritune.monitor.host_cpu``
and judged here, purely.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tritune.domain.metrics import HOST_OTHER_CPU as HOST_OTHER_CPU  # the metric's name, in the metric table

# Warn when others took at least this share of the cores we run on (0.5 of 2 cores). On a
# CPU-bound server each core others take is a core the server or its clients lose, so a quarter
# of the cores moves throughput by up to a quarter: well past the 10 % spread a stable
# measurement allows, and far above what an idle host's daemons take (a few % of one core).
BUSY_SHARE = 0.25
# And at least this much in absolute terms, so a many-core host does not warn about a fraction
# of one core spread thinly.
BUSY_MIN_CORES = 0.25

_PREFIX = "other processes used"


def is_busy(other_cores: float, cores: int) -> bool:
    """Others took enough of the ``cores`` tritune and the server run on to move the numbers."""
    return cores > 0 and other_cores >= max(BUSY_SHARE * cores, BUSY_MIN_CORES)


# A process named as one of the busiest others takes at least this much (in cores): less is the
# background every host has.
NAMED_MIN_CORES = 0.05
# A process's create time is known to a clock tick (10 ms) or so.
CREATE_TIME_SLACK_S = 0.05


@dataclass(frozen=True)
class OtherProcess:
    """A process that is not ours, and the cores it took over a span."""

    name: str
    pid: int
    cores: float


def busy_host_warning(
    other_cores: float | None, cores: int, busiest: Sequence[OtherProcess] = (), stolen: float = 0.0
) -> str | None:
    """The one-line warning for a busy host, or None when the others stayed small; ``busiest``:
    the other processes that took the most just after the measurement, named in it; ``stolen``:
    the part of ``other_cores`` the hypervisor gave to other virtual machines (no process of
    this host to name)."""
    if other_cores is None or not is_busy(other_cores, cores):
        return None
    noun = "core" if cores == 1 else "cores"
    parts = []
    if stolen >= NAMED_MIN_CORES:
        parts.append(f"{stolen:.1f} of it taken by other virtual machines on this host (steal time)")
    named = ", ".join(f"{p.name} (pid {p.pid}) {p.cores:.1f}" for p in busiest)
    # Read just after, not during: naming needs every process's CPU time twice, too dear for each window.
    if named:
        parts.append(f"the busiest others just after it: {named}")
    who = f" ({'; '.join(parts)})" if parts else ""
    return (
        f"{_PREFIX} {other_cores:.1f} of the {cores} {noun} tritune and the server run on during this "
        f"measurement{who}: numbers may be low and unstable; stop other work or pin with --server-cpus"
    )


def cpu_in_span(earlier: tuple[float, float] | None, created: float, cpu_s: float, start: float) -> float | None:
    """The CPU seconds a process spent in a span that began at ``start`` (epoch seconds), from its
    (create time, CPU seconds) then (``earlier``, None where it was not seen) and now: the
    difference for a survivor; all its time for one started in the span (a reused pid too);
    None for one older than the span yet not seen at its start (its whole life is not the span's)."""
    if earlier is not None and earlier[0] == created:
        return cpu_s - earlier[1]
    if created >= start - CREATE_TIME_SLACK_S:
        return cpu_s
    return None


def busiest_others(
    before: Mapping[int, tuple[float, float, str]],
    after: Mapping[int, tuple[float, float, str]],
    ours: frozenset[int],
    span: tuple[float, float],
    top: int = 3,
) -> list[OtherProcess]:
    """The ``top`` processes not ours that took the most CPU between two readings of every
    process (pid -> (create time, CPU seconds, name)) taken at ``span`` (epoch seconds), in
    cores, each at least NAMED_MIN_CORES. A process started in between counts all its time; one
    missing from the first reading although older is skipped (its whole life is not this span's)."""
    wall_s = span[1] - span[0]
    if wall_s <= 0:
        return []
    found = []
    for pid, (created, cpu_s, name) in after.items():
        earlier = before.get(pid)
        if pid in ours:
            continue
        spent = cpu_in_span(None if earlier is None else earlier[:2], created, cpu_s, span[0])
        if spent is not None and spent / wall_s >= NAMED_MIN_CORES:
            found.append(OtherProcess(name, pid, spent / wall_s))
    return sorted(found, key=lambda p: (-p.cores, p.pid))[:top]


def is_busy_host_warning(warning: str) -> bool:
    """Whether a stored warning is the busy-host one (reports and the terminal single it out)."""
    return warning.startswith(_PREFIX)


def other_cores(busy_s: float, ours_s: float, wall_s: float) -> float:
    """Others' CPU in cores: the CPU time the cores spent busy less ours, per second of wall time
    (never below 0: clock ticks make ours read a little above the total now and then)."""
    if wall_s <= 0:
        return 0.0
    return max(0.0, busy_s - ours_s) / wall_s
