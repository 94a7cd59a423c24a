"""Tests of slmrec.sampling: negatives, evaluation candidates, training batches, sharding, zero-copy,
determinism, distributions (chi-square), persistence, bad input, DataLoader workers; on synthetic CSRs and
on the real datasets in ../shared/data (skipped when absent)."""

from __future__ import annotations

import math
import pickle
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

import slmrec
from slmrec import _core
from slmrec.sampling import (
    LastItemBatches,
    NegativeSampler,
    SequenceBatches,
    eval_candidates_for,
    history_inputs,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REAL = {
    "beauty": DATA / "seq" / "Beauty.txt",
    "lastfm": DATA / "seq" / "LastFM.txt",
    "ml-100k": DATA / "movielens" / "ml-100k.inter",
}


def random_csr(users: int, num_items: int, *, min_len: int = 1, max_len: int = 30, seed: int = 0):
    """A history CSR with skewed item popularity (repeats allowed, as in raw logs)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_len, max_len + 1, users)
    offsets = np.zeros(users + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    p = 1.0 / np.arange(1, num_items + 1)
    items = rng.choice(num_items, int(offsets[-1]), p=p / p.sum()).astype(np.uint32) + 1
    return offsets, items


def rows(offsets, items):
    return [items[offsets[u] : offsets[u + 1]] for u in range(len(offsets) - 1)]


def check_negatives(offsets, items, num_items, users, negs, k, positives=None):
    """Shape, dtype, range, distinct rows, nothing from the user's history (nor the positive), vectorised."""
    users = np.asarray(users, np.int64)
    assert negs.dtype == np.int64 and negs.shape == (len(users), k)
    assert negs.min() >= 1 and negs.max() <= num_items
    s = np.sort(negs, axis=1)
    assert (s[:, 1:] != s[:, :-1]).all(), "a row repeats an item"
    row_of = np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))
    history = np.unique(row_of * (num_items + 1) + items)
    keys = users[:, None] * (num_items + 1) + negs
    hit = history[np.minimum(np.searchsorted(history, keys), len(history) - 1)] == keys
    assert not hit.any(), f"rows {np.flatnonzero(hit.any(axis=1))[:5]} hit the history"
    if positives is not None:
        assert not (negs == np.asarray(positives)[:, None]).any()


def chi2_critical(df: int, z: float = 3.719) -> float:
    """Upper quantile of chi-square (Wilson-Hilferty); z = 3.719 is p = 1e-4."""
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def chi2(observed: np.ndarray, expected: np.ndarray) -> float:
    return float(((observed - expected) ** 2 / expected).sum())


# ---------------------------------------------------------------- negatives: properties, determinism


@pytest.mark.parametrize("distribution", ["uniform", "popularity"])
def test_negatives_avoid_history_padding_and_repeat(distribution):
    offsets, items = random_csr(500, 400, seed=1)
    s = NegativeSampler(offsets, items, 400, seed=5, distribution=distribution, alpha=0.75)
    users = np.arange(500)
    for k in (1, 10, 150):
        check_negatives(offsets, items, 400, users, s.sample(users, k, epoch=3), k)


def test_dense_histories_use_the_whole_complement():
    # User 1 saw items 1..390 of 400: 10 are left, and k = 10 must return exactly those.
    offsets = np.array([0, 2, 392], np.int64)
    items = np.concatenate([[5, 6], np.arange(1, 391)]).astype(np.uint32)
    s = NegativeSampler(offsets, items, 400)
    negs = s.sample([1, 1], 10)
    assert sorted(negs[0]) == list(range(391, 401))
    assert (negs[0] == negs[1]).all()
    with pytest.raises(ValueError, match=r"user 1 \(users\[0\]\) has only 10 items outside its history"):
        s.sample([1], 11)
    padded = NegativeSampler(offsets, items, 400, pad_short=True).sample([1, 0], 12)
    assert sorted(padded[0][:10]) == list(range(391, 401)) and (padded[0][10:] == 0).all()
    assert (padded[1] > 0).all()
    assert list(s.available([0, 1])) == [398, 10]


