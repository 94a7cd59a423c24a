"""slmrec: sequential recommendation with language models, distilled (SLMRec, ICLR 2025).

The data layer (``prepare``, ``load``, ``Dataset``, ``slmrec.sampling``) is a Rust extension and imports in a
fraction of a second; torch, transformers and peft are imported only by the training modules. Even NumPy is
imported only when a data function is first used (``prepare``, ``load`` and ``Dataset`` resolve lazily), so a
command-line tool can configure it first.
"""

from typing import TYPE_CHECKING

from slmrec._core import __version__
from slmrec.errors import (
    ConfigError,
    DataFormatError,
    EmptyDatasetError,
    InternalError,
    OutputExistsError,
    SlmrecError,
)

if TYPE_CHECKING:
    from slmrec.data import Dataset, load, prepare

__all__ = [
    "__version__",
    "ConfigError",
    "DataFormatError",
    "Dataset",
    "EmptyDatasetError",
    "InternalError",
    "OutputExistsError",
    "SlmrecError",
    "load",
    "prepare",
]

_LAZY = ("Dataset", "load", "prepare")


def __getattr__(name: str):
    if name in _LAZY:
        from slmrec import data

        return getattr(data, name)
    raise AttributeError(f"module 'slmrec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
