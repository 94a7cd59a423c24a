"""Speed of the student against its teacher (training step, inference, data time), and of sharing the prompt
prefix against running it for every user, all through ``slmrec-train``'s own loop.

Run (not part of the test suite):

    python benches/bench_train.py                      # SmolLM2-135M, teacher 8 -> student 4 layers, batch 64
    python benches/bench_train.py --backbone random    # a random Llama of the same shape (no package needed)
    python benches/bench_train.py --json out.json      # also write the numbers as JSON

Design: the models are the ones ``slmrec-train`` trains (:class:`slmrec.train.Pipeline` builds the ``teacher`` and
``student_nokd`` stages from the ``small`` preset with this script's overrides: the 4-layer student trained with CE
only, so the step compares the two decoders, not the distillation's extra teacher forward), and a training step is
a step of :func:`slmrec.train.train_stage` itself, run without validation and without checkpoints (its
``seconds`` per step: drawing the batch, forward, backward, clipping, AdamW and the scheduler). The item table is
a SASRec trained for one step (the stage must exist; the timing does not depend on the table's values). The
teacher and the student are measured in alternation, a few steps each per round, so that background load hits
both alike; the first round is a warm-up and the median of the other rounds' steps is reported. The teacher is
also timed with its prompt prefix run for every user (``share_prefix = False``, the reference code's way) in the
same alternation. Inference is :func:`slmrec.evaluate.evaluate` (the run's own evaluation: encode + score every
item) on a fixed set of validation users. Data time is the loop's own ``data_seconds`` per step. The check:
student speed-up >= 0.85 x (M / N) for training and inference, and data time < 5% of the student's step; exit code
1 when a check fails.

The distillation step (the ``student`` stage: the KD loss against the frozen teacher, the teacher trained for one
step and saved as a run would) is timed in the same alternation twice: with the teacher run online (a forward of the
teacher per batch, ``distill.cache false``) and from the teacher-state cache (``distill.cache true``: the teacher's
states computed once per training example when the stage is built: ``cache_build_s``, its build time less the online
stage's). Its epochs are the teacher's (the same examples, the same batches), so an epoch's cost against a teacher
epoch is the ratio of their steps; with the cache, an epoch after the first costs ``kd_cached_step_s`` per batch and
the first adds the build. These figures are reported, not checked (the exit code keeps to the checks above). The
benchmark trains on one example per user (``data.train_mode last``), so that the cache's build stays short.
"""

from __future__ import annotations

