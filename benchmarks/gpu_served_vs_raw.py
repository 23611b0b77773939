"""What tritune serves on a GPU against what the same runtime does in-process, and against PyTorch.

Per network (ResNet-50 from torchvision with random weights, and tritune's MLP), each prepared by
tritune (fp32 and, where it validates, fp16):

    raw    = the best in-process ONNX Runtime throughput on the GPU: IO binding, data already on
             the device, batches 1..256, fp32 and fp16 (and the TensorRT EP where TensorRT loads)
    anchor = the same network in PyTorch in-process: fp16, channels-last, data on the GPU, eager
             (and torch.compile where it finishes within --compile-timeout), at its best batch
    served = tritune's recommendation (a ``tritune profile`` run on the embedded Triton, its
             default search, or --grid gpu), re-measured by tritune's load generator and by
             perf_analyzer when found ($PERF_ANALYZER / PATH)

Printed: served/raw (target >= 0.9) and served/anchor (target >= 0.8), each with the spread
((max - min) / median) over --rounds rounds. Nothing is downloaded: weights are random.

Rerun with the same --work-dir to go on where a cut-off run stopped (a run longer than the
time at hand goes on in the next): the prepared files and the in-process results are kept there (``<net>/files.json``,
``<net>/inprocess.json``) and the profile resumes from its own store. Each loaded variant and
each measurement is printed as it happens (load, warm-up and window seconds), so a cut-off run
still shows where its time went.

Usage (GPU host): python benchmarks/gpu_served_vs_raw.py [--models resnet50,mlp] [--grid default|gpu]
Smoke run anywhere (CPU, tiny sizes): python benchmarks/gpu_served_vs_raw.py --quick
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from tritune.config import parse_profile_config
from tritune.domain.measurement import LoadPoint
from tritune.loadgen import WorkerPool, make_measure_fn
from tritune.prepare.options import InputSpec, PrepareOptions
from tritune.prepare.pipeline import prepare_model
from tritune.profile.notify import LineNotifier
from tritune.profile.session import ProfileSession, measure_options
from tritune.runner.runtimes.ort_options import provider_options, tensorrt_usable
from tritune.store import Store
from tritune.system import find_perf_analyzer
from tritune.testing.models import mlp_model
from tritune.triton.control import ModelControl
from tritune.triton.model_config import read_signature
from tritune.triton.repository import deploy_onnx
from tritune.triton.server import EmbeddedTriton

GPU_GRID: dict[str, Any] = {  # --grid gpu: 3 x 3 x 2 configurations
    "max_batch_size": [32, 64, 128],
    "instance_group": [{"count": [1, 2, 4], "kind": ["KIND_GPU"]}],
    "dynamic_batching": {"max_queue_delay_microseconds": [0, 500]},
}
QUICK_GRID: dict[str, Any] = {"max_batch_size": [8], "instance_group": [{"count": [1, 2], "kind": ["KIND_CPU"]}]}


@dataclass
class Net:
    name: str
    files: dict[str, Path]  # precision -> prepared ONNX file
    torch_module: Callable[[], Any]  # the same network in PyTorch, random weights
    sample: tuple[int, ...]  # one sample's shape (batch left out)


@dataclass
class Best:
    label: str
    batch: int
    rounds: list[float]  # samples/s at that batch, one per round

    @property
    def median(self) -> float:
        return statistics.median(self.rounds) if self.rounds else 0.0


def spread(values: list[float]) -> float:
    return (max(values) - min(values)) / statistics.median(values) if values and statistics.median(values) else 0.0


def prepared(source: str, work: Path, name: str, sample: tuple[int, ...], quick: bool) -> dict[str, Path]:
    """tritune prepare's variants that validated (fp16 is kept only where it passed); those of an
    earlier run in the same work dir when its files are all still there."""
    kept = work / "files.json"
    if kept.exists():
        files = {p: Path(f) for p, f in json.loads(kept.read_text()).items()}
        if files and all(f.exists() for f in files.values()):
            print(f"  [prepare] reused: {', '.join(files)} from {kept}")
            return files
    options = PrepareOptions(
        inputs=(InputSpec("x", sample, "float32"),),
        precisions=("fp32", "fp16"),
        max_batch_size=8 if quick else None,  # quick: skip the sweep; else prepare picks
        max_batch_cap=256,
        force=True,  # write fp32 even where fp16 fails its check
    )
    model = prepare_model(source, work / "prepared", name, options, log=lambda line: print(f"  [prepare] {line}"))
    files = {p: model.directory / v.file for p, v in model.report.variants.items() if v.usable}
    kept.write_text(json.dumps({p: str(f) for p, f in files.items()}))
    return files


def resnet(work: Path, quick: bool, prepare: bool = True) -> Net:
    import torchvision  # noqa: F401 - fail here, before preparing, where it is missing

    arch, sample = ("resnet18", (3, 32, 32)) if quick else ("resnet50", (3, 224, 224))

    def module() -> Any:
        return getattr(torchvision.models, arch)(weights=None)

    if prepare:
        import torch

        # prepare draws the random weights: the same ones on every machine give the same file
        # bytes, the profile's identity, so a run carried to another machine resumes its store
        torch.manual_seed(0)
    files = prepared(f"torchvision.models:{arch}", work, arch, sample, quick) if prepare else {}
    return Net(arch, files, module, sample)


def mlp(work: Path, quick: bool, prepare: bool = True) -> Net:
    width, depth = (64, 2) if quick else (1024, 4)

    def module() -> Any:
        import torch

        layers = [m for _ in range(depth) for m in (torch.nn.Linear(width, width, bias=False), torch.nn.Tanh())]
        return torch.nn.Sequential(*layers)

    if not prepare:  # the torch.compile child needs the module only
        return Net("mlp", {}, module, (width,))
    onnx_file = mlp_model(work / "mlp_src" / "mlp.onnx", width=width, depth=depth)
    return Net("mlp", prepared(str(onnx_file), work, "mlp", (width,), quick), module, (width,))


def timed(step: Callable[[], None], seconds: float, sync: Callable[[], None] = lambda: None) -> float:
    """Calls per second of ``step`` over about ``seconds`` (after three warm-up calls)."""
    for _ in range(3):
        step()
    sync()
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        step()
        calls += 1
    sync()
    return calls / (time.perf_counter() - started)


def best_of(label: str, rate: Callable[[int], float], batches: list[int], rounds: int) -> Best:
    """Sweep the batches once, then measure the best one ``rounds`` times."""
    sweep = {b: b * rate(b) for b in batches}
    print(f"  {label}: " + ", ".join(f"b{b} {v:,.0f}/s" for b, v in sweep.items()), flush=True)
    batch = max(sweep, key=lambda b: sweep[b])
    return Best(label, batch, [batch * rate(batch) for _ in range(rounds)])


def raw_ort(path: Path, provider: str, batches: list[int], seconds: float, rounds: int, trt_cache: Path) -> Best:
    (spec,) = read_signature(path).inputs
    dims = "x".join(str(d) for d in spec.shape[1:])  # one TensorRT profile for every batch, not one per shape
    options = {"trt_fp16": "1", "trt_cache_dir": str(trt_cache), "max_batch_size": str(max(batches))}
    options["input_dims"] = f"{spec.name}:{dims}"
    first = (provider, provider_options(provider, options, 0))
    providers = [first, "CUDAExecutionProvider", "CPUExecutionProvider"] if provider != "CPUExecutionProvider" else []
    session = ort.InferenceSession(str(path), providers=providers or ["CPUExecutionProvider"])
    device = "cpu" if session.get_providers()[0] == "CPUExecutionProvider" else "cuda"
    (feed,) = session.get_inputs()
    dtype = np.float16 if feed.type == "tensor(float16)" else np.float32
    outputs = [o.name for o in session.get_outputs()]

    def rate(batch: int) -> float:
        x = np.random.default_rng(0).standard_normal((batch, *feed.shape[1:])).astype(dtype)
        binding = session.io_binding()
        binding.bind_ortvalue_input(feed.name, ort.OrtValue.ortvalue_from_numpy(x, device, 0))
        for name in outputs:
            binding.bind_output(name, device, 0)
        return timed(lambda: session.run_with_iobinding(binding), seconds)

    return best_of(f"raw ORT {path.parent.name} {session.get_providers()[0]}", rate, batches, rounds)


def anchor(net: Net, batches: list[int], seconds: float, rounds: int, compiled: bool, quick: bool) -> Best:
    import torch

    gpu = torch.cuda.is_available() and not quick
    dtype, device = (torch.float16, "cuda") if gpu else (torch.float32, "cpu")
    layout = torch.channels_last if len(net.sample) == 3 else torch.contiguous_format
    module = net.torch_module().eval().to(device=device, dtype=dtype, memory_format=layout)
    if compiled:
        module = torch.compile(module)
    sync = torch.cuda.synchronize if gpu else (lambda: None)

    def rate(batch: int) -> float:
        x = torch.randn(batch, *net.sample, device=device, dtype=dtype).contiguous(memory_format=layout)
        with torch.inference_mode():
            return timed(lambda: module(x), seconds, sync)

    return best_of(f"torch {'compile' if compiled else 'eager'} {dtype}", rate, batches, rounds)


def anchor_compiled(net_name: str, args: argparse.Namespace) -> Best | None:
    """torch.compile in a child process, so a compile that does not finish is cut off."""
    command = [sys.executable, __file__, "--compiled-anchor", net_name, "--work-dir", str(args.work_dir)]
    command += ["--quick"] if args.quick else []
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.compile_timeout, check=True)
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError) as error:
        print(f"  torch.compile anchor skipped: {type(error).__name__}")
        return None
    return Best(**json.loads(done.stdout.strip().splitlines()[-1]))


def served(net: Net, precision: str, args: argparse.Namespace) -> tuple[list[Best], str]:
    """``tritune profile`` on one prepared file, then its winner re-measured by both clients."""
    grid = QUICK_GRID if args.quick else GPU_GRID if args.grid == "gpu" else None
    model: dict[str, Any] = {"model_path": str(net.files[precision])}
    if grid:
        model["model_config_parameters"] = grid
    config = parse_profile_config(
        {
            "profile_models": {net.name: model},
            "run_config_search_mode": "brute" if grid else "default",
            "run_config_search_max_concurrency": 8 if args.quick else args.max_concurrency,
            "run_config_search_max_instance_count": args.max_instances,
            "objectives": {"perf_throughput": 1},
            "measurement": {
                "protocol": "grpc",
                "measurement_interval": args.window_ms,
                "max_trials": 6,
                "shared_memory": args.shared_memory,
            },
        }
    )
    run_dir = args.work_dir / f"profile_{net.name}_{precision}"
    started = time.monotonic()
    (conclusion,) = ProfileSession(config, LineNotifier()).run(run_dir=run_dir, export=None, report=False)
    took = time.monotonic() - started
    if conclusion.best_name is None:
        raise SystemExit(f"the profile found no usable configuration: see {run_dir}")
    with Store.in_run_dir(run_dir) as store:
        winner = next(v for v in store.variants(conclusion.run.id) if v.name == conclusion.best_name)
    if conclusion.confirmation is not None:
        load = conclusion.confirmation.load  # where the confirm rounds measured the finalists
    else:
        (searched,) = [c for c in conclusion.configs if c.name == winner.name]
        load = max(searched.measurements, key=lambda m: m.metrics.get("perf_throughput", 0.0)).load
    note = f"winner {dict(winner.params)} at concurrency {load.value:g}, found in {took:.0f} s"
    repo = args.work_dir / f"check_{net.name}_{precision}"
    deploy_onnx(repo, "winner", net.files[precision], winner.serving)
    return remeasure(repo, config, load, args), note


def remeasure(repo: Path, config: Any, load: LoadPoint, args: argparse.Namespace) -> list[Best]:
    """The winner on a fresh server, each client in each memory mode, interleaved by round: the
    network's share of the gap to raw is the difference between the modes."""
    binary = find_perf_analyzer()
    ours: dict[str, list[float]] = {mode: [] for mode in ("none", "system")}
    theirs: dict[str, list[float]] = {mode: [] for mode in args.pa_memory.split(",") if binary is not None}
    with EmbeddedTriton(repo) as server, ModelControl(server) as control, WorkerPool() as workers:
        control.load("winner")
        for _ in range(args.rounds):
            for mode, rounds in ours.items():
                options = dataclasses.replace(measure_options(config.measurement), shared_memory=mode)
                rounds.append(
                    make_measure_fn(server, options, workers)("winner", load).metrics.get("perf_throughput", 0.0)
                )
            for mode, rounds in theirs.items():
                assert binary is not None  # theirs is empty without it
                rounds.append(perf_analyzer(binary, server.endpoints.grpc, load, args, mode))
    rows = [Best(f"served (tritune, grpc, inputs {_memory(m)})", load.batch_size, r) for m, r in ours.items()]
    rows += [Best(f"served (perf_analyzer, grpc, {_memory(m)})", load.batch_size, r) for m, r in theirs.items()]
    return rows


