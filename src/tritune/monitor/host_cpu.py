"""CPU the host's other processes take while tritune measures (``host_other_cpu``).

System-wide minus ours: at each window edge, the busy CPU time (user + nice + system, from
``/proc/stat`` per core) of the cores tritune and the server may run on, with the time a
hypervisor gave those (virtual) cores to other guests (steal), and the CPU time of
our processes — tritune with its threads, every process it started (the load generator's
workers, an embedded server) and the server's tree with its Python-backend stubs. Others over
a span = busy delta - ours delta. Two small reads per edge (a few ms), and unlike sampling every
process it counts short-lived ones too (a build's compiler runs, a test suite's workers).
Interrupt time is left out: with IRQ time accounting it is charged to no process, and the
loopback traffic of our own requests would count as others'.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psutil

from tritune.cpus import usable_cpus
from tritune.domain.host_load import OtherProcess, busiest_others, cpu_in_span, other_cores


@dataclass(frozen=True)
class HostCpuSample:
    wall_s: float  # time.monotonic()
    epoch_s: float  # time.time(), to compare with a process's create time
    busy_s: float  # busy CPU time of the watched cores since boot, steal time included
    ours: dict[int, tuple[float, float]] = field(default_factory=dict)  # pid -> (create time, CPU s)
    steal_s: float = 0.0  # of busy_s: the steal time


def watched_cores(server_pid: int | None) -> frozenset[int]:
    """The cores tritune (and what it starts) and the server may run on."""
    cores = set(usable_cpus())
    if server_pid is not None:
        with contextlib.suppress(psutil.Error, AttributeError):
            cores.update(psutil.Process(server_pid).cpu_affinity() or ())
    return frozenset(cores)


def _our_processes(server_pid: int | None) -> list[psutil.Process]:
    """tritune, everything it started and, when it did not start the server, the server's tree."""
    me = psutil.Process(os.getpid())
    found = {me.pid: me}
    with contextlib.suppress(psutil.Error):
        found.update((p.pid, p) for p in me.children(recursive=True))
    if server_pid is not None and server_pid not in found:  # an embedded server is already in
        with contextlib.suppress(psutil.Error):
            server = psutil.Process(server_pid)
            found[server_pid] = server
            found.update((p.pid, p) for p in server.children(recursive=True))
    return list(found.values())


def busy_and_steal_s(per_core: Sequence[Any], cores: Iterable[int]) -> tuple[float, float]:
    """The busy seconds (steal included) and the steal seconds of ``cores``, from
    ``psutil.cpu_times(percpu=True)``. Steal counts as busy: on a virtual machine whose host is
    oversubscribed, the hypervisor runs other guests on our cores, which slows the server just
    as a process beside it would (and no process of ours or of this host's is charged for it)."""
    busy = steal = 0.0
    for core in cores:
        if core < len(per_core):
            t = per_core[core]
            stolen = getattr(t, "steal", 0.0)  # Linux only
            busy += t.user + t.nice + t.system + stolen
            steal += stolen
    return busy, steal


def sample_host_cpu(cores: frozenset[int], server_pid: int | None) -> HostCpuSample:
    ours: dict[int, tuple[float, float]] = {}
    with contextlib.suppress(psutil.Error):
        for process in _our_processes(server_pid):
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                ours[process.pid] = (process.create_time(), times.user + times.system)
    busy, steal = busy_and_steal_s(psutil.cpu_times(percpu=True), cores)
    return HostCpuSample(time.monotonic(), time.time(), busy, ours, steal)


def ours_between(start: HostCpuSample, end: HostCpuSample) -> float:
    """Our CPU seconds between two samples; a process started in between counts from its start,
    one that ended in between is lost (and reads as others': rare, and errs towards a warning)."""
    total = 0.0
    for pid, (created, cpu_s) in end.ours.items():
        spent = cpu_in_span(start.ours.get(pid), created, cpu_s, start.epoch_s)
        if spent is not None:
            total += max(0.0, spent)
    return total


def others_between(start: HostCpuSample, end: HostCpuSample) -> float:
    """The others' CPU between two samples, in cores."""
    return other_cores(end.busy_s - start.busy_s, ours_between(start, end), end.wall_s - start.wall_s)


def steal_between(start: HostCpuSample, end: HostCpuSample) -> float:
    """The part of :func:`others_between` the hypervisor gave to other guests, in cores."""
    wall_s = end.wall_s - start.wall_s
    return max(0.0, end.steal_s - start.steal_s) / wall_s if wall_s > 0 else 0.0


def _every_process() -> dict[int, tuple[float, float, str]]:
    """pid -> (create time, CPU seconds, name) of every process this user may read."""
    found = {}
    for process in psutil.process_iter(["create_time", "cpu_times", "name"]):
        info = process.info
        times = info.get("cpu_times")
        if times is not None and info.get("create_time") is not None:
            found[process.pid] = (info["create_time"], times.user + times.system, info.get("name") or "?")
    return found


def name_busiest_others(cores: frozenset[int], server_pid: int | None, seconds: float = 0.25) -> list[OtherProcess]:
    """The processes not ours that take the most CPU on ``cores`` over the next ``seconds``:
    every process read twice (a few ms on a host of hundreds), so only after a busy measurement.
    A process pinned away from ``cores`` cannot be what took them, and is left out."""
    start, before = time.time(), _every_process()
    time.sleep(seconds)
    end, after = time.time(), _every_process()
    ours = frozenset(p.pid for p in _our_processes(server_pid))
    named = []
    for candidate in busiest_others(before, after, ours, (start, end), top=8):
        with contextlib.suppress(psutil.Error):
            if not cores.intersection(psutil.Process(candidate.pid).cpu_affinity() or cores):
                continue
        named.append(candidate)
    return named[:3]
