#!/usr/bin/env bash
# Sets everything up, then runs the main job on the embedded default (a generated Amazon-2018-shaped dump).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
source .venv/bin/activate
slmrec-train --preset tiny --out runs/out/demo --force
