"""Type stubs of the Rust extension ``slmrec._core`` (built from ``rust/slmrec-py``)."""

from typing import Any, final

import numpy as np
import numpy.typing as npt
from typing_extensions import disjoint_base

__all__ = [
    "__version__",
    "Progress",
    "prepare",
    "load",
    "check_candidates",
    "NegativeSampler",
    "EpochOrder",
    "Batches",
    "LastItemBatches",
    "SequenceBatches",
    "history_inputs",
    "split_targets",
    "cold_targets",
    "splittable_users",
    "history_exclusions",
    "check_csr",
]

__version__: str

# --- preparation (rust/slmrec-py/src/lib.rs; wrapped by slmrec.data) ------------------------------------

@final
class Progress:
    """Bytes read so far, polled by a Python thread while ``prepare`` runs with the interpreter released."""

    def __new__(cls) -> Progress: ...
    @property
    def done(self) -> int: ...
    @property
    def total(self) -> int: ...

def prepare(
    inputs: list[str],
    out_dir: str,
    *,
    meta: list[str] = ...,
    format: str | None = None,
    recipe: str = "kcore",
    min_rating: float | None = None,
    user_min: int | None = None,
    item_min: int | None = None,
    on_bad_line: str = "fail",
    threads: int | None = None,
    force: bool = False,
    progress: Progress | None = None,
    max_line_bytes: int | None = None,
    columns: str | None = None,
    delimiter: str | None = None,
    item_key: str | None = None,
) -> dict[str, Any]: ...
def load(path: str) -> dict[str, Any]: ...
def check_candidates(
    offsets: npt.NDArray[np.int64],
    items: npt.NDArray[np.uint32],
    num_items: int,
    users: npt.NDArray[np.int64],
    split: str,
    candidates: npt.NDArray[np.uint32],
) -> str | None: ...

# --- sampling (rust/slmrec-py/src/sampling.rs; wrapped by slmrec.sampling) -----------------------------

_I64 = npt.NDArray[np.int64]
_Items = npt.NDArray[np.uint32] | npt.NDArray[np.int64]

@final
class NegativeSampler:
    def __new__(
        cls,
        offsets: _I64,
        items: _Items,
        num_items: int,
        *,
        seed: int = 0,
        threads: int | None = None,
        distribution: str = "uniform",
        alpha: float = 1.0,
        pad_short: bool = False,
    ) -> NegativeSampler: ...
    def sample(self, users: _I64, k: int, *, epoch: int = 0) -> _I64: ...
    def eval_candidates(self, users: _I64, positives: _I64, n: int = 999, *, salt: int = 0) -> _I64: ...
    def available(self, users: _I64) -> _I64: ...
    @property
    def num_users(self) -> int: ...
    @property
    def num_items(self) -> int: ...

@final
class EpochOrder:
    @property
    def num_batches(self) -> int: ...
    @property
    def epoch(self) -> int: ...
    def __len__(self) -> int: ...

@disjoint_base
class Batches:
    """What the two batch classes share (not constructed directly)."""

    @staticmethod
    def defaults() -> dict[str, Any]: ...
    def order(self, epoch: int) -> EpochOrder: ...
    def batch(self, order: EpochOrder, b: int) -> dict[str, _I64]: ...
    def batches(self, order: EpochOrder, which: list[int]) -> list[dict[str, _I64]]: ...
    def num_batches(self) -> int: ...
    @property
    def num_examples(self) -> int: ...
    @property
    def rank_examples(self) -> int: ...

# The defaults of the keyword options are the core's (``Batches.defaults()``).
@final
class LastItemBatches(Batches):
    def __new__(
        cls,
        offsets: _I64,
        items: _Items,
        num_items: int,
        *,
        max_len: int = ...,
        batch_size: int = ...,
        seed: int = ...,
        all_prefixes: bool = False,
        rank: int = ...,
        world_size: int = ...,
        shuffle: bool = ...,
        drop_last: bool = ...,
        even: bool = ...,
        bucket: int = ...,
        threads: int | None = None,
    ) -> LastItemBatches: ...

@final
class SequenceBatches(Batches):
    def __new__(
        cls,
        offsets: _I64,
        items: _Items,
        num_items: int,
        *,
        max_len: int = ...,
        batch_size: int = ...,
        num_negatives: int = ...,
        windows: int | None = None,
        seed: int = ...,
        rank: int = ...,
        world_size: int = ...,
        shuffle: bool = ...,
        drop_last: bool = ...,
        even: bool = ...,
        bucket: int = ...,
        threads: int | None = None,
    ) -> SequenceBatches: ...

def history_inputs(
    offsets: _I64, items: _Items, users: _I64, *, split: str, max_len: int, threads: int | None = None
) -> _I64: ...
def split_targets(offsets: _I64, items: _Items, users: _I64, *, split: str) -> _I64: ...
def cold_targets(offsets: _I64, items: _Items, users: _I64, *, split: str) -> npt.NDArray[np.bool_]: ...
def splittable_users(offsets: _I64, items_len: int) -> _I64: ...
def history_exclusions(
    offsets: _I64, items: _Items, users: _I64, *, split: str, threads: int | None = None
) -> _I64: ...
def check_csr(offsets: _I64, items: _Items, num_items: int) -> None: ...
