"""The sampler and the batch builders called from several Python threads at once (they release the GIL and
share one object): every call returns exactly what it returns when made alone."""

from __future__ import annotations

import threading

import numpy as np

from slmrec.sampling import LastItemBatches, NegativeSampler, SequenceBatches


def _csr(users: int, num_items: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, 40, users)
    offsets = np.zeros(users + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    items = rng.integers(1, num_items + 1, int(offsets[-1])).astype(np.uint32)
    return offsets, items


def _hammer(jobs: dict, threads: int = 8, rounds: int = 3) -> dict:
    """Runs every job ``rounds`` times, spread over ``threads`` threads started together; returns each job's
    results (one per round)."""
    out: dict = {name: [] for name in jobs}
    errors: list = []
    barrier = threading.Barrier(threads)
    names = [n for n in jobs for _ in range(rounds)]
    lock = threading.Lock()

    def work(part):
        barrier.wait()
        for name in part:
            try:
                r = jobs[name]()
            except BaseException as e:  # noqa: BLE001
                errors.append(e)
                return
            with lock:
                out[name].append(r)

    ts = [threading.Thread(target=work, args=(names[k::threads],)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    return out


def test_sampler_is_safe_from_many_python_threads():
    offsets, items = _csr(3000, 800)
    users = np.arange(3000)
    pos = items[offsets[1:] - 1].astype(np.int64)
    uniform = NegativeSampler(offsets, items, 800, seed=5)  # the shared rayon pool
    popular = NegativeSampler(offsets, items, 800, seed=5, threads=2, distribution="popularity", alpha=0.75)
    jobs = {}
    for e in range(4):
        jobs[f"u{e}"] = lambda e=e: uniform.sample(users[e::4], 16, epoch=e)
        jobs[f"p{e}"] = lambda e=e: popular.sample(users[e::3], 8, epoch=e)
    jobs["cand"] = lambda: uniform.eval_candidates(users, pos, 99, salt=1)
    jobs["avail"] = lambda: popular.available(users)
    alone = {name: job() for name, job in jobs.items()}
    together = _hammer(jobs)
    for name, results in together.items():
        assert len(results) == 3
        for r in results:
            np.testing.assert_array_equal(r, alone[name], err_msg=name)


def test_batch_builders_are_safe_from_many_python_threads():
    offsets, items = _csr(1500, 500, seed=1)
    last = LastItemBatches(offsets, items, 500, max_len=12, batch_size=64, seed=3)
    seq = SequenceBatches(offsets, items, 500, max_len=12, batch_size=64, num_negatives=2, seed=3, threads=1)

    def run(b, epoch):
        return [{k: v.copy() for k, v in batch.items()} for batch in b.epoch(epoch)]

    jobs = {f"last{e}": (lambda e=e: run(last, e)) for e in range(3)}
    jobs |= {f"seq{e}": (lambda e=e: run(seq, e)) for e in range(3)}
    alone = {name: job() for name, job in jobs.items()}
    together = _hammer(jobs, threads=6, rounds=2)
    for name, results in together.items():
        for r in results:
            assert len(r) == len(alone[name])
            for got, want in zip(r, alone[name]):
                assert got.keys() == want.keys()
                for k in got:
                    np.testing.assert_array_equal(got[k], want[k], err_msg=f"{name}:{k}")


def test_prepare_and_load_work_in_a_forked_child_after_the_parent_used_them(tmp_path):
    # rayon's global pool does not survive fork (the child would wait forever on the parent's threads): prepare
    # with threads=None and load run on the bindings' per-process pools, which a forked child rebuilds.
    import os
    import subprocess
    import sys

    src = tmp_path / "seq.txt"
    src.write_text(
        "".join(f"{u} " + " ".join(str((u * 5 + k) % 40 + 1) for k in range(6)) + "\n" for u in range(1, 60))
    )
    code = f"""
import os, sys, slmrec
src, out = {str(src)!r}, {str(tmp_path)!r}
slmrec.prepare(src, out + "/parent", recipe="none")
pid = os.fork()
if pid == 0:
    ds = slmrec.prepare(src, out + "/child", recipe="none")
    os._exit(0 if slmrec.load(out + "/parent").num_interactions == ds.num_interactions else 3)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, timeout=120, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
