"""The rules of ``slmrec.prepare`` on small hand-made files, each checked against hand-computed answers and the
reference: tie-breaks by input order, dedup, the iterative k-core and the slmrec-paper recipe, id numbering
(numeric vs byte order, padding 0), multi-file streams, multi-member gzip, CRLF/BOM/blank lines, the stats
identities, zero-copy arrays, the atomic write (force, OutputExistsError, no temp dirs), and thread-count
independence. Random small datasets are compared with the reference under every recipe.
"""

from __future__ import annotations

import gzip
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import reference as ref
import slmrec


def rev(user, item, ts, rating=5.0, **extra) -> str:
    d = {"reviewerID": user, "asin": item, "unixReviewTime": ts, **extra}
    if rating is not None:
        d["overall"] = rating
    return json.dumps(d)


def write(path: Path, lines, end="\n") -> Path:
    path.write_text("".join(line + end for line in lines))
    return path


def raw_seq(ds, row) -> list[str]:
    """The raw item ids of CSR row ``row``."""
    names = ds.item_table()["item"].to_list()
    return [names[i - 1] for i in ds.sequence(row)]


def row_of(ds, user: str) -> int:
    return ds.user_table()["user"].to_list().index(user)


KEEP_ALL = {"recipe": "kcore", "user_min": 1, "item_min": 1}


def test_same_day_ties_keep_input_order(tmp_path):
    day = 86400 * 17000
    f = write(
        tmp_path / "r.json",
        [
            rev("U", "c", day),
            rev("U", "a", day),
            rev("V", "a", day),
            rev("U", "b", day),
            rev("U", "z", day - 86400),
            rev("U", "y", day + 86400),
        ],
    )
    ds = slmrec.prepare(f, tmp_path / "ds", **KEEP_ALL)
    assert raw_seq(ds, row_of(ds, "U")) == ["z", "c", "a", "b", "y"]
    np.testing.assert_array_equal(ds.timestamps[: ds.offsets[1]], [day - 86400, day, day, day, day + 86400])
    ref.assert_matches(ds, ref.prepare([(f, "amazon-json")], **KEEP_ALL))


def test_dedup_keeps_earliest_by_time_then_input_order(tmp_path):
    f = write(
        tmp_path / "r.json",
        [
            rev("U", "a", 5, 1.0),
            rev("U", "a", 3, 2.0),
            rev("U", "a", 3, 3.0),
            rev("U", "b", 1, 4.0),
            rev("U", "b", 1, 5.0),
            rev("V", "a", 9, 1.5),
        ],
    )
    ds = slmrec.prepare(f, tmp_path / "ds", **KEEP_ALL)
    assert ds.stats["duplicates_dropped"] == 3
    u = row_of(ds, "U")
    sl = slice(ds.offsets[u], ds.offsets[u + 1])
    assert raw_seq(ds, u) == ["b", "a"]
    np.testing.assert_array_equal(ds.timestamps[sl], [1, 3])
    np.testing.assert_array_equal(ds.ratings[sl], np.array([4.0, 2.0], dtype=np.float32))
    # recipe none keeps every duplicate, in (timestamp, input order).
    dn = slmrec.prepare(f, tmp_path / "none", recipe="none")
    assert raw_seq(dn, row_of(dn, "U")) == ["b", "b", "a", "a", "a"]
    np.testing.assert_array_equal(dn.ratings[: dn.offsets[1]], np.array([4, 5, 2, 3, 1], dtype=np.float32))
    assert dn.stats["duplicates_dropped"] == 0 and dn.num_interactions == 6


