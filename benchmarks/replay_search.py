"""The default search replayed on a brute-force run's real measurements, many times, with seeded noise.

search_vs_brute.py measures 5 default runs against brute force on a host, at the price of every
measurement (tens of minutes a model). This replays the product's default search (``ProfileRun``:
its space, its searcher, its confirm step, a real SQLite store) on the measurements a brute-force
run stored there (``<work-dir>/<model>/brute/tritune.db``: on a GPU host,
``.work/search/<model>/brute`` of ``tools/gpu_host/run.sh search``, or its ``search.tar.gz``
unpacked), so its pick rate on that host's surface is known in seconds and over many seeds, before
(or beside) the measured runs.

The surface: each configuration's stored throughput per concurrency, the median of its rounds
where brute force's confirm step measured it again (a load the brute sweep did not reach takes
its nearest measured one, on a log scale: a sweep stops where throughput stops growing). Each
replayed measurement multiplies it by log-normal noise of sigma ``--noise``, seeded per (seed,
configuration, load, repeat), so the confirm step's rounds draw fresh noise as real
re-measurements do. The truth is what brute force stored, one measurement for most points:
itself noisy, so read the rate as the search's on that surface, not on the host (near-ties on
the host are orderings of noise there).

Printed per noise level: how often the pick is within 2 % of the surface's best (issue #15's
target: 5 of 5 on the host), the median objective ratio and its range, and the median number
of configurations and measurements against brute force's.

Usage: python benchmarks/replay_search.py WORK_DIR/MODEL/brute [--server-cpus 3] [--seeds 100]
    [--noise 0.03,0.08]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import tempfile
import zlib
from pathlib import Path

from tritune.config import ProfileConfig, parse_profile_config
from tritune.domain.measurement import LoadPoint, Measurement, MeasurementStatus
from tritune.domain.serving import ServingConfig
from tritune.domain.space import Variant
from tritune.store import Store
from tritune.store.sqlite import RunRecord
from tritune.testing.deployer import InMemoryDeployer
from tritune.testing.synthetic import profile_surface

Key = tuple[object, ...]


def knob_key(serving: ServingConfig) -> Key:
    """What the searched knobs set: the same for a stored variant and a replayed one (the runner's
    file name and paths differ between them)."""
    batching = serving.dynamic_batching
    return (
        serving.max_batch_size,
        serving.instance_count,
        serving.instance_kind,
        None if batching is None else batching.max_queue_delay_us,
        serving.runner.intra_op_threads,
        serving.runner.inter_op_threads,
    )


def stored_surface(brute_dir: Path) -> tuple[RunRecord, dict[Key, dict[float, float]]]:
    """The brute-force run (its model and settings) and, per configuration, its stored throughput
    by concurrency (ok ones)."""
    with Store.in_run_dir(brute_dir) as store:
        (run,) = store.runs()
        surface: dict[Key, dict[float, float]] = {}
        for variant in store.variants(run.id):
            by_load: dict[float, list[float]] = {}
            for record in store.measurements(variant.id, repeats=True):  # the confirm step's rounds too
                if record.measurement.status is MeasurementStatus.OK:
                    by_load.setdefault(record.measurement.load.value, []).append(
                        record.measurement.metrics["perf_throughput"]
                    )
            if by_load:
                loads = {value: statistics.median(rounds) for value, rounds in by_load.items()}
                surface.setdefault(knob_key(variant.serving), {}).update(loads)
        return run, surface


class Replay:
    """Measurements drawn from the stored surface with seeded noise (a :class:`Surface`)."""

    def __init__(self, surface: dict[Key, dict[float, float]], noise: float, seed: int, cores: int) -> None:
        self.surface, self.noise, self.seed, self.cores = surface, noise, seed, cores
        self.measured: set[Key] = set()  # the configurations the search measured
        self.unknown: set[Key] = set()  # ... of which the store has none

    def measure(self, variant: Variant, load: LoadPoint, repeat: int = 0) -> Measurement:
        key = knob_key(variant.serving)
        self.measured.add(key)
        loads = self.surface.get(key)
        if not loads:
            self.unknown.add(key)
            return Measurement(load, MeasurementStatus.FAILED, error="not in the brute-force store")
        true = loads[min(loads, key=lambda v: abs(math.log(v) - math.log(load.value)))]
        draw = random.Random(zlib.crc32(f"{self.seed}|{key}|{load.value}|{repeat}".encode()))
        throughput = true * math.exp(draw.gauss(0, self.noise))
        # Latency by Little's law at this concurrency: the objective is throughput alone.
        latency_ms = 1000.0 * load.value / throughput
        metrics = {"perf_throughput": throughput, "perf_latency_p99": latency_ms, "perf_latency_avg": latency_ms}
        return Measurement(load, MeasurementStatus.OK, metrics)


def replay_once(config: ProfileConfig, model: str, replay: Replay, run_dir: Path) -> tuple[Key | None, int, int]:
    """One default run on the replayed surface: its pick's knobs, configurations, measurements."""
    deployer = InMemoryDeployer()
    run = profile_surface(config, replay, run_dir, model, knows_cores=True, deployer=deployer)
    pick = None if run.pick is None else knob_key(deployer.written[run.pick][0])
    return pick, run.conclusion.facts.configurations, run.measurements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("brute_dir", type=Path, help="a brute-force run folder of search_vs_brute.py (its tritune.db)")
    parser.add_argument(
        "--server-cpus", type=int, help="the cores that run's server had, for its space (default: its --server-cpus)"
    )
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--noise", default="0.03,0.08", help="sigmas of the log-normal noise, comma-separated")
    args = parser.parse_args()
    run, surface = stored_surface(args.brute_dir)
    model = run.model_name
    best_key, best = max(((k, max(loads.values())) for k, loads in surface.items()), key=lambda kv: kv[1])
    measured = sum(len(loads) for loads in surface.values())
    print(
        f"{model}: {len(surface)} configurations, {measured} measurements stored; best {best:,.0f} infer/s {best_key}"
    )
    # The brute-force run's own settings (its space, bounds and objectives), searched the default way.
    config = parse_profile_config({**run.settings["config"], "run_config_search_mode": "default"})
    cores = args.server_cpus or config.measurement.server_cpus
    if cores is None:
        raise SystemExit("that run did not pin its server: give --server-cpus (the cores its server could use)")
    for sigma in (float(v) for v in args.noise.split(",")):
        ratios, configs, counts, unknown, found = [], [], [], set(), 0
        with tempfile.TemporaryDirectory(prefix="tritune-replay-") as tmp:
            for seed in range(args.seeds):
                replay = Replay(surface, sigma, seed, cores)
                pick, n_configs, n_measured = replay_once(config, model, replay, Path(tmp) / str(seed))
                unknown |= replay.unknown
                found += best_key in replay.measured
                ratios.append(max(surface[pick].values()) / best if pick in surface else 0.0)
                configs.append(n_configs)
                counts.append(n_measured)
        within = sum(1 for r in ratios if r >= 0.98)
        print(
            f"  noise {sigma:.0%}: within 2 % of the best in {within}/{args.seeds} runs; objective ratio median "
            f"{statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f}); configurations "
            f"{statistics.median(configs):.0f} of {len(surface)}, "
            f"measurements {statistics.median(counts):.0f} of {measured}; the best configuration measured "
            f"in {found} runs"
        )
        if unknown:
            print(
                f"    asked for {len(unknown)} configurations the store lacks (a different space?): "
                f"{sorted(unknown, key=str)[:3]}"
            )


if __name__ == "__main__":
    main()
