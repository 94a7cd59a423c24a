"""Bad input to ``slmrec.prepare`` (and ``slmrec.load``), in both ``on_bad_line`` modes.

Covers: malformed JSON, missing and mistyped fields (ratings as strings too), non-UTF-8 bytes, NUL bytes, deep
nesting, duplicate keys, bad CSV/RecBole/sequence lines: with "fail" a DataFormatError whose message is exactly
``file:line: reason`` for the right line; with "skip" the line counted under its reason with the same text in
``first``, the rest equal to the reference, the identities intact. Truncated (at many offsets) and corrupt gzip
streams are always errors; empty files, directories, missing paths, unknown formats and headers; damaged
dataset directories for load(); and a small fuzz that no Rust panic reaches Python.
"""

from __future__ import annotations

import gzip
import json
import random
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest

import reference as ref
import slmrec

ALLOWED = (slmrec.SlmrecError, OSError, ValueError)


def rev(user="U", item="a", ts=1, rating=5.0) -> bytes:
    return json.dumps({"reviewerID": user, "asin": item, "unixReviewTime": ts, "overall": rating}).encode()


GOOD = {
    "amazon-json": (".json", [rev("U", "a", 1), rev("U", "b", 2), rev("V", "a", 3), rev("V", "c", 4)]),
    "ratings-csv": (".csv", [b"a,U,5.0,1", b"b,U,4.0,2", b"a,V,3.0,3", b"c,V,5,4"]),
    "seq": (".txt", [b"1 5 6", b"2 6 7", b"3 5", b"4 7 7"]),
    "recbole": (".inter", [b"U\ta\t5\t1", b"U\tb\t4\t2", b"V\ta\t3\t3", b"V\tc\t5\t4"]),
}
RECBOLE_HEADER = b"user_id:token\titem_id:token\trating:float\ttimestamp:float"