def test_kcore_iterates_to_the_fixpoint_with_simultaneous_rounds(tmp_path):
    # A 2x2 core (x1, x2 x p, q) plus a fringe that peels off in three rounds with user_min = item_min = 2:
    # round 1: u3 (1 row) and u4 (1 row) go; round 2: items b and c fall to 1 and go; round 3: u1, u2 fall to 1.
    rows = [
        ("u1", "a"),
        ("u1", "b"),
        ("u2", "a"),
        ("u2", "c"),
        ("u3", "c"),
        ("u4", "b"),
        ("x1", "p"),
        ("x1", "q"),
        ("x2", "p"),
        ("x2", "q"),
    ]
    f = write(tmp_path / "r.json", [rev(u, i, k) for k, (u, i) in enumerate(rows)])
    ds = slmrec.prepare(f, tmp_path / "ds", user_min=2, item_min=2)
    s = ds.stats
    assert s["kcore_dropped_per_round"] == [2, 2, 2] and s["kcore_rounds"] == 3 and s["kcore_dropped"] == 6
    assert ds.user_table()["user"].to_list() == ["x1", "x2"] and ds.item_table()["item"].to_list() == ["p", "q"]
    ref.assert_matches(ds, ref.prepare([(f, "amazon-json")], user_min=2, item_min=2))
    # A user and an item both below the bar in the same round go together (counts taken at the round start).
    rows2 = rows[6:] + [("y", "p"), ("x1", "r")]
    f2 = write(tmp_path / "r2.json", [rev(u, i, k) for k, (u, i) in enumerate(rows2)])
    ds2 = slmrec.prepare(f2, tmp_path / "ds2", user_min=2, item_min=2)
    assert ds2.stats["kcore_dropped_per_round"] == [2] and ds2.num_interactions == 4


def test_kcore_defaults_are_5_and_5(tmp_path):
    # 5 users x 5 items complete: a 5-core; one extra user with 4 items goes, then nothing else.
    lines = [rev(f"u{u}", f"i{i}", u * 10 + i) for u in range(5) for i in range(5)]
    lines += [rev("short", f"i{i}", 100 + i) for i in range(4)]
    f = write(tmp_path / "r.json", lines)
    ds = slmrec.prepare(f, tmp_path / "ds")
    assert ds.stats["recipe"] == {"name": "kcore", "min_rating": None, "user_min": 5, "item_min": 5}
    assert (ds.num_users, ds.num_items, ds.num_interactions) == (5, 5, 25)
    assert ds.stats["kcore_dropped_per_round"] == [4]
    with pytest.raises(slmrec.EmptyDatasetError):
        slmrec.prepare(f, tmp_path / "ds6", user_min=6)
    assert not (tmp_path / "ds6").exists()


def test_min_rating_drops_missing_ratings(tmp_path):
    f = write(
        tmp_path / "r.json",
        [
            rev("U", "a", 1, 5.0),
            rev("U", "b", 2, None),
            rev("U", "c", 3, 3.5),
            rev("U", "d", 4, 4.0),
            json.dumps({"reviewerID": "U", "asin": "e", "unixReviewTime": 5, "overall": None}),
        ],
    )
    ds = slmrec.prepare(f, tmp_path / "ds", min_rating=4, user_min=1, item_min=1)
    assert raw_seq(ds, 0) == ["a", "d"] and ds.stats["dropped_by_rating"] == 3
    dn = slmrec.prepare(f, tmp_path / "none", recipe="none")
    assert np.isnan(dn.ratings).sum() == 2
    assert dn.to_polars()["rating"].null_count() == 2  # NaN is null in the frame and the parquet file
    assert pl.read_parquet(tmp_path / "none" / "interactions.parquet")["rating"].null_count() == 2


def test_slmrec_paper_recipe_counts_duplicates_in_the_first_user_pass(tmp_path):
    lines = []
    # 20 "big" users x 5 items -> every item has 20 rows; "dup" has 5 rows but only 3 distinct items.
    lines += [rev(f"u{u:02d}", f"i{i}", u * 10 + i) for u in range(20) for i in range(5)]
    lines += [rev("dup", "i0", 1), rev("dup", "i0", 2), rev("dup", "i1", 3), rev("dup", "i1", 4), rev("dup", "i2", 5)]
    lines += [rev("low", f"i{i}", i, 2.0) for i in range(5)]  # rating < 3: dropped first
    lines += [rev("rare", "j", 1)] + [rev("rare", f"i{i}", 2 + i) for i in range(4)]  # item j has 1 row
    f = write(tmp_path / "r.json", lines)
    ds = slmrec.prepare(f, tmp_path / "ds", recipe="slmrec-paper")
    s = ds.stats
    assert s["recipe"] == {"name": "slmrec-paper", "min_rating": 3.0, "user_min": 5, "item_min": 20}
    assert s["dropped_by_rating"] == 5
    assert s["dropped_by_user_filter"] == 0  # dup has 5 rows (duplicates counted)
    assert s["dropped_by_item_filter"] == 1  # item j
    assert s["duplicates_dropped"] == 2
    assert s["dropped_short_users"] == 3 + 4  # dup (3 left) and rare (4 left)
    assert s["kcore_rounds"] == 0 and s["kcore_dropped"] == 0
    assert ds.num_users == 20 and ds.num_interactions == 100
    ref.assert_matches(ds, ref.prepare([(f, "amazon-json")], recipe="slmrec-paper"))


