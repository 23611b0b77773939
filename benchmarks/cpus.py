"""Pinning the server and the load generator to separate cores, for the benchmarks.

On a small host a client's own CPU use otherwise slows the server it measures, and the
numbers then say more about that contention than about either."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Cpus:
    """Which cores the server gets and which the load generator (all of them when not pinned)."""

    server: frozenset[int]
    client: frozenset[int]

    @classmethod
    def split(cls, server_cpus: int) -> Cpus:
        """The first ``server_cpus`` cores for the server, the rest for the clients; no pinning
        for 0 or when nothing would be left for the clients."""
        cpus = sorted(os.sched_getaffinity(0))
        if server_cpus < 1 or server_cpus >= len(cpus):
            return cls(frozenset(cpus), frozenset(cpus))
        return cls(frozenset(cpus[:server_cpus]), frozenset(cpus[server_cpus:]))

    def starting_server(self) -> None:
        """Call before starting the server: it and its stubs inherit the server cores."""
        os.sched_setaffinity(0, self.server)

    def server_started(self) -> None:
        """Call once the server runs: clients started later from this process (load-generator
        workers, perf_analyzer) inherit the client cores."""
        os.sched_setaffinity(0, self.client)

    def describe(self) -> str:
        return f"server on CPUs {sorted(self.server)}, clients on {sorted(self.client)}"
