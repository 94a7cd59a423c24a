"""Top-k recommendations from a trained run or a portable export: :class:`Recommender`.

    rec = slmrec.Recommender.from_run("runs/demo", model="student")   # or "student_nokd" | "teacher" | "sasrec"
    top = rec.recommend(users=["A2SUAM1J3GNN3B"], k=10)                 # polars: user, rank, item, score (+ title..)
    top = rec.recommend_histories([["B0001", "B0002"]], k=10)          # new users: history, rank, item, score
    s = rec.score([["B0001", "B0002"]], ["B0003", "B0004"])            # numpy [histories, candidates]
    rec.save("exports/demo")                                           # slmrec.export's directory
    rec = slmrec.Recommender.load("exports/demo")

Design choices:
- The model is the one the run evaluated, built the way training built it (``Pipeline.trained``: the same
  backbone, depth, LoRA adapters and best weights), so on the CPU the scores are bit-identical to the run's
  evaluation for the same history and batch: a user's input is the most recent ``max_len`` items of its sequence
  (``split="test"``: without its last item, exactly what the test evaluation fed; ``"valid"``: without its last
  two; ``"all"``, the default: the whole sequence, i.e. the next item after everything known), and scores are
  ``user_vector @ item_table.T`` in float32 as in :func:`slmrec.evaluate.evaluate`. The default batch of a run is
  its ``eval.batch_size``.
- Batched and memory-bounded: a batch of users is encoded, scored against every item and reduced to its top k on
  the device; the largest thing in memory is one ``batch x items`` float32 score matrix (256 x 100k = 100 MB),
  never ``users x items``. The result holds ``users x k`` ids and scores.
- Seen items: by default every item of the user's sequence before the cut (all of it, not only the last
  ``max_len``) is excluded (``exclude_seen=False`` keeps them); padding is never recommended. A user with fewer
  unseen items than ``k`` gets fewer rows.
- Ties are broken deterministically: higher score first, and among bitwise-equal float32 scores the smaller
  ``item_id`` (raw ids are numbered in sorted order by ``slmrec-prep``), on CPU and GPU alike (:func:`top_k`).
- Raw ids in, raw ids out. An unknown raw id is a :class:`UnknownIdError` naming (the first few of) them;
  ``on_unknown="skip"`` drops them instead (unknown items inside a history are removed; a history left empty is
  skipped) and ``last_skipped`` counts what was dropped.
"""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from slmrec.errors import CheckpointError, ConfigError, SlmrecError

SPLITS = {"all": 0, "test": 1, "valid": 2}  # items cut from the end of each user's sequence
MODELS = ("student", "student_nokd", "teacher", "sasrec")
DEFAULT_BATCH = 256
_SHOWN = 5  # unknown ids named in an error


def finished_stage(run_dir: Path, model: str) -> Path:
    """The result.json of stage ``model`` of the ``slmrec-train`` run ``run_dir``; a :class:`ConfigError` saying
    what is wrong when ``model`` is no model stage, ``run_dir`` is no run, or the stage has not finished."""
    if model not in MODELS:
        raise ConfigError(f"model must be one of {', '.join(MODELS)}, not {model!r}")
    if not (run_dir / "config.json").is_file():
        raise ConfigError(f"{run_dir}: not a slmrec-train run directory (no config.json)")
    result_path = run_dir / model / "result.json"
    if not result_path.is_file():
        done = [m for m in MODELS if (run_dir / m / "result.json").is_file()]
        raise ConfigError(f"{run_dir}: its {model} stage has not finished (finished: {', '.join(done) or 'none'})")
    return result_path


class UnknownIdError(SlmrecError, ValueError):
    """Raw user or item ids that the model's dataset does not know."""