# (id, format, the bad line, the reason it is counted under)
CASES = [
    ("json-unterminated", "amazon-json", b'{"reviewerID": "U", "asin": "a"', "invalid JSON"),
    ("json-trailing-garbage", "amazon-json", rev() + b" x", "invalid JSON"),
    ("json-array", "amazon-json", b'["U", "a", 1, 5.0]', "invalid JSON"),
    ("json-trailing-comma", "amazon-json", b'{"reviewerID": "U", "asin": "a", "unixReviewTime": 1,}', "invalid JSON"),
    (
        "json-nan-literal",
        "amazon-json",
        b'{"reviewerID": "U", "asin": "a", "unixReviewTime": 1, "overall": NaN}',
        "invalid JSON",
    ),
    ("json-single-quotes", "amazon-json", b"{'reviewerID': 'U', 'asin': 'a', 'unixReviewTime': 1}", "invalid JSON"),
    (
        "json-duplicate-key",
        "amazon-json",
        b'{"reviewerID": "U", "asin": "a", "asin": "b", "unixReviewTime": 1}',
        "invalid JSON",
    ),
    (
        "json-deep-nesting",
        "amazon-json",
        b'{"reviewerID": "U", "asin": "a", "unixReviewTime": 1, "style": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "invalid JSON",
    ),
    (
        "json-deep-nesting-wanted",
        "amazon-json",
        b'{"reviewerID": ' + b'{"x": ' * 5_000 + b"1" + b"}" * 5_000 + b', "asin": "a", "unixReviewTime": 1}',
        "invalid JSON",
    ),
    ("json-nul-bytes", "amazon-json", b"\x00" * 16, "invalid JSON"),
    (
        "json-nul-between-tokens",
        "amazon-json",
        b'{"reviewerID":\x00"U", "asin": "a", "unixReviewTime": 1}',
        "invalid JSON",
    ),
    (
        "json-lone-surrogate",
        "amazon-json",
        b'{"reviewerID": "\\ud800", "asin": "a", "unixReviewTime": 1}',
        "invalid JSON",
    ),
    ("json-non-utf8", "amazon-json", b'{"reviewerID": "U\xff\xfe", "asin": "a", "unixReviewTime": 1}', "invalid UTF-8"),
    ("json-latin1", "amazon-json", b'{"reviewerID": "Jos\xe9", "asin": "a", "unixReviewTime": 1}', "invalid UTF-8"),
    ("json-missing-asin", "amazon-json", b'{"reviewerID": "U", "unixReviewTime": 1, "overall": 5.0}', "missing field"),
    ("json-missing-user", "amazon-json", b'{"asin": "a", "unixReviewTime": 1, "overall": 5.0}', "missing field"),
    ("json-missing-time", "amazon-json", b'{"reviewerID": "U", "asin": "a", "overall": 5.0}', "missing field"),
    ("json-user-number", "amazon-json", b'{"reviewerID": 17, "asin": "a", "unixReviewTime": 1}', "wrong type"),
    ("json-asin-null", "amazon-json", b'{"reviewerID": "U", "asin": null, "unixReviewTime": 1}', "wrong type"),
    (
        "json-time-string",
        "amazon-json",
        b'{"reviewerID": "U", "asin": "a", "unixReviewTime": "1388534400"}',
        "wrong type",
    ),
    (
        "json-rating-string-number",
        "amazon-json",
        b'{"reviewerID": "U", "asin": "a", "unixReviewTime": 1, "overall": "5.0"}',
        "wrong type",
    ),
    (
        "json-rating-string-word",
        "amazon-json",
        b'{"reviewerID": "U", "asin": "a", "unixReviewTime": 1, "overall": "five"}',
        "wrong type",
    ),
    (
        "json-rating-bool",
        "amazon-json",
        b'{"reviewerID": "U", "asin": "a", "unixReviewTime": 1, "overall": true}',
        "wrong type",
    ),
    ("json-empty-asin", "amazon-json", b'{"reviewerID": "U", "asin": "", "unixReviewTime": 1}', "invalid value"),
    (
        "json-rating-overflow",
        "amazon-json",
        b'{"reviewerID": "U", "asin": "a", "unixReviewTime": 1, "overall": 1e400}',
        "invalid value",
    ),
    (
        "json-time-overflow",
        "amazon-json",
        b'{"reviewerID": "U", "asin": "a", "unixReviewTime": 1e300}',
        "invalid value",
    ),
    ("csv-3-columns", "ratings-csv", b"a,U,5.0", "wrong column count"),
    ("csv-5-columns", "ratings-csv", b"a,U,5.0,1,extra", "wrong column count"),
    ("csv-rating-word", "ratings-csv", b"a,U,five,1", "invalid value"),
    ("csv-rating-nan", "ratings-csv", b"a,U,nan,1", "invalid value"),
    ("csv-empty-user", "ratings-csv", b"a, ,5.0,1", "invalid value"),
    ("csv-time-word", "ratings-csv", b"a,U,5.0,yesterday", "invalid value"),
    ("csv-non-utf8", "ratings-csv", b"a\xff,U,5.0,1", "invalid UTF-8"),
    ("csv-nul", "ratings-csv", b"a,U,5.0,1\x00", "invalid value"),
    ("recbole-columns", "recbole", b"U\ta\t5", "wrong column count"),
    ("recbole-rating", "recbole", b"U\ta\tx\t1", "invalid value"),
    ("recbole-empty-item", "recbole", b"U\t \t5\t1", "invalid value"),
    ("seq-word", "seq", b"5 6 x", "invalid value"),
    ("seq-negative", "seq", b"5 -6", "invalid value"),
    ("seq-float", "seq", b"5 6.5", "invalid value"),
    ("seq-user-only", "seq", b"5", "invalid value"),
    ("seq-nul", "seq", b"5 6\x007", "invalid value"),
    ("seq-non-utf8", "seq", b"5 6 \xff", "invalid UTF-8"),
]


