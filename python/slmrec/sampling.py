"""Negative sampling, evaluation candidates and training batches, computed in Rust and handed to NumPy
without a copy.

Everything here works on a history CSR: ``offsets`` (int64, ``num_users + 1``) and ``items`` (item ids
``1..num_items``, 0 is padding), row ``u`` being a user's chronological history. A :class:`slmrec.Dataset`
provides them (``ds.offsets``, ``ds.items``); any other project can pass its own arrays, or build any of the
classes from a table of raw ids with ``from_frame(table, user=..., item=..., time=...)`` (``from_dataset(ds)``
for a Dataset), whose ``.ids`` (:class:`IdMap`) maps raw ids in and results back. ``users`` are
always 0-based row indices into that CSR. Leave-one-out: a row's last item is the test target, the second
last the valid target, the rest (``seq[:-2]``) is train.

Design choices:

- Determinism: every row is drawn from its own counter-based random stream keyed by
  ``(seed, purpose, epoch, user)`` (SplitMix64, see ``slmrec-core``'s ``rng``), never from a shared stream.
  Results are identical across calls, thread counts and batch splits, and differ across epochs.
  ``sample`` and ``eval_candidates`` use different purposes, so evaluation negatives never mirror training.
- Speed: the heavy work (sampling, batch assembly, the per-epoch permutation) is Rust, runs on a rayon
  pool with the GIL released, and writes into buffers that become the NumPy arrays (``owndata`` is False:
  the array borrows the Rust buffer; ``torch.from_numpy`` shares it in turn).
- Sharding: an epoch's examples are permuted with ``(seed, epoch)``; rank ``r`` of ``world_size`` takes
  positions ``r, r + world_size, ...`` (no overlap, no loss). With ``even=True`` (the default) the shorter
  shards are topped up with the examples at the start of that epoch's permutation, so every rank runs the
  same number of steps, which DDP needs (``torch.utils.data.DistributedSampler`` does the same); a few
  examples are then seen twice per epoch. ``even=False`` gives exact shards.
- Length buckets: ``bucket=k`` (> 1) cuts a rank's epoch order into pools of ``k`` batches, sorts each pool by
  the history length of the examples' users and shuffles the full batches of the epoch (deterministically), so a
  batch holds histories of similar length and a model that cuts all-padding columns pays for its longest one.
- Processes: the Rust side is multi-threaded already, so the supported way to feed a model is
  ``DataLoader(ds.torch_dataset(), batch_size=None, num_workers=0)``. Fork-based workers are safe too
  (the sampling thread pools are per process: a forked child builds its own instead of waiting forever
  on the parent's threads, which do not exist after ``fork``), and so are ``spawn`` workers (the objects
  pickle); give such workers ``threads=1`` to avoid oversubscription, and call
  ``set_epoch(e)`` on the dataset before each epoch unless ``persistent_workers=True``.

``import slmrec.sampling`` does not import torch; :meth:`LastItemBatches.torch_dataset` does.
"""

from __future__ import annotations

import json
import operator
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, NamedTuple

import numpy as np

from slmrec import _core

if TYPE_CHECKING:
    from slmrec.data import Dataset

__all__ = [
    "IdMap",
    "LastItemBatches",
    "NegativeSampler",
    "SequenceBatches",
    "check_csr",
    "eval_candidates_for",
    "history_exclusions",
    "history_inputs",
    "split_targets",
    "cold_targets",
    "splittable_users",
]

#: What the negatives of :class:`SequenceBatches` avoid, as a training stage's result.json records it.
SAMPLED_NEGATIVES_AVOID = "the user's train part"

#: The salt of the evaluation candidates of each split (valid and test get independent negatives). "Stream" is
#: the core's word for an RNG purpose (``slmrec_core::rng::stream``); a salt varies the draws within one.
_EVAL_SALT = {"valid": 0, "test": 1}


def _int(name: str, value: Any, lo: int, hi: int | None = None) -> int:
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if v < lo or (hi is not None and v >= hi):
        bound = f"in {lo}..{hi - 1}" if hi is not None else f"at least {lo}"
        raise ValueError(f"{name} must be {bound}, got {v}")
    return v


