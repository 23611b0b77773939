"""Which cores the embedded server and the load generator run on (``--server-cpus``).

On a small host the load generator's own CPU use slows the server it measures; pinning the two
to separate cores turns that contention into a fixed split, and repeated measurements agree
far better (docs/benchmarks.md). The
split is pure; ``usable_cpus`` and ``pinned`` are the only system calls.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from tritune.errors import UsageError


def usable_cpus() -> frozenset[int]:
    """The cores this process may run on (a container's or a taskset's share, not the host's)."""
    try:
        return frozenset(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return frozenset(range(os.cpu_count() or 1))


def _ranges(cpus: Iterable[int]) -> str:
    """``0-3,8`` for {0, 1, 2, 3, 8}, as taskset and lscpu write them."""
    parts = []
    # Consecutive cores share value - position: one group per run.
    for _, run in itertools.groupby(enumerate(sorted(cpus)), key=lambda pair: pair[1] - pair[0]):
        cores = [cpu for _, cpu in run]
        parts.append(str(cores[0]) if len(cores) == 1 else f"{cores[0]}-{cores[-1]}")
    return ",".join(parts)


@dataclass(frozen=True)
class CpuSplit:
    server: frozenset[int]
    client: frozenset[int]

    @classmethod
    def first_for_server(cls, count: int, available: Iterable[int]) -> CpuSplit:
        """The first ``count`` of the available cores for the server, the rest for the client."""
        cores = sorted(set(available))
        if count < 1:
            raise UsageError(f"--server-cpus {count}: give at least 1")
        if count >= len(cores):
            raise UsageError(
                f"--server-cpus {count} leaves no core for the load generator: tritune may use "
                f"{len(cores)} cores ({_ranges(cores)}); give at most {len(cores) - 1}"
            )
        return cls(frozenset(cores[:count]), frozenset(cores[count:]))

    def describe(self) -> str:
        return f"server on CPUs {_ranges(self.server)}, load generator on CPUs {_ranges(self.client)}"


@contextlib.contextmanager
def pinned(cpus: frozenset[int]) -> Iterator[None]:
    """This process (and what it starts from now on) on ``cpus``; the old set restored after."""
    before = usable_cpus()
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def server_split(server_cpus: int | None, remote: bool = False) -> CpuSplit | None:
    """The split ``--server-cpus`` asks for (None: no pinning), checked against this process's cores."""
    if server_cpus is None:
        return None
    if remote:
        raise UsageError("--server-cpus pins the embedded server: a server given by URL runs elsewhere; drop one")
    return CpuSplit.first_for_server(server_cpus, usable_cpus())


def client_side(split: CpuSplit | None) -> contextlib.AbstractContextManager[None]:
    """Pins this process, the load generator, to the split's client cores (nothing for None)."""
    return contextlib.nullcontext() if split is None else pinned(split.client)


def server_cores(split: CpuSplit | None, remote: bool = False) -> int | None:
    """How many cores the server may use, a fact for the CPU search space: the split's server
    cores, else every core this process may use; None for a server given by URL (it runs
    elsewhere, on cores tritune cannot see)."""
    if remote:
        return None
    return len(split.server) if split is not None else len(usable_cpus())
