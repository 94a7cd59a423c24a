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


# ----- item 4: any valid Parquet with the right columns (polars defaults: zstd, nullable columns) -----


def json_file(path: Path) -> Path:
    """Amazon-style reviews, some without a rating, so the rating column has nulls."""
    rows = []
    for u in range(6):
        for k in range(6):
            d = {
                "reviewerID": f"U{u}",
                "asin": f"i{(u * 5 + k * 3) % 11}",
                "unixReviewTime": 1_400_000_000 + k * 86_400 + u,
            }
            if (u + k) % 4:
                d["overall"] = float((u + k) % 5 + 1)
            rows.append(json.dumps(d))
    path.write_text("\n".join(rows) + "\n")
    return path


def same(a, b):
    np.testing.assert_array_equal(a.offsets, b.offsets)
    np.testing.assert_array_equal(a.items, b.items)
    np.testing.assert_array_equal(a.timestamps, b.timestamps)
    np.testing.assert_array_equal(a.ratings, b.ratings)  # NaN == NaN here
    assert a.items.dtype == b.items.dtype == np.uint32
    assert a.stats == b.stats and a.fingerprint == b.fingerprint
    assert a.user_table().equals(b.user_table()) and a.item_table().equals(b.item_table())


@pytest.mark.parametrize("compression", ["zstd", "snappy", "lz4", "gzip", "uncompressed"])
def test_parquet_rewritten_by_polars_loads_identically(tmp_path, compression):
    pl = pytest.importorskip("polars")
    orig = slmrec.prepare(json_file(tmp_path / "in.json"), tmp_path / "ds", recipe="none")
    assert np.isnan(orig.ratings).any() and not np.isnan(orig.ratings).all()
    for name in ("interactions", "users", "items"):
        f = tmp_path / "ds" / f"{name}.parquet"
        pl.read_parquet(f).write_parquet(f, compression=compression)  # polars: nullable columns
    same(slmrec.load(tmp_path / "ds"), orig)


def test_parquet_safe_widenings_are_accepted(tmp_path):
    pl = pytest.importorskip("polars")
    orig = slmrec.prepare(json_file(tmp_path / "in.json"), tmp_path / "ds", recipe="none")
    f = tmp_path / "ds" / "interactions.parquet"
    df = pl.read_parquet(f)
    df.with_columns(
        pl.col("user_id").cast(pl.Int64), pl.col("item_id").cast(pl.Int32), pl.col("rating").cast(pl.Float64)
    ).select("rating", "timestamp", "item_id", "user_id").write_parquet(f)
    same(slmrec.load(tmp_path / "ds"), orig)


@pytest.mark.parametrize(
    "change, match",
    [
        (
            lambda pl: pl.col("item_id").cast(pl.String),
            r"interactions.parquet: column item_id has type String, expected UInt32",
        ),
        (
            lambda pl: pl.col("timestamp").cast(pl.Datetime("ms")),
            r"column timestamp has type INT64 \(Timestamp.*expected Int64",
        ),
        (
            lambda pl: pl.when(pl.col("item_id") == 3).then(None).otherwise(pl.col("item_id")).alias("item_id"),
            r"interactions.parquet:\d+: row \d+: column item_id is null",
        ),
        (
            lambda pl: (pl.col("item_id").cast(pl.Int64) - 2**40).alias("item_id"),
            r"row 0: column item_id holds -\d+, outside the range of UInt32",
        ),
        (lambda pl: pl.col("rating").cast(pl.String), r"column rating has type String, expected Float32"),
    ],
    ids=["string-ids", "datetime", "null-id", "out-of-range", "string-rating"],
)
def test_parquet_wrong_type_or_null_names_file_and_column(tmp_path, change, match):
    pl = pytest.importorskip("polars")
    slmrec.prepare(json_file(tmp_path / "in.json"), tmp_path / "ds", recipe="none")
    f = tmp_path / "ds" / "interactions.parquet"
    pl.read_parquet(f).with_columns(change(pl)).write_parquet(f)
    with pytest.raises(slmrec.DataFormatError, match=match):
        slmrec.load(tmp_path / "ds")


