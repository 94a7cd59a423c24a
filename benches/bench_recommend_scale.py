"""Can `Recommender.recommend` serve every user of a large catalogue on this machine? Time and peak memory.

Run (not part of the test suite):

    python benches/bench_recommend_scale.py                           # 1M users x 100k items, top-10
    python benches/bench_recommend_scale.py --users 50000             # a quicker slice of the same

Design: a SASRec of the reference size (128-d item table, hidden 32, 2 layers, history 30) with random weights
(the cost does not depend on what the weights learned) over ``--items`` items, and ``--users`` users whose
histories are drawn at random (lengths 3..50, uniform), are put into a :class:`slmrec.recommend.Recommender`
exactly as a loaded export would be; then one ``recommend(k=10)`` over every user, history excluded, at
``--batch-size``. Reported: seconds, users/s, peak RSS of the process (``ru_maxrss``) and its RSS before
the call (model, histories and id maps), the rows returned, and the memory the design bounds (one
``batch x items`` float32 score matrix). JSON to ``--json`` (default benches/results/recommend_scale_cpu.json).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--items", type=int, default=100_000)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)

    import numpy as np
    import polars as pl
    import torch

    from slmrec.models import SASRec
    from slmrec.recommend import Recommender

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 51, size=args.users)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    sequences = rng.integers(1, args.items + 1, size=int(offsets[-1]), dtype=np.uint32)
    items = pl.DataFrame(
        {
            "item_id": np.arange(1, args.items + 1, dtype=np.uint32),
            "item": [f"i{i:07d}" for i in range(1, args.items + 1)],
        }
    )
    users = pl.Series("user", [f"u{u:08d}" for u in range(args.users)])
    model = SASRec(args.items, 30, emb_dim=128, hidden=32, layers=2, heads=1, dropout=0.5)
    rec = Recommender(
        model,
        kind="sasrec",
        max_len=30,
        items=items,
        users=users,
        offsets=offsets,
        sequences=sequences,
        info={"model": "synthetic sasrec"},
        device="cpu",
        batch_size=args.batch_size,
    )
    before = _rss_mib()
    start = time.perf_counter()
    top = rec.recommend(k=args.k, progress=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res = {
        "command": "python benches/bench_recommend_scale.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "date": time.strftime("%Y-%m-%d"),
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "users": args.users,
        "items": args.items,
        "k": args.k,
        "batch_size": args.batch_size,
        "interactions": int(offsets[-1]),
        "seconds": seconds,
        "users_per_s": args.users / seconds,
        "rows": len(top),
        "rss_before_mib": before,
        "peak_rss_mib": peak,
        "score_matrix_mib": args.batch_size * (args.items + 1) * 4 / 2**20,
        "machine_memory_gib": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
        "load_average_1min": os.getloadavg()[0],
    }
    out = args.json or ROOT / "benches" / "results" / "recommend_scale_cpu.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(
        f"{args.users:,} users x {args.items:,} items, top-{args.k}: {seconds:.0f} s ({res['users_per_s']:,.0f} "
        f"users/s), peak RSS {peak:,.0f} MiB ({before:,.0f} before the call) of "
        f"{res['machine_memory_gib']:.0f} GiB; wrote {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
