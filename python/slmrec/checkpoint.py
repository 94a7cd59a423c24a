"""Checkpoints: weights as safetensors, training state as JSON, written atomically; nothing unpickled.

Design: two kinds of files. (1) *Weights* of a finished or best model: only the trainable tensors (for LoRA, the
adapters, projections and heads; the frozen backbone is rebuilt from its local source), one safetensors file,
loaded with a strict key and shape check. (2) *Resume state* in a directory made by accelerate's ``save_state``
(model as safetensors; optimizer, scheduler and RNG states as torch files that accelerate reads back with
``torch.load(weights_only=True)``) plus our ``trainer_state.json`` (epoch, step, best metric, curves). Both are
written under a temporary name and renamed, so a killed run leaves either the previous state or the new one,
never half of one (a run killed between the two renames of a save resumes from the previous state, see
:func:`exists`). ``trainer_state.json`` also records the size and SHA-256 of every file of the checkpoint and
of the state itself, so a truncated, bit-flipped, edited, missing or swapped file is caught before anything is
loaded (safetensors has no checksum, and accelerate silently skips RNG states it cannot read). A checkpoint
that cannot be read raises :class:`CheckpointError` with what to delete; it never restarts a stage silently.
A finished stage's outputs (its best weights, SASRec's item table) get the same size + SHA-256 record, kept in
the stage's ``result.json`` (:func:`file_record`, :func:`verify_file`), and weights with a NaN or an infinity are
refused on read: a later stage never trains on a damaged table.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from slmrec.errors import CheckpointError

STATE_FILE = "trainer_state.json"
INTEGRITY = "integrity"  # the key of trainer_state.json that holds the digests


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}


def gathered_trainable_state(accelerator, model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The trainable weights of a prepared model, full-size on the main process; call it on EVERY process.

    Under DDP every process holds the whole model, so the unwrapped parameters are the weights. Under FSDP (or
    DeepSpeed ZeRO-3) each process holds a shard: ``accelerator.get_state_dict`` gathers them (a collective, hence
    every process), and the names are those of the unwrapped model's trainable parameters.
    """
    inner = accelerator.unwrap_model(model)
    names = [n for n, p in inner.named_parameters() if p.requires_grad]
    if accelerator.distributed_type.name not in ("FSDP", "DEEPSPEED"):
        return trainable_state(inner)
    full = accelerator.get_state_dict(model)  # gathered on the main process (others may get an empty dict)
    if not accelerator.is_main_process:
        return {}
    missing = [n for n in names if n not in full]
    if missing:
        raise RuntimeError(f"gathered state dict lacks trainable weights {missing[:3]}...")
    return {n: full[n].detach().cpu().contiguous() for n in names}


CONFIG_META = "slmrec.config"  # safetensors metadata key: the flat config the weights were trained with
# keys that never change the weights' names or shapes (left out when explaining a mismatch)
_NOT_ARCHITECTURE = ("run.", "eval.")


def save_weights(tensors: dict[str, torch.Tensor], path: Path, config=None) -> None:
    """Writes ``tensors`` atomically; ``config`` (a :class:`~slmrec.config.Config`) is recorded in the file's
    metadata, so a load that does not fit can name the config key that differs."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    meta = None
    if config is not None:
        from slmrec import config as configs

        meta = {CONFIG_META: json.dumps(configs.keys(config))}
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp), metadata=meta)
    os.replace(tmp, path)


def _mismatch_hint(path: Path, config) -> str:
    """Why weights in ``path`` do not fit a model built from ``config``: the keys that differ from the config
    recorded when they were written (or what to do when none was recorded)."""
    from slmrec import config as configs

    try:
        with safe_open(str(path), framework="pt") as f:
            written = json.loads((f.metadata() or {}).get(CONFIG_META, "null"))
    except (OSError, ValueError, SafetensorError):
        written = None
    if config is None or not isinstance(written, dict):
        return "it was written with another config or version of slmrec (none recorded in it)"
    now = configs.keys(config)
    diff = [k for k in now if k in written and written[k] != now[k] and not k.startswith(_NOT_ARCHITECTURE)]
    if not diff:
        return "it was written with this config by another version of slmrec"
    shown = ", ".join(f"{k} {json.dumps(written[k])} there, {json.dumps(now[k])} here" for k in diff[:4])
    return f"it was written with other settings ({shown}); run with those, or train the stage again in another --out"


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    try:
        with safe_open(str(path), framework="pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing; rerun the stage that writes it (delete its directory)") from None
    except (OSError, ValueError, SafetensorError) as e:  # safetensors' header and size errors are SafetensorError
        raise CheckpointError(f"{path}: unreadable ({type(e).__name__}: {e}); delete it and rerun the stage") from None
    for name, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(
                f"{path}: {name} contains NaN or infinite values; delete its stage directory and rerun the stage"
            )
    return tensors


def file_record(path: Path) -> dict:
    """Size and SHA-256 of a finished stage's output file, for :func:`verify_file`."""
    path = Path(path)
    return {"bytes": path.stat().st_size, "sha256": _sha256(path)}