def top_k(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(values, indices) [B, k] of the k highest scores of each row of ``scores`` [B, N], ordered by score
    (highest first) and, among equal scores, by increasing index; the same on any device and for any batch.

    ``torch.topk`` alone picks arbitrarily among values tied with the k-th; a tie crosses the cut exactly when the
    (k+1)-th largest value equals the k-th, so k + 1 are taken, and those rows (rare) are redone exactly; then each
    row is sorted by (score descending, index ascending)."""
    values, index = scores.topk(min(k + 1, scores.shape[1]), dim=1)
    crossing = torch.zeros(len(scores), dtype=torch.bool, device=scores.device)
    if values.shape[1] > k:
        crossing = (values[:, k] == values[:, k - 1]) & torch.isfinite(values[:, k - 1])
        values, index = values[:, :k], index[:, :k]
    kth = values[:, -1:]
    for r in crossing.nonzero().flatten().tolist():
        row, t = scores[r], kth[r, 0]
        above = (row > t).nonzero().flatten()
        chosen = torch.cat([above, (row == t).nonzero().flatten()[: k - len(above)]])
        index[r], values[r] = chosen, row[chosen]
    index, order = index.sort(dim=1)
    values = values.gather(1, order)
    values, order = values.sort(dim=1, descending=True, stable=True)
    return values, index.gather(1, order)


def left_pad(flat: np.ndarray, starts: np.ndarray, ends: np.ndarray, max_len: int) -> np.ndarray:
    """int64 [B, max_len]: the last ``max_len`` items of each span ``flat[starts[i]:ends[i]]``, left-padded with 0
    (the models' input; :func:`slmrec.sampling.history_inputs` for dataset rows)."""
    pos = ends[:, None] - max_len + np.arange(max_len)  # [B, L]
    return np.where(pos >= starts[:, None], flat[np.maximum(pos, 0)], 0).astype(np.int64)


def _spans(flat: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """int64 [B, longest span]: every item of each span, right-padded with 0 (the seen items to exclude)."""
    width = int((ends - starts).max()) if len(starts) else 0
    pos = starts[:, None] + np.arange(max(width, 1))
    return np.where(pos < ends[:, None], flat[np.minimum(pos, max(len(flat) - 1, 0))], 0).astype(np.int64)


def _as_keys(ids: Iterable) -> list[str]:
    return [x if isinstance(x, str) else str(x) for x in ids]


def _device(device) -> torch.device:
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


class Recommender:
    """A trained model with its item table and id maps; see the module docstring."""

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        kind: str,
        max_len: int,
        items,
        users,
        offsets: np.ndarray,
        sequences: np.ndarray,
        info: dict,
        arch: dict | None = None,
        device=None,
        batch_size: int | None = None,
        precision: str = "auto",
    ):
        import polars as pl

        self.device = _device(device)
        self.kind = kind  # "sasrec" | "llm"
        self.model = model.to(self.device).eval().requires_grad_(False)
        table = model.item_emb.weight if kind == "sasrec" else model.item_emb
        self.table = table.detach().float()  # [I+1, D] on the device
        self.max_len = int(max_len)
        self.num_items = self.table.shape[0] - 1
        items = items.with_columns(pl.col("item").cast(pl.String))
        if items["item_id"].to_list() != list(range(1, self.num_items + 1)):
            raise CheckpointError(
                f"the item table has {self.num_items} rows but the item map is not item_id 1..{self.num_items} in order"
            )
        self.items = items  # item_id, item (raw), and any metadata (title, brand, main_cat)
        self.users = users.cast(pl.String)  # raw user id of CSR row u (user_id u + 1)
        self.offsets = np.asarray(offsets, dtype=np.int64)  # [U+1]
        self.sequences = np.asarray(sequences)  # item ids, each user's oldest first
        self.info = info  # provenance: run, stage, data fingerprint, metrics
        self._arch = arch
        self.batch_size = int(batch_size or DEFAULT_BATCH)
        amp = precision
        if amp == "auto":
            amp = "bf16" if self.device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
        self.precision = amp if self.device.type == "cuda" else "fp32"
        self.last_skipped: dict[str, int] = {}
        self._item_index: dict[str, int] | None = None
        self._user_index: dict[str, int] | None = None

    # ----- construction
    @classmethod
    def from_run(cls, run_dir, model: str = "student", *, device=None, batch_size: int | None = None):
        """The best weights of stage ``model`` of a finished ``slmrec-train`` run, with the run's dataset."""
        from slmrec import config as configs
        from slmrec import rundir
        from slmrec.stages import LLM_STAGES
        from slmrec.train import Pipeline

        run_dir = Path(run_dir)
        result_path = finished_stage(run_dir, model)
        cfg = configs.load(run_dir / "config.json")
        dataset = rundir.bound_dataset(run_dir)
        pipe = Pipeline(cfg, dataset, run_dir)
        net = pipe.trained(model)
        from slmrec.checkpoint import read_json

        result = read_json(result_path)
        kind = "llm" if model in LLM_STAGES else "sasrec"
        arch = None if kind == "llm" else pipe.sasrec_arch()
        import slmrec

        info = {
            "model": model,
            "run": str(run_dir.resolve()),
            "data": {
                "path": str(Path(dataset.path).resolve()),
                "fingerprint": dataset.fingerprint,
                "users": dataset.num_users,
                "items": dataset.num_items,
            },
            "metrics": {"valid": result.get("valid"), "test": result.get("test")},
            "params": result.get("params"),
            "slmrec_version": slmrec.__version__,
            "run_config": cfg.to_dict(),
        }
        mp = cfg.run.mixed_precision
        return cls(
            net,
            kind=kind,
            max_len=cfg.data.max_len,
            items=dataset.item_table(),
            users=dataset.user_table()["user"],
            offsets=dataset.offsets,
            sequences=dataset.items,
            info=info,
            arch=arch,
            device=device,
            batch_size=batch_size or cfg.eval.batch_size,
            precision={"no": "fp32", "auto": "auto"}.get(mp, mp),
        )

    @classmethod
    def load(cls, path, *, device=None, batch_size: int | None = None):
        """A directory written by :meth:`save` / ``slmrec-export`` (every file checked; nothing unpickled)."""
        from slmrec import export

        config, tensors, items, users = export.read(path)
        arch, kind = config["architecture"], config["kind"]
        try:
            net = _build_llm(arch, tensors) if kind == "llm" else _build_sasrec(arch, tensors)
        except (KeyError, RuntimeError, ValueError, TypeError) as e:
            raise CheckpointError(
                f"{path}: its weights do not fit its architecture ({type(e).__name__}: "
                f"{str(e).splitlines()[0] if str(e) else ''})"
            ) from None
        lengths = users["history"].list.len().to_numpy().astype(np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        seq = users["history"].explode().to_numpy().astype(np.uint32) if len(users) else np.zeros(0, np.uint32)
        if users["user_id"].to_list() != list(range(1, len(users) + 1)):
            raise CheckpointError(f"{path}: users.parquet is not user_id 1..{len(users)} in order")
        return cls(
            net,
            kind=kind,
            max_len=config["max_len"],
            items=items,
            users=users["user"],
            offsets=offsets,
            sequences=seq,
            info=config["provenance"],
            arch=arch if kind == "sasrec" else None,
            device=device,
            batch_size=batch_size or config.get("batch_size"),
        )

    def save(self, path, *, force: bool = False) -> Path:
        """Writes the portable export (:mod:`slmrec.export`) to ``path``; returns it."""
        import polars as pl

        from slmrec import export

        if self.kind == "llm":
            tensors, arch = _llm_export(self.model)
        else:
            tensors, arch = {k: v for k, v in self.model.state_dict().items()}, self._arch
        users = pl.DataFrame({"user_id": np.arange(1, len(self.users) + 1, dtype=np.uint32), "user": self.users})
        users = users.with_columns(_lists(self.sequences, np.diff(self.offsets)))
        config = {
            "kind": self.kind,
            "max_len": self.max_len,
            "batch_size": self.batch_size,
            "architecture": arch,
            "provenance": self.info,
        }
        export.write(Path(path), tensors=tensors, items=self.items, users=users, config=config, force=force)
        return Path(path)

    # ----- ids
    def _items_of(self, raw: Sequence, on_unknown: str) -> tuple[np.ndarray, list[str]]:
        """(item ids with 0 for unknown ones, the unknown raw ids)."""
        if self._item_index is None:
            self._item_index = {r: i for i, r in enumerate(self.items["item"].to_list(), start=1)}
        keys = _as_keys(raw)
        ids = np.fromiter((self._item_index.get(r, 0) for r in keys), dtype=np.int64, count=len(keys))
        return ids, [r for r, i in zip(keys, ids) if i == 0]

    def _user_rows(self, raw: Sequence, on_unknown: str) -> tuple[np.ndarray, np.ndarray]:
        """(CSR rows of the known users, their positions in ``raw``)."""
        if self._user_index is None:
            self._user_index = {r: i for i, r in enumerate(self.users.to_list())}
        keys = _as_keys(raw)
        rows = np.fromiter((self._user_index.get(r, -1) for r in keys), dtype=np.int64, count=len(keys))
        unknown = [r for r, i in zip(keys, rows) if i < 0]
        if unknown:
            _refuse_or_count(unknown, "user", on_unknown, self.last_skipped)
        keep = np.flatnonzero(rows >= 0)
        return rows[keep], keep

    def _histories(self, histories: Sequence[Sequence], on_unknown: str):
        """(flat item ids, starts, ends, positions of the histories kept) of raw histories."""
        if isinstance(histories, (str, bytes)) or not all(isinstance(h, (list, tuple, np.ndarray)) for h in histories):
            raise ValueError("histories must be a list of lists of raw item ids")
        lengths = np.array([len(h) for h in histories], dtype=np.int64)
        flat, unknown = self._items_of([x for h in histories for x in h], on_unknown)
        if unknown:
            _refuse_or_count(unknown, "item", on_unknown, self.last_skipped)
        owner = np.repeat(np.arange(len(histories)), lengths)
        known = flat > 0
        flat, owner = flat[known], owner[known]
        lengths = np.bincount(owner, minlength=len(histories)).astype(np.int64)
        empty = np.flatnonzero(lengths == 0)
        if len(empty) and on_unknown != "skip":
            raise ValueError(f"history {int(empty[0])} is empty; give at least one item")
        self.last_skipped["histories"] = self.last_skipped.get("histories", 0) + len(empty)
        keep = np.flatnonzero(lengths > 0)
        ends = np.cumsum(lengths)
        return flat, (ends - lengths)[keep], ends[keep], keep

    # ----- scoring
    def _user_vectors(self, input_ids: np.ndarray) -> torch.Tensor:
        x = torch.as_tensor(input_ids, dtype=torch.long).to(self.device)
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)
        with torch.no_grad(), torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None):
            return self.model(x)["user"].float()  # [B, D]

    def _rank(self, flat, starts, ends, k: int, exclude_seen: bool, batch_size, progress: bool, desc: str):
        """(item ids int64 [N, k], scores float32 [N, k]; -inf where a row has fewer than k items)."""
        n, k = len(starts), min(k, self.num_items)
        ids, scores = np.zeros((n, k), dtype=np.int64), np.full((n, k), -np.inf, dtype=np.float32)
        bs = int(batch_size or self.batch_size)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=n, desc=desc, unit="user", dynamic_ncols=True)
        with torch.no_grad():
            for lo in range(0, n, bs):
                s, e = starts[lo : lo + bs], ends[lo : lo + bs]
                u = self._user_vectors(left_pad(flat, s, e, self.max_len))
                full = u @ self.table.T  # [b, I+1], as the evaluation's full ranking
                full[:, 0] = float("-inf")
                if exclude_seen:
                    full.scatter_(1, torch.as_tensor(_spans(flat, s, e)).to(self.device), float("-inf"))
                v, i = top_k(full, k)
                ids[lo : lo + len(s)], scores[lo : lo + len(s)] = i.cpu().numpy(), v.cpu().numpy()
                if bar is not None:
                    bar.update(len(s))
        if bar is not None:
            bar.close()
        return ids, scores

    def _frame(self, key: str, keys, ids: np.ndarray, scores: np.ndarray):
        import polars as pl

        r, c = np.nonzero(np.isfinite(scores))  # -inf (excluded, padding) sorts last: a prefix of each row is kept
        got = ids[r, c] - 1
        cols = {
            key: keys.gather(r) if isinstance(keys, pl.Series) else np.asarray(keys)[r],
            "rank": (c + 1).astype(np.uint32),
            "item": self.items["item"].gather(got),
            "score": scores[r, c],
        }
        for name in self.items.columns:
            if name not in ("item_id", "item"):
                cols[name] = self.items[name].gather(got)
        return pl.DataFrame(cols)

    def recommend(
        self,
        users: Sequence | None = None,
        k: int = 10,
        *,
        split: str = "all",
        exclude_seen: bool = True,
        on_unknown: str = "error",
        batch_size: int | None = None,
        progress: bool = False,
    ):
        """Top-``k`` items for known users (raw ids; None = every user) as a polars DataFrame with columns
        ``user, rank, item, score`` and the item metadata the dataset has, ``rank`` 1..k per user in the order
        of ``users``. ``split``: the history fed (``"all"``, ``"test"``, ``"valid"``; see the module docstring)."""
        _check_k(k), _check_unknown(on_unknown)
        if split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
        self.last_skipped = {}
        if users is None:
            rows = np.arange(len(self.users), dtype=np.int64)
        else:
            if isinstance(users, (str, bytes)):
                raise ValueError("users must be a list of raw user ids, not one string")
            rows, _ = self._user_rows(list(users), on_unknown)
        starts, ends = self.offsets[rows], self.offsets[rows + 1] - SPLITS[split]
        short = ends <= starts
        if short.any():
            if users is not None and on_unknown != "skip":
                raise ValueError(
                    f"user {self.users[int(rows[short][0])]!r} has no history before the {split} item "
                    f"(sequence of {int(self.offsets[rows[short][0] + 1] - starts[short][0])} items)"
                )
            self.last_skipped["users_too_short"] = int(short.sum())
            rows, starts, ends = rows[~short], starts[~short], ends[~short]
        ids, scores = self._rank(self.sequences, starts, ends, k, exclude_seen, batch_size, progress, "recommend")
        return self._frame("user", self.users.gather(rows), ids, scores)

    def recommend_histories(
        self,
        histories: Sequence[Sequence],
        k: int = 10,
        *,
        exclude_seen: bool = True,
        on_unknown: str = "error",
        batch_size: int | None = None,
        progress: bool = False,
    ):
        """Top-``k`` items for new users given only their raw item histories (oldest first): a DataFrame with
        columns ``history`` (the 0-based position in ``histories``), ``rank``, ``item``, ``score`` (+ metadata)."""
        _check_k(k), _check_unknown(on_unknown)
        self.last_skipped = {}
        flat, starts, ends, keep = self._histories(histories, on_unknown)
        ids, scores = self._rank(flat, starts, ends, k, exclude_seen, batch_size, progress, "recommend")
        return self._frame("history", keep.astype(np.uint32), ids, scores)

    def score(
        self,
        histories: Sequence[Sequence],
        candidates: Sequence,
        *,
        on_unknown: str = "error",
        batch_size: int | None = None,
    ) -> np.ndarray:
        """float32 [len(histories), C]: the scores of ``candidates`` (raw item ids: one list for every history,
        or one list of C per history) after each raw history. With ``on_unknown="skip"`` unknown history items
        are dropped and an unknown candidate scores NaN; a history left empty is an error either way."""
        _check_unknown(on_unknown)
        self.last_skipped = {}
        shared = len(candidates) == 0 or not isinstance(candidates[0], (list, tuple, np.ndarray))
        rows = [list(candidates)] if shared else [list(c) for c in candidates]
        if not shared and len(rows) != len(histories):
            raise ValueError(f"{len(rows)} candidate lists for {len(histories)} histories")
        if len({len(c) for c in rows}) > 1:
            raise ValueError("every history needs the same number of candidates")
        cand, unknown = self._items_of([x for c in rows for x in c], on_unknown)
        if unknown:
            _refuse_or_count(unknown, "item", on_unknown, self.last_skipped)
        cand = cand.reshape(len(rows), -1)
        flat, starts, ends, keep = self._histories(histories, "error" if on_unknown == "error" else "skip")
        if len(keep) < len(histories):
            raise ValueError(f"history {int(np.setdiff1d(np.arange(len(histories)), keep)[0])} is empty")
        out = np.empty((len(histories), cand.shape[1]), dtype=np.float32)
        bs = int(batch_size or self.batch_size)
        with torch.no_grad():
            for lo in range(0, len(histories), bs):
                u = self._user_vectors(left_pad(flat, starts[lo : lo + bs], ends[lo : lo + bs], self.max_len))
                if shared:
                    s = u @ self.table[torch.as_tensor(cand[0]).to(self.device)].T
                else:  # as the evaluation scores its sampled candidates
                    c = torch.as_tensor(cand[lo : lo + bs]).to(self.device)
                    s = torch.einsum("bd,bcd->bc", u, self.table[c])
                out[lo : lo + len(u)] = s.cpu().numpy()
        out[np.broadcast_to(cand == 0, out.shape)] = np.nan  # unknown candidates (on_unknown="skip")
        return out

    def __repr__(self) -> str:
        return (
            f"Recommender({self.info.get('model')!r}, {self.kind}, users={len(self.users)}, "
            f"items={self.num_items}, device={self.device.type})"
        )


