"""Metric formulas on hand-made ranks and scores, the pessimistic tie policy included."""

import math

import numpy as np
import pytest

from slmrec.metrics import METRIC_KEYS, metrics_from_ranks, ndcg_single, rank_of_target


def test_rank_zero_is_perfect():
    m = metrics_from_ranks(np.array([0, 0]))
    assert all(m[k] == 1.0 for k in METRIC_KEYS)


def test_hand_made_ranks():
    m = metrics_from_ranks(np.array([0, 4, 9, 50]))
    assert m["hr@1"] == 0.25
    assert m["hr@5"] == 0.5
    assert m["hr@10"] == 0.75
    assert m["ndcg@5"] == pytest.approx((1 + 1 / math.log2(6)) / 4)
    assert m["ndcg@10"] == pytest.approx((1 + 1 / math.log2(6) + 1 / math.log2(11)) / 4)
    assert m["mrr"] == pytest.approx((1 + 1 / 5 + 1 / 10 + 1 / 51) / 4)
    assert m["users"] == 4
    assert ndcg_single(4, 5) == pytest.approx(1 / math.log2(6)) and ndcg_single(5, 5) == 0.0


def test_ties_count_against_the_target():
    scores = np.array([[1.0, 1.0, 0.5, 2.0], [3.0, 1.0, 1.0, 1.0]])  # target at column 0
    rank, ties = rank_of_target(scores, scores[:, 0])
    assert rank.tolist() == [2, 0]  # one better + one tie; best
    assert ties.tolist() == [1, 0]
    m = metrics_from_ranks(rank, ties)
    assert m["tie_rate"] == 0.5 and m["hr@1"] == 0.5


def test_excluded_and_unscorable():
    torch = pytest.importorskip("torch")
    s = torch.tensor([[float("-inf"), 0.2, 5.0, 0.1]])  # column 2 excluded below
    s[0, 2] = float("-inf")
    rank, ties = rank_of_target(s, s[:, 1])
    assert rank.tolist() == [0] and ties.tolist() == [0]
    m = metrics_from_ranks(np.array([np.nan, 0.0]), num_candidates=100)
    assert m["unscorable"] == 1 and m["hr@1"] == 0.5 and m["mrr"] == pytest.approx((1 + 1 / 101) / 2)


def test_evaluation_without_sampled_candidates_gives_the_same_full_ranking():
    """``sampled=False`` (a validation selecting on a full-ranking metric) skips the candidates only."""
    torch = pytest.importorskip("torch")
    from accelerate import Accelerator

    from slmrec import evaluate as ev

    g = torch.Generator().manual_seed(0)
    users = 7
    table = torch.randn(9, 4, generator=g)
    data = ev.EvalSet(
        "valid",
        torch.arange(users),
        torch.randint(1, 9, (users, 3), generator=g),
        torch.tensor([[1, 2, 3, 4]] * users),
        torch.tensor([[5, 6]] * users),
    )
    user = torch.randn(users, 4, generator=g)
    encode = lambda ids: {"": user[: len(ids)]}  # noqa: E731 (one batch)
    both = ev.evaluate(Accelerator(cpu=True), encode, table, data, batch_size=users)[""]
    only = ev.evaluate(Accelerator(cpu=True), encode, table, data, batch_size=users, sampled=False)[""]
    assert only == {k: v for k, v in both.items() if k.startswith("full_")}
    assert "hr@10" in both and "full_hr@10" in both
