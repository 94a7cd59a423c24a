"""`--run.log_with tensorboard`: every stage's losses, learning rate, validation metrics and wall seconds, offline."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("tensorboard")

from slmrec.cli.train import main  # noqa: E402
from train_helpers import tiny_args  # noqa: E402


def test_tensorboard_logs_every_stage_under_the_run_dir(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    epochs = ["--sasrec.epochs", "2", "--teacher.epochs", "1"]
    assert main(tiny_args(out, "--stages", "sasrec,teacher", *epochs, "--run.log_with", "tensorboard")) == 0
    events = list((out / "logs").rglob("events.out.tfevents.*"))
    assert events
    tags = set()
    for e in events:
        acc = EventAccumulator(str(e.parent))
        acc.Reload()
        tags |= set(acc.Tags()["scalars"])
    for stage in ("sasrec", "teacher"):
        for tag in ("loss", "lr", "wall_seconds", "valid/ndcg@10", "valid/mrr", "test/ndcg@10"):
            assert f"{stage}/{tag}" in tags, (stage, tag, sorted(tags))


def test_an_unknown_tracker_is_refused_before_training(tmp_path, capsys):
    assert main(["--preset", "tiny", "--out", str(tmp_path / "r"), "--run.log_with", "wandb"]) == 2
    assert "run.log_with must be empty or tensorboard" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
