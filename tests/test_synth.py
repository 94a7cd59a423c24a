"""The synthetic Amazon-2018-shaped generator: determinism, the real files' shape and quirks, preparation,
metadata, and learnable sequential structure (a bigram counter must beat popularity by a wide margin)."""

from __future__ import annotations

import collections
import datetime as dt
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

import slmrec
from slmrec import synth

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REAL_REVIEWS = DATA / "amazon18" / "All_Beauty_5.json.gz"
REAL_META = DATA / "amazon18" / "meta_Gift_Cards.json.gz"
ALWAYS = {"overall", "verified", "reviewTime", "reviewerID", "asin", "reviewerName", "unixReviewTime"}


def _strict(line: str):
    def refuse(name):
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(line, parse_constant=refuse)


def _lines(path: Path) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="ascii") as f:
        return f.read().splitlines()


@pytest.fixture(scope="module")
def reviews(tmp_path_factory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("synth") / "Synthetic_5.json.gz"
    return path, synth.generate_reviews(path, n_users=2000, seed=0)


@pytest.fixture(scope="module")
def records(reviews) -> list[dict]:
    return [_strict(line) for line in _lines(reviews[0])]


def test_byte_identical_for_a_seed_and_different_for_another(tmp_path):
    a = synth.generate_reviews(tmp_path / "a.json.gz", n_users=300, seed=7)
    b = synth.generate_reviews(tmp_path / "b.json.gz", n_users=300, seed=7)
    c = synth.generate_reviews(tmp_path / "c.json.gz", n_users=300, seed=8)
    plain = synth.generate_reviews(tmp_path / "a.json", n_users=300, seed=7)
    assert (tmp_path / "a.json.gz").read_bytes() == (tmp_path / "b.json.gz").read_bytes()
    assert (tmp_path / "a.json.gz").read_bytes() != (tmp_path / "c.json.gz").read_bytes()
    assert gzip.decompress((tmp_path / "a.json.gz").read_bytes()) == (tmp_path / "a.json").read_bytes()
    assert a["bytes"] == plain["bytes"] == (tmp_path / "a.json").stat().st_size
    assert a["file_bytes"] == (tmp_path / "a.json.gz").stat().st_size < a["bytes"]
    assert {k: v for k, v in a.items() if k != "path"} == {k: v for k, v in b.items() if k != "path"}
    assert c["lines"] != a["lines"] or c["bytes"] != a["bytes"]
    assert not list(tmp_path.glob("*.tmp"))


def test_summary_counts_what_was_written(reviews, records):
    path, summary = reviews
    lines = _lines(path)
    assert summary["lines"] == len(lines)
    assert summary["duplicate_lines"] == len(lines) - len(set(lines)) > 0
    assert summary["reviews"] == len(set(lines))
    assert summary["users"] == len({r["reviewerID"] for r in records}) == 2000
    assert summary["items_reviewed"] == len({r["asin"] for r in records}) <= summary["items"] == 666
    assert summary["bytes"] == sum(len(line) + 1 for line in lines)
    assert summary["seed"] == 0 and summary["text"] is True


@pytest.mark.skipif(not REAL_REVIEWS.exists(), reason=f"real Amazon 2018 file absent: {REAL_REVIEWS}")
def test_field_set_and_key_order_match_the_real_file(records):
    real = collections.Counter(tuple(_strict(line)) for line in _lines(REAL_REVIEWS))
    ours = collections.Counter(tuple(r) for r in records)
    # The commonest layout is the same, and every layout of ours is the order of some real line, less
    # optional keys (the real file has two orders: overall-first and an older reviewerID-first one).
    assert ours.most_common(1)[0][0] == real.most_common(1)[0][0]

    def is_ordered_subset(keys, of):
        it = iter(of)
        return all(k in it for k in keys)

    for keys in ours:
        assert ALWAYS <= set(keys), keys
        assert any(is_ordered_subset(keys, r) for r in real), keys
    # All optional keys and both orders occur.
    assert set().union(*ours) == set().union(*real)
    assert {keys[0] for keys in ours} == {keys[0] for keys in real} == {"overall", "image", "reviewerID"}


def test_values_look_like_the_real_ones(records):
    for r in records:
        assert r["overall"] in (1.0, 2.0, 3.0, 4.0, 5.0) and isinstance(r["overall"], float)
        assert isinstance(r["verified"], bool)
        assert len(r["reviewerID"]) == 14 and r["reviewerID"][0] == "A" and r["reviewerID"].isalnum()
        assert len(r["asin"]) == 10 and r["asin"].startswith("B0") and r["asin"].isalnum()
        ts = r["unixReviewTime"]
        assert isinstance(ts, int) and ts % 86400 == 0
        day = dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc)
        assert r["reviewTime"] == f"{day.month:02d} {day.day}, {day.year}"
        assert 2000 <= day.year <= 2018
        for key, value in r.get("style", {}).items():
            assert key.endswith(":") and value.startswith(" ")
        if "vote" in r:
            assert isinstance(r["vote"], str) and int(r["vote"].replace(",", "")) >= 2
        if "image" in r:
            assert r["image"] and all(u.startswith("https://images-na.ssl-images-amazon.com/") for u in r["image"])
    # Optional parts present at sensible rates, votes with a thousands separator, escapes in texts.
    n = len(records)
    assert 0.5 < sum("style" in r for r in records) / n < 0.9
    assert 0.03 < sum("vote" in r for r in records) / n < 0.2
    assert 0.005 < sum("image" in r for r in records) / n < 0.05
    assert any("," in r.get("vote", "") for r in records)
    texts = [r["reviewText"] for r in records if "reviewText" in r]
    assert any("\n" in t for t in texts) and any('"' in t for t in texts) and any("\u2019" in t for t in texts)
    # Mostly short texts, a long tail.
    lengths = np.array([len(t) for t in texts])
    assert 60 < np.median(lengths) < 200
    assert np.percentile(lengths, 99) > 1000
    assert (lengths > 1000).mean() < 0.05
    # Ratings skewed to 5, all values present.
    stars = collections.Counter(r["overall"] for r in records)
    assert stars[5.0] > 0.6 * n and all(stars[s] > 0 for s in (1.0, 2.0, 3.0, 4.0))


