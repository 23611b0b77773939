"""Brute force against the default search on the same grid, on real models and the real
embedded Triton.

For each model: run brute force over a small grid, then the default search over the same
grid, each as ``tritune profile`` runs it (ProfileSession: its own server, store and run
folder). Then measure both winners again side by side (alternating, five rounds, median) so
the objective ratio compares configurations, not the luck of one noisy measurement; each
winner's spread over those rounds ((max - min) / median) is printed beside it, the noise floor
of that ratio. ``--server-cpus N`` (the profile's ``server_cpus``) pins the server to the
first N cores and the load generator to the rest. On a 2-core host sharing the cores lets
the client's own CPU use swing the server's throughput by half from one measurement to the
next (a CNN at concurrency 32: 56 % spread shared, 15 % with one core each), but one core
leaves MiniLM's configurations all at one throughput, a flat surface the search wanders on;
so the default is no pinning there, and on a bigger host give the server a few cores.

Cases: ``cnn`` (a small CNN) and ``minilm`` (a BERT-like model) are model files served by
tritune's runner; ``repo`` is an entry of a user's own model repository (``--model-repository``
mode): a Python-backend ``model.py`` running the same CNN through ONNX Runtime with its own
``parameters``, served by its own backend, each variant its config.pbtxt with only the searched
fields changed. The grid is the same for all three.

Prints, per model:

    objective ratio = default's winner / brute's winner (throughput, re-measured)   target >= 0.98
    time ratio      = default's measurement time / brute's (sums of measurement durations)   target <= 0.2
                      (the wall-clock ratio, variant loads included, is printed beside it)

Usage: python benchmarks/search_vs_brute.py [--window-ms 300] [--models cnn,minilm,repo] [--server-cpus 0]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tritune.config import ProfileConfig, parse_profile_config
from tritune.cpus import CpuSplit, client_side, server_split
from tritune.domain.measurement import LoadPoint
from tritune.domain.serving import ServingConfig
from tritune.loadgen import WorkerPool, make_measure_fn
from tritune.profile.notify import QuietNotifier
from tritune.profile.orchestrator import RunConclusion
from tritune.profile.session import ProfileSession, measure_options
from tritune.store import Store
from tritune.testing.models import MINILM_INPUT_NAMES, cnn_model, minilm_path
from tritune.testing.user_repository import write_onnx_python_model
from tritune.triton.control import ModelControl
from tritune.triton.repository import deploy_onnx
from tritune.triton.server import EmbeddedTriton
from tritune.triton.user_model import Placement, read_user_model, variant_config, write_entry

GRID: dict[str, Any] = {  # 3 x 3 x 3 = 27 configurations
    "max_batch_size": [1, 4, 16],
    "instance_group": [{"count": [1, 2, 3], "kind": ["KIND_CPU"]}],
    "dynamic_batching": {"max_queue_delay_microseconds": ["off", 0, 2000]},
}
SHAPES = {"minilm": {name: [32] for name in MINILM_INPUT_NAMES}}
# Writes a configuration of the case's model as an entry ``<repository>/<name>``.
Deploy = Callable[[Path, str, ServingConfig], object]


@dataclass(frozen=True)
class Case:
    model: dict[str, Any]  # the model's keys of the profile config (profile_models, model_repository)
    deploy: Deploy


def file_case(name: str, path: Path) -> Case:
    """A model file, served by tritune's runner."""
    return Case(
        {"profile_models": {name: {"model_path": str(path), "model_config_parameters": GRID}}},
        lambda repository, entry, serving: deploy_onnx(repository, entry, path, serving),
    )


def repository_case(name: str, work: Path) -> Case:
    """An entry of the user's own repository: their model.py running the CNN through ONNX Runtime
    (their parameters: an output scale, one ONNX Runtime thread), served by Triton's Python backend."""
    repository = work / "user_models"
    if not (repository / name).is_dir():
        onnx_file = cnn_model(work / "repo_cnn" / "cnn.onnx")
        write_onnx_python_model(
            repository, name, onnx_file, (("x", (3, 32, 32)), ("logits", (10,))), max_batch_size=8, scale=0.5
        )
    user = read_user_model(repository, name)
    return Case(
        {"model_repository": str(repository), "profile_models": {name: {"model_config_parameters": GRID}}},
        lambda to, entry, serving: write_entry(
            to, entry, user, variant_config(user.config, entry, serving), Placement.LINK
        ),
    )


