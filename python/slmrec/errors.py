"""The exception hierarchy of slmrec, defined once.

The Rust bindings raise these classes (looked up in this module), so `except slmrec.SlmrecError` catches
every data-layer failure. I/O problems stay the built-in `FileNotFoundError`/`OSError`, and bad arguments
`ValueError`, because that is what Python users expect to catch.
"""


class SlmrecError(Exception):
    """Base class of every slmrec-specific error."""


class DataFormatError(SlmrecError, ValueError):
    """Input that does not follow its format; the message starts with ``file:line:``."""


class EmptyDatasetError(SlmrecError):
    """Input that leaves no interaction (an empty file, or a recipe that drops everything)."""


class OutputExistsError(SlmrecError, FileExistsError):
    """The output directory exists (pass ``force=True``/``--force``), or another writer won the race."""


class ConfigError(SlmrecError, ValueError):
    """A configuration that cannot work (unknown preset or key, layers that do not divide, ...)."""


class DivergedError(SlmrecError):
    """A training stage whose loss became NaN or infinite; the message names the stage and the step."""


class CheckpointError(SlmrecError):
    """A checkpoint or stage output that is missing, truncated, altered or does not fit the model."""


class InternalError(SlmrecError, RuntimeError):
    """A bug in slmrec (a Rust panic caught at the boundary, a worker thread that died), never the data's fault."""