def test_layout_quirks(reviews, records):
    lines = _lines(reviews[0])
    # Grouped by asin (each asin one contiguous run, asins ascending), newest first, so not in time order.
    asins = [r["asin"] for r in records]
    runs = [a for i, a in enumerate(asins) if i == 0 or asins[i - 1] != a]
    assert len(runs) == len(set(runs)) and runs == sorted(runs)
    ts = np.array([r["unixReviewTime"] for r in records])
    assert (np.diff(ts) < 0).mean() > 0.5
    # Duplicate lines are whole asin blocks written twice in a row.
    first_seen: dict[str, int] = {}
    for i, line in enumerate(lines):
        first_seen.setdefault(line, i)
    dup = [i for i, line in enumerate(lines) if first_seen[line] != i]
    assert dup
    for i in dup:
        assert asins[first_seen[lines[i]]] == asins[i]
    dup_asins = {asins[i] for i in dup}
    assert all(asins.count(a) == 2 * sum(1 for i in dup if asins[i] == a) for a in dup_asins)
    # Same-day ties within a user.
    per_user = collections.defaultdict(list)
    for r in set(lines):
        rec = json.loads(r)
        per_user[rec["reviewerID"]].append(rec["unixReviewTime"])
    ties = sum(len(v) - len(set(v)) for v in per_user.values())
    assert ties > 0.03 * len(set(lines))


