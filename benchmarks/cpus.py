"""Pinning the server and the load generator to separate cores, for the benchmarks.

On a small host a client's own CPU use otherwise slows the server it measures, and the
numbers then say more about that contention than about either."""

from __future__ import annotations

import os
from dataclasses import dataclass

from tritune.cpus import CpuSplit, usable_cpus


@dataclass(frozen=True)
class Cpus:
    """Which cores the server gets and which the load generator (all of them when not pinned)."""

    server: frozenset[int]
    client: frozenset[int]

    @classmethod
    def split(cls, server_cpus: int) -> Cpus:
        """tritune's own ``--server-cpus`` split; no pinning for 0 or when nothing would be
        left for the clients."""
        cpus = usable_cpus()
        if server_cpus < 1 or server_cpus >= len(cpus):
            return cls(cpus, cpus)
        split = CpuSplit.first_for_server(server_cpus, cpus)
        return cls(split.server, split.client)

    def server_started(self) -> None:
        """Call once the server (started with ``EmbeddedTriton(cpus=self.server)``) runs: clients
        started later from this process (load-generator workers, perf_analyzer) inherit the
        client cores."""
        os.sched_setaffinity(0, self.client)

    def describe(self) -> str:
        return f"server on CPUs {sorted(self.server)}, clients on {sorted(self.client)}"
