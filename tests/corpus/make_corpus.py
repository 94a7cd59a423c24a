"""Writes the hostile-input corpus (the files under tests/corpus/ and the manifest cases.json).

Run ``python tests/corpus/make_corpus.py`` after changing a case; the output is deterministic (fixed seeds, gzip
mtime 0), and tests/test_corpus.py checks that the committed files equal what this script writes. Each case
states its outcome up front, independently of the implementation:

- ``expect``: ``"ok"`` or ``"error"`` with ``--on-bad-line fail`` (the default);
- ``error``: the exception class, ``at`` (the ``FILE:LINE`` the message starts with; ``{f0}`` is the first input,
  ``{f1}`` the second, ``{m0}`` the first metadata file; null when the message is not tied to a line) and ``has``
  (substrings of the message);
- ``skip``: the outcome with ``--on-bad-line skip``: ``"same"`` (the same error: stream and header problems are
  never skippable), or ``{"expect": "ok", "bad_lines": N, "reasons": {reason: count}}``, or an error of its own;
- ``stats``: values stats.json must hold in every successful mode (``interactions`` always);
- ``setup``: inputs made at test time (never committed): ``directory``, ``missing``, ``unreadable`` (mode 000,
  read as an unprivileged user), ``line-100mb``;
- ``max_line_bytes``: the ``--max-line-bytes`` to run with (null: the default, 256 MiB);
- ``columns``, ``delimiter``, ``item_key``: the ``--columns``, ``--delimiter``, ``--item-key`` to run with (absent:
  not given).

The Parquet files are written with pyarrow (pinned in the dev extra, so the bytes are the same on every run).

Every input is run with ``--recipe none`` so that tiny files are not emptied by the k-core.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import random
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def rev(user="U1", item="a", ts=1_388_534_400, rating=5.0, **extra) -> bytes:
    d = {"reviewerID": user, "asin": item, "unixReviewTime": ts}
    if rating is not None:
        d["overall"] = rating
    d.update(extra)
    return json.dumps(d).encode()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def lines(*ls: bytes, end: bytes = b"\n") -> bytes:
    return b"\n".join(ls) + end


# Six good reviews of three users (line k = 1..6) used as the body of most JSON cases.
GOOD = [rev(f"U{k % 3}", f"i{k % 4}", 1_388_534_400 + k * 86_400, float(k % 5 + 1)) for k in range(6)]
GOOD_BODY = lines(*GOOD)
# A larger body for the gzip cases, so that the cut points fall inside the deflate data.
GZ_BODY = lines(*[rev(f"U{k % 7}", f"i{k % 11}", 1_388_534_400 + k, float(k % 5 + 1), summary=f"s{k}")
                  for k in range(120)])
GZ = gz(GZ_BODY)
CSV = [b"a,U1,5.0,1388534400", b"b,U1,4.0,1388620800", b"a,U2,3.0,1388707200", b"c,U2,5,1388793600"]
RECBOLE_HEADER = b"user_id:token\titem_id:token\trating:float\ttimestamp:float"
RECBOLE = [b"U1\ta\t5\t1", b"U1\tb\t4\t2", b"U2\ta\t3\t3", b"U2\tc\t5\t4"]
SEQ = [b"1 5 6 7", b"2 6 7", b"3 5 8 9"]
META_2020 = [json.dumps({"asin": a, "title": f"Title {a} &amp; more", "brand": "B", "main_cat": "Beauty",
                         "image": [], "also_buy": []}).encode() for a in ("i0", "i1", "i2", "i3")]
META_2021 = [json.dumps({"asin": a, "title": f"T{a}", "brand": "B", "main_cat": "Beauty", "imageURL": [],
                         "imageURLHighRes": []}).encode() for a in ("i0", "i1", "i2", "i3")]


def garbage(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


FILES: dict[str, bytes] = {}
CASES: list[dict] = []


def case(name, files, *, expect, error=None, skip=None, stats=None, fmt=None, meta=(), setup=None, why="",
         max_line_bytes=None, columns=None, delimiter=None, item_key=None):
    """Registers a case; ``files``/``meta`` map a corpus path to its bytes (or None for a file of another case)."""
    names = []
    for path, data in (files.items() if isinstance(files, dict) else [(f, None) for f in files]):
        if data is not None:
            assert path not in FILES or FILES[path] == data, path
            FILES[path] = data
        names.append(path)
    meta_names = []
    for path, data in (meta.items() if isinstance(meta, dict) else [(f, None) for f in meta]):
        if data is not None:
            FILES[path] = data
        meta_names.append(path)
    if expect == "ok":
        assert error is None
        skip = skip or {"expect": "ok", "bad_lines": 0, "reasons": {}}
        assert stats and "interactions" in stats, name
    else:
        assert error is not None and skip is not None, name
    entry = {"name": name, "files": names, "meta": meta_names, "format": fmt, "setup": setup,
             "expect": expect, "error": error, "skip": skip, "stats": stats or {}, "why": why}
    for key, value in (("max_line_bytes", max_line_bytes), ("columns", columns), ("delimiter", delimiter),
                       ("item_key", item_key)):
        if value is not None:
            entry[key] = value
    CASES.append(entry)


def err(kind, at, *has):
    return {"type": kind, "at": at, "has": list(has)}


def skipped(bad, reasons, **stats):
    return {"expect": "ok", "bad_lines": bad, "reasons": reasons, "stats": stats}


DFE, EMPTY = "DataFormatError", "EmptyDatasetError"

# ---------------------------------------------------------------- amazon-json reviews
case("json-good", {"json/good.json": GOOD_BODY}, expect="ok", stats={"interactions": 6, "users": 3},
     why="the baseline every other JSON case is a variation of")
case("json-bom", {"json/bom.json": b"\xef\xbb\xbf" + GOOD_BODY}, expect="ok", stats={"interactions": 6},
     why="a UTF-8 byte order mark before the first object is accepted")
case("json-crlf", {"json/crlf.json": GOOD_BODY.replace(b"\n", b"\r\n")}, expect="ok", stats={"interactions": 6},
     why="Windows line endings")
case("json-bom-crlf-gz", {"json/bom_crlf.json.gz": gz(b"\xef\xbb\xbf" + GOOD_BODY.replace(b"\n", b"\r\n"))},
     expect="ok", stats={"interactions": 6}, why="BOM and CRLF inside a gzip stream")
case("json-blank-lines", {"json/blank_lines.json": lines(GOOD[0], b"", b"   \t", *GOOD[1:], b"\r", end=b"\n\n")},
     expect="ok", stats={"interactions": 6, "blank_lines": 4}, why="blank and whitespace-only lines are counted")
case("json-no-final-newline", {"json/no_final_newline.json": lines(*GOOD, end=b"")}, expect="ok",
     stats={"interactions": 6}, why="the last line has no newline")
case("json-2014-schema", {"json/reviews_2014.json": lines(*[
    json.dumps({"reviewerID": f"U{k % 2}", "asin": f"i{k}", "reviewerName": "N", "helpful": [0, k],
                "reviewText": "t", "overall": 4.0, "summary": "s", "unixReviewTime": 1_300_000_000 + k,
                "reviewTime": "03 13, 2011"}).encode() for k in range(4)])},
     expect="ok", stats={"interactions": 4}, why="Amazon 2014 reviews: other fields, same four keys")
case("json-2018-extra-fields", {"json/reviews_2018.json": lines(*[
    rev(f"U{k % 2}", f"i{k}", 1_500_000_000 + k, 3.0, verified=True, vote="1,234", style={"Size:": " Large"},
        image=["http://x/y.jpg"], reviewText="caf\u00e9 \u2603 \U0001F600") for k in range(4)])},
     expect="ok", stats={"interactions": 4}, why="nested objects, arrays, booleans and non-ASCII in skipped fields")
case("json-ts-extremes", {"json/ts_extremes.json": lines(rev("U1", "a", 9_223_372_036_854_775_807),
                                                          rev("U1", "b", -9_223_372_036_854_775_808),
                                                          rev("U1", "c", 0))},
     expect="ok", stats={"interactions": 3}, why="the i64 limits are valid timestamps")
case("json-surrogate-pair", {"json/surrogate_pair.json": lines(
    b'{"reviewerID": "U\\ud83d\\ude00", "asin": "a", "unixReviewTime": 1, "overall": 5.0}', GOOD[1])},
     expect="ok", stats={"interactions": 2}, why="a valid escaped surrogate pair (an emoji) in a wanted key")
case("json-duplicate-skipped-key", {"json/duplicate_skipped_key.json": lines(
    b'{"reviewerID": "U1", "asin": "a", "summary": "x", "summary": "y", "unixReviewTime": 1}', GOOD[1])},
     expect="ok", stats={"interactions": 2},
     why="a repeated key that is not read is tolerated (rejecting it would cost a set per line, for nothing)")
case("json-negative-rating", {"json/negative_rating.json": lines(rev(rating=-3.0), GOOD[1])}, expect="ok",
     stats={"interactions": 2}, why="a finite rating outside 1..5 is kept as is (no range is assumed)")
case("json-no-rating", {"json/no_rating.json": lines(rev(rating=None), GOOD[1])}, expect="ok",
     stats={"interactions": 2}, why="overall is optional (stored as null)")

# bad lines: fail stops at the line, skip counts it
case("json-missing-key-line-1", {"json/missing_key_first.json": lines(
    b'{"reviewerID": "U1", "unixReviewTime": 1, "overall": 5.0}', *GOOD[1:])},
     expect="error", error=err(DFE, "{f0}:1", 'missing field "asin"'),
     skip=skipped(1, {"missing field": 1}, interactions=5),
     why="a required key missing on the first line (format detection then uses the object shape)")
case("json-missing-key-last-line", {"json/missing_key_last.json": lines(
    *GOOD[:5], b'{"asin": "a", "unixReviewTime": 1, "overall": 5.0}', end=b"")},
     expect="error", error=err(DFE, "{f0}:6", 'missing field "reviewerID"'),
     skip=skipped(1, {"missing field": 1}, interactions=5), why="the last line, without a final newline")
case("json-missing-time", {"json/missing_time.json": lines(GOOD[0], b'{"reviewerID": "U1", "asin": "z"}', GOOD[2])},
     expect="error", error=err(DFE, "{f0}:2", 'missing field "unixReviewTime"'),
     skip=skipped(1, {"missing field": 1}, interactions=2))
case("json-truncated-last-line", {"json/truncated_last.json": GOOD_BODY + GOOD[0][:25]},
     expect="error", error=err(DFE, "{f0}:7", "invalid JSON"),
     skip=skipped(1, {"invalid JSON": 1}, interactions=6), why="a dump cut off in the middle of an object")
case("json-lone-surrogate", {"json/lone_surrogate.json": lines(
    GOOD[0], b'{"reviewerID": "\\ud800", "asin": "a", "unixReviewTime": 1}', GOOD[2])},
     expect="error", error=err(DFE, "{f0}:2", "invalid JSON", "surrogate"),
     skip=skipped(1, {"invalid JSON": 1}, interactions=2), why="\\ud800 alone is not a character")
case("json-reversed-surrogates", {"json/reversed_surrogates.json": lines(
    GOOD[0], b'{"reviewerID": "\\udc00\\ud800", "asin": "a", "unixReviewTime": 1}', GOOD[2])},
     expect="error", error=err(DFE, "{f0}:2", "invalid JSON"),
     skip=skipped(1, {"invalid JSON": 1}, interactions=2), why="a low surrogate before a high one")
case("json-surrogate-in-skipped-field", {"json/surrogate_skipped_field.json": lines(
    GOOD[0], b'{"reviewerID": "U9", "asin": "a", "unixReviewTime": 1, "reviewText": "x\\udfff"}', GOOD[2])},
     expect="ok", stats={"interactions": 3},
     why="skipped strings are checked for syntax but never decoded: a lone surrogate escape is grammatical JSON "
         "(RFC 8259 section 8.2; Python's json accepts it) and only matters where it is read")
case("json-bad-escape-in-skipped-field", {"json/bad_escape_skipped_field.json": lines(
    GOOD[0], b'{"reviewerID": "U9", "asin": "a", "unixReviewTime": 1, "reviewText": "x\\q"}', GOOD[2])},
     expect="error", error=err(DFE, "{f0}:2", "invalid JSON", "bad escape"),
     skip=skipped(1, {"invalid JSON": 1}, interactions=2), why="skipped fields are validated: \\q is no escape")
case("json-latin1", {"json/latin1.json": lines(
    GOOD[0], GOOD[1], b'{"reviewerID": "Jos\xe9", "asin": "a", "unixReviewTime": 1}', *GOOD[3:])},
     expect="error", error=err(DFE, "{f0}:3", "invalid UTF-8"),
     skip=skipped(1, {"invalid UTF-8": 1}, interactions=5), why="a Latin-1 byte in a UTF-8 file")
case("json-overlong-utf8", {"json/overlong_utf8.json": lines(
    GOOD[0], b'{"reviewerID": "U\xc0\xaf", "asin": "a", "unixReviewTime": 1}')},
     expect="error", error=err(DFE, "{f0}:2", "invalid UTF-8"),
     skip=skipped(1, {"invalid UTF-8": 1}, interactions=1), why="an overlong encoding of '/'")
case("json-raw-surrogate-bytes", {"json/raw_surrogate_bytes.json": lines(
    GOOD[0], b'{"reviewerID": "U\xed\xa0\x80", "asin": "a", "unixReviewTime": 1}')},
     expect="error", error=err(DFE, "{f0}:2", "invalid UTF-8"),
     skip=skipped(1, {"invalid UTF-8": 1}, interactions=1), why="a surrogate encoded as UTF-8 bytes (CESU-8)")
case("json-deep-nesting", {"json/deep_nesting.json": lines(
    GOOD[0], b'{"reviewerID": "U1", "asin": "a", "unixReviewTime": 1, "style": ' + b"[" * 4000 + b"]" * 4000 + b"}",
    GOOD[2])},
     expect="error", error=err(DFE, "{f0}:2", "invalid JSON", "nested deeper"),
     skip=skipped(1, {"invalid JSON": 1}, interactions=2), why="4000 levels in a skipped field: bounded, no stack overflow")
case("json-deep-nesting-objects", {"json/deep_nesting_objects.json": lines(
    GOOD[0], b'{"reviewerID": ' + b'{"x": ' * 2000 + b"1" + b"}" * 2000 + b', "asin": "a", "unixReviewTime": 1}')},
     expect="error", error=err(DFE, "{f0}:2", "invalid JSON"),
     skip=skipped(1, {"invalid JSON": 1}, interactions=1), why="deep objects in a wanted key")
case("json-ts-1e300", {"json/ts_1e300.json": lines(GOOD[0], b'{"reviewerID": "U1", "asin": "z", "unixReviewTime": 1e300}')},
     expect="error", error=err(DFE, "{f0}:2", "unixReviewTime", "out of range"),
     skip=skipped(1, {"invalid value": 1}, interactions=1), why="a timestamp beyond i64")
case("json-ts-i64-underflow", {"json/ts_underflow.json": lines(
    GOOD[0], b'{"reviewerID": "U1", "asin": "z", "unixReviewTime": -9223372036854775809}')},
     expect="error", error=err(DFE, "{f0}:2", "out of range"),
     skip=skipped(1, {"invalid value": 1}, interactions=1), why="one below i64::MIN")
case("json-ts-string", {"json/ts_string.json": lines(GOOD[0], rev("U1", "z", "1388534400"))},
     expect="error", error=err(DFE, "{f0}:2", '"unixReviewTime"', "string"),
     skip=skipped(1, {"wrong type": 1}, interactions=1), why="a timestamp as a string")
case("json-rating-string-number", {"json/rating_5_0_string.json": lines(GOOD[0], rev("U1", "z", 1, "5.0"))},
     expect="error", error=err(DFE, "{f0}:2", '"overall"', "string"),
     skip=skipped(1, {"wrong type": 1}, interactions=1), why='rating "5.0" as a string is not silently converted')
case("json-rating-string-word", {"json/rating_five_string.json": lines(GOOD[0], rev("U1", "z", 1, "five"))},
     expect="error", error=err(DFE, "{f0}:2", '"overall"', "string"),
     skip=skipped(1, {"wrong type": 1}, interactions=1), why='rating "five"')
case("json-rating-1e400", {"json/rating_1e400.json": lines(GOOD[0], b'{"reviewerID": "U1", "asin": "z", "unixReviewTime": 1, "overall": 1e400}')},
     expect="error", error=err(DFE, "{f0}:2", "overall", "out of range"),
     skip=skipped(1, {"invalid value": 1}, interactions=1), why="a rating that overflows f64")
case("json-duplicate-wanted-key", {"json/duplicate_key.json": lines(
    GOOD[0], b'{"reviewerID": "U1", "asin": "a", "asin": "b", "unixReviewTime": 1}')},
     expect="error", error=err(DFE, "{f0}:2", 'duplicate key "asin"'),
     skip=skipped(1, {"invalid JSON": 1}, interactions=1), why="which asin would be meant is unknowable")
case("json-user-number", {"json/user_number.json": lines(GOOD[0], b'{"reviewerID": 17, "asin": "a", "unixReviewTime": 1}')},
     expect="error", error=err(DFE, "{f0}:2", '"reviewerID"'),
     skip=skipped(1, {"wrong type": 1}, interactions=1))
case("json-empty-asin", {"json/empty_asin.json": lines(GOOD[0], rev("U1", ""))},
     expect="error", error=err(DFE, "{f0}:2", 'empty "asin"'),
     skip=skipped(1, {"invalid value": 1}, interactions=1))
case("json-trailing-garbage", {"json/trailing_garbage.json": lines(GOOD[0], GOOD[1] + b" }", GOOD[2])},
     expect="error", error=err(DFE, "{f0}:2", "invalid JSON"),
     skip=skipped(1, {"invalid JSON": 1}, interactions=2))
case("json-array-of-reviews", {"json/array.json": b"[" + b", ".join(GOOD) + b"]\n"},
     expect="error", error=err(DFE, "{f0}:1", "cannot tell the format"), skip="same",
     why="a JSON array instead of JSON lines is not guessed at")
case("json-array-forced", ["json/array.json"], fmt="amazon-json",
     expect="error", error=err(DFE, "{f0}:1", "a JSON array, expected an object"),
     skip={"expect": "error", "error": err(EMPTY, None, "no interaction records", "{f0}")},
     why="the same array with --format amazon-json: one bad line, nothing left")
case("json-nul-between-tokens", {"json/nul_between_tokens.json": lines(
    GOOD[0], b'{"reviewerID":\x00"U1", "asin": "a", "unixReviewTime": 1}')},
     expect="error", error=err(DFE, "{f0}:2", "invalid JSON"),
     skip=skipped(1, {"invalid JSON": 1}, interactions=1))
case("json-many-bad-lines", {"json/many_bad.json": lines(
    GOOD[0], b"{broken", GOOD[1], b'{"reviewerID": "U1"}', b"{broken again", GOOD[2])},
     expect="error", error=err(DFE, "{f0}:2", "invalid JSON"),
     skip=skipped(3, {"invalid JSON": 2, "missing field": 1}, interactions=3), why="bad lines counted by reason")

# whole-file problems
case("empty-file", {"misc/empty.json": b""}, expect="error",
     error=err(EMPTY, None, "no interaction records", "{f0}"), skip="same", why="a zero-byte file")
case("whitespace-only", {"misc/whitespace.json": b"\n  \n\t\r\n"}, expect="error",
     error=err(EMPTY, None, "no interaction records", "{f0}"), skip="same")
case("nul-bytes", {"misc/nul.bin": b"\x00" * 4096}, expect="error",
     error=err(DFE, "{f0}:1", "cannot tell the format"), skip="same", why="4 KB of NUL bytes")
case("nul-bytes-forced-json", ["misc/nul.bin"], fmt="amazon-json", expect="error",
     error=err(DFE, "{f0}:1", "invalid JSON"),
     skip={"expect": "error", "error": err(EMPTY, None, "no interaction records", "{f0}")},
     why="the NUL file forced to amazon-json: one bad line, nothing left")
case("nul-bytes-forced-seq", ["misc/nul.bin"], fmt="seq", expect="error",
     error=err(DFE, "{f0}:1", "is not a non-negative integer id"),
     skip={"expect": "error", "error": err(EMPTY, None, "no interaction records", "{f0}")})
case("binary-garbage", {"misc/garbage.bin": garbage(3000, 1).replace(b"\n", b"x")}, expect="error",
     error=err(DFE, "{f0}:1", "invalid UTF-8"),
     skip={"expect": "error", "error": err(EMPTY, None, "no interaction records", "{f0}", "bad 1")},
     why="3 KB of random bytes on one line: not UTF-8, so a bad line (skip: counted, then nothing is left)")
case("binary-garbage-forced-csv", ["misc/garbage.bin"], fmt="ratings-csv", expect="error",
     error=err(DFE, "{f0}:1"),
     skip={"expect": "error", "error": err(EMPTY, None, "no interaction records", "{f0}")})
case("binary-garbage-lines-forced-json", {"misc/garbage_lines.bin": garbage(4000, 2)}, fmt="amazon-json",
     expect="error", error=err(DFE, "{f0}:1"),
     skip={"expect": "error", "error": err(EMPTY, None, "no interaction records", "{f0}")},
     why="random bytes with their newlines: every line bad")
case("jpeg-named-json", {"misc/image.json": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + garbage(500, 3)},
     expect="error", error=err(DFE, "{f0}:1", "invalid UTF-8"),
     skip={"expect": "error", "error": err(EMPTY, None, "no interaction records", "{f0}")},
     why="an image with a .json name")
case("format-mismatch", ["json/good.json"], fmt="seq", expect="error",
     error=err(DFE, "{f0}:1", "is not a non-negative integer id"),
     skip={"expect": "error", "error": err(EMPTY, None, "no interaction records", "{f0}")},
     why="--format seq on a review file")

# ---------------------------------------------------------------- gzip
n = len(GZ)
for label, cut in (("in-header", 6), ("after-header", 10), ("in-deflate", n // 3), ("before-trailer", n - 8),
                   ("in-trailer", n - 4), ("last-byte", n - 1)):
    case(f"gzip-truncated-{label}", {f"gzip/truncated_{label}.json.gz": GZ[:cut]}, expect="error",
         error=err(DFE, None, "gzip"), skip="same",
         why=f"cut at byte {cut} of {n}: a truncated stream is an error, never an early end of file")
crc = bytearray(GZ)
crc[-8] ^= 0xFF
case("gzip-corrupt-crc", {"gzip/corrupt_crc.json.gz": bytes(crc)}, expect="error",
     error=err(DFE, None, "gzip"), skip="same", why="the trailer CRC32 does not match the data")
isize = bytearray(GZ)
isize[-3] ^= 0x01
case("gzip-corrupt-isize", {"gzip/corrupt_isize.json.gz": bytes(isize)}, expect="error",
     error=err(DFE, None, "gzip"), skip="same", why="the trailer length does not match")
flip = bytearray(GZ)
flip[n // 2] ^= 0x5A
case("gzip-flipped-body", {"gzip/flipped_body.json.gz": bytes(flip)}, expect="error",
     error=err(DFE, None, "gzip"), skip="same", why="one corrupted byte in the deflate data")
members = gz(lines(*GOOD[:2])) + gz(b"") + gz(lines(*GOOD[2:4])) + gz(lines(*GOOD[4:]))
case("gzip-concatenated-members", {"gzip/members.json.gz": members}, expect="ok", stats={"interactions": 6},
     why="four members (one empty) are one stream, like gzip -dc")
case("gzip-member-split-mid-line", {"gzip/members_mid_line.json.gz": gz(GOOD_BODY[:50]) + gz(GOOD_BODY[50:])},
     expect="ok", stats={"interactions": 6}, why="a member boundary inside a line")
case("gzip-second-member-truncated", {"gzip/members_truncated.json.gz": gz(lines(*GOOD[:3])) + gz(lines(*GOOD[3:]))[:-5]},
     expect="error", error=err(DFE, None, "gzip"), skip="same")
case("gzip-trailing-garbage", {"gzip/trailing_garbage.json.gz": GZ + b"garbage after the member\n"},
     expect="error", error=err(DFE, None, "gzip"), skip="same",
     why="bytes after the last member are not silently dropped")
case("gzip-trailing-zeros", {"gzip/trailing_zeros.json.gz": GZ + b"\x00" * 32},
     expect="error", error=err(DFE, None, "gzip"), skip="same", why="zero padding after the last member (tape blocks)")
case("gzip-empty-member", {"gzip/empty_member.json.gz": gz(b"")}, expect="error",
     error=err(EMPTY, None, "no interaction records"), skip="same")
case("gzip-zero-byte", {"gzip/zero_byte.json.gz": b""}, expect="error",
     error=err(EMPTY, None, "no interaction records"), skip="same", why="an empty file named .gz")
case("gzip-bad-line-inside", {"gzip/bad_line.json.gz": gz(lines(*GOOD[:3], b"{oops", *GOOD[3:]))}, expect="error",
     error=err(DFE, "{f0}:4", "invalid JSON"), skip=skipped(1, {"invalid JSON": 1}, interactions=6),
     why="line numbers count decompressed lines")
case("gzip-of-csv", {"gzip/ratings.csv.gz": gz(lines(*CSV))}, expect="ok", stats={"interactions": 4})

# ---------------------------------------------------------------- ratings-csv
case("csv-good", {"csv/good.csv": lines(*CSV)}, expect="ok", stats={"interactions": 4, "users": 2})
case("csv-crlf-bom", {"csv/crlf_bom.csv": b"\xef\xbb\xbf" + lines(*CSV).replace(b"\n", b"\r\n")}, expect="ok",
     stats={"interactions": 4})
case("csv-3-columns", {"csv/three_columns.csv": lines(CSV[0], b"b,U1,4.0", *CSV[2:])}, expect="error",
     error=err(DFE, "{f0}:2", "found 3 columns, expected 4"), skip=skipped(1, {"wrong column count": 1}, interactions=3))
case("csv-5-columns", {"csv/five_columns.csv": lines(*CSV[:3], b"c,U2,5,1388793600,extra")}, expect="error",
     error=err(DFE, "{f0}:4", "found 5 columns, expected 4"), skip=skipped(1, {"wrong column count": 1}, interactions=3),
     why="on the last line")
case("csv-rating-word", {"csv/rating_five.csv": lines(CSV[0], b"b,U1,five,1388620800")}, expect="error",
     error=err(DFE, "{f0}:2", "rating", "five"), skip=skipped(1, {"invalid value": 1}, interactions=1))
case("csv-quoted-fields", {"csv/quoted.csv": lines(CSV[0], b'"b","U1","5.0","1388620800"')}, expect="error",
     error=err(DFE, "{f0}:2", "rating"), skip=skipped(1, {"invalid value": 1}, interactions=1),
     why="quotes are not part of the Amazon ratings format")
case("csv-ts-out-of-range", {"csv/ts_huge.csv": lines(CSV[0], b"b,U1,5.0,99999999999999999999")}, expect="error",
     error=err(DFE, "{f0}:2", "timestamp", "out of range"), skip=skipped(1, {"invalid value": 1}, interactions=1))
case("csv-header-line", {"csv/with_header.csv": lines(b"item,user,rating,timestamp", *CSV)}, expect="error",
     fmt="ratings-csv", error=err(DFE, "{f0}:1", "header line", "ratings-csv has none", "--format table"),
     skip="same",
     why="the ratings CSV has no header; a header line is an error in both modes (session 6: it was a skippable "
         "bad line, and skipping it left a user,item,... file read with users and items swapped); detected, the "
         "file is a table (table-detected-item-user-header)")
case("csv-empty-fields", {"csv/empty_fields.csv": lines(CSV[0], b",,,")}, expect="error",
     error=err(DFE, "{f0}:2"), skip=skipped(1, {"invalid value": 1}, interactions=1))
case("csv-non-utf8", {"csv/non_utf8.csv": lines(CSV[0], b"b\xff,U1,5.0,1")}, expect="error",
     error=err(DFE, "{f0}:2", "invalid UTF-8"), skip=skipped(1, {"invalid UTF-8": 1}, interactions=1))

# ---------------------------------------------------------------- RecBole .inter
case("recbole-good", {"recbole/good.inter": lines(RECBOLE_HEADER, *RECBOLE)}, expect="ok",
     stats={"interactions": 4, "header_lines": 1})
case("recbole-crlf-bom", {"recbole/crlf_bom.inter": b"\xef\xbb\xbf" + lines(RECBOLE_HEADER, *RECBOLE).replace(b"\n", b"\r\n")},
     expect="ok", stats={"interactions": 4})
case("recbole-float-timestamps", {"recbole/float_ts.inter": lines(RECBOLE_HEADER, b"U1\ta\t5\t1.5", b"U1\tb\t4\t2.25")},
     expect="ok", stats={"interactions": 2, "timestamps_truncated": 2})
case("recbole-no-timestamp-column", {"recbole/no_ts.inter": lines(b"user_id:token\titem_id:token", b"U1\ta", b"U1\tb")},
     expect="ok", stats={"interactions": 2}, why="positions stand in for timestamps")
case("recbole-header-unknown-type", {"recbole/unknown_type.inter": lines(
    b"user_id:token\titem_id:token\trating:int\ttimestamp:float", *RECBOLE)},
     expect="error", error=err(DFE, "{f0}:1", "RecBole header"), skip="same",
     why="a header problem is never skippable")
case("recbole-header-unknown-type-name", {"recbole/unknown_type_name.inter": lines(
    b"user_id:token\titem_id:token\trating:bogus_type\ttimestamp:float", *RECBOLE)},
     expect="error", error=err(DFE, "{f0}:1", "RecBole header"), skip="same")
case("recbole-no-header", {"recbole/no_header.inter": lines(*RECBOLE)}, expect="error",
     error=err(DFE, "{f0}:1", "RecBole header"), skip="same")
case("recbole-wrong-columns", {"recbole/wrong_columns.inter": lines(RECBOLE_HEADER, *RECBOLE[:2], b"U2\ta\t3", RECBOLE[3])},
     expect="error", error=err(DFE, "{f0}:4"), skip=skipped(1, {"wrong column count": 1}, interactions=3))
case("recbole-header-only", {"recbole/header_only.inter": lines(RECBOLE_HEADER)}, expect="error",
     error=err(EMPTY, None, "no interaction records"), skip="same")

# ---------------------------------------------------------------- sequence lines
case("seq-good", {"seq/good.txt": lines(*SEQ)}, expect="ok", stats={"interactions": 8, "users": 3})
case("seq-all-too-short-for-split", {"seq/too_short.txt": b"1 5 6\n2 7\n"}, expect="ok",
     stats={"interactions": 3, "users": 2, "users_too_short_for_split": 2},
     why="no user has the 3 interactions leave-one-out needs: a valid dataset (readers and exports use it), the "
         "count is recorded (session 6)")
case("seq-tabs-and-spaces", {"seq/tabs.txt": b"1\t5  6\t 7\n2 6 7\r\n"}, expect="ok", stats={"interactions": 5},
     why="any ASCII whitespace separates")
case("seq-non-integer", {"seq/non_integer.txt": lines(SEQ[0], b"2 6 x7", SEQ[2])}, expect="error",
     error=err(DFE, "{f0}:2", '"x7"'), skip=skipped(1, {"invalid value": 1}, interactions=6))
case("seq-float", {"seq/float.txt": lines(SEQ[0], b"2 6.5 7")}, expect="error",
     error=err(DFE, "{f0}:2", '"6.5"'), skip=skipped(1, {"invalid value": 1}, interactions=3))
case("seq-negative", {"seq/negative.txt": lines(SEQ[0], b"2 -6")}, expect="error",
     error=err(DFE, "{f0}:2", '"-6"'), skip=skipped(1, {"invalid value": 1}, interactions=3))
case("seq-huge-id", {"seq/huge_id.txt": lines(SEQ[0], b"2 99999999999999999999999")}, expect="error",
     error=err(DFE, "{f0}:2"), skip=skipped(1, {"invalid value": 1}, interactions=3), why="beyond u64")
case("seq-user-only", {"seq/user_only.txt": lines(SEQ[0], b"2")}, expect="error",
     error=err(DFE, "{f0}:2", "no items"), skip=skipped(1, {"invalid value": 1}, interactions=3))

# ---------------------------------------------------------------- metadata (--meta)
META_REVIEWS = {"meta/reviews.json": lines(*[rev(f"U{k % 2}", f"i{k % 4}", 1_500_000_000 + k) for k in range(6)])}
case("meta-2020-schema", META_REVIEWS, meta={"meta/meta_2020.json": lines(*META_2020)}, expect="ok",
     stats={"interactions": 6, "meta.items_with_meta": 4}, why="2020 schema (image)")
case("meta-2021-schema-gz", ["meta/reviews.json"], meta={"meta/meta_2021.json.gz": gz(lines(*META_2021))},
     expect="ok", stats={"interactions": 6, "meta.items_with_meta": 4}, why="2021 schema (imageURL), gzip")
case("meta-unknown-schema", ["meta/reviews.json"], meta={"meta/unknown_schema.json": lines(
    json.dumps({"asin": "i0", "price": "$3", "rank": 5}).encode())},
     expect="error", error=err(DFE, "{m0}:1", "unknown metadata schema"), skip="same",
     why="no title, brand or main_cat: not metadata we know")
case("meta-is-a-review-file", ["meta/reviews.json"], meta=["meta/reviews.json"], expect="error",
     error=err(DFE, "{m0}:1", "unknown metadata schema"), skip="same", why="reviews given as --meta")
case("meta-given-as-input", ["meta/meta_2020.json"], expect="error", error=err(DFE, "{f0}:1", "--meta"),
     skip="same", why="metadata given as reviews")
case("meta-bad-line", ["meta/reviews.json"], meta={"meta/bad_line.json": lines(META_2020[0], META_2020[1], b"{broken", META_2020[3])},
     expect="error", error=err(DFE, "{m0}:3", "invalid JSON"),
     skip={"expect": "ok", "bad_lines": 0, "reasons": {}, "stats": {"meta.bad_lines": 1, "meta.items_with_meta": 3}},
     stats={"interactions": 6}, why="a bad metadata line is counted in stats.meta, not in the review counts")
case("meta-non-utf8", ["meta/reviews.json"], meta={"meta/non_utf8.json": lines(META_2020[0], META_2020[1].replace(b"Title", b"T\xe9tle"))},
     expect="error", error=err(DFE, "{m0}:2", "invalid UTF-8"),
     skip={"expect": "ok", "bad_lines": 0, "reasons": {}, "stats": {"meta.bad_lines": 1}}, stats={"interactions": 6})
case("meta-truncated-gzip", ["meta/reviews.json"], meta={"meta/truncated.json.gz": gz(lines(*META_2020) * 20)[:-7]},
     expect="error", error=err(DFE, "{m0}:", "gzip"), skip="same")

# ---------------------------------------------------------------- several inputs, paths
case("second-input-bad", ["json/good.json", "json/latin1.json"], expect="error",
     error=err(DFE, "{f1}:3", "invalid UTF-8"), skip=skipped(1, {"invalid UTF-8": 1}, interactions=11),
     why="the message names the file the bad line is in")
case("directory-as-input", [], setup="directory", expect="error", error=err(DFE, "{f0}:", "directory"),
     skip="same", why="a directory given as a file")
case("directory-as-meta", ["json/good.json"], setup="directory-meta", expect="error",
     error=err(DFE, "{m0}:", "directory"), skip="same")
case("missing-path", [], setup="missing", expect="error",
     error=err("FileNotFoundError", None, "{f0}", "no such file or directory"), skip="same")
case("unreadable-path", [], setup="unreadable", expect="error",
     error=err("OSError", None, "{f0}", "Permission denied"), skip="same",
     why="mode 000, read as an unprivileged user (root reads anything)")
case("single-line-100mb", [], setup="line-100mb", expect="ok", stats={"interactions": 2},
     why="a 100 MB review text on one line (generated at test time): read, not a bad line")
case("single-line-100mb-unterminated", [], setup="line-100mb-bad", expect="error",
     error=err(DFE, "{f0}:1", "invalid JSON"), skip=skipped(1, {"invalid JSON": 1}, interactions=1),
     why="the same line with its closing quote missing")


# ---------------------------------------------------------------- session 6: reader-side limits and messages
CSV_USER_FIRST = [b"U1,a,5.0,1388534400", b"U1,b,4.0,1388620800", b"U2,a,3.0,1388707200"]
case("csv-header-user-item", {"csv/header_user_item.csv": lines(b"user,item,rating,timestamp", *CSV_USER_FIRST)},
     expect="error", fmt="ratings-csv", error=err(DFE, "{f0}:1", "header line", "item,user,rating,timestamp",
                                                  "--format table"), skip="same",
     why="the common user,item layout with its header, forced to ratings-csv: refused (read positionally it would "
         "swap users and items); detected, it is a table (table-detected-user-item-header)")
case("csv-header-after-blank-bom", {"csv/header_after_blank.csv": b"\xef\xbb\xbf\n" + lines(
    b"userId,movieId,rating,timestamp", *CSV)}, expect="error", fmt="ratings-csv",
     error=err(DFE, "{f0}:2", "header line"), skip="same",
     why="a MovieLens-style header after a BOM and a blank line is still the first line")
case("csv-bad-first-line-not-header", {"csv/bad_first_line.csv": lines(b"a,U1,5.0,0x10", *CSV)}, expect="error",
     error=err(DFE, "{f0}:1", "timestamp"), skip=skipped(1, {"invalid value": 1}, interactions=4),
     why="a first line whose bad field is not a word stays a skippable bad line")
PARQUET = b"PAR1" + bytes(range(40)) + b"\x00\x00\x00\x00PAR1"
case("magic-parquet", {"misc/table.parquet": PARQUET}, expect="error",
     error=err(DFE, "{f0}:", "parquet"), skip="same",
     why="recognised by its magic bytes PAR1 and read as a table (issue 17): its footer is garbage, an error")
case("magic-parquet-named-json", {"misc/table.json": PARQUET}, fmt="amazon-json", expect="error",
     error=err(DFE, "{f0}:", "is a Parquet file", "table format"), skip="same",
     why="whatever the name says; forced to another format, refused by its magic bytes with the format that reads it")
case("magic-bzip2", {"misc/reviews.json.bz2": bz2.compress(GOOD_BODY)}, expect="error",
     error=err(DFE, "{f0}:", "is bzip2-compressed", "bunzip2 -k {f0}"), skip="same")
case("magic-xz", {"misc/reviews.json.xz": lzma.compress(GOOD_BODY, format=lzma.FORMAT_XZ)}, expect="error",
     error=err(DFE, "{f0}:", "is xz-compressed", "xz -dk {f0}"), skip="same")
case("magic-zstd", {"misc/reviews.json.zst": b"\x28\xb5\x2f\xfd" + bytes(range(24))}, expect="error",
     error=err(DFE, "{f0}:", "is zstd-compressed", "zstd -d {f0}"), skip="same",
     why="a zstd frame header (no zstd module in the standard library: the magic and junk)")
case("magic-zip", {"misc/reviews.zip": b"PK\x03\x04" + bytes(26) + b"reviews.json"}, expect="error",
     error=err(DFE, "{f0}:", "is a zip archive", "unzip"), skip="same")
case("magic-parquet-as-meta", ["meta/reviews.json"], meta=["misc/table.parquet"], expect="error",
     error=err(DFE, "{m0}:", "is a Parquet file"), skip="same", why="--meta is sniffed too")
case("magic-lookalike-text", {"csv/par1_item.csv": lines(b"PAR1,U1,5.0,1", b"PAR1x,U2,4.0,2"),
                              "csv/bzh_item.csv": lines(b"BZh91,U1,5.0,3", b"BZh9A,U3,4.0,4")},
     expect="ok", stats={"interactions": 4, "users": 3},
     why="text whose first id starts like a magic number (PAR1, BZh9) is read, not refused")
LONG = rev("U1", "a", 1, 5.0, reviewText="x" * 3000)
case("line-too-long", {"misc/long_line.json": lines(GOOD[0], LONG, GOOD[2])}, max_line_bytes=1000,
     expect="error", error=err(DFE, "{f0}:2", "line longer than 1000 bytes"), skip="same",
     why="a line over --max-line-bytes is an error in both modes (not a bad line: its end may be far away)")
case("line-too-long-unterminated", {"misc/long_last_line.json": lines(GOOD[0], LONG, end=b"")}, max_line_bytes=1000,
     expect="error", error=err(DFE, "{f0}:2", "line longer than 1000 bytes"), skip="same", why="the last line, no newline")
assert len(GOOD[0]) == len(GOOD[1])
case("line-at-the-limit", {"misc/limit_line.json": lines(GOOD[0], GOOD[1])}, max_line_bytes=len(GOOD[0]),
     expect="ok", stats={"interactions": 2}, why="a line of exactly N bytes (before its line feed) is accepted")
case("line-too-long-meta", ["meta/reviews.json"], meta={"meta/long_line.json": lines(META_2020[0], META_2020[1] + b" " * 2000)},
     max_line_bytes=1000, expect="error", error=err(DFE, "{m0}:2", "line longer than 1000 bytes"), skip="same")
case("gzip-bomb-one-line", {"gzip/bomb_one_line.json.gz": gz(b"a" * (8 << 20))}, max_line_bytes=1 << 20,
     expect="error", error=err(DFE, "{f0}:1", f"line longer than {1 << 20} bytes"), skip="same",
     why="8 MB of one line in an 8 KB gzip: stopped after 1 MiB, memory bounded by the limit")
case("meta-no-item-matched", ["meta/reviews.json"], meta={"meta/unmatched.json": lines(*[
    json.dumps({"asin": f"z{k}", "title": "T", "main_cat": "Beauty", "image": []}).encode() for k in range(3)])},
     expect="ok", stats={"interactions": 6, "meta.items": 3, "meta.items_with_meta": 0},
     why="metadata that matches no item is not an error; stats and the summary say 0 of N matched")
ENTITY_TITLE = "NUL &#0; sur &#xD800; big &#1114112; ctl &#1; tab &#9; ok &#65;&#x42; plus &#+67; amp &amp;"
case("meta-invalid-entities", ["meta/reviews.json"], meta={"meta/entities.json": lines(json.dumps(
    {"asin": "i0", "title": ENTITY_TITLE, "brand": "B", "main_cat": "Beauty", "image": []}).encode())},
     expect="ok", stats={"interactions": 6, "meta.items_with_meta": 1},
     why="entities of no character (&#0;, a surrogate, beyond U+10FFFF, C0 controls) stay literal text, never NUL")


# ---------------------------------------------------------------- issue 17: table (delimited text with a header)
T0 = 1_388_534_400  # 2014-01-01 in seconds
TABLE = [b"user_id,item_id,timestamp,rating", b"U1,a,%d,5" % T0, b"U1,b,%d,4" % (T0 + 1), b"U2,a,%d,3" % (T0 + 2),
         b"U2,c,%d,5.0" % (T0 + 3)]
case("table-good", {"table/good.csv": lines(*TABLE)}, expect="ok",
     stats={"interactions": 4, "users": 2, "header_lines": 1, "lines_read": 5},
     why="the file a new user has: a header of common names, read by name")
case("table-tsv", {"table/good.tsv": lines(b"userId\tmovieId\trating\ttimestamp", b"1\t10\t4\t%d" % T0,
                                           b"1\t11\t3.5\t%d" % (T0 + 9), b"2\t10\t5\t%d" % T0)},
     expect="ok", stats={"interactions": 3, "users": 2}, why="tab-separated, detected from the header")
case("table-semicolon-no-rating", {"table/semicolon.csv": lines(b"user;item;time", b"U1;a;%d" % T0, b"U2;a;%d" % T0)},
     expect="ok", stats={"interactions": 2}, why="semicolons (European spreadsheets); no rating column: null ratings")
case("table-no-time-column", {"table/no_time.csv": lines(b"user,item", b"U1,a", b"U1,b", b"U2,a")}, expect="ok",
     stats={"interactions": 3, "timestamps_from_position": 3}, why="no time column: the record's position")
case("table-quoted-newline", {"table/quoted_newline.csv": lines(
    b"user_id,item_id,title,timestamp", b'U1,a,"line one\nline two",%d' % T0, b'U1,b,"x",%d' % (T0 + 1),
    b'U2,a,"three\r\nlines\nhere",%d' % (T0 + 2), b"U2,c,plain,%d" % (T0 + 3))},
     expect="ok", stats={"interactions": 4, "lines_read": 5, "data_lines": 4},
     why="RFC 4180: a line break inside a quoted field belongs to the field; the record counts as one line")
case("table-quoted-newline-bad-after", {"table/quoted_newline_bad.csv": lines(
    b"user_id,item_id,title,timestamp", b'U1,a,"line one\nline two\nline three",%d' % T0, b"U1,b,x,later")},
     expect="error", error=err(DFE, "{f0}:5", "neither an integer nor an ISO-8601"),
     skip=skipped(1, {"invalid value": 1}, interactions=1),
     why="line numbers are physical lines: the bad record after a three-line record is on line 5")
case("table-delimiter-in-quoted-id", {"table/quoted_id.csv": lines(
    b"user_id,item_id,timestamp", b'"Smith, J.",a,%d' % T0, b'"Smith, J.",b,%d' % T0, b'Smith,c,%d' % T0)},
     expect="ok", stats={"interactions": 3, "users": 2}, why="a delimiter inside a quoted id is part of the id")
case("table-escaped-quotes", {"table/escaped_quotes.csv": lines(
    b"user_id,item_id,timestamp", b'"say ""hi""",a,%d' % T0, b'"say ""hi""",b,%d' % T0)},
     expect="ok", stats={"interactions": 2, "users": 1}, why="a doubled quote inside quotes is one quote")