def make(tmp_path: Path, fmt: str, bad: bytes, at: int = 3) -> tuple[Path, int]:
    """A file of ``fmt``: good lines with ``bad`` as physical line ``at`` (a blank line before it); returns the
    path and the bad line's number."""
    ext, good = GOOD[fmt]
    lines = ([RECBOLE_HEADER] if fmt == "recbole" else []) + [good[0], b""] + good[1:]
    lines.insert(at - 1, bad)
    path = tmp_path / f"input{ext}"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path, at


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_line_fail_and_skip(tmp_path, case):
    _, fmt, bad, reason = case
    path, line = make(tmp_path, fmt, bad)
    with pytest.raises(slmrec.DataFormatError) as e:
        slmrec.prepare(path, tmp_path / "fail", recipe="none")
    msg = str(e.value)
    assert msg.startswith(f"{path}:{line}: ") and len(msg) > len(f"{path}:{line}: "), msg
    assert "\n" not in msg and "panick" not in msg.lower()
    assert not (tmp_path / "fail").exists()

    ds = slmrec.prepare(path, tmp_path / "skip", recipe="none", on_bad_line="skip")
    s = ds.stats
    assert s["bad_lines"] == 1 and s["inputs"][0]["bad_lines"] == 1
    assert s["bad_line_reasons"] == {reason: {"count": 1, "first": [msg]}}
    assert s["blank_lines"] == 1
    ref.assert_matches(ds, ref.prepare([(path, fmt)], recipe="none", on_bad_line="skip"))
    # Skipping the line gives what the file without it gives.
    clean = tmp_path / ("clean" + path.suffix)
    clean.write_bytes(b"\n".join(x for x in path.read_bytes().split(b"\n") if x != bad))
    assert ds.to_polars().equals(slmrec.prepare(clean, tmp_path / "clean", recipe="none").to_polars())


def test_reference_agrees_on_the_reasons(tmp_path):
    # The oracle classifies every case the same way (so the skip comparisons above are meaningful).
    for k, (_, fmt, bad, reason) in enumerate(CASES):
        (tmp_path / f"{k}").mkdir()
        path, line = make(tmp_path / f"{k}", fmt, bad)
        rd = ref.read_inputs([(path, fmt)], on_bad_line="skip")
        assert rd.bad_first == {reason: [line]}, (CASES[k][0], rd.bad_first)


def test_many_bad_lines_are_counted_with_their_first_line_numbers(tmp_path):
    lines = []
    for k in range(30):
        lines.append(rev("U", f"i{k}", k))
        if k % 4 == 1:
            lines.append(b"{broken")
        if k % 9 == 2:
            lines.append(b'{"reviewerID": "U", "unixReviewTime": 1}')
    path = tmp_path / "r.json"
    path.write_bytes(b"\n".join(lines) + b"\n")
    bad_json = [n for n, x in enumerate(lines, 1) if x == b"{broken"]
    missing = [n for n, x in enumerate(lines, 1) if x.startswith(b'{"reviewerID": "U", "unix')]
    ds = slmrec.prepare(path, tmp_path / "ds", recipe="none", on_bad_line="skip")
    r = ds.stats["bad_line_reasons"]
    assert set(r) == {"invalid JSON", "missing field"}
    assert r["invalid JSON"]["count"] == len(bad_json) and r["missing field"]["count"] == len(missing)
    for reason, numbers in (("invalid JSON", bad_json), ("missing field", missing)):
        first = r[reason]["first"]
        assert 1 <= len(first) <= len(numbers)
        assert [int(f.split(":")[1]) for f in first] == numbers[: len(first)]
        assert all(f.startswith(f"{path}:") for f in first)
    assert ds.stats["bad_lines"] == len(bad_json) + len(missing)
    ref.assert_matches(ds, ref.prepare([(path, "amazon-json")], recipe="none", on_bad_line="skip"))
    with pytest.raises(slmrec.DataFormatError, match=rf"^{path}:{bad_json[0]}: "):
        slmrec.prepare(path, tmp_path / "fail", recipe="none")


def test_bad_first_line_is_skipped_and_detection_uses_the_next(tmp_path):
    path = tmp_path / "r.json"
    path.write_bytes(b"\xff\xfe garbage\n" + rev("U", "a", 1) + b"\n" + rev("U", "b", 2) + b"\n")
    ds = slmrec.prepare(path, tmp_path / "ds", recipe="none", on_bad_line="skip")
    assert ds.num_interactions == 2 and ds.stats["inputs"][0]["format"] == "amazon-json"
    assert ds.stats["bad_line_reasons"]["invalid UTF-8"]["first"][0].startswith(f"{path}:1: ")
    with pytest.raises(slmrec.DataFormatError, match=rf"^{path}:1: "):
        slmrec.prepare(path, tmp_path / "f", recipe="none")


