"""tritune's load generator against perf_analyzer: same server, model and config.

A small ONNX MLP with dynamic batching is served by the embedded Triton; at concurrency 1, 2,
4, 8 and 16 both clients measure it with the same window, stability threshold and protocol,
round after round. Each round brackets one tritune run between two perf_analyzer runs
(PA, tritune, PA), so a linear drift of a shared host cancels out of the ratio, and the two
perf_analyzer runs of a round give an A/A ratio: how well perf_analyzer agrees with itself, the
floor under any tritune/perf_analyzer ratio. Printed per level: the median of each client's
runs; the median over rounds of the tritune/perf_analyzer ratios of throughput, p50 and p99
(tritune against the mean of its two bracketing runs); the median A/A throughput ratio (the
later perf_analyzer run over the earlier); each client's spread over its runs
((max - min) / median throughput); and the average batch the server formed under each client
(Triton's inference_count / execution_count over the run): with dynamic batching a client's
send timing decides how requests group into batches, and with it the throughput (the share of
executions at each batch size is printed under each level); and the
part of the average latency spent outside the server (average latency - Triton's own time per
request, from the same statistics): the client's and the network's share. Then the
capacity ratio: the highest throughput each client drives against a trivial model at high
concurrency.

Targets: throughput within 5 %, p50 within 10 %, capacity ratio >= 0.8.

    .venv/bin/python benchmarks/loadgen_vs_perf_analyzer.py [--protocol http|grpc] [--window-ms 1000]

perf_analyzer comes from scripts/get_perf_analyzer.sh (or $PERF_ANALYZER / PATH).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from tritune.cpus import client_side, server_split, usable_cpus
from tritune.domain.serving import DynamicBatching, RunnerOptions, ServingConfig
from tritune.loadgen import LoadDriver, LoadSpec, MeasureOptions, StabilityCriteria, WindowSpec
from tritune.loadgen.observer import fetch_model_stats
from tritune.loadgen.pa_output import CSV_LATENCY_PARTS
from tritune.loadgen.server_stats import breakdown
from tritune.system import find_perf_analyzer
from tritune.testing.models import mlp_model
from tritune.triton.control import ModelControl
from tritune.triton.repository import deploy_onnx
from tritune.triton.server import EmbeddedTriton, Endpoints

LEVELS = (1, 2, 4, 8, 16)
CAPACITY_LEVELS = (16, 64)


def levels(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


@dataclass(frozen=True)
class Point:
    throughput: float
    p50_us: float
    p99_us: float
    stable: bool
    avg_us: float = 0.0
    server_us: float = 0.0  # Triton's own time per request over the run
    batches: tuple[tuple[int, int], ...] = ()  # (batch size, executions) over the run
    workers: int = 1  # tritune's load-generator processes (perf_analyzer: 1)

    @property
    def batch(self) -> float:
        """The server's average batch over the run."""
        executions = sum(count for _, count in self.batches)
        return sum(size * count for size, count in self.batches) / executions if executions else 0.0

    @property
    def outside_us(self) -> float:
        """Average latency not spent in the server: client and network."""
        return self.avg_us - self.server_us if self.server_us else 0.0


def run_tritune(driver: LoadDriver, concurrency: int) -> Point:
    result = driver.measure(LoadSpec.concurrency(concurrency))
    client = result.client
    if client is None:
        raise RuntimeError(f"tritune failed at concurrency {concurrency}: {result.reason}")
    latency = client.latency
    return Point(
        result.throughput,
        latency.p50_ns / 1e3,
        latency.p99_ns / 1e3,
        result.stable,
        avg_us=latency.avg_ns / 1e3,
        workers=result.workers,
    )


