"""Ranking metrics: pure functions of the target's rank.

Design: a rank is 0-based and **pessimistic**: every candidate that scores at least as high as the target
counts against it, ties included (``rank = #{j != t: s_j > s_t} + #{j != t: s_j == s_t}``); METHOD.md §6 notes
that the reference code breaks ties arbitrarily with an unstable sort. The tie rate (fraction of users whose
target ties with at least one other candidate) is reported next to the metrics. A target whose score is NaN or
infinite gets the worst rank (it cannot be ranked), and the count of such users is reported too.

Formulas (METHOD.md §6): ``HR@k = mean[rank < k]``; ``NDCG@k = mean([rank < k] / log2(rank + 2))``;
``MRR = mean(1 / (rank + 1))`` over the whole candidate list (not MRR@k). ``rank_of_target`` works on NumPy
arrays and torch tensors alike (it only uses comparisons and ``sum``), so evaluation ranks on the device.
"""

from __future__ import annotations

import math

import numpy as np

METRIC_KEYS = ("hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10", "mrr")


def rank_of_target(scores, target_scores):
    """Pessimistic 0-based rank and tie count of each target.

    scores: [U, C] scores of all candidates, the target among them (excluded candidates at -inf);
    target_scores: [U] the target's score. Returns (rank [U], ties [U]) of the input's array type.
    """
    t = target_scores[:, None]  # [U, 1]
    greater = (scores > t).sum(1)  # [U]
    ties = (scores == t).sum(1) - 1  # [U], the target itself not counted
    return greater + ties, ties


def metrics_from_ranks(ranks, ties=None, num_candidates: int | None = None, prefix: str = "") -> dict:
    """HR@1/5/10, NDCG@5/10 and MRR (plus ``tie_rate``, ``users``) from 0-based ranks [U].

    A rank < 0 or NaN marks a target that could not be scored; it counts as a miss (rank ``num_candidates``).
    """
    r = np.asarray(ranks, dtype=np.float64).reshape(-1)
    bad = ~np.isfinite(r) | (r < 0)
    worst = float(num_candidates if num_candidates is not None else (np.nanmax(r[~bad]) + 1 if (~bad).any() else 1))
    r = np.where(bad, worst, r)
    out: dict[str, float] = {}
    if r.size == 0:
        raise ValueError("metrics of an empty set of users")
    for k in (1, 5, 10):
        out[f"hr@{k}"] = float(np.mean(r < k))
    for k in (5, 10):
        out[f"ndcg@{k}"] = float(np.mean(np.where(r < k, 1.0 / np.log2(r + 2.0), 0.0)))
    out["mrr"] = float(np.mean(1.0 / (r + 1.0)))
    out["tie_rate"] = float(np.mean(np.asarray(ties).reshape(-1) > 0)) if ties is not None else 0.0
    out["unscorable"] = int(bad.sum())
    out["users"] = int(r.size)
    return {prefix + k: v for k, v in out.items()}


def ndcg_single(rank: int, k: int) -> float:
    """NDCG@k of one target at 0-based ``rank`` (a helper for readers and tests)."""
    return 1.0 / math.log2(rank + 2) if rank < k else 0.0