def test_bad_line_in_a_later_file_names_that_file(tmp_path):
    a = tmp_path / "a.json"
    a.write_bytes(rev("U", "a", 1) + b"\n" + rev("U", "b", 2) + b"\n")
    b, line = make(tmp_path, "amazon-json", b"{oops")
    with pytest.raises(slmrec.DataFormatError) as e:
        slmrec.prepare([a, b], tmp_path / "f", recipe="none")
    assert str(e.value).startswith(f"{b}:{line}: ")
    ds = slmrec.prepare([a, b], tmp_path / "s", recipe="none", on_bad_line="skip")
    assert [f["bad_lines"] for f in ds.stats["inputs"]] == [0, 1]
    ref.assert_reconciled(ds.stats)


def _gz_input(tmp_path: Path) -> tuple[bytes, bytes]:
    lines = [rev(f"u{k % 9}", f"i{k % 7}", k, float(k % 5 + 1)) for k in range(600)]
    raw = b"\n".join(lines) + b"\n"
    return raw, gzip.compress(raw)


@pytest.mark.parametrize("mode", ["fail", "skip"])
def test_truncated_gzip_is_always_an_error(tmp_path, mode):
    raw, gz = _gz_input(tmp_path)
    n = len(gz)
    cuts = sorted({2, 3, 9, 10, 11, 20, 64, n // 3, n // 2, n - 100, n - 9, n - 8, n - 5, n - 4, n - 1})
    for cut in cuts:
        path = tmp_path / f"cut{cut}.json.gz"
        path.write_bytes(gz[:cut])
        with pytest.raises(slmrec.DataFormatError) as e:
            slmrec.prepare(path, tmp_path / f"o{cut}", recipe="none", on_bad_line=mode)
        msg = str(e.value)
        assert msg.startswith(f"{path}:") and "gzip" in msg, (cut, msg)
        assert not (tmp_path / f"o{cut}").exists()
    # The same for a truncated second member, and for a truncated file that is the second input.
    mm = tmp_path / "mm.json.gz"
    mm.write_bytes(gz + gz[: n // 2])
    good = tmp_path / "good.json.gz"
    good.write_bytes(gz)
    for inputs in ([mm], [good, tmp_path / f"cut{n // 2}.json.gz"]):
        with pytest.raises(slmrec.DataFormatError, match="gzip"):
            slmrec.prepare(inputs, tmp_path / "mm_out", recipe="none", on_bad_line=mode)
    assert slmrec.prepare(good, tmp_path / "whole", recipe="none").num_interactions == 600


@pytest.mark.parametrize("mode", ["fail", "skip"])
def test_corrupt_gzip_is_an_error(tmp_path, mode):
    raw, gz = _gz_input(tmp_path)
    variants = {}
    crc = bytearray(gz)
    crc[-8] ^= 0xFF  # the CRC32 of the trailer
    variants["crc"] = bytes(crc)
    size = bytearray(gz)
    size[-3] ^= 0x01  # the ISIZE of the trailer
    variants["isize"] = bytes(size)
    # A valid deflate stream whose trailer CRC does not match its data (a byte changed before compressing).
    other = gzip.compress(raw.replace(b"u1", b"u9", 1))
    variants["swapped-trailer"] = other[:-8] + gz[-8:]
    flipped = bytearray(gz)
    flipped[len(gz) // 2] ^= 0x5A
    variants["flipped-body"] = bytes(flipped)
    for name, data in variants.items():
        path = tmp_path / f"{name}.json.gz"
        path.write_bytes(data)
        with pytest.raises(slmrec.DataFormatError) as e:
            slmrec.prepare(path, tmp_path / f"o_{name}", recipe="none", on_bad_line=mode)
        assert str(e.value).startswith(f"{path}:") and "gzip" in str(e.value), (name, str(e.value))
        assert not (tmp_path / f"o_{name}").exists()
    # Sanity: zlib agrees the CRC variant is corrupt.
    with pytest.raises((OSError, EOFError, zlib.error)):
        gzip.decompress(variants["crc"])


@pytest.mark.parametrize("mode", ["fail", "skip"])
@pytest.mark.parametrize(
    "name,content",
    [
        ("empty.json", b""),
        ("empty.json.gz", gzip.compress(b"")),
        ("blank.json", b"\n  \n\t\r\n"),
        ("header_only.inter", RECBOLE_HEADER + b"\n"),
    ],
)
def test_nothing_to_read_is_an_empty_dataset(tmp_path, mode, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(slmrec.EmptyDatasetError) as e:
        slmrec.prepare(path, tmp_path / "out", on_bad_line=mode)
    assert str(path) in str(e.value)
    assert not (tmp_path / "out").exists()


def test_all_lines_bad_with_skip_is_an_empty_dataset(tmp_path):
    path = tmp_path / "r.json"
    path.write_bytes(b"{bad\n{worse\n")
    with pytest.raises(slmrec.EmptyDatasetError):
        slmrec.prepare(path, tmp_path / "out", on_bad_line="skip")


@pytest.mark.parametrize("mode", ["fail", "skip"])
def test_directory_and_missing_paths(tmp_path, mode):
    good = tmp_path / "good.txt"
    good.write_text("1 2 3\n")
    d = tmp_path / "adir"
    d.mkdir()
    with pytest.raises(slmrec.DataFormatError) as e:
        slmrec.prepare(d, tmp_path / "out", on_bad_line=mode)
    assert str(e.value).startswith(f"{d}:") and "directory" in str(e.value)
    missing = tmp_path / "nope.json.gz"
    for inputs in ([missing], [good, missing], [missing, good]):
        with pytest.raises(FileNotFoundError) as e:
            slmrec.prepare(inputs, tmp_path / "out", recipe="none", on_bad_line=mode)
        assert str(missing) in str(e.value)
    with pytest.raises(FileNotFoundError):
        slmrec.prepare(good, tmp_path / "out", recipe="none", meta=tmp_path / "meta_missing.json.gz")
    with pytest.raises(ValueError):
        slmrec.prepare([], tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("mode", ["fail", "skip"])
def test_recbole_header_problems_are_errors_in_both_modes(tmp_path, mode):
    for k, header in enumerate(
        [
            b"user_id:token\titem_id:token\trating:int\ttimestamp:float",  # unknown type
            b"user_id:token\titem_id\trating:float",  # no type
            b"user:token\titem_id:token\trating:float",  # no user_id column
        ]
    ):
        path = tmp_path / f"h{k}.inter"
        path.write_bytes(header + b"\nU\ta\t5\t1\n")
        with pytest.raises(slmrec.DataFormatError) as e:
            slmrec.prepare(path, tmp_path / "out", recipe="none", on_bad_line=mode)
        assert str(e.value).startswith(f"{path}:1: "), str(e.value)


def test_unknown_format_and_metadata_as_input(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello world\nsecond line\n")
    with pytest.raises(slmrec.DataFormatError, match=rf"^{path}:1: .*--format"):
        slmrec.prepare(path, tmp_path / "out", recipe="none", on_bad_line="skip")
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps({"asin": "a", "title": "T", "main_cat": "Gift Cards", "also_buy": []}) + "\n")
    with pytest.raises(slmrec.DataFormatError, match="--meta"):
        slmrec.prepare(meta, tmp_path / "out", recipe="none")
    reviews = tmp_path / "r.json"
    reviews.write_bytes(rev() + b"\n")
    with pytest.raises(slmrec.DataFormatError):
        slmrec.prepare(reviews, tmp_path / "out", recipe="none", meta=reviews)
    # A forced format that does not fit is a bad line, not a crash.
    with pytest.raises(slmrec.DataFormatError, match=rf"^{reviews}:1: "):
        slmrec.prepare(reviews, tmp_path / "out", recipe="none", format="seq")


def test_fractional_json_timestamps_are_counted_as_truncated(tmp_path):
    path = tmp_path / "r.json"
    path.write_bytes(rev("U", "a", 100.5) + b"\n" + rev("U", "b", 200) + b"\n")
    ds = slmrec.prepare(path, tmp_path / "ds", recipe="none")
    np.testing.assert_array_equal(ds.timestamps, [100, 200])
    assert ds.stats["timestamps_truncated"] == 1


def test_fractional_csv_timestamps_are_counted_as_truncated(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("a,U,5,100.5\nb,U,5,200\nc,U,5,-1.5\n")
    ds = slmrec.prepare(path, tmp_path / "ds", recipe="none")
    np.testing.assert_array_equal(ds.timestamps, [-2, 100, 200])
    assert ds.stats["timestamps_truncated"] == 2


def test_fuzzed_inputs_never_panic(tmp_path):
    """Random byte edits of valid files of every format: only SlmrecError/OSError/ValueError may come out."""
    rnd = random.Random(1234)
    seeds = {fmt: ext_lines for fmt, ext_lines in GOOD.items()}
    outcomes = {"ok": 0, "error": 0}
    for k in range(100):
        fmt = rnd.choice(sorted(seeds))
        ext, good = seeds[fmt]
        data = bytearray(b"\n".join(([RECBOLE_HEADER] if fmt == "recbole" else []) + good) + b"\n")
        for _ in range(rnd.randint(1, 6)):
            op, pos = rnd.random(), rnd.randrange(len(data))
            if op < 0.4:
                data[pos] = rnd.randrange(256)
            elif op < 0.7:
                data.insert(pos, rnd.choice(b'{}[]",:\\\x00\n\r\t 0123456789-.eE\xff\xc3'))
            else:
                del data[pos : pos + rnd.randint(1, 8)]
        if rnd.random() < 0.3:
            data = bytearray(gzip.compress(bytes(data)))
            if rnd.random() < 0.5:
                data = data[: rnd.randrange(2, len(data))]
        path = tmp_path / f"f{k}{ext}"
        path.write_bytes(bytes(data))
        for mode in ("fail", "skip"):
            try:
                ds = slmrec.prepare(path, tmp_path / f"o{k}{mode}", recipe="none", on_bad_line=mode)
                ref.assert_reconciled(ds.stats)
                outcomes["ok"] += 1
            except ALLOWED as e:
                assert "panick" not in str(e).lower(), str(e)
                outcomes["error"] += 1
            except BaseException as e:  # noqa: BLE001 - a pyo3 PanicException derives from BaseException
                pytest.fail(f"{type(e).__name__} on {path} ({mode}): {e}")
    assert outcomes["ok"] > 0 and outcomes["error"] > 0


# ----- load() of damaged dataset directories -----


@pytest.fixture
def prepared(tmp_path) -> Path:
    f = tmp_path / "s.txt"
    f.write_text("1 4 5 6\n2 6 4\n3 5\n")
    slmrec.prepare(f, tmp_path / "ds", recipe="none")
    return tmp_path / "ds"


def test_load_missing_or_not_a_dataset(tmp_path, prepared):
    with pytest.raises(FileNotFoundError):
        slmrec.load(tmp_path / "absent")
    with pytest.raises(slmrec.DataFormatError):
        slmrec.load(prepared / "stats.json")  # a file, not a directory
    (tmp_path / "empty").mkdir()
    with pytest.raises(slmrec.DataFormatError, match="stats.json"):
        slmrec.load(tmp_path / "empty")
    (prepared / "users.parquet").unlink()
    with pytest.raises(slmrec.DataFormatError, match="users.parquet"):
        slmrec.load(prepared)


def test_load_rejects_broken_invariants(tmp_path, prepared):
    # Tables from a smaller dataset: ids in interactions.parquet then point past the users/items tables.
    small = tmp_path / "small.txt"
    small.write_text("1 4\n")
    slmrec.prepare(small, tmp_path / "small", recipe="none")
    for table, pattern in (
        ("users.parquet", "user_id 2 out of order or outside 1..=1"),
        ("items.parquet", "item_id 2 outside 1..=1"),
    ):
        broken = tmp_path / f"broken_{table}"
        shutil.copytree(prepared, broken)
        shutil.copy(tmp_path / "small" / table, broken / table)
        with pytest.raises(slmrec.DataFormatError, match=pattern):
            slmrec.load(broken)
    inter = prepared / "interactions.parquet"
    # Not parquet at all, then bad JSON in stats.
    good = inter.read_bytes()
    inter.write_bytes(b"not parquet")
    with pytest.raises(slmrec.DataFormatError, match="interactions.parquet"):
        slmrec.load(prepared)
    inter.write_bytes(good)
    assert slmrec.load(prepared).num_interactions == 6
    (prepared / "stats.json").write_text("{")
    with pytest.raises(slmrec.DataFormatError, match="stats.json"):
        slmrec.load(prepared)


def test_bad_metadata(tmp_path):
    reviews = tmp_path / "r.json"
    reviews.write_bytes(rev("U", "a", 1) + b"\n" + rev("U", "b", 2) + b"\n")
    rows = [
        json.dumps({"asin": "a", "title": "A"}).encode(),
        b"{broken",
        json.dumps({"asin": "b", "title": "B"}).encode(),
    ]
    meta = tmp_path / "meta.json"
    meta.write_bytes(b"\n".join(rows) + b"\n")
    with pytest.raises(slmrec.DataFormatError, match=rf"^{meta}:2: "):
        slmrec.prepare(reviews, tmp_path / "f", recipe="none", meta=meta)
    ds = slmrec.prepare(reviews, tmp_path / "s", recipe="none", meta=meta, on_bad_line="skip")
    assert ds.stats["meta"]["bad_lines"] == 1 and ds.item_table()["title"].to_list() == ["A", "B"]
    # A truncated metadata gzip is an error in both modes.
    gz = tmp_path / "meta.json.gz"
    gz.write_bytes(gzip.compress(b"\n".join([rows[0], rows[2]] * 50) + b"\n")[:-6])
    for mode in ("fail", "skip"):
        with pytest.raises(slmrec.DataFormatError, match="gzip"):
            slmrec.prepare(reviews, tmp_path / "g", recipe="none", meta=gz, on_bad_line=mode)
    assert not (tmp_path / "f").exists() and not (tmp_path / "g").exists()


TRICKY = [
    "1",
    "2",
    "07",
    "7",
    "+5",
    "-3",
    "0",
    "1.5",
    "5.",
    ".5",
    "1e3",
    "1E+2",
    "-0",
    "nan",
    "inf",
    "Infinity",
    "x",
    "",
    " ",
    "é",
    "a b",
    "\t",
    "9223372036854775807",
    "9223372036854775808",
    "1e19",
    "8.9e18",
    "18446744073709551615",
    "18446744073709551616",
    "1_0",
    "0x10",
    "\u0663",
]


def test_differential_fuzz_of_fields_against_the_reference(tmp_path):
    """Lines of tricky field values in every format, skip mode: the same records, ids, order and bad-line
    reasons and line numbers as the reference."""
    rnd = random.Random(7)
    ext = {"ratings-csv": ".csv", "seq": ".txt", "recbole": ".inter", "amazon-json": ".json"}
    compared = 0
    for k in range(80):
        fmt = rnd.choice(sorted(ext))
        lines = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"] if fmt == "recbole" else []
        for _ in range(rnd.randint(1, 6)):
            if fmt == "ratings-csv":
                lines.append(",".join(rnd.choice(TRICKY) for _ in range(rnd.choice([4, 4, 4, 3, 5]))))
            elif fmt == "seq":
                lines.append(" ".join(rnd.choice(TRICKY) for _ in range(rnd.randint(1, 5))))
            elif fmt == "recbole":
                lines.append("\t".join(rnd.choice(TRICKY) for _ in range(rnd.choice([4, 4, 3]))))
            else:
                d = {}
                for key in ("reviewerID", "asin", "unixReviewTime", "overall"):
                    r, t = rnd.random(), rnd.choice(TRICKY)
                    if r < 0.1:
                        continue
                    if key in ("unixReviewTime", "overall") and r < 0.8:
                        try:
                            t = json.loads(t)
                        except ValueError:
                            pass
                    d[key] = t
                lines.append(json.dumps(d))
        path = tmp_path / f"f{k}{ext[fmt]}"
        path.write_text("\n".join(lines) + "\n")
        try:
            rd = ref.read_inputs([(path, fmt)], on_bad_line="skip")
        except ValueError as e:  # a header line in a ratings CSV: an error in both modes
            with pytest.raises(slmrec.DataFormatError, match="header line"):
                slmrec.prepare(path, tmp_path / f"o{k}", recipe="none", on_bad_line="skip", format=fmt)
            assert "header line" in str(e)
            continue
        expect = ref.prepare_from(rd, recipe="none")
        if expect.stats["interactions"] == 0:
            with pytest.raises(slmrec.EmptyDatasetError):
                slmrec.prepare(path, tmp_path / f"o{k}", recipe="none", on_bad_line="skip", format=fmt)
            continue
        ds = slmrec.prepare(path, tmp_path / f"o{k}", recipe="none", on_bad_line="skip", format=fmt)
        ref.assert_matches(ds, expect)
        reasons = ds.stats["bad_line_reasons"]
        assert {r: v["count"] for r, v in reasons.items()} == dict(rd.bad_reasons), lines
        for r, v in reasons.items():
            numbers = [int(x.split(":")[1]) for x in v["first"]]
            assert v["first"] and numbers == rd.bad_first[r][: len(numbers)], (lines, r, numbers)
        compared += 1
    assert compared > 20