def _seed(name: str, value: Any) -> int:
    return _int(name, value, 0, 2**64)


def _threads(threads: Any) -> int | None:
    """An integer (its range, 1..1024, is checked in Rust), or None for all cores."""
    if threads is None:
        return None
    try:
        return operator.index(threads)
    except TypeError:
        raise TypeError(f"threads must be an integer, got {type(threads).__name__}") from None


_I64_MAX = np.iinfo(np.int64).max


def _ints(name: str, a: Any) -> np.ndarray:
    """A contiguous int64 1-D array (integer input only; the values are checked in Rust). Unsigned values beyond
    int64 are an error naming the value as given (a plain cast would wrap them to negative numbers)."""
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    if arr.size and arr.dtype.kind == "u" and arr.dtype.itemsize >= 8:
        big = np.flatnonzero(arr > _I64_MAX)
        if big.size:
            k = int(big[0])
            raise ValueError(f"{name}[{k}] = {int(arr[k])} is out of range (at most {_I64_MAX})")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _items(a: Any) -> np.ndarray:
    """uint32 arrays pass through untouched (a Dataset's); anything else becomes int64 and is checked in Rust."""
    arr = np.asarray(a)
    if arr.dtype == np.uint32 and arr.ndim == 1:
        return np.ascontiguousarray(arr)
    return _ints("items", arr)


class IdMap:
    """Raw ids <-> the sampler's ids: users are CSR rows ``0..U-1``, items ``1..I`` (0 = padding).

    ``users[row]`` is the raw id of a row, ``items[id - 1]`` the raw id of an item (NumPy arrays: integers, or
    strings as ``str``). Made by the ``from_frame``/``from_dataset`` constructors; :meth:`rows` and
    :meth:`item_ids` map raw ids in (an unknown one is a ``KeyError`` naming it), :meth:`raw_users` and
    :meth:`raw_items` map results back.
    """

    def __init__(self, users: Any, items: Any):
        self.users, self.items = np.asarray(users), np.asarray(items)
        self._user_order = np.argsort(self.users, kind="stable")
        self._item_order = np.argsort(self.items, kind="stable")

    @staticmethod
    def _lookup(raw: Any, table: np.ndarray, order: np.ndarray, what: str) -> np.ndarray:
        q = np.asarray(raw)
        if q.dtype.kind == "O":
            q = q.astype(table.dtype)
        flat = q.reshape(-1)
        pos = np.searchsorted(table, flat, sorter=order).clip(0, max(len(table) - 1, 0))
        found = order[pos] if len(table) else pos
        bad = np.flatnonzero(table[found] != flat) if len(table) else np.arange(flat.size)
        if bad.size:
            raise KeyError(f"unknown {what} id {flat[bad[0]].item()!r}")
        return found.astype(np.int64).reshape(q.shape)

    def rows(self, raw_users: Any) -> np.ndarray:
        """int64 CSR rows (0-based) of raw user ids, same shape."""
        return self._lookup(raw_users, self.users, self._user_order, "user")

    def item_ids(self, raw_items: Any) -> np.ndarray:
        """int64 item ids (1..I) of raw item ids, same shape."""
        return self._lookup(raw_items, self.items, self._item_order, "item") + 1

    def raw_users(self, rows: Any) -> np.ndarray:
        """The raw user ids of CSR rows, same shape."""
        return self.users[np.asarray(rows, dtype=np.int64)]

    def raw_items(self, ids: Any, *, pad: Any = None) -> np.ndarray:
        """The raw item ids of item ids, same shape; padding (id 0) becomes ``pad`` (an object array then)."""
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() > len(self.items)):
            raise ValueError(f"item ids must be in 0..{len(self.items)}")
        out = self.items[(ids - 1).clip(0)]
        if (ids == 0).any():
            out = out.astype(object)
            out[ids == 0] = pad
        return out

    def __repr__(self) -> str:
        return f"IdMap(users={len(self.users)}, items={len(self.items)})"


