"""A closed-form performance surface with seeded noise, for testing search without a server.

The formulas are a queueing caricature of a CPU (or GPU) serving host, shaped so searches face
what real ones do: throughput saturates with load, more instances help until they fight over
cores, batching helps only with dynamic batching (or client batches), queue delay buys a
little throughput for latency, memory grows with instances and batch size, and configurations
over the memory limit fail to load. Noise is multiplicative, log-normal and seeded per
(configuration, load), so re-measuring a point gives the same numbers in any order.

:func:`profile_surface` runs the product's search loop (``ProfileRun``, a real run store) on a
surface, with an in-memory deployer where the server would be.
"""

from __future__ import annotations

import math
import random
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tritune.analysis.configs import ConfigBest, ConfigResult, best_per_config
from tritune.analysis.constraints import Constraints
from tritune.analysis.objectives import Objectives
from tritune.config import ProfileConfig
from tritune.domain.devices import InstanceKind
from tritune.domain.layout import RunLayout
from tritune.domain.measurement import LoadMode, LoadPoint, Measurement, MeasurementStatus
from tritune.domain.metrics import (
    CPU_USED_RAM,
    GPU_USED_MEMORY,
    LATENCY_AVG,
    LATENCY_P99,
    THROUGHPUT,
    THROUGHPUT_SPREAD,
)
from tritune.domain.model import DYNAMIC, ModelSignature, TensorSpec
from tritune.domain.space import SearchSpace, Variant
from tritune.loadgen.result import window_spread
from tritune.profile.context import RunContext
from tritune.profile.orchestrator import ProfileRun
from tritune.profile.records import ModelFiles, RunConclusion
from tritune.search.factory import SearchPlan
from tritune.store import Store
from tritune.testing.deployer import InMemoryDeployer, measured_by

# The synthetic models batch (a dynamic first dimension), so their untuned default batches too.
SYNTHETIC_SIGNATURE = ModelSignature(
    inputs=(TensorSpec("x", "TYPE_FP32", (DYNAMIC, 16)),), outputs=(TensorSpec("y", "TYPE_FP32", (DYNAMIC, 16)),)
)


class Surface(Protocol):
    """What :func:`profile_surface` measures on: formulas (:class:`SyntheticSurface`) or a table of
    a real run's measurements (benchmarks/replay_search.py)."""

    @property
    def cores(self) -> int:
        """The CPU cores the run is told the server has (``knows_cores``)."""
        ...

    def measure(self, variant: Variant, load: LoadPoint, repeat: int = 0) -> Measurement:
        """One measurement; ``repeat`` 1, 2, ... are re-measurements of the point (fresh noise)."""
        ...


