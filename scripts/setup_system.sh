#!/usr/bin/env bash
# System packages the test suite needs beyond the Python venv: Debian's Chromium and
# ChromeDriver, for the report browser test and PDF printing. Idempotent and quiet: installs
# only when `chromium` is missing. Needs root (or sudo) on a Debian/Ubuntu machine.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "setup_system.sh: chromium is missing and this user cannot install it (run as root)" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
echo "setup_system.sh: installed $(chromium --version 2>/dev/null || echo chromium)"
