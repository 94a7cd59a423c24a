"""The paper's efficiency table at our scale: SASRec, the full-depth LLM recommender, the teacher and the student.

Run (not part of the test suite; about 20 minutes on 2 CPU cores with SmolLM2):

    python benches/bench_efficiency.py                               # writes benches/results/efficiency_cpu.json
    python benches/efficiency_table.py                               # puts its table into README.md, RESULTS.md

Rows, all on the same synthetic dataset, in one invocation: SASRec; the full-depth LLM recommender (E4SRec on all of
the backbone's layers, 30 for SmolLM2-135M: the paper's comparison point); the teacher (its first 8 layers); the KD
student (its first 4, distilled from that teacher with the teacher-state cache, ``--distill.cache true``). Each is
trained through the real code path (``Pipeline.run_stage``: the stage's model, objective, optimizer, schedule and
loop, for ``--steps`` optimizer steps at the preset's batch size), and its inference is timed through
``Recommender.from_run(...).recommend`` (top-10 of every item for ``--infer-users`` users, after one warm-up batch;
the median of ``--infer-repeats`` calls). Columns: total and trainable parameters and their share of the full-depth
model's total; training seconds per 1,000 examples (the loop's training time from the stage's last checkpoint:
forward, backward, optimizer, data; no evaluation, no saving); for the student also the one-off teacher-cache build,
per 1,000 training examples; inference users/s; peak memory (the peak RSS of the process that trained, resp. served,
that row: each row runs in a fresh process; on a GPU the peak allocated device memory instead).

Targets (issue 18): student inference >= 6x the full-depth model's users/s and >= 1.8x the teacher's. The JSON
holds every row, the ratios, the targets met or not, the command, the device and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROWS = ("sasrec", "full", "teacher", "student")  # in training order (the student needs the teacher)
LABELS = {"sasrec": "SASRec", "full": "LLM recommender, full depth", "teacher": "teacher", "student": "KD student"}


def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backbone", default="smollm2", help="smollm2 (default) | random | a local HF dir | .gguf")
    p.add_argument("--full-layers", type=int, default=0, help="depth of the full model (0 = all of the backbone's)")
    p.add_argument("--teacher-layers", type=int, default=8)
    p.add_argument("--student-layers", type=int, default=4)
    p.add_argument("--users", type=int, default=400, help="users of the synthetic dataset")
    p.add_argument("--steps", type=int, default=2, help="optimizer steps timed per LLM model")
    p.add_argument("--sasrec-steps", type=int, default=30, help="optimizer steps of SASRec")
    p.add_argument("--infer-users", type=int, default=128, help="users timed through Recommender.recommend")
    p.add_argument("--infer-repeats", type=int, default=3, help="timed recommend calls per row (the median counts)")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/slmrec-bench-efficiency"))
    p.add_argument("--json", type=Path, help="output (default benches/results/efficiency_{cpu,gpu}.json)")
    p.add_argument("--row", choices=ROWS, help=argparse.SUPPRESS)  # internal: one row in a fresh process
    p.add_argument("--phase", choices=("train", "infer"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _config(args, full: bool):
    from slmrec import config as configs

    if args.backbone == "random":  # a random Llama of SmolLM2-135M's shape
        shape = {
            "llm.random_hidden": 576,
            "llm.random_intermediate": 1536,
            "llm.random_heads": 9,
            "llm.random_kv_heads": 3,
            "llm.random_vocab": 49152,
            "llm.random_layers": _depth(args),
            "llm.prompt": False,
        }  # no tokenizer
    else:
        shape = {}
    keys = {
        "data.synth_users": args.users,
        "llm.backbone": args.backbone,
        **shape,
        "llm.teacher_layers": _depth(args) if full else args.teacher_layers,
        "llm.student_layers": args.student_layers,
        "distill.cache": True,
        "sasrec.steps": args.sasrec_steps,
        "sasrec.eval_every": 0,
        "teacher.steps": args.steps,
        "teacher.warmup_steps": 1,
        "teacher.warmup_ratio": 0.0,  # the preset's warmup is a ratio; the bench's is one step
        "teacher.eval_every": 0,
        "student.steps": args.steps,
        "student.warmup_steps": 1,
        "student.warmup_ratio": 0.0,
        "student.eval_every": 0,
        "eval.users": 32,
        "eval.negatives": 99,
        "run.progress": False,
        "run.stages": "sasrec,teacher" if full else "sasrec,teacher,student",
    }
    if full:  # no student in that run; B must still divide its depth
        keys["distill.blocks"] = 1
    return configs.validate(configs.override(configs.preset("small"), keys))


def _depth(args) -> int:
    """Layers of the full-depth model: --full-layers, else every layer of the backbone (read from its config)."""
    if args.full_layers:
        return args.full_layers
    if args.backbone == "random":
        return 30
    from slmrec import backbone as backbones

    spec = backbones.resolve(args.backbone)
    if spec.kind == "hf":
        return json.loads((Path(spec.path) / "config.json").read_text())["num_hidden_layers"]
    from gguf import GGUFReader

    reader = GGUFReader(str(Path(spec.path) / spec.gguf_file))
    field = next(f for name, f in reader.fields.items() if name.endswith(".block_count"))
    return int(field.parts[field.data[0]][0])


def _run_dir(args, row: str) -> Path:
    return args.workdir / ("full" if row == "full" else "run")


def _setup(args) -> None:
    """The dataset and the two run directories (the full-depth run shares the SASRec stage)."""
    import slmrec
    from slmrec import config as configs
    from slmrec import rundir
    from slmrec.synth import generate_reviews

    if args.workdir.exists():
        shutil.rmtree(args.workdir)
    args.workdir.mkdir(parents=True)
    generate_reviews(args.workdir / "reviews.json.gz", n_users=args.users, seed=0)
    ds = slmrec.prepare([str(args.workdir / "reviews.json.gz")], args.workdir / "data")
    for full in (False, True):
        run = _run_dir(args, "full" if full else "run")
        run.mkdir()
        configs.save(_config(args, full), run / "config.json")
        rundir.bind(run, ds)


def _peak_mib() -> float:
    import resource

    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _one(args) -> dict:
    """One phase of one row, in this (fresh) process; returns its numbers."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import slmrec
    from slmrec import config as configs
    from slmrec.train import Pipeline

    run = _run_dir(args, args.row)
    stage = "teacher" if args.row == "full" else args.row
    if args.phase == "train":
        if args.row == "full":  # the same SASRec item table as the other rows
            shutil.copytree(
                _run_dir(args, "sasrec") / "sasrec",
                run / "sasrec",
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("checkpoint"),
            )
        cfg = configs.load(run / "config.json")
        pipe = Pipeline(cfg, slmrec.load(args.workdir / "data"), run)
        built = {}
        if stage == "student":  # the one-off teacher cache is built with the stage: timed on its own
            build = pipe.build

            def timed_build(name):
                t = time.perf_counter()
                out = build(name)
                built["seconds"] = time.perf_counter() - t
                return out

            pipe.build = timed_build
        result = pipe.run_stage(stage)
        state = json.loads((run / stage / "checkpoint" / "trainer_state.json").read_text())
        seconds = state["step_seconds"] + state["epoch_train_seconds"]
        examples = state["global_step"] * state["batch_size"]
        row = {
            "params_total": result["params"]["total"],
            "params_trainable": result["params"]["trainable"],
            "train_steps": state["global_step"],
            "train_examples": examples,
            "train_seconds": seconds,
            "train_s_per_1000": 1000 * seconds / examples,
            "train_peak_mib": _peak_mib(),
        }
        if stage == "student":
            from slmrec.train import _batches, llm_windows

            n = _batches(cfg, pipe.dataset, cfg.student, pipe.acc, llm_windows(cfg), every=True).num_examples
            row.update(
                cache_build_seconds=built["seconds"], cache_examples=n, cache_s_per_1000=1000 * built["seconds"] / n
            )
        return row
    from slmrec.recommend import Recommender

    rec = Recommender.from_run(run, model=stage)
    users = rec.users[: args.infer_users].to_list()
    rec.recommend(users=users[: rec.batch_size], k=10)  # warm-up
    calls = []
    for _ in range(args.infer_repeats):  # the median call: one slow call on a shared machine does not decide a row
        start = time.perf_counter()
        top = rec.recommend(users=users, k=10)
        calls.append(time.perf_counter() - start)
    seconds = statistics.median(calls)
    return {
        "infer_users": len(users),
        "infer_batch": rec.batch_size,
        "infer_calls_seconds": calls,
        "infer_seconds": seconds,
        "infer_users_per_s": len(users) / seconds,
        "infer_rows": len(top),
        "infer_peak_mib": _peak_mib(),
    }


