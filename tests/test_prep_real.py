"""Golden comparisons of ``slmrec.prepare`` with the pure-Python reference on every real file in ../shared/data.

Covers: the four Amazon-2018 5-core files under kcore (default), kcore with min_rating=4, slmrec-paper and none;
the four as one multi-input run; the Amazon-2014 head file; the S3-Rec sequence files (README counts, ids kept);
MovieLens-100K as a RecBole .inter; a ratings CSV derived from a review file; the metadata join with both
meta_Gift_Cards schemas; and load()/to_polars() round trips. Every comparison is exact array equality.
"""

from __future__ import annotations

import gzip
import html
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import reference as ref
import slmrec

AMAZON18 = ["All_Beauty_5", "AMAZON_FASHION_5", "Appliances_5", "Gift_Cards_5"]
# README: lines and distinct users/items of each file (before any filtering).
AMAZON18_COUNTS = {
    "All_Beauty_5": (5269, 991, 85),
    "AMAZON_FASHION_5": (3176, 406, 31),
    "Appliances_5": (2277, 47, 48),
    "Gift_Cards_5": (2972, 458, 148),
}


@lru_cache(maxsize=None)
def _read(*inputs: tuple[str, str]) -> ref.Read:
    return ref.read_inputs(list(inputs))


def reference(inputs, **recipe) -> ref.Result:
    return ref.prepare_from(_read(*[(str(p), f) for p, f in inputs]), **recipe)


def az(data: Path, name: str) -> Path:
    return data / "amazon18" / f"{name}.json.gz"


@pytest.mark.parametrize("name", AMAZON18)
@pytest.mark.parametrize(
    "recipe",
    [
        {},
        {"recipe": "kcore", "min_rating": 4.0},
        {"recipe": "slmrec-paper"},
        {"recipe": "none"},
    ],
    ids=["kcore", "kcore-min4", "paper", "none"],
)
def test_amazon18_matches_reference(shared_data, tmp_path, name, recipe):
    path = az(shared_data, name)
    try:
        ds = slmrec.prepare(path, tmp_path / "ds", **recipe)
    except slmrec.EmptyDatasetError:
        # Allowed only when the reference also drops everything.
        assert ref.prepare_from(_read((str(path), "amazon-json")), **recipe).stats["interactions"] == 0
        return
    r = reference([(path, "amazon-json")], **recipe)
    ref.assert_matches(ds, r)
    lines, users, items = AMAZON18_COUNTS[name]
    s = ds.stats
    assert s["lines_read"] == s["data_lines"] == s["records"] == lines
    assert s["blank_lines"] == s["bad_lines"] == s["header_lines"] == 0
    assert s["inputs"] == [
        {
            "path": str(path),
            "format": "amazon-json",
            "gzip": True,
            "bytes": path.stat().st_size,
            "lines": lines,
            "records": lines,
            "bad_lines": 0,
            "columns": "reviewerID,asin,unixReviewTime,overall",
            "columns_by": "key",
        }
    ]
    assert s["recipe"]["name"] == recipe.get("recipe", "kcore")
    if recipe.get("recipe") == "none":
        assert (ds.num_users, ds.num_items, ds.num_interactions) == (users, items, lines)
    assert ds.items.min() >= 1 and ds.items.max() == ds.num_items


def test_amazon18_kcore_is_a_real_5_core(shared_data, tmp_path):
    ds = slmrec.prepare(az(shared_data, "All_Beauty_5"), tmp_path / "ds")
    assert ds.lengths.min() >= 5
    assert np.bincount(ds.items)[1:].min() >= 5
    # No (user, item) twice after dedup.
    pairs = np.repeat(np.arange(ds.num_users), ds.lengths).astype(np.int64) * (ds.num_items + 1) + ds.items
    assert len(np.unique(pairs)) == ds.num_interactions
    assert ds.stats["duplicates_dropped"] > 0  # the README's exact duplicate lines