case("table-unterminated-quote", {"table/unterminated.csv": lines(
    b"user_id,item_id,timestamp", b"U1,a,%d" % T0, b'U1,"b,%d' % T0, b"U2,a,%d" % T0, b"U2,c,%d" % T0)},
     expect="error", error=err(DFE, "{f0}:3", "unterminated quoted field"), skip="same",
     why="a quote never closed swallows the rest of the file: an error in both modes, never a silent loss")
case("table-quote-inside-unquoted-field", {"table/stray_quote.csv": lines(
    b"user_id,item_id,title,timestamp", b"U1,a,ok,%d" % T0, b'U1,b,12"x6" frame,%d' % T0, b"U2,a,ok,%d" % T0)},
     expect="error", error=err(DFE, "{f0}:3", "double quote inside an unquoted field"),
     skip=skipped(1, {"invalid quoting": 1}, interactions=2), why="RFC 4180 wants such a field quoted")
case("table-text-after-closing-quote", {"table/after_quote.csv": lines(
    b"user_id,item_id,timestamp", b'"U1"x,a,%d' % T0, b"U2,a,%d" % T0)},
     expect="error", error=err(DFE, "{f0}:2", "after the closing quote"),
     skip=skipped(1, {"invalid quoting": 1}, interactions=1))
