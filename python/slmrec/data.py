"""Prepared datasets: ``prepare()`` raw files into a dataset directory, ``load()`` one back.

A :class:`Dataset` exposes the per-user sequences as CSR arrays that NumPy borrows from buffers allocated
in Rust (no copy at the boundary): row ``u`` (0-based) is user id ``u + 1``; ``items[offsets[u]:offsets[u+1]]``
is that user's history in (timestamp, input order). Item ids run 1..num_items and 0 is padding. Leave-one-out:
the last item of a row is the test target, the second last the validation target, the rest is training.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np

from slmrec import _core

if TYPE_CHECKING:
    import polars as pl

PathLike = str | os.PathLike


class Dataset:
    """Per-user sequences of a dataset directory, with its id tables and statistics."""

    def __init__(self, path: Path, arrays: dict):
        self.path = Path(path)
        #: int64 [num_users + 1]: row starts.
        self.offsets: np.ndarray = arrays["offsets"]
        #: uint32 [num_interactions]: item ids, 1..num_items.
        self.items: np.ndarray = arrays["items"]
        #: int64 [num_interactions]: timestamps (positions for sequence-line inputs).
        self.timestamps: np.ndarray = arrays["timestamps"]
        #: float32 [num_interactions]: ratings, NaN where the input had none.
        self.ratings: np.ndarray = arrays["ratings"]
        self.num_users: int = arrays["num_users"]
        self.num_items: int = arrays["num_items"]
        #: Every count of the preparation, reconciled (see README, "stats.json").
        self.stats: dict = json.loads(arrays["stats"])

    @functools.cached_property
    def fingerprint(self) -> str:
        """A content fingerprint of the prepared sequences (hex), for binding derived files and runs to them.

        Directories prepared by this version carry ``stats["fingerprint"]``: 16 hex digits of a 64-bit hash of
        num_items, offsets, items and timestamps, computed by the core when preparing and checked when
        loading (``slmrec_core::dataset::fingerprint`` documents the hash). For older directories without it,
        the SHA-256 of the stats.json bytes (64 hex digits; the two forms never compare equal).
        """
        fp = self.stats.get("fingerprint")
        if isinstance(fp, str) and fp:
            return fp
        return hashlib.sha256((self.path / "stats.json").read_bytes()).hexdigest()

    @property
    def num_interactions(self) -> int:
        return int(self.items.shape[0])

    @property
    def lengths(self) -> np.ndarray:
        """int64 [num_users]: the length of each user's sequence."""
        return np.diff(self.offsets)

    def sequence(self, row: int) -> np.ndarray:
        """The item ids of CSR row ``row`` (user id ``row + 1``), oldest first; a view, not a copy."""
        if not 0 <= row < self.num_users:
            raise IndexError(f"row {row} outside 0..{self.num_users - 1}")
        return self.items[self.offsets[row] : self.offsets[row + 1]]

    def to_polars(self) -> "pl.DataFrame":
        """The interactions as a polars DataFrame (user_id, item_id, timestamp, rating), in CSR order."""
        import polars as pl

        user_id = np.repeat(np.arange(1, self.num_users + 1, dtype=np.uint32), self.lengths)
        rating = pl.Series("rating", self.ratings).fill_nan(None)
        return pl.DataFrame({"user_id": user_id, "item_id": self.items, "timestamp": self.timestamps, "rating": rating})

    def user_table(self) -> "pl.DataFrame":
        """user_id -> raw user id."""
        import polars as pl

        return pl.read_parquet(self.path / "users.parquet")

    def item_table(self) -> "pl.DataFrame":
        """item_id -> raw item id (and title, brand, main_cat when prepared with metadata)."""
        import polars as pl

        return pl.read_parquet(self.path / "items.parquet")

    def __repr__(self) -> str:
        return (
            f"Dataset({str(self.path)!r}, users={self.num_users}, items={self.num_items}, "
            f"interactions={self.num_interactions})"
        )


