"""stats.json of real files against goldens written by the code before the stats were typed.

The goldens in tests/golden/stats_*.json were written by this file's ``_stats`` at commit 7c7a1e7 (where
dataset.rs still listed every field by hand into a JSON value), from the files in ../shared/data. They pin
every key and value of stats.json but the wall-clock ones (``elapsed_seconds`` and the ``phase_seconds``
values, whose keys are kept) and the input paths (kept relative to the data directory). The comparison is on
the parsed JSON, so floats compare exactly.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import slmrec

GOLDEN = Path(__file__).parent / "golden"
CASES = {
    "all_beauty_kcore_min4": (["amazon18/All_Beauty_5.json.gz"], [], {"min_rating": 4.0}),
    "gift_cards_paper_meta": (
        ["amazon18/Gift_Cards_5.json.gz"],
        ["amazon18/meta_Gift_Cards.json.gz", "amazon18/meta_Gift_Cards.2020-08.json.gz"],
        {"recipe": "slmrec-paper"},
    ),
    "ml100k_recbole_none": (["movielens/ml-100k.inter"], [], {"recipe": "none"}),
    "beauty_seq_skip": (["seq/Beauty.txt"], [], {"on_bad_line": "skip"}),
}


def _stats(data: Path, out: Path, inputs, meta, options) -> dict:
    slmrec.prepare([data / p for p in inputs], out, meta=[data / p for p in meta], threads=2, **options)
    stats = json.loads((out / "stats.json").read_text())
    stats["elapsed_seconds"] = None
    stats["phase_seconds"] = {k: None for k in stats["phase_seconds"]}
    for f in stats["inputs"]:
        f["path"] = os.path.relpath(f["path"], data)
    if "meta" in stats:
        stats["meta"]["files"] = [os.path.relpath(p, data) for p in stats["meta"]["files"]]
    return stats


@pytest.mark.parametrize("case", sorted(CASES))
def test_stats_json_keeps_its_keys_and_values(shared_data, tmp_path, case):
    inputs, meta, options = CASES[case]
    got = _stats(shared_data, tmp_path / "ds", inputs, meta, options)
    assert got == json.loads((GOLDEN / f"stats_{case}.json").read_text())
    # the written file keeps its key order too: sorted in every object, as before the typing
    orders: list[list[str]] = []
    json.loads(
        (tmp_path / "ds" / "stats.json").read_text(), object_pairs_hook=lambda kv: orders.append([k for k, _ in kv])
    )
    assert orders and all(keys == sorted(keys) for keys in orders)