case("table-bom-crlf-blank-lines", {"table/bom_crlf.csv": b"\xef\xbb\xbf" + lines(
    TABLE[0], TABLE[1], b"", TABLE[2], b"  ", *TABLE[3:]).replace(b"\n", b"\r\n")},
     expect="ok", stats={"interactions": 4, "blank_lines": 2, "header_lines": 1},
     why="a BOM before the header, CRLF line ends, blank lines")
case("table-gzip", {"table/good.csv.gz": gz(lines(*TABLE))}, expect="ok", stats={"interactions": 4})
case("table-wrong-column-count", {"table/wrong_count.csv": lines(*TABLE[:2], b"U1,b,%d" % T0, *TABLE[3:])},
     expect="error", error=err(DFE, "{f0}:3", "found 3 columns, the header has 4"),
     skip=skipped(1, {"wrong column count": 1}, interactions=3))
case("table-missing-user-column", {"table/no_user.csv": lines(b"customer,product,ts", b"c1,p1,1")}, fmt="table",
     expect="error", error=err(DFE, "{f0}:1", "no user column", "--columns"), skip="same",
     why="no column of a known user name: an error asking for --columns")
case("table-no-header", {"table/no_header.csv": lines(b"1,2,%d" % T0, b"1,3,%d" % T0)}, fmt="table",
     expect="error", error=err(DFE, "{f0}:1", "needs a header line"), skip="same", why="a table needs a header")