def test_deterministic_across_threads_splits_and_calls_and_new_each_epoch():
    offsets, items = random_csr(5000, 3000, seed=2)
    users = np.random.default_rng(0).permutation(5000)
    one = NegativeSampler(offsets, items, 3000, seed=9, threads=1).sample(users, 20, epoch=4)
    two = NegativeSampler(offsets, items, 3000, seed=9, threads=2)
    assert (two.sample(users, 20, epoch=4) == one).all()
    assert (two.sample(users, 20, epoch=4) == one).all()
    split = np.concatenate([two.sample(users[:1777], 20, epoch=4), two.sample(users[1777:], 20, epoch=4)])
    assert (split == one).all()
    assert (two.sample(users[[123]], 20, epoch=4) == one[123]).all()
    other = two.sample(users, 20, epoch=5)
    assert (other != one).any(axis=1).all(), "every row changes with the epoch"
    assert (NegativeSampler(offsets, items, 3000, seed=10).sample(users, 20, epoch=4) != one).any()
    # eval candidates are keyed apart from training negatives
    pos = items[offsets[users]].astype(np.int64)
    c = two.eval_candidates(users, pos, 20)
    assert (c[:, 1:] != one).any(axis=1).all()
    assert (NegativeSampler(offsets, items, 3000, seed=9, threads=1).eval_candidates(users, pos, 20) == c).all()
    assert (two.eval_candidates(users, pos, 20, salt=1) != c).any()


def test_eval_candidates_put_the_positive_first_and_exclude_it():
    offsets, items = random_csr(300, 500, min_len=3, seed=3)
    s = NegativeSampler(offsets, items, 500, seed=1)
    users = np.arange(300)
    positives = np.where(users % 2 == 0, items[offsets[1:] - 1], 499).astype(np.int64)  # in or out of history
    c = s.eval_candidates(users, positives, n=99)
    assert c.shape == (300, 100) and c.dtype == np.int64
    assert (c[:, 0] == positives).all()
    check_negatives(offsets, items, 500, users, c[:, 1:], 99, positives)


# ---------------------------------------------------------------- distributions (chi-square)


def test_uniform_is_uniform_on_both_paths():
    n_users = 20000
    # Rejection path: 10 of 50 items blocked; complement path: 30 of 50 blocked.
    for blocked, k in [(10, 1), (10, 4), (30, 1), (30, 3)]:
        offsets = np.arange(n_users + 1, dtype=np.int64) * blocked
        items = np.tile(np.arange(1, blocked + 1, dtype=np.uint32), n_users)
        negs = NegativeSampler(offsets, items, 50, seed=blocked + k).sample(np.arange(n_users), k)
        counts = np.bincount(negs.ravel(), minlength=51)
        assert counts[: blocked + 1].sum() == 0
        free = counts[blocked + 1 :]
        expected = np.full(free.shape, negs.size / free.size)
        stat = chi2(free, expected)
        assert stat < chi2_critical(free.size - 1), (blocked, k, stat)


def test_popularity_follows_counts_to_the_power_alpha():
    # Item i (1..20) occurs i times in its own row; then 20000 query rows.
    defining = [np.full(i, i, np.uint32) for i in range(1, 21)]
    for query_item, alpha in [(None, 1.0), (None, 0.5), (20, 1.0)]:
        n_q = 20000
        query = [np.array([], np.uint32) if query_item is None else np.array([query_item], np.uint32)] * n_q
        seqs = defining + query
        offsets = np.zeros(len(seqs) + 1, np.int64)
        np.cumsum([len(x) for x in seqs], out=offsets[1:])
        items = np.concatenate(seqs)
        s = NegativeSampler(offsets, items, 20, seed=3, distribution="popularity", alpha=alpha)
        negs = s.sample(np.arange(20, 20 + n_q), 1)
        counts = np.bincount(negs.ravel(), minlength=21)[1:].astype(float)
        weights = np.arange(1, 21, dtype=float) ** alpha
        if query_item is not None:  # excluded (and so popular that the complement path is taken)
            assert counts[query_item - 1] == 0
            keep = np.arange(20) != query_item - 1
            counts, weights = counts[keep], weights[keep]
        expected = weights / weights.sum() * n_q
        stat = chi2(counts, expected)
        assert stat < chi2_critical(len(counts) - 1), (query_item, alpha, stat)
        # and it is not uniform
        assert chi2(counts, np.full(len(counts), n_q / len(counts))) > chi2_critical(len(counts) - 1)


