"""tritune profile against Triton Model Analyzer 1.58 on one model, with the same bounds.

The model: the small CNN of the other benchmarks (16 channels, 32x32 images), written once by
``tritune prepare --max-batch-size B`` into a model repository (``<work>/repository_mbs<B>/cnn``:
config.pbtxt, version 1 with model.onnx and tritune's runner, served by Triton's Python backend
running ONNX Runtime). B keeps the default configuration inside the bounds (MA measures it at
concurrency 2 x B, unclamped): min(max batch, max concurrency / 2), 8 with the issue's bounds,
which is also the max batch of tritune's own default configuration (it does not take the folder's).
Both tools tune that same entry, so both serve the same model the same way: Model Analyzer (MA)
varies its config.pbtxt (instance_group count, max_batch_size, dynamic_batching); ``tritune
profile <work>/repository_mbs<B>/cnn`` (the prepared folder, as a user would pass it) serves the
same runner and also searches knobs MA cannot (the runner's ONNX Runtime threads, queue delays).
Both run on the tritonserver of the nvidia-pytriton wheel (MA in its ``local`` launch mode, see
model_analyzer_run.py), without reports, on this host's cores unpinned. The bounds, both tools:
``--max-instances`` (3), ``--max-batch`` (16), ``--max-concurrency`` (16).

Steps, each stored in the work folder (``result.json``) so that a rerun with the same
``--work-dir`` resumes after the last finished one (an unfinished step starts over, its folder
wiped: its wall time must be one run's):

  1. ``ma_quick``: MA's quick search (``run_config_search_mode: quick``), timed, measurements
     counted from its checkpoint.
  2. ``ma_brute``: MA's brute search, the same.
  3. ``tritune``: ``tritune profile`` with its default search (``TRITUNE_CACHE_DIR=off``, as a
     first run), timed, measurements counted in its store (the confirm step's rounds included).
  4. ``tritune_brute`` (with ``--tritune-brute``): tritune's own brute force, the same.
  5. ``remeasure``: every pick (its config, at the concurrency its tool found it best) loaded
     side by side on one server and measured by perf_analyzer in interleaved rounds (A, B, C,
     A, B, C, ...), after one discarded warm-up run each; the median per pick and its spread
     (min-max over the rounds). A run that does not stabilize counts its last 3 windows.

Prints the wall time and measurement count of each tool, each pick and its re-measured median,
and the ratios against the targets of issue #30:

    tritune wall / MA quick wall                 target <= 0.33
    tritune pick / MA brute pick (throughput)    target >= 0.98
    tritune pick / tritune brute pick            (with --tritune-brute)

``--repeats N`` repeats it all (``<work>/repeat_<i>``) and prints how many repeats met each target.
A pick is printed as ``2x1t mbs8 q500``: 2 instances x 1 ONNX Runtime thread (0t: ONNX
Runtime's default), max batch 8, dynamic batching with a 500 us queue delay (``off``: none).

Needs scripts/get_model_analyzer.sh and scripts/get_perf_analyzer.sh run first.

Usage: .venv/bin/python benchmarks/vs_model_analyzer.py --work-dir .work/vs_ma [--repeats 1] [--rounds 5]
    [--max-instances 3] [--max-batch 16] [--max-concurrency 16] [--tritune-brute]
    [--protocol grpc] [--window-ms 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from google.protobuf import text_format
from model_analyzer_run import (
    Bounds,
    ToolFailed,
    ToolResult,
    end_leftovers,
    last_error,
    run_model_analyzer,
    timed_run,
)
from tritonclient.grpc import model_config_pb2 as mc

from tritune.store import Store
from tritune.system import find_perf_analyzer
from tritune.testing.models import cnn_model
from tritune.triton.control import ModelControl
from tritune.triton.server import EmbeddedTriton

MODEL = "cnn"
TRITUNE = Path(sys.executable).parent / "tritune"  # the console script of this venv, as a user runs it
LABELS = {"ma_quick": "MA quick", "ma_brute": "MA brute", "tritune": "tritune", "tritune_brute": "tritune brute"}
LOADED = re.compile(r"loaded in ([\d.]+) s, warm-up ([\d.]+) s")


def prepare_repository(work: Path, bounds: Bounds) -> Path:
    """The model repository both tools tune, written once by ``tritune prepare``. Its config is
    each tool's default configuration, which MA measures at concurrency 2 x max batch x instances
    whatever the bounds: its max batch is set so that this stays within them."""
    max_batch = min(bounds.batch, max(1, bounds.concurrency // 2))
    repository = work / f"repository_mbs{max_batch}"
    if not (repository / MODEL / "config.pbtxt").is_file():
        shutil.rmtree(repository, ignore_errors=True)
        onnx_file = cnn_model(work / f"{MODEL}.onnx", channels=16, size=32)
        command = [str(TRITUNE), "prepare", str(onnx_file), "-o", str(repository), "--max-batch-size", str(max_batch)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"tritune prepare failed ({done.returncode}): {done.stderr[-2000:]}")
    return repository


def run_tritune(repository: Path, bounds: Bounds, step: Path, brute: bool, timeout_s: float) -> ToolResult:
    """``tritune profile`` on the prepared folder, timed; its counts from its store."""
    run_dir = step / "run"
    command = [
        str(TRITUNE),
        "profile",
        str(repository / MODEL),
        *("--run-dir", str(run_dir), "--json", "--no-report"),
        *("--run-config-search-max-instance-count", str(bounds.instances)),
        *("--run-config-search-max-model-batch-size", str(bounds.batch)),
        *("--run-config-search-max-concurrency", str(bounds.concurrency)),
        *(("--run-config-search-mode", "brute") if brute else ()),
    ]
    log, summary_file = step / "tritune.log", step / "summary.json"
    started = time.strftime("%H:%M:%S")
    try:
        code, wall_s = timed_run(
            command,
            log,
            cwd=step,
            env={**os.environ, "TRITUNE_CACHE_DIR": "off"},
            timeout_s=timeout_s,
            stdout=summary_file,
        )
    finally:
        end_leftovers([str(run_dir)])  # its server dies with it; this only checks
    tool = "tritune brute" if brute else "tritune"
    if code != 0:
        reason = f"ran past --timeout ({timeout_s:.0f} s), killed" if wall_s >= timeout_s else f"exited {code}"
        raise ToolFailed(f"{tool} {reason} after {wall_s:.0f} s; log says: {last_error(log)} (log: {log})")
    (summary,) = json.loads(summary_file.read_text())
    if summary["best"] is None:
        raise ToolFailed(f"{tool} found no usable configuration (log: {log})")
    with Store.in_run_dir(run_dir) as store:
        run_id = summary["run_id"]
        records = [(v, r) for v, r in store.iter_run_measurements(run_id, repeats=True)]
        measuring_s = sum(r.duration_s or 0.0 for _, r in records)
        if summary["confirm"] is not None:
            concurrency = int(summary["confirm"]["load"]["value"])
        else:
            best = max(
                (r for v, r in records if v.name == summary["best"]),
                key=lambda r: r.measurement.metrics.get("perf_throughput", 0.0),
            )
            concurrency = int(best.measurement.load.value)
    loads = [tuple(map(float, m.groups())) for m in map(LOADED.search, log.read_text().splitlines()) if m]
    details = {
        "best": summary["best"],
        "search_measurements": sum(1 for _, r in records if r.repeat == 0),
        "measuring_s": measuring_s,
        "loads": len(loads),
        "loading_s": sum(load for load, _ in loads),
        "warmup_s": sum(warmup for _, warmup in loads),
        "log": str(log),
    }
    best_dir = Path(summary["best_config"]).parent
    return ToolResult(
        "tritune_brute" if brute else "tritune",
        started,
        wall_s,
        len(records),
        summary["configurations"],
        str(best_dir / MODEL if (best_dir / MODEL).is_dir() else best_dir),
        concurrency,
        float(summary["throughput"]),
        details,
    )


def knobs(pick_dir: str) -> str:
    """A pick's config.pbtxt, short: ``2x1t mbs8 q500``."""
    config = text_format.Parse((Path(pick_dir) / "config.pbtxt").read_text(), mc.ModelConfig())
    count = sum(group.count or 1 for group in config.instance_group) or 1
    threads = config.parameters["intra_op_threads"].string_value or "0"
    delay = f"q{config.dynamic_batching.max_queue_delay_microseconds}" if config.HasField("dynamic_batching") else "off"
    return f"{count}x{threads}t mbs{config.max_batch_size} {delay}"


