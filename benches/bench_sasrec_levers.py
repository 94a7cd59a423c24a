"""The strong SASRec recipe's speed levers on CPU, each measured against the recipe itself, in one run.

Run (not part of the test suite):

    python benches/bench_sasrec_levers.py                  # Beauty, 1 epoch per variant
    python benches/bench_sasrec_levers.py --epochs 2 --data DIR

Design: each variant is the recipe (``slmrec-train --stages sasrec --sasrec.recipe strong``) with a few flags
changed, trained for ``--epochs`` epochs (no early stop) in a fresh process, as a user would run it; the times are
the run's own records: training seconds per epoch (``result.json``'s ``train_seconds_per_epoch``: forward, backward,
optimizer, batches; no evaluation) and the full-ranking validation of every user after an epoch (the epoch's wall
seconds in ``history.json`` less its training seconds: scoring, top-k, checkpoint). Variants, each one lever: the
recipe (1 torch thread, the reference), 2 torch threads, ``sasrec.attention sdpa``
(``F.scaled_dot_product_attention`` on the same parameters), ``sasrec.compile`` (``torch.compile`` of the module in
place, its compilation inside the first epoch's training time), ``run.mixed_precision bf16`` (autocast to bfloat16:
the CPU's bf16 matrix units, where it has them, for the full softmax's item-table products), batch 256 and 512 with
the learning rate scaled linearly (speed only: their quality needs full runs), and 256 sampled negatives per target
instead of the recipe's full softmax over every item. The validation NDCG@10 after the last epoch is listed beside
each, to show that a lever did not break learning; it is not a quality comparison. The variants run one after
another in one invocation, so that their ratios share the machine's load (which is recorded at start and end of
each). The full-softmax CE is also timed alone (``ce_kernels``: the dense form against the chunked ``full_ce``, fp32
and bf16, one thread, on a mean recipe batch). JSON to ``--json`` (default benches/results/sasrec_levers_cpu.json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benches"))
from bench_sasrec import BEAUTY, _run  # noqa: E402

# (name, extra flags, torch threads): the first is the reference the others are divided by
VARIANTS = (
    ("recipe", [], 1),
    ("2 threads", [], 2),
    ("sdpa attention", ["--sasrec.attention", "sdpa"], 1),
    ("batch 256, lr 2e-3", ["--sasrec.batch_size", "256", "--sasrec.lr", "2e-3"], 1),
    ("batch 512, lr 4e-3", ["--sasrec.batch_size", "512", "--sasrec.lr", "4e-3"], 1),
    ("256 sampled negatives", ["--sasrec.negatives", "256"], 1),
    ("torch.compile", ["--sasrec.compile", "true"], 1),
    ("bf16 autocast", ["--run.mixed_precision", "bf16"], 1),
)


def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, help=f"a prepared dataset dir (default: {BEAUTY} prepared with --recipe none)")
    p.add_argument("--epochs", type=int, default=1, help="epochs per variant (default 1)")
    p.add_argument(
        "--only",
        help="comma-separated: run only the variants whose name contains one of these (the recipe always runs)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=ROOT / "benches" / "results" / "sasrec_levers_cpu.json")
    return p.parse_args(argv)


def _variant(data: Path, out: Path, flags: list, threads: int, epochs: int, seed: int) -> dict:
    env = os.environ | {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "python"), env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "slmrec.cli.train", "--preset", "small", "--data", data, "--out", out, "--force"]
    cmd += ["--stages", "sasrec", "--sasrec.recipe", "strong", "--data.train_mode", "last", *flags]
    cmd += ["--sasrec.epochs", epochs, "--sasrec.patience", "0", "--run.threads", threads]
    cmd += ["--run.seed", seed, "--data.seed", seed, "--run.progress", "false"]
    load0 = os.getloadavg()[0]
    wall = _run(cmd, env, out.with_suffix(".log"))
    result = json.loads((out / "sasrec" / "result.json").read_text())
    evals = json.loads((out / "sasrec" / "history.json").read_text())["evals"]
    train = result["train_seconds_per_epoch"]
    epoch_wall = evals[-1]["seconds"] / len(evals)
    return {
        "flags": [str(f) for f in flags],
        "threads": threads,
        "train_s_per_epoch": train,
        "valid_s_per_epoch": epoch_wall - train,
        "epoch_s": epoch_wall,
        "steps": result["total_steps"],
        "valid_full_ndcg@10": evals[-1]["full_ndcg@10"],
        "process_wall_s": wall,
        "load_average_1min": {"start": load0, "end": os.getloadavg()[0]},
    }


def _ce_kernels(data: Path, repeats: int = 10) -> dict:
    """The full-softmax CE alone, forward and backward, on one thread: the dense form (the [targets, items] scores
    through ``F.cross_entropy``, as before ``slmrec.distill.full_ce`` was chunked) against the chunked
    ``full_ce``, in fp32 and under bf16 autocast; shapes of a mean recipe batch on ``data`` (its targets: each
    user's training items but the first, at most the recipe's history, times its batch of users)."""
    import numpy as np
    import torch

    import slmrec
    from slmrec.config import SASREC_RECIPES
    from slmrec.distill import full_ce

    recipe = SASREC_RECIPES["strong"]
    batch_size, max_len, dim = recipe["sasrec.batch_size"], recipe["data.max_len"], recipe["sasrec.hidden"]
    ds = slmrec.load(data)
    train = np.diff(ds.offsets) - 3  # targets per user: the training part (history less valid, test) less one
    rows = int(round(batch_size * np.clip(train, 0, max_len).mean()))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    user = torch.randn(rows, dim, requires_grad=True)
    table = (0.1 * torch.randn(ds.num_items + 1, dim)).requires_grad_()
    target = torch.randint(1, ds.num_items + 1, (rows,))

    def dense(u, e, y):
        scores = u @ e.T
        scores[:, 0] = float("-inf")
        return torch.nn.functional.cross_entropy(scores.float(), y)

    out = {"rows": rows, "items": ds.num_items}
    for name, fn in (("dense", dense), ("chunked", full_ce)):
        for precision in ("fp32", "bf16"):
            times = []
            for i in range(repeats + 2):
                start = time.perf_counter()
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                    loss = fn(user, table, target)
                loss.backward()
                if i >= 2:  # the first two warm up
                    times.append(time.perf_counter() - start)
            out[f"{name} {precision} ms"] = 1000 * sorted(times)[len(times) // 2]
    torch.set_num_threads(threads)
    return out


def main(argv=None) -> int:
    a = _args(argv)
    rows = {}
    with tempfile.TemporaryDirectory(prefix="slmrec-bench-levers-") as tmp:
        work = Path(tmp)
        data = a.data
        if data is None:
            data = work / "data"
            env = os.environ | {"PYTHONPATH": str(ROOT / "python")}
            cmd = [sys.executable, "-m", "slmrec.cli.prep", BEAUTY, "--out", data, "--recipe", "none", "--force", "-q"]
            _run(cmd, env, work / "prep.log")
        for i, (name, flags, threads) in enumerate(VARIANTS):
            if i and a.only and not any(part.strip() in name for part in a.only.split(",")):
                continue
            rows[name] = _variant(data, work / f"v{i}", flags, threads, a.epochs, a.seed)
            print(
                f"{name}: training {rows[name]['train_s_per_epoch']:.1f} s/epoch, validation "
                f"{rows[name]['valid_s_per_epoch']:.1f} s",
                flush=True,
            )
        kernels = _ce_kernels(data)
        print("full-softmax CE, one thread:", kernels, flush=True)
    ref = rows["recipe"]
    for r in rows.values():
        r["train_speedup"] = ref["train_s_per_epoch"] / r["train_s_per_epoch"]
        r["epoch_speedup"] = ref["epoch_s"] / r["epoch_s"]
    res = {
        "command": "python benches/bench_sasrec_levers.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "date": time.strftime("%Y-%m-%d"),
        "dataset": str(a.data or BEAUTY),
        "epochs": a.epochs,
        "cores": os.cpu_count(),
        "variants": rows,
        "ce_kernels": kernels,
    }
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(res, indent=2) + "\n")
    for name, r in rows.items():
        print(f"{name:>22}: train x{r['train_speedup']:.2f}, epoch x{r['epoch_speedup']:.2f}")
    print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