def run_perf_analyzer(
    binary: Path,
    url: str,
    model: str,
    protocol: str,
    concurrency: int,
    window_ms: int,
    threshold: float,
    work: Path,
    extra: list[str],
) -> Point:
    out = work / f"pa_{model}_{concurrency}.csv"
    command = [
        str(binary),
        "-m",
        model,
        "-u",
        url,
        "-i",
        protocol,
        "-p",
        str(window_ms),
        "-s",
        str(threshold * 100),
        "-r",
        "10",
        "--concurrency-range",
        f"{concurrency}:{concurrency}",
        "-f",
        str(out),
        *extra,
    ]
    # perf_analyzer writes no numbers when it cannot stabilize: try again (a shared host is noisy).
    for _ in range(3):
        out.unlink(missing_ok=True)
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if out.exists():
            break
    else:
        raise RuntimeError(f"perf_analyzer failed 3 times (exit {done.returncode}): {done.stdout[-400:]}")
    stable = done.returncode == 0
    with out.open() as handle:
        row = next(csv.DictReader(handle))
    return Point(
        float(row["Inferences/Second"]),
        float(row["p50 latency"]),
        float(row["p99 latency"]),
        stable,
        avg_us=sum(float(row[column]) for column in CSV_LATENCY_PARTS),
    )


@dataclass(frozen=True)
class Round:
    """One tritune run bracketed by two perf_analyzer runs, all back to back."""

    ours: Point
    before: Point
    after: Point

    def ratio(self, field: str) -> float:
        """tritune over the mean of the bracketing perf_analyzer runs: a linear drift cancels."""
        theirs = (getattr(self.before, field) + getattr(self.after, field)) / 2
        return float(getattr(self.ours, field)) / theirs


def pa_runs(rounds: list[Round]) -> list[Point]:
    """Every perf_analyzer run of these rounds."""
    return [point for r in rounds for point in (r.before, r.after)]


def spread(points: list[Point]) -> float:
    """(max - min) / median of the throughputs of one client's rounds: its own noise floor."""
    values = [p.throughput for p in points]
    return (max(values) - min(values)) / statistics.median(values) if len(values) > 1 else 0.0


def median_point(points: list[Point]) -> Point:
    return Point(
        statistics.median(p.throughput for p in points),
        statistics.median(p.p50_us for p in points),
        statistics.median(p.p99_us for p in points),
        all(p.stable for p in points),
    )


def with_server_stats(endpoints: Endpoints, model: str, run: Callable[[], Point]) -> Point:
    """``run()`` with the server's executions per batch size and time per request over it, from
    its statistics before and after."""
    before = fetch_model_stats(endpoints, model)
    point = run()
    after = fetch_model_stats(endpoints, model)
    if before is None or after is None:
        return point
    server = breakdown(before, after)
    return replace(point, server_us=server.request_ns / 1e3, batches=tuple(server.batch_executions.items()))