def _column(table: Any, name: str, role: str) -> np.ndarray:
    if name not in table.columns:
        raise ValueError(f"no {role} column {name!r}; the table has {', '.join(map(repr, table.columns))}")
    col = table[name]
    if col.null_count():
        row = int(np.flatnonzero(col.is_null().to_numpy())[0])
        raise ValueError(f"{role} column {name!r} has {col.null_count()} missing values (the first in row {row})")
    a = col.to_numpy()
    return a.astype(str) if a.dtype.kind == "O" else a


def _from_table(table: Any, user: str, item: str, time: str | None) -> tuple[np.ndarray, np.ndarray, int, IdMap]:
    """A history CSR and its :class:`IdMap` from any table with user and item columns (polars, pandas, pyarrow or
    a dict of columns): raw ids factorised (sorted), rows ordered by ``time`` (stable) or kept in table order."""
    import polars as pl

    if not isinstance(table, pl.DataFrame):
        kind = type(table).__module__.split(".")[0]
        table = (
            pl.from_pandas(table)
            if kind == "pandas"
            else pl.from_arrow(table)
            if kind == "pyarrow"
            else pl.DataFrame(table)
        )
    raw_users, rows = np.unique(_column(table, user, "user"), return_inverse=True)
    raw_items, codes = np.unique(_column(table, item, "item"), return_inverse=True)
    rows = rows.astype(np.int64)
    order = np.lexsort((_column(table, time, "time"), rows)) if time is not None else np.argsort(rows, kind="stable")
    items = (codes.astype(np.int64) + 1)[order]
    offsets = np.zeros(len(raw_users) + 1, dtype=np.int64)  # int64 (np.cumsum after [0] would be float64)
    np.cumsum(np.bincount(rows, minlength=len(raw_users)), out=offsets[1:])
    return offsets, items, max(len(raw_items), 1), IdMap(raw_users, raw_items)


class _FromTable:
    """The constructors from a table or a Dataset, and the raw-id mapping, shared by the sampler and the batches."""

    ids: IdMap | None = None

    @classmethod
    def from_frame(
        cls, table: Any, *, user: str = "user_id", item: str = "item_id", time: str | None = None, **kwargs: Any
    ):
        """Built from a table of interactions (polars/pandas DataFrame, pyarrow Table, dict of columns) with
        ``user`` and ``item`` columns of any id type (strings too), ordered by ``time`` when given (else the
        table's order within each user). ``kwargs`` go to the constructor; ``.ids`` maps raw ids both ways."""
        offsets, items, num_items, ids = _from_table(table, user, item, time)
        obj = cls(offsets, items, num_items, **kwargs)
        obj.ids = ids
        return obj

    @classmethod
    def from_dataset(cls, dataset: "Dataset", **kwargs: Any):
        """Built from a prepared :class:`slmrec.Dataset`; ``.ids`` maps its raw user and item ids both ways."""
        obj = cls(dataset.offsets, dataset.items, dataset.num_items, **kwargs)
        users = dataset.user_table().sort("user_id")
        items = dataset.item_table().sort("item_id")
        obj.ids = IdMap(users["user"].to_numpy().astype(str), items["item"].to_numpy().astype(str))
        return obj

    def _ids(self) -> IdMap:
        if self.ids is None:
            raise ValueError(
                f"{type(self).__name__} was built from arrays: it has no raw ids (use from_frame or from_dataset)"
            )
        return self.ids

    def rows(self, raw_users: Any) -> np.ndarray:
        """The CSR rows (the ``users`` argument) of raw user ids."""
        return self._ids().rows(raw_users)

    def item_ids(self, raw_items: Any) -> np.ndarray:
        """The item ids (1..I) of raw item ids (e.g. the ``positives`` of :meth:`eval_candidates`)."""
        return self._ids().item_ids(raw_items)

    def to_raw_items(self, ids: Any, *, pad: Any = None) -> np.ndarray:
        """Results (negatives, candidates, batch items) in the caller's raw item ids; padding 0 -> ``pad``."""
        return self._ids().raw_items(ids, pad=pad)

    def to_raw_users(self, rows: Any) -> np.ndarray:
        """The raw user ids of CSR rows (a batch's ``users``)."""
        return self._ids().raw_users(rows)


