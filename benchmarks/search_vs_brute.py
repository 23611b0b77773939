"""Brute force against the default search on the same space, on real models and the real
embedded Triton.

For each model: run brute force over a small space, then the default search over the same
space (``--repeats`` times, each a fresh run), each as ``tritune profile`` runs it
(ProfileSession: its own server, store and run folder, and the space it builds from this
host's cores). Then measure brute force's winner and each default pick again side by side
(interleaved, ``--rounds`` rounds, median) so the objective ratio compares configurations, not
the luck of one noisy measurement; each one's spread over those rounds ((max - min) / median)
is printed beside it, the noise floor of that ratio.

The space: the max batch sizes and instance counts given (``--batch-sizes``, ``--instances``);
the runner's intra-op threads and the queue delays are the automatic ones for the server's
cores (instances x threads within the cores: on 2 cores one instance with 1, 2 or every core's
threads, more instances one thread each; delays 0, 100, 500, 2000 us). The CNN on all cores is
the case where threads matter: its 2- and 3-instance variants with ONNX Runtime's default
threads fight over the cores. ``--server-cpus N`` (the profile's ``server_cpus``) pins the
server to the first N cores and the load generator to the rest, and the space to N cores.

Cases: ``cnn`` (a small CNN), ``minilm`` (a BERT-like model) and ``mlp`` (a small dense net) are
model files served by tritune's runner; ``repo`` is an entry of a user's own model repository
(``--model-repository`` mode): a Python-backend ``model.py`` running the same CNN through ONNX
Runtime with its own ``parameters``, served by its own backend (no thread search: its threads
are its own), each variant its config.pbtxt with only the searched fields changed. ``ensemble``
is an ensemble of a user's repository (testing/ensemble_repository.py: ``prep``, a numpy step,
then ``scaled``, an MLP through ONNX Runtime, both Python-backend models, the ensemble's max
batch 8): the search varies both composing models' knobs jointly, brute force walks their
product (each step's max batch sizes below the ensemble's 8 are left out, as the joint space
does), and the side-by-side check loads each pick as an ensemble of its own composing models.
``--queue-delays`` replaces the automatic queue delays by a list (for every case): each step of
an ensemble has its own, so the joint grid grows with their square.

Prints, per model and repeat:

    objective ratio = the default pick / brute's winner (throughput, re-measured)   target >= 0.98
    time ratio      = default's measurement time / brute's (sums of measurement durations)   target <= 0.2
                      (the wall-clock ratio, variant loads included, is printed beside it)

and, over the repeats, how often the pick is within 2 % of brute force's confirmed winner.

Usage: python benchmarks/search_vs_brute.py [--models cnn,minilm,mlp,ensemble] [--repeats 5] [--rounds 3]
    [--window-ms MS (default: the case's, 300; MiniLM 1000)] [--batch-sizes 1,4,16] [--instances 1,2,3]
    [--queue-delays 0,500] [--server-cpus 0] [--work-dir DIR [--only brute,default_0]]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tritune.config import ProfileConfig, parse_profile_config
from tritune.cpus import CpuSplit, client_side, server_cores, server_split
from tritune.domain.joint_space import split_joint_name
from tritune.domain.measurement import LoadPoint, MeasurementStatus
from tritune.domain.names import composing_name
from tritune.domain.serving import ServingConfig
from tritune.loadgen import WorkerPool, make_measure_fn
from tritune.profile.notify import LineNotifier
from tritune.profile.records import RunConclusion
from tritune.profile.session import ProfileSession, measure_options
from tritune.store import Store
from tritune.testing.ensemble_repository import write_ensemble_repository
from tritune.testing.models import MINILM_INPUT_NAMES, cnn_model, minilm_path, mlp_model
from tritune.testing.user_repository import write_onnx_python_model
from tritune.triton.control import ModelControl
from tritune.triton.ensemble import ensemble_config, read_ensemble
from tritune.triton.repository import deploy_onnx
from tritune.triton.server import EmbeddedTriton
from tritune.triton.user_model import Placement, read_user_model, variant_config, write_entry


def grid(batch_sizes: list[int], instances: list[int], delays: list[int] | None = None) -> dict[str, Any]:
    """The manual part of the space; threads (and queue delays unless ``delays``) are left to
    the automatic space."""
    space: dict[str, Any] = {
        "max_batch_size": batch_sizes,
        "instance_group": [{"count": instances, "kind": ["KIND_CPU"]}],
    }
    if delays:
        space["dynamic_batching"] = {"max_queue_delay_microseconds": delays}
    return space


SHAPES = {"minilm": {name: [32] for name in MINILM_INPUT_NAMES}}
# Writes a configuration of the case's model as an entry ``<repository>/<name>``.
Deploy = Callable[[Path, str, ServingConfig], object]


@dataclass(frozen=True)
class Case:
    model: dict[str, Any]  # the model's keys of the profile config (profile_models, model_repository)
    deploy: Deploy
    # The window unless --window-ms gives one: long enough to hold many of the model's batches,
    # as a user would pick it (see MINILM_WINDOW_MS).
    window_ms: int = 300


# MiniLM serves about 200 infer/s here in batches of 8-16, so a 300 ms window holds 3-4 batches
# and one batch more or less moves its count by 25 %: with 300 ms windows 20 % of its measurements
# ran to the unstable cap (2.7 s each; brute force 25 of 295) and its time ratio was 0.227
# (0.147-0.243, 5 runs). With tritune's default window, 1000 ms: 1 unstable of brute's 291, time
# ratio 0.128 (0.119-0.200), 4 of 5 picks within 2 %.
MINILM_WINDOW_MS = 1000


def file_case(name: str, path: Path, space: dict[str, Any], window_ms: int = 300) -> Case:
    """A model file, served by tritune's runner."""
    return Case(
        {"profile_models": {name: {"model_path": str(path), "model_config_parameters": space}}},
        lambda repository, entry, serving: deploy_onnx(repository, entry, path, serving),
        window_ms,
    )