@dataclass(frozen=True)
class SyntheticSurface:
    """Throughput, latency and memory as formulas of the variant and the load.

    Args:
        cores: CPU cores; instances x threads beyond this oversubscribe and slow everyone.
        overhead_ms: fixed cost per executed batch (framework, Python backend), single-threaded;
            on a GPU with CUDA graphs, 0.6 of it (the kernel launches replayed as one).
        per_item_ms: cost per sample on one core (on a GPU: divided by ``gpu_speedup``).
        client_ms: client and network time per request, outside the server.
        noise: sigma of the log-normal noise on throughput and latency (0: exact).
        memory_limit_mb: configurations needing more fail to load (None: no limit).
        has_gpu: whether KIND_GPU instances can load.
    """

    cores: int = 8
    overhead_ms: float = 1.5
    per_item_ms: float = 2.0
    thread_exponent: float = 0.8
    client_ms: float = 0.3
    gpu_speedup: float = 12.0
    base_memory_mb: float = 300.0
    instance_memory_mb: float = 120.0
    per_item_memory_mb: float = 1.5
    memory_limit_mb: float | None = None
    has_gpu: bool = False
    noise: float = 0.02
    seed: int = 0

    def true_metrics(self, variant: Variant, load: LoadPoint) -> dict[str, float] | None:
        """Noise-free metrics, or None where the variant cannot load (no GPU, out of memory)."""
        serving = variant.serving
        gpu = serving.instance_kind == InstanceKind.KIND_GPU
        if gpu and not self.has_gpu:
            return None
        n = serving.instance_count
        mbs = serving.max_batch_size
        k = load.batch_size
        fp16 = variant.precision == "fp16"
        memory = self._memory(n, mbs, fp16)
        if self.memory_limit_mb is not None and memory > self.memory_limit_mb:
            return None

        threads = serving.runner.intra_op_threads or self.cores  # 0: ORT uses every core
        busy = n * threads / self.cores
        # Oversubscribed threads time-slice and thrash: everyone slows a bit more than linearly.
        contention = max(1.0, busy) * (1.0 + 0.15 * max(0.0, busy - 1.0))
        speed = min(threads, self.cores / n) ** self.thread_exponent
        per_item = self.per_item_ms * (0.6 if fp16 and gpu else 1.3 if fp16 else 1.0)
        overhead_ms = self.overhead_ms
        if gpu:
            speed, contention = self.gpu_speedup, 1.0 + 0.05 * (n - 1)
            if serving.runner.cuda_graph:  # one replayed launch instead of one per kernel
                overhead_ms *= 0.6

        delay_ms = 0.0
        if load.mode is LoadMode.REQUEST_RATE:
            waiting = max(1.0, load.value * (overhead_ms + per_item * k / speed) / 1000 / n)
        else:
            waiting = max(1.0, load.value / n)  # requests in flight per instance
        if serving.dynamic_batching is not None and mbs > 0:
            delay_ms = serving.dynamic_batching.max_queue_delay_us / 1000
            # Waiting a little lets more requests join a batch, with diminishing returns.
            fill = 0.55 + 0.45 * delay_ms / (delay_ms + 0.4)
            batch = min(float(mbs), max(float(k), k * waiting * fill))
        else:
            batch = float(k)
        compute_ms = (overhead_ms * max(1.0, n / self.cores) + per_item * batch / speed) * contention
        capacity = n * batch / compute_ms * 1000  # items/sec with every instance busy
        cycle_ms = compute_ms + self.client_ms + delay_ms / 2
        # Open loop: the rate is what is offered; closed loop: each client waits for its reply.
        rate_mode = load.mode is LoadMode.REQUEST_RATE
        offered = load.value * k if rate_mode else load.value * k / cycle_ms * 1000
        throughput = min(offered, capacity)
        utilization = throughput / capacity
        if load.mode is LoadMode.REQUEST_RATE:
            # Open loop: an M/D/1-like queue that explodes near saturation.
            latency = cycle_ms * (1 + utilization / max(1e-3, 2 * (1 - min(utilization, 0.999))))
        else:
            latency = max(cycle_ms, load.value * k / throughput * 1000)  # Little's law
        p99 = latency * (1.2 + 0.4 * utilization)
        memory_key = GPU_USED_MEMORY if gpu else CPU_USED_RAM
        return {
            THROUGHPUT: throughput,
            LATENCY_AVG: latency,
            LATENCY_P99: p99,
            memory_key: memory,
            CPU_USED_RAM: memory if not gpu else self.base_memory_mb,
        }

    def measure(self, variant: Variant, load: LoadPoint, repeat: int = 0) -> Measurement:
        """One noisy measurement, deterministic for (seed, variant, load, repeat): ``repeat`` 1, 2, ...
        draw fresh noise for re-measurements of a point (0 is the first measurement's)."""
        metrics = self.true_metrics(variant, load)
        if metrics is None:
            return Measurement(load, MeasurementStatus.FAILED, error="variant failed to load (out of memory)")
        again = f"|{repeat}" if repeat else ""  # repeat 0 keeps the values seeds always gave
        rng = random.Random(zlib.crc32(f"{self.seed}|{variant!r}|{load!r}{again}".encode()))
        throughput_noise = math.exp(rng.gauss(0, self.noise))
        latency_noise = math.exp(rng.gauss(0, self.noise))
        noisy = dict(metrics)
        noisy[THROUGHPUT] *= throughput_noise
        noisy[LATENCY_AVG] *= latency_noise
        noisy[LATENCY_P99] *= latency_noise
        if self.noise > 0:  # its windows scatter as measurements do: the measured noise
            windows = [math.exp(rng.gauss(0, self.noise)) for _ in range(3)]
            noisy[THROUGHPUT_SPREAD] = (window_spread(windows) or 0.0) * 100
        return Measurement(load, MeasurementStatus.OK, noisy)

    def _memory(self, n: int, mbs: int, fp16: bool) -> float:
        per_instance = self.instance_memory_mb * (0.5 if fp16 else 1.0) + self.per_item_memory_mb * max(mbs, 1)
        return self.base_memory_mb + n * per_instance


