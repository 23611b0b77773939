"""`tritune profile` with its defaults, two versions side by side: the wall time of the whole
command and what it measured, interleaved (A, B, A, B, ...) so drift on the host falls on both.

Each version is a source tree (``src/`` of a checkout: ``git worktree add /tmp/old <commit>``)
run as ``python -m tritune`` with that tree first on PYTHONPATH, on the same model file, with
the same bounds, each run in a fresh run folder. Prints per round each version's wall time,
measurements and pick (its throughput as the run reported it), then the medians, the ratio of
wall times (B / A) and its spread over the rounds.

Usage: python benchmarks/profile_versions.py --a OLD/src --b NEW/src [--rounds 3] [--model cnn|mlp]
    [--max-instances 2] [--max-batch 8] [--max-concurrency 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tritune.testing.models import cnn_model, mlp_model


def run_profile(src: Path, model: Path, run_dir: Path, bounds: list[str]) -> tuple[float, dict[str, object]]:
    env = {**os.environ, "PYTHONPATH": str(src), "TRITUNE_CACHE_DIR": "off"}
    command = [sys.executable, "-m", "tritune", "profile", str(model), "--run-dir", str(run_dir), "--json"]
    started = time.monotonic()
    done = subprocess.run([*command, "--no-report", *bounds], env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{src}: profile failed ({done.returncode}): {done.stderr[-2000:]}")
    (summary,) = json.loads(done.stdout)
    return seconds, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", type=Path, required=True, help="the first version's src/ (the baseline)")
    parser.add_argument("--b", type=Path, required=True, help="the second version's src/")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", choices=("cnn", "mlp"), default="cnn")
    parser.add_argument("--max-instances", type=int, default=2)
    parser.add_argument("--max-batch", type=int, default=8)
    parser.add_argument("--max-concurrency", type=int, default=8)
    args = parser.parse_args()
    bounds = [
        *("--run-config-search-max-instance-count", str(args.max_instances)),
        *("--run-config-search-max-model-batch-size", str(args.max_batch)),
        *("--run-config-search-max-concurrency", str(args.max_concurrency)),
    ]
    work = Path(tempfile.mkdtemp(prefix="tritune-versions-"))
    model = work / f"{args.model}.onnx"
    if args.model == "cnn":
        cnn_model(model, channels=16, size=32)
    else:
        mlp_model(model, width=256, depth=4)
    walls: dict[str, list[float]] = {"a": [], "b": []}
    for number in range(1, args.rounds + 1):
        for label, src in (("a", args.a), ("b", args.b)):
            seconds, summary = run_profile(src, model, work / f"{label}{number}", bounds)
            walls[label].append(seconds)
            print(
                f"round {number} {label}: {seconds:6.1f} s wall, {summary.get('measured_now')} measured, "
                f"pick {summary.get('best')} at {summary.get('throughput')} infer/s",
                flush=True,
            )
    ratios = [b / a for a, b in zip(walls["a"], walls["b"], strict=True)]
    median_a, median_b = statistics.median(walls["a"]), statistics.median(walls["b"])
    print(
        f"wall time: a {median_a:.1f} s, b {median_b:.1f} s (medians of {args.rounds}); "
        f"b / a = {statistics.median(ratios):.2f} (rounds {min(ratios):.2f}-{max(ratios):.2f})"
    )


if __name__ == "__main__":
    main()