# ---------------------------------------------------------------- zero-copy, GIL


def test_arrays_are_moved_not_copied():
    import torch

    offsets, items = random_csr(100, 200, min_len=4, seed=4)
    s = NegativeSampler(offsets, items, 200)
    outs = [s.sample(np.arange(100), 5), s.eval_candidates(np.arange(100), items[offsets[1:] - 1].astype(np.int64), 9)]
    outs.append(history_inputs(offsets, items, np.arange(100), split="test", max_len=7))
    outs += list(next(LastItemBatches(offsets, items, 200, batch_size=16).epoch(0)).values())
    outs += list(next(SequenceBatches(offsets, items, 200, batch_size=16, num_negatives=2).epoch(0)).values())
    for a in outs:
        assert a.dtype == np.int64 and a.flags.c_contiguous and a.flags.writeable
        assert not a.flags.owndata and a.base is not None  # the buffer is Rust's, moved into NumPy
        t = torch.from_numpy(a)
        assert t.data_ptr() == a.ctypes.data
        t.view(-1)[0] = -7
        assert a.ravel()[0] == -7


def test_the_gil_is_released_while_sampling():
    offsets, items = random_csr(200_000, 20_000, seed=5)
    s = NegativeSampler(offsets, items, 20_000, threads=1)
    started, done = threading.Event(), threading.Event()

    def work():
        started.set()
        s.sample(np.tile(np.arange(200_000), 2), 50)  # ~0.1 s in one call, 160 MB
        done.set()

    t = threading.Thread(target=work)
    t.start()
    started.wait()
    ticks = 0
    while not done.is_set():
        ticks += 1
    t.join()
    assert ticks > 10_000, "the main thread could not run while Rust was sampling"


# ---------------------------------------------------------------- batches