class NegativeSampler(_FromTable):
    """Negatives and evaluation candidates that never contain an item of the user's history, nor 0.

    ``distribution="uniform"``: every item outside the history is equally likely. ``"popularity"``:
    ``p(i) ~ count(i) ** alpha`` with counts taken from the CSR (items that never occur are never drawn),
    via alias tables; a row is then a sequence of draws proportional to weight among the items not yet
    taken. Rows are distinct either way.

    A user with fewer available items than asked for raises ``ValueError`` naming the user; with
    ``pad_short=True`` its row instead holds all its available items (random order) followed by 0s.
    ``threads=None`` uses every core. Bad input (item ids 0 or out of range, offsets not monotone,
    mismatched lengths, k <= 0, a user out of range) raises ``ValueError`` naming the offending index.
    The CSR is copied once into Rust.
    """

    def __init__(
        self,
        offsets: Any,
        items: Any,
        num_items: int,
        *,
        seed: int = 0,
        threads: int | None = None,
        distribution: str = "uniform",
        alpha: float = 1.0,
        pad_short: bool = False,
    ):
        self._args = (_ints("offsets", offsets), _items(items), _int("num_items", num_items, 1))
        self._kwargs = dict(
            seed=_seed("seed", seed),
            threads=_threads(threads),
            distribution=distribution,
            alpha=float(alpha),
            pad_short=bool(pad_short),
        )
        self._core = _core.NegativeSampler(*self._args, **self._kwargs)

    def sample(self, users: Any, k: int, *, epoch: int = 0) -> np.ndarray:
        """int64 ``[len(users), k]``: ``k`` distinct negatives per user, a function of (seed, epoch, user)."""
        return self._core.sample(_ints("users", users), _int("k", k, 1), epoch=_seed("epoch", epoch))

    def eval_candidates(self, users: Any, positives: Any, n: int = 999, *, salt: int = 0) -> np.ndarray:
        """int64 ``[len(users), n + 1]``: column 0 is the positive, then ``n`` distinct negatives outside the
        user's full history (and other than the positive). Keyed by (seed, salt, user) apart from
        :meth:`sample`; another ``salt`` draws an independent set (``eval_candidates_for`` uses 0 for valid, 1 for
        test)."""
        return self._core.eval_candidates(
            _ints("users", users), _ints("positives", positives), _int("n", n, 1), salt=_seed("salt", salt)
        )

    def available(self, users: Any) -> np.ndarray:
        """int64 ``[len(users)]``: how many items each user can get as negatives (the largest valid k)."""
        return self._core.available(_ints("users", users))

    @property
    def num_users(self) -> int:
        return self._core.num_users

    @property
    def num_items(self) -> int:
        return self._core.num_items

    @property
    def seed(self) -> int:
        return self._kwargs["seed"]

    def __getstate__(self) -> dict:
        return {"args": self._args, "kwargs": self._kwargs, "ids": self.ids}

    def __setstate__(self, state: dict) -> None:
        self.__init__(*state["args"], **state["kwargs"])
        self.ids = state.get("ids")

    def __repr__(self) -> str:
        kw = self._kwargs
        return (
            f"NegativeSampler(users={self.num_users}, items={self.num_items}, seed={kw['seed']}, "
            f"distribution={kw['distribution']!r})"
        )


def history_inputs(offsets: Any, items: Any, users: Any, *, split: str, max_len: int) -> np.ndarray:
    """int64 ``[len(users), max_len]``: the model input for ``split`` of each user (a CSR row index).

    ``"valid"``: the items before ``seq[-2]``; ``"test"``: the items before ``seq[-1]``; ``"train"``: the
    items before ``seq[-3]``. The most recent ``max_len`` are kept, left-padded with 0. A user too short
    for the split raises ``ValueError`` naming it.
    """
    return _core.history_inputs(
        _ints("offsets", offsets),
        _items(items),
        _ints("users", users),
        split=split,
        max_len=_int("max_len", max_len, 1),
    )


def splittable_users(offsets: Any, num_interactions: int) -> np.ndarray:
    """int64 ``[U]``: the CSR rows a leave-one-out split can be made for (at least 3 items), ascending."""
    return _core.splittable_users(_ints("offsets", offsets), _int("num_interactions", num_interactions, 0))


