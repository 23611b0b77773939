#!/usr/bin/env bash
# Install Triton Model Analyzer (the peer benchmarks/vs_model_analyzer.py compares tritune with)
# into its own venv under .tools/: it pins old dependencies (tritonclient, numpy, protobuf, ...)
# that must not touch the project's .venv.
#
# Result: .tools/model-analyzer/bin/model-analyzer. MA runs perf_analyzer (scripts/get_perf_analyzer.sh
# puts it at .tools/bin/perf_analyzer) and, in its `local` launch mode, a tritonserver binary
# (the benchmark passes the one bundled in the nvidia-pytriton wheel of .venv).
# Idempotent: a second run only checks the install and prints its path.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.tools/model-analyzer"
MA_VERSION="1.58.0"
BASE_PY="${PYTHON:-python3}"

if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('triton-model-analyzer') != '$MA_VERSION')" 2>/dev/null; then
    mkdir -p "$ROOT/.tools"
    [ -x "$VENV/bin/python" ] || "$BASE_PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet "triton-model-analyzer==$MA_VERSION"
fi

"$VENV/bin/model-analyzer" --help >/dev/null 2>&1 || {
    echo "model-analyzer was installed but does not run: try $VENV/bin/model-analyzer --help" >&2
    exit 1
}
echo "model-analyzer ready: $VENV/bin/model-analyzer"
