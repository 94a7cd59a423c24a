"""Crashes mid-run: SIGKILL from outside (a preempted job), tampered checkpoints, and racing writers.

- ``slmrec-prep`` killed at seeded random moments and at the moment its hidden temporary directory appears: the
  output directory is then absent or complete (it loads, and equals an uninterrupted run), and a rerun
  without ``--force`` succeeds. Two processes preparing into one directory: one wins, the other exits 2.
- ``slmrec-train --preset tiny`` killed with SIGKILL during each stage (sasrec, teacher, student; each kill
  lands as soon as the stage has a checkpoint at or past a given step), resumed with ``--resume`` each time: the
  final metrics.json equals an uninterrupted run's, bit for bit (CPU). Each resume runs with the
  ``SLMREC_CRASH_AFTER`` hook armed at step 1 of the stage that was killed, so a stage that silently restarted
  from scratch instead of resuming would end the process (exit 137) and fail the test.
- A truncated, bit-flipped, edited, missing or swapped checkpoint file, and a pickle that would run code, are
  a one-line ``slmrec-train: error:`` and exit code 2 on ``--resume``, never a silent restart (and the pickle
  never runs). A save killed between its two renames resumes from the previous checkpoint.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import slmrec

PREP = [sys.executable, "-m", "slmrec.cli.prep"]
TRAIN = [sys.executable, str(Path(__file__).with_name("crashing_train.py"))]  # slmrec-train + SLMREC_CRASH_AFTER hook


def _hidden(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.startswith("."))


def _same_dataset(a, b) -> None:
    for name in ("offsets", "items", "timestamps"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(np.isnan(a.ratings), np.isnan(b.ratings))
    strip = lambda s: {k: v for k, v in s.items() if k not in ("elapsed_seconds", "phase_seconds", "inputs")}  # noqa: E731
    assert strip(a.stats) == strip(b.stats)


# ============================================================================================ slmrec-prep


@pytest.fixture(scope="module")
def prep_input(tmp_path_factory):
    """A generated review dump, read 4 times in one run so that a run takes about half a second here."""
    from slmrec import synth

    d = tmp_path_factory.mktemp("prep")
    src = d / "reviews.json.gz"
    synth.generate_reviews(src, n_users=10_000, seed=3)
    args = [str(src)] * 4
    ref = d / "reference"
    start = time.perf_counter()
    r = subprocess.run([*PREP, *args, "--out", str(ref), "-q"], capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - start
    assert r.returncode == 0, r.stderr
    return args, slmrec.load(ref), seconds


def _kill_prep(args: list[str], out: Path, *, after: float | None = None, when_temp_appears: bool = False) -> int:
    p = subprocess.Popen(
        [*PREP, *args, "--out", str(out), "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    if when_temp_appears:
        while p.poll() is None and time.monotonic() < deadline:
            if any(n.startswith(f".{out.name}.tmp-") for n in os.listdir(out.parent)):
                break
            time.sleep(0.002)
    else:
        time.sleep(after)
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)
    p.wait(timeout=60)
    p.stderr.close()
    return p.returncode


def test_prep_killed_at_random_points(tmp_path, prep_input):
    args, reference, seconds = prep_input
    rnd = random.Random(2024)
    points = [("random", rnd.uniform(0.05, seconds)) for _ in range(3)] + [("temp dir", None)]
    killed = 0
    for k, (kind, after) in enumerate(points):
        parent = tmp_path / f"run{k}"
        parent.mkdir()
        out = parent / "ds"
        rc = _kill_prep(args, out, after=after, when_temp_appears=after is None)
        killed += rc == -signal.SIGKILL
        if out.exists():  # finished before the kill: complete
            _same_dataset(slmrec.load(out), reference)
        else:
            # Absent. A SIGKILL leaves the hidden temporary directory behind (nothing can remove it then), but
            # never anything under the output's name; a rerun without --force succeeds, and removes it (its
            # process is gone).
            # (and the output's lock file, which holds no lock once its process is gone)
            assert all(n.startswith(".ds.tmp-") or n == ".ds.lock" for n in _hidden(parent)), _hidden(parent)
            assert sorted(os.listdir(parent)) == _hidden(parent)
            r = subprocess.run([*PREP, *args, "--out", str(out), "-q"], capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, r.stderr
            _same_dataset(slmrec.load(out), reference)
            assert os.listdir(parent) == ["ds"]
    assert killed >= 2, "most kills should land while the run is going"


def test_two_processes_racing_for_one_output(tmp_path, prep_input):
    args, reference, _ = prep_input
    out = tmp_path / "race"
    procs = [
        subprocess.Popen(
            [*PREP, *args, "--out", str(out), "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = [(p.wait(timeout=300), p.stderr.read().strip()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    codes = sorted(rc for rc, _ in results)
    assert codes == [0, 2], results
    (loser,) = [err for rc, err in results if rc == 2]
    assert loser.startswith(f"slmrec-prep: error: {out}: ") and "\n" not in loser and "Traceback" not in loser
    assert sorted(os.listdir(tmp_path)) == ["race"]  # the loser's temporary directory is gone
    _same_dataset(slmrec.load(out), reference)


# ============================================================================================ slmrec-train

pytest.importorskip("torch")
pytest.importorskip("transformers")

from slmrec.cli.train import main as train_main  # noqa: E402
from train_helpers import fails  # noqa: E402

STAGES = "sasrec,teacher,student"
from slmrec.train import TIMING_KEYS as TIMING  # noqa: E402

# A checkpoint every 2 steps; fewer epochs than the preset (15 SASRec steps, 5 per LLM stage) to keep this quick.
BASE = [
    "--run.progress",
    "false",
    "--run.save_every",
    "2",
    "--sasrec.epochs",
    "3",
    "--teacher.epochs",
    "1",
    "--student.epochs",
    "1",
]


def _metrics(run: Path) -> dict:
    m = json.loads((run / "metrics.json").read_text())
    return {s: {k: v for k, v in r.items() if k not in TIMING} for s, r in m.items()}


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """One uninterrupted tiny run of the three stages (shared by every test below)."""
    out = tmp_path_factory.mktemp("train") / "reference"
    assert train_main(["--preset", "tiny", "--out", str(out), "--stages", STAGES, *BASE]) == 0
    return out


def _history(stage_dir: Path) -> dict:
    """history.json without its wall-clock fields."""
    h = json.loads((stage_dir / "history.json").read_text())
    return {k: [{f: v for f, v in e.items() if "seconds" not in f} for e in rows] for k, rows in h.items()}


def _checkpoint_step(stage_dir: Path) -> int:
    try:
        return json.loads((stage_dir / "checkpoint" / "trainer_state.json").read_text())["global_step"]
    except (OSError, ValueError, KeyError):  # not there yet, or being replaced by the next save
        return -1


def _train_until(args: list[str], run: Path, stage: str, step: int, env: dict) -> tuple[int, int]:
    """Starts slmrec-train and SIGKILLs it once ``stage`` has a checkpoint at or past ``step``; returns
    (exit code, the checkpoint step seen)."""
    log = open(run.parent / f"{run.name}-{stage}.log", "w")
    p = subprocess.Popen(
        [*TRAIN, *args], stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env}, start_new_session=True
    )
    seen = -1
    deadline = time.monotonic() + 600
    while p.poll() is None and time.monotonic() < deadline:
        seen = _checkpoint_step(run / stage)
        if seen >= step:
            os.killpg(p.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    rc = p.wait(timeout=60)
    log.close()
    return rc, seen


@pytest.mark.slow
def test_train_killed_in_each_stage_resumes_bit_exact(tmp_path, reference_run):
    run = tmp_path / "killed"
    env: dict = {}
    first = ["--preset", "tiny", "--out", str(run), "--stages", STAGES, *BASE]
    resume = ["--out", str(run), "--resume", "--run.progress", "false"]
    for k, (stage, step) in enumerate((("sasrec", 4), ("teacher", 2), ("student", 2))):
        began = time.perf_counter()
        rc, seen = _train_until(first if k == 0 else resume, run, stage, step, env)
        print(f"{stage}: killed after {time.perf_counter() - began:.1f} s at checkpoint step {seen}")
        log = (tmp_path / f"killed-{stage}.log").read_text()
        assert rc == -signal.SIGKILL, f"{stage}: exit {rc} (checkpoint step {seen})\n{log[-3000:]}"
        assert not (run / stage / "result.json").exists()  # killed during the stage
        # The next run resumes this stage; had it restarted from scratch, step 1 would end it with exit 137.
        env = {"SLMREC_CRASH_AFTER": f"{stage}:1"}
    r = subprocess.run([*TRAIN, *resume], capture_output=True, text=True, env={**os.environ, **env}, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert _metrics(run) == _metrics(reference_run)
    for stage in STAGES.split(","):  # every loss and validation score, bit for bit
        assert _history(run / stage) == _history(reference_run / stage)
    assert not list(run.rglob("checkpoint.tmp")) and not list(run.rglob("checkpoint.old"))


# ----- tampered checkpoints


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at % len(data)] ^= 0x40
    path.write_bytes(bytes(data))


def _resign(ckpt: Path) -> None:
    """Recomputes the integrity record as an attacker who knows the format would (so the next check is reached)."""
    from slmrec import checkpoint

    state = json.loads((ckpt / checkpoint.STATE_FILE).read_text())
    state.pop(checkpoint.INTEGRITY)
    files = {
        p.relative_to(ckpt).as_posix(): {"bytes": p.stat().st_size, "sha256": checkpoint._sha256(p)}
        for p in sorted(ckpt.rglob("*"))
        if p.is_file() and p.name != checkpoint.STATE_FILE
    }
    state[checkpoint.INTEGRITY] = {"files": files, "state_sha256": checkpoint._state_sha256(state)}
    (ckpt / checkpoint.STATE_FILE).write_text(json.dumps(state))


class _Payload:
    """Unpickling this runs a shell command: what a hostile checkpoint would carry."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _pickle_bomb(path: Path, marker: Path) -> None:
    import torch

    torch.save({"state": _Payload(marker), "param_groups": []}, path)


