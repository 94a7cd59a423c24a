"""The command lines, one module each: `slmrec-prep` (:mod:`slmrec.cli.prep`), `slmrec-train` (:mod:`slmrec.cli.train`),
`slmrec-recommend` (:mod:`slmrec.cli.recommend`), `slmrec-export` (:mod:`slmrec.cli.export`) and
`slmrec-evaluate` (:mod:`slmrec.cli.evaluate`).

What they share lives here, once: the argument parser whose usage errors become a :class:`~slmrec.errors.ConfigError`
(argparse would print the whole usage and exit by itself), the one ``PROG: error: ...`` line and exit code 2 that
every user error ends in, and the ``--model`` flag of the commands that read a trained run. This module imports
only the standard library and :mod:`slmrec.errors`, so ``slmrec-prep --help`` stays light.
"""

from __future__ import annotations

import argparse
import sys

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
