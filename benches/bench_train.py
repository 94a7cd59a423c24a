"""Speed of the distilled student against its teacher (training step, inference, data time), and of sharing the
prompt prefix against running it for every user.

Run (not part of the test suite):

    python benches/bench_train.py                      # SmolLM2-135M, teacher 8 -> student 4 layers, batch 64
    python benches/bench_train.py --backbone random    # a random Llama of the same shape (no package needed)
    python benches/bench_train.py --json out.json      # also write the numbers as JSON

Design: teacher and student are built exactly as ``slmrec-train`` builds them (same backbone loader, LoRA on
gate/up/down, item embeddings in through a Linear, the alpaca prompt when the backbone has a tokenizer, full-softmax
CE over all items) and timed in the same process, alternating one teacher and one student measurement so that
background load hits both alike; the median is reported. The teacher is also timed with its prompt prefix run for
every user (``share_prefix = False``, the reference code's way) in the same alternation, which gives the speed-up of
sharing the prefix as a KV cache (llmrec.py). A training step is forward + backward + AdamW step on one
batch; inference is a no-grad forward + scoring of all items. Data time is the time to draw one batch from the
Rust sampler and move it into tensors. The check: student speed-up >= 0.85 x (M / N) for both training and
inference, and data time < 5% of the student's step time; the exit code is 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backbone", default="smollm2", help="smollm2 | random | local HF dir | .gguf (default smollm2)")
    p.add_argument("--teacher-layers", type=int, default=8)
    p.add_argument("--student-layers", type=int, default=4)
    p.add_argument("--batch", type=int, default=64, help="training batch (users)")
    p.add_argument("--eval-batch", type=int, default=128, help="inference batch (users)")
    p.add_argument("--max-len", type=int, default=30)
    p.add_argument("--users", type=int, default=2000, help="users of the synthetic dataset")
    p.add_argument("--repeats", type=int, default=5, help="timed repetitions per model (after one warm-up)")
    p.add_argument("--json", help="write the results to this file")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import numpy as np
    import torch

    import slmrec
    from slmrec import backbone as backbones
    from slmrec.config import LLMConfig
    from slmrec.distill import recommendation_loss
    from slmrec.models import LLMRec
    from slmrec.models.llmrec import with_lora
    from slmrec.sampling import LastItemBatches
    from slmrec.synth import generate_reviews

    tmp = Path(tempfile.mkdtemp(prefix="slmrec-bench-"))
    generate_reviews(tmp / "reviews.json.gz", n_users=args.users, seed=0)
    ds = slmrec.prepare([str(tmp / "reviews.json.gz")], tmp / "data")
    table = torch.randn(ds.num_items + 1, 128) * 0.1  # [I+1, 128]; a trained table changes nothing in the timing

    # random: a Llama of SmolLM2-135M's shape (hidden 576, MLP 1536, 9 heads / 3 KV heads)
    llm = LLMConfig(backbone=args.backbone, teacher_layers=args.teacher_layers, student_layers=args.student_layers,
                    random_hidden=576, random_intermediate=1536, random_heads=9, random_kv_heads=3,
                    random_vocab=49152, random_layers=args.teacher_layers)
    spec = backbones.resolve(args.backbone)
    models = {}
    for name, layers in (("teacher", args.teacher_layers), ("student", args.student_layers)):
        torch.manual_seed(0)
        bb, tok = backbones.load(spec, layers, llm, max_layers=args.teacher_layers)
        models[name] = LLMRec(with_lora(bb, 16, 16, 0.05), table, tokenizer=tok)
    prompt_len = models["teacher"].prefix_ids.numel() + models["teacher"].suffix_ids.numel()

    batches = LastItemBatches(ds.offsets, ds.items, ds.num_items, max_len=args.max_len, batch_size=args.batch)
    stream = iter(batches.epoch(0))

    def next_batch():
        nonlocal stream
        try:
            b = next(stream)
        except StopIteration:
            stream = iter(batches.epoch(1))
            b = next(stream)
        return {k: torch.as_tensor(v) for k, v in b.items()}

    fixed = next_batch()
    eval_ids = torch.as_tensor(np.tile(fixed["input_ids"], (args.eval_batch // args.batch + 1, 1))[: args.eval_batch])
    opts = {n: torch.optim.AdamW([q for q in m.parameters() if q.requires_grad], lr=1e-4) for n, m in models.items()}

    def train_step(name) -> tuple[float, float]:
        m, opt = models[name], opts[name]
        m.train()
        start, cpu = time.perf_counter(), time.process_time()
        loss, _ = recommendation_loss(m, fixed, table)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return time.perf_counter() - start, time.process_time() - cpu

    @torch.no_grad()
    def infer(name) -> tuple[float, float]:
        m = models[name].eval()
        start, cpu = time.perf_counter(), time.process_time()
        m.scores(m(eval_ids)["user"])
        return time.perf_counter() - start, time.process_time() - cpu

    def data_time() -> float:
        start = time.perf_counter()
        next_batch()
        return time.perf_counter() - start

    for name in models:  # warm-up
        train_step(name)
        infer(name)
    # with a prompt, the teacher is also timed with its prefix run for every user
    timed = ("teacher", "student") + (("teacher_per_user",) if models["teacher"].prefix_ids.numel() else ())
    times = {f"{n}_{k}": [] for n in timed for k in ("step", "infer")} | {"data": []}
    cpu = {f"{n}_{k}": [] for n in timed for k in ("step", "infer")}
    for _ in range(args.repeats):
        for label in timed:
            name = label.removesuffix("_per_user")
            models[name].share_prefix = label == name
            for kind, fn in (("step", train_step), ("infer", infer)):
                wall, used = fn(name)
                times[f"{label}_{kind}"].append(wall)
                cpu[f"{label}_{kind}"].append(used)
            models[name].share_prefix = True
        times["data"].append(data_time())
    med = {k: statistics.median(v) for k, v in times.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
    ratio = args.teacher_layers / args.student_layers
    res = {
        "backbone": args.backbone,
        "device": "cpu" if not torch.cuda.is_available() else torch.cuda.get_device_name(),
        "threads": torch.get_num_threads(),
        "batch": args.batch,
        "tokens_per_example": prompt_len + args.max_len,
        "layers": f"{args.teacher_layers} -> {args.student_layers}",
        "teacher_step_s": med["teacher_step"],
        "student_step_s": med["student_step"],
        "train_speedup": med["teacher_step"] / med["student_step"],
        "teacher_infer_users_per_s": args.eval_batch / med["teacher_infer"],
        "student_infer_users_per_s": args.eval_batch / med["student_infer"],
        "infer_speedup": med["teacher_infer"] / med["student_infer"],
        "prefix_tokens": models["teacher"].prefix_ids.numel(),
        "train_speedup_cpu_time": cpu_med["teacher_step"] / cpu_med["student_step"],
        "infer_speedup_cpu_time": cpu_med["teacher_infer"] / cpu_med["student_infer"],
        "load_average_1min": os.getloadavg()[0],
        "data_s_per_batch": med["data"],
        "data_fraction_of_student_step": med["data"] / med["student_step"],
        "layer_ratio": ratio,
        "required_speedup": 0.85 * ratio,
    }
    if "teacher_per_user_step" in med:
        res |= {"teacher_step_prefix_per_user_s": med["teacher_per_user_step"],
                "shared_prefix_train_speedup": med["teacher_per_user_step"] / med["teacher_step"],
                "shared_prefix_infer_speedup": med["teacher_per_user_infer"] / med["teacher_infer"]}
    ok = (res["train_speedup"] >= res["required_speedup"] and res["infer_speedup"] >= res["required_speedup"]
          and res["data_fraction_of_student_step"] < 0.05)
    res["pass"] = ok
    print(f"backbone {args.backbone}, {res['layers']} layers, batch {args.batch} x {res['tokens_per_example']} tokens, "
          f"{res['threads']} threads, {res['device']}")
    print(f"train step   teacher {res['teacher_step_s']:.3f} s   student {res['student_step_s']:.3f} s   "
          f"speed-up {res['train_speedup']:.2f}x (need {res['required_speedup']:.2f}x)")
    print(f"inference    teacher {res['teacher_infer_users_per_s']:.1f} users/s   student "
          f"{res['student_infer_users_per_s']:.1f} users/s   speed-up {res['infer_speedup']:.2f}x")
    if res["prefix_tokens"]:
        print(f"shared prefix ({res['prefix_tokens']} tokens) against it per user, teacher: train step "
              f"{res['teacher_step_prefix_per_user_s']:.3f} -> {res['teacher_step_s']:.3f} s "
              f"({res['shared_prefix_train_speedup']:.2f}x), inference {res['shared_prefix_infer_speedup']:.2f}x")
    print(f"CPU time     speed-up train {res['train_speedup_cpu_time']:.2f}x, inference "
          f"{res['infer_speedup_cpu_time']:.2f}x (process CPU seconds; robust to other load, "
          f"1-min load average {res['load_average_1min']:.1f} on {os.cpu_count()} cores)")
    print(f"data         {1000 * res['data_s_per_batch']:.2f} ms per batch = "
          f"{100 * res['data_fraction_of_student_step']:.2f}% of a student step")
    print("PASS" if ok else "FAIL")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
