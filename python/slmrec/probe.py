"""The layer probe (the paper's Fig. 1, "Infer"): score a trained teacher using only its first k layers.

Design: one forward pass per batch gives every layer's last-position state; the state after layer k goes
through the final RMSNorm and the teacher's ``score`` head, which is exactly the teacher truncated to k layers
(the reference code skips the norm for k < M, which explains its collapse at M - 1; METHOD.md §8.2). All
k = 1..M are scored on the same fixed validation and test candidates; the result is a table and a plot
(``probe/result.json``, drawn by :mod:`slmrec.report`).
"""

from __future__ import annotations

from slmrec import checkpoint
from slmrec.evaluate import evaluate


def run_probe(pipe) -> dict:
    out = pipe.run_dir / "probe"
    result_path = out / "result.json"
    if result_path.exists():
        return checkpoint.read_json(result_path)
    acc, cfg = pipe.acc, pipe.cfg
    teacher = pipe.teacher(frozen=True)

    def encode(ids):
        with acc.autocast():
            return {str(k): u for k, u in enumerate(teacher.layer_users(ids), start=1)}

    result = {"layers": list(range(1, teacher.num_layers + 1))}
    for split in ("valid", "test"):
        m = evaluate(
            acc,
            encode,
            teacher.item_emb,
            pipe.eval_set(split),
            batch_size=cfg.eval.batch_size,
            full=cfg.eval.full_ranking,
            progress=cfg.run.progress,
        )
        result[split] = {k: m[str(k)] for k in result["layers"]}
    if acc.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        checkpoint.write_json(result_path, result)
    acc.wait_for_everyone()
    return result