@dataclass(frozen=True)
class SurfaceRun:
    """What a profile run on a surface did: its plan, what it concluded, and its ranking."""

    plan: SearchPlan
    conclusion: RunConclusion
    measurements: int  # taken by the run's search (the store replays repeats for free)
    ranking: list[ConfigBest]

    @property
    def best(self) -> ConfigBest:
        """The search's best (its single measurements decide)."""
        return self.ranking[0]

    @property
    def pick(self) -> str | None:
        """The configuration the run concluded on (after the confirm step, when it ran)."""
        return self.conclusion.best_name

    @property
    def configs(self) -> list[ConfigResult]:
        return self.conclusion.configs


def profile_surface(
    config: ProfileConfig,
    surface: Surface,
    run_dir: Path,
    model: str = "m",
    *,
    knows_cores: bool = False,
    deployer: InMemoryDeployer | None = None,
) -> SurfaceRun:
    """Run the product's search (ProfileRun, a real store in ``run_dir``) on the surface, with an
    in-memory deployer in place of the server. ``knows_cores``: the run is told the surface's
    cores, as a session tells it the server's (the CPU space then searches threads and queue
    delays); off, the space is the one searched without that fact. ``deployer``: the in-memory
    deployer to use (one that serves a variant alone, say); a fresh one by default."""
    run_dir.mkdir(parents=True, exist_ok=True)
    model_file = run_dir / "synthetic.onnx"  # only its bytes matter: they are part of the run's identity
    model_file.write_bytes(b"synthetic")
    deployer = deployer or InMemoryDeployer()
    # Each re-measurement of a point (the confirm step's rounds) draws fresh noise, as a real
    # one does; the first is the one seeds always gave.
    taken: Counter[tuple[str, LoadPoint]] = Counter()

    def measure(variant: Variant, load: LoadPoint) -> Measurement:
        key = (repr(variant), load)
        taken[key] += 1
        return surface.measure(variant, load, repeat=taken[key] - 1)

    with Store.in_run_dir(run_dir) as store:
        run = ProfileRun(
            config=config,
            model=ModelFiles(model, {"fp32": model_file}, SYNTHETIC_SIGNATURE),
            layout=RunLayout(run_dir),
            context=RunContext(store, deployer, measured_by(measure, deployer)),
            cpu_cores=surface.cores if knows_cores else None,
        )
        run.search()
        run.confirm()
        conclusion = run.conclude()
    ranking = best_per_config(conclusion.configs, run.plan.objectives, run.plan.constraints)
    return SurfaceRun(run.plan, conclusion, run.measured_now, ranking)


def true_optimum(
    surface: SyntheticSurface,
    space: SearchSpace,
    objectives: Objectives,
    constraints: Constraints | None = None,
    *,
    loads: Iterable[float] = range(1, 257),
    batch_sizes: Sequence[int] | None = None,
) -> tuple[dict[str, object], float, float]:
    """The best feasible (point, load, score) of the noise-free surface, by enumeration."""
    constraints = constraints or Constraints()
    best: tuple[dict[str, object], float, float] | None = None
    values = list(loads)
    for point in space.grid():
        variant = space.variant(point)
        for value in values:
            metrics = surface.true_metrics(variant, LoadPoint(LoadMode.CONCURRENCY, value, variant.client_batch_size))
            if metrics is None or not constraints.satisfied(metrics):
                continue
            score = objectives.score(metrics)
            if best is None or score > best[2]:
                best = (dict(point), value, score)
    if best is None:
        raise ValueError("no feasible point on this surface: loosen the constraints")
    return best