def step_result(folder: Path, run: Callable[[Path], ToolResult]) -> ToolResult | None:
    """A step's stored result, or run it (``run()``) in a fresh folder and store it; None if it failed."""
    stored = folder / "result.json"
    if stored.is_file():
        return ToolResult(**json.loads(stored.read_text()))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    load = os.getloadavg()[0]
    print(
        f"  [{folder.parent.name} {folder.name}] starting at {time.strftime('%H:%M:%S')} (load {load:.1f})", flush=True
    )
    try:
        result = run(folder)
    except ToolFailed as failed:
        print(f"  [{folder.parent.name} {folder.name}] FAILED: {failed}", flush=True)
        return None
    stored.write_text(json.dumps(asdict(result), indent=1))
    print(
        f"  [{folder.parent.name} {folder.name}] done: {result.wall_s:.1f} s wall, {result.measurements} measurements; "
        f"pick {knobs(result.pick_dir)} at concurrency {result.concurrency} ({result.found:.0f} infer/s as measured)",
        flush=True,
    )
    return result


PASS = re.compile(r"Pass \[\d+\] throughput: ([\d.]+) infer/sec")


def perf_analyzer_run(
    binary: Path, url: str, model: str, concurrency: int, args: argparse.Namespace, out: Path
) -> tuple[float, bool] | None:
    """One perf_analyzer measurement: its throughput, and whether it was stable. One that did
    not stabilize in its 10 windows writes no CSV: then the median of its last 3 windows
    (``-v`` prints each), not stable. None: no numbers at all, three times."""
    command = [
        str(binary),
        *("-v", "-m", model, "-u", url, "-i", args.protocol, "-p", str(args.window_ms), "-s", "10", "-r", "10"),
        *("--concurrency-range", f"{concurrency}:{concurrency}", "-f", str(out)),
    ]
    for _ in range(3):
        out.unlink(missing_ok=True)
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if out.is_file():
            with out.open() as handle:
                header, row = handle.readline().split(","), handle.readline().split(",")
            return float(row[header.index("Inferences/Second")]), True
        passes = [float(value) for value in PASS.findall(done.stdout)]
        if passes:
            return statistics.median(passes[-3:]), False
    return None


