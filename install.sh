#!/usr/bin/env bash
# Installs chakushin and its development tools into ./.venv.
# On a fresh Debian machine run as root (or with sudo available) so that a
# missing python3-venv can be installed with apt.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}

python_ok() {
    "$PYTHON" - <<'PY' 2>/dev/null
import sys, venv, ensurepip  # noqa: F401  (Debian splits venv/ensurepip into python3-venv)
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY
}

if ! python_ok; then
    echo "install: $PYTHON is missing, older than 3.11 or lacks venv; installing from apt" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q python3 python3-venv python3-pip
    python_ok || { echo "install: need Python >= 3.11 with venv (set PYTHON=...)" >&2; exit 1; }
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev,tts]"
echo "install: done; the command is .venv/bin/chakushin"
