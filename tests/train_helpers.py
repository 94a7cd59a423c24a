"""Test aid: what the ``slmrec-train`` tests share. The command line of a quiet tiny-preset run (:func:`tiny_args`),
the check that a bad one is a single ``slmrec-train: error:`` line with exit 2 (:func:`fails`), and a run in a fresh
process through ``crashing_train.py`` (:func:`crashing_run`, which a crash must not take pytest down with).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from slmrec.cli.train import main

QUIET = ["--run.progress", "false"]
CRASHING_TRAIN = [sys.executable, str(Path(__file__).with_name("crashing_train.py"))]  # + SLMREC_CRASH_AFTER hook


def tiny_args(out: Path, *extra: str, data: Path | str | None = None) -> list[str]:
    """``--preset tiny [--data DATA] --out OUT --run.progress false EXTRA...``."""
    return ["--preset", "tiny", *(["--data", str(data)] if data is not None else []), "--out", str(out), *QUIET, *extra]


def fails(capsys, *args: str) -> str:
    """``slmrec-train ARGS`` exits 2 with one ``slmrec-train: error: ...`` line on stderr; returns that line."""
    assert main(list(args)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("slmrec-train: error: ") and "\n" not in err, err
    return err


def crashing_run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``slmrec-train ARGS`` in a fresh process with the crash hooks of ``crashing_train.py`` that ``env`` sets."""
    return subprocess.run(
        [*CRASHING_TRAIN, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=600
    )
