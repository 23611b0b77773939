"""ONNX Runtime's default intra-op thread count, kept within the cores this process may use.

Left at 0, ONNX Runtime sizes its intra-op pool to the *machine's* physical cores and pins each
pool thread to one of them, whatever the process's own affinity: a server pinned with taskset
(tritune's ``--server-cpus``, one core group of a shared host) runs pool threads on the cores it
was kept off (under ``taskset -c 0`` on 2 cores, a pool thread is pinned to CPU 1, where the
load generator runs), and in a container limited with ``--cpuset-cpus`` the pinning
fails ("pthread_setaffinity_np failed ... error code: 22"). Given a count, ONNX Runtime pins
nothing and its threads inherit the process's affinity. So where the process is confined, 0 is
resolved here to what ONNX Runtime would pick on a machine of just those cores: one thread per
physical core among them. An unconfined process keeps ONNX Runtime's own default untouched.

Part of the runner package: no imports from ``tritune`` (see runner/__init__.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

_TOPOLOGY = "/sys/devices/system/cpu/cpu{}/topology/{}"


def physical_cores(cpus: Iterable[int], topology: Mapping[int, tuple[int, int]]) -> int:
    """The physical cores ``cpus`` lie on, given each CPU's (package, core); a CPU whose
    topology is unknown counts as a core of its own."""
    return len({topology.get(cpu, (-1, -1 - cpu)) for cpu in cpus})


def _topology(cpus: Iterable[int]) -> dict[int, tuple[int, int]]:
    """Each CPU's (physical package, core id) from sysfs, for the CPUs that report one."""
    found = {}
    for cpu in cpus:
        try:
            with (
                open(_TOPOLOGY.format(cpu, "physical_package_id")) as package,
                open(_TOPOLOGY.format(cpu, "core_id")) as core,
            ):
                found[cpu] = (int(package.read()), int(core.read()))
        except (OSError, ValueError):
            continue
    return found


def confined_cpus() -> frozenset[int] | None:
    """The CPUs this process may use where that is fewer than the machine has, else None."""
    try:
        allowed = frozenset(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux: nothing to confine
        return None
    return allowed if len(allowed) < (os.cpu_count() or len(allowed)) else None


def confined_default_threads() -> tuple[int, frozenset[int]] | None:
    """ONNX Runtime's default intra-op count on the cores this process is confined to, and
    those cores; None where it is not confined (ONNX Runtime's own default is then right)."""
    cpus = confined_cpus()
    if cpus is None:
        return None
    return max(1, physical_cores(cpus, _topology(cpus))), cpus