case("table-columns-given", {"table/custom_names.csv": lines(b"customer,product,when,score", b"c1,p1,%d,4" % T0,
                                                              b"c1,p2,%d,2" % T0)},
     columns="user=customer,item=product,time=when,rating=score", expect="ok",
     stats={"interactions": 2, "users": 1}, why="--columns names every role")
case("table-columns-given-absent", ["table/custom_names.csv"], columns="user=client,item=product", expect="error",
     error=err(DFE, "{f0}:1", 'no column "client"'), skip="same", why="a --columns name the header lacks")
case("table-duplicate-column", {"table/duplicate_column.csv": lines(
    b"user_id,item_id,user_id,timestamp", b"U1,a,U9,%d" % T0)}, expect="error",
     error=err(DFE, "{f0}:1", "more than once"), skip="same", why="a chosen column named twice is ambiguous")
case("table-duplicate-unused-column", {"table/duplicate_unused.csv": lines(
    b"user_id,item_id,note,note,timestamp", b"U1,a,x,y,%d" % T0)}, expect="ok", stats={"interactions": 1},
     why="a column named twice that is not read does not matter")
case("table-colon-delimiter-undetected", {"table/colon.txt": lines(b"user_id:item_id:timestamp", b"U1:a:%d" % T0)},
     fmt="table", expect="error", error=err(DFE, "{f0}:1", "cannot tell the delimiter", "--delimiter"), skip="same")
