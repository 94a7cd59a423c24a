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
- ``max_line_bytes``: the ``--max-line-bytes`` to run with (null: the default, 256 MiB).

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
         max_line_bytes=None):
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
    if max_line_bytes is not None:
        entry["max_line_bytes"] = max_line_bytes
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
     error=err(DFE, "{f0}:1", "header line", "ratings-csv has none"), skip="same",
     why="the ratings CSV has no header; a header line is an error in both modes (session 6: it was a skippable "
         "bad line, and skipping it left a user,item,... file read with users and items swapped)")
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
     expect="error", error=err(DFE, "{f0}:1", "header line", "item,user,rating,timestamp", "issue 17"), skip="same",
     why="the common user,item layout with its header: refused (read positionally it would swap users and items)")
case("csv-header-after-blank-bom", {"csv/header_after_blank.csv": b"\xef\xbb\xbf\n" + lines(
    b"userId,movieId,rating,timestamp", *CSV)}, expect="error", error=err(DFE, "{f0}:2", "header line"), skip="same",
     why="a MovieLens-style header after a BOM and a blank line is still the first line")
case("csv-bad-first-line-not-header", {"csv/bad_first_line.csv": lines(b"a,U1,5.0,0x10", *CSV)}, expect="error",
     error=err(DFE, "{f0}:1", "timestamp"), skip=skipped(1, {"invalid value": 1}, interactions=4),
     why="a first line whose bad field is not a word stays a skippable bad line")
PARQUET = b"PAR1" + bytes(range(40)) + b"\x00\x00\x00\x00PAR1"
case("magic-parquet", {"misc/table.parquet": PARQUET}, expect="error",
     error=err(DFE, "{f0}:", "is a Parquet file", "convert to CSV/JSON lines"), skip="same",
     why="recognised by its magic bytes PAR1 and named")
case("magic-parquet-named-json", {"misc/table.json": PARQUET}, expect="error",
     error=err(DFE, "{f0}:", "is a Parquet file"), skip="same", why="whatever the name says")
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
    for sub in ("json", "misc", "gzip", "csv", "recbole", "seq", "meta"):
        if (target / sub).is_dir():
            shutil.rmtree(target / sub)
    write(target)
    total = sum(len(d) for d in FILES.values())
    print(f"{len(CASES)} cases, {len(FILES)} files, {total / 1024:.1f} KB in {target}")