def test_numeric_ids_sort_numerically(tmp_path):
    f = write(
        tmp_path / "r.json",
        [
            rev(u, i, k)
            for k, (u, i) in enumerate(
                [("10", "100"), ("9", "20"), ("100", "3"), ("07", "3"), ("7", "20"), ("-3", "100")]
            )
        ],
    )
    ds = slmrec.prepare(f, tmp_path / "ds", recipe="none")
    assert ds.user_table()["user"].to_list() == ["-3", "07", "7", "9", "10", "100"]  # "07" < "7" by bytes
    assert ds.item_table()["item"].to_list() == ["3", "20", "100"]
    ref.assert_matches(ds, ref.prepare([(f, "amazon-json")], recipe="none"))


def test_mixed_ids_sort_by_bytes(tmp_path):
    f = write(
        tmp_path / "r.json",
        [rev(u, i, k) for k, (u, i) in enumerate([("10", "b"), ("9", "B"), ("x", "é"), ("100", "z"), ("Z", "10")])],
    )
    ds = slmrec.prepare(f, tmp_path / "ds", recipe="none")
    assert ds.user_table()["user"].to_list() == ["10", "100", "9", "Z", "x"]
    assert ds.item_table()["item"].to_list() == ["10", "B", "b", "z", "é"]
    ref.assert_matches(ds, ref.prepare([(f, "amazon-json")], recipe="none"))


def test_numeric_order_is_decided_on_surviving_ids_only(tmp_path):
    # "x" is the only non-integer user and it is dropped by the k-core: the survivors sort numerically.
    lines = [rev(u, "a", k) for k, u in enumerate(["10", "9", "100"])] + [
        rev(u, "b", 10 + k) for k, u in enumerate(["10", "9", "100"])
    ]
    lines.append(rev("x", "a", 99))
    f = write(tmp_path / "r.json", lines)
    ds = slmrec.prepare(f, tmp_path / "ds", user_min=2, item_min=1)
    assert ds.user_table()["user"].to_list() == ["9", "10", "100"]


def test_numeric_ids_beyond_i128_still_sort_numerically(tmp_path):
    big = "1" + "0" * 40
    f = write(tmp_path / "r.json", [rev(u, "a", k) for k, u in enumerate(["2", big, "10"])])
    ds = slmrec.prepare(f, tmp_path / "ds", recipe="none")
    assert ds.user_table()["user"].to_list() == ["2", "10", big]


def test_padding_zero_is_never_an_item(tmp_path):
    f = write(tmp_path / "s.txt", ["0 0 5 3", "2 5 0"])
    ds = slmrec.prepare(f, tmp_path / "ds", recipe="none")
    assert ds.items.min() >= 1 and ds.items.max() == ds.num_items == 3
    assert ds.item_table()["item"].to_list() == ["0", "3", "5"]
    assert ds.user_table()["user"].to_list() == ["0", "2"]
    np.testing.assert_array_equal(ds.items, [1, 3, 2, 3, 1])
    np.testing.assert_array_equal(ds.timestamps, [0, 1, 2, 0, 1])
    ref.assert_matches(ds, ref.prepare([(f, "seq")], recipe="none"))