case("table-colon-delimiter-given", ["table/colon.txt"], fmt="table", delimiter=":", expect="ok",
     stats={"interactions": 1}, why="--delimiter reads what detection cannot")
case("table-header-unterminated-quote", {"table/header_quote.csv": lines(b'"user_id,item_id,timestamp',
                                                                         b"U1,a,%d" % T0)},
     fmt="table", expect="error", error=err(DFE, "{f0}:1", "invalid header line"), skip="same")
case("table-header-only-no-line-feed", {"table/header_only.csv": b"user_id,item_id,timestamp"}, expect="error",
     error=err(EMPTY, None, "no interaction records", "{f0}"), skip="same",
     why="a header with no line feed after it (the whole file one line) is the header, not a record (a fuzzer find)")
case("table-iso-dates", {"table/iso_dates.csv": lines(
    b"user_id,item_id,date", b"U1,a,2014-01-01", b"U1,b,2014-01-01T10:00:00Z", b"U1,c,2014-01-01 12:00:00+02:00",
    b"U1,d,2014-01-02T00:00:00.250")},
     expect="ok", stats={"interactions": 4, "timestamps_truncated": 1},
     why="ISO-8601 dates and date-times, converted to seconds (UTC; the fraction dropped and counted)")
case("table-time-unknown-format", {"table/us_dates.csv": lines(b"user_id,item_id,date", b"U1,a,2014-01-01",
                                                               b"U1,b,01/02/2014", b"U2,a,2014-01-03")},
     expect="error", error=err(DFE, "{f0}:3", "neither an integer nor an ISO-8601"),
     skip=skipped(1, {"invalid value": 1}, interactions=2), why="a date in another order is not guessed")