import argparse
import dataclasses
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
    p.add_argument("--eval-batch", type=int, default=128, help="inference: users scored (one batch)")
    p.add_argument("--max-len", type=int, default=30)
    p.add_argument("--users", type=int, default=2000, help="users of the synthetic dataset")
    p.add_argument("--repeats", type=int, default=5, help="timed rounds per model (after one warm-up round)")
    p.add_argument("--steps", type=int, default=2, help="training steps per model per round")
    p.add_argument("--json", help="write the results to this file")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    import slmrec
    from slmrec import config as C
    from slmrec.evaluate import EvalSet, evaluate
    from slmrec.synth import generate_reviews
    from slmrec.train import Pipeline, encoder, train_stage

    tmp = Path(tempfile.mkdtemp(prefix="slmrec-bench-"))
    generate_reviews(tmp / "reviews.json.gz", n_users=args.users, seed=0)
    ds = slmrec.prepare([str(tmp / "reviews.json.gz")], tmp / "data")
    # random: a Llama of SmolLM2-135M's shape (hidden 576, MLP 1536, 9 heads / 3 KV heads)
    cfg = C.override(
        C.preset("small"),
        {
            "llm.backbone": args.backbone,
            "llm.teacher_layers": args.teacher_layers,
            "llm.student_layers": args.student_layers,
            "llm.random_hidden": 576,
            "llm.random_intermediate": 1536,
            "llm.random_heads": 9,
            "llm.random_kv_heads": 3,
            "llm.random_vocab": 49152,
            "llm.random_layers": args.teacher_layers,
            "data.max_len": args.max_len,
            "sasrec.steps": 1,
            "teacher.batch_size": args.batch,
            "student.batch_size": args.batch,
            "teacher.grad_accum": 1,
            "student.grad_accum": 1,
            "eval.users": args.eval_batch,
            "run.progress": False,
            "run.stages": "sasrec,teacher,student_nokd,student",
            "data.train_mode": "last",
            "teacher.steps": 1,
            **({"llm.prompt": False} if args.backbone == "random" else {}),  # a random Llama has no tokenizer
        },
    )
    pipe = Pipeline(cfg, ds, tmp / "run")
    pipe.run_stage("sasrec")
    pipe.run_stage("teacher")  # the KD student's frozen teacher: one step, saved as a run saves it
    valid = pipe.eval_set("valid")
    users = EvalSet(
        valid.split, *(t[: args.eval_batch] for t in (valid.users, valid.history, valid.candidates, valid.exclude))
    )
    stages = {"teacher": pipe.build("teacher"), "student": pipe.build("student_nokd")}
    built = {}  # seconds to build each KD stage: the cached one's extra is the cache's build
    for label, cache in (("kd_online", False), ("kd_cached", True)):
        pipe.cfg = C.override(cfg, {"distill.cache": cache})
        began = time.perf_counter()
        stages[label] = pipe.build("student")  # cached: runs the teacher over every training example
        built[label] = time.perf_counter() - began
    pipe.cfg = cfg
    cache_build_s = built["kd_cached"] - built["kd_online"]
    teacher = stages["teacher"].model
    for s in stages.values():  # a few steps per call: no warmup, the cosine over those steps, nothing saved
        s.opt = dataclasses.replace(s.opt, steps=args.steps, warmup_steps=0, warmup_ratio=0.0, eval_every=0)
    per_epoch = {}  # optimizer steps in one epoch of each stage (the loop's plan; read from the timed calls)

    def train_steps(label) -> tuple[list[float], float]:
        """(wall seconds of each step, data seconds per step) of one call of the real loop."""
        state = train_stage(pipe.acc, cfg, stages[label.removesuffix("_per_user")], ds, None, None)
        per_epoch[label] = state.steps_per_epoch
        return [e["seconds"] for e in state.losses], state.data_seconds / max(1, state.global_step)

    def infer(label) -> float:
        model = stages[label.removesuffix("_per_user")].model.eval()
        m = evaluate(
            pipe.acc, encoder(pipe.acc, model), model.item_emb.detach(), users, batch_size=len(users.users), full=True
        )
        model.train()
        return m["_speed"]["users_per_s"]

    timed = ("teacher", "student", "kd_online", "kd_cached")
    timed += ("teacher_per_user",) if teacher.prefix_ids.numel() else ()
    inferred = ("teacher", "student", "teacher_per_user")  # the KD stages' model is the student's
    steps = {n: [] for n in timed}
    speed = {n: [] for n in timed}
    data: list[float] = []
    started = time.perf_counter()
    for r in range(args.repeats + 1):  # round 0 warms up
        for label in timed:
            teacher.share_prefix = label != "teacher_per_user"
            took, per_step_data = train_steps(label)
            users_per_s = infer(label) if label in inferred else None
            if r:
                steps[label] += took
                speed[label].append(users_per_s)
                if label == "student":
                    data.append(per_step_data)
        teacher.share_prefix = True
    epoch_batches = per_epoch["teacher"]
    med = {k: statistics.median(v) for k, v in steps.items()}
    ups = {k: statistics.median(v) for k, v in speed.items() if k in inferred}
    ratio = args.teacher_layers / args.student_layers
    prompt = int(teacher.prefix_ids.numel() + teacher.suffix_ids.numel())
    res = {
        "backbone": args.backbone,
        "device": "cpu" if not torch.cuda.is_available() else torch.cuda.get_device_name(),
        "threads": torch.get_num_threads(),
        "batch": args.batch,
        "tokens_per_example": prompt + args.max_len,
        "prefix_tokens": int(teacher.prefix_ids.numel()),
        "layers": f"{args.teacher_layers} -> {args.student_layers}",
        "rounds": args.repeats,
        "steps_per_round": args.steps,
        "teacher_step_s": med["teacher"],
        "student_step_s": med["student"],
        "train_speedup": med["teacher"] / med["student"],
        "teacher_infer_users_per_s": ups["teacher"],
        "student_infer_users_per_s": ups["student"],
        "infer_speedup": ups["student"] / ups["teacher"],
        "load_average_1min": os.getloadavg()[0],
        "data_s_per_step": statistics.median(data),
        "data_fraction_of_student_step": statistics.median(data) / med["student"],
        "layer_ratio": ratio,
        "required_speedup": 0.85 * ratio,
        "kd_online_step_s": med["kd_online"],
        "kd_cached_step_s": med["kd_cached"],
        "kd_cached_train_speedup": med["teacher"] / med["kd_cached"],
        "kd_online_train_speedup": med["teacher"] / med["kd_online"],
        "epoch_batches": epoch_batches,
        "cache_build_s": cache_build_s,
        "kd_online_epoch_over_teacher": med["kd_online"] / med["teacher"],
        "kd_cached_epoch_over_teacher": med["kd_cached"] / med["teacher"],
        "kd_cached_first_epoch_over_teacher": (cache_build_s + epoch_batches * med["kd_cached"])
        / (epoch_batches * med["teacher"]),
        "seconds": time.perf_counter() - started,
    }
    if "teacher_per_user" in med:
        res |= {
            "teacher_step_prefix_per_user_s": med["teacher_per_user"],
            "shared_prefix_train_speedup": med["teacher_per_user"] / med["teacher"],
            "shared_prefix_infer_speedup": ups["teacher"] / ups["teacher_per_user"],
        }
    ok = (
        res["train_speedup"] >= res["required_speedup"]
        and res["infer_speedup"] >= res["required_speedup"]
        and res["data_fraction_of_student_step"] < 0.05
    )
    res["pass"] = ok
    print(
        f"backbone {args.backbone}, {res['layers']} layers, batch {args.batch} x {res['tokens_per_example']} tokens, "
        f"{res['threads']} threads, {res['device']}; slmrec-train's loop, {args.repeats} rounds of {args.steps} steps"
    )
    print(
        f"train step   teacher {res['teacher_step_s']:.3f} s   student {res['student_step_s']:.3f} s   "
        f"speed-up {res['train_speedup']:.2f}x (need {res['required_speedup']:.2f}x)"
    )
    print(
        f"inference    teacher {res['teacher_infer_users_per_s']:.1f} users/s   student "
        f"{res['student_infer_users_per_s']:.1f} users/s   speed-up {res['infer_speedup']:.2f}x"
    )
    if res["prefix_tokens"]:
        print(
            f"shared prefix ({res['prefix_tokens']} tokens) against it per user, teacher: train step "
            f"{res['teacher_step_prefix_per_user_s']:.3f} -> {res['teacher_step_s']:.3f} s "
            f"({res['shared_prefix_train_speedup']:.2f}x), inference {res['shared_prefix_infer_speedup']:.2f}x"
        )
    print(
        f"distillation step: online teacher {res['kd_online_step_s']:.3f} s, cached {res['kd_cached_step_s']:.3f} s "
        f"({res['kd_cached_train_speedup']:.2f}x faster than the teacher's); an epoch of {epoch_batches} batches: "
        f"online {res['kd_online_epoch_over_teacher']:.2f}x a teacher epoch, cached "
        f"{res['kd_cached_epoch_over_teacher']:.2f}x ({res['kd_cached_first_epoch_over_teacher']:.2f}x the first, "
        f"with the cache's build of {cache_build_s:.1f} s)"
    )
    print(
        f"data         {1000 * res['data_s_per_step']:.2f} ms per step = "
        f"{100 * res['data_fraction_of_student_step']:.2f}% of a student step; 1-min load average "
        f"{res['load_average_1min']:.1f} on {os.cpu_count()} cores"
    )
    print("PASS" if ok else "FAIL")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
