"""A slow, independent, pure-Python oracle for ``slmrec.prepare`` (the tests compare against it exactly).

It follows the spec of the data-preparation issue, not the Rust code: readers built on ``json.loads``,
``str.split`` and ``gzip``; the three recipes written as the plain loops the spec describes; ids numbered
over the sorted raw ids; each user's rows ordered by (timestamp, input order). Formats are given by the
caller (no detection here), so the Rust auto-detection is checked against an explicit choice.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import html
import io
import json
import math
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BOM = b"\xef\xbb\xbf"
ASCII_WS = b" \t\n\r\x0c"
INT_RE = re.compile(r"[+-]?[0-9]+\Z")
FLOAT_RE = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
JSON_KEYS = ("reviewerID", "asin", "unixReviewTime", "overall")
RECBOLE_TYPES = {"token", "token_seq", "float", "float_seq"}


class Bad(Exception):
    """A bad line: ``reason`` is the category counted in stats."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(detail or reason)
        self.reason = reason


class Num(str):
    """A JSON number, kept as its text (so ints and floats are told apart from strings)."""


def lines_of(path) -> list[bytes]:
    """The lines of a file (gzip or plain, multi-member gzip too), without their newline or CR; BOM removed."""
    data = Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    parts = data.split(b"\n")
    if parts[-1] == b"":
        parts.pop()
    out = []
    for no, raw in enumerate(parts, 1):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if no == 1 and raw.startswith(BOM):
            raw = raw[3:]
        out.append(raw)
    return out


def data_lines(path, out):
    """The non-blank lines of a file with their 1-based numbers, counting every line and the blank ones in
    ``out`` (a :class:`Read`)."""
    for no, line in enumerate(lines_of(path), 1):
        out.lines_read += 1
        if line.strip(ASCII_WS) == b"":
            out.blank_lines += 1
            continue
        yield no, line


def parse_ts(text: str) -> int:
    if INT_RE.match(text) and -(2**63) <= int(text) < 2**63:
        return int(text)
    if not FLOAT_RE.match(text):
        raise Bad("invalid value", f"timestamp {text!r} is not a number")
    v = float(text)
    if not math.isfinite(v) or abs(v) >= 9.0e18:
        raise Bad("invalid value", f"timestamp {text!r} is out of range")
    return math.floor(v)


def parse_rating(text: str) -> float:
    if not FLOAT_RE.match(text):
        raise Bad("invalid value", f"rating {text!r} is not a number")
    v = np.float32(float(text))
    if not np.isfinite(v):
        raise Bad("invalid value", f"rating {text!r} is out of range")
    return float(v)


def _pairs(pairs):
    d = dict(pairs)
    d["__dups__"] = {k for k, n in Counter(k for k, _ in pairs).items() if n > 1}
    return d


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def parse_json_object(text: str) -> dict:
    try:
        obj = json.loads(
            text, parse_int=Num, parse_float=Num, parse_constant=_no_constant, object_pairs_hook=_pairs, strict=False
        )
    except (ValueError, RecursionError) as e:  # the Rust scanner bounds nesting at 512, Python near 1000
        raise Bad("invalid JSON", str(e)) from None
    if not isinstance(obj, dict):
        raise Bad("invalid JSON", "not an object")
    return obj


def read_amazon_json(text: str):
    obj = parse_json_object(text)
    if obj["__dups__"] & set(JSON_KEYS):
        raise Bad("invalid JSON", "duplicate key")
    ids = []
    for key in ("reviewerID", "asin"):
        v = obj.get(key)
        if key not in obj:
            raise Bad("missing field", key)
        if not isinstance(v, str) or isinstance(v, Num):
            raise Bad("wrong type", key)
        if v == "":
            raise Bad("invalid value", key)
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise Bad("invalid JSON", "lone surrogate") from None
        ids.append(v)
    if "unixReviewTime" not in obj:
        raise Bad("missing field", "unixReviewTime")
    t = obj["unixReviewTime"]
    if not isinstance(t, Num):
        raise Bad("wrong type", "unixReviewTime")
    ts = parse_ts(t)
    r = obj.get("overall")
    if r is None:
        rating = math.nan
    elif isinstance(r, Num):
        rating = parse_rating(r)
    else:
        raise Bad("wrong type", "overall")
    return [(ids[0], ids[1], ts, rating)]


