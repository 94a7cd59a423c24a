#!/usr/bin/env bash
# The whole CPU report in one command: set up, install the RecBole peer in its own venv, run every job of
# runs/results.py that is not done yet (resumable; a few hours on 2 CPU cores), write docs/RESULTS.md. With two
# CPUs or more it runs two jobs at a time, each on its own CPU with one torch thread (--lanes 2; a later --lanes
# flag overrides it).
#
#   bash runs/results.sh [results.py flags, e.g. --max-hours 2]
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/setup.sh
bash runs/recbole_setup.sh
# shellcheck disable=SC1091
source .venv/bin/activate
lanes=$(( $(nproc) >= 2 ? 2 : 1 ))
python runs/results.py --lanes "$lanes" "$@"
echo "runs/results.sh: $(( ($(date +%s) - start) / 60 )) min"