def repository_case(name: str, work: Path, space: dict[str, Any]) -> Case:
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
        {"model_repository": str(repository), "profile_models": {name: {"model_config_parameters": space}}},
        lambda to, entry, serving: write_entry(
            to, entry, user, variant_config(user.config, entry, serving), Placement.LINK
        ),
    )


ENSEMBLE_MAX_BATCH = 8  # the ensemble's own max batch size (testing/ensemble_repository.py)


def ensemble_case(work: Path, space: dict[str, Any]) -> Case:
    """An ensemble of the user's repository, its two composing models searched jointly; a
    configuration is written as the profile's deployer writes it: each composing model under the
    configuration's own name (``<name>.<model>``) and the ensemble's config pointing at them."""
    repository = work / "ensemble_models"
    if not repository.is_dir():
        write_ensemble_repository(repository)
    ensemble = read_ensemble(repository, read_user_model(repository, "pipeline"))
    # A composing model takes no smaller batches than the ensemble (Triton refuses it otherwise).
    batches = [b for b in space["max_batch_size"] if b >= ENSEMBLE_MAX_BATCH] or [ENSEMBLE_MAX_BATCH]

    def deploy(to: Path, entry: str, serving: ServingConfig) -> object:
        served = {step.name: composing_name(entry, step.name) for step in ensemble.steps}
        for step in ensemble.steps:
            config = variant_config(step.config, served[step.name], serving.step(step.name))
            write_entry(to, served[step.name], step, config, Placement.LINK)
        model = ensemble.model
        return write_entry(to, entry, model, ensemble_config(model.config, entry, served), Placement.LINK)

    parameters = {**space, "max_batch_size": batches}
    return Case(
        {"model_repository": str(repository), "profile_models": {"pipeline": {"model_config_parameters": parameters}}},
        deploy,
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


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: list[float]) -> float:
    return (max(values) - min(values)) / statistics.median(values) if values else 0.0