def test_several_files_are_one_stream_in_argument_order(tmp_path):
    a = write(tmp_path / "a.json", [rev("U", "x", 1, 1.0), rev("U", "y", 1, 1.0)])
    b = write(tmp_path / "b.json", [rev("U", "x", 1, 2.0), rev("U", "z", 1, 2.0)])
    ab = slmrec.prepare([a, b], tmp_path / "ab", **KEEP_ALL)
    ba = slmrec.prepare([b, a], tmp_path / "ba", **KEEP_ALL)
    assert raw_seq(ab, 0) == ["x", "y", "z"] and raw_seq(ba, 0) == ["x", "z", "y"]
    assert ab.ratings[0] == 1.0 and ba.ratings[0] == 2.0  # the duplicate from the first file wins
    assert [Path(f["path"]).name for f in ab.stats["inputs"]] == ["a.json", "b.json"]
    abn = slmrec.prepare([a, b], tmp_path / "abn", recipe="none")
    np.testing.assert_array_equal(abn.ratings, [1, 1, 2, 2])  # all on one day: x(a), y(a), x(b), z(b)
    assert raw_seq(abn, 0) == ["x", "y", "x", "z"]
    ref.assert_matches(abn, ref.prepare([(a, "amazon-json"), (b, "amazon-json")], recipe="none"))
    # Mixed formats in one run.
    c = write(tmp_path / "c.csv", ["w,U,3.0,0"])
    mix = slmrec.prepare([a, c], tmp_path / "mix", recipe="none")
    assert raw_seq(mix, 0) == ["w", "x", "y"]
    assert [f["format"] for f in mix.stats["inputs"]] == ["amazon-json", "ratings-csv"]


def test_multi_member_gzip(tmp_path):
    lines = [rev(f"u{k % 3}", f"i{k % 4}", k, float(k % 5 + 1)) for k in range(30)]
    plain = write(tmp_path / "p.json", lines)
    gz = tmp_path / "m.json.gz"
    gz.write_bytes(
        b"".join(gzip.compress(("\n".join(lines[a:b]) + "\n").encode()) for a, b in [(0, 7), (7, 8), (8, 30)])
    )
    # A member boundary in the middle of a line, too.
    text = plain.read_bytes()
    cut = gz.with_name("cut.json.gz")
    cut.write_bytes(gzip.compress(text[:100]) + gzip.compress(text[100:]))
    dp = slmrec.prepare(plain, tmp_path / "dp", recipe="none")
    for src in (gz, cut):
        dg = slmrec.prepare(src, tmp_path / f"d_{src.name}", recipe="none")
        assert dg.stats["inputs"][0]["gzip"] is True and dg.stats["lines_read"] == 30
        assert dg.to_polars().equals(dp.to_polars())
    # Gzip is told by the magic bytes, not the name.
    odd = tmp_path / "looks_plain.json"
    odd.write_bytes(gz.read_bytes())
    assert slmrec.prepare(odd, tmp_path / "odd", recipe="none").to_polars().equals(dp.to_polars())


@pytest.mark.parametrize(
    "fmt,lines",
    [
        ("amazon-json", [rev("U", "a", 2, 4.0), rev("U", "b", 1, 3.0), rev("V", "a", 1, 5.0)]),
        ("ratings-csv", ["a,U,4.0,2", "b,U,3.0,1", "a,V,5.0,1"]),
        ("seq", ["1 5 6", "2 6"]),
        (
            "recbole",
            ["user_id:token\titem_id:token\trating:float\ttimestamp:float", "U\ta\t4\t2", "U\tb\t3\t1", "V\ta\t5\t1"],
        ),
    ],
)
def test_crlf_bom_and_blank_lines(tmp_path, fmt, lines):
    ext = {"amazon-json": ".json", "ratings-csv": ".csv", "seq": ".txt", "recbole": ".inter"}[fmt]
    clean = write(tmp_path / f"clean{ext}", lines)
    d0 = slmrec.prepare(clean, tmp_path / "d0", recipe="none")
    assert d0.stats["inputs"][0]["format"] == fmt
    dirty = tmp_path / f"dirty{ext}"
    body = "\r\n".join([lines[0], "", "   "] + lines[1:] + ["\t"])  # CRLF, blank lines, no final newline
    dirty.write_bytes(b"\xef\xbb\xbf" + body.encode())
    d1 = slmrec.prepare(dirty, tmp_path / "d1", recipe="none")
    assert d1.to_polars().equals(d0.to_polars())
    assert d1.user_table().equals(d0.user_table()) and d1.item_table().equals(d0.item_table())
    assert d1.stats["blank_lines"] == 3 and d1.stats["lines_read"] == len(lines) + 3
    assert d1.stats["bad_lines"] == 0
    ref.assert_matches(d1, ref.prepare([(dirty, fmt)], recipe="none"))
    # Explicit format gives the same.
    d2 = slmrec.prepare(dirty, tmp_path / "d2", recipe="none", format=fmt)
    assert d2.to_polars().equals(d0.to_polars())


