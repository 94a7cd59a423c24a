"""The short GPU check: a few hundred bf16 training steps of the `small` preset's teacher and distilled student.

Run (on a machine with a GPU; it also runs on a CPU, slowly, which is how it is tested):

    python runs/gpu_check.py --data DATASET_DIR [--backbone smollm2|FILE.gguf|HF_DIR] [--steps 300] [--json OUT]

What it does: ``slmrec-train``'s own pipeline and loop (:class:`slmrec.train.Pipeline`, the ``small`` preset with
this script's overrides; Accelerate with ``--precision``, LoRA on gate/up/down, the alpaca prompt, the Rust
sampler, full-softmax CE over every item) in a temporary run directory:
1. SASRec for one step (the LLM stages read its item table; the check is about the LLM stages, not SASRec);
2. the teacher (the backbone's first 8 layers) for ``--warmup`` + ``--steps`` optimizer steps (linear warmup over
   the first ``--warmup``, then cosine), then the SLMRec student (first 4 layers, CE + multi-supervision +
   per-block cos/L2 against the frozen teacher) the same way; each validated once, at its last step;
3. for each: seconds per step after the warm-up steps (the loop's own per-step times), training examples/s and
   tokens/s (examples x positions fed to the decoder), peak GPU memory, the loss over the first and last 20 steps
   (it must fall: bf16 training works), inference users/s, and validation HR@10/NDCG@10 over 1 + 999 fixed
   candidates on ``--eval-users`` users (random ranking gives HR@10 = 0.01).
Prints one line per model and writes everything as JSON; exit code 1 if a loss is not finite or (pretrained
backbone) does not fall.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="a prepared dataset directory (slmrec-prep)")
    p.add_argument("--backbone", default="smollm2")
    p.add_argument("--teacher-layers", type=int, help="default: the small preset's")
    p.add_argument("--student-layers", type=int, help="default: the small preset's")
    p.add_argument("--blocks", type=int, default=4, help="B: distillation blocks")
    p.add_argument("--steps", type=int, default=300, help="timed optimizer steps per model")
    p.add_argument("--warmup", type=int, default=10, help="steps before them (learning-rate warmup, not timed)")
    p.add_argument("--batch", type=int, default=64, help="training batch (the small preset's)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--precision", default="bf16", choices=["bf16", "no"])
    p.add_argument(
        "--shape",
        default="",
        choices=["", "llama-2-7b"],
        help="with --backbone random: a randomly initialised decoder of this shape (the paper preset's)",
    )
    p.add_argument("--eval-users", type=int, default=4096, help="validation users scored after training")
    p.add_argument("--out", help="run directory to keep (default: a temporary one)")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    import slmrec
    from slmrec import checkpoint
    from slmrec import config as C
    from slmrec.train import Pipeline

    ds = slmrec.load(args.data)
    steps = args.warmup + args.steps
    depths = C.preset("small").llm
    teacher_layers = args.teacher_layers or depths.teacher_layers
    over = {
        "llm.backbone": args.backbone,
        "llm.teacher_layers": teacher_layers,
        "llm.student_layers": args.student_layers or depths.student_layers,
        "distill.blocks": args.blocks,
        "sasrec.steps": 1,
        "eval.users": args.eval_users,
        "run.mixed_precision": args.precision,
        "run.progress": False,
        "run.stages": "sasrec,teacher,student",
    }
    for s in ("teacher", "student"):
        over |= {
            f"{s}.steps": steps,
            f"{s}.warmup_steps": args.warmup,
            f"{s}.batch_size": args.batch,
            f"{s}.grad_accum": 1,
            f"{s}.lr": args.lr,
            f"{s}.eval_every": 0,
        }
    if args.backbone == "random":
        over["llm.prompt"] = False  # a random decoder has no tokenizer
    if args.shape == "llama-2-7b":  # Llama-2-7B's dimensions (random weights: a speed and memory check only)
        over |= {
            "llm.random_hidden": 4096,
            "llm.random_intermediate": 11008,
            "llm.random_heads": 32,
            "llm.random_kv_heads": 32,
            "llm.random_vocab": 32000,
            "llm.random_layers": teacher_layers,
        }
    cfg = C.override(C.preset("small"), over)
    run_dir = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="slmrec-gpu-check-")) / "run"
    pipe = Pipeline(cfg, ds, run_dir)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    out = {
        "device": device,
        "precision": args.precision,
        "torch": torch.__version__,
        "backbone": args.backbone,
        "shape": args.shape,
        "dataset": str(args.data),
        "users": ds.num_users,
        "items": ds.num_items,
        "teacher_layers": cfg.llm.teacher_layers,
        "student_layers": cfg.llm.student_layers,
        "run": str(run_dir),
    }
    print(
        f"{device}, {args.precision}, torch {torch.__version__}, {ds.num_users:,} users, {ds.num_items:,} items, "
        f"batch {args.batch}, {args.warmup} + {args.steps} steps per model (slmrec-train's loop)",
        flush=True,
    )
    started = time.perf_counter()
    pipe.run_stage("sasrec")
    for name in ("teacher", "student"):
        r = pipe.run_stage(name)
        losses = checkpoint.read_json(run_dir / name / "history.json")["losses"]
        timed = [e["seconds"] for e in losses[args.warmup :]]
        step_s = statistics.mean(timed)
        first = statistics.mean(e["loss"] for e in losses[:20])
        last = statistics.mean(e["loss"] for e in losses[-20:])
        tokens = r["positions_per_example"]
        out[name] = {
            "steps": len(timed),
            "batch": args.batch,
            "positions": tokens,
            "step_s": step_s,
            "examples_per_s": args.batch / step_s,
            "tokens_per_s": args.batch * tokens / step_s,
            "peak_memory_gib": r.get("peak_memory_gib", float("nan")),
            "loss_first20": first,
            "loss_last20": last,
            "loss_finite": all(math.isfinite(e["loss"]) for e in losses),
            "valid_users": args.eval_users,
            "valid_hr@10": r["valid"]["hr@10"],
            "valid_ndcg@10": r["valid"]["ndcg@10"],
            "infer_users_per_s": r["inference_users_per_s"],
            "params_total": r["params"]["total"],
            "params_trainable": r["params"]["trainable"],
        }
        o = out[name]
        print(
            f"{name:8s} {step_s * 1000:8.1f} ms/step  {o['tokens_per_s']:>10,.0f} tokens/s  peak "
            f"{o['peak_memory_gib']:6.2f} GiB  loss {first:.3f} -> {last:.3f}  valid hr@10 {o['valid_hr@10']:.4f} "
            f"ndcg@10 {o['valid_ndcg@10']:.4f}  inference {o['infer_users_per_s']:,.0f} users/s",
            flush=True,
        )
    out["student_speedup"] = out["teacher"]["step_s"] / out["student"]["step_s"]
    out["seconds"] = time.perf_counter() - started
    # a random backbone is a speed and memory check: its loss need not fall in a few steps, only stay finite
    falls = args.backbone == "random" or all(
        out[k]["loss_last20"] < out[k]["loss_first20"] for k in ("teacher", "student")
    )
    ok = falls and all(out[k]["loss_finite"] for k in ("teacher", "student"))
    out["pass"] = ok
    print(
        f"student step {out['student_speedup']:.2f}x faster than the teacher's (distillation's teacher forward "
        f"included); {out['seconds']:.0f} s; {'PASS' if ok else 'FAIL'}",
        flush=True,
    )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