def test_last_item_batches_default_and_all_prefixes():
    offsets, items = random_csr(400, 90, min_len=1, max_len=14, seed=6)
    seqs = rows(offsets, items)

    def pad(x, n):
        x = list(x[-n:]) if n else []
        return [0] * (n - len(x)) + x

    for all_prefixes in (False, True):
        b = LastItemBatches(offsets, items, 90, max_len=6, batch_size=32, seed=1, all_prefixes=all_prefixes)
        want = []
        for u, seq in enumerate(seqs):
            if len(seq) < 3:
                continue
            for t in range(1, len(seq) - 2) if all_prefixes else [len(seq) - 3]:
                want.append((u, tuple(pad(seq[:t], 6)), int(seq[t])))
        got = []
        batches = list(b.epoch(0))
        assert len(batches) == b.num_batches() == math.ceil(len(want) / 32)
        for d in batches:
            assert set(d) == {"users", "input_ids", "target"}
            assert d["input_ids"].shape == (len(d["users"]), 6)
            got += [(int(u), tuple(x), int(y)) for u, x, y in zip(d["users"], d["input_ids"].tolist(), d["target"])]
        assert got != want  # shuffled
        assert sorted(got) == sorted(want)
        again = [(int(u), int(y)) for d in b.epoch(0) for u, y in zip(d["users"], d["target"])]
        assert again == [(u, y) for u, _, y in got]
        other = [(int(u), int(y)) for d in b.epoch(1) for u, y in zip(d["users"], d["target"])]
        assert other != again
    examples = int((np.diff(offsets) >= 3).sum())
    dropped = LastItemBatches(offsets, items, 90, batch_size=32, drop_last=True)
    assert [len(d["users"]) for d in dropped.epoch(0)] == [32] * (examples // 32) == [32] * dropped.num_batches()


def test_sequence_batches_shift_by_one_with_negatives_outside_the_train_part():
    offsets, items = random_csr(300, 120, min_len=1, max_len=20, seed=7)
    seqs = rows(offsets, items)
    b = SequenceBatches(offsets, items, 120, max_len=8, batch_size=64, num_negatives=3, seed=2)
    seen, held_out = [], 0
    for d in b.epoch(0):
        assert d["negatives"].shape == (len(d["users"]), 8, 3)
        for r, u in enumerate(d["users"]):
            train = seqs[u][:-2]
            inp, pos = list(train[:-1][-8:]), list(train[1:][-8:])
            pad = 8 - len(inp)
            assert d["input_ids"][r].tolist() == [0] * pad + inp
            assert d["positives"][r].tolist() == [0] * pad + pos
            neg = d["negatives"][r]
            assert (neg[:pad] == 0).all()
            for p in range(pad, 8):
                assert len(set(neg[p])) == 3 and not np.isin(neg[p], train).any() and (neg[p] > 0).all()
            held_out += int(np.isin(neg[pad:], np.setdiff1d(seqs[u][-2:], train)).sum())
            seen.append(int(u))
    assert sorted(seen) == [u for u, s in enumerate(seqs) if len(s) >= 3]
    assert held_out > 0  # validation and test items are negatives like any other (no leak of held-out targets)
    # negatives depend on (seed, epoch, user) only, not on the batch they land in
    b2 = SequenceBatches(offsets, items, 120, max_len=8, batch_size=7, num_negatives=3, seed=2, threads=1)
    by_user = {int(u): n for d in b.epoch(0) for u, n in zip(d["users"], d["negatives"])}
    for d in b2.epoch(0):
        for u, n in zip(d["users"], d["negatives"]):
            assert (by_user[int(u)] == n).all()
    e1 = {int(u): n for d in b.epoch(1) for u, n in zip(d["users"], d["negatives"])}
    assert any((e1[u] != by_user[u]).any() for u in by_user)


@pytest.mark.parametrize("stride", [6, 2])
def test_sequence_windows_use_every_target_once(stride):
    offsets, items = random_csr(200, 90, min_len=1, max_len=30, seed=11)
    seqs = rows(offsets, items)
    b = SequenceBatches(offsets, items, 90, max_len=6, batch_size=32, num_negatives=0, windows=stride, seed=4)
    expect = {}  # the naive definition: runs of `stride` targets from the end, 6 inputs before each run's end
    for u, s in enumerate(seqs):
        train = list(s[:-2])
        hi = len(train)
        while hi > 1:
            first, lo = max(1, hi - stride), max(1, hi - 6)
            x = [0] * (6 - (hi - lo)) + train[lo - 1 : hi - 1]
            y = [0] * (6 - (hi - first)) + train[first:hi]
            expect.setdefault(u, []).append((x, y))
            hi = first
    got = {}
    for d in b.epoch(0):
        assert d["negatives"].shape == (len(d["users"]), 6, 0)
        for u, x, y in zip(d["users"], d["input_ids"], d["positives"]):
            got.setdefault(int(u), []).append((x.tolist(), y.tolist()))
    assert {u: sorted(v) for u, v in got.items()} == {u: sorted(v) for u, v in expect.items()}
    assert b.num_examples == sum(len(v) for v in expect.values())
    with pytest.raises(ValueError, match="windows"):
        SequenceBatches(offsets, items, 90, max_len=6, windows=7)


@pytest.mark.parametrize("cls", [LastItemBatches, SequenceBatches])
@pytest.mark.parametrize("world_size", [2, 3, 7])
def test_sharding_covers_every_user_exactly_once(cls, world_size):
    offsets, items = random_csr(1001, 80, min_len=3, max_len=10, seed=8)
    exact, even = [], []
    for rank in range(world_size):
        kw = dict(batch_size=16, seed=4, rank=rank, world_size=world_size)
        exact.append([int(u) for d in cls(offsets, items, 80, even=False, **kw).epoch(2) for u in d["users"]])
        b = cls(offsets, items, 80, **kw)
        even.append([int(u) for d in b.epoch(2) for u in d["users"]])
        assert b.num_batches(2) == math.ceil(math.ceil(1001 / world_size) / 16)
    flat = sorted(u for shard in exact for u in shard)
    assert flat == list(range(1001)), "no overlap, no loss"
    assert len({len(s) for s in even}) == 1, "even shards have equal sizes"
    assert sorted(set(u for s in even for u in s)) == list(range(1001))
    assert sum(map(len, even)) - 1001 == (-1001) % world_size  # only the top-up repeats
    # the top-up repeats the start of the epoch's permutation
    whole = [int(u) for d in cls(offsets, items, 80, batch_size=16, seed=4).epoch(2) for u in d["users"]]
    for rank, shard in enumerate(even):
        assert shard == [whole[(rank + i * world_size) % 1001] for i in range(len(shard))]


def test_history_inputs_match_the_definition():
    offsets, items = random_csr(300, 60, min_len=3, max_len=25, seed=9)
    seqs = rows(offsets, items)
    users = np.arange(0, 300, 3)
    for split, cut in [("train", 3), ("valid", 2), ("test", 1)]:
        x = history_inputs(offsets, items, users, split=split, max_len=10)
        assert x.shape == (100, 10) and x.dtype == np.int64
        for j, u in enumerate(users):
            h = list(seqs[u][: len(seqs[u]) - cut][-10:])
            assert x[j].tolist() == [0] * (10 - len(h)) + h
    # int64 items from another project give the same
    assert (history_inputs(offsets, items.astype(np.int64), users, split="test", max_len=10) == x).all()


# ---------------------------------------------------------------- bad input


def test_bad_input_is_a_clear_value_error():
    offsets = np.array([0, 2, 3, 5], np.int64)
    items = np.array([1, 2, 3, 4, 5], np.uint32)
    cases = [
        (lambda: NegativeSampler(offsets, np.array([1, 2, 0, 4, 5]), 9), r"items\[2\] = 0 \(in row 1\)"),
        (
            lambda: NegativeSampler(offsets, np.array([1, 2, 3, 10, 5]), 9),
            r"items\[3\] = 10 \(in row 2\) is outside 1..=9",
        ),
        (lambda: NegativeSampler(offsets, np.array([1, -2, 3, 4, 5]), 9), r"items\[1\] = -2"),
        (lambda: NegativeSampler(np.array([0, 3, 2, 5]), items, 9), r"offsets\[2\] = 2 < offsets\[1\] = 3"),
        (lambda: NegativeSampler(np.array([0, 2, 3, 6]), items, 9), r"offsets\[3\] = 6 but items has 5 entries"),
        (lambda: NegativeSampler(np.array([1, 2, 3, 5]), items, 9), r"offsets\[0\] is 1"),
        (lambda: NegativeSampler(offsets, items, 0), r"num_items"),
        (lambda: NegativeSampler(offsets, items, 9, distribution="zipf"), r"unknown distribution"),
        (
            lambda: NegativeSampler(offsets, items, 9).sample([0, 3], 2),
            r"users\[1\] = 3 is not a user row index in 0..3",
        ),
        (lambda: NegativeSampler(offsets, items, 9).sample([-1], 2), r"users\[0\] = -1"),
        (lambda: NegativeSampler(offsets, items, 9).sample([0], 0), r"k must be at least 1"),
        (lambda: NegativeSampler(offsets, items, 9).sample([0], -3), r"k must be at least 1"),
        (lambda: NegativeSampler(offsets, items, 9).sample([0.0], 1), r"users must hold integers"),
        (lambda: NegativeSampler(offsets, items, 9).sample([[0]], 1), r"users must be 1-D"),
        (lambda: NegativeSampler(offsets, items, 9).sample([2], 8), r"user 2 \(users\[0\]\) has only 7 items"),
        (lambda: NegativeSampler(offsets, items, 9).eval_candidates([0, 1], [1], 3), r"2 users but 1 positives"),
        (lambda: NegativeSampler(offsets, items, 9).eval_candidates([0], [10], 3), r"positives\[0\] = 10"),
        (lambda: NegativeSampler(offsets, items, 9, threads=0), r"threads"),
        (lambda: NegativeSampler(offsets, items, 9, seed=-1), r"seed"),
        (lambda: LastItemBatches(offsets, items, 9, rank=2, world_size=2), r"rank"),
        (lambda: LastItemBatches(offsets, items, 9, batch_size=0), r"batch_size"),
        (lambda: SequenceBatches(offsets, items, 9, num_negatives=-1), r"num_negatives"),
        (lambda: SequenceBatches(np.array([0, 4, 5]), items, 5, num_negatives=2), r"user 0 has only 1 items"),
        (lambda: history_inputs(offsets, items, [1], split="valid", max_len=3), r"user 1 \(users\[0\]\) has 1 items"),
        (lambda: history_inputs(offsets, items, [0], split="dev", max_len=3), r"unknown split"),
        (lambda: history_inputs(offsets, items, [0], split="test", max_len=0), r"max_len"),
    ]
    for call, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            call()
    with pytest.raises(ValueError, match="items must hold integers"):
        NegativeSampler(offsets, items.astype(np.float32), 9)


# ---------------------------------------------------------------- torch, workers, pickling


def test_import_does_not_import_torch():
    code = "import sys, slmrec.sampling; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_pickling_rebuilds_the_same_objects():
    offsets, items = random_csr(200, 100, min_len=3, seed=10)
    s = NegativeSampler(offsets, items, 100, seed=3, distribution="popularity")
    assert (pickle.loads(pickle.dumps(s)).sample(np.arange(200), 5) == s.sample(np.arange(200), 5)).all()
    b = SequenceBatches(offsets, items, 100, batch_size=32, seed=3, num_negatives=2)
    c = pickle.loads(pickle.dumps(b))
    for x, y in zip(b.epoch(1), c.epoch(1)):
        assert all((x[k] == y[k]).all() for k in x)


def _loader_batches(ds, **kw):
    from torch.utils.data import DataLoader

    return [
        {k: v.clone() for k, v in d.items()} for d in DataLoader(ds, batch_size=None, timeout=120 if kw else 0, **kw)
    ]


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.keys() == y.keys() and all((x[k].numpy() == np.asarray(y[k])).all() for k in x)


def test_torch_dataset_in_process_and_with_fork_and_spawn_workers():
    import torch

    offsets, items = random_csr(3000, 500, min_len=3, seed=11)
    b = SequenceBatches(offsets, items, 500, batch_size=64, seed=5, num_negatives=2, threads=1)
    want0, want1 = list(b.epoch(0)), list(b.epoch(1))  # the parent has used its thread pool before forking
    ds = b.torch_dataset()
    assert len(ds) == b.num_batches()
    got = _loader_batches(ds)
    assert all(isinstance(v, torch.Tensor) and v.dtype == torch.int64 for v in got[0].values())
    _same(got, want0)
    _same(_loader_batches(ds), want1)  # the next iter() is the next epoch
    for ctx in ("fork", "spawn"):
        ds.set_epoch(1)
        _same(_loader_batches(ds, num_workers=2, multiprocessing_context=ctx), want1)


# ---------------------------------------------------------------- persisted candidates, real data


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    def prepare(name):
        src = REAL[name]
        if not src.exists():
            pytest.skip(f"{src} is absent (real data lives in ../shared/data)")
        return slmrec.prepare(src, tmp_path_factory.mktemp(name) / "ds", recipe="none")

    return prepare


def test_eval_candidates_are_persisted_and_reused(real):
    ds = real("lastfm")
    users, cands = eval_candidates_for(ds, "valid", n=99, seed=3)
    path = ds.path / "candidates_valid_seed3_n99.npy"
    assert path.exists() and not list(ds.path.glob(".*tmp"))
    lengths = np.diff(ds.offsets)
    assert (users == np.flatnonzero(lengths >= 3)).all()
    assert (cands[:, 0] == ds.items[ds.offsets[users + 1] - 2]).all()
    check_negatives(ds.offsets, ds.items, ds.num_items, users, cands[:, 1:], 99)
    # stored as uint32, bound to the dataset by a sidecar; re-used as they are
    assert np.load(path).dtype == np.uint32 and (ds.path / "candidates_valid_seed3_n99.npy.json").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = eval_candidates_for(ds, "valid", n=99, seed=3)[1]
    assert again.dtype == np.int64 and (again == cands).all()
    # a changed file is not used (a duplicate negative here): rebuilt with a warning (test_dataset_trust.py has
    # every corruption)
    marked = cands.astype(np.uint32)
    marked[0, 1] = marked[0, 2]
    np.save(path, marked)
    with pytest.warns(RuntimeWarning, match="changed after it was written"):
        assert (eval_candidates_for(ds, "valid", n=99, seed=3)[1] == cands).all()
    # test split: other positives, independent negatives, its own file
    tu, tc = eval_candidates_for(ds, "test", n=99, seed=3)
    assert (tc[:, 0] == ds.items[ds.offsets[tu + 1] - 1]).all() and (tc[:, 1:] != cands[:, 1:]).any()
    assert (ds.path / "candidates_test_seed3_n99.npy").exists()
    # a file that does not match is rebuilt, with a warning, to the deterministic candidates
    bad = cands.astype(np.uint32)
    bad[5, 0] += 1
    np.save(path, bad)
    with pytest.warns(RuntimeWarning, match="changed after it was written"):
        again = eval_candidates_for(ds, "valid", n=99, seed=3)[1]
    assert (again == cands).all()
    np.save(path, cands[:, :50])
    with pytest.warns(RuntimeWarning, match="shape"):
        assert (eval_candidates_for(ds, "valid", n=99, seed=3)[1] == cands).all()
    # loaded from disk again, the same arrays
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (eval_candidates_for(ds, "valid", n=99, seed=3)[1] == cands).all()


def test_too_large_n_suggests_a_smaller_one(real):
    ds = real("ml-100k")  # 1,682 items; one user saw 737
    with pytest.raises(ValueError, match=r"has only 945 items outside its history.*pass n <= 945"):
        eval_candidates_for(ds, "test", n=999)
    users, cands = eval_candidates_for(ds, "test", n=945)
    assert cands.shape == (943, 946)
    check_negatives(ds.offsets, ds.items, ds.num_items, users, cands[:, 1:], 945)


@pytest.mark.parametrize("name", ["beauty", "lastfm", "ml-100k"])
def test_real_datasets(real, name):
    ds = real(name)
    users = np.arange(ds.num_users)
    for distribution in ("uniform", "popularity"):
        s = NegativeSampler(ds.offsets, ds.items, ds.num_items, seed=1, distribution=distribution, alpha=0.75)
        k = 100
        negs = s.sample(users, k, epoch=2)
        check_negatives(ds.offsets, ds.items, ds.num_items, users, negs, k)
        one = NegativeSampler(
            ds.offsets, ds.items, ds.num_items, seed=1, distribution=distribution, alpha=0.75, threads=1
        )
        assert (one.sample(users[::-1], k, epoch=2) == negs[::-1]).all()
    n = min(999, int(NegativeSampler(ds.offsets, ds.items, ds.num_items).available(users).min()))
    eu, cands = eval_candidates_for(ds, "test", n=n)
    assert (cands[:, 0] == ds.items[ds.offsets[eu + 1] - 1]).all()
    check_negatives(ds.offsets, ds.items, ds.num_items, eu, cands[:, 1:], n)
    assert (eval_candidates_for(ds, "test", n=n)[1] == cands).all()
    # training batches: every user once per epoch, inputs end right before the target
    b = LastItemBatches(ds.offsets, ds.items, ds.num_items, max_len=50, batch_size=256)
    seen = []
    for d in b.epoch(0):
        last = d["input_ids"][:, -1]
        tgt_pos = ds.offsets[d["users"] + 1] - 3
        assert (d["target"] == ds.items[tgt_pos]).all() and (last == ds.items[tgt_pos - 1]).all()
        seen += d["users"].tolist()
    assert sorted(seen) == np.flatnonzero(np.diff(ds.offsets) >= 3).tolist()
    q = SequenceBatches(ds.offsets, ds.items, ds.num_items, max_len=50, batch_size=256, num_negatives=2)
    d = next(q.epoch(0))
    for r, u in enumerate(d["users"]):
        train = ds.sequence(int(u))[:-2]  # negatives avoid the train part (validation and test items may come)
        valid = d["positives"][r] > 0
        assert not np.isin(d["negatives"][r][valid], train).any() and (d["negatives"][r][~valid] == 0).all()
    x = history_inputs(ds.offsets, ds.items, eu, split="test", max_len=50)
    assert (x[:, -1] == ds.items[ds.offsets[eu + 1] - 2]).all()


# ---------------------------------------------------------------- options: one set of defaults, one validation


def test_both_builders_take_their_defaults_and_checks_from_the_core():
    offsets, items = random_csr(40, 200, min_len=3, max_len=70, seed=12)
    d = LastItemBatches.defaults()
    assert d == SequenceBatches.defaults() == _core.Batches.defaults()
    last, seq = next(LastItemBatches(offsets, items, 200).epoch(0)), next(SequenceBatches(offsets, items, 200).epoch(0))
    assert last["input_ids"].shape[1] == seq["input_ids"].shape[1] == d["max_len"]
    assert len(last["users"]) == len(seq["users"]) == min(40, d["batch_size"])
    assert seq["negatives"].shape[2] == d["num_negatives"]
    explicit = {
        k: d[k]
        for k in ("max_len", "batch_size", "seed", "shuffle", "drop_last", "rank", "world_size", "even", "bucket")
    }
    for cls in (LastItemBatches, SequenceBatches):
        for x, y in zip(cls(offsets, items, 200).epoch(3), cls(offsets, items, 200, **explicit).epoch(3)):
            assert all((x[k] == y[k]).all() for k in x)
    for kwargs, pattern in [
        (dict(rank=-1), r"rank must be at least 0, got -1"),
        (dict(world_size=0), r"world_size must be at least 1, got 0"),
        (dict(rank=3, world_size=3), r"rank must be in 0..world_size"),
        (dict(seed=-1), r"seed must be in 0..=18446744073709551615, got -1"),
        (dict(seed=2**64), r"seed must be in 0..=18446744073709551615"),
        (dict(bucket=-2), r"bucket must be at least 0"),
        (dict(max_len=0), r"max_len must be at least 1"),
    ]:
        for cls in (LastItemBatches, SequenceBatches):
            with pytest.raises(ValueError, match=pattern):
                cls(offsets, items, 200, **kwargs)
    with pytest.raises(ValueError, match=r"epoch must be in 0..="):
        next(LastItemBatches(offsets, items, 200).epoch(-1))
    with pytest.raises(TypeError):
        LastItemBatches(offsets, items, 200, max_len=2.5)
    with pytest.raises(TypeError):
        SequenceBatches(offsets, items, 200, max_lenn=5)
