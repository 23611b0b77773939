"""Brute force against the default search on the same grid, on real models and the real
embedded Triton.

For each model: run brute force over a small grid, then the default search over the same
grid (each with its own store), on one server. Then measure both winners again side by side
(alternating, five rounds, median) so the objective ratio compares configurations, not the
luck of one noisy measurement; each winner's spread over those rounds ((max - min) / median)
is printed beside it, the noise floor of that ratio. ``--server-cpus N`` pins the server to
the first N cores and the load generator to the rest. On a 2-core host sharing the cores lets
the client's own CPU use swing the server's throughput by half from one measurement to the
next (a CNN at concurrency 32: 56 % spread shared, 15 % with one core each), but one core
leaves MiniLM's configurations all at one throughput, a flat surface the search wanders on;
so the default is no pinning there, and on a bigger host give the server a few cores.
Prints, per model:

    objective ratio = default's winner / brute's winner (throughput, re-measured)   target >= 0.98
    time ratio      = default's measurement time / brute's (sums of measurement durations)   target <= 0.2
                      (the wall-clock ratio, variant loads included, is printed beside it)

Usage: python benchmarks/search_vs_brute.py [--window-ms 300] [--models cnn,minilm] [--server-cpus 0]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from cpus import Cpus

from tritune.config import parse_profile_config
from tritune.domain.measurement import LoadPoint
from tritune.loadgen import MeasureOptions, StabilityCriteria, WindowSpec, WorkerPool, make_measure_fn
from tritune.profile.orchestrator import OUTPUT_REPOSITORY, ModelFiles, ProfileOutcome, ProfileRun
from tritune.store import Store
from tritune.testing.models import MINILM_INPUT_NAMES, cnn_model, minilm_path
from tritune.triton.control import ModelControl
from tritune.triton.model_config import read_signature
from tritune.triton.repository import deploy_onnx
from tritune.triton.server import EmbeddedTriton

GRID: dict[str, Any] = {  # 3 x 3 x 3 = 27 configurations
    "max_batch_size": [1, 4, 16],
    "instance_group": [{"count": [1, 2, 3], "kind": ["KIND_CPU"]}],
    "dynamic_batching": {"max_queue_delay_microseconds": ["off", 0, 2000]},
}


def settings(name: str, path: Path, mode: str) -> dict[str, Any]:
    return {
        "profile_models": {name: {"model_path": str(path), "model_config_parameters": GRID}},
        "run_config_search_mode": mode,
        "run_config_search_max_concurrency": 32,
        "objectives": {"perf_throughput": 1},
    }


def spread(values: list[float]) -> float:
    return (max(values) - min(values)) / statistics.median(values) if values else 0.0


def search(
    mode: str, model: ModelFiles, work: Path, options: MeasureOptions, cpus: Cpus
) -> tuple[float, float, ProfileOutcome, Any, LoadPoint]:
    """One search on its own server, whose repository is the run's output repository."""
    config = parse_profile_config(settings(model.name, model.files["fp32"], mode))
    run_dir = work / mode
    (run_dir / OUTPUT_REPOSITORY).mkdir(parents=True, exist_ok=True)
    with (
        EmbeddedTriton(run_dir / OUTPUT_REPOSITORY, cpus=cpus.server) as server,
        Store.in_run_dir(run_dir) as store,
        ModelControl(server) as control,
        WorkerPool() as workers,
    ):
        cpus.server_started()
        run = ProfileRun(
            config=config,
            model=model,
            run_dir=run_dir,
            store=store,
            control=control,
            measure=make_measure_fn(server, options, workers),
        )
        started = time.monotonic()
        run.search()
        elapsed = time.monotonic() - started
        outcome: ProfileOutcome = run.conclude()
        if outcome.best_name is None:
            raise SystemExit(f"{mode} search on {model.name} found no usable configuration: see {run_dir}")
        winner = next(v for v in store.variants(run.run.id) if v.name == outcome.best_name)
        measuring_s = sum(record.duration_s or 0.0 for _, record in store.iter_run_measurements(run.run.id))
    best = next(
        m
        for c in outcome.configs
        if c.name == winner.name
        for m in c.measurements
        if m.metrics.get("perf_throughput") == outcome.facts.throughput
    )
    return elapsed, measuring_s, outcome, winner, best.load