def test_amazon18_all_four_as_one_stream(shared_data, tmp_path):
    paths = [az(shared_data, n) for n in AMAZON18]
    ds = slmrec.prepare(paths, tmp_path / "ds", user_min=2, item_min=2)
    r = reference([(p, "amazon-json") for p in paths], user_min=2, item_min=2)
    ref.assert_matches(ds, r)
    assert [f["path"] for f in ds.stats["inputs"]] == [str(p) for p in paths]
    assert ds.stats["lines_read"] == sum(c[0] for c in AMAZON18_COUNTS.values())
    ds_none = slmrec.prepare(paths, tmp_path / "none", recipe="none")
    ref.assert_matches(ds_none, reference([(p, "amazon-json") for p in paths], recipe="none"))


@pytest.mark.parametrize("recipe", [{"recipe": "none"}, {"recipe": "kcore", "user_min": 1, "item_min": 1}])
def test_amazon14_head(shared_data, tmp_path, recipe):
    path = shared_data / "amazon14" / "reviews_Musical_Instruments_5.head.json"
    ds = slmrec.prepare(path, tmp_path / "ds", **recipe)
    ref.assert_matches(ds, reference([(path, "amazon-json")], **recipe))
    assert ds.stats["lines_read"] == 50 and ds.stats["inputs"][0]["gzip"] is False
    assert ds.stats["inputs"][0]["format"] == "amazon-json"