def split_targets(offsets: Any, items: Any, users: Any, *, split: str) -> np.ndarray:
    """int64 ``[len(users)]``: the target of ``split`` of each user: ``seq[-1]`` (test), ``seq[-2]`` (valid) or
    ``seq[-3]`` (train). A user too short for the split raises ``ValueError`` naming it."""
    return _core.split_targets(_ints("offsets", offsets), _items(items), _ints("users", users), split=split)


def cold_targets(offsets: Any, items: Any, users: Any, *, split: str) -> np.ndarray:
    """bool ``[len(users)]``: whether each user's target of ``split`` is cold: it occurs nowhere in the split's
    training part (every user's sequence without its last 1 (test), 2 (valid) or 3 (train) items; RecTools'
    ``filter_cold_items`` on a leave-one-out split). A user too short for the split raises ``ValueError``."""
    return _core.cold_targets(_ints("offsets", offsets), _items(items), _ints("users", users), split=split)


def history_exclusions(offsets: Any, items: Any, users: Any, *, split: str) -> np.ndarray:
    """int64 ``[len(users), W]``: what full ranking puts below everything for each user in ``split``: its whole
    sequence with the split's target (every occurrence) replaced by 0, then 0s; ``W`` is the longest of these
    sequences (1 for no users)."""
    return _core.history_exclusions(_ints("offsets", offsets), _items(items), _ints("users", users), split=split)


def check_csr(offsets: Any, items: Any, num_items: int) -> None:
    """Raises ``ValueError`` naming the first problem of a history CSR: ``offsets`` not a row index over
    ``items`` (start 0, never decreasing, end ``len(items)``), or an item outside ``1..num_items``."""
    _core.check_csr(_ints("offsets", offsets), _items(items), _int("num_items", num_items, 1))


#: The sidecar format of persisted candidates (bump when what binds a file to its dataset changes).
_CANDIDATES_FORMAT = "slmrec-candidates-1"


