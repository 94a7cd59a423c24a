#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite: cargo tests of the core crate, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
source .venv/bin/activate
cargo test -q -p slmrec-core
python -m pytest "$@"
