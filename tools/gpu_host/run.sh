#!/usr/bin/env bash
# tritune on an offline GPU host: set up once from what scripts/device_bundle.sh packs into .whl/,
# then run one step. Everything it writes stays in the repository's .work/ (git-ignored).
#
#   tools/gpu_host/run.sh STEP [ARGS...]    (ARGS follow the step's defaults, so they override them)
#
#   check     nvidia-smi, `tritune doctor`, then `tritune perf` on an MLP served on the GPU, with
#             Triton's GPU metrics in its CSV and JSON (ARGS: more `tritune perf` options)
#   tests     the tests marked `gpu` (ARGS: pytest's)
#   bench     benchmarks/loadgen_vs_perf_analyzer.py: tritune's load generator against perf_analyzer
#   search    benchmarks/search_vs_brute.py, work dir .work/search
#   gpubench  benchmarks/gpu_served_vs_raw.py, work dir .work/gpubench
#   iopaths   benchmarks/gpu_io_paths.py on ResNet-50, prepared once into .work/iopaths
#   resnet    ResNet-50 (torchvision, random weights) prepared once into .work/resnet, then
#             `tritune profile` on it, timed (MODE=brute: the brute-force grid, a run of its own;
#             ARGS: more `tritune profile` options; LIMIT stops it as Ctrl-C does, and a rerun
#             resumes it); OUT receives the log and the run's store
#
# The host brings Python 3.12 with torch (torchvision for ResNet-50), numpy, onnxruntime and pytest;
# .whl/ the rest, installed into .work/gpu_host/site. onnxruntime-gpu (a wheel in .whl/, or
# ORT_WHEEL=FILE) goes there too: that folder is on PYTHONPATH for tritune and for the Triton server
# it starts (the runner's model.py puts PYTHONPATH ahead of the server Python's own packages), so
# both import it rather than the host's CPU onnxruntime. The CUDA libraries it loads come from the
# host's nvidia-* Python packages (torch's), put on the library path here.
#
# search and gpubench resume: run the step again and the benchmark goes on from the runs stored in
# its work dir. LIMIT=SECONDS stops a benchmark cleanly (as Ctrl-C does) after that long.
# OUT=DIR (optional) receives check's perf.csv and perf.json, the tests' JUnit XML, and search's or
# gpubench's stores as DIR/search.tar.gz or DIR/gpubench.tar.gz (model files and logs left out: the
# benchmarks make their models again from seeds). Unpacked on another host
# (`tar -xzf search.tar.gz -C .work`), the benchmark goes on there.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=${here%/tools/gpu_host}
if [ -n "${ORT_WHEEL:-}" ]; then ORT_WHEEL=$(realpath "$ORT_WHEEL"); fi  # given from the caller's folder
if [ -n "${OUT:-}" ]; then OUT=$(realpath -m "$OUT"); fi
cd "$ROOT"
PY=${PYTHON:-python3}
WORK=$ROOT/.work
HOST=$WORK/gpu_host
STEP=${1:-check}
[ $# -eq 0 ] || shift
case $STEP in
check | tests | bench | search | gpubench | iopaths | resnet) ;;
*)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2
    exit 2
    ;;
esac