def _check_k(k) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, not {k!r}")


def _check_unknown(on_unknown: str) -> None:
    if on_unknown not in ("error", "skip"):
        raise ValueError(f"on_unknown must be 'error' or 'skip', not {on_unknown!r}")


def _refuse_or_count(unknown: list[str], what: str, on_unknown: str, counts: dict) -> None:
    if on_unknown == "skip":
        counts[f"{what}s"] = counts.get(f"{what}s", 0) + len(unknown)
        return
    distinct = list(dict.fromkeys(unknown))
    shown = ", ".join(repr(x) for x in distinct[:_SHOWN]) + (", ..." if len(distinct) > _SHOWN else "")
    raise UnknownIdError(
        f"{len(distinct)} unknown {what} id{'s' if len(distinct) > 1 else ''}: {shown} (not in "
        f"the model's dataset; on_unknown='skip' / --skip-unknown drops them)"
    )


def _lists(flat: np.ndarray, lengths: np.ndarray):
    """A polars list column ``history`` from CSR (flat values, row lengths)."""
    import polars as pl

    owner = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    frame = pl.DataFrame({"row": owner, "history": np.asarray(flat, dtype=np.uint32)})
    grouped = frame.group_by("row", maintain_order=True).agg("history")
    full = pl.DataFrame({"row": np.arange(len(lengths), dtype=np.int64)}).join(
        grouped, on="row", how="left", maintain_order="left"
    )
    return full["history"].fill_null(pl.lit([], dtype=pl.List(pl.UInt32)))