def batch_shares(points: list[Point], floor: float = 0.03) -> str:
    """The server's executions by batch size over these runs, as shares ("8:30% 9:41%"),
    leaving out sizes under ``floor``."""
    counts: Counter[int] = Counter()
    for point in points:
        counts.update(dict(point.batches))
    total = sum(counts.values())
    if not total:
        return "-"
    return " ".join(f"{size}:{count / total:.0%}" for size, count in sorted(counts.items()) if count / total >= floor)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", choices=["http", "grpc"], default="http", help="perf_analyzer's default: http")
    parser.add_argument("--window-ms", type=int, default=1000)
    parser.add_argument("--stability", type=float, default=0.10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--levels", type=levels, default=LEVELS, help="concurrency levels compared, e.g. 1,2,4")
    parser.add_argument(
        "--capacity-levels", type=levels, default=CAPACITY_LEVELS, help="levels of the capacity part ('' skips it)"
    )
    # The default MLP keeps the server, not either client, the bottleneck (a few hundred to a few
    # thousand infer/sec on one core), so the ratios compare measurements, not client CPU costs;
    # the capacity part measures the clients themselves.
    parser.add_argument("--width", type=int, default=1024, help="the compared MLP's width")
    parser.add_argument("--depth", type=int, default=8, help="the compared MLP's depth")
    parser.add_argument(
        "--pa-async",
        action="store_true",
        help="run perf_analyzer with --async (callbacks on a few threads, as tritune's event loop) instead "
        "of its default, one blocking thread per concurrency slot",
    )
    parser.add_argument(
        "--tritune-workers",
        type=int,
        default=None,
        help="tritune's load-generator processes (default: its own choice, a process per concurrency slot "
        "up to the client cores); the concurrency slots are split among them",
    )
    parser.add_argument(
        "--model-threads",
        type=int,
        default=None,
        help="ONNX Runtime intra-op threads of the served models (default: the server's cores); 1 leaves "
        "the other server cores to Triton's own threads, a quieter server",
    )
    parser.add_argument(
        "--server-cpus",
        type=int,
        default=1,
        help="cores the server gets when pinned (the first N); the clients get the rest",
    )
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="Do not pin the server to one core and the clients to the others. Pinning keeps a client's "
        "own CPU cost from slowing the server it measures; on a small host that cost, not the "
        "measurement, otherwise decides the ratios.",
    )
    args = parser.parse_args()
    split = server_split(args.server_cpus) if args.pin else None
    server_cores = split.server if split else usable_cpus()
    binary = find_perf_analyzer()
    if binary is None:
        print("perf_analyzer not found: run scripts/get_perf_analyzer.sh", file=sys.stderr)
        return 2
    options = MeasureOptions(
        protocol=args.protocol,
        workers=args.tritune_workers,
        window=WindowSpec(window_ns=args.window_ms * 1_000_000),
        stability=StabilityCriteria(threshold=args.stability, max_windows=10),
    )
    with tempfile.TemporaryDirectory(prefix="tritune-bench-") as tmp:
        work = Path(tmp)
        repo = work / "repo"
        repo.mkdir()
        batching = ServingConfig(
            max_batch_size=32,
            dynamic_batching=DynamicBatching(),
            runner=RunnerOptions(intra_op_threads=args.model_threads or len(server_cores)),
        )
        deploy_onnx(repo, "mlp", mlp_model(work / "mlp.onnx", width=args.width, depth=args.depth), batching)
        deploy_onnx(repo, "trivial", mlp_model(work / "trivial.onnx", width=4, depth=1), batching)
        with (
            EmbeddedTriton(repo, cpus=split.server if split else None) as server,
            ModelControl(server) as control,
            client_side(split),  # this process and the clients it starts from now on
        ):
            control.load("mlp")
            control.load("trivial")
            pa_extra = ["--async"] if args.pa_async else []
            endpoints = server.endpoints
            url = endpoints.http if args.protocol == "http" else endpoints.grpc
            print(
                f"perf_analyzer: {binary}; protocol {args.protocol}; window {args.window_ms} ms; "
                f"stability {args.stability:.0%}; {args.rounds} rounds of PA, tritune, PA; perf_analyzer "
                f"{'--async' if args.pa_async else 'sync (its default)'}; "
                f"MLP {args.width}x{args.depth}, {args.model_threads or len(server_cores)} ORT threads; "
                f"{split.describe() if split else 'no pinning'}"
            )

            def compare(model: str, level: int, stability: float) -> list[Round]:
                """One Round per round: perf_analyzer, tritune, perf_analyzer, back to back."""
                level_options = replace(options, stability=replace(options.stability, threshold=stability))
                rounds: list[Round] = []
                # One driver per level: its worker processes serve every round.
                with LoadDriver(server, model, level_options) as driver:
                    for _ in range(args.rounds):
                        try:
                            before = with_server_stats(endpoints, model, lambda: run_pa(model, level, stability))
                            ours = with_server_stats(endpoints, model, lambda: run_tritune(driver, level))
                            after = with_server_stats(endpoints, model, lambda: run_pa(model, level, stability))
                        except RuntimeError as error:
                            print(f"  concurrency {level}: {error}".splitlines()[0], flush=True)
                            continue
                        rounds.append(Round(ours, before, after))
                return rounds

            def run_pa(model: str, level: int, stability: float) -> Point:
                return run_perf_analyzer(
                    binary, url, model, args.protocol, level, args.window_ms, stability, work, pa_extra
                )

            print(
                f"{'conc':>4} {'tritune inf/s':>13} {'PA inf/s':>9} {'thr ratio':>9} {'p50 T/PA us':>13} "
                f"{'p50 ratio':>9} {'p99 T/PA us':>13} {'p99 ratio':>9} {'PA/PA thr':>9} {'spread T/PA':>12} "
                f"{'batch T/PA':>11} {'outside server T/PA us':>22}"
            )
            worst_thr = worst_p50 = worst_aa = 0.0
            for level in args.levels:
                rounds = compare("mlp", level, args.stability)
                if not rounds:
                    continue
                ours = median_point([r.ours for r in rounds])
                theirs = median_point(pa_runs(rounds))
                # The median over rounds: each ratio compares runs made back to back.
                thr = statistics.median(r.ratio("throughput") for r in rounds)
                p50 = statistics.median(r.ratio("p50_us") for r in rounds)
                p99 = statistics.median(r.ratio("p99_us") for r in rounds)
                aa = statistics.median(r.after.throughput / r.before.throughput for r in rounds)
                worst_thr, worst_p50 = max(worst_thr, abs(thr - 1)), max(worst_p50, abs(p50 - 1))
                worst_aa = max(worst_aa, abs(aa - 1))
                flags = "" if ours.stable and theirs.stable else "  (not all stable)"
                print(
                    f"{level:>4} {ours.throughput:>13.1f} {theirs.throughput:>9.1f} {thr:>9.3f} "
                    f"{ours.p50_us:>6.0f}/{theirs.p50_us:<6.0f} {p50:>9.3f} "
                    f"{ours.p99_us:>6.0f}/{theirs.p99_us:<6.0f} {p99:>9.3f} {aa:>9.3f} "
                    f"{spread([r.ours for r in rounds]):>5.0%}/"
                    f"{spread(pa_runs(rounds)):<5.0%}  "
                    f"{statistics.median(r.ours.batch for r in rounds):>5.2f}/"
                    f"{statistics.median(p.batch for p in pa_runs(rounds)):<5.2f} "
                    f"{statistics.median(r.ours.outside_us for r in rounds):>11.0f}/"
                    f"{statistics.median(p.outside_us for p in pa_runs(rounds)):<10.0f}{flags}",
                    flush=True,
                )
                # Every round's ratio, so runs on the same host can be pooled afterwards.
                by_round = " ".join(f"{r.ratio('throughput'):.3f}" for r in rounds)
                print(
                    f"{'':>4} throughput ratio by round {by_round}; "
                    f"tritune processes {max(r.ours.workers for r in rounds)}; "
                    "server batches (size:share of executions) "
                    f"tritune {batch_shares([r.ours for r in rounds])} | perf_analyzer {batch_shares(pa_runs(rounds))}",
                    flush=True,
                )
            best_ours = best_theirs = 0.0
            for level in args.capacity_levels:
                # Near saturation both clients wobble more: a looser threshold, the same for both.
                rounds = compare("trivial", level, max(args.stability, 0.25))
                if not rounds:
                    continue
                ours = median_point([r.ours for r in rounds])
                theirs = median_point(pa_runs(rounds))
                best_ours, best_theirs = max(best_ours, ours.throughput), max(best_theirs, theirs.throughput)
                print(
                    f"capacity, trivial model, concurrency {level}: tritune {ours.throughput:.1f}, "
                    f"perf_analyzer {theirs.throughput:.1f} infer/sec",
                    flush=True,
                )
            capacity = best_ours / best_theirs if best_theirs else None
            print(
                f"worst |throughput ratio - 1| = {worst_thr:.3f} (target <= 0.05): "
                f"{'met' if worst_thr <= 0.05 else 'MISSED'}"
            )
            print(
                f"worst |p50 ratio - 1| = {worst_p50:.3f} (target <= 0.10): {'met' if worst_p50 <= 0.10 else 'MISSED'}"
            )
            print(f"worst |perf_analyzer A/A throughput ratio - 1| = {worst_aa:.3f} (perf_analyzer against itself)")
            if capacity is None:
                print("capacity ratio: not measured")
            else:
                print(
                    f"capacity ratio (highest throughput driven, tritune/perf_analyzer) {capacity:.3f} "
                    f"(target >= 0.8): {'met' if capacity >= 0.8 else 'MISSED'}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