def eval_candidates_for(
    source: "Dataset | NegativeSampler | _FromTable",
    split: str,
    *,
    n: int = 999,
    seed: int | None = None,
    directory: str | os.PathLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(users, candidates)`` for an evaluation split, persisted and re-used.

    ``source`` is a prepared :class:`slmrec.Dataset`, or a sampler or batch builder (any class of this module,
    e.g. one made by ``from_frame`` from a polars/pandas/arrow table): its CSR is what the candidates are drawn
    from. ``seed`` defaults to the sampler's own seed (0 for a Dataset). ``directory`` is where the files go:
    by default the dataset's directory; a sampler's candidates are persisted only when ``directory`` is given
    (they are deterministic, so without it each call computes the same ones). Map the results back to raw ids
    with the sampler's ``to_raw_users`` and ``to_raw_items``.

    ``users``: int64 ``[U]``, the CSR rows of length >= 3, ascending. ``candidates``: int64 ``[U, n + 1]``,
    column 0 the positive (``seq[-2]`` for ``"valid"``, ``seq[-1]`` for ``"test"``), then ``n`` uniform
    negatives outside the user's full history. The first call writes
    ``directory / f"candidates_{split}_seed{seed}_n{n}.npy"`` (uint32, half the size of int64) and beside it
    ``...npy.json``, which binds the file to what it was built from: the data's fingerprint (a Dataset's
    ``fingerprint``; for a sampler, the SHA-256 of its CSR), split, seed, n, the number of rows and the SHA-256
    of the .npy (both written atomically: a temporary file, then ``os.replace``). Later calls re-use the file
    only when the sidecar matches and the content passes one check in the core (column 0 the split's positive;
    negatives in 1..num_items, never 0, never an item of the user's history, distinct per row); anything else
    is rebuilt with a ``RuntimeWarning`` naming the file and the reason. Raises ``ValueError`` when a user has
    fewer than ``n`` items outside its history, with the largest ``n`` that works.
    """
    if split not in _EVAL_SALT:
        raise ValueError(f"split must be 'valid' or 'test', got {split!r}")
    n = _int("n", n, 1)
    src = _candidate_source(source)
    offsets, items, num_items = src.offsets, src.items, src.num_items
    seed = _seed("seed", src.seed if seed is None else seed)
    directory = src.directory if directory is None else Path(directory)
    users = _core.splittable_users(_ints("offsets", offsets), len(items))
    positives = _core.split_targets(_ints("offsets", offsets), items, users, split=split)
    path = None if directory is None else directory / f"candidates_{split}_seed{seed}_n{n}.npy"
    if path is not None:
        sidecar = path.with_name(path.name + ".json")
        binding = {
            "format": _CANDIDATES_FORMAT,
            "fingerprint": src.fingerprint(),
            "split": split,
            "seed": seed,
            "n": n,
            "rows": int(len(users)),
            "dtype": "uint32",
        }
        if path.exists():
            problem = _cached_problem(path, sidecar, binding, offsets, items, num_items, users, split, n)
            if problem is None:
                return users, np.load(path, allow_pickle=False).astype(np.int64)
            warnings.warn(f"{path} {problem}; rebuilding it", RuntimeWarning, stacklevel=2)

    sampler = NegativeSampler(offsets, items, num_items, seed=seed)
    if len(users):
        avail = sampler.available(users)
        worst = int(np.argmin(avail))
        if avail[worst] < n:
            raise ValueError(
                f"user {users[worst]} has only {avail[worst]} items outside its history, fewer than n = {n} "
                f"negatives for the {split} split of {src.name}; pass n <= {avail[worst]}"
            )
    candidates = sampler.eval_candidates(users, positives, n, salt=_EVAL_SALT[split])
    if path is None:
        return users, candidates
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sidecar.unlink(missing_ok=True)  # never a new file beside an old binding
        _write_atomic(path, lambda f: np.save(f, candidates.astype(np.uint32)))
        import hashlib

        with open(path, "rb") as f:
            binding["sha256"] = hashlib.file_digest(f, "sha256").hexdigest()
        _write_atomic(sidecar, lambda f: f.write(json.dumps(binding, indent=1).encode()))
    except OSError as e:
        warnings.warn(
            f"cannot persist {path} ({e}); the candidates are deterministic, so a later call rebuilds the same ones",
            RuntimeWarning,
            stacklevel=2,
        )
    return users, candidates


class _CandidateSource(NamedTuple):
    """What :func:`eval_candidates_for` needs of a Dataset or a sampler."""

    offsets: np.ndarray
    items: np.ndarray
    num_items: int
    fingerprint: Callable[[], str]  # called only when a file is bound
    directory: Path | None  # where the files go by default (None: not persisted)
    seed: int  # the default seed
    name: str  # how an error names the source


def _candidate_source(source: Any) -> _CandidateSource:
    if isinstance(source, _FromTable):
        offsets, items, num_items = source._args
        items = _items(items)

        def fingerprint() -> str:
            import hashlib

            h = hashlib.sha256(f"csr num_items={num_items} users={len(offsets) - 1}\n".encode())
            h.update(np.ascontiguousarray(offsets, dtype="<i8").tobytes())
            h.update(np.ascontiguousarray(items, dtype="<u4").tobytes())
            return "csr-sha256:" + h.hexdigest()

        return _CandidateSource(
            offsets, items, num_items, fingerprint, None, source._kwargs["seed"], f"this {type(source).__name__}"
        )
    return _CandidateSource(
        _ints("offsets", source.offsets),
        _items(source.items),
        _int("num_items", source.num_items, 1),
        lambda: source.fingerprint,
        Path(source.path),
        0,
        str(source.path),
    )


def _write_atomic(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _cached_problem(
    path: Path,
    sidecar: Path,
    binding: dict,
    offsets: np.ndarray,
    items: np.ndarray,
    num_items: int,
    users: np.ndarray,
    split: str,
    n: int,
) -> str | None:
    """Why the persisted candidates at ``path`` cannot be used (None when they can)."""
    import hashlib

    try:
        bound = json.loads(sidecar.read_text())
    except FileNotFoundError:
        return f"has no {sidecar.name} binding it to this dataset (written by an older slmrec?)"
    except (OSError, ValueError) as e:
        return f"has an unreadable {sidecar.name} ({e})"
    if not isinstance(bound, dict):
        return f"has a {sidecar.name} that is not a JSON object"
    for key, want in binding.items():
        if bound.get(key) != want:
            what = "the dataset's fingerprint (was the dataset rebuilt?)" if key == "fingerprint" else key
            return f"was built for {key} = {bound.get(key)!r}, not {want!r}: {what} does not match"
    try:
        cached = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as e:
        return f"cannot be read ({e})"
    if cached.dtype != np.uint32 or cached.shape != (len(users), n + 1):
        return f"has dtype {cached.dtype} and shape {cached.shape}, expected uint32 {(len(users), n + 1)}"
    with open(path, "rb") as f:
        if hashlib.file_digest(f, "sha256").hexdigest() != bound.get("sha256"):
            return f"was changed after it was written (its SHA-256 is not the one in {sidecar.name})"
    cached = np.ascontiguousarray(cached)
    if items.dtype != np.uint32:
        items = items.astype(np.uint32)
    problem = _core.check_candidates(offsets, items, int(num_items), users, split, cached)
    return None if problem is None else f"is not valid for this dataset: {problem}"


class _Batches(_FromTable):
    """What the two batch builders share in Python: the torch adaptor, DataLoader workers and pickling.

    The keyword options go to the core as given: their defaults (``defaults()``) and their checks live there.
    """

    _core_class: Any = None

    def __init__(self, offsets: Any, items: Any, num_items: int, **options: Any):
        self._args = (_ints("offsets", offsets), _items(items), _int("num_items", num_items, 1))
        self._kwargs = options
        self._core = self._core_class(*self._args, **options)

    @staticmethod
    def defaults() -> dict[str, Any]:
        """The defaults of the keyword options (the core's)."""
        return _core.Batches.defaults()

    def epoch(self, e: int = 0) -> Iterator[dict[str, np.ndarray]]:
        """This rank's batches of epoch ``e``: dicts of int64 arrays (ready for ``torch.from_numpy``)."""
        return self._iter(e, 0, 1)

    #: Batches built per call into Rust (in parallel); they are then yielded one by one.
    _CHUNK = 8

    def _iter(self, e: int, worker: int, num_workers: int) -> Iterator[dict[str, np.ndarray]]:
        order = self._core.order(e)
        mine = range(worker, order.num_batches, num_workers)
        for start in range(0, len(mine), self._CHUNK):
            yield from self._core.batches(order, list(mine[start : start + self._CHUNK]))

    def num_batches(self, e: int = 0) -> int:
        """This rank's number of batches in epoch ``e`` (the same in every epoch, and on every rank when even)."""
        _seed("epoch", e)  # the count does not depend on the epoch; a bad one is still an error
        return self._core.num_batches()

    @property
    def num_examples(self) -> int:
        """Examples per epoch over all ranks."""
        return self._core.num_examples

    @property
    def rank_examples(self) -> int:
        """This rank's examples per epoch (padding included when ``even``)."""
        return self._core.rank_examples

    def torch_dataset(self, epoch_start: int = 0) -> Any:
        """A ``torch.utils.data.IterableDataset`` yielding the same batches as torch tensors (sharing memory).

        Each ``iter()`` runs one epoch, starting at ``epoch_start`` and counting up; ``set_epoch(e)`` picks
        one. Use ``DataLoader(ds, batch_size=None, num_workers=0)``; with workers, batches are dealt out
        round-robin so the order is unchanged (see the module docs about fork, spawn and ``set_epoch``).
        """
        return _torch_class()(self, _seed("epoch_start", epoch_start))

    def __getstate__(self) -> dict:
        return {"args": self._args, "kwargs": self._kwargs, "ids": self.ids}

    def __setstate__(self, state: dict) -> None:
        self._args, self._kwargs = state["args"], state["kwargs"]
        self._core = self._core_class(*self._args, **self._kwargs)
        self.ids = state.get("ids")

    def __repr__(self) -> str:
        kw = ", ".join(f"{k}={v!r}" for k, v in self._kwargs.items() if k != "threads")
        return f"{type(self).__name__}(examples={self.num_examples}, {kw})"


class LastItemBatches(_Batches):
    """Last-item training batches (SLMRec/E4SRec), from the train part of each user of length >= 3.

    Default (the paper's): one example per user, target ``seq[-3]``, input the items before it (the most
    recent ``max_len``, left-padded with 0; a user of length 3 has an all-padding input).
    ``all_prefixes=True``: every position ``t >= 1`` of the train part ``seq[:-2]`` is a target with input
    ``seq[:t]``; the unit shuffled and sharded is then the example, not the user.

    ``epoch(e)`` yields ``{"users": [B], "input_ids": [B, max_len], "target": [B]}`` (int64; ``users`` are
    CSR rows). Sharding, ``even``, ``bucket`` and workers: see the module docs.

    Keyword options: ``max_len``, ``batch_size``, ``seed``, ``all_prefixes``, ``rank``, ``world_size``,
    ``shuffle``, ``drop_last``, ``even``, ``bucket``, ``threads`` (defaults: :meth:`defaults`).
    """

    _core_class = _core.LastItemBatches


class SequenceBatches(_Batches):
    """All-position training batches (SASRec) over the train part ``seq[:-2]`` of each user of length >= 3.

    Input ``train[:-1]``, positives ``train[1:]`` (the most recent ``max_len``, left-padded with 0, so
    positives are 0 where padded) and ``num_negatives`` distinct uniform negatives per position, never in
    the user's train part (0 where padded; ``num_negatives=0``: none, for a full-softmax loss); its validation
    and test items can be drawn, as in a full softmax (never drawing them leaks the held-out targets). Negatives
    are a function of (seed, epoch, user). A user of length 3 has no position (its train part is one item):
    its row is all padding, to be masked.
    ``windows=stride`` (1..max_len): a user's targets are cut from the end into runs of ``stride``, each an
    example whose ``max_len`` inputs end just before its last target; only the run's positions carry
    positives (earlier positions are context, positive 0). Every target of a long history is then used once
    per epoch (not only the last ``max_len``), with at least ``max_len - stride`` items of context where the
    history has them; users without a target have no example.

    ``epoch(e)`` yields ``{"users": [B], "input_ids": [B, L], "positives": [B, L],
    "negatives": [B, L, num_negatives]}`` (int64). Sharding, ``even``, ``bucket`` and workers: see the module docs.

    Keyword options: ``max_len``, ``batch_size``, ``num_negatives``, ``windows``, ``seed``, ``rank``,
    ``world_size``, ``shuffle``, ``drop_last``, ``even``, ``bucket``, ``threads`` (defaults: :meth:`defaults`).
    """

    _core_class = _core.SequenceBatches


def _make_torch_batches() -> type:
    import torch
    from torch.utils.data import IterableDataset, get_worker_info

    class TorchBatches(IterableDataset):
        """The batches of a :class:`LastItemBatches`/:class:`SequenceBatches` as dicts of int64 tensors.

        One ``iter()`` = one epoch (then the epoch counter moves on); ``set_epoch(e)`` chooses it. DataLoader
        workers take batches round-robin (worker ``w`` of ``W`` builds batches ``w, w + W, ...``), which the
        DataLoader yields in the original order.
        """

        def __init__(self, batches: _Batches, epoch_start: int = 0):
            super().__init__()
            self.batches = batches
            self.epoch = epoch_start

        def set_epoch(self, epoch: int) -> None:
            self.epoch = _seed("epoch", epoch)

        def __len__(self) -> int:
            return self.batches.num_batches(self.epoch)

        def __iter__(self) -> Iterator[dict[str, "torch.Tensor"]]:
            epoch = self.epoch
            self.epoch += 1
            info = get_worker_info()
            worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
            for batch in self.batches._iter(epoch, worker, workers):
                yield {k: torch.from_numpy(v) for k, v in batch.items()}

    TorchBatches.__module__ = __name__
    TorchBatches.__qualname__ = "TorchBatches"
    return TorchBatches


def _torch_class() -> type:
    cls = globals().get("TorchBatches")
    if cls is None:
        cls = globals()["TorchBatches"] = _make_torch_batches()
    return cls


def __getattr__(name: str) -> Any:
    # PEP 562: the torch dataset class is made (and torch imported) on first use, under a stable name so
    # that it pickles for spawn-based DataLoader workers.
    if name == "TorchBatches":
        return _torch_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
