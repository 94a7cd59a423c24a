"""runs/recbole_peer.py export: our dataset -> RecBole atomic .inter whose time-ordered leave-one-out is our split.

Runs without RecBole: it checks the file RecBole would read, and replays RecBole 1.2.1's split rule on it
(augment every prefix, sort by the target's timestamp, per user: last example -> test, second last -> valid).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def peer():
    spec = importlib.util.spec_from_file_location("recbole_peer", ROOT / "runs" / "recbole_peer.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _read_inter(path: Path):
    lines = path.read_text().splitlines()
    rows = [tuple(int(x) for x in line.split("\t")) for line in lines[1:]]
    return lines[0], rows


def _recbole_split(rows):
    """RecBole 1.2.1's LS valid_and_test on a sequential dataset, replayed: {user: (train targets, valid, test)}."""
    by_user: dict[int, list[tuple[int, int]]] = {}
    for u, i, t in sorted(rows, key=lambda r: r[2]):  # the sort by time (stable), then grouping by user
        by_user.setdefault(u, []).append((t, i))
    out = {}
    for u, seq in by_user.items():
        items = [i for _, i in sorted(seq)]
        examples = items[1:]  # targets of the augmented (prefix -> next item) examples
        k = min(2, len(examples) - 1)
        train, rest = examples[: len(examples) - k], examples[len(examples) - k :]
        valid = rest[0] if k == 2 else None
        test = rest[-1] if k >= 1 else None
        out[u] = (train, valid, test)
    return out


def test_export_matches_our_split(peer, tmp_path):
    seqs = [[3, 1, 4, 5], [2, 7, 1, 8, 10, 6], [5, 9, 2, 6]]
    offsets = np.cumsum([0] + [len(s) for s in seqs]).astype(np.int64)
    items = np.concatenate(seqs).astype(np.uint32)
    counts = peer.export_arrays(offsets, items, len(seqs), 10, tmp_path, "toy", source="mem")

    header, rows = _read_inter(tmp_path / "toy" / "toy.inter")
    assert header == "user_id:token\titem_id:token\ttimestamp:float"
    assert rows == [(u + 1, i, t) for u, s in enumerate(seqs) for t, i in enumerate(s)]
    split = _recbole_split(rows)
    for u, s in enumerate(seqs):
        train, valid, test = split[u + 1]
        assert (train, valid, test) == (s[1:-2], s[-2], s[-1])  # ours: last = test, second last = valid

    saved = json.loads((tmp_path / "toy" / "toy.counts.json").read_text())
    assert saved == counts
    assert counts["users"] == 3 and counts["items"] == 10 and counts["interactions"] == len(items)
    assert counts["users_shorter_than_4"] == 0
    assert counts["expected_train_examples"] == sum(len(s) - 3 for s in seqs)
    assert counts["expected_valid_users"] == counts["expected_test_users"] == 3


def test_export_counts_short_users(peer, tmp_path):
    # A 3-item user: RecBole trains on (i1 -> i2) and tests i3, with no validation example; ours validates on i2.
    # the users [1, 2, 3] and [4, 5, 6, 7]
    offsets = np.array([0, 3, 7], dtype=np.int64)
    counts = peer.export_arrays(offsets, np.array([1, 2, 3, 4, 5, 6, 7], np.uint32), 2, 7, tmp_path, "s")
    assert counts["users_shorter_than_4"] == 1
    assert counts["expected_valid_users"] == 1 and counts["expected_test_users"] == 2
    _, rows = _read_inter(tmp_path / "s" / "s.inter")
    assert _recbole_split(rows)[1] == ([2], None, 3)
    assert _recbole_split(rows)[2] == ([5], 6, 7)
    assert counts["expected_train_examples"] == 1  # RecBole builds 2 (the 3-item user's (i1 -> i2) too)


def test_export_rejects_bad_ids(peer, tmp_path):
    with pytest.raises(ValueError):
        peer.export_arrays(np.array([0, 2], np.int64), np.array([0, 1], np.uint32), 1, 3, tmp_path, "bad")
    with pytest.raises(ValueError):
        peer.export_arrays(np.array([0, 3], np.int64), np.array([1, 2], np.uint32), 1, 3, tmp_path, "bad")


def test_export_cli_on_a_prepared_dataset(peer, tmp_path):
    slmrec = pytest.importorskip("slmrec")
    src = tmp_path / "seq.txt"
    src.write_text("1 10 11 12 13 14\n2 12 10 13 15\n")
    ds = slmrec.prepare(str(src), str(tmp_path / "ds"), format="seq", recipe="none")
    assert peer.main(["export", str(tmp_path / "ds"), str(tmp_path / "rb"), "tiny"]) == 0
    _, rows = _read_inter(tmp_path / "rb" / "tiny" / "tiny.inter")
    assert len(rows) == len(ds.items) == 9
    for u in range(ds.num_users):
        got = [i for uu, i, _ in rows if uu == u + 1]
        assert got == ds.sequence(u).tolist()
