"""slmrec: sequential recommendation with language models, distilled (SLMRec, ICLR 2025).

The data layer (``prepare``, ``load``, ``Dataset``, ``slmrec.sampling``) is a Rust extension and imports in a
fraction of a second; torch, transformers and peft are imported only by the training modules.
"""

from slmrec._core import __version__
from slmrec.data import Dataset, load, prepare
from slmrec.errors import (
    ConfigError,
    DataFormatError,
    EmptyDatasetError,
    OutputExistsError,
    SlmrecError,
)

__all__ = [
    "__version__",
    "ConfigError",
    "DataFormatError",
    "Dataset",
    "EmptyDatasetError",
    "OutputExistsError",
    "SlmrecError",
    "load",
    "prepare",
]