def main(argv=None) -> int:
    args = _args(argv)
    if args.row:
        print(json.dumps(_one(args)))
        return 0
    import torch

    gpu = torch.cuda.is_available()
    out = args.json or ROOT / "benches" / "results" / f"efficiency_{'gpu' if gpu else 'cpu'}.json"
    load_start = os.getloadavg()[0]
    began = time.time()
    _setup(args)
    rows: dict[str, dict] = {r: {} for r in ROWS}
    order = [
        ("sasrec", "train"),
        ("teacher", "train"),
        ("student", "train"),
        ("full", "train"),
        ("sasrec", "infer"),
        ("full", "infer"),
        ("teacher", "infer"),
        ("student", "infer"),
    ]
    passed = list(argv if argv is not None else sys.argv[1:])
    for row, phase in order:
        cmd = [sys.executable, __file__, *passed, "--row", row, "--phase", phase]
        print(f"{LABELS[row]}: {phase} ...", file=sys.stderr, flush=True)
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stdout, r.stderr, file=sys.stderr)
            return 1
        rows[row].update(json.loads(r.stdout.strip().splitlines()[-1]))
    full = rows["full"]["params_total"]
    for name, r in rows.items():
        r["label"] = LABELS[name]
        r["params_share_of_full"] = r["params_total"] / full
        r["trainable_share_of_full"] = r["params_trainable"] / full
    cfg = _config(args, False)
    ips = {k: rows[k]["infer_users_per_s"] for k in rows}
    res = {
        "command": "python benches/bench_efficiency.py " + " ".join(a for a in passed),
        "date": time.strftime("%Y-%m-%d"),
        "device": torch.cuda.get_device_name() if gpu else "cpu",
        "threads": torch.get_num_threads(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "precision": "bf16" if gpu and torch.cuda.is_bf16_supported() else "fp32",
        "backbone": args.backbone,
        "layers": {"full": _depth(args), "teacher": args.teacher_layers, "student": args.student_layers},
        "dataset": {"synthetic_users": args.users, **_dataset_shape(args.workdir / "data")},
        "batch": {"sasrec": cfg.sasrec.batch_size, "llm": cfg.teacher.batch_size},
        "prompt": cfg.llm.prompt,
        "max_len": cfg.data.max_len,
        "rows": rows,
        "ratios": {
            "student_vs_full_inference": ips["student"] / ips["full"],
            "student_vs_teacher_inference": ips["student"] / ips["teacher"],
            "student_vs_full_training": rows["full"]["train_s_per_1000"] / rows["student"]["train_s_per_1000"],
            "teacher_vs_full_inference": ips["teacher"] / ips["full"],
        },
        "targets": {"student_vs_full_inference": 6.0, "student_vs_teacher_inference": 1.8},
        "load_average_1min": {"start": load_start, "end": os.getloadavg()[0]},
        "wall_minutes": (time.time() - began) / 60,
    }
    res["met"] = {k: res["ratios"][k] >= v for k, v in res["targets"].items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    sys.path.insert(0, str(ROOT / "benches"))
    from efficiency_table import table

    print("\n".join(table({**res, "_source": str(out)})))
    print(f"wrote {out}")
    return 0


def _dataset_shape(path: Path) -> dict:
    stats = json.loads((path / "stats.json").read_text())
    return {"users": stats.get("users"), "items": stats.get("items"), "interactions": stats.get("interactions")}


if __name__ == "__main__":
    sys.exit(main())