def test_long_lines_cross_the_reader_chunks(tmp_path):
    # Lines far longer than the reader's 1 MiB chunks, mixed with short ones.
    lines = [
        rev("U", "a", 1, reviewText="x" * (3 << 20)),
        rev("U", "b", 2),
        rev("V", "a", 3, reviewText="é" * (1 << 20)),
    ]
    f = write(tmp_path / "long.json", lines)
    ds = slmrec.prepare(f, tmp_path / "ds", recipe="none")
    assert ds.stats["lines_read"] == 3 and ds.num_interactions == 3
    ref.assert_matches(ds, ref.prepare([(f, "amazon-json")], recipe="none"))


def test_more_rows_than_one_parquet_row_group(tmp_path):
    # 1.2M interactions: more than the writer's 1<<20-row groups, with a user spanning the boundary.
    lens = [700_000, 3, 500_000]
    f = tmp_path / "big.txt"
    f.write_text("".join(f"{u + 1} " + " ".join(map(str, range(1, n + 1))) + "\n" for u, n in enumerate(lens)))
    ds = slmrec.prepare(f, tmp_path / "ds", recipe="none")
    np.testing.assert_array_equal(ds.lengths, lens)
    df = pl.read_parquet(tmp_path / "ds" / "interactions.parquet")
    assert ds.to_polars().equals(df)
    assert df["user_id"].value_counts(sort=True).sort("user_id")["count"].to_list() == lens
    back = slmrec.load(tmp_path / "ds")
    np.testing.assert_array_equal(back.offsets, ds.offsets)
    np.testing.assert_array_equal(back.items, ds.items)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize(
    "recipe",
    [
        {"recipe": "none"},
        {"recipe": "kcore", "user_min": 2, "item_min": 3},
        {"recipe": "kcore", "min_rating": 3},
        {"recipe": "slmrec-paper", "user_min": 3, "item_min": 4},
        {"recipe": "kcore", "user_min": 3, "item_min": 2},
    ],
    ids=["none", "k2-3", "min3", "paper", "k3-2"],
)
def test_random_small_datasets_match_reference(tmp_path, seed, recipe):
    rnd = random.Random(seed)
    users = [f"u{k}" for k in range(rnd.randint(3, 25))] + (["7", "12"] if seed % 3 else [])
    items = [str(k) for k in range(rnd.randint(2, 15))] + (["B0x"] if seed % 2 else [])
    lines = []
    for _ in range(rnd.randint(20, 300)):
        rating = rnd.choice([1.0, 2.0, 3.0, 4.0, 5.0, 4.5, None])
        lines.append(rev(rnd.choice(users), rnd.choice(items), 86400 * rnd.randint(0, 6), rating))
        if rnd.random() < 0.15:
            lines.append(lines[-1])  # an exact duplicate line
    f = write(tmp_path / "r.json", lines)
    expect = ref.prepare([(f, "amazon-json")], **recipe)
    if expect.stats["interactions"] == 0:
        with pytest.raises(slmrec.EmptyDatasetError):
            slmrec.prepare(f, tmp_path / "ds", **recipe)
        return
    ds = slmrec.prepare(f, tmp_path / "ds", **recipe)
    ref.assert_matches(ds, expect)
    if recipe["recipe"] == "kcore" and expect.stats["interactions"]:
        um, im = recipe.get("user_min", 5), recipe.get("item_min", 5)
        assert ds.lengths.min() >= um and np.bincount(ds.items)[1:].min() >= im


