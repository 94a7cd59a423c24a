"""The portable export: one directory that serves a trained model without its run, its dataset or its backbone file.

Layout (written by :func:`write`, read back by :func:`read`)::

    DIR/config.json        format, version, the architecture, the prompt's token ids, the provenance (run, stage,
                           data fingerprint, metrics, the run's config) and the size + SHA-256 of every other file
    DIR/model.safetensors  every weight the model computes with: for an LLM recommender the kept decoder layers
                           with LoRA merged in, the final norm, the rows of the token embeddings the prompt uses,
                           ``input_proj``, ``score`` and the item table ``item_emb`` [I+1, D]; for SASRec its
                           state dict (the item table is its ``item_emb.weight``)
    DIR/items.parquet      ``item_id`` (1..I, the row of the item table), ``item`` (raw id), and title, brand,
                           main_cat when the dataset had them
    DIR/users.parquet      ``user_id`` (1..U), ``user`` (raw id), ``history`` (list of item_id, oldest first)

Design: loading never unpickles anything (JSON, safetensors, Parquet only). Every file's size and SHA-256 are in
config.json, and config.json carries the SHA-256 of its own other content, so a truncated, edited, swapped or
missing file is a :class:`~slmrec.errors.CheckpointError` before any weight is used. The directory is written
under a temporary name beside ``DIR`` and renamed into place, so a killed export leaves no half directory;
``force`` replaces only an earlier export (a directory whose config.json says so), never anything else.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from slmrec.checkpoint import file_record, verify_file
from slmrec.errors import CheckpointError, OutputExistsError

FORMAT = "slmrec-export"
VERSION = 1
CONFIG = "config.json"
WEIGHTS = "model.safetensors"
ITEMS = "items.parquet"
USERS = "users.parquet"
INTEGRITY = "config_sha256"  # the key of config.json that holds the SHA-256 of the rest of it


def _config_sha256(config: dict) -> str:
    import hashlib

    body = {k: v for k, v in config.items() if k != INTEGRITY}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def is_export(path: Path) -> bool:
    """Whether ``path`` is a directory written by :func:`write` (judged by its config.json alone)."""
    try:
        return json.loads((Path(path) / CONFIG).read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def write(out: Path, *, tensors: dict, items, users, config: dict, force: bool = False) -> None:
    """Writes an export atomically: ``tensors`` (name -> CPU tensor), ``items`` and ``users`` (polars
    DataFrames), ``config`` (JSON-able; the file records and the integrity digest are added here)."""
    from safetensors.torch import save_file

    out = Path(out)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise OutputExistsError(f"{out}: exists and is not a directory; choose another --out")
    if out.exists() and not force:
        raise OutputExistsError(
            f"{out}: exists; pass --force (force=True) to replace an earlier export, or choose another --out"
        )
    if out.exists() and not is_export(out):
        raise OutputExistsError(
            f"{out}: exists and is not a slmrec export (no {CONFIG} of format {FORMAT}); it is "
            "not replaced: remove it yourself or choose another --out"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in tensors.items()},
            str(tmp / WEIGHTS),
            metadata={"format": FORMAT},
        )
        items.write_parquet(tmp / ITEMS)
        users.write_parquet(tmp / USERS)
        files = {name: file_record(tmp / name) for name in (WEIGHTS, ITEMS, USERS)}
        full = {"format": FORMAT, "version": VERSION, **config, "files": files}
        full[INTEGRITY] = _config_sha256(full)
        (tmp / CONFIG).write_text(json.dumps(full, indent=2) + "\n")
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read(path: Path) -> tuple[dict, dict, "object", "object"]:
    """(config, tensors, items, users) of an export, every file checked against config.json first."""
    import polars as pl
    from safetensors import safe_open

    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path}: no such export directory")
    try:
        config = json.loads((path / CONFIG).read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(
            f"{path / CONFIG}: unreadable ({type(e).__name__}: {e}); export the model again"
        ) from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a slmrec export ({CONFIG} has no format {FORMAT!r})")
    if config.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: export version {config.get('version')!r}, this slmrec reads {VERSION}; "
            "export the model again with this version"
        )
    if config.get(INTEGRITY) != _config_sha256(config):
        raise CheckpointError(
            f"{path / CONFIG}: edited or damaged (its SHA-256 does not match the one recorded in "
            "it); export the model again"
        )
    for name in (WEIGHTS, ITEMS, USERS):
        verify_file(path / name, config["files"].get(name), where=CONFIG, fix="export the model again")
    try:
        with safe_open(str(path / WEIGHTS), framework="pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        items, users = pl.read_parquet(path / ITEMS), pl.read_parquet(path / USERS)
    except Exception as e:  # the digests matched, so only a file written wrongly gets here
        raise CheckpointError(f"{path}: unreadable ({type(e).__name__}: {e}); export the model again") from None
    return config, tensors, items, users
