#!/usr/bin/env bash
# The whole CPU report in one command: set up, install the RecBole peer in its own venv, run every job of
# runs/results.py that is not done yet (resumable; a few hours on 2 CPU cores), write docs/RESULTS.md. Jobs run one
# at a time; pass --lanes 2 to run two at a time, each on its own CPU with one thread (the peer's timed jobs alone),
# --extra for the extra jobs (more seeds and variants of what the default run shows).
#
#   bash runs/results.sh [results.py flags, e.g. --max-hours 2, --extra]
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/setup.sh
bash runs/recbole_setup.sh
# shellcheck disable=SC1091
source .venv/bin/activate
python runs/results.py "$@"
echo "runs/results.sh: $(( ($(date +%s) - start) / 60 )) min"
