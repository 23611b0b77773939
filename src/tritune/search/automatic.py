"""The automatic values of the dimensions the hardware decides, pure functions of the host's facts.

The session finds the facts (a GPU the runner's ONNX Runtime can use, its providers, the cores
the server may run on) and :func:`tritune.search.factory.build_space` asks these functions what
they add to the automatic space; a fact that is not known (None, False) adds nothing, so a space
built without facts is the one Model Analyzer searches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tritune.domain.devices import CPU, CUDA, TENSORRT

# Queue delays a GPU is searched with (us): a GPU's batch costs little more than one request, so
# waiting a little to fill it may pay; three values keep the climb's neighbourhood small.
GPU_QUEUE_DELAYS_US: tuple[int, ...] = (0, 100, 500)
# Queue delays the CPU is searched with (us) where its cores are known: a CPU's batch costs
# nearly in proportion to its size, so waiting pays less often and needs a longer wait to fill a
# batch (2 ms); ordered, so the climb walks them like any ordered knob.
CPU_QUEUE_DELAYS_US: tuple[int, ...] = (0, 100, 500, 2000)
TENSORRT_PROVIDER = TENSORRT
# TensorRT first, CUDA for the nodes it does not take, the CPU for the rest.
TENSORRT_PROVIDERS = (TENSORRT, CUDA, CPU)


@dataclass(frozen=True)
class AutomaticValues:
    """The automatic values of the dimensions the hardware decides (first: the default's)."""

    precisions: tuple[str, ...] = ()  # empty: the default configuration's precision alone
    providers: tuple[tuple[str, ...], ...] = ((),)
    delays: tuple[int, ...] = (0,)
    threads: tuple[int, ...] = (0,)  # the runner's intra-op threads; 0: the runtime's default
    cores: int | None = None  # set: a CPU point keeps instances x threads within these cores
    cuda_graphs: tuple[bool, ...] = (False,)  # the runner's CUDA graphs (off first: the default's)


def gpu_automatic(*, gpu: bool, runner: bool, precisions: Sequence[str], providers: Sequence[str]) -> AutomaticValues:
    """What a GPU adds to the automatic space, a pure function of the facts: queue delays for any
    backend; for tritune's runner, the model's validated precisions (fp32 first), TensorRT
    where ONNX Runtime offers it (the runner's default, (), is CUDA on a GPU instance), and CUDA
    graphs: one replayed launch per padded batch shape, which pays most where kernels are short
    (a small model, small batches) and where the CPU launching them is busy."""
    if not gpu:
        return AutomaticValues()
    if not runner:
        return AutomaticValues(delays=GPU_QUEUE_DELAYS_US)
    chosen: list[tuple[str, ...]] = [()]
    if TENSORRT_PROVIDER in providers:
        chosen.append(TENSORRT_PROVIDERS)
    ordered = tuple(sorted(precisions, key=lambda p: p != "fp32"))
    return AutomaticValues(ordered, tuple(chosen), GPU_QUEUE_DELAYS_US, cuda_graphs=(False, True))


def cpu_automatic(*, cores: int | None, runner: bool, instance_counts: Sequence[int]) -> AutomaticValues:
    """What known cores add to the automatic CPU space: queue delays for any backend, and for
    tritune's runner its intra-op threads, searched together with the instance count.

    The thread counts are, for each instance count n, the ``cores // n`` that fills the cores
    (at least 1), ascending, then 0 (the runtime's default, every core: the untuned default's
    value, legal for one instance only): ``(1, 2, 0)`` on 2 cores, ``(1, 2, 4, 8, 0)`` on 8.
    :func:`tritune.domain.space.repair` keeps a CPU point's instances x threads within ``cores``
    (1 thread always legal), taking the largest legal count at or below the proposed one, so a
    climb from the default (1 instance, 0) to n instances tries ``cores // n`` threads each
    first: 1 thread per instance from ``cores // 2`` instances on (every multi-instance point
    of a 2-core host), the cores shared out below that (one thread each for 2 instances on 16
    cores would leave 14 idle). ``cores`` None (not known, e.g. a remote server): nothing is
    added. A backend of the user's own keeps its own thread knobs (domain/backends.py).
    """
    if cores is None:
        return AutomaticValues()
    if not runner:
        return AutomaticValues(delays=CPU_QUEUE_DELAYS_US)
    fills = sorted({max(1, cores // n) for n in instance_counts if n > 0} | {1})
    return AutomaticValues(delays=CPU_QUEUE_DELAYS_US, threads=(*fills, 0), cores=cores)
