"""Where a served GPU request spends its time, per IO path of tritune's runner.

One prepared ONNX file is served on the embedded Triton as one GPU variant per IO path of the
runner (outputs left on the GPU and sent by DLPack, IO binding with outputs copied to the host,
the plain numpy path, CUDA graphs; batches padded to powers of two, unpadded, or to the max),
all loaded on one server, and each is measured at a few
concurrencies by tritune's load generator. Printed per variant and load: throughput, p50, and
Triton's own split of a request (queue, compute input, compute infer, compute output), so a slow
path shows in which step it is slow. Rounds interleave the variants (A, B, C, A, B, C, ...), so
a drift of the host moves them alike; the spread is (max - min) / median over rounds.

Usage (GPU host): python benchmarks/gpu_io_paths.py MODEL.onnx [--concurrency 1,4,32] [--rounds 2]
    [--instances 4] [--shared-memory system] [--phases 5]  (--phases: the runner's own split of
    compute infer into read, merge, pad, run and respond, runner/phases.py)
Smoke run on a CPU host: python benchmarks/gpu_io_paths.py MODEL.onnx --cpu
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path

from tritune.domain.measurement import LoadPoint
from tritune.domain.serving import DynamicBatching, RunnerOptions, ServingConfig
from tritune.loadgen import WorkerPool, make_measure_fn
from tritune.loadgen.spec import MeasureOptions, StabilityCriteria, WindowSpec
from tritune.triton.control import ModelControl
from tritune.triton.repository import deploy_onnx
from tritune.triton.server import EmbeddedTriton

# Batches are padded to powers of two on a GPU by default (runner/batching.py says why); the
# "_unpadded" paths run them as the batcher formed them, "_pad_max" always at max batch.
# Batches are staged in one copy into reused page-locked buffers by default (runner/staging.py);
# "host_unpinned" keeps the buffers pageable, "host_concat" concatenates then pads as before.
PATHS: dict[str, RunnerOptions] = {
    "dlpack_out": RunnerOptions(io_binding="device"),
    "bind_host_out": RunnerOptions(io_binding="host"),
    "numpy": RunnerOptions(io_binding="off"),
    "cuda_graph": RunnerOptions(cuda_graph=True),
    "host_unpadded": RunnerOptions(io_binding="host", batch_buckets="off"),
    "host_pad_max": RunnerOptions(io_binding="host", batch_buckets="max"),
    "host_unpinned": RunnerOptions(io_binding="host", host_staging="unpinned"),
    "host_concat": RunnerOptions(io_binding="host", host_staging="off"),
}
SPLIT = ("perf_server_queue", "perf_server_compute_input", "perf_server_compute_infer", "perf_server_compute_output")


def spread(values: list[float]) -> float:
    middle = statistics.median(values) if values else 0.0
    return (max(values) - min(values)) / middle if middle else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="an ONNX file with a dynamic batch (e.g. tritune prepare's)")
    parser.add_argument("--concurrency", default="1,4,32")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--window-ms", type=int, default=1000)
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--instances", type=int, default=1, help="instances per variant")
    parser.add_argument("--shared-memory", choices=["none", "system"], default="none", help="where the inputs travel")
    parser.add_argument("--phases", type=float, default=0.0, help="seconds between the runner's phase reports (0: off)")
    parser.add_argument("--cpu", action="store_true", help="KIND_CPU instances (a smoke run without a GPU)")
    args = parser.parse_args()
    kind = "KIND_CPU" if args.cpu else "KIND_GPU"
    loads = [LoadPoint(value=int(c)) for c in args.concurrency.split(",")]
    options = MeasureOptions(
        protocol="grpc",
        window=WindowSpec(window_ns=args.window_ms * 1_000_000),
        stability=StabilityCriteria(threshold=0.1, max_windows=6),
        shared_memory=args.shared_memory,
    )
    rows: dict[tuple[str, float], list[dict[str, float]]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="tritune-io-paths-") as repo:
        names = args.paths.split(",")
        for name in names:
            runner = dataclasses.replace(PATHS[name], phase_timing_s=args.phases)
            serving = ServingConfig(args.max_batch, args.instances, kind, DynamicBatching(), runner)
            deploy_onnx(repo, name, args.model, serving)
        with EmbeddedTriton(repo) as server, ModelControl(server) as control, WorkerPool() as pool:
            for name in names:
                control.load(name)
            measure = make_measure_fn(server, options, pool)
            for load in loads:  # warm every path at every load once, unrecorded
                for name in names:
                    measure(name, load)
            for round_index in range(args.rounds):
                for load in loads:
                    for name in names:
                        result = measure(name, load)
                        rows[(name, load.value)].append({**result.metrics, "ok": float(result.ok)})
                print(f"round {round_index + 1} of {args.rounds} done", flush=True)
            phases = _last_phase_reports(server.log_file, names) if args.phases > 0 else {}
    where = "in system shared memory" if args.shared_memory == "system" else "in the requests"
    print(
        f"\n{args.model.name}: {kind}, {args.instances} instance(s), max batch {args.max_batch}, dynamic batching, "
        f"grpc, inputs {where}"
    )
    print(f"{'path':14s} {'conc':>5s} {'infer/s':>10s} {'spread':>7s} {'p50 ms':>8s}  " + "  ".join(SPLIT))
    for (name, concurrency), measured in sorted(rows.items(), key=lambda item: (item[0][1], item[0][0])):
        throughputs = [m.get("perf_throughput", 0.0) for m in measured]
        p50 = statistics.median(m.get("perf_latency_p50", 0.0) for m in measured)
        split = "  ".join(f"{statistics.median(m.get(k, 0.0) for m in measured):8.2f}" for k in SPLIT)
        stable = sum(int(m["ok"]) for m in measured)
        print(
            f"{name:14s} {concurrency:5g} {statistics.median(throughputs):10,.1f} {spread(throughputs):7.0%} "
            f"{p50:8.2f}  {split}  ({stable}/{len(measured)} stable)"
        )
    for line in phases.values():  # where compute infer's time goes inside the runner
        print(f"  {line}")


def _last_phase_reports(log: Path | None, names: list[str]) -> dict[str, str]:
    """Each variant's last ``tritune runner phases`` line (one per instance and report; the last
    one written covers the busiest, latest span)."""
    text = log.read_text(errors="replace") if log is not None and log.exists() else ""
    found: dict[str, str] = {}
    for line in text.splitlines():
        for name in names:
            marker = f"tritune runner phases {name}:"
            if marker in line:
                found[name] = line[line.index(marker) :].rstrip('"')  # Triton quotes a model's log line
    return found


if __name__ == "__main__":
    main()
