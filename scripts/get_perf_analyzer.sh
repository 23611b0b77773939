#!/usr/bin/env bash
# Fetch perf_analyzer (the peer tritune's load generator is checked against) into .tools/.
#
# The binary ships in the tritonclient==2.41.0 wheel (manylinux1_x86_64) as
# tritonclient-2.41.0.data/data/bin/perf_analyzer. It is extracted rather than installed,
# so the project's current tritonclient stays in place. It needs Debian's libb64-0d and
# libcudart.so.12 (from PyPI nvidia-cuda-runtime-cu12), even on a CPU-only machine.
#
# Result: .tools/bin/perf_analyzer, a wrapper that sets LD_LIBRARY_PATH and runs the binary
# (tritune.system.find_perf_analyzer() finds it when tritune runs from the repository root;
# elsewhere put it on PATH or set PERF_ANALYZER).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
PA_VERSION="2.41.0"

mkdir -p "$TOOLS/bin" "$TOOLS/wheels" "$TOOLS/perf_analyzer" "$TOOLS/cuda"

if ! ldconfig -p | grep -q 'libb64\.so\.0d'; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libb64-0d
fi

if [ ! -x "$TOOLS/perf_analyzer/perf_analyzer" ]; then
    "$PY" -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux1_x86_64 \
        --python-version 3.11 -d "$TOOLS/wheels" "tritonclient==$PA_VERSION"
    WHEEL="$(ls "$TOOLS"/wheels/tritonclient-"$PA_VERSION"-*.whl | head -n1)"
    "$PY" - "$WHEEL" "$TOOLS/perf_analyzer/perf_analyzer" "$PA_VERSION" <<'PYEOF'
import sys, zipfile
wheel, target, version = sys.argv[1:]
member = f"tritonclient-{version}.data/data/bin/perf_analyzer"
with zipfile.ZipFile(wheel) as zf, open(target, "wb") as out:
    out.write(zf.read(member))
PYEOF
    chmod +x "$TOOLS/perf_analyzer/perf_analyzer"
fi

if [ ! -d "$TOOLS/cuda/nvidia/cuda_runtime/lib" ]; then
    "$PY" -m pip install --quiet --no-deps --target "$TOOLS/cuda" "nvidia-cuda-runtime-cu12"
fi

cat > "$TOOLS/bin/perf_analyzer" <<WRAP
#!/usr/bin/env bash
export LD_LIBRARY_PATH="$TOOLS/cuda/nvidia/cuda_runtime/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
exec "$TOOLS/perf_analyzer/perf_analyzer" "\$@"
WRAP
chmod +x "$TOOLS/bin/perf_analyzer"

"$TOOLS/bin/perf_analyzer" --version 2>/dev/null || "$TOOLS/bin/perf_analyzer" --help >/dev/null 2>&1 || {
    echo "perf_analyzer was extracted but does not run: check ldd $TOOLS/perf_analyzer/perf_analyzer" >&2
    exit 1
}
echo "perf_analyzer ready: $TOOLS/bin/perf_analyzer"
