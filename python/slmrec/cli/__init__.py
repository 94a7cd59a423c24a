"""The command lines, one module each: `slmrec-prep` (:mod:`slmrec.cli.prep`), `slmrec-train` (:mod:`slmrec.cli.train`),
`slmrec-recommend` (:mod:`slmrec.cli.recommend`), `slmrec-export` (:mod:`slmrec.cli.export`) and
`slmrec-evaluate` (:mod:`slmrec.cli.evaluate`).

What they share lives here, once: the argument parser whose usage errors become a :class:`~slmrec.errors.ConfigError`
(argparse would print the whole usage and exit by itself), the one ``PROG: error: ...`` line and exit code 2 that
every user error ends in, the ``--model`` flag of the commands that read a trained run, and the rules for the one
``--out`` file some of them write (refused when it exists without ``--force``; written under a temporary name
and renamed, so it is never half-written). This module imports
only the standard library and :mod:`slmrec.errors`, so ``slmrec-prep --help`` stays light.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable

from slmrec.errors import ConfigError

USER_ERROR = 2  # the exit code of every error the user can fix (argparse's own)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error raises :class:`ConfigError` (reported by :func:`user_error` as one line).

    Subclasses may add a hint (``; did you mean ...?``) by overriding :meth:`hint`.
    """

    def hint(self, message: str) -> str:
        return ""

    def error(self, message):
        raise ConfigError(message + self.hint(message))


def user_error(prog: str, error: BaseException) -> int:
    """Print ``PROG: error: <the first line of error>`` on stderr and return :data:`USER_ERROR`."""
    text = str(error)
    message = text.splitlines()[0] if text else type(error).__name__
    print(f"{prog}: error: {message}", file=sys.stderr)
    return USER_ERROR


def add_model_flag(p: argparse.ArgumentParser, help: str) -> None:
    """``--model``: which stage of a ``slmrec-train`` run (:data:`slmrec.recommend.MODELS`, default student)."""
    from slmrec.recommend import MODELS

    p.add_argument("--model", choices=MODELS, default="student", help=help)


def check_out(out: Path, force: bool) -> None:
    """Refuses an ``--out`` file that exists (unless ``force``) or is a directory, before any work is done."""
    if out.exists() and not force:
        raise ConfigError(f"{out} exists; pass --force to replace it, or choose another --out")
    if out.is_dir():
        raise ConfigError(f"--out {out} is a directory")


def write_out(out: Path, write: Callable[[Path], None]) -> None:
    """Writes ``out`` through ``write(path)`` under a temporary name beside it, then renames it into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    write(tmp)
    os.replace(tmp, out)