def verify_file(
    path: Path,
    record: dict | None,
    *,
    where: str = "its stage's result.json",
    fix: str = "delete its stage directory and rerun the stage",
) -> None:
    """Raises :class:`CheckpointError` when ``path`` differs from the record written with it (kept in ``where``;
    ``fix`` says what to do)."""
    path = Path(path)
    if not isinstance(record, dict):
        raise CheckpointError(
            f"{path}: {where} records no size and SHA-256 for it (written by an older version?); {fix}"
        )
    if not path.is_file():
        raise CheckpointError(f"{path}: missing; {fix}")
    size = path.stat().st_size
    if size != record.get("bytes"):
        raise CheckpointError(f"{path}: {size} bytes, {record.get('bytes')} were written (truncated?); {fix}")
    if _sha256(path) != record.get("sha256"):
        raise CheckpointError(f"{path}: does not match the SHA-256 recorded when it was written; {fix}")


def load_weights(model: torch.nn.Module, path: Path, config=None) -> None:
    """Loads trainable weights saved by :func:`save_weights`; keys and shapes must match exactly. ``config`` is
    the config the model was built from: a mismatch names the keys that differ from the one recorded."""
    tensors = read_weights(path)
    params = dict(model.named_parameters())
    expected = {n for n, p in params.items() if p.requires_grad}
    if set(tensors) != expected:
        missing, extra = sorted(expected - set(tensors))[:3], sorted(set(tensors) - expected)[:3]
        raise CheckpointError(
            f"{path}: does not fit the model (missing {missing}, unexpected {extra}); {_mismatch_hint(path, config)}"
        )
    bad = [n for n, t in tensors.items() if params[n].shape != t.shape]
    if bad:
        name = bad[0]
        raise CheckpointError(
            f"{path}: {name} has shape {tuple(tensors[name].shape)}, the model "
            f"{tuple(params[name].shape)}; {_mismatch_hint(path, config)}"
        )
    with torch.no_grad():
        for name, t in tensors.items():
            params[name].copy_(t)


def save_state(accelerator, directory: Path, state: dict) -> None:
    """accelerate ``save_state`` + our JSON, into ``directory`` atomically (all processes call this)."""
    directory = Path(directory)
    tmp = directory.with_name(directory.name + ".tmp")
    if accelerator.is_main_process:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp), safe_serialization=True)
    accelerator.wait_for_everyone()  # every process has written its RNG state before the rename
    if accelerator.is_main_process:
        files = {
            p.relative_to(tmp).as_posix(): {"bytes": p.stat().st_size, "sha256": _sha256(p)}
            for p in sorted(tmp.rglob("*"))
            if p.is_file()
        }
        record = {"files": files, "state_sha256": _state_sha256(state)}
        (tmp / STATE_FILE).write_text(json.dumps({**state, INTEGRITY: record}))
        old = directory.with_name(directory.name + ".old")
        if directory.exists():
            if old.exists():  # stale: a save killed while removing it (directory is the valid one)
                shutil.rmtree(old)
            os.replace(directory, old)
        os.replace(tmp, directory)
        shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _state_sha256(state: dict) -> str:
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()