@pytest.mark.parametrize("name,counts", [("Beauty", (22363, 12101, 198502)), ("LastFM", (1090, 3646, 52551))])
def test_seq_files_keep_their_ids(shared_data, tmp_path, name, counts):
    path = shared_data / "seq" / f"{name}.txt"
    ds = slmrec.prepare(path, tmp_path / "ds", recipe="none")
    assert (ds.num_users, ds.num_items, ds.num_interactions) == counts
    assert ds.stats["inputs"][0]["format"] == "seq"
    ref.assert_matches(ds, reference([(path, "seq")], recipe="none"))
    # The ids are 1..n integers already: numeric ordering keeps them, line by line.
    assert ds.user_table()["user"].to_list() == [str(i) for i in range(1, counts[0] + 1)]
    assert ds.item_table()["item"].to_list() == [str(i) for i in range(1, counts[1] + 1)]
    lines = path.read_text().split("\n")
    for line in [lines[0], lines[1], lines[len(lines) // 2], [x for x in lines if x.strip()][-1]]:
        toks = [int(t) for t in line.split()]
        row = toks[0] - 1
        np.testing.assert_array_equal(ds.sequence(row), np.array(toks[1:], dtype=np.uint32))
        np.testing.assert_array_equal(ds.timestamps[ds.offsets[row] : ds.offsets[row + 1]], np.arange(len(toks) - 1))
    assert np.isnan(ds.ratings).all()


@pytest.mark.parametrize("recipe", [{"recipe": "none"}, {}], ids=["none", "kcore"])
def test_movielens_100k_inter(shared_data, tmp_path, recipe):
    path = shared_data / "movielens" / "ml-100k.inter"
    ds = slmrec.prepare(path, tmp_path / "ds", **recipe)
    ref.assert_matches(ds, reference([(path, "recbole")], **recipe))
    s = ds.stats
    assert s["header_lines"] == 1 and s["records"] == 100_000 and s["inputs"][0]["format"] == "recbole"
    if recipe:
        assert (ds.num_users, ds.num_items, ds.num_interactions) == (943, 1682, 100_000)
        # user ids are integers: numeric order, so user 1 is raw "1" and user 943 is raw "943".
        assert ds.user_table()["user"].to_list() == [str(i) for i in range(1, 944)]


def test_ratings_csv_derived_from_reviews(shared_data, tmp_path):
    src = az(shared_data, "All_Beauty_5")
    rows = [json.loads(line) for line in gzip.open(src, "rt")]
    csv = tmp_path / "All_Beauty.csv"
    csv.write_text("".join(f"{r['asin']},{r['reviewerID']},{r['overall']},{r['unixReviewTime']}\n" for r in rows))
    ds = slmrec.prepare(csv, tmp_path / "csv")
    assert ds.stats["inputs"][0]["format"] == "ratings-csv"
    ref.assert_matches(ds, reference([(csv, "ratings-csv")]))
    # Same records as the JSON file, so the same dataset.
    dj = slmrec.prepare(src, tmp_path / "json")
    for a in ("offsets", "items", "timestamps", "ratings"):
        np.testing.assert_array_equal(getattr(ds, a), getattr(dj, a))
    assert ds.item_table().equals(dj.item_table()) and ds.user_table().equals(dj.user_table())
    # Without the .csv extension, detection by content still says CSV.
    plain = tmp_path / "ratings_no_ext"
    plain.write_bytes(csv.read_bytes())
    ds2 = slmrec.prepare(plain, tmp_path / "plain")
    assert ds2.stats["inputs"][0]["format"] == "ratings-csv"
    np.testing.assert_array_equal(ds2.items, ds.items)


@pytest.mark.parametrize("meta_name", ["meta_Gift_Cards.json.gz", "meta_Gift_Cards.2020-08.json.gz"])
def test_meta_join_gift_cards(shared_data, tmp_path, meta_name):
    reviews, meta = az(shared_data, "Gift_Cards_5"), shared_data / "amazon18" / meta_name
    ds = slmrec.prepare(reviews, tmp_path / "ds", meta=meta, recipe="none")
    expect = ref.read_meta([meta])
    items = ds.item_table()
    assert items.columns == ["item_id", "item", "title", "brand", "main_cat"]
    assert items.height == ds.num_items == 148
    for row in items.iter_rows(named=True):
        m = expect.get(row["item"], {"title": None, "brand": None, "main_cat": None})
        assert (row["title"], row["brand"], row["main_cat"]) == (m["title"], m["brand"], m["main_cat"]), row
    assert not any("&amp;" in t or "&#39;" in t for t in items["title"].drop_nulls())
    with_meta = sum(1 for a in items["item"] if a in expect and any(expect[a].values()))
    assert ds.stats["meta"]["items_with_meta"] == with_meta > 0
    assert ds.stats["meta"]["lines"] == 1547 and ds.stats["meta"]["items"] == 1547
    # The arrays do not depend on the metadata.
    plain = slmrec.prepare(reviews, tmp_path / "plain", recipe="none")
    np.testing.assert_array_equal(plain.items, ds.items)
    # Duplicated metadata rows (the file given twice) duplicate nothing: the first row of an asin wins.
    dup = slmrec.prepare(reviews, tmp_path / "dup", meta=[meta, meta], recipe="none")
    assert dup.stats["meta"]["duplicate_rows"] == 1547 and dup.stats["meta"]["items"] == 1547
    assert dup.item_table().equals(items)
    assert dup.to_polars().equals(ds.to_polars())


def test_meta_both_schemas_agree(shared_data, tmp_path):
    reviews = az(shared_data, "Gift_Cards_5")
    a = slmrec.prepare(reviews, tmp_path / "a", meta=shared_data / "amazon18" / "meta_Gift_Cards.json.gz")
    b = slmrec.prepare(reviews, tmp_path / "b", meta=shared_data / "amazon18" / "meta_Gift_Cards.2020-08.json.gz")
    assert a.item_table().equals(b.item_table())


def test_meta_named_entities_in_real_titles_are_decoded(shared_data, tmp_path):
    meta = shared_data / "amazon18" / "meta_Gift_Cards.json.gz"
    rows = [json.loads(line) for line in gzip.open(meta, "rt")]
    picked = [r for r in rows if any(e in r.get("title", "") for e in ("&eacute;", "&ntilde;", "&rsquo;", "&ndash;"))]
    assert len(picked) >= 4
    reviews = tmp_path / "r.json"
    reviews.write_text(
        "".join(
            json.dumps({"reviewerID": "U", "asin": r["asin"], "unixReviewTime": k, "overall": 5.0}) + "\n"
            for k, r in enumerate(picked)
        )
    )
    ds = slmrec.prepare(reviews, tmp_path / "ds", meta=meta, recipe="none")
    got = dict(zip(ds.item_table()["item"], ds.item_table()["title"]))
    want = {r["asin"]: html.unescape(r["title"].strip()) for r in picked}
    assert got == want  # e.g. "Rainforest Café Gift Card", not "Rainforest Caf&eacute; Gift Card"


def test_load_round_trip_and_polars(shared_data, tmp_path):
    ds = slmrec.prepare(
        az(shared_data, "Gift_Cards_5"), tmp_path / "ds", meta=shared_data / "amazon18" / "meta_Gift_Cards.json.gz"
    )
    back = slmrec.load(tmp_path / "ds")
    for a in ("offsets", "items", "timestamps", "ratings"):
        x, y = getattr(ds, a), getattr(back, a)
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)
        assert not y.flags.owndata and type(y.base).__name__ == "PySliceContainer"
    assert (back.num_users, back.num_items) == (ds.num_users, ds.num_items)
    on_disk = json.loads((tmp_path / "ds" / "stats.json").read_text())
    assert ds.stats == on_disk
    # Floats compared approximately here; exact equality is test_load_returns_the_exact_stats_floats.
    floats = {"sparsity", "elapsed_seconds", "phase_seconds", "seq_len"}
    assert {k: v for k, v in back.stats.items() if k not in floats} == {
        k: v for k, v in on_disk.items() if k not in floats
    }
    assert back.stats["sparsity"] == pytest.approx(on_disk["sparsity"], rel=1e-15)
    assert back.item_table().equals(ds.item_table())
    df = pl.read_parquet(tmp_path / "ds" / "interactions.parquet")
    assert df.schema == pl.Schema(
        {"user_id": pl.UInt32, "item_id": pl.UInt32, "timestamp": pl.Int64, "rating": pl.Float32}
    )
    assert ds.to_polars().equals(df) and back.to_polars().equals(df)
    assert sorted(p.name for p in (tmp_path / "ds").iterdir()) == [
        "interactions.parquet",
        "items.parquet",
        "stats.json",
        "users.parquet",
    ]
    users = pl.read_parquet(tmp_path / "ds" / "users.parquet")
    assert users.columns == ["user_id", "user"] and users.height == ds.num_users


def test_ml100k_round_trip_with_nan_free_ratings(shared_data, tmp_path):
    ds = slmrec.prepare(shared_data / "movielens" / "ml-100k.inter", tmp_path / "ds", recipe="none")
    back = slmrec.load(tmp_path / "ds")
    np.testing.assert_array_equal(back.ratings, ds.ratings)
    assert not np.isnan(ds.ratings).any() and set(np.unique(ds.ratings)) == {1, 2, 3, 4, 5}
    assert ds.to_polars().equals(pl.read_parquet(tmp_path / "ds" / "interactions.parquet"))


def test_stats_format_names_match_the_format_option(shared_data, tmp_path):
    got = {}
    for name, path in [
        ("seq", shared_data / "seq" / "LastFM.txt"),
        ("recbole", shared_data / "movielens" / "ml-100k.inter"),
    ]:
        ds = slmrec.prepare(path, tmp_path / name, recipe="none")
        got[name] = ds.stats["inputs"][0]["format"]
    assert got == {"seq": "seq", "recbole": "recbole"}


def test_load_returns_the_exact_stats_floats(shared_data, tmp_path):
    slmrec.prepare(az(shared_data, "Gift_Cards_5"), tmp_path / "ds")
    on_disk = json.loads((tmp_path / "ds" / "stats.json").read_text())
    assert slmrec.load(tmp_path / "ds").stats["sparsity"] == on_disk["sparsity"]