def read_csv(text: str):
    cols = text.split(",")
    if len(cols) != 4:
        raise Bad("wrong column count")
    item, user, rating, ts = (c.strip() for c in cols)
    if not item or not user:
        raise Bad("invalid value", "empty id")
    rating = parse_rating(rating)
    return [(user, item, parse_ts(ts), rating)]


def csv_header(text: str) -> bool:
    """Whether the first line of a ratings CSV is a header line (an error in both modes): four columns whose
    rating or timestamp is a word (starts with an ASCII letter, not a number)."""
    cols = [c.strip() for c in text.split(",")]
    if len(cols) != 4:
        return False

    def word(s: str) -> bool:
        if not (s[:1].isascii() and s[:1].isalpha()):
            return False
        try:
            float(s)
        except ValueError:
            return True
        return False

    return word(cols[2]) or word(cols[3])


def read_seq(text: str):
    toks = re.findall(r"[^ \t\n\r\x0c]+", text)
    for tok in toks:
        if not re.fullmatch(r"\+?[0-9]+", tok) or int(tok) >= 2**64:
            raise Bad("invalid value", f"{tok!r} is not a non-negative integer id")
    if len(toks) < 2:
        raise Bad("invalid value", "a user with no items")
    return [(toks[0], item, pos, math.nan) for pos, item in enumerate(toks[1:])]


def recbole_header(text: str) -> dict:
    cols = {}
    for i, col in enumerate(text.split("\t")):
        name, sep, ty = col.strip().partition(":")
        if not sep or ty not in RECBOLE_TYPES:
            raise ValueError(f"bad RecBole header column {col!r}")
        cols[name] = i
    cols["__n__"] = len(text.split("\t"))
    if "user_id" not in cols or "item_id" not in cols:
        raise ValueError("RecBole header without user_id/item_id")
    return cols


def row_record(cols: list, n: int, at: dict, parse_time, position: int) -> tuple:
    """A record of a row read by header: ``at`` maps user, item and the optional rating and time to columns."""
    if len(cols) != n:
        raise Bad("wrong column count")
    user, item = cols[at["user"]].strip(), cols[at["item"]].strip()
    if not user or not item:
        raise Bad("invalid value", "empty id")
    rating = math.nan
    if "rating" in at and cols[at["rating"]].strip():
        rating = parse_rating(cols[at["rating"]].strip())
    ts = parse_time(cols[at["time"]].strip()) if "time" in at else position
    return (user, item, ts, rating)


def read_recbole(text: str, h: dict, position: int):
    at = {"user": h["user_id"], "item": h["item_id"]}
    at.update({role: h[name] for role, name in (("rating", "rating"), ("time", "timestamp")) if name in h})
    return [row_record(text.split("\t"), h["__n__"], at, parse_ts, position)]


# ---------------------------------------------------------------- issue 17: the newer formats

TABLE_GUESSES = {
    "user": ["user_id", "userId", "user", "reviewerID"],
    "item": ["item_id", "itemId", "item", "movieId", "parent_asin", "asin", "business_id"],
    "time": ["timestamp", "time", "date", "unixReviewTime"],
    "rating": ["rating", "overall", "stars"],
}
MS_FROM = 10**11
FUTURE = 100 * 31_557_600  # 100 Julian years, in seconds