def settings(name: str, case: Case, mode: str, window_ms: int, server_cpus: int | None) -> ProfileConfig:
    return parse_profile_config(
        {
            **case.model,
            "run_config_search_mode": mode,
            "run_config_search_max_concurrency": 32,
            "objectives": {"perf_throughput": 1},
            "measurement": {
                "protocol": "grpc",
                "measurement_interval": window_ms,
                "stability_percentage": 15,
                "max_trials": 8,
                "shape": SHAPES.get(name, {}),
                "server_cpus": server_cpus,
            },
        }
    )


def spread(values: list[float]) -> float:
    return (max(values) - min(values)) / statistics.median(values) if values else 0.0


class SearchClock(QuietNotifier):
    """Times the search alone (not the server's start or the conclusion)."""

    seconds = 0.0

    @contextlib.contextmanager
    def progress(self) -> Iterator[object]:
        started = time.monotonic()
        try:
            yield None
        finally:
            self.seconds = time.monotonic() - started


def search(config: ProfileConfig, run_dir: Path) -> tuple[float, float, RunConclusion, Any, LoadPoint]:
    """One search as ``tritune profile`` runs it (its own server, store and output repository)."""
    clock = SearchClock()
    (conclusion,) = ProfileSession(config, clock).run(run_dir=run_dir, export=None, report=False)
    mode = config.run_config_search_mode
    if conclusion.best_name is None:
        raise SystemExit(f"{mode} search found no usable configuration: see {run_dir}")
    with Store.in_run_dir(run_dir) as store:
        winner = next(v for v in store.variants(conclusion.run.id) if v.name == conclusion.best_name)
        records = store.iter_run_measurements(conclusion.run.id)
        measuring_s = sum(record.duration_s or 0.0 for _, record in records)
    best = next(
        m
        for c in conclusion.configs
        if c.name == winner.name
        for m in c.measurements
        if m.metrics.get("perf_throughput") == conclusion.facts.throughput
    )
    return clock.seconds, measuring_s, conclusion, winner, best.load


def side_by_side(
    config: ProfileConfig, deploy: Deploy, work: Path, winners: dict[str, tuple[Any, LoadPoint]], rounds: int = 5
) -> dict[str, list[float]]:
    """Both winners on one server, measured alternately so drift hits both alike."""
    repo = work / "side_by_side"
    for name, (serving, _) in winners.items():
        deploy(repo, name, serving)
    results: dict[str, list[float]] = {name: [] for name in winners}
    split: CpuSplit | None = server_split(config.measurement.server_cpus)
    with (
        EmbeddedTriton(repo, cpus=split.server if split else None) as server,
        ModelControl(server) as control,
        client_side(split),  # before the pool, whose workers inherit the cores
        WorkerPool() as workers,
    ):
        measure = make_measure_fn(server, measure_options(config.measurement), workers)
        for name in winners:
            control.load(name)
        for _ in range(rounds):
            for name, (_, load) in winners.items():
                results[name].append(measure(name, load).metrics.get("perf_throughput", 0.0))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window-ms", type=int, default=300)
    parser.add_argument("--models", default="cnn,minilm", help="of cnn, minilm, repo (a user's model.py)")
    parser.add_argument("--work-dir", type=Path, help="Keep the runs here (default: a temporary directory).")
    parser.add_argument(
        "--server-cpus",
        type=int,
        default=0,
        help="cores pinned to the server, the rest to the load generator (0: no pinning)",
    )
    args = parser.parse_args()
    server_cpus = args.server_cpus or None
    split = server_split(server_cpus)
    print(split.describe() if split else "no pinning")
    rows = []
    with tempfile.TemporaryDirectory(prefix="tritune-bench-") as tmp:
        work = args.work_dir or Path(tmp)
        # Built or looked up only when asked for: a host may lack MiniLM.
        cases: dict[str, Callable[[], Case]] = {
            "cnn": lambda: file_case("cnn", cnn_model(work / "cnn.onnx")),
            "minilm": lambda: file_case("minilm", minilm_path()),
            "repo": lambda: repository_case("repo", work),
        }
        for name in args.models.split(","):
            case = cases[name]()
            brute_config = settings(name, case, "brute", args.window_ms, server_cpus)
            brute_s, brute_measuring_s, brute, brute_winner, brute_load = search(brute_config, work / name / "brute")
            fast_config = settings(name, case, "default", args.window_ms, server_cpus)
            fast_s, fast_measuring_s, fast, fast_winner, fast_load = search(fast_config, work / name / "default")
            checked = side_by_side(
                brute_config,
                case.deploy,
                work / name,
                {"check_brute": (brute_winner.serving, brute_load), "check_default": (fast_winner.serving, fast_load)},
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