def _edit_state(path: Path) -> None:
    state = json.loads(path.read_text())
    state["global_step"] -= 1
    path.write_text(json.dumps(state))


TAMPER = {
    "truncated-model": lambda c, m: (c / "model.safetensors").write_bytes((c / "model.safetensors").read_bytes()[:300]),
    "flipped-byte-in-model-data": lambda c, m: _flip(c / "model.safetensors", -9),
    "flipped-byte-in-model-header": lambda c, m: _flip(c / "model.safetensors", 12),
    "flipped-byte-in-optimizer": lambda c, m: _flip(c / "optimizer.bin", (c / "optimizer.bin").stat().st_size // 2),
    "missing-optimizer": lambda c, m: (c / "optimizer.bin").unlink(),
    "missing-rng-state": lambda c, m: (c / "random_states_0.pkl").unlink(),
    "missing-state-json": lambda c, m: (c / "trainer_state.json").unlink(),
    "edited-state-json": lambda c, m: _edit_state(c / "trainer_state.json"),
    "invalid-state-json": lambda c, m: (c / "trainer_state.json").write_text('{"epoch": 1'),
    "empty-checkpoint-dir": lambda c, m: [p.unlink() for p in c.iterdir()],
    "model-of-another-stage": lambda c, m: shutil.copy(
        c.parent.parent / "teacher" / "checkpoint" / "model.safetensors", c / "model.safetensors"
    ),
    "pickle-in-optimizer-resigned": lambda c, m: (_pickle_bomb(c / "optimizer.bin", m), _resign(c)),
    "pickle-in-rng-state-resigned": lambda c, m: (_pickle_bomb(c / "random_states_0.pkl", m), _resign(c)),
}


def _unfinished_copy(reference_run: Path, dest: Path, stage: str) -> Path:
    """A copy of the reference run whose ``stage`` is unfinished (its result removed): --resume loads its
    checkpoint."""
    shutil.copytree(reference_run, dest)
    (dest / stage / "result.json").unlink()
    (dest / "metrics.json").unlink()
    return dest / stage / "checkpoint"


@pytest.mark.parametrize("how", sorted(TAMPER))
def test_tampered_checkpoint_is_a_clear_error(tmp_path, reference_run, capsys, how):
    run = tmp_path / "run"
    ckpt = _unfinished_copy(reference_run, run, "sasrec")
    marker = tmp_path / "payload-ran"
    TAMPER[how](ckpt, marker)
    before = sorted((p.relative_to(run), p.stat().st_size) for p in run.rglob("*") if p.is_file())
    err = fails(capsys, "--out", str(run), "--resume", "--run.progress", "false")
    assert str(ckpt) in err and ("corrupt" in err or "cannot be loaded" in err), err
    assert "delete" in err  # says what to do
    assert not marker.exists(), "a pickle in a checkpoint ran code"
    after = sorted((p.relative_to(run), p.stat().st_size) for p in run.rglob("*") if p.is_file())
    assert after == before  # nothing restarted, nothing overwritten
    assert not (run / "sasrec" / "result.json").exists()


def test_tampered_done_marker_and_data_source_are_clear_errors(tmp_path, reference_run, capsys):
    run = tmp_path / "run"
    shutil.copytree(reference_run, run)
    (run / "teacher" / "result.json").write_text("{not json")
    err = fails(capsys, "--out", str(run), "--resume", "--run.progress", "false")
    assert "teacher/result.json" in err and "unreadable" in err
    (run / "data_source.json").write_text("[]")  # written when --data is a prepared directory; here edited
    assert "data_source.json" in fails(capsys, "--out", str(run), "--resume", "--run.progress", "false")


def test_edited_config_is_a_clear_error(tmp_path, reference_run, capsys):
    run = tmp_path / "run"
    shutil.copytree(reference_run, run)
    (run / "config.json").write_text((run / "config.json").read_text()[:-20])
    assert "config.json" in fails(capsys, "--out", str(run), "--resume", "--run.progress", "false")


def test_a_stale_checkpoint_old_does_not_block_the_next_save(tmp_path):
    """A save killed while it removed checkpoint.old leaves checkpoint/ and part of checkpoint.old: the next save
    replaces both (found by a random SIGKILL in CI: the rename onto the non-empty directory failed)."""
    import torch
    from accelerate import Accelerator

    from slmrec import checkpoint

    acc = Accelerator(cpu=True)
    acc.prepare(torch.nn.Linear(2, 2))
    ckpt = tmp_path / "checkpoint"
    checkpoint.save_state(acc, ckpt, {"global_step": 1})
    stale = tmp_path / "checkpoint.old"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"partial")
    checkpoint.save_state(acc, ckpt, {"global_step": 2})
    assert not stale.exists() and not (tmp_path / "checkpoint.tmp").exists()
    assert checkpoint.load_state(acc, ckpt)["global_step"] == 2