class SearchClock(LineNotifier):
    """Times the search alone (not the server's start or the conclusion), and logs each load and
    measurement as it happens, so a run cut off (by a time limit) still shows how far it got."""

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
    label = f"{run_dir.parent.name} {run_dir.name}"  # "cnn brute", "cnn default_2"
    print(f"  [{label}] {'resuming' if run_dir.exists() else 'starting'}", flush=True)
    clock = SearchClock(prefix=f"[{label}] ")
    (conclusion,) = ProfileSession(config, clock).run(run_dir=run_dir, export=None, report=False)
    mode = config.run_config_search_mode
    if conclusion.best_name is None:
        raise SystemExit(f"{mode} search found no usable configuration: see {run_dir}")
    with Store.in_run_dir(run_dir) as store:
        winner = next(v for v in store.variants(conclusion.run.id) if v.name == conclusion.best_name)
        records = store.iter_run_measurements(conclusion.run.id, repeats=True)  # the confirm step's too
        measuring_s = sum(record.duration_s or 0.0 for _, record in records)
    if conclusion.confirmation is not None:
        load = conclusion.confirmation.load  # the confirm step's winner, at the load it was confirmed
    else:
        (searched,) = [c for c in conclusion.configs if c.name == winner.name]
        load = max(searched.measurements, key=lambda m: m.metrics.get("perf_throughput", 0.0)).load
    print(
        f"  [{label}] done: {conclusion.facts.measurements} measurements, {measuring_s:.1f} s measuring; "
        f"winner {knobs(winner.params)} at {load.label()}",
        flush=True,
    )
    return clock.seconds, measuring_s, conclusion, winner, load


def side_by_side(
    config: ProfileConfig, deploy: Deploy, work: Path, configs: dict[str, tuple[Any, LoadPoint]], rounds: int
) -> dict[str, list[float]]:
    """The configurations on one server, measured interleaved so drift hits all alike."""
    repo = work / "side_by_side"
    for name, (serving, _) in configs.items():
        deploy(repo, name, serving)
    results: dict[str, list[float]] = {name: [] for name in configs}
    split: CpuSplit | None = server_split(config.measurement.server_cpus)
    with (
        EmbeddedTriton(repo, cpus=split.server if split else None) as server,
        ModelControl(server) as control,
        client_side(split),  # before the pool, whose workers inherit the cores
        WorkerPool() as workers,
    ):
        measure = make_measure_fn(server, measure_options(config.measurement), workers)
        for name, (_, load) in configs.items():
            control.load(name)
            measure(name, load)  # a discarded first measurement: the model warm, as in the search
        for _ in range(rounds):
            for name, (_, load) in configs.items():
                result = measure(name, load)
                if result.status is not MeasurementStatus.FAILED:  # every request failed: no throughput
                    results[name].append(result.metrics.get("perf_throughput", 0.0))
    return results


KNOBS = ("instance_count", "intra_op_threads", "max_batch_size", "dynamic_batching")


def knobs(params: Any) -> str:
    """The searched knobs of a pick, short: ``2x1t mbs16 q500`` (instances x threads); an
    ensemble's per composing model: ``prep 2x mbs8 q0 | scaled 1x mbs8 q500``."""
    p = dict(params)
    steps: dict[str, dict[str, Any]] = {}
    for name, value in p.items():
        split = split_joint_name(name)
        if split is not None:
            steps.setdefault(split[0], {})[split[1]] = value
    if steps:
        return " | ".join(
            f"{step} {k.get('instance_count')}x mbs{k.get('max_batch_size')} "
            f"{'off' if k.get('dynamic_batching') is None else 'q{}'.format(k['dynamic_batching'])}"
            for step, k in steps.items()
        )
    delay = p.get("dynamic_batching")
    return (
        f"{p.get('instance_count')}x{p.get('intra_op_threads')}t mbs{p.get('max_batch_size')} "
        f"{'off' if delay is None else f'q{delay}'}"
    )


