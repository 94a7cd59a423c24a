"""Training length in optimizer steps, warmup as a fraction, early stopping, and what a stage records about its
budget (``total_steps``, ``examples_seen``, ``best_in_last_10pct``) so that an under-trained model is visible."""

from __future__ import annotations

import json
import math
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from slmrec.cli.train import main  # noqa: E402
from train_helpers import QUIET, crashing_run, fails, tiny_args  # noqa: E402


def _run(tmp_path, *args) -> dict:
    out = tmp_path / "run"
    assert main(tiny_args(out, *args)) == 0
    return json.loads((out / "sasrec" / "result.json").read_text()) | {
        "history": json.loads((out / "sasrec" / "history.json").read_text()),
        "dir": out,
    }


def test_a_step_budget_ends_training_there(tmp_path):
    r = _run(tmp_path, "--stages", "sasrec", "--sasrec.steps", "7", "--sasrec.eval_every", "3")
    assert r["total_steps"] == r["planned_steps"] == 7
    assert r["examples_seen"] == 7 * 64  # the tiny preset's SASRec batch
    assert [e["step"] for e in r["history"]["evals"]] == [3, 6, 7]
    assert [e["examples_seen"] for e in r["history"]["evals"]] == [192, 384, 448]
    assert len(r["history"]["losses"]) == 7 and not r["stopped_early"]
    assert r["best_in_last_10pct"] == (r["best_step"] > 6.3)
    text = (r["dir"] / "results.md").read_text()
    assert "## training budget" in text and "| 7 of 7 |" in text


def test_early_stopping_keeps_the_best_and_respects_min_steps(tmp_path):
    # a learning rate too small to change a weight: the first validation stays the best
    common = [
        "--stages",
        "sasrec",
        "--sasrec.steps",
        "40",
        "--sasrec.eval_every",
        "1",
        "--sasrec.lr",
        "1e-30",
        "--sasrec.patience",
        "3",
    ]
    r = _run(tmp_path / "a", *common)
    assert r["stopped_early"] and r["total_steps"] == 4 and r["best_step"] == 1
    assert [e["step"] for e in r["history"]["evals"]] == [1, 2, 3, 4]
    assert not r["best_in_last_10pct"]
    r = _run(tmp_path / "b", *common, "--sasrec.min_steps", "10")
    assert r["stopped_early"] and r["total_steps"] == 10 and r["best_step"] == 1


def test_the_budget_survives_a_resume(tmp_path):
    """A run killed mid-stage resumes into the same step budget and early-stopping state."""
    out = tmp_path / "run"
    args = tiny_args(
        out, "--stages", "sasrec", "--sasrec.steps", "9", "--sasrec.eval_every", "2", "--run.save_every", "1"
    )
    crashed = crashing_run(*args, env={"SLMREC_CRASH_AFTER": "sasrec:5"})
    assert crashed.returncode == 137, crashed.stderr[-2000:]
    assert main(["--out", str(out), "--resume", *QUIET]) == 0
    r = json.loads((out / "sasrec" / "result.json").read_text())
    assert r["total_steps"] == 9
    evals = json.loads((out / "sasrec" / "history.json").read_text())["evals"]
    assert [e["step"] for e in evals] == [2, 4, 6, 8, 9]


def test_warmup_at_or_above_the_budget_is_an_error(tmp_path, capsys):
    base = tiny_args(tmp_path / "run", "--stages", "sasrec,teacher", "--sasrec.epochs", "1")
    err = fails(capsys, *base, "--teacher.steps", "3", "--teacher.warmup_steps", "3")
    assert "teacher: warmup of 3 steps is not shorter than the 3 training steps" in err
    err = fails(capsys, *base, "--teacher.warmup_ratio", "0.1")
    assert "teacher.warmup_steps (2) and teacher.warmup_ratio (0.1) are both set" in err


@pytest.mark.slow
def test_warmup_ratio_is_a_fraction_of_the_steps(tmp_path):
    out = tmp_path / "run"
    stages = ["--stages", "sasrec,teacher", "--sasrec.epochs", "1", "--teacher.steps", "8", "--teacher.eval_every", "8"]
    assert main(tiny_args(out, *stages, "--teacher.warmup_steps", "0", "--teacher.warmup_ratio", "0.25")) == 0
    lrs = [x["lr"] for x in json.loads((out / "teacher" / "history.json").read_text())["losses"]]
    peak = 3e-3  # the tiny preset's teacher.lr
    assert len(lrs) == 8 and lrs[:3] == pytest.approx([peak / 3, 2 * peak / 3, peak])  # 2 warmup steps, then the peak
    assert lrs[3:] == sorted(lrs[3:], reverse=True) and lrs[-1] < peak / 10  # cosine towards 0 at step 8


def test_sasrec_schedule_constant_or_cosine_over_its_steps(tmp_path):
    """SASRec's lr is constant by default (the code's); ``sasrec.schedule cosine`` decays it from the peak to 0
    over the planned steps, with no warmup."""

    def lrs(name: str, *extra: str) -> list[float]:
        out = tmp_path / name
        args = tiny_args(out, "--stages", "sasrec", "--sasrec.steps", "6", "--sasrec.lr", "0.002", *extra)
        assert main(args) == 0
        return [x["lr"] for x in json.loads((out / "sasrec" / "history.json").read_text())["losses"]]

    assert lrs("constant") == [0.002] * 6
    cosine = lrs("cosine", "--sasrec.schedule", "cosine")
    want = [0.001 * (1 + math.cos(math.pi * s / 6)) for s in range(6)]
    assert cosine == pytest.approx(want) and cosine[0] == pytest.approx(0.002) and cosine[-1] < 0.002 / 10
