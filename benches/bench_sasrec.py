"""Training speed of the strong SASRec recipe against RecBole 1.2.1's SASRec, on the same prepared data, in one run.

Run (not part of the test suite; needs RecBole's own venv, ``bash runs/recbole_setup.sh``):

    python benches/bench_sasrec.py                                   # Beauty, 2 epochs each, one thread each
    python benches/bench_sasrec.py --data DIR --epochs 3 --threads 2

Design: both halves run as the user would run them, one after the other in this invocation, each in a fresh
process with the same torch thread count: ``slmrec-train --stages sasrec --sasrec.recipe strong`` for ``--epochs``
epochs (no early stop), and ``runs/recbole_peer.py run`` (RecBole's own ``Trainer.fit``, its default SASRec:
2 blocks, 2 heads, 64-d, full-softmax CE over every prefix, batch 256) on the same dataset exported to RecBole's
atomic files (``runs/recbole_peer.py export``; RecBole checks it loaded the same users, items and split). An epoch
is what each calls an epoch: every training target once (the targets i2..i(n-2) of each user; RecBole makes each
prefix an example, ours tiles each history into windows whose every position is a target), then one full-ranking
validation of every user. Reported per side: the wall seconds of each epoch (training + validation, from each
one's own per-epoch record), the median epoch, the training targets per second that gives, the validation
NDCG@10 after each epoch (not comparable across the two: ours excludes the user's history from the ranking,
RecBole nothing), and the load average around it; then the ratio of the median epochs. Quality at a training
budget is docs/RESULTS.md's (the peer and the strong-recipe sections); this measures speed only.
JSON to ``--json`` (default benches/results/sasrec_cpu.json).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEAUTY = ROOT.parent / "shared" / "data" / "seq" / "Beauty.txt"
RECBOLE_PY = ROOT / "runs" / "out" / "recbole-venv" / "bin" / "python"


def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, help=f"a prepared dataset dir (default: {BEAUTY} prepared with --recipe none)")
    p.add_argument("--epochs", type=int, default=2, help="epochs of each (default 2)")
    p.add_argument("--threads", type=int, default=1, help="torch threads of each process (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--recbole-python", type=Path, default=RECBOLE_PY, help=f"RecBole's venv (default {RECBOLE_PY})")
    p.add_argument("--workdir", type=Path, help="where the runs go (default: a temporary directory, removed)")
    p.add_argument("--json", type=Path, default=ROOT / "benches" / "results" / "sasrec_cpu.json")
    return p.parse_args(argv)


def _run(cmd: list, env: dict, log: Path) -> float:
    """Runs ``cmd`` with its output in ``log``; returns its wall seconds; a failure names the step and the log."""
    began = time.perf_counter()
    with open(log, "w") as f:
        rc = subprocess.run([str(c) for c in cmd], env=env, stdout=f, stderr=subprocess.STDOUT).returncode
    if rc:
        tail = log.read_text().splitlines()[-5:]
        raise SystemExit(f"bench_sasrec.py: {log.stem} exited {rc}; {log}:\n" + "\n".join(tail))
    return time.perf_counter() - began


def _side(epoch_seconds: list[float], targets: int, valid: list[float], load: tuple[float, float], wall: float):
    median = statistics.median(epoch_seconds)
    return {
        "epoch_seconds": [round(s, 3) for s in epoch_seconds],
        "median_epoch_s": median,
        "targets_per_epoch": targets,
        "targets_per_s": targets / median,
        "valid_ndcg@10": valid,
        "load_average_1min": {"start": load[0], "end": load[1]},
        "process_wall_s": wall,
    }


def main(argv=None) -> int:
    a = _args(argv)
    if not a.recbole_python.is_file():
        print(
            f"bench_sasrec.py: error: {a.recbole_python}: no RecBole venv; run bash runs/recbole_setup.sh",
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="slmrec-bench-sasrec-") as tmp:
        work = a.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        env = os.environ | {"OMP_NUM_THREADS": str(a.threads), "MKL_NUM_THREADS": str(a.threads)}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "python"), env.get("PYTHONPATH")]))
        data = a.data
        if data is None:
            data = work / "data"
            cmd = [sys.executable, "-m", "slmrec.cli.prep", BEAUTY, "--out", data, "--recipe", "none", "--force", "-q"]
            _run(cmd, env, work / "prep.log")
        import slmrec

        ds = slmrec.load(data)
        import numpy as np

        targets = int(np.maximum(np.diff(ds.offsets) - 3, 0).sum())  # i2..i(n-2) of each user: both sides' epoch

        # ours: the strong recipe for exactly --epochs epochs
        load0 = os.getloadavg()[0]
        out = work / "ours"
        cmd = [sys.executable, "-m", "slmrec.cli.train", "--preset", "small", "--data", data, "--out", out, "--force"]
        cmd += ["--stages", "sasrec", "--sasrec.recipe", "strong", "--data.train_mode", "last"]
        cmd += ["--sasrec.epochs", a.epochs, "--sasrec.patience", "0", "--run.threads", a.threads]
        cmd += ["--run.seed", a.seed, "--data.seed", a.seed, "--run.progress", "false"]
        wall = _run(cmd, env, work / "ours.log")
        history = json.loads((out / "sasrec" / "history.json").read_text())["evals"]
        cumulative = [0.0] + [e["seconds"] for e in history]
        ours = _side(
            [b - e for e, b in zip(cumulative, cumulative[1:])],
            targets,
            [e["full_ndcg@10"] for e in history],
            (load0, os.getloadavg()[0]),
            wall,
        )
        cfg = json.loads((out / "config.json").read_text())["sasrec"]
        ours["config"] = {k: cfg[k] for k in ("hidden", "layers", "heads", "negatives", "batch_size", "bucket")}

        # RecBole: its default SASRec on the same data, the same epochs and threads
        name = "slmrec_bench"
        load0 = os.getloadavg()[0]
        _run(
            [sys.executable, ROOT / "runs" / "recbole_peer.py", "export", data, work / "recbole", name],
            env,
            work / "export.log",
        )
        result = work / "recbole.json"
        cmd = [a.recbole_python, ROOT / "runs" / "recbole_peer.py", "run", work / "recbole", name]
        cmd += ["--epochs", a.epochs, "--threads", a.threads, "--json", result]
        wall = _run(cmd, env, work / "recbole.log")
        rb = json.loads(result.read_text())
        if rb["split"]["train_examples"] != targets:
            raise SystemExit(f"bench_sasrec.py: RecBole trains {rb['split']['train_examples']} targets, ours {targets}")
        recbole = _side(
            rb["epoch_seconds"],
            targets,
            [c["valid_ndcg@10"] for c in rb["curve"]],
            (load0, os.getloadavg()[0]),
            wall,
        )
        recbole["config"] = {k: rb["config"][k] for k in ("hidden_size", "n_layers", "n_heads", "train_batch_size")}

    res = {
        "command": "python benches/bench_sasrec.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "date": time.strftime("%Y-%m-%d"),
        "dataset": {"path": str(a.data or BEAUTY), "users": ds.num_users, "items": ds.num_items},
        "epochs": a.epochs,
        "threads": a.threads,
        "cores": os.cpu_count(),
        "ours": ours,
        "recbole": recbole,
        "epoch_speedup": recbole["median_epoch_s"] / ours["median_epoch_s"],
    }
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(res, indent=2) + "\n")
    print(
        f"{ds.num_users:,} users, {targets:,} training targets per epoch, {a.threads} thread(s) each: epoch "
        f"(training + validation) ours {ours['median_epoch_s']:.1f} s ({ours['targets_per_s']:,.0f} targets/s), "
        f"RecBole {recbole['median_epoch_s']:.1f} s ({recbole['targets_per_s']:,.0f} targets/s): "
        f"{res['epoch_speedup']:.1f}x; wrote {a.json}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