def test_parquet_missing_column_is_named(tmp_path):
    pl = pytest.importorskip("polars")
    slmrec.prepare(json_file(tmp_path / "in.json"), tmp_path / "ds", recipe="none")
    f = tmp_path / "ds" / "interactions.parquet"
    pl.read_parquet(f).drop("timestamp").write_parquet(f)
    with pytest.raises(slmrec.DataFormatError, match="no column timestamp"):
        slmrec.load(tmp_path / "ds")


# ----- item 9: load checks order, duplicates and agreement with stats.json -----


def rewrite(ds_dir: Path, fn):
    pl = pytest.importorskip("polars")
    f = ds_dir / "interactions.parquet"
    fn(pl, pl.read_parquet(f)).write_parquet(f)


def test_load_rejects_rows_shuffled_within_a_user(tmp_path):
    slmrec.prepare(json_file(tmp_path / "in.json"), tmp_path / "ds", recipe="none")
    # reverse the rows of each user (user order kept, so only the time order is broken)
    rewrite(
        tmp_path / "ds",
        lambda pl, df: df.with_row_index().sort(["user_id", "index"], descending=[False, True]).drop("index"),
    )
    with pytest.raises(slmrec.DataFormatError, match=r"interactions.parquet:2: row 1: timestamp \d+ is before"):
        slmrec.load(tmp_path / "ds")


def test_load_rejects_negated_timestamps(tmp_path):
    slmrec.prepare(json_file(tmp_path / "in.json"), tmp_path / "ds", recipe="none")
    rewrite(tmp_path / "ds", lambda pl, df: df.with_columns(-pl.col("timestamp")))
    with pytest.raises(slmrec.DataFormatError, match="row 1: timestamp -"):
        slmrec.load(tmp_path / "ds")


def test_load_rejects_duplicated_rows_under_a_dedup_recipe(tmp_path):
    slmrec.prepare(json_file(tmp_path / "in.json"), tmp_path / "ds", recipe="kcore", user_min=1, item_min=1)
    rewrite(tmp_path / "ds", lambda pl, df: pl.concat([df, df]).sort("user_id", "timestamp", maintain_order=True))
    with pytest.raises(slmrec.DataFormatError, match=r"row 1: item_id \d+ occurs twice for user_id 1"):
        slmrec.load(tmp_path / "ds")


def test_load_checks_the_counts_and_fingerprint_of_stats(tmp_path, ds):
    stats = json.loads((ds.path / "stats.json").read_text())
    for key in ("users", "items", "interactions"):
        bad = dict(stats, **{key: stats[key] + 1})
        (ds.path / "stats.json").write_text(json.dumps(bad))
        with pytest.raises(slmrec.DataFormatError, match=rf"stats.json: {key} is {stats[key] + 1}, but"):
            slmrec.load(ds.path)
    (ds.path / "stats.json").write_text(json.dumps(stats))
    # a valid but different item (same counts, still ordered): only the fingerprint can tell
    rewrite(
        ds.path,
        lambda pl, df: df.with_columns(
            pl.when(pl.int_range(pl.len()) == 0)
            .then(pl.col("item_id").max())
            .otherwise(pl.col("item_id"))
            .alias("item_id")
        ),
    )
    with pytest.raises(slmrec.DataFormatError, match="stats.json: fingerprint .* does not match"):
        slmrec.load(ds.path)
    # a directory from before the fingerprint is still checked for everything else, and loads
    del stats["fingerprint"]
    (ds.path / "stats.json").write_text(json.dumps(stats))
    assert slmrec.load(ds.path).num_interactions == ds.num_interactions


# ----- item 11: hostile Parquet footers and decoder panics -----


def zigzag_varint(n: int) -> bytes:
    z, out = (n << 1) ^ (n >> 63), bytearray()
    while True:
        b = z & 0x7F
        z >>= 7
        if z:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def edit_num_rows(path: Path, rows: int, new: int, count: int) -> None:
    """Rewrites the first `count` (-1: all) thrift-compact i64 fields (header byte 0x16) equal to `rows` in the footer:
    the file's num_rows first, then its column chunks' num_values, then its row group's num_rows."""
    data = path.read_bytes()
    assert data[-4:] == b"PAR1"
    n = int.from_bytes(data[-8:-4], "little")
    meta = data[-8 - n : -8]
    old, rep = b"\x16" + zigzag_varint(rows), b"\x16" + zigzag_varint(new)
    assert meta.count(old) >= max(count, 2)
    meta = meta.replace(old, rep, count)
    path.write_bytes(data[: -8 - n] + meta + len(meta).to_bytes(4, "little") + b"PAR1")


