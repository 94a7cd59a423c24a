"""The leave-one-out helpers moved into the core give what the Python code they replace computed, on real data.

Each ``_old_*`` function below is the Python that ``slmrec.sampling.eval_candidates_for``,
``slmrec.evaluate.build_eval_set`` and ``runs/recbole_peer.export_arrays`` ran before (kept here as the
reference); the core functions must agree exactly on every user of a real dataset (the S3-Rec Beauty sequences
and an Amazon-2018 5-core file from ../shared/data), and refuse what the old checks refused.
"""

from __future__ import annotations

import numpy as np
import pytest

import slmrec
from slmrec.sampling import check_csr, history_exclusions, split_targets, splittable_users


def _old_users(offsets):
    return np.flatnonzero(np.diff(offsets) >= 3).astype(np.int64)


def _old_positives(offsets, items, users, split):
    return items[offsets[users + 1] - (2 if split == "valid" else 1)].astype(np.int64)


def _old_exclusions(offsets, items, users, positives):
    lens = offsets[users + 1] - offsets[users]
    width = int(lens.max()) if len(users) else 1
    excluded = np.zeros((len(users), width), dtype=np.int64)
    for i, u in enumerate(users):
        seq = items[offsets[u] : offsets[u + 1]].astype(np.int64)
        excluded[i, : len(seq)] = np.where(seq == positives[i], 0, seq)
    return excluded


def _old_csr_problem(offsets, items, num_users, num_items):
    if offsets.shape != (num_users + 1,) or offsets[0] != 0 or offsets[-1] != len(items):
        return "shape"
    if (np.diff(offsets) < 0).any():
        return "order"
    if len(items) and (int(items.min()) < 1 or int(items.max()) > num_items):
        return "ids"
    return None


@pytest.fixture(scope="module", params=["seq/Beauty.txt", "amazon18/All_Beauty_5.json.gz"])
def real(request, shared_data, tmp_path_factory):
    return slmrec.prepare(shared_data / request.param, tmp_path_factory.mktemp("d") / "ds", recipe="none")


def test_targets_and_exclusions_match_the_old_python(real):
    offsets, items = real.offsets, real.items
    users = splittable_users(offsets, len(items))
    assert users.dtype == np.int64 and (users == _old_users(offsets)).all() and len(users) > 900
    for split in ("valid", "test"):
        old = _old_positives(offsets, items, users, split)
        assert (split_targets(offsets, items, users, split=split) == old).all()
        got = history_exclusions(offsets, items, users, split=split)
        want = _old_exclusions(offsets, items, users, old)
        assert got.dtype == want.dtype and got.shape == want.shape and (got == want).all()
        # a subset in another order (build_eval_set's sample) and int64 items give the same rows
        some = users[::-7]
        assert (
            history_exclusions(offsets, items.astype(np.int64), some, split=split)
            == _old_exclusions(offsets, items, some, _old_positives(offsets, items, some, split))
        ).all()
    assert history_exclusions(offsets, items, users[:0], split="test").shape == (0, 1)


def test_check_csr_refuses_what_the_old_checks_refused(real):
    offsets, items, n = real.offsets, real.items, real.num_items
    check_csr(offsets, items, n)
    assert _old_csr_problem(offsets, items, len(offsets) - 1, n) is None
    broken = [
        (offsets, np.where(np.arange(len(items)) == 5, 0, items), n, r"items\[5\] = 0"),
        (offsets, items, n - 1, r"is outside 1..=" + str(n - 1)),
        (np.concatenate([offsets[:3], offsets[2:3] - 1, offsets[4:]]), items, n, r"not monotone"),
        (offsets[:-1], items, n, r"lengths do not match"),
        (offsets + 1, items, n, r"offsets\[0\] is 1"),
    ]
    for o, i, k, why in broken:
        assert _old_csr_problem(o, i.astype(np.int64), len(o) - 1, k) is not None
        with pytest.raises(ValueError, match=why):
            check_csr(o, i, k)


def test_cold_targets_and_the_eval_set_that_drops_them(real):
    """A cold target occurs in no user's training part of its split (each sequence without its last 1 or 2
    items): the core agrees with a naive count on real data, and ``build_eval_set(cold="drop")`` leaves exactly
    the warm users (S3-Rec Beauty: 52 cold test users, the eSASRec benchmark's filter_cold_items)."""
    from collections import Counter

    from slmrec.evaluate import build_eval_set
    from slmrec.sampling import cold_targets

    offsets, items = real.offsets, real.items
    users = splittable_users(offsets, len(items))
    rows = [items[offsets[u] : offsets[u + 1]] for u in range(len(offsets) - 1)]
    for split, back in (("valid", 2), ("test", 1)):
        seen = Counter(int(i) for r in rows for i in r[: max(0, len(r) - back)])
        want = np.array([seen[int(rows[u][-back])] == 0 for u in users])
        got = cold_targets(offsets, items, users, split=split)
        assert got.dtype == np.bool_ and (got == want).all()
        kept = build_eval_set(real, split, max_len=5, negatives=10, seed=0, cold="drop")
        assert (kept.users.numpy() == users[~want]).all()
        if split == "test" and len(users) == 22363:  # the S3-Rec Beauty file
            assert int(want.sum()) == 52
    with pytest.raises(ValueError, match="cold must be keep or drop"):
        build_eval_set(real, "test", max_len=5, negatives=10, seed=0, cold="some")
