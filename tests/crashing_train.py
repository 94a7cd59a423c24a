"""Test aid: ``slmrec-train`` that ends its process abruptly after a chosen optimizer step, to test resuming.

``SLMREC_CRASH_AFTER=STAGE:STEP python tests/crashing_train.py ARGS...`` runs ``slmrec-train ARGS...`` with a step
hook (:data:`slmrec.train.STEP_HOOKS`) that calls ``os._exit(137)`` right after step STEP of stage STAGE (its
checkpoint, if one is due, already written): a killed process, no cleanup, no final write. The hook lives here, in
the tests, not in the training loop. ``SLMREC_TEACHER_CACHE_MEMORY_BYTES=N`` lowers the teacher cache's in-memory
bound (:data:`slmrec.teacher_cache.MEMORY_BYTES`) to N, so a tiny run takes the on-disk path.
"""

from __future__ import annotations

import os
import sys

ENV = "SLMREC_CRASH_AFTER"
MEMORY_ENV = "SLMREC_TEACHER_CACHE_MEMORY_BYTES"


def crash_after(spec: str):
    """The hook for ``"STAGE:STEP"``."""
    name, _, step = spec.partition(":")

    def hook(stage: str, global_step: int) -> None:
        if stage == name and global_step == int(step):
            os._exit(137)

    return hook


if __name__ == "__main__":
    from slmrec import teacher_cache, train
    from slmrec.cli.train import main

    if os.environ.get(ENV):
        train.STEP_HOOKS.append(crash_after(os.environ[ENV]))
    if os.environ.get(MEMORY_ENV):
        teacher_cache.MEMORY_BYTES = int(os.environ[MEMORY_ENV])
    sys.exit(main(sys.argv[1:]))