def _paths(inputs: PathLike | Iterable[PathLike]) -> list[str]:
    if isinstance(inputs, (str, os.PathLike)):
        return [os.fspath(inputs)]
    return [os.fspath(p) for p in inputs]


def _check_int(name: str, value: int | None, low: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not low <= value < 2**32:
        raise ValueError(f"{name} must be in {low}..{2**32 - 1}, got {value}")


def prepare(
    inputs: PathLike | Sequence[PathLike],
    out_dir: PathLike,
    *,
    meta: PathLike | Sequence[PathLike] = (),
    format: str | None = None,
    recipe: str = "kcore",
    min_rating: float | None = None,
    user_min: int | None = None,
    item_min: int | None = None,
    on_bad_line: str = "fail",
    threads: int | None = None,
    force: bool = False,
    progress: "_core.Progress | None" = None,
    max_line_bytes: int | None = None,
    columns: str | Mapping[str, str] | None = None,
    delimiter: str | None = None,
    item_key: str | None = None,
) -> Dataset:
    """Reads ``inputs`` (one stream, in order), applies ``recipe``, writes ``out_dir`` atomically.

    recipe: ``kcore`` (default: optional ``min_rating`` -> dedup -> iterative k-core with ``user_min`` and
    ``item_min``, both 5), ``slmrec-paper`` (rating >= 3 -> users >= 5 -> items >= 20 -> dedup -> users >= 5)
    or ``none``. ``format`` is detected per file when None (amazon-json, amazon23, ratings-csv, recbole, seq,
    table, movielens, yelp; see ``slmrec-prep --help``).
    ``on_bad_line="skip"`` counts bad lines by reason in ``stats`` instead of failing. ``threads``: 1..1024
    (``slmrec._core``'s bound), all cores when None. ``max_line_bytes`` (default 256 MiB): a longer line is an
    error in both modes (``FILE:LINE: line longer than N bytes``), with memory bounded by it.

    For ``format="table"`` (any delimited text with a header, or a Parquet file): ``columns`` chooses the user,
    item, time and rating columns by header name, as ``"user=COL,item=COL,time=COL,rating=COL"`` or a mapping
    ``{"user": COL, ...}`` (any subset; the rest are guessed from common names); ``delimiter`` is one character
    (detected from the header when None). For ``format="amazon23"``: ``item_key`` is ``"parent_asin"`` (the
    default) or ``"asin"``. Each is refused for a file of another format.

    Raises DataFormatError (``file:line: reason``), FileNotFoundError, EmptyDatasetError, OutputExistsError.
    """
    _check_int("user_min", user_min, 0)
    _check_int("item_min", item_min, 0)
    arrays = _core.prepare(
        _paths(inputs),
        os.fspath(out_dir),
        meta=_paths(meta) if meta else [],
        format=format,
        recipe=recipe,
        min_rating=min_rating,
        user_min=user_min,
        item_min=item_min,
        on_bad_line=on_bad_line,
        threads=threads,
        force=force,
        progress=progress,
        max_line_bytes=max_line_bytes,
        columns=_columns(columns),
        delimiter=delimiter,
        item_key=item_key,
    )
    return Dataset(Path(out_dir), arrays)


def _columns(columns: str | Mapping[str, str] | None) -> str | None:
    """``columns`` as the core parses it (``role=COL,...``)."""
    if columns is None or isinstance(columns, str):
        return columns
    if not isinstance(columns, Mapping):
        raise ValueError(f"columns must be a str or a mapping of role to column name, got {type(columns).__name__}")
    for role, col in columns.items():
        if not isinstance(col, str) or "," in col:
            raise ValueError(f"columns[{role!r}] must be a column name without a comma, got {col!r}")
    return ",".join(f"{role}={col}" for role, col in columns.items())


def load(path: PathLike) -> Dataset:
    """Loads a dataset directory written by :func:`prepare` (its schema and invariants are checked)."""
    return Dataset(Path(path), _core.load(os.fspath(path)))
