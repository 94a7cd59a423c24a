"""Experiment tracking: every stage's losses, learning rate, validation metrics and wall seconds, for TensorBoard.

Design: ``--run.log_with tensorboard`` gives a :class:`Tracker` around accelerate's ``TensorBoardTracker`` (the
tracker ``Accelerator(log_with="tensorboard")`` would make), writing offline event files under ``RUN_DIR/logs``;
with the key empty (the default) the tracker does nothing, so the training loop calls it unconditionally. One run
of TensorBoard per run directory, the stage as the first part of each tag (``teacher/loss``, ``student/cos``,
``teacher/valid/ndcg@10``, ``sasrec/wall_seconds``) and the stage's optimizer step as the step, so the stages of a
run sit side by side. Only the main process writes. The ``tensorboard`` package is an optional extra
(``pip install 'slmrec[tracking]'``); asking for it without the package is a :class:`ConfigError` before training.
A resumed run appends a new event file to the same directory (TensorBoard shows the steps after the checkpoint
twice, once from each process life).
"""

from __future__ import annotations

from pathlib import Path

from slmrec.errors import ConfigError

TRACKERS = ("", "tensorboard")  # the values of run.log_with
LOG_DIR = "logs"


class Tracker:
    """``log(stage, {name: number}, step)``; ``close()`` at the end of the run."""

    def __init__(self, backend=None):
        self._backend = backend  # accelerate's tracker on the main process, else None

    @classmethod
    def off(cls) -> "Tracker":
        return cls(None)

    @classmethod
    def open(cls, cfg, run_dir: Path, accelerator) -> "Tracker":
        """The tracker ``cfg.run.log_with`` asks for (off when empty), logging under ``run_dir/logs``."""
        name = cfg.run.log_with
        if not name:
            return cls.off()
        if name not in TRACKERS:
            raise ConfigError(f"run.log_with must be one of {', '.join(repr(t) for t in TRACKERS)}, not {name!r}")
        check_available(name)
        if not accelerator.is_main_process:
            return cls.off()
        from accelerate.tracking import TensorBoardTracker

        backend = TensorBoardTracker(Path(run_dir).name, Path(run_dir) / LOG_DIR)
        backend.start()
        from slmrec import config as configs

        backend.store_init_configuration({k: v for k, v in configs.keys(cfg).items()})
        return cls(backend)

    def log(self, stage: str, values: dict, step: int) -> None:
        if self._backend is not None:
            self._backend.log(
                {f"{stage}/{k}": float(v) for k, v in values.items() if isinstance(v, (int, float))}, step=step
            )

    def close(self) -> None:
        if self._backend is not None:
            self._backend.finish()
            self._backend = None


def check_available(name: str) -> None:
    """Raises ConfigError when the package of tracker ``name`` is not installed."""
    if name == "tensorboard":
        import importlib.util

        if importlib.util.find_spec("tensorboard") is None:
            raise ConfigError(
                "--run.log_with tensorboard needs the tensorboard package: "
                "pip install 'slmrec[tracking]' (or pip install tensorboard)"
            )