def test_save_killed_between_its_renames_resumes_from_the_previous_checkpoint(tmp_path, reference_run, monkeypatch):
    """checkpoint/ moved to checkpoint.old, the new one half-written in checkpoint.tmp: --resume continues from
    checkpoint.old (here the end of sasrec, so no step runs: the crash hook armed at step 1 never fires; it would
    if the stage restarted from scratch)."""
    run = tmp_path / "run"
    ckpt = _unfinished_copy(reference_run, run, "sasrec")
    os.replace(ckpt, ckpt.with_name("checkpoint.old"))
    half = ckpt.with_name("checkpoint.tmp")
    half.mkdir()
    (half / "model.safetensors").write_bytes(b"\x00" * 10)

    class Restarted(Exception):
        pass

    def crash(code):
        raise Restarted(f"sasrec restarted from scratch (the crash hook fired with {code})")

    from slmrec import train

    monkeypatch.setattr(
        train, "STEP_HOOKS", [lambda stage, step: crash(137) if (stage, step) == ("sasrec", 1) else None]
    )
    assert train_main(["--out", str(run), "--resume", "--run.progress", "false"]) == 0
    assert _metrics(run) == _metrics(reference_run)
    assert (run / "sasrec" / "checkpoint" / "trainer_state.json").is_file()


def test_no_pickle_loading_of_user_files():
    """Nothing in slmrec calls torch.load or pickle.load (accelerate's RNG/optimizer states are read with
    torch.load(weights_only=True), checked above with a pickle that would run a command)."""
    import re

    src = Path(slmrec.__file__).parent
    for path in src.rglob("*.py"):
        text = path.read_text()
        for m in re.finditer(r"torch\.load\(([^)]*)\)", text):
            assert "weights_only=True" in m.group(1), f"{path}: {m.group(0)}"
        assert not re.search(r"\bpickle\.loads?\(|\bdill\.|\bjoblib\.load\(", text), path
        assert "allow_pickle=True" not in text, path