setup() {  # .whl/bundle.tar.xz: site/ (nvidia-pytriton, plotly) and tools/ (perf_analyzer, its CUDA runtime)
    rm -rf "$HOST" && mkdir -p "$HOST/bin" "$HOST/lib"
    tar -xJf .whl/bundle.tar.xz -C "$HOST"
    pip_install .whl/*.whl
    if [ -d .models ]; then pip_install .models/*.whl; fi  # the MiniLM model of search's `minilm` case
    local libb64=("$HOST"/site/nvidia_pytriton.libs/libb64-*.so.0d)  # perf_analyzer's libb64, shipped there too
    ln -sf "${libb64[0]}" "$HOST/lib/libb64.so.0d"
    cat >"$HOST/bin/perf_analyzer" <<EOF
#!/usr/bin/env bash
export LD_LIBRARY_PATH="$HOST/tools/cuda/nvidia/cuda_runtime/lib:$HOST/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
exec "$HOST/tools/perf_analyzer/perf_analyzer" "\$@"
EOF
    chmod +x "$HOST/bin/perf_analyzer"
    touch "$HOST/ready"
}
pip_install() { "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$HOST/site" "$@"; }
benchmark() {  # benchmark SCRIPT ARGS...: stopped cleanly after LIMIT seconds where LIMIT is set
    if [ -z "${LIMIT:-}" ]; then "$PY" "$@"; else timeout -s INT "$LIMIT" "$PY" "$@" || echo "(stopped: $?)"; fi
}
pack() {  # pack NAME TAR_OPTIONS...: .work/NAME into $OUT/NAME.tar.gz, where OUT is set
    if [ -n "${OUT:-}" ]; then mkdir -p "$OUT" && tar -czf "$OUT/$1.tar.gz" -C "$WORK" "${@:2}" "$1"; fi
}

if [ -f .whl/bundle.tar.xz ]; then
    if [ ! -f "$HOST/ready" ] || [ .whl/bundle.tar.xz -nt "$HOST/ready" ]; then setup; fi
elif [ ! -f "$HOST/ready" ]; then
    echo "no .whl/bundle.tar.xz: run scripts/device_bundle.sh on a host with network and copy .whl/ here" >&2
    exit 2
fi
if [ -n "${ORT_WHEEL:-}" ] && ! compgen -G "$HOST/site/onnxruntime_gpu-*.dist-info" >/dev/null; then
    pip_install "$ORT_WHEEL"
fi
export PYTHONPATH=$HOST/site:$ROOT/src PERF_ANALYZER=$HOST/bin/perf_analyzer PYTHONUNBUFFERED=1
LD_LIBRARY_PATH=$("$PY" -c 'import glob, os, site
dirs = sorted(glob.glob(os.path.join(site.getsitepackages()[0], "nvidia", "*", "lib")))
print(":".join(dirs + [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if p]))')
export LD_LIBRARY_PATH

case $STEP in
check)
    nvidia-smi -L
    "$PY" -c 'import onnxruntime as o; print("onnxruntime", o.__version__, o.__file__, o.get_available_providers())'
    "$PY" -m tritune doctor || echo "(doctor exited $?: see its red row above)"
    mkdir -p "$WORK/check"
    "$PY" -c 'import sys; from pathlib import Path; from tritune.testing.models import mlp_model
mlp_model(Path(sys.argv[1]), width=1024, depth=8)' "$WORK/check/mlp.onnx"
    "$PY" -m tritune perf "$WORK/check/mlp.onnx" --concurrency-range 1:16:4 -p 1000 --verbose-csv \
        -f "$WORK/check/perf.csv" --json "$@" >"$WORK/check/perf.json"
    "$PY" - "$WORK/check/perf.json" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1])):
    gpu = {k: v for k, v in r["metrics"].items() if "gpu" in k}
    print(f"concurrency {r['load']['value']:g}: {r['status']}", gpu, "memory:", r["memory"])
EOF
    cat "$WORK/check/perf.csv"
    if [ -n "${OUT:-}" ]; then mkdir -p "$OUT" && cp "$WORK/check/perf.csv" "$WORK/check/perf.json" "$OUT/"; fi
    ;;
tests)
    # Only the files that hold gpu tests: collecting the others imports what such a host may lack.
    mapfile -t files < <(grep -rl --include='test_*.py' 'mark\.gpu' tests)
    [ ${#files[@]} -gt 0 ] || { echo "no test marked gpu under tests/" >&2; exit 2; }
    report=()
    if [ -n "${OUT:-}" ]; then mkdir -p "$OUT" && report=(--junitxml "$OUT/gpu-tests.xml"); fi
    "$PY" -m pytest -q -p no:cacheprovider -m gpu "${report[@]}" "${files[@]}" "$@"
    ;;
bench)
    benchmark benchmarks/loadgen_vs_perf_analyzer.py --server-cpus 4 --rounds 3 "$@"
    ;;
search)
    benchmark benchmarks/search_vs_brute.py --models cnn --server-cpus 4 --work-dir "$WORK/search" "$@"
    pack search --exclude=output_model_repository --exclude=side_by_side --exclude='*.log'
    ;;
gpubench)
    benchmark benchmarks/gpu_served_vs_raw.py --models resnet50 --rounds 2 --work-dir "$WORK/gpubench" "$@"
    pack gpubench --exclude='*.onnx' --exclude=prepared --exclude='check_*' --exclude=trt_cache \
        --exclude=output_model_repository --exclude='*.log' --exclude=child
    ;;
iopaths)
    # Random weights: fp16 strays further from fp32 than a trained network's would, hence the tolerance.
    [ -f "$WORK/iopaths/resnet50/config.pbtxt" ] ||
        "$PY" -m tritune prepare torchvision.models:resnet50 --input x:3,224,224 --precision fp32,fp16 \
            --tolerance fp16:0.1,0.1 -o "$WORK/iopaths"
    benchmark benchmarks/gpu_io_paths.py "$WORK/iopaths/resnet50/variants/fp32/model.onnx" "$@"
    ;;
resnet)
    [ -f "$WORK/resnet/resnet50/config.pbtxt" ] ||
        "$PY" -m tritune prepare torchvision.models:resnet50 --input x:3,224,224 -o "$WORK/resnet"
    run=run${MODE:+_$MODE}
    started=$(date +%s.%N)
    status=0
    ${LIMIT:+timeout -s INT "$LIMIT"} "$PY" -m tritune profile "$WORK/resnet/resnet50" --run-dir "$WORK/resnet/$run" \
        ${MODE:+--run-config-search-mode "$MODE"} "$@" 2>&1 | tee "$WORK/resnet/$run.log" || status=$?
    "$PY" -c 'import sys, time; print(f"profile wall time: {time.time() - float(sys.argv[1]):.1f} s")' "$started" |
        tee -a "$WORK/resnet/$run.log"
    if [ -n "${OUT:-}" ]; then
        mkdir -p "$OUT" && cp "$WORK/resnet/$run.log" "$WORK/resnet/$run/tritune.db" "$OUT/" 2>/dev/null || true
        mv "$OUT/tritune.db" "$OUT/$run.db" 2>/dev/null || true
    fi
    exit "$status"
    ;;
esac
