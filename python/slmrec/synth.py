"""Synthetic Amazon-2018-shaped review and metadata files whose sequences carry learnable structure.

This is the project's embedded default dataset: ``generate_reviews`` writes a file that ``slmrec.prepare``
reads exactly like a real ``<Category>_5.json.gz`` of the Amazon Review Data (2018), and a model trained on
the prepared data scores far above popularity, because the item sequences follow a hidden process:

* the catalogue is cut into clusters (a brand's product line); each cluster is a chain ``c[0], c[1], ...``;
* a user starts in a cluster picked by a Zipf popularity, near the head of its chain, then at each step
  goes to the next item of the chain (``P_NEXT``), skips two to four items ahead (``P_SKIP``) or moves to
  another cluster (the rest, at the end of the chain, and always after a rating of 2 or less);
* popularity is therefore a power law (Zipf over clusters, geometric along each chain) and the next item
  is predictable from the previous one.

The file imitates the real dumps' shape and quirks (measured on /work/shared/data/amazon18): the real
key order (``image, overall, vote, verified, reviewTime, reviewerID, asin, style, reviewerName,
reviewText, summary, unixReviewTime``; a few lines in the older ``reviewerID``-first order), optional
``style``/``vote``/``image``, votes with a thousands separator, whole-day ``unixReviewTime`` (same-day ties),
``reviewTime`` as ``"MM D, YYYY"``, lines grouped by asin (newest first, not in time order), whole asin
blocks written twice (exact duplicate lines), ``\\n``, ``\\"`` and ``\\u2019`` escapes in the texts, and
review lengths with a long tail (log-normal, median ~110 characters).

Design choices:

* numpy + stdlib only, vectorised: the process is simulated one step at a time for all users at once, all
  per-line random draws are made up front, and lines are formatted with one f-string each in blocks that
  a second thread compresses (zlib releases the GIL), so a 1 GB ``.json.gz`` takes about half a minute.
  Review texts are slices of a pre-built corpus, cut at spaces so that escapes are never split.
* Deterministic: independent random streams (``numpy.random.SeedSequence``) for the catalogue (seed,
  n_items: shared with ``generate_meta``), the interactions (+ n_users), the file layout and the texts,
  and a gzip header with no name and mtime 0, so the same arguments give byte-identical files; ``text=False``
  changes only the texts, so it gives the same interactions with far fewer bytes.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import queue
import threading
from pathlib import Path

import numpy as np

__all__ = ["generate_meta", "generate_reviews", "generate_to_size", "interactions"]

# The hidden process.
CLUSTER_SIZE = 20  # mean items per cluster (one chain)
P_NEXT = 0.6  # the next item of the current chain
P_SKIP = 0.15  # two to four items further down the chain; the rest: another cluster
P_HEAD = 0.25  # a chain is entered at position k with probability P_HEAD * (1 - P_HEAD)^k
CLUSTER_ZIPF = 0.8  # cluster popularity ~ 1 / rank^CLUSTER_ZIPF
MAX_LEN = 200  # longest user sequence (before dedup)

# Time: whole days between these dates (UTC), most users recent; a same-day tie at each step with P_TIE.
FIRST_DAY = int(np.datetime64("2000-01-01", "D").astype(np.int64))
LAST_DAY = int(np.datetime64("2018-09-30", "D").astype(np.int64))
P_TIE = 0.15
MEAN_GAP_DAYS = 45

# File layout: how often each optional part or quirk appears (per line unless said otherwise).
P_DUP_BLOCK = 0.04  # per asin: its block of lines is written twice
P_OLD_ORDER = 0.04  # reviewerID-first key order (older crawl), no style and no vote
P_VOTE = 0.1
P_IMAGE = 0.02
P_UNVERIFIED = 0.12
P_NO_TEXT = 0.003
P_NO_SUMMARY = 0.003
P_STYLE_ITEM = 0.7  # per item: its lines carry a style object
TEXT_MEDIAN_CHARS = 110
TEXT_SIGMA = 1.15
TEXT_MAX_CHARS = 12_000

_B36 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)
_IMG = "https://images-na.ssl-images-amazon.com/images/I/"

_FIRST = (
    "Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Betty Sandra Ashley "
    "Emily Donna Michelle Carol Amanda Melissa Deborah Stephanie Rebecca Sharon Laura Cynthia Amy Kathleen "
    "Angela Beth Pam Heather Chelsea Sherri James Robert John Michael David William Richard Joseph Thomas "
    "Christopher Charles Daniel Matthew Anthony Mark Steven Paul Andrew Joshua Kevin Brian George Timothy "
    "Ronald Jason Edward Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Larry Justin Scott Victor "
    "Vincent Rich Aida Elena Yuki Priya Wei Carlos Ana Olga"
).split()
_LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez "
    "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez "
    "Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker "
    "Hall Rivera Campbell Mitchell Carter Roberts Marrero O'Neil Stoiber"
).split()
_COMMON = (
    "I it this the a and to was for my is of with on have but not so that very just in after use used "
    "product bought got ordered one two again would will they them really also time day week month years "
    "bottle size price quality smell color skin hair package arrived item order shipping box works like "
    "would recommend it's little much more than what when as you your can be has been did do from all"
).split()
_POSITIVE = (
    "great love loved perfect excellent amazing wonderful best nice soft gentle fresh happy favorite fast "
    "works well recommend highly beautiful smooth lovely awesome fantastic pleased value"
).split()
_NEUTRAL = "okay fine average decent expected alright fair ordinary standard acceptable so-so".split()
_NEGATIVE = (
    "bad poor disappointed broken cheap terrible awful returned waste smells stopped leaked wrong refund "
    "worst never unhappy flimsy sticky greasy itchy fake damaged late"
).split()
_ESCAPED = [r"\"great\"", r"\"travel\"", r"\"new\"", r"don\u2019t", r"it\u2019s", r"I\u2019m", r"caf\u00e9"]
_SUMMARIES = {
    5: ["Five Stars"] * 12
    + [
        "Love it",
        "Love it!",
        "Great",
        "Great product",
        "Excellent Product",
        "Perfect",
        "Highly recommend",
        "Works great",
        "My favorite",
        "Awesome!",
    ],
    4: ["Four Stars"] * 8 + ["Good", "Pretty good", "Nice", "Good value", "Works well", "Happy with it"],
    3: ["Three Stars"] * 6 + ["Okay", "It's okay", "Average", "Not bad", "As expected"],
    2: ["Two Stars"] * 4 + ["Disappointed", "Not great", "Meh", "Could be better"],
    1: ["One Star"] * 4 + ["Terrible", "Waste of money", "Do not buy", "Broke after a week", "Awful"],
}
_STYLES = [  # (keys, values per key): keys end with ":" and values start with a space, as in the real files
    (
        ("Size:",),
        (
            [
                " 7.0 oz",
                " 1.7 Fl Oz",
                " 3.4 Fl Oz",
                " Small",
                " Medium",
                " Large",
                " 200ml/6.7oz",
                " Pack of 2",
                " Pack of 6",
            ],
        ),
    ),
    (("Color:",), ([" Black", " White", " Rose Gold", " Classic Ice Blue", " Natural", " Navy", " Red"],)),
    (("Size:", "Color:"), ([" Small", " Medium", " Large", " X-Large"], [" Black", " Grey", " Blue", " Pink"])),
    (("Flavor:",), ([" Classic Ice Blue", " Original", " Lavender", " Unscented", " Coconut"],)),
    (("Style Name:",), ([" Classic", " Travel Size", " Refill", " Gift Set"],)),
    (("Gift Amount:",), ([" 25", " 50", " 100"],)),
]

# Metadata vocabulary: a cluster is one brand's line of one product kind in one main category.
_MAIN_CATS = ["All Beauty", "Luxury Beauty", "Health & Personal Care", "Amazon Home", "Grocery"]
_AMAZON_FASHION_CAT = (
    '<img src="https://images-na.ssl-images-amazon.com/images/G/01/nav2/images/gui/'
    'amazon-fashion-store-new._CB520838675_.png" class="nav-categ-image" alt="AMAZON FASHION"/>'
)
_NOUNS = [
    "Shampoo",
    "Conditioner",
    "Face Cream",
    "Body Lotion",
    "Hand Soap",
    "Lip Balm",
    "Eye Serum",
    "Hair Oil",
    "Nail Polish",
    "Perfume",
    "Cologne",
    "Aftershave",
    "Sunscreen",
    "Face Mask",
    "Body Wash",
    "Toner",
    "Cleanser",
    "Dry Shampoo",
    "Hair Spray",
    "Deodorant",
]
_BRAND_A = "Vel Aqu Lum Nor Sol Ver Bel Cor Mir Ast Ori Zen Pur Ros Cal Ela Fen Gra Hal Iri".split()
_BRAND_B = "mora ara ina essa ique ella ora ani ette ova".split()
_ADJECTIVES = [
    "Gentle",
    "Classic",
    "Daily",
    "Ultra",
    "Natural",
    "Organic",
    "Fresh",
    "Deep",
    "Soothing",
    "Intense",
    "Hydrating",
    "Professional",
    "Sensitive",
    "Original",
]
_AMOUNTS = ["1.7 Fl Oz", "3.4 Fl Oz", "7.0 oz", "8 Ounce", "16 Ounce", "Pack of 2", "Pack of 3", "100 ml"]


# --------------------------------------------------------------------------------------------------------
# Shared helpers


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in key]))


def _codes(rng: np.random.Generator, n: int, prefix: str, width: int, first: bytes = b"") -> list[str]:
    """``n`` distinct codes ``prefix + width`` base-36 characters (``first`` restricts the first one)."""
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        m = n - len(out)
        chars = _B36[rng.integers(0, 36, size=(m, width))]
        if first:
            allowed = np.frombuffer(first, dtype=np.uint8)
            chars[:, 0] = allowed[rng.integers(0, len(allowed), size=m)]
        for code in chars.view(f"S{width}").ravel():
            s = prefix + code.decode()
            if s not in seen:
                seen.add(s)
                out.append(s)
    return out


def _writer(path: Path, compress: bool):
    """A binary sink for ``path``: gzip level 1 without name or mtime (reproducible) when ``compress``."""
    raw = open(path, "wb")
    if compress:
        return raw, gzip.GzipFile(filename="", mode="wb", compresslevel=1, fileobj=raw, mtime=0)
    return raw, raw


class _BlockWriter:
    """Writes byte blocks on a background thread, so compression overlaps formatting (zlib drops the GIL)."""

    def __init__(self, path: Path):
        self.tmp = path.with_name(path.name + ".tmp")
        self.path = path
        self.raw, self.sink = _writer(self.tmp, path.name.endswith(".gz"))
        self.queue: queue.Queue = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.bytes = 0

    def _run(self) -> None:
        while (block := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.sink.write(block)
                except BaseException as e:  # reported by close()
                    self.error = e

    def write(self, block: bytes) -> None:
        self.bytes += len(block)
        self.queue.put(block)

    def close(self, ok: bool = True) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.sink is not self.raw:
            self.sink.close()
        self.raw.close()
        if self.error is not None or not ok:
            self.tmp.unlink(missing_ok=True)
            if self.error is not None:
                raise self.error
            return
        os.replace(self.tmp, self.path)


def _zipf_choice(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(weights) - 1)


# --------------------------------------------------------------------------------------------------------
# The catalogue: a function of (seed, n_items) only, so reviews and metadata agree on it.


class _Catalogue:
    def __init__(self, n_items: int, seed: int):
        rng = _rng(seed, n_items, 1)
        self.n_items = n_items
        self.asins = _codes(rng, n_items, "B0", 8)
        n_clusters = max(1, round(n_items / CLUSTER_SIZE))
        # Cluster c holds chain[start[c]:start[c + 1]], in chain order.
        self.chain = rng.permutation(n_items)
        self.start = (np.arange(n_clusters + 1, dtype=np.int64) * n_items) // n_clusters
        self.size = np.diff(self.start)
        self.cluster_weight = 1.0 / (rng.permutation(n_clusters) + 1.0) ** CLUSTER_ZIPF
        self.cluster_of = np.empty(n_items, dtype=np.int64)
        self.cluster_of[self.chain] = np.repeat(np.arange(n_clusters), self.size)
        self.quality = rng.normal(0.0, 0.45, n_items)
        # Style objects: per item a template (or none) and three variants of its values.
        has_style = rng.random(n_items) < P_STYLE_ITEM
        template = rng.integers(0, len(_STYLES), n_items)
        picks = rng.integers(0, 1 << 30, size=(n_items, 3, 2))
        self.styles: list[str] = []  # [n_items * 3]: '"style": {...}, ' or ""
        for i in range(n_items):
            keys, values = _STYLES[template[i]]
            for v in range(3):
                if not has_style[i]:
                    self.styles.append("")
                    continue
                body = ", ".join(
                    f'"{k}": "{vals[picks[i, v, j] % len(vals)]}"' for j, (k, vals) in enumerate(zip(keys, values))
                )
                self.styles.append('"style": {' + body + "}, ")
        # Per cluster: brand, product kind, main category (for metadata titles).
        self.cluster_brand = [
            _BRAND_A[a] + _BRAND_B[b] + (" &amp; Co" if amp else "")
            for a, b, amp in zip(
                rng.integers(0, len(_BRAND_A), n_clusters),
                rng.integers(0, len(_BRAND_B), n_clusters),
                rng.random(n_clusters) < 0.08,
            )
        ]
        self.cluster_noun = rng.integers(0, len(_NOUNS), n_clusters)
        self.cluster_cat = _zipf_choice(rng, 1.0 / np.arange(1, len(_MAIN_CATS) + 1), n_clusters)

    def entry(self, rng: np.random.Generator, clusters: np.ndarray) -> np.ndarray:
        """A chain position near the head of each cluster (geometric, truncated to the chain)."""
        return np.minimum(rng.geometric(P_HEAD, len(clusters)) - 1, self.size[clusters] - 1)


# --------------------------------------------------------------------------------------------------------
# Interactions: the hidden process, one step at a time for all users at once.


def _interactions(cat: _Catalogue, n_users: int, seed: int) -> dict[str, np.ndarray]:
    rng = _rng(seed, n_users, cat.n_items, 2)
    # Sequence lengths: 3 + log-normal (median ~8), most >= 5; users sorted longest first so that the
    # users still active at step t are a prefix.
    lengths = np.minimum(3 + np.floor(np.exp(rng.normal(math.log(5.0), 0.75, n_users))), MAX_LEN)
    lengths = lengths.astype(np.int64)
    by_len = np.argsort(-lengths, kind="stable")
    active = np.searchsorted(-lengths[by_len], -np.arange(1, MAX_LEN + 1), side="right")  # users with len > t
    user_bias = rng.normal(0.0, 0.4, n_users)[by_len]

    cluster = _zipf_choice(rng, cat.cluster_weight, n_users)
    pos = cat.entry(rng, cluster)
    last_rating = np.full(n_users, 5, dtype=np.int64)
    users, items, steps, ratings = [], [], [], []
    for t in range(int(lengths.max())):
        m = int(active[t])
        cluster, pos, last_rating = cluster[:m], pos[:m], last_rating[:m]
        if t > 0:
            r = rng.random(m)
            step = np.where(r < P_NEXT, 1, np.where(r < P_NEXT + P_SKIP, rng.integers(2, 5, m), 0))
            pos = pos + step
            switch = (step == 0) | (pos >= cat.size[cluster]) | (last_rating <= 2)
            if switch.any():
                cluster[switch] = _zipf_choice(rng, cat.cluster_weight, int(switch.sum()))
                pos[switch] = cat.entry(rng, cluster[switch])
        item = cat.chain[cat.start[cluster] + pos]
        # Ratings: mostly 5, better items and kinder users higher; a few bad experiences (1 or 2 stars).
        noise = rng.normal(0.0, 0.7, m)
        rating = np.clip(np.rint(5.2 + cat.quality[item] + user_bias[:m] + noise), 1, 5).astype(np.int64)
        bad = rng.random(m) < 0.02 + 0.04 * (cat.quality[item] < -0.5)
        rating[bad] = rng.integers(1, 3, int(bad.sum()))
        last_rating = rating
        users.append(by_len[:m])
        items.append(item)
        steps.append(np.full(m, t, dtype=np.int64))
        ratings.append(rating)
    user = np.concatenate(users)
    order = np.lexsort((np.concatenate(steps), user))  # user-major, chronological
    user, item = user[order], np.concatenate(items)[order]
    rating = np.concatenate(ratings)[order]

    # Days: each user starts at a random (mostly recent) day, then gaps of 0 (same-day tie) or more days.
    n = len(user)
    gaps = np.where(rng.random(n) < P_TIE, 0, rng.geometric(1.0 / MEAN_GAP_DAYS, n))
    first = np.r_[0, np.flatnonzero(np.diff(user)) + 1]
    gaps[first] = 0
    offset = np.cumsum(gaps)
    offset -= np.repeat(offset[first], lengths[user[first]])
    span = offset[np.r_[first[1:], n] - 1]  # per user (in user order, as first)
    room = LAST_DAY - FIRST_DAY
    scale = np.minimum(1.0, room / np.maximum(span, 1))
    offset = np.floor(offset * np.repeat(scale, lengths[user[first]])).astype(np.int64)
    span = np.floor(span * scale).astype(np.int64)
    start = LAST_DAY - span - np.floor((room - span) * rng.random(len(first)) ** 2.5).astype(np.int64)
    day = np.repeat(start, lengths[user[first]]) + offset
    return {"user": user, "item": item, "rating": rating, "day": day}


# --------------------------------------------------------------------------------------------------------
# Texts: slices of a corpus cut at spaces (escapes are single tokens, never split).


class _Corpus:
    def __init__(self, seed: int, sentiment: list[str], chars: int = 400_000):
        rng = _rng(seed, 5, len(sentiment))
        words = np.array(_COMMON + sentiment * 2 + _ESCAPED)
        escaped = len(_COMMON) + 2 * len(sentiment)
        p = np.ones(len(words))
        p[escaped:] = 0.05
        p /= p.sum()
        parts: list[str] = []
        total = 0
        while total < chars:
            k = int(rng.integers(4, 15))
            w = words[rng.choice(len(words), size=k, p=p)].tolist()
            w[0] = w[0][:1].upper() + w[0][1:]
            end = "!" if rng.random() < 0.15 else "."
            sep = "\\n" if rng.random() < 0.08 else " "  # a paragraph break glues two sentences
            sentence = " ".join(w) + end + sep
            parts.append(sentence)
            total += len(sentence)
        self.text = "".join(parts).rstrip()
        raw = np.frombuffer(self.text.encode(), dtype=np.uint8)
        self.spaces = np.flatnonzero(raw == ord(" "))
        # Starts: just after ". " / "! " (a sentence start), far enough from the end for the longest text.
        sentence_start = self.spaces[:-1][np.isin(raw[self.spaces[:-1] - 1], (ord("."), ord("!")))] + 1
        self.starts = sentence_start[sentence_start < len(raw) - TEXT_MAX_CHARS - 100]

    def slices(self, rng: np.random.Generator, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        begin = self.starts[rng.integers(0, len(self.starts), len(lengths))]
        end = self.spaces[np.searchsorted(self.spaces, begin + lengths)]
        return begin, end


# --------------------------------------------------------------------------------------------------------
# Reviews


def _review_time_strings(days: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """('MM D, YYYY' for each distinct day, index of each row's day)."""
    uniq, inverse = np.unique(days, return_inverse=True)
    dates = uniq.astype("datetime64[D]")
    years = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    months = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    mday = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
    return inverse, [f"{m:02d} {d}, {y}" for y, m, d in zip(years.tolist(), months.tolist(), mday.tolist())]


def _user_names(rng: np.random.Generator, n: int) -> list[str]:
    kind = rng.random(n)
    first = rng.integers(0, len(_FIRST), n)
    last = rng.integers(0, len(_LAST), n)
    letter = rng.integers(0, 26, n)
    names = []
    for k, f, la, le in zip(kind.tolist(), first.tolist(), last.tolist(), letter.tolist()):
        if k < 0.08:
            names.append("Amazon Customer")
        elif k < 0.09:
            names.append("Kindle Customer")
        elif k < 0.45:
            names.append(_FIRST[f])
        elif k < 0.7:
            names.append(f"{_FIRST[f]} {chr(65 + le)}.")
        elif k < 0.75:
            names.append(f"{chr(65 + le)}. {_FIRST[f][0]}. {_LAST[la]}")
        else:
            names.append(f"{_FIRST[f]} {_LAST[la]}")
    return names


#: Memory budgeted per user when checking that a generation fits in RAM: about twice what the generator holds per
#: user (its interactions, their order and text), so the check errs on the safe side.
BYTES_PER_USER = 4096


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _check_fits(n_users: int, n_items: int) -> None:
    """A size that cannot be generated in this machine's memory is an error before anything is allocated."""
    need = (n_users + n_items) * BYTES_PER_USER
    have = _physical_memory()
    if have is not None and need > have:
        raise ValueError(
            f"n_users = {n_users:,} needs about {need / 1e9:,.1f} GB to generate ({BYTES_PER_USER} bytes a user), "
            f"more than this machine's {have / 1e9:.1f} GB; the most is about {have // BYTES_PER_USER - n_items:,}"
        )


def _sizes(n_users: int, n_items: int | None) -> int:
    """The catalogue size for ``n_users`` users (default ``max(20, n_users // 3)``), both checked."""
    if n_users < 1:
        raise ValueError(f"n_users must be >= 1, got {n_users}")
    n_items = max(20, n_users // 3) if n_items is None else n_items
    if n_items < 2:
        raise ValueError(f"n_items must be >= 2, got {n_items}")
    _check_fits(n_users, n_items)
    return n_items


def interactions(n_users: int, *, n_items: int | None = None, seed: int = 0, shuffle: bool = False) -> dict:
    """The hidden process's interactions as columns, for writing them in another layout (a table, say).

    The same users' sequences, items, ratings and days that ``generate_reviews`` writes for the same
    arguments, one row per review (no duplicate lines). Returns ``user`` and ``item`` (int64 indices into
    ``user_ids`` and ``item_ids``, the raw id strings), ``rating`` (int64, 1-5) and ``day`` (int64 days since
    1970-01-01, whole days: same-day ties are frequent). Rows are user-major and chronological, or in a
    random order with ``shuffle=True`` (a dump in no particular order). The user id strings have the
    reviewerID shape but come from their own random stream, so they differ from ``generate_reviews``'.
    """
    n_items = _sizes(n_users, n_items)
    cat = _Catalogue(n_items, seed)
    inter = _interactions(cat, n_users, seed)
    rng = _rng(seed, n_users, n_items, 5)
    user_ids = _codes(rng, n_users, "A", 13, first=b"123ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    order = rng.permutation(len(inter["user"])) if shuffle else slice(None)
    return {
        **{k: v[order] for k, v in inter.items()},
        "user_ids": user_ids,
        "item_ids": list(cat.asins),
    }


def generate_reviews(
    path, *, n_users: int = 2000, n_items: int | None = None, seed: int = 0, text: bool = True
) -> dict:
    """Writes an Amazon-2018-shaped review file (JSON Lines; gzip when ``path`` ends in ``.gz``).

    ``n_items`` defaults to ``max(20, n_users // 3)``. ``text=False`` writes the same reviews with one short
    phrase as ``reviewText`` (small lines, same interactions). Returns a summary of what was written:
    lines, reviews (distinct lines), duplicate_lines, users, items (catalogue size), items_reviewed,
    bytes (uncompressed), file_bytes, seed, text, clusters.
    """
    n_items = _sizes(n_users, n_items)
    path = Path(path)
    cat = _Catalogue(n_items, seed)
    inter = _interactions(cat, n_users, seed)
    user, item, rating, day = inter["user"], inter["item"], inter["rating"], inter["day"]
    n = len(user)

    # Layout: lines grouped by asin (sorted), newest first; some asin blocks written twice.
    rng = _rng(seed, n_users, n_items, 3)
    asin_rank = np.empty(n_items, dtype=np.int64)
    asin_rank[np.argsort(np.array(cat.asins))] = np.arange(n_items)
    order = np.lexsort((rng.random(n), -day, asin_rank[item]))
    dup_item = rng.random(n_items) < P_DUP_BLOCK
    again = order[dup_item[item[order]]]
    rows = np.concatenate([order, again])
    copy = np.r_[np.zeros(n, dtype=np.int64), np.ones(len(again), dtype=np.int64)]
    rows = rows[np.lexsort((copy, asin_rank[item[rows]]))]  # stable: a block's copy follows it

    # Per review (not per line: a duplicate line repeats its review exactly) draws.
    old_order = rng.random(n) < P_OLD_ORDER
    verified = rng.random(n) >= P_UNVERIFIED
    has_vote = (rng.random(n) < P_VOTE) & ~old_order
    votes = np.minimum(np.floor(2.0 / (1.0 - rng.random(n)) ** (1 / 0.8)), 99_999).astype(np.int64)
    n_images = np.where(rng.random(n) < P_IMAGE, rng.integers(1, 4, n), 0)
    style_variant = rng.integers(0, 3, n)
    user_ids = _codes(rng, n_users, "A", 13, first=b"123ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    names = _user_names(rng, n_users)
    img_codes = _codes(rng, int(n_images.sum()) + 1, "", 11)

    # Texts (their own stream: text=False changes nothing else).
    trng = _rng(seed, n_users, n_items, 4)
    no_text = trng.random(n) < P_NO_TEXT
    no_summary = trng.random(n) < P_NO_SUMMARY
    summary_pick = trng.integers(0, 1 << 30, n)
    tone = np.where(rating >= 4, 0, np.where(rating == 3, 1, 2))
    if text:
        corpora = [_Corpus(seed, _POSITIVE), _Corpus(seed, _NEUTRAL), _Corpus(seed, _NEGATIVE)]
        length = np.exp(trng.normal(math.log(TEXT_MEDIAN_CHARS), TEXT_SIGMA, n))
        length = np.clip(length, 2, TEXT_MAX_CHARS).astype(np.int64)
        begin = np.zeros(n, dtype=np.int64)
        end = np.zeros(n, dtype=np.int64)
        for k, corpus in enumerate(corpora):
            mask = tone == k
            begin[mask], end[mask] = corpus.slices(trng, length[mask])

    day_index, day_strings = _review_time_strings(day)
    overall = ["", "1.0", "2.0", "3.0", "4.0", "5.0"]
    img_start = np.r_[0, np.cumsum(n_images)]

    texts = [c.text for c in corpora] if text else []
    style_index = item * 3 + style_variant
    writer = _BlockWriter(path)
    ok = False
    try:
        for b in range(0, len(rows), 20_000):
            idx = rows[b : b + 20_000]
            cols = zip(
                user[idx].tolist(),
                item[idx].tolist(),
                rating[idx].tolist(),
                day[idx].tolist(),
                day_index[idx].tolist(),
                old_order[idx].tolist(),
                verified[idx].tolist(),
                has_vote[idx].tolist(),
                votes[idx].tolist(),
                n_images[idx].tolist(),
                img_start[idx].tolist(),
                style_index[idx].tolist(),
                no_text[idx].tolist(),
                no_summary[idx].tolist(),
                summary_pick[idx].tolist(),
                tone[idx].tolist(),
                begin[idx].tolist() if text else idx.tolist(),
                end[idx].tolist() if text else idx.tolist(),
            )
            out = []
            for u, it, r, d, di, old, ver, hv, v, k, k0, si, nt, ns, sp, tn, b0, b1 in cols:
                options = _SUMMARIES[r]
                summ = options[sp % len(options)]
                if nt:
                    body = ""
                elif text:
                    body = f'"reviewText": "{texts[tn][b0:b1]}", '
                else:
                    body = f'"reviewText": "{summ}", '
                summ = "" if ns else f'"summary": "{summ}", '
                image = ""
                if k:
                    urls = ", ".join(f'"{_IMG}{c}._SY88.jpg"' for c in img_codes[k0 : k0 + k])
                    image = f'"image": [{urls}], '
                ver = "true" if ver else "false"
                if old:
                    out.append(
                        f'{{"reviewerID": "{user_ids[u]}", "asin": "{cat.asins[it]}", "reviewerName": '
                        f'"{names[u]}", "verified": {ver}, {image}{body}"overall": {overall[r]}, "reviewTime": '
                        f'"{day_strings[di]}", {summ}"unixReviewTime": {d * 86400}}}\n'
                    )
                else:
                    vote = f'"vote": "{v:,}", ' if hv else ""
                    out.append(
                        f'{{{image}"overall": {overall[r]}, {vote}"verified": {ver}, "reviewTime": '
                        f'"{day_strings[di]}", "reviewerID": "{user_ids[u]}", "asin": "{cat.asins[it]}", '
                        f'{cat.styles[si]}"reviewerName": "{names[u]}", {body}{summ}"unixReviewTime": '
                        f"{d * 86400}}}\n"
                    )
            writer.write("".join(out).encode())
        ok = True
    finally:
        writer.close(ok)

    return {
        "path": str(path),
        "lines": int(len(rows)),
        "reviews": int(n),
        "duplicate_lines": int(len(again)),
        "users": int(n_users),
        "items": int(n_items),
        "items_reviewed": int(len(np.unique(item))),
        "clusters": int(len(cat.size)),
        "bytes": int(writer.bytes),
        "file_bytes": int(path.stat().st_size),
        "seed": int(seed),
        "text": bool(text),
    }


# --------------------------------------------------------------------------------------------------------
# Metadata (2021 schema)


def generate_meta(path, *, n_items: int, seed: int = 0) -> dict:
    """Writes a ``meta_<Category>.json.gz``-shaped file (2021 schema) for the asins of ``generate_reviews``
    called with the same ``n_items`` and ``seed``: titles name the item's cluster (brand and product kind),
    ``rank`` is a string in some rows and a list in others, some ``&amp;`` entities, a few rows twice.
    """
    if n_items < 2:
        raise ValueError(f"n_items must be >= 2, got {n_items}")
    path = Path(path)
    cat = _Catalogue(n_items, seed)
    rng = _rng(seed, n_items, 6)
    corpus = _Corpus(seed, _POSITIVE)
    position = np.empty(n_items, dtype=np.int64)  # chain position within the cluster
    position[cat.chain] = np.arange(n_items) - np.repeat(cat.start[:-1], cat.size)
    rank_kind = rng.random(n_items)
    ranks = np.floor(np.exp(rng.uniform(np.log(100), np.log(3e6), n_items))).astype(np.int64)
    desc_begin, desc_end = corpus.slices(rng, rng.integers(40, 400, n_items))
    prices = rng.integers(299, 9999, n_items)
    has_price = rng.random(n_items) < 0.3
    n_img = rng.integers(0, 4, n_items)
    img = _codes(rng, int(n_img.sum()) + 1, "", 11)
    img_start = np.r_[0, np.cumsum(n_img)]
    adjective = rng.integers(0, len(_ADJECTIVES), n_items)
    amount = rng.integers(0, len(_AMOUNTS), n_items)
    amp_title = rng.random(n_items) < 0.06
    fashion = rng.random(n_items) < 0.005
    related = rng.integers(0, 1 << 30, size=(n_items, 6))

    lines = []
    for i in rng.permutation(n_items).tolist():
        c = int(cat.cluster_of[i])
        main_cat = _MAIN_CATS[cat.cluster_cat[c]]
        noun = _NOUNS[cat.cluster_noun[c]]
        brand = cat.cluster_brand[c]
        extra = " &amp; Travel Case" if amp_title[i] else ""
        title = f"{brand} {_ADJECTIVES[adjective[i]]} {noun}{extra}, {_AMOUNTS[amount[i]]} (No. {position[i] + 1})"
        members = cat.chain[cat.start[c] : cat.start[c + 1]]
        also = [cat.asins[members[r % len(members)]] for r in related[i].tolist()]
        also = [a for a in dict.fromkeys(also) if a != cat.asins[i]]
        r = f"{ranks[i]:,}"
        if rank_kind[i] < 0.5:
            rank: str | list = f"{r} in {main_cat} ("
        elif rank_kind[i] < 0.9:
            rank = [f">#{r} in {main_cat} (See Top 100 in {main_cat})", f">#{ranks[i] // 40 + 1:,} in {noun}"]
        else:
            rank = []
        urls = [f"{_IMG}{code}" for code in img[img_start[i] : img_start[i] + n_img[i]]]
        row = {
            "category": [main_cat, noun],
            "tech1": "",
            "description": [
                corpus.text[desc_begin[i] : desc_end[i]]
                .replace("\\n", "\n")
                .replace('\\"', '"')
                .replace("\\u2019", "\u2019")
                .replace("\\u00e9", "\u00e9")
            ],
            "fit": "",
            "title": title,
            "also_buy": also[:3],
            "tech2": "",
            "brand": brand,
            "feature": [f"{_ADJECTIVES[(adjective[i] + k) % len(_ADJECTIVES)]} formula" for k in range(i % 3)],
            "rank": rank,
            "also_view": also[3:],
            "details": {
                "\n    Product Dimensions: \n    ": "2 x 2 x 6 inches ; 8 ounces",
                "Shipping Weight:": "8 ounces",
                "ASIN: ": cat.asins[i],
            },
            "main_cat": _AMAZON_FASHION_CAT if fashion[i] else main_cat,
            "similar_item": "",
            "date": "",
            "price": f"${prices[i] / 100:.2f}" if has_price[i] else "",
            "asin": cat.asins[i],
            "imageURL": [f"{u}._SX38_SY50_CR,0,0,38,50_.jpg" for u in urls],
            "imageURLHighRes": [f"{u}.jpg" for u in urls],
        }
        lines.append(json.dumps(row) + "\n")
    n_dup = max(1, n_items // 100)
    dup = set(rng.choice(n_items, size=min(n_dup, n_items), replace=False).tolist())
    writer = _BlockWriter(path)
    ok = False
    try:
        writer.write("".join(line * (2 if k in dup else 1) for k, line in enumerate(lines)).encode())
        ok = True
    finally:
        writer.close(ok)
    return {
        "path": str(path),
        "lines": n_items + len(dup),
        "items": int(n_items),
        "duplicate_lines": len(dup),
        "bytes": int(writer.bytes),
        "file_bytes": int(path.stat().st_size),
        "seed": int(seed),
    }


# --------------------------------------------------------------------------------------------------------
# Benchmark files


def generate_to_size(path, target_bytes: int, *, seed: int = 0) -> dict:
    """Writes a review file (``generate_reviews``, text on) of at least ``target_bytes`` uncompressed.

    The number of users comes from a pilot run's bytes per user (+3%); if the file still falls short
    (unlikely), it is written again with more users, so the result is deterministic for (target, seed).
    """
    if target_bytes < 1:
        raise ValueError(f"target_bytes must be >= 1, got {target_bytes}")
    path = Path(path)
    pilot_users = 4000
    pilot_path = path.with_name(path.name + ".pilot.json")
    try:
        pilot = generate_reviews(pilot_path, n_users=pilot_users, seed=seed)
    finally:
        pilot_path.unlink(missing_ok=True)
    n_users = max(1, math.ceil(target_bytes / (pilot["bytes"] / pilot_users) * 1.03))
    while True:
        summary = generate_reviews(path, n_users=n_users, seed=seed)
        if summary["bytes"] >= target_bytes:
            summary["target_bytes"] = int(target_bytes)
            return summary
        n_users = math.ceil(n_users * 1.05 * target_bytes / summary["bytes"])