@dataclass
class Pick:
    """One search's winner, how long the search measured, and its re-measured throughput."""

    measurements: int
    wall_s: float
    measuring_s: float
    params: Any
    serving: Any
    load: LoadPoint
    found: float  # the throughput the search measured for it
    configurations: int
    checked: list[float] = dataclasses.field(default_factory=list)


def run_search(config: ProfileConfig, run_dir: Path) -> Pick:
    wall_s, measuring_s, conclusion, winner, load = search(config, run_dir)
    return Pick(
        conclusion.facts.measurements,
        wall_s,
        measuring_s,
        winner.params,
        winner.serving,
        load,
        conclusion.facts.throughput or 0.0,
        conclusion.facts.configurations,
    )


def searches(name: str, case: Case, args: argparse.Namespace, server_cpus: int | None) -> dict[str, ProfileConfig]:
    """The runs of one model by their folder's name: ``brute``, then ``default_0`` ... ``default_<repeats - 1>``."""
    window_ms = args.window_ms or case.window_ms
    runs = {"brute": settings(name, case, "brute", window_ms, server_cpus)}
    runs.update({f"default_{i}": settings(name, case, "default", window_ms, server_cpus) for i in range(args.repeats)})
    return runs


def compare(
    name: str, case: Case, args: argparse.Namespace, server_cpus: int | None, work: Path
) -> dict[str, Any] | None:
    """Brute force once, the default search ``args.repeats`` times, all picks re-measured (with
    ``--only``: those runs alone, no side by side, None)."""
    runs = searches(name, case, args, server_cpus)
    if args.only:
        for run in args.only.split(","):
            if run not in runs:
                raise SystemExit(f"--only {run}: not one of {', '.join(runs)} (--repeats sets the defaults)")
            run_search(runs[run], work / name / run)
        return None
    brute_config = runs.pop("brute")
    brute = run_search(brute_config, work / name / "brute")
    picks = [run_search(config, work / name / run) for run, config in runs.items()]
    # Each distinct configuration once on the server: a pick equal to brute's winner is it.
    distinct: dict[str, tuple[Any, LoadPoint]] = {"check_0": (brute.serving, brute.load)}
    keys = {knobs(brute.params) + f"@{brute.load.value:g}": "check_0"}
    for pick in picks:
        key = knobs(pick.params) + f"@{pick.load.value:g}"
        if key not in keys:
            keys[key] = f"check_{len(distinct)}"
            distinct[keys[key]] = (pick.serving, pick.load)
    checked = side_by_side(brute_config, case.deploy, work / name, distinct, args.rounds)
    for pick in (brute, *picks):
        pick.checked = checked[keys[knobs(pick.params) + f"@{pick.load.value:g}"]]
    best = median(brute.checked)
    rows = [
        {
            "objective_ratio": median(p.checked) / best,
            "time_ratio": p.measuring_s / brute.measuring_s,
            "wall_ratio": p.wall_s / brute.wall_s,
            "measurement_ratio": p.measurements / brute.measurements,
        }
        for p in picks
    ]
    print(f"\n== {name}: {brute.configurations} configurations in the space")
    print(
        f"  brute    {brute.measurements:4d} measurements, {brute.measuring_s:6.1f} s measuring "
        f"({brute.wall_s:6.1f} s wall); winner {knobs(brute.params)} at concurrency {brute.load.value:g}; "
        f"re-measured {[round(v) for v in brute.checked]} infer/s (spread {spread(brute.checked):.0%})"
    )
    for i, (pick, row) in enumerate(zip(picks, rows, strict=True)):
        print(
            f"  default#{i} {pick.measurements:3d} measurements, {pick.measuring_s:6.1f} s measuring "
            f"({pick.wall_s:6.1f} s wall); pick {knobs(pick.params)} at concurrency {pick.load.value:g}; "
            f"re-measured {[round(v) for v in pick.checked]} infer/s (spread {spread(pick.checked):.0%}); "
            f"objective ratio {row['objective_ratio']:.3f}, time ratio {row['time_ratio']:.3f}"
        )
    return {"model": name, "rows": rows, "brute_spread": spread(brute.checked)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--window-ms", type=int, default=0, help="measurement window (0: the case's, 300 ms; MiniLM 1000 ms)"
    )
    parser.add_argument(
        "--models",
        default="cnn,minilm,mlp",
        help="of cnn, minilm, mlp, repo (a user's model.py), ensemble (a user's ensemble of two models)",
    )
    parser.add_argument("--repeats", type=int, default=1, help="default searches per model (each a fresh run)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved re-measurements of the picks")
    parser.add_argument("--batch-sizes", default="1,4,16", help="max batch sizes searched")
    parser.add_argument("--instances", default="1,2,3", help="instance counts searched")
    parser.add_argument("--queue-delays", default="", help="queue delays searched, us (default: the automatic ones)")
    parser.add_argument("--work-dir", type=Path, help="Keep the runs here (default: a temporary directory).")
    parser.add_argument(
        "--only",
        default="",
        help="these runs alone, no side by side (brute, default_0, ...: comma-separated): with --work-dir, "
        "runs of one model can go on at once in several processes, and a full run then finds them stored",
    )
    parser.add_argument(
        "--server-cpus",
        type=int,
        default=0,
        help="cores pinned to the server, the rest to the load generator (0: no pinning)",
    )
    args = parser.parse_args()
    server_cpus = args.server_cpus or None
    split = server_split(server_cpus)
    print(split.describe() if split else f"no pinning: the server may use all {server_cores(None)} cores")
    delays = [int(v) for v in args.queue_delays.split(",")] if args.queue_delays else None
    space = grid([int(v) for v in args.batch_sizes.split(",")], [int(v) for v in args.instances.split(",")], delays)
    results = []
    with tempfile.TemporaryDirectory(prefix="tritune-bench-") as tmp:
        work = args.work_dir or Path(tmp)
        # Built or looked up only when asked for: a host may lack MiniLM.
        cases: dict[str, Callable[[], Case]] = {
            "cnn": lambda: file_case("cnn", cnn_model(work / "cnn.onnx"), space),
            "minilm": lambda: file_case("minilm", minilm_path(), space, MINILM_WINDOW_MS),
            "mlp": lambda: file_case("mlp", mlp_model(work / "mlp.onnx", width=256, depth=4), space),
            "repo": lambda: repository_case("repo", work, space),
            "ensemble": lambda: ensemble_case(work, space),
        }
        for name in args.models.split(","):
            result = compare(name, cases[name](), args, server_cpus, work)
            results += [result] if result is not None else []
    if args.only:
        return  # the side by side and the summary are a full run's
    print(
        f"\nsummary over {args.repeats} default search(es) per model "
        "(targets: objective ratio >= 0.98, time ratio <= 0.2)"
    )
    for result in results:
        rows = result["rows"]
        ratios = [r["objective_ratio"] for r in rows]
        times = [r["time_ratio"] for r in rows]
        within = sum(1 for r in ratios if r >= 0.98)
        print(
            f"  {result['model']:8s} within 2 % of brute force's confirmed winner: {within}/{len(rows)}; "
            f"objective ratio median {statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f}; "
            f"brute's re-measured spread {result['brute_spread']:.0%}); measurement-time ratio median "
            f"{statistics.median(times):.3f} (range {min(times):.3f}-{max(times):.3f}; wall clock "
            f"{statistics.median(r['wall_ratio'] for r in rows):.3f}; measurement count "
            f"{statistics.median(r['measurement_ratio'] for r in rows):.3f})"
        )


if __name__ == "__main__":
    main()
