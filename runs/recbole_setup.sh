#!/usr/bin/env bash
# The RecBole peer's own venv (issue 5, "Peer"): RecBole 1.2.1 needs numpy < 2, so it cannot share .venv.
#
#   bash runs/recbole_setup.sh [VENV_DIR]        # default runs/out/recbole-venv (git-ignored)
#
# Installs, with pinned versions: numpy<2 and torch from PyPI (the CUDA build; it runs on the CPU), the packages
# RecBole imports when recbole.config / recbole.data / recbole.model / recbole.trainer are imported, and recbole
# itself with --no-deps (its declared dependency on ray is only needed by recbole.quick_start, which the peer does
# not use). Idempotent: a venv whose recbole, torch and numpy already import at the pinned versions is left alone.
# Then: VENV_DIR/bin/python runs/recbole_peer.py run ... (see runs/recbole_peer.py).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-runs/out/recbole-venv}
PY=${PYTHON:-python3}

RECBOLE=1.2.1
TORCH=2.15.0
NUMPY=1.26.4
# Import-time needs of recbole 1.2.1 (its install_requires less ray), at versions that work with numpy 1.26.
# colorlog and colorama are pinned exactly by recbole itself.
DEPS=(
    "scipy==1.13.1"
    "pandas==2.2.3"
    "tqdm==4.67.1"
    "colorlog==4.7.2"
    "colorama==0.4.4"
    "scikit-learn==1.5.2"
    "pyyaml==6.0.2"
    "tensorboard==2.18.0"
    "thop==0.1.1.post2209072238"
    "tabulate==0.9.0"
    "plotly==5.24.1"
    "texttable==1.7.0"
    "psutil==6.1.0"
)

check() {
    "$venv/bin/python" - "$RECBOLE" "$TORCH" "$NUMPY" <<'EOF' 2>/dev/null
import sys
import numpy, torch, recbole
import recbole.config, recbole.data, recbole.trainer, recbole.model.sequential_recommender  # noqa: F401
want = sys.argv[1:]
got = [recbole.__version__, torch.__version__.split("+")[0], numpy.__version__]
sys.exit(0 if got == want else 1)
EOF
}

if [ -x "$venv/bin/python" ] && check; then
    echo "recbole_setup.sh: $venv already has recbole $RECBOLE, torch $TORCH, numpy $NUMPY"
    exit 0
fi
start=$(date +%s)
if [ ! -x "$venv/bin/python" ]; then
    "$PY" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
"${pip[@]}" "numpy==$NUMPY" "torch==$TORCH" "${DEPS[@]}"
"${pip[@]}" --no-deps "recbole==$RECBOLE"
if ! check; then
    echo "recbole_setup.sh: error: $venv does not import recbole $RECBOLE / torch $TORCH / numpy $NUMPY" >&2
    "$venv/bin/python" -c "import numpy, torch, recbole; print(recbole.__version__, torch.__version__, numpy.__version__)" >&2 || true
    exit 1
fi
"$venv/bin/python" -c "import sys, numpy, torch, recbole; print('recbole_setup.sh: python', sys.version.split()[0], \
'recbole', recbole.__version__, 'torch', torch.__version__, 'numpy', numpy.__version__)"
echo "recbole_setup.sh: $(($(date +%s) - start)) s"
