"""Sampling benchmark: ``slmrec.sampling`` against a vectorised NumPy rejection sampler and the reference's
``random.sample(list(set))`` pattern, plus evaluation candidates and training batches.

    python benches/bench_sampling.py [--users 1000000] [--items 50000] [--repeat 3] [--json OUT]

On a generated history CSR (``--users`` users, ``--items`` items, lengths 2 + geometric with mean 10,
Zipf(0.8) item popularity, as in review data) this measures, in one run:

* uniform negatives (k = 100) with 1 thread and with 2 threads, called the way a training loop calls it:
  4,096 users per call (a 3.2 MB result, which the allocator recycles). The single call over all users at
  once is reported too: it also pays the kernel for zeroing hundreds of fresh megabytes;
* the same with a vectorised NumPy rejection sampler (draw a block of candidates per user, reject history
  items by binary search in the sorted (user, item) keys and repeats within the row by a sort, redraw the
  rows that came short), on a ``--numpy-users`` subset, its time scaled linearly;
* the reference pattern ``random.sample(list(all_items - set(history)), k)`` per user, on a
  ``--python-users`` subset, its time scaled linearly;
* evaluation candidates (the positive + 999 negatives) for 1M users (``--eval-users``), all threads, in
  calls of 4,096 users (what an evaluator scoring 4,096 users at a time asks for) and in calls of 100,000;
* training batches of B = 256, L = 50 (LastItemBatches and SequenceBatches with 1 negative per position),
  batches/s through ``epoch()`` and through ``torch.utils.data.DataLoader(ds.torch_dataset(),
  batch_size=None)``, and the data time as a share of a SASRec-sized training step (2 blocks, d = 64,
  BCE with one negative, Adam) timed on this machine's CPU.

Each measurement runs ``--repeat`` times and the fastest is kept. The per-core rates (ours with 1 thread,
NumPy, random.sample: all single-threaded) are in CPU seconds of this process, which other processes on
the shared cores do not inflate; the wall rate is printed next to it. Thread scaling and the eval timing
are wall seconds; they need both cores to be idle, so the 1- and 2-thread runs alternate in
``--scaling-pairs`` pairs spread over a few seconds (a change of load hits both alike) and the load average
is printed at the start and the end. It prints a table, checks the issue's
targets and writes JSON with ``--json``. It is a benchmark, not a test: pytest never collects it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))  # run from a checkout (the extension is built in place)

import numpy as np  # noqa: E402

from slmrec.sampling import LastItemBatches, NegativeSampler, SequenceBatches  # noqa: E402

K = 100
CHUNK = 4096


def make_csr(users: int, items: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = 2 + rng.geometric(1 / 9, users)
    offsets = np.zeros(users + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    p = 1.0 / np.arange(1, items + 1) ** 0.8
    ids = rng.choice(items, int(offsets[-1]), p=p / p.sum()).astype(np.uint32) + 1
    return offsets, ids


def best(fn, repeat: int) -> float:
    """The fastest wall time of ``repeat`` runs."""
    return best2(fn, repeat)[0]


def best2(fn, repeat: int) -> tuple[float, float]:
    """The fastest wall time and the smallest CPU time (this process, all threads) of ``repeat`` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        c, t = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus)


def in_chunks(call, users: np.ndarray, chunk: int) -> None:
    for s in range(0, len(users), chunk):
        call(users[s : s + chunk])


# ------------------------------------------------------------------------------------------ competitors


class NumpyRejection:
    """Vectorised rejection sampling of k distinct non-history items per user, NumPy only."""

    def __init__(self, offsets: np.ndarray, items: np.ndarray, num_items: int, seed: int = 0):
        self.n = num_items
        row = np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))
        self.keys = np.unique(row * (num_items + 1) + items)  # sorted (user, item) pairs of the history
        self.rng = np.random.default_rng(seed)

    def sample(self, users: np.ndarray, k: int) -> np.ndarray:
        out = np.empty((len(users), k), np.int64)
        todo = np.arange(len(users))
        width = int(k * 1.25) + 16
        while todo.size:
            cand = self.rng.integers(1, self.n + 1, size=(todo.size, width))
            key = users[todo, None] * (self.n + 1) + cand
            pos = np.minimum(np.searchsorted(self.keys, key), len(self.keys) - 1)
            ok = self.keys[pos] != key
            order = np.argsort(cand, axis=1, kind="stable")  # repeats within a row: keep the first
            s = np.take_along_axis(cand, order, 1)
            repeat = np.zeros_like(ok)
            np.put_along_axis(repeat, order, np.c_[np.zeros(len(s), bool), s[:, 1:] == s[:, :-1]], 1)
            ok &= ~repeat
            enough = ok.sum(1) >= k
            first = np.argsort(~ok[enough], axis=1, kind="stable")[:, :k]
            out[todo[enough]] = np.take_along_axis(cand[enough], first, 1)
            todo = todo[~enough]
        return out


