#!/usr/bin/env bash
# The prepared GPU check (issue 5, "GPU"): fits in 10 minutes on one GPU; every figure lands in OUT_DIR.
#
#   bash runs/gpu_check.sh DATA_DIR BACKBONE OUT_DIR [BUDGET_SECONDS]
#
# DATA_DIR: a prepared dataset (e.g. `slmrec-prep ../shared/data/seq/Beauty.txt --recipe none --out data/beauty`);
# BACKBONE: smollm2, or a .gguf / HF dir (e.g. the first 8 layers of SmolLM2 from runs/gguf_first_layers.py);
# BUDGET_SECONDS (default 540): the last step is cut off so that the whole script ends within it.
# Steps: (1) the bf16 GPU test of the suite; (2) runs/gpu_check.py: 300 bf16 steps of the small preset's teacher
# and distilled student (tokens/s, peak memory, loss falls, validation HR@10); (3) the same for a randomly
# initialised decoder of Llama-2-7B's shape (the paper preset's teacher 8 -> student 4 layers, batch 128, no prompt);
# (4) the whole small-preset pipeline on DATA_DIR in bf16 (SASRec capped at 50 epochs; the layer probe right after
# the teacher) until the budget runs out,
# packed (metrics, histories, report, plots; no weights) into OUT_DIR/gpu_small_run.tar.gz.
set -uo pipefail
data=$1 backbone=$2 out=$3 budget=${4:-540}
start=$(date +%s)
left() { echo $((budget - ($(date +%s) - start))); }
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import sys, torch, transformers, peft, accelerate, slmrec; print('python', sys.version.split()[0], 'torch', \
torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__, 'accelerate', accelerate.__version__)"

echo "== 1. pytest -k gpu ($(left) s left)"
python3 -m pytest tests/test_train.py -k gpu -p no:cacheprovider -rs
echo "== 2. small preset, bf16, 300 steps per model ($(left) s left)"
python3 runs/gpu_check.py --data "$data" --backbone "$backbone" --steps 300 --json "$out/gpu_check_small.json"
echo "== 3. Llama-2-7B shape (random weights), 8 -> 4 layers, batch 128, bf16 ($(left) s left)"
python3 runs/gpu_check.py --data "$data" --backbone random --shape llama-2-7b --batch 128 --steps 60 \
    --eval-users 2048 --json "$out/gpu_check_llama2_shape.json"
echo "== 4. slmrec-train --preset small on $data, bf16 ($(left) s left)"
run=$(mktemp -d)/gpu_small
# the layer probe right after the teacher: it needs nothing else, and so lands within the budget
timeout $(($(left) - 15)) python3 -m slmrec.cli.train --preset small --data "$data" --backbone "$backbone" --out "$run" \
    --run.mixed_precision bf16 --run.progress false --sasrec.epochs 50 --sasrec.eval_every 0 \
    --stages sasrec,teacher,probe,student,student_nokd
echo "slmrec-train exit code $?"
tar -czf "$out/gpu_small_run.tar.gz" --exclude='*.safetensors' --exclude=checkpoint -C "$(dirname "$run")" gpu_small
echo "gpu_check.sh: $(($(date +%s) - start)) s"