case("table-milliseconds", {"table/ms.csv": lines(b"user_id,item_id,timestamp", b"U1,a,%d" % (T0 * 1000),
                                                  b"U1,b,%d" % (T0 * 1000 + 1))},
     expect="ok", stats={"interactions": 2}, why="a first time of at least 10^11: the column is milliseconds")
case("table-ms-among-seconds", {"table/ms_among_s.csv": lines(b"user_id,item_id,timestamp", b"U1,a,%d" % T0,
                                                              b"U1,b,%d" % (T0 * 1000), b"U2,a,%d" % T0)},
     expect="error", error=err(DFE, "{f0}:3", "more than 100 years from now", "milliseconds in a seconds"),
     skip=skipped(1, {"invalid value": 1}, interactions=2),
     why="a seconds/milliseconds mix-up is a counted bad value, not a date in the year 45,970")
case("table-seconds-among-ms", {"table/s_among_ms.csv": lines(b"user_id,item_id,timestamp", b"U1,a,%d" % (T0 * 1000),
                                                              b"U1,b,%d" % T0)},
     expect="error", error=err(DFE, "{f0}:3", "a time in seconds?"), skip=skipped(1, {"invalid value": 1}, interactions=1))
case("table-far-future", {"table/far_future.csv": lines(b"user_id,item_id,timestamp", b"U1,a,%d" % T0,
                                                        b"U1,b,41024448000")},
     expect="error", error=err(DFE, "{f0}:3", "more than 100 years from now"),
     skip=skipped(1, {"invalid value": 1}, interactions=1), why="the year 3270")