def remeasure(
    picks: dict[str, ToolResult], folder: Path, args: argparse.Namespace
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """The picks on one server, measured by perf_analyzer in interleaved rounds: each one's
    throughputs, and how many of them were not stable."""
    stored = folder / "result.json"
    if stored.is_file() and set((saved := json.loads(stored.read_text())).get("throughput", ())) == set(picks):
        return saved["throughput"], saved["unstable"]
    shutil.rmtree(folder, ignore_errors=True)
    repository = folder / "models"
    for label, pick in picks.items():  # each pick as an entry named by its tool
        source = Path(pick.pick_dir)
        shutil.copytree(source / "1", repository / label / "1", ignore=shutil.ignore_patterns("__pycache__"))
        config = re.sub(r'^name: ".*"$', f'name: "{label}"', (source / "config.pbtxt").read_text(), count=1, flags=re.M)
        (repository / label / "config.pbtxt").write_text(config)
    binary = find_perf_analyzer()
    if binary is None:
        raise SystemExit("perf_analyzer not found: run scripts/get_perf_analyzer.sh")
    results: dict[str, list[float]] = {label: [] for label in picks}
    unstable = dict.fromkeys(picks, 0)
    print(
        f"  [{folder.parent.name} remeasure] {len(picks)} picks, {args.rounds} rounds, perf_analyzer {args.protocol}, "
        f"{args.window_ms} ms windows; starting at {time.strftime('%H:%M:%S')}",
        flush=True,
    )
    with EmbeddedTriton(repository, log_path=folder / "tritonserver.log") as server, ModelControl(server) as control:
        url = server.endpoints.grpc if args.protocol == "grpc" else server.endpoints.http
        for label, pick in picks.items():
            control.load(label)
            perf_analyzer_run(binary, url, label, pick.concurrency, args, folder / "pa.csv")  # warm-up, discarded
        for number in range(1, args.rounds + 1):
            line = []
            for label, pick in picks.items():
                measured = perf_analyzer_run(binary, url, label, pick.concurrency, args, folder / "pa.csv")
                if measured is not None:
                    results[label].append(measured[0])
                    unstable[label] += not measured[1]
                line.append(
                    f"{LABELS[label]} "
                    + ("-" if measured is None else f"{measured[0]:.0f}{'' if measured[1] else '*'}")
                )
            print(f"    round {number}: {', '.join(line)} (*: not stable)", flush=True)
    stored.write_text(json.dumps({"throughput": results, "unstable": unstable}))
    return results, unstable


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: list[float]) -> str:
    """``2,850 infer/s (2,790-2,910, spread 4 %)``: the median and its range over the rounds."""
    if not values:
        return "no numbers"
    mid = median(values)
    width = (max(values) - min(values)) / mid
    return f"{mid:,.0f} infer/s ({min(values):,.0f}-{max(values):,.0f} over {len(values)} rounds, spread {width:.0%})"


