"""The dataset directory as a contract (issue 13, dataset side): fingerprint, Parquet written by other tools,
what load() checks, what --force may replace, the output lock, and persisted evaluation candidates."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import slmrec


def seq_file(path: Path, users: int = 6, length: int = 6, items: int = 40) -> Path:
    """Sequence lines: user u has `length` distinct items (a deterministic spread over 1..items)."""
    rows = []
    for u in range(1, users + 1):
        seq = [(u * 7 + k * 5) % items + 1 for k in range(length)]
        assert len(set(seq)) == length
        rows.append(" ".join(map(str, [u, *seq])))
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def ds(tmp_path):
    return slmrec.prepare(seq_file(tmp_path / "in.txt"), tmp_path / "ds", recipe="none")


def test_fingerprint_is_written_at_prepare_and_stable(ds, tmp_path):
    fp = ds.stats["fingerprint"]
    assert isinstance(fp, str) and len(fp) == 16 and int(fp, 16) >= 0
    assert ds.fingerprint == fp
    assert slmrec.load(ds.path).fingerprint == fp
    # the same content gives the same fingerprint; a different one another
    again = slmrec.prepare(seq_file(tmp_path / "in2.txt"), tmp_path / "ds2", recipe="none")
    assert again.fingerprint == fp
    other = slmrec.prepare(seq_file(tmp_path / "in3.txt", length=7), tmp_path / "ds3", recipe="none")
    assert other.fingerprint != fp
    # the thread count does not matter
    threaded = slmrec.prepare(tmp_path / "in.txt", tmp_path / "ds4", recipe="none", threads=1)
    assert threaded.fingerprint == fp


def test_fingerprint_of_a_directory_prepared_before_it_is_the_stats_sha256(ds):
    stats = json.loads((ds.path / "stats.json").read_text())
    del stats["fingerprint"]
    (ds.path / "stats.json").write_text(json.dumps(stats))
    old = slmrec.load(ds.path)
    assert old.fingerprint == hashlib.sha256((ds.path / "stats.json").read_bytes()).hexdigest()