case("table-empty-time", {"table/empty_time.csv": lines(b"user_id,item_id,timestamp", b"U1,a,%d" % T0, b"U1,b,")},
     expect="error", error=err(DFE, "{f0}:3", "empty time"), skip=skipped(1, {"invalid value": 1}, interactions=1))
case("table-non-utf8", {"table/latin1.csv": lines(b"user_id,item_id,timestamp", b"Jos\xe9,a,%d" % T0,
                                                  b"U1,b,%d" % T0)},
     expect="error", error=err(DFE, "{f0}:2", "invalid UTF-8"), skip=skipped(1, {"invalid UTF-8": 1}, interactions=1))
case("table-detected-user-item-header", ["csv/header_user_item.csv"], expect="ok",
     stats={"interactions": 3, "users": 2}, why="the file issue 17 is about: user,item,rating,timestamp with a header")
case("table-detected-item-user-header", ["csv/with_header.csv"], expect="ok", stats={"interactions": 4, "users": 2},
     why="item,user,rating,timestamp with a header: read by name, so nothing is swapped")
case("table-columns-on-json", ["json/good.json"], columns="user=reviewerID,item=asin", expect="error",
     error=err(DFE, "{f0}:", "--columns applies to the table format"), skip="same",
     why="an option that would be ignored is refused")

# ---------------------------------------------------------------- issue 17: Parquet tables (written by pyarrow)


def parquet(columns: dict, **kw) -> bytes:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table(columns), buf, compression=kw.pop("compression", "snappy"), **kw)
    return buf.getvalue()


