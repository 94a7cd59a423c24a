#!/usr/bin/env bash
# The paper's setting (METHOD.md §7, the `paper` preset) on a GPU: Llama-2-7B's first 8 layers -> 4, LoRA r16,
# global batch 256, lr 1e-3 cosine, warmup 100/50, epochs 3/5, history 30, bf16, on Beauty.
#
#   bash runs/paper.sh /path/to/Llama-2-7b-hf [NUM_GPUS] [extra slmrec-train flags...]
#
# The checkpoint is a local Hugging Face directory (nothing is downloaded). With NUM_GPUS > 1 the run is
# data-parallel through `accelerate launch` (the global batch is split over the GPUs). Prints its duration.
set -euo pipefail
cd "$(dirname "$0")/.."
backbone=${1:?usage: bash runs/paper.sh /path/to/Llama-2-7b-hf [NUM_GPUS] [flags...]}
gpus=${2:-1}
shift $(( $# >= 2 ? 2 : 1 ))
start=$(date +%s)
data=runs/out/data/beauty
[ -f "$data/stats.json" ] || slmrec-prep ../shared/data/seq/Beauty.txt --recipe none --out "$data" -q
launch=(python -m slmrec.cli.train)
[ "$gpus" -gt 1 ] && launch=(accelerate launch --multi_gpu --num_processes "$gpus" -m slmrec.cli.train)
"${launch[@]}" --preset paper --backbone "$backbone" --data "$data" --out runs/out/paper_beauty "$@"
echo "runs/paper.sh: $(( $(date +%s) - start )) s"