@pytest.mark.parametrize(
    "count, match",
    [
        (1, "corrupt Parquet footer: it claims 4398046511104 rows, its row groups 36"),
        (-1, "corrupt Parquet footer: it claims 4398046511104 rows, more than a file of \\d+ bytes can hold"),
    ],
)
def test_footer_with_an_edited_num_rows_is_an_error_not_an_abort(tmp_path, count, match):
    slmrec.prepare(json_file(tmp_path / "in.json"), tmp_path / "ds", recipe="none")
    edit_num_rows(tmp_path / "ds" / "interactions.parquet", 36, 2**42, count)
    with pytest.raises(slmrec.DataFormatError, match="interactions.parquet: " + match):
        slmrec.load(tmp_path / "ds")


def test_footer_claiming_more_rows_than_its_pages_hold(tmp_path):
    slmrec.prepare(json_file(tmp_path / "in.json"), tmp_path / "ds", recipe="none")
    edit_num_rows(tmp_path / "ds" / "interactions.parquet", 36, 40, -1)  # within the size bound, pages short
    with pytest.raises(slmrec.DataFormatError, match="interactions.parquet: "):
        slmrec.load(tmp_path / "ds")


def test_a_mutant_that_panicked_the_parquet_decoder_is_a_data_format_error(tmp_path):
    # Found by mutating our own files: the parquet crate panicked on this one ("Decoder for dict should have been
    # set"), which reached Python as pyo3's PanicException (a BaseException). The page walk now refuses it before
    # decoding; a decoder panic that still got through would be "corrupt Parquet file (the decoder failed: ...)".
    (tmp_path / "fz.txt").write_text(
        "".join(f"{u} " + " ".join(str((u * 7 + k * 3) % 50 + 1) for k in range(8)) + "\n" for u in range(1, 40))
    )
    slmrec.prepare(tmp_path / "fz.txt", tmp_path / "ds", recipe="none")
    f = tmp_path / "ds" / "interactions.parquet"
    b = bytearray(f.read_bytes())
    assert len(b) == 1562, "the writer's output changed; find a new panicking mutation with a fuzz loop"
    for pos, old, new in [(-1398, 36, 109), (-384, 38, 163), (-965, 157, 126)]:
        assert b[pos] == old
        b[pos] = new
    f.write_bytes(bytes(b))
    with pytest.raises(slmrec.DataFormatError, match=r"interactions.parquet: corrupt Parquet file"):
        slmrec.load(tmp_path / "ds")


def test_internal_error_is_an_exception_of_slmrec():
    assert issubclass(slmrec.InternalError, slmrec.SlmrecError)
    assert issubclass(slmrec.InternalError, Exception)


# ----- item 5: --force replaces only a dataset directory of ours -----


def tree(d: Path) -> list:
    return sorted((str(p.relative_to(d)), p.read_bytes() if p.is_file() else None) for p in d.rglob("*"))


def test_force_replaces_a_dataset_directory_with_its_candidates(tmp_path, ds):
    (ds.path / "candidates_test_seed0_n5.npy").write_bytes(b"x")
    again = slmrec.prepare(tmp_path / "in.txt", ds.path, recipe="none", force=True)
    assert again.fingerprint == ds.fingerprint and not (ds.path / "candidates_test_seed0_n5.npy").exists()


@pytest.mark.parametrize("what", ["no-stats", "foreign-stats", "subdir"])
def test_force_refuses_a_directory_that_is_not_ours(tmp_path, what):
    src = seq_file(tmp_path / "in.txt")
    out = tmp_path / "thesis"
    if what == "subdir":
        slmrec.prepare(src, out, recipe="none")
        (out / "chapter1").mkdir()
        (out / "chapter1" / "text.tex").write_text("\\section{}")
    else:
        out.mkdir()
        (out / "thesis.tex").write_text("years of work")
        if what == "foreign-stats":
            (out / "stats.json").write_text('{"mean": 3}')
    before = tree(out)
    with pytest.raises(slmrec.OutputExistsError, match="not a dataset directory written by slmrec-prep"):
        slmrec.prepare(src, out, recipe="none", force=True)
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "thesis"]