def python_reference(offsets: np.ndarray, items: np.ndarray, num_items: int, users: np.ndarray, k: int) -> list:
    all_items = set(range(1, num_items + 1))
    out = []
    for u in users:
        history = items[offsets[u] : offsets[u + 1]].tolist()
        out.append(random.sample(list(all_items - set(history)), k))
    return out


def sasrec_step_seconds(num_items: int, repeat: int) -> float:
    """Seconds of one SASRec-sized training step (B=256, L=50, d=64, 2 blocks) on this CPU."""
    import torch

    torch.manual_seed(0)
    d, L, B = 64, 50, 256
    emb = torch.nn.Embedding(num_items + 1, d, padding_idx=0)
    pos = torch.nn.Embedding(L, d)
    layer = torch.nn.TransformerEncoderLayer(d, 1, d, dropout=0.2, batch_first=True, norm_first=True)
    enc = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    params = list(emb.parameters()) + list(pos.parameters()) + list(enc.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    mask = torch.triu(torch.ones(L, L, dtype=torch.bool), 1)
    rng = np.random.default_rng(0)

    def step():
        x = torch.from_numpy(rng.integers(1, num_items + 1, (B, L)))
        p = torch.from_numpy(rng.integers(1, num_items + 1, (B, L)))
        n = torch.from_numpy(rng.integers(1, num_items + 1, (B, L)))
        h = enc(emb(x) + pos.weight, mask=mask)
        lp, ln = (h * emb(p)).sum(-1), (h * emb(n)).sum(-1)
        loss = torch.nn.functional.softplus(-lp).mean() + torch.nn.functional.softplus(ln).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    return best(step, max(3, repeat))


# ------------------------------------------------------------------------------------------ main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=1_000_000, help="users of the history CSR")
    ap.add_argument("--items", type=int, default=50_000, help="items of the catalogue")
    ap.add_argument("--sample-users", type=int, default=200_000, help="users per negatives measurement")
    ap.add_argument("--numpy-users", type=int, default=20_000, help="subset for the NumPy sampler")
    ap.add_argument("--python-users", type=int, default=300, help="subset for the random.sample reference")
    ap.add_argument("--eval-users", type=int, default=1_000_000, help="users for the eval-candidates timing")
    ap.add_argument("--batches", type=int, default=1000, help="training batches per measurement")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (the fastest is kept)")
    ap.add_argument("--scaling-pairs", type=int, default=10, help="interleaved 1-thread/2-thread runs")
    ap.add_argument("--scaling-pause", type=float, default=0.5, help="seconds between those pairs")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()
    cores = os.cpu_count() or 1

    t = time.perf_counter()
    offsets, items = make_csr(args.users, args.items)
    gen_s = time.perf_counter() - t
    n_items = args.items
    print(
        f"history CSR: {args.users:,} users, {n_items:,} items, {len(items):,} interactions "
        f"(generated in {gen_s:.1f} s); {cores} cores; load average {os.getloadavg()[0]:.2f}"
    )
    rows, res = (
        [],
        {
            "users": args.users,
            "items": n_items,
            "interactions": int(len(items)),
            "cores": cores,
            "machine": platform.platform(),
            "python": platform.python_version(),
        },
    )

    def row(name, seconds, count, unit, note=""):
        rate = count / seconds
        rows.append((name, seconds, rate, unit, note))
        res[name] = {"seconds": seconds, "count": count, "rate": rate, "unit": unit, "note": note}
        print(
            f"  {name:<44} {seconds:9.4f} s  {rate / 1e6 if unit == 'M/s' else rate:12,.1f} {unit}  {note}", flush=True
        )
        return rate

    # uniform negatives -------------------------------------------------------------------------
    # Per-core rates use CPU seconds (single-threaded code: immune to other processes on shared cores);
    # the thread scaling uses wall seconds, 1 and 2 threads interleaved so that load changes hit both.
    users = np.random.default_rng(1).permutation(args.users)[: args.sample_users].astype(np.int64)
    count = len(users) * K
    samplers = {t: NegativeSampler(offsets, items, n_items, seed=0, threads=t) for t in (1, 2)}
    for s in samplers.values():
        s.sample(users[:CHUNK], K)  # start the pool
    wall, cpu = {1: [], 2: []}, {1: [], 2: []}
    for i in range(args.scaling_pairs):
        for t, s in samplers.items():
            w, c = best2(lambda: in_chunks(lambda u: s.sample(u, K), users, CHUNK), 1)
            wall[t].append(w)
            cpu[t].append(c)
        if i + 1 < args.scaling_pairs:
            time.sleep(args.scaling_pause)  # spread the pairs over time: other processes come and go
    note = f"{len(users):,} random users, {CHUNK:,} per call"
    per_core = row("negatives k=100, 1 thread, per core (CPU s)", min(cpu[1]), count, "M/s", note)
    wall1 = row("negatives k=100, 1 thread (wall s)", min(wall[1]), count, "M/s", note)
    wall2 = row("negatives k=100, 2 threads (wall s)", min(wall[2]), count, "M/s", note)
    row(
        "negatives k=100, 2 threads, CPU s of both",
        min(cpu[2]),
        count,
        "M/s",
        "equal to 1 thread's = no parallel overhead",
    )
    sec = best(lambda: samplers[2].sample(users, K), args.repeat)
    row(
        "negatives k=100, 2 threads, one call (wall s)",
        sec,
        count,
        "M/s",
        f"{count * 8 / 2**20:,.0f} MB fresh result: page zeroing included",
    )

    np_users = users[: args.numpy_users]
    ns = NumpyRejection(offsets, items, n_items)
    _, sec = best2(lambda: in_chunks(lambda u: ns.sample(u, K), np_users, CHUNK), args.repeat)
    np_rate = row(
        "NumPy vectorised rejection (CPU s)", sec, len(np_users) * K, "M/s", f"{len(np_users):,} users, scaled"
    )
    py_users = users[: args.python_users]
    _, sec = best2(lambda: python_reference(offsets, items, n_items, py_users, K), 1)
    py_rate = row(
        "random.sample(list(set)) reference (CPU s)", sec, len(py_users) * K, "M/s", f"{len(py_users):,} users, scaled"
    )

    # eval candidates ---------------------------------------------------------------------------
    eval_users = np.arange(min(args.eval_users, args.users), dtype=np.int64)
    positives = items[offsets[eval_users + 1] - 1].astype(np.int64)
    s = NegativeSampler(offsets, items, n_items, seed=0)
    for chunk in (CHUNK, 100_000):

        def run():
            for a in range(0, len(eval_users), chunk):
                s.eval_candidates(eval_users[a : a + chunk], positives[a : a + chunk], 999)

        sec = best(run, 1)
        row(
            f"eval candidates n=999, {chunk:,} users per call",
            sec,
            len(eval_users),
            "users/s",
            f"{len(eval_users):,} users, {cores} threads",
        )
    # seconds for 1M users (scaled when --eval-users is smaller)
    eval_s = res[f"eval candidates n=999, {CHUNK:,} users per call"]["seconds"] * 1e6 / len(eval_users)

    # training batches --------------------------------------------------------------------------
    step_s = sasrec_step_seconds(n_items, args.repeat)
    row("SASRec-sized training step (CPU, reference)", step_s, 1, "steps/s", "B=256, L=50, d=64, 2 blocks")
    from torch.utils.data import DataLoader

    for name, make in [
        ("LastItemBatches", lambda: LastItemBatches(offsets, items, n_items, max_len=50, batch_size=256)),
        ("SequenceBatches", lambda: SequenceBatches(offsets, items, n_items, max_len=50, batch_size=256)),
    ]:
        b = make()
        nb = min(args.batches, b.num_batches())

        def take(it):
            for _, _ in zip(range(nb), it):
                pass

        sec = best(lambda: take(b.epoch(0)), args.repeat)
        row(f"{name} B=256 L=50, epoch()", sec, nb, "batches/s", f"{sec / nb / step_s:.2%} of a step")
        ds = b.torch_dataset()
        sec = best(lambda: take(iter(DataLoader(ds, batch_size=None, num_workers=0))), args.repeat)
        row(f"{name} B=256 L=50, DataLoader", sec, nb, "batches/s", f"{sec / nb / step_s:.2%} of a step")

    # targets -----------------------------------------------------------------------------------
    speedup = wall2 / wall1
    data_share = (
        max(
            res[f"{n} B=256 L=50, DataLoader"]["seconds"] / res[f"{n} B=256 L=50, DataLoader"]["count"]
            for n in ("LastItemBatches", "SequenceBatches")
        )
        / step_s
    )
    checks = {
        "uniform >= 100 M/s per core": per_core / 1e6 >= 100,
        ">= 20x NumPy rejection": per_core / np_rate >= 20,
        ">= 500x random.sample": per_core / py_rate >= 500,
        "2 threads >= 1.7x 1 thread": speedup >= 1.7,
        "1M eval users < 10 s": eval_s < 10,
        "batch data time < 5% of a step": data_share < 0.05,
    }
    res["ratios"] = {
        "vs_numpy": per_core / np_rate,
        "vs_random_sample": per_core / py_rate,
        "threads_2_over_1": speedup,
        "eval_1M_seconds": eval_s,
        "data_share_of_step": data_share,
    }
    res["checks"] = checks
    res["load_average"] = os.getloadavg()
    print()
    print("| measurement | seconds | rate | note |")
    print("|---|---:|---:|---|")
    for name, sec, rate, unit, note in rows:
        shown = f"{rate / 1e6:,.1f} M/s" if unit == "M/s" else f"{rate:,.1f} {unit}"
        print(f"| {name} | {sec:.4f} | {shown} | {note} |")
    print()
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print(
        f"per core vs NumPy: {per_core / np_rate:,.0f}x; vs random.sample: {per_core / py_rate:,.0f}x; "
        f"2 threads / 1 thread: {speedup:.2f}x; 1M eval users: {eval_s:.2f} s; "
        f"batch data time: {data_share:.2%} of a SASRec step"
    )
    for name, ok in checks.items():
        print(f"  [{'ok' if ok else 'MISSED' if ok is not None else 'n/a'}] {name}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