def _memory(mode: str) -> str:
    return {"none": "in the requests", "system": "in system shared memory", "cuda": "in CUDA shared memory"}[mode]


def perf_analyzer(binary: Path, url: str, load: LoadPoint, args: argparse.Namespace, memory: str = "none") -> float:
    out = args.work_dir / "pa.csv"
    out.unlink(missing_ok=True)
    concurrency = f"{int(load.value)}:{int(load.value)}"
    command = [str(binary), "-m", "winner", "-u", url, "-i", "grpc", "-b", str(load.batch_size)]
    command += ["-p", str(max(args.window_ms, 1000)), "--concurrency-range", concurrency, "-f", str(out)]
    if memory != "none":  # inputs and outputs in regions perf_analyzer registers (outputs: 1 MB each)
        command += [f"--shared-memory={memory}", "--output-shared-memory-size=1048576"]
    subprocess.run(command, capture_output=True, text=True, timeout=300)
    if not out.exists():
        return 0.0  # no stable window (or a mode this host lacks): a failed round, visible in the spread
    with out.open() as handle:
        header, row = handle.readline().split(","), handle.readline().split(",")
    return float(dict(zip(header, row, strict=False))["Inferences/Second"])  # samples/s: batch counted


def report(net: Net, raws: list[Best], anchors: list[Best], served_rows: list[tuple[str, list[Best], str]]) -> None:
    def show(best: Best) -> str:
        return f"{best.median:10,.0f} /s at batch {best.batch:3d} (spread {spread(best.rounds):.0%})"

    print(f"\n== {net.name}")
    for best in raws + anchors:
        print(f"  {best.label:61s} {show(best)}")
    raw = max(raws, key=lambda b: b.median)
    top = max(anchors, key=lambda b: b.median) if anchors else None
    for precision, rows, note in served_rows:
        for best in rows:
            ratios = f"served/raw {best.median / raw.median:.3f} (target >= 0.9)"
            if top is not None:
                ratios += f"  served/anchor {best.median / top.median:.3f} (target >= 0.8)"
            print(f"  {precision} {best.label:58s} {show(best)}  {ratios}")
        print(f"      {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet50,mlp")
    parser.add_argument("--quick", action="store_true", help="CPU smoke run: tiny networks, short windows")
    parser.add_argument("--grid", choices=["default", "gpu"], default="default", help="tritune's search or GPU_GRID")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0, help="per in-process measurement")
    parser.add_argument("--window-ms", type=int, default=1000)
    parser.add_argument(
        "--compile-timeout",
        type=float,
        default=180.0,
        help="0 skips the torch.compile anchor (on an H100 it had not finished in 7 min: the call's time went)",
    )
    parser.add_argument("--max-concurrency", type=int, default=1024, help="the profile's search bound")
    parser.add_argument("--max-instances", type=int, default=5, help="the profile's search bound")
    parser.add_argument("--work-dir", type=Path, help="keep the runs here (default: a temporary directory)")
    parser.add_argument(
        "--shared-memory",
        choices=["none", "system"],
        default="system",
        help="where the profile's load generator puts the inputs (system: read in place by the server)",
    )
    parser.add_argument(
        "--pa-memory", default="none,system,cuda", help="perf_analyzer's --shared-memory modes for the winner"
    )
    parser.add_argument(
        "--served", help="the precisions whose recommendation is profiled and re-measured (default: every prepared one)"
    )
    parser.add_argument("--compiled-anchor", help=argparse.SUPPRESS)  # the child process of anchor_compiled
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds, args.window_ms, args.compile_timeout = 2, 0.3, 300, 120.0
        args.pa_memory = "none,system"  # no CUDA here
    with tempfile.TemporaryDirectory(prefix="tritune-gpu-bench-") as tmp:
        args.work_dir = args.work_dir or Path(tmp)
        run(args)