def test_force_never_replaces_a_directory_holding_an_input(tmp_path, ds):
    src = ds.path / "raw.txt"  # an input inside a dataset directory that would otherwise be replaceable
    seq_file(src)
    with pytest.raises(slmrec.OutputExistsError, match="an input of this run"):
        slmrec.prepare(src, ds.path, recipe="none", force=True)
    assert src.exists() and slmrec.load(ds.path).num_interactions == ds.num_interactions
    # an input equal to the output (a file), and a --meta input inside
    with pytest.raises(slmrec.OutputExistsError, match="an input of this run"):
        slmrec.prepare(src, src, recipe="none", force=True)
    assert src.exists()


def test_force_never_goes_through_a_symlink(tmp_path, ds):
    link = tmp_path / "link"
    link.symlink_to(ds.path, target_is_directory=True)
    before = tree(ds.path)
    with pytest.raises(slmrec.OutputExistsError, match="is a symbolic link"):
        slmrec.prepare(tmp_path / "in.txt", link, recipe="none", force=True)
    assert link.is_symlink() and tree(ds.path) == before


def test_cli_force_refuses_a_foreign_directory(tmp_path):
    import subprocess
    import sys

    src = seq_file(tmp_path / "in.txt")
    home = tmp_path / "thesis"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    r = subprocess.run(
        [sys.executable, "-m", "slmrec.cli.prep", str(src), "--out", str(home), "--force", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and (home / "thesis.tex").read_text() == "years of work"
    assert r.stderr.startswith(f"slmrec-prep: error: {home}: ") and len(r.stderr.strip().splitlines()) == 1


# ----- item 6: an exclusive lock beside the output, for the whole prepare -----


def test_a_second_prepare_fails_at_once_while_another_holds_the_lock(tmp_path):
    import subprocess
    import sys

    src = seq_file(tmp_path / "in.txt")
    out = tmp_path / "ds"
    lock = tmp_path / ".ds.lock"  # the documented protocol: PARENT/.NAME.lock, exclusive flock
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
            "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB); os.write(fd, b'4242\\n'); print('held', flush=True); "
            "sys.stdin.read()",
            str(lock),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(slmrec.OutputExistsError, match=r"another process \(process 4242\) is writing this output"):
            slmrec.prepare(src, out, recipe="none")
        assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == [".ds.lock", "in.txt"]
        # with force, and over an existing dataset: still refused, and the dataset untouched
        holder_out = tmp_path / "other"
        r = subprocess.run(
            [sys.executable, "-m", "slmrec.cli.prep", str(src), "--out", str(out), "--force", "-q"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 2 and "is writing this output" in r.stderr and not out.exists()
        assert len(r.stderr.strip().splitlines()) == 1 and not holder_out.exists()
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()
    # released: the lock file of a dead holder is taken over and removed
    slmrec.prepare(src, out, recipe="none")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "in.txt"]


def test_lock_is_released_and_removed_after_a_failed_run(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json\n")
    with pytest.raises(slmrec.DataFormatError):
        slmrec.prepare(bad, tmp_path / "ds")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]


# ----- item 15: no user long enough for the split -----


def test_users_too_short_for_the_split_are_counted(tmp_path):
    f = tmp_path / "short.txt"
    f.write_text("1 5 6\n2 7\n3 5 6 7\n")
    ds = slmrec.prepare(f, tmp_path / "ds", recipe="none")
    assert ds.stats["users_too_short_for_split"] == 2


# ----- item 8: persisted evaluation candidates are bound to their dataset and checked on load -----


def _cands(ds, split="test", n=10, seed=0):
    from slmrec.sampling import eval_candidates_for

    return eval_candidates_for(ds, split, n=n, seed=seed)


def _store(path: Path, arr: np.ndarray, rehash: bool = True) -> None:
    """Writes `arr` as the candidates file and (rehash) updates the sidecar's SHA-256, so only the content check
    stands between the file and its use."""
    np.save(path, arr)
    if rehash:
        side = path.with_name(path.name + ".json")
        bound = json.loads(side.read_text())
        bound["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        side.write_text(json.dumps(bound))


def test_candidates_are_uint32_with_a_sidecar_and_reused(ds):
    users, cands = _cands(ds)
    path = ds.path / "candidates_test_seed0_n10.npy"
    stored = np.load(path)
    assert stored.dtype == np.uint32 and (stored == cands).all() and cands.dtype == np.int64
    bound = json.loads((ds.path / "candidates_test_seed0_n10.npy.json").read_text())
    assert bound["fingerprint"] == ds.fingerprint and (bound["split"], bound["seed"], bound["n"]) == ("test", 0, 10)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        u2, c2 = _cands(ds)
    assert (u2 == users).all() and (c2 == cands).all()


@pytest.mark.parametrize(
    "corrupt, reason",
    [
        (lambda c, ds, u: c.__setitem__((slice(None), slice(1, None)), 0), "negative 1 is 0, not an item id"),
        (lambda c, ds, u: c.__setitem__((0, 3), ds.num_items + 1), "not an item id in 1..="),
        (lambda c, ds, u: c.__setitem__((1, 2), c[1, 0]), "row 1 .*an item of the user's history"),  # the positive
        (lambda c, ds, u: c.__setitem__((2, 4), ds.sequence(int(u[2]))[0]), "row 2 .*an item of the user's history"),
        (lambda c, ds, u: c.__setitem__((3, 5), c[3, 6]), "row 3 .*a repeat of an earlier negative"),
        (lambda c, ds, u: c.__setitem__((4, 0), c[4, 1]), "row 4 .*column 0 is \\d+, not the split's positive"),
    ],
    ids=["zeros", "out-of-range", "positive", "history", "repeat", "column0"],
)
def test_each_candidates_corruption_is_detected_and_rebuilt(ds, corrupt, reason):
    users, good = _cands(ds)
    path = ds.path / "candidates_test_seed0_n10.npy"
    bad = good.astype(np.uint32)
    corrupt(bad, ds, users)
    _store(path, bad)
    with pytest.warns(RuntimeWarning, match=f"{path} is not valid for this dataset: .*{reason}.*; rebuilding it"):
        again = _cands(ds)[1]
    assert (again == good).all() and (np.load(path) == good).all()


def test_candidates_bound_to_dataset_split_seed_and_n(tmp_path, ds):
    users, good = _cands(ds)
    path = ds.path / "candidates_test_seed0_n10.npy"
    side = path.with_name(path.name + ".json")
    bound = json.loads(side.read_text())
    for key, value in (("fingerprint", "0" * 16), ("seed", 1), ("n", 11), ("split", "valid")):
        side.write_text(json.dumps(dict(bound, **{key: value})))
        with pytest.warns(RuntimeWarning, match=f"was built for {key} = "):
            assert (_cands(ds)[1] == good).all()
    # a file changed without its sidecar; an old (int64, no sidecar) file; an unreadable sidecar
    _store(path, good.astype(np.uint32)[::-1].copy(), rehash=False)
    with pytest.warns(RuntimeWarning, match="changed after it was written"):
        _cands(ds)
    side.unlink()
    np.save(path, good)
    with pytest.warns(RuntimeWarning, match="has no candidates_test_seed0_n10.npy.json"):
        _cands(ds)
    side.write_text("{")
    with pytest.warns(RuntimeWarning, match="unreadable"):
        _cands(ds)
    # the same file name in a rebuilt dataset (another fingerprint) is not re-used
    other = slmrec.prepare(seq_file(tmp_path / "o.txt", length=7), tmp_path / "other", recipe="none")
    import shutil

    shutil.copy(path, other.path / path.name)
    shutil.copy(side, other.path / side.name)
    with pytest.warns(RuntimeWarning, match="fingerprint"):
        _cands(other)


def test_a_page_header_claiming_2gb_is_refused_before_any_allocation(tmp_path):
    import resource

    slmrec.prepare(json_file(tmp_path / "in.json"), tmp_path / "ds", recipe="none")
    f = tmp_path / "ds" / "interactions.parquet"
    b = bytearray(f.read_bytes())
    assert b[4] == 0x15 and b[6] == 0x15  # the first page header: type, then uncompressed_page_size (i32)
    i = 7
    while b[i] & 0x80:
        i += 1
    b[6 : i + 1] = b"\x15" + zigzag_varint(2**31 - 1)
    f.write_bytes(bytes(b))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(slmrec.DataFormatError, match="claims 2147483647 bytes uncompressed from"):
        slmrec.load(tmp_path / "ds")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 500_000  # KiB: the crate took 2 GB
