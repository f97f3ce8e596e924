#!/usr/bin/env bash
# Set up (if needed) and run the end-to-end demo on generated SUMO scenarios.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/smartr1 demo "$@"
