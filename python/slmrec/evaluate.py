"""Evaluation: sampled (1 positive + n fixed negatives) and full ranking, sharded over processes.

Design: the candidates are fixed and seeded (``slmrec.sampling.eval_candidates_for`` persists them in the dataset
dir), so every evaluation of a split scores the same sets (METHOD.md O16 fixed). Users are split over processes
by an accelerate-prepared ``DataLoader``; each process ranks its users on its device and
``gather_for_metrics`` collects the ranks (dropping the padding duplicates) before the pure metric functions of
:mod:`slmrec.metrics` run. Full ranking scores every item; padding and the user's other history items (the
whole sequence except the target, as for the sampled negatives) are set to -inf. Ties count against the
target (pessimistic rank). An ``encode`` function maps histories [B, L] to a dict of named user vectors, so one
pass can score several heads at once (the layer probe).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from slmrec.metrics import metrics_from_ranks, rank_of_target


@dataclass
class EvalSet:
    """One split, fixed: histories, candidates, full-ranking targets and exclusions (CPU tensors)."""

    split: str
    users: torch.Tensor  # [U] CSR rows
    history: torch.Tensor  # [U, L] left-padded item ids
    candidates: torch.Tensor  # [U, 1+n], column 0 = the target
    exclude: torch.Tensor  # [U, X] items to rank below everything (0-padded; never the target)


def max_negatives(dataset) -> int:
    """The most negatives every evaluated user (length >= 3) can get: items outside its whole history."""
    from slmrec.sampling import NegativeSampler, splittable_users

    users = splittable_users(dataset.offsets, len(dataset.items))
    if not len(users):
        return 0
    return int(NegativeSampler(dataset.offsets, dataset.items, dataset.num_items).available(users).min())


def build_eval_set(
    dataset,
    split: str,
    *,
    max_len: int,
    negatives: int,
    seed: int,
    exclude: str = "history",
    sample: int = 0,
    cold: str = "keep",
) -> EvalSet:
    """One split's fixed evaluation data. ``exclude``: what full ranking puts below everything besides padding:
    ``"history"`` (the user's whole sequence except the target; the default) or ``"none"`` (RecBole's rule for
    sequential models: nothing, so the user's own items compete with the target). ``sample`` > 0 keeps that many
    users, chosen by ``seed`` from user ids alone, so every split and model sees the same users with the same
    candidates they have in the full set (a cheaper estimate of the same metrics, for slow models). ``cold``:
    ``"keep"`` every user, or ``"drop"`` those whose target is cold (:func:`slmrec.sampling.cold_targets`: it occurs
    in no user's training part of the split; the eSASRec benchmark's rule), after the sample is drawn."""
    from slmrec.errors import ConfigError
    from slmrec.sampling import cold_targets, eval_candidates_for, history_exclusions, history_inputs

    try:
        users, cands = eval_candidates_for(dataset, split, n=negatives, seed=seed)
    except ValueError as e:  # too few items outside some history for n negatives
        raise ConfigError(f"{e} (--eval.negatives)") from None
    users = np.asarray(users, dtype=np.int64)
    if sample < 0:
        raise ValueError(f"sample must be 0 (all users) or positive, got {sample}")
    if 0 < sample < len(users):
        order = np.random.default_rng(seed).permutation(len(dataset.offsets) - 1)  # a rank for every user id
        keep = np.sort(np.argsort(order[users], kind="stable")[:sample])
        users, cands = users[keep], cands[keep]
    if cold == "drop":
        warm = ~cold_targets(dataset.offsets, dataset.items, users, split=split)
        users, cands = users[warm], cands[warm]
    elif cold != "keep":
        raise ValueError(f"cold must be keep or drop, not {cold!r}")
    hist = history_inputs(dataset.offsets, dataset.items, users, split=split, max_len=max_len)
    if exclude == "history":  # the whole sequence but the target (0 = padding, already excluded)
        excluded = history_exclusions(dataset.offsets, dataset.items, users, split=split)
    else:
        excluded = np.zeros((len(users), 1), dtype=np.int64)
    t = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.long)
    return EvalSet(split, t(users), t(hist), t(cands), t(excluded))


#: Evaluations of more users than this say so on stderr first (with progress on), so a long one never looks like a
#: hang.
PROGRESS_MIN_USERS = 2000


@torch.no_grad()
def evaluate(
    accelerator,
    encode,
    table: torch.Tensor,
    data: EvalSet,
    *,
    batch_size: int,
    full: bool = True,
    sampled: bool = True,
    progress: bool = False,
) -> dict:
    """Metrics of every user vector ``encode`` returns: ``{name: {"hr@1": .., "full_hr@1": .., ...}}``.

    ``full``: also rank every item (the ``full_`` metrics); ``sampled=False`` skips the 1 + n candidates (a
    validation that selects on a full-ranking metric needs only those).

    ``table`` [I+1, D] is the item embedding table on the device; ``encode(input_ids) -> {name: [B, D]}``.
    Also reports ``users_per_s`` (encode + scoring, this process) under the key ``"_speed"``. With ``progress``,
    a large set first prints ``evaluating SPLIT: N users`` on stderr (main process; above any progress bar).
    """
    if progress and accelerator.is_main_process and len(data.users) > PROGRESS_MIN_USERS:
        import sys

        from tqdm.auto import tqdm

        tqdm.write(f"evaluating {data.split}: {len(data.users):,} users", file=sys.stderr)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(data.history, data.candidates, data.exclude), batch_size=batch_size
    )
    loader = accelerator.prepare_data_loader(loader, device_placement=True)
    table = table.float()
    ranks: dict[str, list] = {}
    seen, seconds = 0, 0.0
    for hist, cands, excl in loader:
        start = time.perf_counter()
        users = {k: v.float() for k, v in encode(hist).items()}  # name -> [b, D]
        for name, u in users.items():
            cols = []
            if sampled:
                picked = torch.einsum("bd,bcd->bc", u, table[cands])  # [b, 1+n]
                r, ties = rank_of_target(picked, picked[:, 0])
                cols += [torch.where(torch.isfinite(picked[:, 0]), r, -1), ties]
            if full:
                s = u @ table.T  # [b, I+1]
                target = s.gather(1, cands[:, :1]).squeeze(1)  # [b]
                s[:, 0] = float("-inf")
                s.scatter_(1, excl, float("-inf"))
                fr, fties = rank_of_target(s, target)
                cols += [torch.where(torch.isfinite(target), fr, -1), fties]
            ranks.setdefault(name, []).append(accelerator.gather_for_metrics(torch.stack(cols, 1)))
        if accelerator.device.type == "cuda":
            torch.cuda.synchronize()
        seconds += time.perf_counter() - start
        seen += hist.shape[0]
    out = {}
    n_items = table.shape[0] - 1
    for name, chunks in ranks.items():
        a = torch.cat(chunks).cpu().numpy()  # [U, 2 or 4]: (rank, ties) sampled, then full
        m = metrics_from_ranks(a[:, 0], a[:, 1], num_candidates=data.candidates.shape[1]) if sampled else {}
        if full:
            f = a[:, 2:] if sampled else a
            m.update(metrics_from_ranks(f[:, 0], f[:, 1], num_candidates=n_items, prefix="full_"))
        out[name] = m
    out["_speed"] = {"users_per_s": seen / seconds if seconds > 0 else float("nan")}
    return out


#: The config keys an evaluation of a finished run may change: how it is evaluated, never what was trained.
EVAL_SECTION = "eval."
SPLITS = ("valid", "test")


def evaluate_run(run_dir, model: str = "student", split: str = "test", overrides=None, *, progress=False) -> dict:
    """Evaluates again the best weights of stage ``model`` of a finished ``slmrec-train`` run on ``split``, with the
    run's own evaluation config changed by ``overrides`` (``eval.*`` keys only, e.g. ``{"eval.cold": "drop"}``).

    The model, its dataset (checked by fingerprint), candidates and batches are the run's, so with no overrides
    the metrics equal those the run recorded (bit for bit on the CPU). Nothing is written into the run directory.
    Returns ``{"run", "model", "split", "overrides", "eval" (the config used), "metrics", "users_per_s",
    "recorded" (the run's own metrics of the split)}``."""
    from dataclasses import asdict
    from pathlib import Path

    from slmrec import checkpoint, rundir
    from slmrec import config as configs
    from slmrec.errors import ConfigError
    from slmrec.recommend import finished_stage
    from slmrec.stages import LLM_STAGES
    from slmrec.train import Pipeline, encoder

    run_dir, overrides = Path(run_dir), dict(overrides or {})
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    result_path = finished_stage(run_dir, model)
    other = [k for k in overrides if not k.startswith(EVAL_SECTION)]
    if other:
        raise ConfigError(f"{other[0]}: only {EVAL_SECTION}* keys change how a trained model is evaluated")
    fixed = {"run.log_with": "", "run.progress": str(bool(progress)).lower()}  # no tracker writes into the run
    cfg = configs.validate(configs.override(configs.load(run_dir / rundir.CONFIG), {**overrides, **fixed}))
    pipe = Pipeline(cfg, rundir.bound_dataset(run_dir), run_dir)
    net = pipe.trained(model).to(pipe.acc.device).eval()
    table = (net.item_emb if model in LLM_STAGES else net.item_emb.weight).detach()
    m = evaluate(
        pipe.acc,
        encoder(pipe.acc, net),
        table,
        pipe.eval_set(split),
        batch_size=cfg.eval.batch_size,
        full=cfg.eval.full_ranking,
        progress=progress,
    )
    return {
        "run": str(run_dir.resolve()),
        "model": model,
        "split": split,
        "overrides": overrides,
        "eval": asdict(cfg.eval),
        "metrics": m[""],
        "users_per_s": m["_speed"]["users_per_s"],
        "recorded": checkpoint.read_json(result_path).get(split),
    }