def inprocess(
    key: str, net: Net, args: argparse.Namespace, batches: list[int], providers: list[str]
) -> tuple[list[Best], list[Best]]:
    """Raw ONNX Runtime and the PyTorch anchor (``key``: the --models name), measured once per
    work dir (a rerun reuses them)."""
    kept = args.work_dir / key / "inprocess.json"
    if kept.exists():
        stored = json.loads(kept.read_text())
        print(f"  in-process results reused from {kept}")
        return [Best(**b) for b in stored["raw"]], [Best(**b) for b in stored["anchor"]]
    trt_cache = args.work_dir / "trt_cache"
    raws = [raw_ort(f, p, batches, args.seconds, args.rounds, trt_cache) for f in net.files.values() for p in providers]
    anchors = [anchor(net, batches, args.seconds, args.rounds, compiled=False, quick=args.quick)]
    anchors += filter(None, [anchor_compiled(key, args)] if args.compile_timeout > 0 else [])
    kept.write_text(
        json.dumps({"raw": [dataclasses.asdict(b) for b in raws], "anchor": [dataclasses.asdict(b) for b in anchors]})
    )
    return raws, anchors


def run(args: argparse.Namespace) -> None:
    batches = [1, 2, 8] if args.quick else [1, 8, 32, 64, 128, 256]
    builders = {"resnet50": resnet, "mlp": mlp}
    if args.compiled_anchor:  # child: the net's torch module only (its ONNX files are not needed)
        net = builders[args.compiled_anchor](args.work_dir / "child", args.quick, False)
        best = anchor(net, batches, args.seconds, args.rounds, compiled=True, quick=args.quick)
        print(json.dumps({"label": best.label, "batch": best.batch, "rounds": best.rounds}))
        return
    gpu = "CUDAExecutionProvider" in ort.get_available_providers() and not args.quick
    providers = ["CUDAExecutionProvider"] if gpu else ["CPUExecutionProvider"]
    if gpu and tensorrt_usable():
        providers.append("TensorrtExecutionProvider")
    print(f"onnxruntime {ort.__version__}; raw providers {providers}; perf_analyzer {find_perf_analyzer()}")
    for name in args.models.split(","):
        net = builders[name](args.work_dir / name, args.quick)
        print(f"\n{name}: prepared {', '.join(net.files)}", flush=True)
        raws, anchors = inprocess(name, net, args, batches, providers)
        rows = []
        for precision in args.served.split(",") if args.served else net.files:
            if precision not in net.files:
                raise SystemExit(f"--served {precision}: prepare made {', '.join(net.files)} for {name}")
            rows.append((precision, *served(net, precision, args)))
            report(net, raws, anchors, rows[-1:])  # each precision as it is done: a cut-off run keeps it
        report(net, raws, anchors, rows)


if __name__ == "__main__":
    main()
