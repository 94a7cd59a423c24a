"""The short GPU check: a few hundred bf16 training steps of the `small` preset's teacher and distilled student.

Run (on a machine with a GPU; it also runs on a CPU, slowly, which is how it is tested):

    python runs/gpu_check.py --data DATASET_DIR [--backbone smollm2|FILE.gguf|HF_DIR] [--steps 300] [--json OUT]

What it does, with the same code as ``slmrec-train`` (Accelerate with ``mixed_precision="bf16"``, LoRA on
gate/up/down, the alpaca prompt, the Rust sampler's ``LastItemBatches``, full-softmax CE over every item):
1. trains the teacher (the backbone's first 8 layers) for ``--steps`` optimizer steps, then the SLMRec student
   (first 4 layers, CE + multi-supervision + per-block cos/L2 against the frozen teacher) for ``--steps`` steps;
2. for each: seconds per step after ``--warmup`` steps, training examples/s and tokens/s (examples x positions fed
   to the decoder), peak GPU memory (``torch.cuda.max_memory_allocated``), the loss over the first and last 20
   steps (it must fall: bf16 training works), inference users/s, and validation HR@10/NDCG@10 over 1 + 999 fixed
   candidates after the steps (random ranking gives HR@10 = 0.01).
The item table is a seeded random 128-d table (the check is about the LLM stages, not SASRec). Prints one line
per model and writes everything as JSON; exit code 1 if a loss is not finite or (pretrained backbone) does not fall.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="a prepared dataset directory (slmrec-prep)")
    p.add_argument("--backbone", default="smollm2")
    p.add_argument("--teacher-layers", type=int, default=8)
    p.add_argument("--student-layers", type=int, default=4)
    p.add_argument("--blocks", type=int, default=4, help="B: distillation blocks")
    p.add_argument("--steps", type=int, default=300, help="optimizer steps per model")
    p.add_argument("--warmup", type=int, default=10, help="steps not timed")
    p.add_argument("--batch", type=int, default=64, help="training batch (the small preset's)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--precision", default="bf16", choices=["bf16", "no"])
    p.add_argument("--shape", default="", choices=["", "llama-2-7b"],
                   help="with --backbone random: a randomly initialised decoder of this shape (the paper preset's)")
    p.add_argument("--eval-users", type=int, default=4096, help="validation users scored after training")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch
    from accelerate import Accelerator

    import slmrec
    from slmrec import backbone as backbones
    from slmrec.config import LLMConfig
    from slmrec.distill import block_pairs, recommendation_loss, slmrec_loss
    from slmrec.evaluate import EvalSet, build_eval_set, evaluate, max_negatives
    from slmrec.models import LLMRec
    from slmrec.models.llmrec import with_lora
    from slmrec.sampling import LastItemBatches

    gpu = torch.cuda.is_available()
    acc = Accelerator(mixed_precision=args.precision, cpu=not gpu)
    ds = slmrec.load(args.data)
    gen = torch.Generator().manual_seed(0)
    table = (torch.randn(ds.num_items + 1, 128, generator=gen) * 0.1).to(acc.device)  # [I+1, 128]
    table[0] = 0
    llm = LLMConfig(backbone=args.backbone, teacher_layers=args.teacher_layers, student_layers=args.student_layers)
    if args.shape == "llama-2-7b":  # Llama-2-7B's dimensions (random weights: a speed and memory check only)
        llm = dataclasses.replace(llm, random_hidden=4096, random_intermediate=11008, random_heads=32,
                                  random_kv_heads=32, random_vocab=32000, random_layers=args.teacher_layers)
    spec = backbones.resolve(args.backbone)
    valid = build_eval_set(ds, "valid", max_len=30, negatives=min(999, max_negatives(ds)), seed=0)
    n = args.eval_users
    valid = EvalSet(valid.split, valid.users[:n], valid.history[:n], valid.candidates[:n], valid.exclude[:n])
    batches = LastItemBatches(ds.offsets, ds.items, ds.num_items, max_len=30, batch_size=args.batch, seed=0)

    def stream():
        epoch = 0
        while True:
            for b in batches.epoch(epoch):
                yield {k: torch.as_tensor(v).to(acc.device, non_blocking=True) for k, v in b.items()}
            epoch += 1

    def build(layers: int, blocks: int = 0):
        torch.manual_seed(0)
        bb, tok = backbones.load(spec, layers, llm, max_layers=args.teacher_layers)
        return LLMRec(with_lora(bb, 16, 16, 0.05), table.cpu(), tokenizer=tok, blocks=blocks)

    def run(name: str, model, objective) -> dict:
        params = [q for q in model.parameters() if q.requires_grad]
        opt = torch.optim.AdamW(params, lr=args.lr)
        model, opt = acc.prepare(model, opt)
        item_emb = acc.unwrap_model(model).item_emb  # [I+1, 128], frozen
        model.train()
        if gpu:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        data, losses, times = stream(), [], []
        tokens = None
        for step in range(args.warmup + args.steps):
            batch = next(data)
            start = time.perf_counter()
            with acc.autocast():
                loss, _ = objective(model, batch, item_emb)
            acc.backward(loss)
            acc.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad()
            value = loss.item()  # synchronises the device
            times.append(time.perf_counter() - start)
            losses.append(value)
            if tokens is None:
                inner = acc.unwrap_model(model)
                tokens = batch["input_ids"].shape[1] + inner.prefix_ids.numel() + inner.suffix_ids.numel()
        timed = times[args.warmup:]
        step_s = statistics.mean(timed)
        peak = torch.cuda.max_memory_allocated() / 2**30 if gpu else float("nan")
        model.eval()
        inner = acc.unwrap_model(model)

        def encode(ids):
            with acc.autocast():
                return {"": inner(ids)["user"]}

        scored = evaluate(acc, encode, inner.item_emb.detach(), valid, batch_size=256, full=False)
        m = scored[""]
        first, last = statistics.mean(losses[:20]), statistics.mean(losses[-20:])
        res = {
            "steps": args.steps, "batch": args.batch, "positions": tokens, "step_s": step_s,
            "examples_per_s": args.batch / step_s, "tokens_per_s": args.batch * tokens / step_s,
            "peak_memory_gib": peak, "loss_first20": first, "loss_last20": last,
            "loss_finite": all(math.isfinite(x) for x in losses),
            "valid_users": len(valid.users), "valid_hr@10": m["hr@10"], "valid_ndcg@10": m["ndcg@10"],
            "infer_users_per_s": scored["_speed"]["users_per_s"],
            "params_total": sum(q.numel() for q in inner.parameters()),
            "params_trainable": sum(q.numel() for q in inner.parameters() if q.requires_grad),
        }
        print(f"{name:8s} {step_s * 1000:8.1f} ms/step  {res['tokens_per_s']:>10,.0f} tokens/s  peak {peak:6.2f} GiB  "
              f"loss {first:.3f} -> {last:.3f}  valid hr@10 {m['hr@10']:.4f} ndcg@10 {m['ndcg@10']:.4f}  "
              f"inference {res['infer_users_per_s']:,.0f} users/s", flush=True)
        return res, inner

    started = time.perf_counter()
    out = {
        "device": torch.cuda.get_device_name() if gpu else "cpu",
        "precision": args.precision, "torch": torch.__version__, "backbone": args.backbone, "shape": args.shape,
        "dataset": str(args.data), "users": ds.num_users, "items": ds.num_items,
    }
    print(f"{out['device']}, {args.precision}, torch {torch.__version__}, {ds.num_users:,} users, "
          f"{ds.num_items:,} items, batch {args.batch}, {args.steps} steps per model", flush=True)
    out["teacher"], teacher = run("teacher", build(args.teacher_layers), recommendation_loss)
    teacher.eval().requires_grad_(False)
    pairs = block_pairs(args.teacher_layers, args.student_layers, args.blocks)

    def distilled(m, batch, tbl):
        return slmrec_loss(m, batch, tbl, teacher, pairs, 1.0, 0.1, 1.0)

    out["student"], _ = run("student", build(args.student_layers, blocks=args.blocks), distilled)
    out["student_speedup"] = out["teacher"]["step_s"] / out["student"]["step_s"]
    out["seconds"] = time.perf_counter() - started
    # a random backbone is a speed and memory check: its loss need not fall in a few steps, only stay finite
    falls = args.backbone == "random" or all(out[k]["loss_last20"] < out[k]["loss_first20"] for k in ("teacher", "student"))
    ok = falls and all(out[k]["loss_finite"] for k in ("teacher", "student"))
    out["pass"] = ok
    print(f"student step {out['student_speedup']:.2f}x faster than the teacher's (distillation's teacher forward "
          f"included); {out['seconds']:.0f} s; {'PASS' if ok else 'FAIL'}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
