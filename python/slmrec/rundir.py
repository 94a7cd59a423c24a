"""The run directory of ``slmrec-train``: what makes one ours, the lock a run holds, the dataset it is bound to.

Design choices:
- A directory is *ours* when it holds the ``config.json`` a run writes first. ``--force`` replaces only such a
  directory, never one reached through a symlink and never one that holds an input of this run (the dataset it
  would train on); anything else is a :class:`~slmrec.errors.ConfigError` that says why. Nothing a user owns is
  deleted.
- A run holds an exclusive OS lock (``flock``) for its whole life on ``.NAME.lock`` beside the run directory
  (outside it, so ``--force`` and cleanup never remove a lock another process holds). A second ``slmrec-train``
  on the same directory fails at once, touching nothing. The lock file is left in place when the run ends:
  removing it would let two later runs lock two different files of the same name.
- The run is bound to its dataset by the dataset's fingerprint (a content hash of the prepared directory):
  ``data_source.json`` records path and fingerprint, and ``--resume`` and ``--reuse`` refuse a dataset whose
  fingerprint differs (re-prepared, edited or swapped), since earlier stages' item tables would then index other
  items.
- A run directory is removed after a failure only when this process created it and no stage left a checkpoint
  or a result in it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from slmrec.errors import ConfigError

CONFIG = "config.json"  # written first by every run: the mark of a run directory
DATA_SOURCE = "data_source.json"


def lock_path(run_dir: Path) -> Path:
    run_dir = Path(os.path.abspath(run_dir))
    return run_dir.with_name(f".{run_dir.name}.lock")


class Lock:
    """An exclusive ``flock`` on :func:`lock_path`, held until :meth:`release` or the process ends."""

    def __init__(self, run_dir: Path):
        import fcntl

        self.path = lock_path(run_dir)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 64, 0).decode(errors="replace").strip() or "?"
            os.close(self._fd)
            raise ConfigError(
                f"{run_dir} is in use by another slmrec-train (pid {holder}, lock {self.path}); "
                "wait for it to end or choose another --out"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = -1


def _inside(path: Path, directory: Path) -> bool:
    path, directory = Path(os.path.realpath(path)), Path(os.path.realpath(directory))
    return path == directory or directory in path.parents


def check_out(run_dir: Path, *, force: bool, resume: bool, inputs: list[Path]) -> None:
    """Refuses an ``--out`` that cannot be (re)used as asked; never changes anything."""
    if run_dir.is_symlink():
        if force:
            raise ConfigError(f"--out {run_dir} is a symlink; --force never deletes through one (give its target)")
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"--out {run_dir} exists and is not a directory")
    if not run_dir.exists() or resume:
        return
    if not force:
        raise ConfigError(f"{run_dir} exists; pass --resume to continue it, --force to start over, or another --out")
    if not (run_dir / CONFIG).is_file():
        raise ConfigError(
            f"--force: {run_dir} is not a slmrec-train run directory (no {CONFIG}); it is not "
            "deleted: remove it yourself or choose another --out"
        )
    for p in inputs:
        if _inside(p, run_dir):
            raise ConfigError(
                f"--force: {run_dir} holds {p}, an input of this run; it is not deleted (prepare the "
                "data elsewhere, or choose another --out)"
            )


def bind(run_dir: Path, dataset) -> None:
    """Records the dataset this run trains on (path and fingerprint)."""
    record = {"path": str(Path(dataset.path).resolve()), "fingerprint": dataset.fingerprint}
    (run_dir / DATA_SOURCE).write_text(json.dumps(record) + "\n")


def bound_source(run_dir: Path) -> dict:
    """The ``data_source.json`` of a run ({} when it has none)."""
    source = run_dir / DATA_SOURCE
    if not source.is_file():
        return {}
    try:
        record = json.loads(source.read_text())
        if not isinstance(record, dict) or not isinstance(record.get("path"), str):
            raise ValueError("no path")
        return record
    except ValueError as e:
        raise ConfigError(f"{source}: unreadable ({type(e).__name__}: {e}); give --data again") from None


def bound_dataset(run_dir: Path):
    """The dataset ``run_dir`` trained on: the path its data_source.json records, else RUN_DIR/data; its
    fingerprint must be the one recorded (a re-prepared or swapped dataset is a :class:`ConfigError`)."""
    import slmrec

    record = bound_source(run_dir)
    for path in [Path(record["path"])] if record.get("path") else []:
        if (path / "stats.json").is_file():
            ds = slmrec.load(path)
            if ds.fingerprint == record.get("fingerprint"):
                return ds
    local = run_dir / "data"
    if (local / "stats.json").is_file():
        ds = slmrec.load(local)
        if record.get("fingerprint") in (None, ds.fingerprint):
            return ds
    raise ConfigError(
        f"{run_dir}: the dataset it trained on is not at {record.get('path', local)} any more (or was "
        "re-prepared); an export (slmrec-export) carries its own users and items"
    )


def check_bound(run_dir: Path, dataset, what: str) -> None:
    """Refuses ``dataset`` when ``run_dir`` was trained on data with another fingerprint."""
    record = bound_source(run_dir)
    want = record.get("fingerprint")
    if want is None:
        raise ConfigError(
            f"{what} {run_dir}: its {DATA_SOURCE} records no dataset fingerprint (a run from an older "
            "version); start a new run"
        )
    if want != dataset.fingerprint:
        raise ConfigError(
            f"{what} {run_dir}: the dataset {dataset.path} is not the one that run trained on "
            f"(fingerprint {dataset.fingerprint[:12]}, the run's {want[:12]}): it was re-prepared or "
            "swapped; start a new run on it"
        )


def has_progress(run_dir: Path) -> bool:
    """Whether any stage left a checkpoint or a result in ``run_dir``."""
    return (
        any(run_dir.glob("*/result.json")) or any(run_dir.glob("*/checkpoint")) or any(run_dir.glob("*/checkpoint.old"))
    )


def last_position(run_dir: Path, stages: list[str]) -> tuple[str, int]:
    """(the first stage of ``stages`` without a result, its last checkpointed optimizer step): where a resume
    continues."""
    from slmrec.checkpoint import STATE_FILE

    for name in stages:
        if (run_dir / name / "result.json").is_file():
            continue
        state = run_dir / name / "checkpoint" / STATE_FILE
        try:
            return name, int(json.loads(state.read_text())["global_step"])
        except (OSError, ValueError, KeyError, TypeError):
            return name, 0
    return (stages[-1] if stages else "?"), 0