def describe(name: str, pick: ToolResult, values: list[float], unstable: int) -> str:
    """Two lines on one tool's run: its cost, then its pick and what it re-measured at."""
    cost = f"{pick.wall_s:6.1f} s wall (from {pick.started}), {pick.measurements:3d} measurements"
    cost += f" of {pick.configurations} configurations"
    d = pick.details
    if "measuring_s" in d:  # tritune's own account of its time
        confirming = pick.measurements - d["search_measurements"]
        cost += (
            f" ({d['search_measurements']} searching + {confirming} confirming; {d['measuring_s']:.0f} s measuring, "
            f"{d['loads']} loads {d['loading_s']:.0f} s, warm-ups {d['warmup_s']:.0f} s)"
        )
    return (
        f"  {LABELS[name]:13s} {cost}\n  {'':13s} pick {d.get('variant') or d.get('best')} ({knobs(pick.pick_dir)}) "
        f"at concurrency {pick.concurrency}: "
        f"{pick.found:,.0f} infer/s as it measured; re-measured {spread(values)}"
        + (f", {unstable} not stable" if unstable else "")
    )


def verdict(value: float, target: float, at_most: bool) -> str:
    met = value <= target if at_most else value >= target
    return f"target {'<=' if at_most else '>='} {target}: {'met' if met else 'MISSED'}"


