"""RecBole's SASRec as the peer of issue 5, on exactly our data and our leave-one-out split.

Two halves, run by two interpreters (RecBole 1.2.1 needs numpy < 2, so it has its own venv):

    # 1. in the project's .venv (has slmrec): the prepared dataset -> RecBole atomic files
    python runs/recbole_peer.py export DATASET_DIR OUT_DIR NAME
    # 2. in the RecBole venv (bash runs/recbole_setup.sh): train + evaluate RecBole's SASRec
    runs/out/recbole-venv/bin/python runs/recbole_peer.py run OUT_DIR NAME --epochs E --json RESULT.json [--seed S]

`export` writes OUT_DIR/NAME/NAME.inter (`user_id:token item_id:token timestamp:float`; user id = row + 1, item
id = our item id, timestamp = the position in the user's sequence 0, 1, 2, ...) and OUT_DIR/NAME/NAME.counts.json.
`run` checks that RecBole loaded the same numbers of users, items and interactions and built the same split, trains
with RecBole's own `Trainer.fit` loop (evaluating the validation split every epoch), records per epoch the wall time
since training started (training + validation + checkpoint), the training loss and validation NDCG@10 / Hit@10,
then scores the test split once with the best-validation checkpoint and writes RESULT.json.

Protocol (RecBole 1.2.1 source read for this; compare with slmrec's, README "Split" and slmrec/evaluate.py):

- Split. RecBole's SequentialDataset first turns each user's sequence i1..in into the examples (i1..i(k-1) -> ik),
  k = 2..n (most recent MAX_ITEM_LIST_LENGTH = 50 items as input), sorts them by the target's timestamp (our
  positions, so a user's order is ours) and, with `LS: valid_and_test, group_by: user`, gives each user's last
  example to test (target in, input i1..i(n-1)), the second last to valid (target i(n-1), input i1..i(n-2)) and
  the rest to training (targets i2..i(n-2), every prefix one example, the loss on the last position only). That is
  our split (test = last item, valid = second last, the rest train) for every user with n >= 4. A user with n = 3
  gets no validation example in RecBole (its 2 examples go to train and test) and one with n = 2 only a training
  example; `export` counts such users (`users_shorter_than_4`; 0 for 5-core data such as Beauty and ml-100k).
- Exclusions in full ranking. RecBole, for a sequential model, excludes NOTHING but the padding item: its
  FullSortEvalDataLoader returns history_index = None when MODEL_TYPE is SEQUENTIAL, so Trainer._full_sort_batch_eval
  only sets scores[:, 0] = -inf; the user's training items, the items of the input sequence and, when testing, the
  validation item all stay in the ranking (valid and test alike). slmrec's full ranking excludes the user's other
  history items, i.e. the whole sequence except the target (future items included, so the test item when
  validating) and the padding id 0. slmrec therefore ranks against fewer items: on the same scores (ties aside) its
  full-ranking HR/NDCG can only be >= RecBole's (equal when no history item scores above the target).
- Ties. RecBole ranks with torch.topk (ties broken by index order, not against the positive); slmrec counts ties
  against the positive (pessimistic rank). Irrelevant for trained float scores, visible for a constant model.
- Metrics. RecBole's Hit@10, NDCG@10 and MRR@10 with one positive per user are slmrec's full_hr@10, full_ndcg@10 and
  a top-10-truncated MRR (slmrec's `mrr` is not truncated and is on the 1+999 candidates; compare HR/NDCG only).
- Model / CE. RecBole's SASRec: item embedding = output table [items + 1, 64] with padding_idx 0, learned positions,
  post-LN transformer (2 layers, 2 heads, inner 256, GELU, dropout 0.5 / 0.5, LayerNorm eps 1e-12), right-padded
  input, the last real position's output scored by dot product with every row of the table. CE over ALL rows
  including padding row 0 (its logit is 0 and stays in the softmax denominator; slmrec gives padding -inf), one
  target per (prefix) example, mean over the batch; Adam lr 1e-3, no weight decay, batch 256 (RecBole's own default
  train_batch_size is 2048: the issue's 256 is set here), eval batch 4096. slmrec's SASRec (models/sasrec.py) is
  the SLMRec code's: 128-d item table -> 32-d pre-LN transformer, history data.max_len (30 by default, left-padded),
  train_mode "last" (one example per user) unless data.train_mode = all_prefixes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# RecBole 1.2.1 reloads its best checkpoint with a plain torch.load, which torch >= 2.6 refuses (weights_only).
os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")

HEADER = "user_id:token\titem_id:token\ttimestamp:float\n"


# ----------------------------------------------------------------------------------------------- export (.venv)


def export_arrays(offsets, items, num_users: int, num_items: int, out_dir, name: str, source: str = "") -> dict:
    """A history CSR (offsets int64 [users+1], items 1..num_items in time order) -> OUT_DIR/NAME/NAME.inter + counts.

    Returns the counts written to OUT_DIR/NAME/NAME.counts.json.
    """
    import numpy as np

    from slmrec.sampling import check_csr

    offsets = np.asarray(offsets, dtype=np.int64)
    items = np.asarray(items)
    if offsets.shape != (num_users + 1,):
        raise ValueError(f"offsets must have num_users + 1 = {num_users + 1} entries, got shape {offsets.shape}")
    check_csr(offsets, items, num_items)
    lens = np.diff(offsets)
    user = np.repeat(np.arange(1, num_users + 1, dtype=np.int64), lens)
    pos = np.arange(len(items), dtype=np.int64) - np.repeat(offsets[:-1], lens)
    table = np.stack([user, items.astype(np.int64), pos], axis=1)

    d = Path(out_dir) / name
    d.mkdir(parents=True, exist_ok=True)
    inter = d / f"{name}.inter"
    tmp = inter.with_suffix(".inter.tmp")
    with open(tmp, "w", encoding="ascii", newline="\n") as f:
        f.write(HEADER)
        step = 1 << 20
        for s in range(0, len(table), step):
            np.savetxt(f, table[s : s + step], fmt="%d", delimiter="\t")
    os.replace(tmp, inter)

    counts = {
        "dataset": name,
        "source": str(source),
        "users": int(num_users),
        "items": int(num_items),
        "items_seen": int(len(np.unique(items))),
        "interactions": int(len(items)),
        "users_shorter_than_4": int((lens < 4).sum()),
        # RecBole's split when every user has >= 4 items: one valid and one test example per user, and the
        # training examples are the targets i2..i(n-2) of every user.
        "expected_train_examples": int(np.maximum(lens - 3, 0).sum()),
        "expected_valid_users": int((lens >= 4).sum()),
        "expected_test_users": int((lens >= 3).sum()),
        "seq_len": {"min": int(lens.min()), "max": int(lens.max()), "mean": float(lens.mean())} if len(lens) else {},
        "inter_file": str(inter),
    }
    (d / f"{name}.counts.json").write_text(json.dumps(counts, indent=2) + "\n")
    return counts


def cmd_export(a) -> int:
    import slmrec

    t0 = time.perf_counter()
    ds = slmrec.load(a.dataset_dir)
    counts = export_arrays(ds.offsets, ds.items, ds.num_users, ds.num_items, a.out_dir, a.name, source=a.dataset_dir)
    if counts["items_seen"] != counts["items"]:
        print(
            f"recbole_peer.py: warning: {counts['items'] - counts['items_seen']} item ids never occur; RecBole "
            "only knows the items it sees",
            file=sys.stderr,
        )
    if counts["users_shorter_than_4"]:
        print(
            f"recbole_peer.py: warning: {counts['users_shorter_than_4']} users have < 4 items: RecBole's "
            "leave-one-out gives them no validation example (ours does)",
            file=sys.stderr,
        )
    print(json.dumps(counts))
    print(f"recbole_peer.py export: {time.perf_counter() - t0:.1f} s")
    return 0


# -------------------------------------------------------------------------------------- run (the RecBole venv)


def recbole_config(out_dir: Path, name: str, epochs: int, seed: int, workdir: Path) -> dict:
    return {
        # data: our export, nothing filtered, nothing remapped away
        "data_path": str(out_dir),
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "USER_ID_FIELD": "user_id",
        "ITEM_ID_FIELD": "item_id",
        "TIME_FIELD": "timestamp",
        "rm_dup_inter": None,
        "val_interval": None,
        "filter_inter_by_user_or_item": False,
        "user_inter_num_interval": "[0,inf)",
        "item_inter_num_interval": "[0,inf)",
        "MAX_ITEM_LIST_LENGTH": 50,
        # model: RecBole's SASRec defaults (hidden 64, 2 layers, 2 heads, CE), stated explicitly
        "hidden_size": 64,
        "inner_size": 256,
        "n_layers": 2,
        "n_heads": 2,
        "hidden_dropout_prob": 0.5,
        "attn_dropout_prob": 0.5,
        "hidden_act": "gelu",
        "layer_norm_eps": 1e-12,
        "initializer_range": 0.02,
        "loss_type": "CE",
        "train_neg_sample_args": None,  # CE needs no negatives (RecBole refuses them with CE)
        # training
        "epochs": epochs,
        "train_batch_size": 256,
        "learner": "adam",
        "learning_rate": 1e-3,
        "weight_decay": 0.0,
        "eval_step": 1,
        "stopping_step": 10**9,  # --epochs caps the run, never early stopping
        "seed": seed,
        "reproducibility": True,
        "checkpoint_dir": str(workdir / "saved"),
        "show_progress": False,
        "gpu_id": "",  # CPU
        "use_gpu": False,
        "worker": 0,
        "log_wandb": False,
        # evaluation: our leave-one-out split, full ranking
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "group_by": "user", "mode": "full"},
        "metrics": ["Hit", "NDCG", "MRR"],
        "topk": [10],
        "valid_metric": "NDCG@10",
        "valid_metric_bigger": True,
        "eval_batch_size": 4096,
        "metric_decimal_place": 6,
    }


def cmd_run(a) -> int:
    t_start = time.perf_counter()
    load_start = round(os.getloadavg()[0], 2)  # other jobs on the machine distort every timing: recorded
    out_dir = Path(a.out_dir).resolve()
    data_dir = out_dir / a.name
    counts_file = data_dir / f"{a.name}.counts.json"
    if not (data_dir / f"{a.name}.inter").is_file():
        print(f"recbole_peer.py: error: {data_dir / (a.name + '.inter')} missing (run `export` first)", file=sys.stderr)
        return 2
    expected = json.loads(counts_file.read_text()) if counts_file.is_file() else None
    result_path = Path(a.json).resolve()
    workdir = data_dir / f"recbole_seed{a.seed}"
    workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)  # RecBole writes ./log/ and ./log_tensorboard/ relative to the working directory

    import recbole
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.model.sequential_recommender import SASRec
    from recbole.trainer import Trainer
    from recbole.utils import init_logger, init_seed

    if a.threads:
        torch.set_num_threads(a.threads)
    cfg = recbole_config(out_dir, a.name, a.epochs, a.seed, workdir)
    argv, sys.argv = sys.argv, sys.argv[:1]  # RecBole's Config would also read `--key=value` from the command line
    try:
        config = Config(model="SASRec", dataset=a.name, config_dict=cfg)
    finally:
        sys.argv = argv
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)

    t_data = time.perf_counter()
    dataset = create_dataset(config)
    loaded = {"users": dataset.user_num - 1, "items": dataset.item_num - 1, "interactions": dataset.inter_num}
    train_data, valid_data, test_data = data_preparation(config, dataset)
    split = {
        "train_examples": len(train_data.dataset),
        "valid_users": len(valid_data.dataset),
        "test_users": len(test_data.dataset),
    }
    data_seconds = time.perf_counter() - t_data
    problems = []
    if expected is not None:
        for k, v in loaded.items():
            if expected[k] != v:
                problems.append(f"{k}: exported {expected[k]}, RecBole loaded {v}")
        for k, v in split.items():
            if expected[f"expected_{k}"] != v:
                problems.append(f"{k}: expected {expected['expected_' + k]}, RecBole built {v}")
    for p in problems:
        print(f"recbole_peer.py: MISMATCH {p}", file=sys.stderr)
    if problems:  # RecBole read other data (e.g. its bundled ml-100k when NAME is one of its dataset names)
        print("recbole_peer.py: RecBole did not load the exported data; not training (rename NAME)", file=sys.stderr)
        return 1

    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = SASRec(config, train_data._dataset).to(config["device"])
    params = sum(p.numel() for p in model.parameters())

    class TimedTrainer(Trainer):
        """RecBole's Trainer; keeps the full result of every validation (fit keeps only the score)."""

        last_valid_result: dict = {}

        def _valid_epoch(self, valid_data, show_progress=False):
            score, result = super()._valid_epoch(valid_data, show_progress=show_progress)
            self.last_valid_result = dict(result)
            return score, result

    trainer = TimedTrainer(config, model)
    n_batches = len(train_data)
    curve, epoch_seconds = [], []
    t_train = time.perf_counter()
    last = [t_train]

    def on_epoch_end(epoch_idx, valid_score):
        now = time.perf_counter()
        r = trainer.last_valid_result
        loss_sum = trainer.train_loss_dict[epoch_idx]
        epoch_seconds.append(round(now - last[0], 3))
        last[0] = now
        curve.append(
            {
                "epoch": epoch_idx + 1,
                "seconds": round(now - t_train, 3),
                "train_loss": loss_sum / max(n_batches, 1),  # mean CE per batch (RecBole logs the sum)
                "valid_ndcg@10": float(r["ndcg@10"]),
                "valid_hr@10": float(r["hit@10"]),
                "valid_mrr@10": float(r["mrr@10"]),
            }
        )
        print(
            f"recbole_peer.py: epoch {epoch_idx + 1}/{a.epochs} {epoch_seconds[-1]:.1f} s loss "
            f"{curve[-1]['train_loss']:.4f} valid ndcg@10 {r['ndcg@10']:.4f} hr@10 {r['hit@10']:.4f}",
            flush=True,
        )

    trainer.fit(train_data, valid_data, verbose=True, saved=True, show_progress=False, callback_fn=on_epoch_end)
    train_seconds = time.perf_counter() - t_train

    t_test = time.perf_counter()
    test = trainer.evaluate(test_data, load_best_model=True, show_progress=False)
    test_seconds = time.perf_counter() - t_test

    best = max(curve, key=lambda c: (c["valid_ndcg@10"], -c["epoch"])) if curve else None
    result = {
        "recbole_version": recbole.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": {"start": load_start, "end": round(os.getloadavg()[0], 2)},
        "dataset": a.name,
        "inter_file": str(data_dir / f"{a.name}.inter"),
        **loaded,
        "split": split,
        "counts_match": not problems and expected is not None,
        "mismatches": problems,
        "seed": a.seed,
        "parameters": params,
        "train_batches_per_epoch": n_batches,
        "epochs_run": len(curve),
        "epoch_seconds": epoch_seconds,
        "curve": curve,
        "best_valid_ndcg@10": best["valid_ndcg@10"] if best else None,
        "best_epoch": best["epoch"] if best else None,
        "seconds_to_best": best["seconds"] if best else None,
        "test": {"hr@10": float(test["hit@10"]), "ndcg@10": float(test["ndcg@10"]), "mrr@10": float(test["mrr@10"])},
        "test_checkpoint": trainer.saved_model_file,
        "config": {
            k: cfg[k]
            for k in (
                "MAX_ITEM_LIST_LENGTH",
                "hidden_size",
                "inner_size",
                "n_layers",
                "n_heads",
                "hidden_dropout_prob",
                "attn_dropout_prob",
                "loss_type",
                "train_batch_size",
                "learner",
                "learning_rate",
                "weight_decay",
                "eval_batch_size",
                "eval_args",
                "metrics",
                "topk",
                "valid_metric",
                "stopping_step",
                "epochs",
                "user_inter_num_interval",
                "item_inter_num_interval",
                "filter_inter_by_user_or_item",
            )
        },
        "data_seconds": round(data_seconds, 3),
        "train_seconds": round(train_seconds, 3),
        "test_seconds": round(test_seconds, 3),
        "total_seconds": round(time.perf_counter() - t_start, 3),
        "command": " ".join([Path(sys.executable).name] + sys.argv),
    }
    result_path.parent.mkdir(parents=True, exist_ok=True)
    result_path.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"recbole_peer.py: test hr@10 {result['test']['hr@10']:.4f} ndcg@10 {result['test']['ndcg@10']:.4f} "
        f"mrr@10 {result['test']['mrr@10']:.4f} (best epoch {result['best_epoch']}); wrote {result_path}"
    )
    print(f"recbole_peer.py run: {result['total_seconds']:.1f} s")
    return 1 if problems else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="recbole_peer.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export", help="prepared slmrec dataset -> RecBole atomic files (run in .venv)")
    e.add_argument("dataset_dir")
    e.add_argument("out_dir")
    e.add_argument("name")
    r = sub.add_parser("run", help="train and evaluate RecBole's SASRec (run in the RecBole venv)")
    r.add_argument("out_dir")
    r.add_argument("name")
    r.add_argument("--epochs", type=int, required=True)
    r.add_argument("--json", required=True, help="where to write the result")
    r.add_argument("--seed", type=int, default=2020, help="RecBole's default seed is 2020")
    r.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads (0: torch's default, one per core). On a 2-core machine where another job is "
        "running, 2 threads are several times slower than 1: time RecBole alone on the machine, or pass "
        "--threads 1 and say so",
    )
    a = p.parse_args(argv)
    return cmd_export(a) if a.cmd == "export" else cmd_run(a)


if __name__ == "__main__":
    sys.exit(main())
