"""The runner's ONNX Runtime threads stay on the cores the server may use.

Left at 0, ONNX Runtime pins its intra-op pool threads to the machine's physical cores whatever
the process's affinity (seen on this 2-core host: under ``taskset -c 0`` a pool thread pinned to
CPU 1). The count logic is pure; one real session in a child process confined to one CPU shows
every thread of it stays there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tritune.runner.cpu_threads import physical_cores
from tritune.testing.models import mlp_model


def test_physical_cores_count_hyperthread_siblings_once() -> None:
    # CPUs 0 and 8 are one core's two threads; 1 is another core; 3 has no topology.
    topology = {0: (0, 0), 8: (0, 0), 1: (0, 1), 9: (0, 1), 16: (1, 0)}
    assert physical_cores({0, 8}, topology) == 1
    assert physical_cores({0, 8, 1}, topology) == 2
    assert physical_cores({0, 16}, topology) == 2  # core 0 of two packages: two cores
    assert physical_cores({3, 4}, topology) == 2  # unknown: each its own core
    assert physical_cores(set(), topology) == 0


_CHILD = """
import json, os, sys
import numpy as np
from tritune.runner.runtimes.base import Device
from tritune.runner.runtimes.ort import OnnxRuntimeRuntime
runtime = OnnxRuntimeRuntime(sys.argv[1], {"intra_op_threads": sys.argv[2]}, Device("CPU", 0))
name = runtime.input_names[0]
for _ in range(20):
    runtime.run({name: np.random.rand(64, 256).astype(np.float32)})
threads = {t: sorted(os.sched_getaffinity(int(t))) for t in os.listdir("/proc/self/task")}
print(json.dumps({"process": sorted(os.sched_getaffinity(0)), "threads": threads, "describe": runtime.describe()}))
"""


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="confining a process needs a host of 2 CPUs or more")
def test_a_confined_server_keeps_onnx_runtimes_default_threads_on_its_cores(tmp_path: Path) -> None:
    model = mlp_model(tmp_path / "threads_mlp.onnx", width=256, depth=2)
    cpu = min(os.sched_getaffinity(0))
    outcome = subprocess.run(
        [sys.executable, "-c", _CHILD, str(model), "0"],
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=lambda: os.sched_setaffinity(0, {cpu}),
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        timeout=300,
    )
    seen = json.loads(outcome.stdout.strip().splitlines()[-1])
    assert seen["process"] == [cpu]
    assert {tuple(cpus) for cpus in seen["threads"].values()} == {(cpu,)}, seen["threads"]
    assert "intra-op threads 1 (ONNX Runtime's default" in seen["describe"]