def one_repeat(args: argparse.Namespace, repository: Path, bounds: Bounds, folder: Path) -> dict[str, float]:
    """Every tool once, then their picks side by side; the repeat's ratios."""
    pa = find_perf_analyzer()
    if pa is None:
        raise SystemExit("perf_analyzer not found: run scripts/get_perf_analyzer.sh")
    steps: dict[str, Callable[[Path], ToolResult]] = {
        "ma_quick": lambda f: run_model_analyzer(repository, MODEL, "quick", bounds, f, pa.absolute(), args.timeout),
        "ma_brute": lambda f: run_model_analyzer(repository, MODEL, "brute", bounds, f, pa.absolute(), args.timeout),
        "tritune": lambda f: run_tritune(repository, bounds, f, False, args.timeout),
    }
    if args.tritune_brute:
        steps["tritune_brute"] = lambda f: run_tritune(repository, bounds, f, True, args.timeout)
    picks = {name: result for name, run in steps.items() if (result := step_result(folder / name, run)) is not None}
    checked, unstable = remeasure(picks, folder / "remeasure", args) if picks else ({}, {})
    print(f"\n== {folder.name}: <= {bounds.instances} instances, max batch <= {bounds.batch}, ", end="")
    print(f"concurrency <= {bounds.concurrency}; re-measured: median of {args.rounds} perf_analyzer rounds")
    for name, pick in picks.items():
        print(describe(name, pick, checked.get(name, []), unstable.get(name, 0)))
    ratios: dict[str, float] = {}
    if "tritune" in picks and "ma_quick" in picks:
        ratios["wall"] = picks["tritune"].wall_s / picks["ma_quick"].wall_s
        counts = picks["tritune"].measurements / max(picks["ma_quick"].measurements, 1)
        print(f"  tritune wall / MA quick wall = {ratios['wall']:.2f}   {verdict(ratios['wall'], 0.33, True)}", end="")
        print(f"   (measurement counts: {counts:.2f})")
    for other, key in (("ma_brute", "vs_ma_brute"), ("ma_quick", "vs_ma_quick"), ("tritune_brute", "vs_tritune_brute")):
        if checked.get("tritune") and checked.get(other):
            ratios[key] = median(checked["tritune"]) / median(checked[other])
            aim = "" if other == "ma_quick" else f"   {verdict(ratios[key], 0.98, False)}"
            print(f"  tritune pick / {LABELS[other]} pick = {ratios[key]:.3f} (re-measured medians){aim}")
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--work-dir", type=Path, help="keep every step here and resume from it (default: a temporary folder)"
    )
    parser.add_argument("--repeats", type=int, default=1, help="the whole comparison, this many times (each fresh)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved perf_analyzer rounds of the picks")
    parser.add_argument("--max-instances", type=int, default=3)
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--max-concurrency", type=int, default=16)
    parser.add_argument("--tritune-brute", action="store_true", help="also tritune's brute force (grid) search")
    parser.add_argument(
        "--protocol",
        choices=("grpc", "http"),
        default="grpc",
        help="perf_analyzer's, re-measuring (MA's default: grpc)",
    )
    parser.add_argument("--window-ms", type=int, default=2000, help="perf_analyzer's window, re-measuring")
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds a tool's run may take before it is killed"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tritune-vs-ma-") as tmp:
        work = (args.work_dir or Path(tmp)).absolute()
        work.mkdir(parents=True, exist_ok=True)
        try:
            bounds = Bounds(args.max_instances, args.max_batch, args.max_concurrency)
            repository = prepare_repository(work, bounds)
            rows = [one_repeat(args, repository, bounds, work / f"repeat_{i}") for i in range(args.repeats)]
        finally:
            left = end_leftovers([str(work)])
            if left:
                print(f"ended processes left running: {'; '.join(left)}")
    print(f"\nsummary over {args.repeats} repeat(s)")
    for key, text, target, met in (
        ("wall", "tritune wall / MA quick wall", "<= 0.33", lambda v: v <= 0.33),
        ("vs_ma_brute", "tritune pick / MA brute pick", ">= 0.98", lambda v: v >= 0.98),
        ("vs_tritune_brute", "tritune pick / tritune brute pick", ">= 0.98", lambda v: v >= 0.98),
    ):
        values = [row[key] for row in rows if key in row]
        if values:
            print(
                f"  {text}: median {statistics.median(values):.3f} (range {min(values):.3f}-{max(values):.3f}); "
                f"target {target} met in {sum(1 for v in values if met(v))}/{len(values)} repeats"
            )


if __name__ == "__main__":
    main()