def _decoder_config(d: dict):
    from transformers import AutoConfig

    d = dict(d)
    return AutoConfig.for_model(d.pop("model_type"), **d)


def _llm_export(model) -> tuple[dict, dict]:
    """(tensors, architecture) of an LLM recommender: LoRA merged into a copy of the decoder, the token embedding
    cut to the rows the prompt uses (the decoder reads no other row), the prompt ids renumbered to those rows."""
    from slmrec.models import LLMRec

    backbone = copy.deepcopy(model.backbone)
    merged = hasattr(backbone, "merge_and_unload")
    decoder = backbone.merge_and_unload() if merged else backbone
    prefix, suffix = model.prefix_ids.cpu(), model.suffix_ids.cpu()
    rows = torch.unique(torch.cat([prefix, suffix]))  # sorted original token ids
    weight = decoder.embed_tokens.weight.detach()
    compact = weight[rows.to(weight.device)] if len(rows) else weight.new_zeros(1, weight.shape[1])
    decoder.embed_tokens = torch.nn.Embedding.from_pretrained(compact.clone(), freeze=True)
    conf = decoder.config.to_dict()
    conf.update(vocab_size=compact.shape[0], pad_token_id=None, bos_token_id=None, eos_token_id=None)
    decoder.config.vocab_size = compact.shape[0]
    out = LLMRec(decoder, model.item_emb.cpu())
    out.input_proj.load_state_dict(model.input_proj.state_dict())
    out.score.load_state_dict(model.score.state_dict())
    tensors = {k: v.detach().cpu() for k, v in out.state_dict().items()} | {"item_emb": model.item_emb.detach().cpu()}
    arch = {
        "decoder": {k: v for k, v in conf.items() if not k.startswith("_")},
        "layers": model.num_layers,
        "lora_merged": merged,
        "prompt_token_ids": {"prefix": prefix.tolist(), "suffix": suffix.tolist()},
        "embedding_rows": rows.tolist(),
        "prefix_ids": torch.searchsorted(rows, prefix).tolist(),
        "suffix_ids": torch.searchsorted(rows, suffix).tolist(),
    }
    return tensors, arch


def _build_llm(arch: dict, tensors: dict):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModel

    from slmrec.models import LLMRec

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        decoder = AutoModel.from_config(_decoder_config(arch["decoder"]), dtype=torch.float32)
    net = LLMRec(decoder, tensors["item_emb"])
    net.prefix_ids = torch.tensor(arch["prefix_ids"], dtype=torch.long)
    net.suffix_ids = torch.tensor(arch["suffix_ids"], dtype=torch.long)
    net.load_state_dict({k: v for k, v in tensors.items() if k != "item_emb"}, strict=True)
    return net


def _build_sasrec(arch: dict, tensors: dict):
    from slmrec.models import SASRec

    net = SASRec(**arch)
    net.load_state_dict(tensors, strict=True)
    return net