def side_by_side(
    model: ModelFiles,
    work: Path,
    winners: dict[str, tuple[Any, LoadPoint]],
    options: MeasureOptions,
    cpus: Cpus,
    rounds: int = 5,
) -> dict[str, list[float]]:
    """Both winners on one server, measured alternately so drift hits both alike."""
    repo = work / "side_by_side"
    for name, (serving, _) in winners.items():
        deploy_onnx(repo, name, model.files["fp32"], serving)
    results: dict[str, list[float]] = {name: [] for name in winners}
    with EmbeddedTriton(repo, cpus=cpus.server) as server, ModelControl(server) as control, WorkerPool() as workers:
        cpus.server_started()
        measure = make_measure_fn(server, options, workers)
        for name in winners:
            control.load(name)
        for _ in range(rounds):
            for name, (_, load) in winners.items():
                results[name].append(measure(name, load).metrics.get("perf_throughput", 0.0))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window-ms", type=int, default=300)
    parser.add_argument("--models", default="cnn,minilm")
    parser.add_argument("--work-dir", type=Path, help="Keep the runs here (default: a temporary directory).")
    parser.add_argument(
        "--server-cpus",
        type=int,
        default=0,
        help="cores pinned to the server, the rest to the load generator (0: no pinning)",
    )
    args = parser.parse_args()
    cpus = Cpus.split(args.server_cpus)
    print(cpus.describe())
    base = MeasureOptions(
        window=WindowSpec(window_ns=args.window_ms * 1_000_000),
        stability=StabilityCriteria(threshold=0.15, max_windows=8),
    )
    shapes = {"minilm": {name: (32,) for name in MINILM_INPUT_NAMES}}
    rows = []
    with tempfile.TemporaryDirectory(prefix="tritune-bench-") as tmp:
        work = args.work_dir or Path(tmp)
        # Built or looked up only when asked for: a host may lack MiniLM.
        paths = {"cnn": lambda: cnn_model(work / "cnn.onnx"), "minilm": minilm_path}
        for name in args.models.split(","):
            path = paths[name]()
            model = ModelFiles(name=name, files={"fp32": path}, signature=read_signature(path))
            options = dataclasses.replace(base, shapes=shapes.get(name, {}))
            brute_s, brute_measuring_s, brute, brute_winner, brute_load = search(
                "brute", model, work / name, options, cpus
            )
            fast_s, fast_measuring_s, fast, fast_winner, fast_load = search(
                "default", model, work / name, options, cpus
            )
            checked = side_by_side(
                model,
                work / name,
                {"check_brute": (brute_winner.serving, brute_load), "check_default": (fast_winner.serving, fast_load)},
                options,
                cpus,
            )
            brute_tp, fast_tp = checked["check_brute"], checked["check_default"]
            row = {
                "model": name,
                "grid": brute.facts.configurations,
                "brute": (brute.facts.measurements, brute_s, brute_winner.params, brute_load.value),
                "default": (fast.facts.measurements, fast_s, fast_winner.params, fast_load.value),
                "objective_ratio": statistics.median(fast_tp) / statistics.median(brute_tp),
                "search_ratio": (fast.facts.throughput or 0.0) / (brute.facts.throughput or float("nan")),
                "time_ratio": fast_measuring_s / brute_measuring_s,
                "wall_ratio": fast_s / brute_s,
                "measurement_ratio": fast.facts.measurements / brute.facts.measurements,
            }
            rows.append(row)
            print_row(row, brute_tp, fast_tp)
    print("\nsummary (targets: objective ratio >= 0.98, time ratio <= 0.2)")
    for row in rows:
        print(
            f"  {row['model']:8s} objective ratio {row['objective_ratio']:.3f}  "
            f"(as found in search: {row['search_ratio']:.3f})  measurement-time ratio {row['time_ratio']:.3f}  "
            f"(wall clock with variant loads: {row['wall_ratio']:.3f})  measurement count ratio "
            f"{row['measurement_ratio']:.3f}"
        )


def print_row(row: dict[str, Any], brute_tp: list[float], fast_tp: list[float]) -> None:
    print(f"\n== {row['model']}: {row['grid']} configurations in the grid")
    for label, (count, seconds, params, load) in (("brute", row["brute"]), ("default", row["default"])):
        print(
            f"  {label:8s} {count:4d} measurements in {seconds:7.1f} s; winner {dict(params)} at concurrency {load:g}"
        )
    print(
        "  winners re-measured side by side (infer/s): "
        f"brute {[round(v) for v in brute_tp]} (spread {spread(brute_tp):.0%}), "
        f"default {[round(v) for v in fast_tp]} (spread {spread(fast_tp):.0%})"
    )


if __name__ == "__main__":
    main()