def test_stats_keys_and_identities(tmp_path):
    f = write(tmp_path / "r.json", [rev("U", "a", 1), rev("U", "a", 2), rev("V", "a", 1), rev("V", "b", 3)])
    ds = slmrec.prepare(f, tmp_path / "ds", **KEEP_ALL)
    s = ds.stats
    required = {
        "lines_read",
        "data_lines",
        "blank_lines",
        "header_lines",
        "bad_lines",
        "bad_line_reasons",
        "records",
        "dropped_by_rating",
        "dropped_by_user_filter",
        "dropped_by_item_filter",
        "duplicates_dropped",
        "kcore_rounds",
        "kcore_dropped_per_round",
        "kcore_dropped",
        "dropped_short_users",
        "interactions",
        "users",
        "items",
        "seq_len",
        "sparsity",
        "recipe",
        "inputs",
        "elapsed_seconds",
        "version",
        "timestamps_truncated",
    }
    assert required <= set(s)
    assert s["seq_len"] == {"min": 1, "max": 2, "mean": 1.5, "median": 1.5}
    assert s["sparsity"] == pytest.approx(1 - 3 / 4)
    assert s["version"] == slmrec.__version__
    assert set(s["inputs"][0]) >= {"path", "format", "gzip", "bytes", "lines", "records", "bad_lines"}
    assert s["inputs"][0]["bytes"] == f.stat().st_size
    assert (s["users"], s["items"], s["interactions"]) == (ds.num_users, ds.num_items, ds.num_interactions)
    assert s["elapsed_seconds"] >= 0
    phases = s["phase_seconds"]
    assert set(phases) == {"read", "recipe", "ids_and_order", "write"} and min(phases.values()) >= 0
    assert sum(phases.values()) <= s["elapsed_seconds"] * 1.01 + 1e-3
    ref.assert_reconciled(s)
    assert json.loads((tmp_path / "ds" / "stats.json").read_text()) == s


def test_sequence_lengths_and_views(tmp_path):
    f = write(tmp_path / "s.txt", ["1 4 5 6", "2 6", "3 5 4"])
    ds = slmrec.prepare(f, tmp_path / "ds", recipe="none")
    np.testing.assert_array_equal(ds.lengths, [3, 1, 2])
    np.testing.assert_array_equal(ds.offsets, [0, 3, 4, 6])
    np.testing.assert_array_equal(ds.sequence(2), [2, 1])
    assert ds.sequence(0).base is not None  # a view
    with pytest.raises(IndexError):
        ds.sequence(3)
    with pytest.raises(IndexError):
        ds.sequence(-1)


def test_arrays_are_zero_copy_from_prepare_and_load(tmp_path):
    f = write(tmp_path / "s.txt", ["1 4 5 6", "2 6"])
    for ds in (slmrec.prepare(f, tmp_path / "ds", recipe="none"), slmrec.load(tmp_path / "ds")):
        for name in ("offsets", "items", "timestamps", "ratings"):
            a = getattr(ds, name)
            assert a.flags.owndata is False, name
            assert type(a.base).__name__ == "PySliceContainer", (name, type(a.base))


def _siblings(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir())


def test_atomic_write_force_and_output_exists(tmp_path):
    (tmp_path / "in").mkdir()
    f = write(tmp_path / "in" / "s.txt", ["1 4 5 6", "2 6"])
    out_parent = tmp_path / "out"
    out = out_parent / "ds"
    slmrec.prepare(f, out, recipe="none")
    assert _siblings(out_parent) == ["ds"]  # no hidden temp dir beside it
    (out / "marker").write_text("old")
    with pytest.raises(slmrec.OutputExistsError) as e:
        slmrec.prepare(f, out, recipe="none")
    assert isinstance(e.value, FileExistsError) and str(out) in str(e.value)
    assert (out / "marker").exists() and _siblings(out_parent) == ["ds"]
    ds = slmrec.prepare(f, out, recipe="none", force=True)
    assert not (out / "marker").exists() and ds.num_interactions == 4
    assert _siblings(out_parent) == ["ds"]
    assert slmrec.load(out).num_interactions == 4
    # A failed run (bad input) leaves no directory and no temp dir.
    bad = write(tmp_path / "in" / "bad.json", ["{not json"])
    with pytest.raises(slmrec.DataFormatError):
        slmrec.prepare(bad, out_parent / "never")
    assert _siblings(out_parent) == ["ds"]
    # A failed run with force leaves the old directory alone.
    with pytest.raises(slmrec.DataFormatError):
        slmrec.prepare(bad, out, force=True)
    assert slmrec.load(out).num_interactions == 4 and _siblings(out_parent) == ["ds"]
    # An existing file in the way is an error, even with force.
    (out_parent / "file").write_text("x")
    for force in (False, True):
        with pytest.raises(slmrec.OutputExistsError):
            slmrec.prepare(f, out_parent / "file", recipe="none", force=force)
    assert (out_parent / "file").read_text() == "x"
    # Missing parents are created.
    deep = tmp_path / "a" / "b" / "c"
    slmrec.prepare(f, deep, recipe="none")
    assert _siblings(deep.parent) == ["c"]