def test_prepare_reconciles_and_keeps_most_users(reviews):
    path, summary = reviews
    ds = slmrec.prepare(path, path.parent / "kcore", force=True)
    s = ds.stats
    assert s["data_lines"] == s["records"] == summary["lines"]
    assert s["duplicates_dropped"] >= summary["duplicate_lines"]
    dropped = sum(
        s[k]
        for k in (
            "duplicates_dropped",
            "kcore_dropped",
            "dropped_by_rating",
            "dropped_by_user_filter",
            "dropped_by_item_filter",
            "dropped_short_users",
        )
    )
    assert s["records"] == ds.num_interactions + dropped
    assert ds.num_users >= 0.8 * summary["users"]
    assert ds.lengths.min() >= 5 and np.median(ds.lengths) >= 6
    assert set(np.unique(ds.ratings).tolist()) == {1.0, 2.0, 3.0, 4.0, 5.0}
    # Timestamps increase along each user's sequence (same-day ties kept).
    rows = np.repeat(np.arange(ds.num_users), ds.lengths)
    same = rows[1:] == rows[:-1]
    assert (np.diff(ds.timestamps)[same] >= 0).all() and (np.diff(ds.timestamps)[same] == 0).any()
    # Popularity is heavy-tailed: the top 10% of items hold a large share of interactions.
    counts = np.sort(np.bincount(ds.items)[1:])[::-1]
    assert counts[: len(counts) // 10].sum() > 0.3 * counts.sum()


def test_text_false_gives_the_same_interactions_in_fewer_bytes(tmp_path):
    full = synth.generate_reviews(tmp_path / "t.json.gz", n_users=400, seed=3)
    short = synth.generate_reviews(tmp_path / "s.json.gz", n_users=400, seed=3, text=False)
    assert short["lines"] == full["lines"] and short["bytes"] < 0.6 * full["bytes"]
    a = slmrec.prepare(tmp_path / "t.json.gz", tmp_path / "a")
    b = slmrec.prepare(tmp_path / "s.json.gz", tmp_path / "b")
    for name in ("offsets", "items", "timestamps", "ratings"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_interactions_are_the_reviews_the_file_holds(reviews, records):
    """``synth.interactions`` gives, for the same arguments, exactly the reviews ``generate_reviews`` wrote
    (each once: the file repeats some asin blocks), in user-major time order or shuffled."""
    inter = synth.interactions(2000, seed=0)
    items = np.array(inter["item_ids"])[inter["item"]]
    got = collections.Counter(zip(items.tolist(), inter["rating"].tolist(), (inter["day"] * 86_400).tolist()))
    lines = {json.dumps(r, sort_keys=True): r for r in records}.values()  # duplicate lines once
    want = collections.Counter((r["asin"], int(r["overall"]), r["unixReviewTime"]) for r in lines)
    assert got == want
    assert len(set(inter["user"].tolist())) == reviews[1]["users"] == len(inter["user_ids"])
    assert np.all(np.diff(inter["user"]) >= 0)
    same = inter["user"][1:] == inter["user"][:-1]
    assert np.all(np.diff(inter["day"])[same] >= 0)
    mixed = synth.interactions(2000, seed=0, shuffle=True)
    assert mixed["user_ids"] == inter["user_ids"] and mixed["item_ids"] == inter["item_ids"]
    assert not np.array_equal(mixed["user"], inter["user"])
    rows = [sorted(zip(*(d[k].tolist() for k in ("user", "item", "rating", "day")))) for d in (mixed, inter)]
    assert rows[0] == rows[1]
    with pytest.raises(ValueError):
        synth.interactions(0)


def _hit_rates(ds: slmrec.Dataset, k: int = 10) -> tuple[float, float]:
    """HR@k on the leave-one-out test item of: most popular items; previous item -> next item counts
    (ties and missing counts filled by popularity). Both learn from everything but the test items."""
    items = ds.items.astype(np.int64)
    test = ds.offsets[1:] - 1
    known = np.ones(len(items), dtype=bool)
    known[test] = False
    pop = np.bincount(items[known], minlength=ds.num_items + 1)
    pop[0] = -1
    by_pop = np.argsort(-pop, kind="stable")
    top_pop = set(by_pop[:k].tolist())

    row = np.repeat(np.arange(ds.num_users), ds.lengths)
    pair = (row[1:] == row[:-1]) & known[1:]
    bigram = collections.defaultdict(collections.Counter)
    for a, b in zip(items[:-1][pair].tolist(), items[1:][pair].tolist()):
        bigram[a][b] += 1

    hits_pop = hits_bigram = 0
    for t in test.tolist():
        target, prev = int(items[t]), int(items[t - 1])
        hits_pop += target in top_pop
        ranked = sorted(bigram[prev].items(), key=lambda kv: (-kv[1], -pop[kv[0]], kv[0]))
        guess = [i for i, _ in ranked[:k]]
        for i in by_pop.tolist():
            if len(guess) == k:
                break
            if i not in guess:
                guess.append(i)
        hits_bigram += target in guess
    return hits_pop / len(test), hits_bigram / len(test)


def test_next_item_is_learnable(reviews):
    path, _ = reviews
    ds = slmrec.prepare(path, path.parent / "learn", force=True)
    hr_pop, hr_bigram = _hit_rates(ds)
    assert 0.01 < hr_pop < 0.3  # popularity carries some signal, far from all of it
    assert hr_bigram >= 0.5
    assert hr_bigram >= 3 * hr_pop


def test_meta_gives_titles(tmp_path, reviews):
    path, summary = reviews
    meta_path = tmp_path / "meta_Synthetic.json.gz"
    meta = synth.generate_meta(meta_path, n_items=summary["items"], seed=0)
    again = synth.generate_meta(tmp_path / "again.json.gz", n_items=summary["items"], seed=0)
    assert meta_path.read_bytes() == (tmp_path / "again.json.gz").read_bytes()
    assert {k: v for k, v in meta.items() if k != "path"} == {k: v for k, v in again.items() if k != "path"}

    lines = _lines(meta_path)
    rows = [_strict(line) for line in lines]
    assert meta["lines"] == len(lines) and meta["items"] == len({r["asin"] for r in rows}) == summary["items"]
    assert meta["duplicate_lines"] == len(lines) - len(set(lines)) > 0
    assert {type(r["rank"]) for r in rows} == {str, list}
    assert any("&amp;" in r["title"] for r in rows)
    if REAL_META.exists():
        real_keys = tuple(_strict(_lines(REAL_META)[0]))
        assert all(tuple(r) == real_keys for r in rows)

    ds = slmrec.prepare(path, tmp_path / "with_meta", meta=[meta_path])
    table = ds.item_table()
    assert table.height == ds.num_items
    assert table["title"].null_count() == 0 and table["brand"].null_count() == 0
    titles = table["title"].to_list()
    assert not any("&amp;" in t for t in titles) and any(" & " in t for t in titles)
    # Titles carry the hidden structure: items that follow each other share a brand more often than not.
    brand = dict(zip(table["item_id"].to_list(), table["brand"].to_list()))
    seq = [ds.sequence(u) for u in range(ds.num_users)]
    same = [brand[int(a)] == brand[int(b)] for s in seq for a, b in zip(s[:-1], s[1:])]
    assert np.mean(same) > 0.5


def test_generate_to_size_reaches_the_target(tmp_path):
    target = 3 * 2**20
    s = synth.generate_to_size(tmp_path / "b.json", target, seed=1)
    assert target <= s["bytes"] == (tmp_path / "b.json").stat().st_size < 1.15 * target
    assert s["target_bytes"] == target


def test_bad_arguments():
    with pytest.raises(ValueError):
        synth.generate_reviews("x.json", n_users=0)
    with pytest.raises(ValueError):
        synth.generate_reviews("x.json", n_users=10, n_items=1)
    with pytest.raises(ValueError):
        synth.generate_meta("x.json", n_items=0)
    with pytest.raises(ValueError):
        synth.generate_to_size("x.json", 0)


def test_import_stays_light():
    import subprocess
    import sys

    code = "import sys, slmrec.synth; assert not {'torch', 'transformers', 'polars'} & set(sys.modules), sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