def parquet_files() -> dict:
    import pyarrow as pa

    good = parquet({"user_id": ["U1", "U1", "U2", "U2"], "parent_asin": ["a", "b", "a", "c"],
                    "timestamp": pa.array([T0, T0 + 1, T0 + 2, T0 + 3], pa.int64()),
                    "rating": pa.array([5.0, 4.0, None, 5.0], pa.float64()), "text": ["x", "y", "z", "w"]})
    return {
        "good": good,
        "typed": parquet({"userId": pa.array([1, 1, 2], pa.int32()), "movieId": pa.array([10, 11, 10], pa.uint64()),
                          "time": pa.array([T0 * 1000, T0 * 1000 + 1500, T0 * 1000], pa.timestamp("ms")),
                          "stars": pa.array([4, 3, 5], pa.int8())}, compression="zstd", row_group_size=2),
        "dates": parquet({"user": ["U1", "U2"], "item": ["a", "a"], "date": pa.array([16071, 16072], pa.date32())}),
        "wrong_types": parquet({"user_id": [1.5, 2.5], "item_id": ["a", "b"]}),
        "null_user": parquet({"user_id": ["U1", None, "U2"], "item_id": ["a", "b", "c"],
                              "timestamp": pa.array([T0, T0, T0], pa.int64())}),
        "truncated": good[: len(good) // 2],
        "no_user": parquet({"customer": ["c"], "item_id": ["a"]}),
    }


PQ = parquet_files()
case("parquet-good", {"parquet/good.parquet": PQ["good"]}, expect="ok",
     stats={"interactions": 4, "users": 2, "lines_read": 4},
     why="a Parquet table read by name (parent_asin is an item name), a null rating is NaN, other columns skipped")
case("parquet-typed-columns", {"parquet/typed.parquet": PQ["typed"]}, expect="ok",
     stats={"interactions": 3, "timestamps_truncated": 1, "inputs.0.columns": "user=userId,item=movieId,time=time,"
            "rating=stars (time in s)"},
     why="integer ids (int32, uint64), a TIMESTAMP(ms) converted to seconds (a fraction dropped, counted), an "
         "int8 rating, zstd, two row groups")
case("parquet-date-column", {"parquet/dates.parquet": PQ["dates"]}, expect="ok", stats={"interactions": 2},
     why="a DATE column: days, converted to seconds")
case("parquet-wrong-column-types", {"parquet/wrong_types.parquet": PQ["wrong_types"]}, expect="error",
     error=err(DFE, "{f0}:", "user column user_id has type Float64"), skip="same",
     why="a float user id is refused by type, whatever the values")
case("parquet-null-user", {"parquet/null_user.parquet": PQ["null_user"]}, expect="error",
     error=err(DFE, "{f0}:2", "row 1", "user is null"), skip=skipped(1, {"invalid value": 1}, interactions=2),
     why="a null in the user column is a bad row (row numbers are 0-based, the line 1-based)")
case("parquet-truncated", {"parquet/truncated.parquet": PQ["truncated"]}, expect="error",
     error=err(DFE, "{f0}:", "parquet"), skip="same", why="the first half of a file: no footer")
case("parquet-no-user-column", {"parquet/no_user.parquet": PQ["no_user"]}, expect="error",
     error=err(DFE, "{f0}:", "no user column"), skip="same")
case("parquet-forced-other-format", ["parquet/good.parquet"], fmt="ratings-csv", expect="error",
     error=err(DFE, "{f0}:", "is a Parquet file", "table format"), skip="same")

# ---------------------------------------------------------------- issue 17: Amazon Reviews 2023


def rev23(user="U1", parent="P1", asin="A1", ts=T0 * 1000, rating=5.0, **extra) -> bytes:
    d = {"rating": rating, "title": "Great", "text": "Long text " * 20,
         "images": [{"small_image_url": "https://x/s.jpg", "large_image_url": "https://x/l.jpg"}],
         "asin": asin, "parent_asin": parent, "user_id": user, "timestamp": ts, "helpful_vote": 0,
         "verified_purchase": True}
    d.update(extra)
    return json.dumps(d).encode()


A23 = [rev23("U1", "P1", "A1", T0 * 1000), rev23("U1", "P2", "A2", T0 * 1000 + 5), rev23("U2", "P1", "A3", T0 * 1000 + 9),
       rev23("U2", "P1", "A1", T0 * 1000 + 10, 3.0)]
META23 = [json.dumps({"main_category": "All Beauty", "title": f"T{p} &amp; co", "average_rating": 4.5,
                      "rating_number": 10, "features": [], "images": [], "store": "S", "categories": [],
                      "details": {"Brand": "B"}, "parent_asin": p, "bought_together": None}).encode() for p in ("P1", "P2")]
case("amazon23-good", {"amazon23/All_Beauty.jsonl": lines(*A23)}, expect="ok",
     stats={"interactions": 4, "users": 2, "items": 2},
     why="user_id, parent_asin, timestamp (ms), rating; text and images skipped")
case("amazon23-item-key-asin", ["amazon23/All_Beauty.jsonl"], item_key="asin", expect="ok",
     stats={"interactions": 4, "items": 3}, why="--item-key asin: the variants are the items")
case("amazon23-gzip", {"amazon23/All_Beauty.jsonl.gz": gz(lines(*A23))}, expect="ok", stats={"interactions": 4})
case("amazon23-seconds-timestamp", {"amazon23/seconds.jsonl": lines(A23[0], rev23("U1", "P2", ts=T0), A23[2])},
     expect="error", error=err(DFE, "{f0}:2", "timestamp", "a time in seconds?"),
     skip=skipped(1, {"invalid value": 1}, interactions=2), why="a time in seconds among milliseconds")
case("amazon23-missing-parent-asin", {"amazon23/no_parent.jsonl": lines(
    A23[0], json.dumps({"user_id": "U1", "asin": "A9", "timestamp": T0 * 1000, "rating": 1.0}).encode(), A23[2])},
     fmt="amazon23", expect="error", error=err(DFE, "{f0}:2", 'missing field "parent_asin"'),
     skip=skipped(1, {"missing field": 1}, interactions=2))
case("amazon23-timestamp-string", {"amazon23/ts_string.jsonl": lines(A23[0], rev23(ts="1388534400000"))},
     expect="error", error=err(DFE, "{f0}:2", '"timestamp" is a string'), skip=skipped(1, {"wrong type": 1}, interactions=1))
case("amazon23-bad-skipped-field", {"amazon23/bad_images.jsonl": lines(A23[0], A23[1].replace(b'"images": [', b'"images": [,'))},
     expect="error", error=err(DFE, "{f0}:2", "invalid JSON"), skip=skipped(1, {"invalid JSON": 1}, interactions=1),
     why="skipped fields are validated too")
case("amazon23-meta-join", ["amazon23/All_Beauty.jsonl"], meta={"amazon23/meta_All_Beauty.jsonl": lines(*META23)},
     expect="ok", stats={"interactions": 4, "meta.items_with_meta": 2},
     why="meta_*.jsonl joined by parent_asin: title, store (as brand), main_category (as main_cat)")
case("amazon23-meta-as-input", ["amazon23/meta_All_Beauty.jsonl"], expect="error", error=err(DFE, "{f0}:1", "--meta"),
     skip="same")
case("amazon23-item-key-on-csv", ["table/good.csv"], item_key="asin", expect="error",
     error=err(DFE, "{f0}:", "--item-key applies to the amazon23 format"), skip="same")

# ---------------------------------------------------------------- issue 17: MovieLens
ML_DAT = [b"1::1193::5::978300760", b"1::661::3::978302109", b"2::1193::4::978298413"]
case("movielens-dat", {"movielens/ratings.dat": lines(*ML_DAT)}, expect="ok", stats={"interactions": 3, "users": 2},
     why="ML-1M's ratings.dat")
case("movielens-csv", {"movielens/ratings.csv": lines(b"userId,movieId,rating,timestamp", b"1,1,4.0,964982703",
                                                      b"1,3,4.0,964981247", b"2,1,2.5,964982224")},
     expect="ok", stats={"interactions": 3, "header_lines": 1}, why="ML-20M and later: ratings.csv with its header")
case("movielens-dat-colons-in-field", {"movielens/colons.dat": lines(ML_DAT[0], b"1::Toy::Story::5::978300760", ML_DAT[2])},
     expect="error", error=err(DFE, "{f0}:2", "found 5 '::'-separated fields"),
     skip=skipped(1, {"wrong column count": 1}, interactions=2))
case("movielens-movies-dat-title-with-colons", {"movielens/movies.dat": lines(
    b"2::Jumanji:: The Game (1995)::Adventure", b"1::Toy Story (1995)::Animation|Children's")}, fmt="movielens",
     expect="error", error=err(DFE, "{f0}:1", "Rating"),
     skip={"expect": "error", "error": err(EMPTY, None, "no interaction records", "bad 2")},
     why="movies.dat given as ratings, its first title holding '::': four fields, but the rating is text (and the "
         "other lines have three fields: skipping them all leaves nothing)")
case("movielens-movies-dat", {"movielens/movies3.dat": lines(b"1::Toy Story (1995)::Animation")}, fmt="movielens",
     expect="error", error=err(DFE, "{f0}:1", "movies.dat"), skip="same")
case("movielens-ms-timestamp", {"movielens/ms.dat": lines(ML_DAT[0], b"1::661::3::978302109000")}, expect="error",
     error=err(DFE, "{f0}:2", "more than 100 years from now"), skip=skipped(1, {"invalid value": 1}, interactions=1))
case("movielens-u-data", {"movielens/u.data": lines(b"196\t242\t3\t881250949", b"186\t302\t3\t891717742",
                                                   b"196\t377\t1\t878887116")},
     expect="ok", stats={"interactions": 3, "users": 2, "header_lines": 0},
     why="ML-100K's u.data (tab-separated user, item, rating, time; no header): detected as MovieLens, not as "
         "sequence lines (four integers fit those too)")
case("movielens-u-data-bad-rating", {"movielens/u_bad.data": lines(b"196\t242\t3\t881250949",
                                                              b"186\t302\tx\t891717742")}, expect="error",
     error=err(DFE, "{f0}:2", "rating"), skip=skipped(1, {"invalid value": 1}, interactions=1))
case("movielens-tags-csv", {"movielens/tags.csv": lines(b"userId,movieId,tag,timestamp", b"2,60756,funny,1445714994")},
     fmt="movielens", expect="error", error=err(DFE, "{f0}:1", "not a MovieLens ratings file"), skip="same")

# ---------------------------------------------------------------- issue 17: Yelp


def yelp(user="u1", biz="b1", stars=5.0, date="2016-07-15 19:38:16", **extra) -> bytes:
    d = {"review_id": "r", "user_id": user, "business_id": biz, "stars": stars, "useful": 0, "funny": 0,
         "cool": 0, "text": "Tasty.", "date": date}
    d.update(extra)
    return json.dumps(d).encode()


YELP = [yelp("u1", "b1"), yelp("u1", "b2", 4.0, "2016-07-16 10:00:00"), yelp("u2", "b1", 1.0, "2017-01-01 00:00:00")]
case("yelp-good", {"yelp/review.json": lines(*YELP)}, expect="ok", stats={"interactions": 3, "users": 2})
case("yelp-date-without-seconds", {"yelp/no_seconds.json": lines(YELP[0], yelp("u1", "b3", date="2016-07-17 08:30"))},
     expect="ok", stats={"interactions": 2}, why="HH:MM without seconds is ISO-8601 too: read as :00")
case("yelp-bad-date", {"yelp/bad_date.json": lines(YELP[0], yelp("u1", "b3", date="07/17/2016"), YELP[2])},
     expect="error", error=err(DFE, "{f0}:2", "date", "neither an integer nor an ISO-8601"),
     skip=skipped(1, {"invalid value": 1}, interactions=2))
case("yelp-business-json", {"yelp/business.json": lines(json.dumps(
    {"business_id": "b1", "name": "Cafe", "stars": 4.5, "review_count": 3}).encode())}, expect="error",
     error=err(DFE, "{f0}:1", "business.json"), skip="same")


def write(root: Path) -> None:
    """Writes every corpus file and cases.json under ``root``."""
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    for rel, data in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / "cases.json").write_text(json.dumps(CASES, indent=1) + "\n")


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    for sub in ("json", "misc", "gzip", "csv", "recbole", "seq", "meta", "table", "parquet", "amazon23", "movielens",
                "yelp"):
        if (target / sub).is_dir():
            shutil.rmtree(target / sub)
    write(target)
    total = sum(len(d) for d in FILES.values())
    print(f"{len(CASES)} cases, {len(FILES)} files, {total / 1024:.1f} KB in {target}")