def test_killed_run_leaves_no_half_directory(tmp_path, shared_data):
    # Kill a run that reads the Beauty sequences 8 times at two moments: the output is either absent or
    # complete and loadable.
    src = shared_data / "seq" / "Beauty.txt"
    code = "import sys, slmrec; slmrec.prepare([sys.argv[1]] * 8, sys.argv[2], recipe='none')"
    for k, delay in enumerate([0.4, 1.0]):
        out = tmp_path / f"ds{k}"
        p = subprocess.Popen([sys.executable, "-c", code, str(src), str(out)], stdout=subprocess.PIPE)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        if out.exists():
            ds = slmrec.load(out)
            assert ds.num_interactions == 8 * 198502


def test_threads_do_not_change_the_output(tmp_path, shared_data):
    src = shared_data / "amazon18" / "All_Beauty_5.json.gz"
    d1 = slmrec.prepare(src, tmp_path / "t1", threads=1, user_min=2, item_min=2)
    d2 = slmrec.prepare(src, tmp_path / "t2", threads=2, user_min=2, item_min=2)
    for a in ("offsets", "items", "timestamps", "ratings"):
        np.testing.assert_array_equal(getattr(d1, a), getattr(d2, a))
    for name in ("interactions.parquet", "users.parquet", "items.parquet"):
        assert (tmp_path / "t1" / name).read_bytes() == (tmp_path / "t2" / name).read_bytes(), name
    volatile = {"elapsed_seconds", "phase_seconds", "threads"}
    assert {k: v for k, v in d1.stats.items() if k not in volatile} == {
        k: v for k, v in d2.stats.items() if k not in volatile
    }
    with pytest.raises(ValueError):
        slmrec.prepare(src, tmp_path / "t0", threads=0)


def test_invalid_arguments_are_value_errors(tmp_path):
    f = write(tmp_path / "s.txt", ["1 4 5 6"])
    for kwargs in ({"recipe": "fancy"}, {"format": "xml"}, {"on_bad_line": "ignore"}):
        with pytest.raises(ValueError):
            slmrec.prepare(f, tmp_path / "x", **kwargs)
    assert not (tmp_path / "x").exists()


def test_json_edge_cases_that_are_valid(tmp_path):
    # Escaped keys, wanted key names nested inside other values, repeated unwanted keys, unicode escapes and
    # surrogate pairs, odd whitespace, exponents, extreme integer timestamps, raw tabs in strings.
    lines = [
        r'{"reviewer\u0049D": "U1", "asin": "a", "unixReviewTime": 1, "overall": 5e0}',
        r'{"style": {"asin": "nested", "reviewerID": "X"}, "reviewerID": "U1", "asin": "b", "unixReviewTime": 2, "overall": -0.0}',  # noqa: E501
        r'  {  "reviewerID" :"U\u00e9\ud83d\ude00" ,"asin":"c\"q\\" , "unixReviewTime" : 3 , "overall":4.25 }  ',
        r'{"vote": "1,917", "vote": "2", "reviewerID": "U2", "asin": "a", "unixReviewTime": 1E1, "image": [], "x": {}}',
        '{"reviewerID": "tab\there", "asin": "a", "unixReviewTime": -5}',
        r'{"reviewerID": "U3", "asin": "d", "unixReviewTime": 9223372036854775807, "overall": 1}',
        r'{"reviewerID": "U3", "asin": "e", "unixReviewTime": -9223372036854775808, "overall": 1}',
        r'{"reviewerID": "U3", "asin": "f", "unixReviewTime": 12.0, "overall": 3.3333333333333333333}',
        r'{"reviewerID": "U3", "asin": "g", "unixReviewTime": 1.5e3, "overall": null}',
    ]
    f = write(tmp_path / "e.json", lines)
    ds = slmrec.prepare(f, tmp_path / "ds", recipe="none")
    assert ds.stats["bad_lines"] == 0 and ds.num_interactions == len(lines)
    assert ds.user_table()["user"].to_list() == ["U1", "U2", "U3", "U\u00e9\U0001f600", "tab\there"]
    assert ds.item_table()["item"].to_list() == ["a", "b", 'c"q\\', "d", "e", "f", "g"]
    ref.assert_matches(ds, ref.prepare([(f, "amazon-json")], recipe="none"))