class Times:
    """The time rule of the newer formats: a unit (seconds or milliseconds), values stored as given in it,
    ISO-8601 strings converted to it, and a bad value beyond 100 years from now (or under 10^11 in ms)."""

    def __init__(self, ms: bool):
        self.ms = ms
        now = int(time.time())
        self.max = (now + FUTURE) * (1000 if ms else 1)
        self.truncated = 0

    def check(self, v: int) -> int:
        if v > self.max or (self.ms and v < MS_FROM):
            raise Bad("invalid value", f"time {v} out of the unit's range")
        return v

    def parse(self, text: str) -> int:
        text = text.strip()
        if INT_RE.match(text):
            return self.check(int(text))
        if FLOAT_RE.match(text):
            v = float(text)
            if not math.isfinite(v) or abs(v) >= 9.0e18:
                raise Bad("invalid value", "out of range")
            if v != math.floor(v):
                self.truncated += 1
            return self.check(math.floor(v))
        if not re.fullmatch(
            r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}([.,]\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?)?", text
        ):
            raise Bad("invalid value", f"time {text!r} is not ISO-8601")
        frac = re.search(r"[.,](\d+)", text)
        nanos = int(frac.group(1).ljust(9, "0")) if frac else 0
        base = re.sub(r"[.,]\d+", "", text).replace(" ", "T")
        try:
            d = dt.datetime.fromisoformat(base)
        except ValueError:
            raise Bad("invalid value", f"time {text!r} is not a date") from None
        if d.tzinfo is None:
            d = d.replace(tzinfo=dt.timezone.utc)
        secs = (d - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(seconds=1)
        if self.ms:
            if nanos % 1_000_000:
                self.truncated += 1
            return self.check(secs * 1000 + nanos // 1_000_000)
        if nanos:
            self.truncated += 1
        return self.check(secs)


def pick_columns(header: list[str], given: dict | None) -> dict:
    """role -> column index: the given name, else the first guess the header has (ASCII case ignored)."""
    given = given or {}
    out = {}
    for role, guesses in TABLE_GUESSES.items():
        if role in given:
            out[role] = header.index(given[role])
            continue
        for g in guesses:
            hits = [i for i, h in enumerate(header) if h.lower() == g.lower()]
            if hits:
                out[role] = hits[0]
                break
    if "user" not in out or "item" not in out:
        raise ValueError("no user or item column")
    return out


def _count_bad(out, b: Bad, on_bad_line: str, where: str) -> None:
    """A bad line of the newer readers: raised with ``fail``, counted by reason with ``skip``."""
    if on_bad_line == "fail":
        raise ValueError(f"{where}: {b}") from None
    out.bad_lines += 1
    out.bad_reasons[b.reason] += 1


def read_table_text(path, columns: dict | None = None, delimiter: str | None = None, on_bad_line: str = "fail"):
    """A delimited table with a header, by Python's csv module (RFC 4180 quoting): a Read."""
    data = Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    text = data.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    out = Read()
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter or ",", strict=True)
    header = None
    cols = times = None
    for row in rows:
        if not row or all(not c.strip() for c in row) and len(row) == 1:
            out.lines_read += 1
            out.blank_lines += 1
            continue
        out.lines_read += 1
        if header is None:
            header = [c.strip() for c in row]
            cols = pick_columns(header, columns)
            out.header_lines += 1
            continue
        try:
            if times is None:
                first = row[cols["time"]].strip() if "time" in cols and len(row) > cols["time"] else ""
                times = Times(ms=bool(INT_RE.match(first)) and int(first) >= MS_FROM)
            rec = row_record(row, len(header), cols, times.parse, len(out.records))
        except Bad as b:
            _count_bad(out, b, on_bad_line, f"{path}: record {out.lines_read}")
            continue
        out.data_lines += 1
        out.records.append(rec)
    out.truncated = times.truncated if times else 0
    return out


def read_json_lines(path, keys: tuple, times: Times, on_bad_line: str = "fail") -> Read:
    """JSON lines read by ``keys`` (user, item, time, rating): Amazon 2023 (time a number) or Yelp (a string)."""
    out = Read()
    for no, line in data_lines(path, out):
        try:
            obj = parse_json_object(line.decode("utf-8"))
            for k in keys[:3]:
                if k not in obj:
                    raise Bad("missing field", k)
            user, item, t = obj[keys[0]], obj[keys[1]], obj[keys[2]]
            if not isinstance(user, str) or not isinstance(item, str) or isinstance(user, Num) or isinstance(item, Num):
                raise Bad("wrong type", "id")
            if isinstance(t, Num):
                ts = times.check(int(t)) if INT_RE.match(t) else times.parse(t)
            elif isinstance(t, str):
                ts = times.parse(t)
            else:
                raise Bad("wrong type", "time")
            r = obj.get(keys[3])
            rating = math.nan if r is None else parse_rating(r)
        except Bad as b:
            _count_bad(out, b, on_bad_line, f"{path}:{no}")
            continue
        out.data_lines += 1
        out.records.append((user, item, ts, rating))
    return out


def read_amazon23(path, item_key: str = "parent_asin", on_bad_line: str = "fail") -> Read:
    return read_json_lines(path, ("user_id", item_key, "timestamp", "rating"), Times(ms=True), on_bad_line)


def read_yelp(path, on_bad_line: str = "fail") -> Read:
    return read_json_lines(path, ("user_id", "business_id", "date", "stars"), Times(ms=False), on_bad_line)


def read_movielens(path, on_bad_line: str = "fail") -> Read:
    """ratings.dat (``::``) or ratings.csv (its header)."""
    ls = lines_of(path)
    if ls and ls[0].decode().strip() == "userId,movieId,rating,timestamp":
        return read_table_text(
            path, {"user": "userId", "item": "movieId", "time": "timestamp", "rating": "rating"}, ",", on_bad_line
        )
    out = Read()
    times = Times(ms=False)
    for no, line in data_lines(path, out):
        try:
            parts = line.decode("utf-8").split("::")
            if len(parts) != 4:
                raise Bad("wrong column count")
            user, item, rating, ts = (p.strip() for p in parts)
            rec = (user, item, times.parse(ts), parse_rating(rating))
        except Bad as b:
            _count_bad(out, b, on_bad_line, f"{path}:{no}")
            continue
        out.data_lines += 1
        out.records.append(rec)
    return out


def merge_reads(reads: list) -> Read:
    """Several files read as one stream, in order (positions continue across files)."""
    out = Read()
    for r in reads:
        out.records.extend(r.records)
        for k in ("lines_read", "data_lines", "blank_lines", "header_lines", "bad_lines"):
            setattr(out, k, getattr(out, k) + getattr(r, k))
        out.bad_reasons.update(r.bad_reasons)
    return out


@dataclass
class Read:
    """Every record read, in input order, and the line counts."""

    records: list = field(default_factory=list)  # (user, item, ts, rating)
    lines_read: int = 0
    data_lines: int = 0
    blank_lines: int = 0
    header_lines: int = 0
    bad_lines: int = 0
    bad_reasons: Counter = field(default_factory=Counter)
    bad_first: dict = field(default_factory=dict)  # reason -> [line numbers]


def read_inputs(inputs, on_bad_line: str = "fail") -> Read:
    """``inputs``: [(path, format)] with format one of amazon-json, ratings-csv, recbole, seq."""
    out = Read()
    for path, fmt in inputs:
        header = None
        first_text = True
        for no, line in data_lines(path, out):
            try:
                try:
                    text = line.decode("utf-8")
                except UnicodeDecodeError:
                    raise Bad("invalid UTF-8") from None
                if fmt == "ratings-csv" and first_text and csv_header(text):
                    raise ValueError(f"{path}:{no}: a header line, and ratings-csv has none")
                first_text = False
                if fmt == "recbole" and header is None:
                    header = recbole_header(text)
                    out.header_lines += 1
                    continue
                if fmt == "amazon-json":
                    recs = read_amazon_json(text)
                elif fmt == "ratings-csv":
                    recs = read_csv(text)
                elif fmt == "seq":
                    recs = read_seq(text)
                elif fmt == "recbole":
                    recs = read_recbole(text, header, len(out.records))
                else:
                    raise ValueError(fmt)
            except Bad as b:
                if on_bad_line == "fail":
                    raise ValueError(f"{path}:{no}: {b}") from None
                out.bad_lines += 1
                out.bad_reasons[b.reason] += 1
                out.bad_first.setdefault(b.reason, []).append(no)
                continue
            out.data_lines += 1
            out.records.extend(recs)
    return out


def dedup(recs, alive):
    """For each (user, item), keeps the earliest alive record by (timestamp, input order)."""
    best = {}
    for i in alive:
        key = (recs[i][0], recs[i][1])
        if key not in best or (recs[i][2], i) < (recs[best[key]][2], best[key]):
            best[key] = i
    keep = set(best.values())
    return [i for i in alive if i in keep]


def min_count(recs, alive, col, k):
    c = Counter(recs[i][col] for i in alive)
    return [i for i in alive if c[recs[i][col]] >= k]


def apply_recipe(recs, recipe="kcore", min_rating=None, user_min=None, item_min=None):
    """Indices of the surviving records and the drop counts."""
    alive = list(range(len(recs)))
    st = dict(
        dropped_by_rating=0,
        dropped_by_user_filter=0,
        dropped_by_item_filter=0,
        duplicates_dropped=0,
        kcore_rounds=0,
        kcore_dropped_per_round=[],
        kcore_dropped=0,
        dropped_short_users=0,
    )

    def step(name, new):
        nonlocal alive
        st[name] += len(alive) - len(new)
        alive = new

    def rating_filter(m):
        m = float(np.float32(m))
        step("dropped_by_rating", [i for i in alive if recs[i][3] >= m])  # NaN >= m is False

    if recipe == "none":
        pass
    elif recipe == "kcore":
        um = 5 if user_min is None else user_min
        im = 5 if item_min is None else item_min
        if min_rating is not None:
            rating_filter(min_rating)
        step("duplicates_dropped", dedup(recs, alive))
        while True:
            uc = Counter(recs[i][0] for i in alive)
            ic = Counter(recs[i][1] for i in alive)
            new = [i for i in alive if uc[recs[i][0]] >= um and ic[recs[i][1]] >= im]
            if len(new) == len(alive):
                break
            st["kcore_dropped_per_round"].append(len(alive) - len(new))
            step("kcore_dropped", new)
        st["kcore_rounds"] = len(st["kcore_dropped_per_round"])
    elif recipe == "slmrec-paper":
        um = 5 if user_min is None else user_min
        im = 20 if item_min is None else item_min
        rating_filter(3.0 if min_rating is None else min_rating)
        step("dropped_by_user_filter", min_count(recs, alive, 0, um))
        step("dropped_by_item_filter", min_count(recs, alive, 1, im))
        step("duplicates_dropped", dedup(recs, alive))
        step("dropped_short_users", min_count(recs, alive, 0, um))
    else:
        raise ValueError(recipe)
    return alive, st


def sorted_ids(names) -> list[str]:
    """Raw ids in id order: numeric when all are integers (ties by bytes), else by UTF-8 bytes."""
    names = list(set(names))
    if all(INT_RE.match(n) for n in names):
        return sorted(names, key=lambda n: (int(n), n.encode()))
    return sorted(names, key=lambda n: n.encode())


@dataclass
class Result:
    offsets: np.ndarray
    items: np.ndarray
    timestamps: np.ndarray
    ratings: np.ndarray
    user_names: list
    item_names: list
    stats: dict


def prepare(inputs, recipe="kcore", min_rating=None, user_min=None, item_min=None, on_bad_line="fail") -> Result:
    """The reference preparation of ``inputs`` ([(path, format)])."""
    return prepare_from(read_inputs(inputs, on_bad_line), recipe, min_rating, user_min, item_min)


def prepare_from(rd: Read, recipe="kcore", min_rating=None, user_min=None, item_min=None) -> Result:
    """The reference preparation of records already read."""
    recs = rd.records
    alive, st = apply_recipe(recs, recipe, min_rating, user_min, item_min)
    users = sorted_ids(recs[i][0] for i in alive)
    items = sorted_ids(recs[i][1] for i in alive)
    uid = {u: k + 1 for k, u in enumerate(users)}
    iid = {t: k + 1 for k, t in enumerate(items)}
    order = sorted(alive, key=lambda i: (uid[recs[i][0]], recs[i][2], i))
    lengths = Counter(uid[recs[i][0]] for i in order)
    offsets = np.zeros(len(users) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([lengths[u] for u in range(1, len(users) + 1)])
    st.update(
        lines_read=rd.lines_read,
        data_lines=rd.data_lines,
        blank_lines=rd.blank_lines,
        header_lines=rd.header_lines,
        bad_lines=rd.bad_lines,
        records=len(recs),
        interactions=len(order),
        users=len(users),
        items=len(items),
    )
    return Result(
        offsets=offsets,
        items=np.array([iid[recs[i][1]] for i in order], dtype=np.uint32),
        timestamps=np.array([recs[i][2] for i in order], dtype=np.int64),
        ratings=np.array([recs[i][3] for i in order], dtype=np.float32),
        user_names=users,
        item_names=items,
        stats=st,
    )


def read_meta(paths) -> dict:
    """asin -> {title, brand, main_cat} (HTML-unescaped, stripped, None when absent/blank); first row wins."""
    out = {}
    for path in paths:
        for line in lines_of(path):
            if line.strip(ASCII_WS) == b"":
                continue
            obj = json.loads(line)
            if obj["asin"] in out:
                continue
            row = {}
            for k in ("title", "brand", "main_cat"):
                v = obj.get(k)
                row[k] = html.unescape(v.strip()) if isinstance(v, str) and v.strip() else None
            out[obj["asin"]] = row
    return out


def assert_matches(ds, ref: Result) -> None:
    """Exact equality of a ``slmrec.Dataset`` with the reference: arrays, dtypes, id tables, counts."""
    assert ds.offsets.dtype == np.int64 and ds.items.dtype == np.uint32
    assert ds.timestamps.dtype == np.int64 and ds.ratings.dtype == np.float32
    np.testing.assert_array_equal(ds.offsets, ref.offsets)
    np.testing.assert_array_equal(ds.items, ref.items)
    np.testing.assert_array_equal(ds.timestamps, ref.timestamps)
    np.testing.assert_array_equal(ds.ratings, ref.ratings)  # NaN == NaN here
    assert ds.num_users == len(ref.user_names) and ds.num_items == len(ref.item_names)
    users, items = ds.user_table(), ds.item_table()
    assert users["user_id"].to_list() == list(range(1, ds.num_users + 1))
    assert items["item_id"].to_list() == list(range(1, ds.num_items + 1))
    assert users["user"].to_list() == ref.user_names
    assert items["item"].to_list() == ref.item_names
    mismatched = {k: (ds.stats.get(k), v) for k, v in ref.stats.items() if ds.stats.get(k) != v}
    assert not mismatched, f"stats differ (rust, reference): {mismatched}"
    assert_reconciled(ds.stats)


def assert_reconciled(s: dict) -> None:
    """The two identities of stats.json."""
    drops = (
        "interactions",
        "dropped_by_rating",
        "dropped_by_user_filter",
        "dropped_by_item_filter",
        "duplicates_dropped",
        "kcore_dropped",
        "dropped_short_users",
    )
    assert s["records"] == sum(s[k] for k in drops), {k: s[k] for k in ("records",) + drops}
    assert s["lines_read"] == s["data_lines"] + s["blank_lines"] + s["header_lines"] + s["bad_lines"]
    assert s["kcore_dropped"] == sum(s["kcore_dropped_per_round"])
    assert s["kcore_rounds"] == len(s["kcore_dropped_per_round"])
    assert all(n > 0 for n in s["kcore_dropped_per_round"])
    assert s["bad_lines"] == sum(r["count"] for r in s["bad_line_reasons"].values())
    assert s["lines_read"] == sum(f["lines"] for f in s["inputs"])
    assert s["records"] == sum(f["records"] for f in s["inputs"])
