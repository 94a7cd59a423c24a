"""Ctrl-C and SIGTERM: a run stops with its checkpoint intact and says how to continue.

Design: two modes, one handler. Inside the training loop (:func:`deferred`) a SIGINT or SIGTERM only records
the signal; the loop finishes the optimizer step it is in, saves a checkpoint and raises :class:`Interrupted`, so
the run resumes from exactly that step. A second signal while the first is pending raises at once (the last
checkpoint on disk stays intact: checkpoints are written atomically). Outside the loop (loading data or the
backbone, evaluating, writing the report) :func:`install` makes both signals raise :class:`Interrupted` where the
program is. :class:`Interrupted` is a ``KeyboardInterrupt`` (for SIGTERM too), so that no ``except Exception`` on
the way turns it into a user error and a caller's ``except KeyboardInterrupt`` still catches it. The exit code is
the shell's: 128 + the signal number (130 for SIGINT, 143 for SIGTERM). Handlers can only be installed from the
main thread; elsewhere both modes do nothing and Python's defaults apply.
"""

from __future__ import annotations

import contextlib
import signal
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The process got SIGINT or SIGTERM; ``exit_code`` is 128 + the signal number."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class _Pending:
    """The signal the training loop has yet to act on (None: none)."""

    signum: int | None = None


pending = _Pending()


def _raise(signum, _frame):
    raise Interrupted(signum)


def _record(signum, _frame):
    if pending.signum is not None:  # a second signal: stop now
        raise Interrupted(signum)
    pending.signum = signum


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def install() -> dict:
    """SIGINT and SIGTERM raise :class:`Interrupted` wherever the program is (the mode outside the loop); returns
    the handlers it replaced, for :func:`restore`."""
    if not _main_thread():
        return {}
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    for s in SIGNALS:
        signal.signal(s, _raise)
    return previous


def restore(previous: dict) -> None:
    for s, h in previous.items():
        signal.signal(s, h)


@contextlib.contextmanager
def deferred():
    """Within the block, a signal is recorded in ``pending`` for the loop to act on at its next step boundary."""
    if not _main_thread():
        yield pending
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    pending.signum = None
    for s in SIGNALS:
        signal.signal(s, _record)
    try:
        yield pending
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        pending.signum = None
