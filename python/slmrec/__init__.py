"""slmrec: sequential recommendation with language models, distilled (SLMRec, ICLR 2025).

Quickstart (prepare -> load -> sample -> train -> recommend)::

    import slmrec
    from slmrec.sampling import LastItemBatches, NegativeSampler

    ds = slmrec.prepare("reviews.json.gz", "data/reviews")    # raw dump -> dataset dir (recipe kcore 5/5)
    ds = slmrec.load("data/reviews")                          # CSR: ds.offsets, ds.items; ds.stats
    sampler = NegativeSampler.from_dataset(ds, seed=0)
    negatives = sampler.sample([0, 1], 10)                    # item ids outside each user's history
    batches = LastItemBatches.from_dataset(ds, max_len=30, batch_size=256)
    batch = next(iter(batches.epoch(0)))                      # users, input_ids, target (int64 arrays)
    # train: SASRec -> LLM teacher -> distilled student, then results.md in the run dir
    from slmrec import config
    from slmrec.train import Pipeline
    Pipeline(config.preset("tiny"), ds, "runs/demo").run()    # = slmrec-train --data data/reviews --preset tiny
    rec = slmrec.Recommender.from_run("runs/demo", model="student")
    top = rec.recommend(users=["A2SUAM1J3GNN3B"], k=10)       # raw user ids -> polars: user, rank, item, score

The same from the shell: ``slmrec-prep reviews.json.gz --out data/reviews`` then
``slmrec-train --data data/reviews --preset small --out runs/demo`` (``--help`` lists every key).

Public API:

- ``prepare(inputs, out_dir, recipe=..., ...)``, ``load(dir)`` -> ``Dataset`` (offsets, items, timestamps,
  ratings, stats, ``to_polars()``, ``user_table()``, ``item_table()``)
- ``slmrec.sampling``: ``NegativeSampler``, ``LastItemBatches``, ``SequenceBatches`` (each also
  ``.from_frame(table, user=, item=, time=)`` and ``.from_dataset(ds)``), ``IdMap``, ``eval_candidates_for``,
  ``history_inputs``
- ``slmrec.config`` (presets, dotted keys), ``slmrec.train.Pipeline`` (torch), ``slmrec.report``
- ``Recommender`` (torch; :mod:`slmrec.recommend`): ``.from_run(RUN_DIR, model=...)``, ``.load(EXPORT_DIR)``,
  ``.recommend(users, k)``, ``.recommend_histories(histories, k)``, ``.score(histories, candidates)``, ``.save(DIR)``
- errors: ``SlmrecError`` and its subclasses ``ConfigError``, ``DataFormatError``, ``EmptyDatasetError``,
  ``OutputExistsError``

The data layer (``prepare``, ``load``, ``Dataset``, ``slmrec.sampling``) is a Rust extension and imports in a
fraction of a second; torch, transformers and peft are imported only by the training and inference modules
(``slmrec.Recommender`` resolves lazily too). Even NumPy is
imported only when a data function is first used (``prepare``, ``load`` and ``Dataset`` resolve lazily), so a
command-line tool can configure it first.
"""

from typing import TYPE_CHECKING

from slmrec._core import __version__
from slmrec.errors import (
    ConfigError,
    DataFormatError,
    EmptyDatasetError,
    InternalError,
    OutputExistsError,
    SlmrecError,
)

if TYPE_CHECKING:
    from slmrec.data import Dataset, load, prepare
    from slmrec.recommend import Recommender

__all__ = [  # the API first, then the errors
    "prepare",
    "load",
    "Dataset",
    "Recommender",
    "__version__",
    "SlmrecError",
    "ConfigError",
    "DataFormatError",
    "EmptyDatasetError",
    "InternalError",
    "OutputExistsError",
]

_LAZY = {"Dataset": "data", "load": "data", "prepare": "data", "Recommender": "recommend"}  # name -> module


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"slmrec.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'slmrec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
