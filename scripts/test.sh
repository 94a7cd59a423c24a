#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite: cargo tests of the core crate, then pytest (arguments go to
# pytest: `bash scripts/test.sh -m "not slow"` leaves out the tests marked slow, the fast run while iterating).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
source .venv/bin/activate
cargo test -q -p slmrec-core
python -m pytest "$@"