def test_racing_writers_one_wins(tmp_path, shared_data):
    import threading

    src = shared_data / "seq" / "LastFM.txt"
    out = tmp_path / "race"
    results = []

    def go():
        try:
            slmrec.prepare(src, out, recipe="none")
            results.append("ok")
        except slmrec.OutputExistsError:
            results.append("exists")

    threads = [threading.Thread(target=go) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["exists", "exists", "ok"]
    assert _siblings(tmp_path) == ["race"]
    assert slmrec.load(out).num_interactions == 52551


def test_meta_with_bom_and_crlf(tmp_path):
    f = write(tmp_path / "r.json", [rev("U", "a", 1)])
    meta = tmp_path / "meta.json"
    meta.write_bytes(b"\xef\xbb\xbf" + json.dumps({"asin": "a", "title": "T &amp; U"}).encode() + b"\r\n")
    ds = slmrec.prepare(f, tmp_path / "ds", recipe="none", meta=meta)
    assert ds.item_table()["title"].to_list() == ["T & U"]


def test_meta_entities_crlf_and_first_row_wins(tmp_path):
    f = write(tmp_path / "r.json", [rev("U", "a", 1), rev("U", "b", 2), rev("U", "c", 3)])
    meta = tmp_path / "meta_x.json.gz"
    rows = [
        {
            "asin": "a",
            "title": " Tom &amp; Jerry&#39;s &lt;b&gt; &#x27;x&#x27; &quot;q&quot; ",
            "brand": "AT&amp;T",
            "main_cat": "Toys &amp; Games",
            "image": ["u"],
        },
        {"asin": "b", "title": "", "brand": "   ", "imageURL": []},  # blank values are missing values
        {"asin": "a", "title": "duplicate row loses"},
        {"asin": "zz", "title": "not reviewed"},
    ]
    meta.write_bytes(gzip.compress("".join(json.dumps(r) + "\r\n" for r in rows).encode()))
    ds = slmrec.prepare(f, tmp_path / "ds", recipe="none", meta=meta)
    t = ds.item_table()
    assert t.columns == ["item_id", "item", "title", "brand", "main_cat"]
    assert t.row(0) == (1, "a", "Tom & Jerry's <b> 'x' \"q\"", "AT&T", "Toys & Games")
    assert t.row(1) == (2, "b", None, None, None) and t.row(2) == (3, "c", None, None, None)
    m = ds.stats["meta"]
    assert (m["lines"], m["duplicate_rows"], m["items"], m["items_with_meta"]) == (4, 1, 3, 1)
    assert slmrec.load(tmp_path / "ds").item_table().equals(t)


def test_recbole_files_with_different_headers_in_one_run(tmp_path):
    a = tmp_path / "a.inter"
    a.write_text("user_id:token\titem_id:token\trating:float\ttimestamp:float\nU\tx\t4\t10\nU\ty\t3\t5\nV\tx\t5\t7.5\n")
    b = tmp_path / "b.inter"  # other column order, an extra token_seq column, no rating
    b.write_text("item_id:token\ttimestamp:float\tuser_id:token\tcomment:token_seq\nz\t6\tU\thello world\nx\t1\tW\t\n")
    c = tmp_path / "c.inter"  # no timestamp: positions in the stream
    c.write_text("user_id:token\titem_id:token\nW\tq\nW\tr\n")
    ds = slmrec.prepare([a, b, c], tmp_path / "ds", recipe="none")
    s = ds.stats
    assert s["header_lines"] == 3 and s["timestamps_truncated"] == 1 and s["data_lines"] == 7
    assert raw_seq(ds, row_of(ds, "U")) == ["y", "z", "x"]
    np.testing.assert_array_equal(ds.timestamps[: ds.offsets[1]], [5, 6, 10])
    ref.assert_matches(ds, ref.prepare([(a, "recbole"), (b, "recbole"), (c, "recbole")], recipe="none"))
