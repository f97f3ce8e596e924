#!/usr/bin/env bash
# Idempotent set-up: a virtual environment in .venv with smartr1 and its pinned dependencies.
# Needs only Python 3.11+ on the machine. Re-running it is cheap when nothing changed.
#   bash scripts/setup.sh        what the demo needs (the package and its dependencies)
#   bash scripts/setup.sh dev    also the test, lint and optional-engine tools (Ray, pyarrow, ...)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
extras=${1:-}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.smartr1-installed${extras:+-$extras}
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch is pinned to the CPU build in pyproject.toml (torch==2.13.0); an unpinned torch would pull CUDA.
  .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}"
  touch "$stamp"
fi