def _verify(directory: Path, state: dict) -> dict:
    """Checks the digests that :func:`save_state` recorded; returns the state without them."""
    record = state.pop(INTEGRITY, None)
    if not isinstance(record, dict):
        raise ValueError(f"{STATE_FILE} has no integrity record")
    if record.get("state_sha256") != _state_sha256(state):
        raise ValueError(f"{STATE_FILE} was edited (its SHA-256 does not match the one recorded)")
    files = record.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(w, dict) and {"bytes", "sha256"} <= w.keys() for w in files.values()
    ):
        raise ValueError(f"{STATE_FILE} has no valid list of files in its integrity record")
    for name, want in files.items():
        path = directory / name
        if not path.is_file():
            raise ValueError(f"{name} is missing")
        if path.stat().st_size != want["bytes"]:
            raise ValueError(f"{name} has {path.stat().st_size} bytes, {want['bytes']} were written (truncated?)")
        if _sha256(path) != want["sha256"]:
            raise ValueError(f"{name} does not match the SHA-256 recorded when it was written")
    return state


def exists(directory: Path) -> bool:
    """Whether a checkpoint exists at ``directory``. A save killed between its two renames (the old state moved
    aside, the new one not yet in place) leaves ``directory.old``: it is put back, so the run resumes from it
    instead of restarting the stage."""
    directory = Path(directory)
    old = directory.with_name(directory.name + ".old")
    if not directory.exists() and old.is_dir():
        try:
            os.replace(old, directory)
        except FileNotFoundError:  # another process of this run put it back first
            pass
    return directory.exists()


#: What reading a file of a checkpoint raises when the file is at fault: missing or unreadable (OSError), not what
#: was written (ValueError: our integrity checks, bad JSON), a pickle that is not plain tensors (refused by
#: ``torch.load(weights_only=True)``), a safetensors file that does not parse. Anything else propagates: an out of
#: memory or a library bug is not reported as a corrupt checkpoint.
_BAD_FILE: tuple[type[BaseException], ...] = (OSError, ValueError, pickle.UnpicklingError, SafetensorError)


def _does_not_fit(e: BaseException) -> bool:
    """torch's ``load_state_dict`` refusal (missing, unexpected or reshaped keys): weights of another model."""
    return type(e) is RuntimeError and str(e).startswith("Error(s) in loading state_dict")


def load_state(accelerator, directory: Path) -> dict:
    """Restores model, optimizer, scheduler and RNG states; returns our JSON state."""
    directory = Path(directory)
    try:
        state = _verify(directory, json.loads((directory / STATE_FILE).read_text()))
        with safe_open(str(directory / "model.safetensors"), framework="pt") as f:
            f.keys()
        # accelerate reads the RNG state with torch.load(weights_only=True) but goes on silently when that fails
        # (the resumed run would then not be bit-exact); read it the same way first, and fail loudly.
        from accelerate.utils import load as weights_only_load

        weights_only_load(directory / f"random_states_{accelerator.process_index}.pkl")
    except _BAD_FILE as e:
        raise CheckpointError(
            f"checkpoint {directory} is corrupt ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
            f"delete {directory} to restart this stage"
        ) from None
    try:
        accelerator.load_state(str(directory))
    except BaseException as e:
        if not (isinstance(e, _BAD_FILE) or _does_not_fit(e)):  # out of memory, a bug: not the checkpoint's fault
            raise
        why = str(e).splitlines()[0] if str(e) else ""
        raise CheckpointError(
            f"checkpoint {directory} cannot be loaded ({type(e).__name__}: {why}); delete {directory} to restart "
            "this stage"
        ) from None
    return state


def read_json(path: Path):
    """A JSON file a run wrote (a stage's ``result.json``); unreadable -> :class:`CheckpointError`, not a traceback."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(
            f"{path}: unreadable ({type(e).__name__}: {e}); delete its stage directory to rerun that stage"
        ) from None


def write_json(path: Path, obj) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)
