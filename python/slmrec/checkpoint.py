"""Checkpoints: weights as safetensors, training state as JSON, written atomically; nothing unpickled.

Design: two kinds of files. (1) *Weights* of a finished or best model: only the trainable tensors (for LoRA, the
adapters, projections and heads; the frozen backbone is rebuilt from its local source), one safetensors file,
loaded with a strict key and shape check. (2) *Resume state* in a directory made by accelerate's ``save_state``
(model as safetensors; optimizer, scheduler and RNG states as torch files that accelerate reads back with
``torch.load(weights_only=True)``) plus our ``trainer_state.json`` (epoch, step, best metric, curves). Both are
written under a temporary name and renamed, so a killed run leaves either the previous state or the new one,
never half of one. A checkpoint that cannot be read raises :class:`CheckpointError` with what to delete.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from slmrec.errors import SlmrecError

STATE_FILE = "trainer_state.json"


class CheckpointError(SlmrecError):
    """A checkpoint or stage output that is missing, truncated or does not fit the model."""


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}


def save_weights(tensors: dict[str, torch.Tensor], path: Path) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp))
    os.replace(tmp, path)


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing; rerun the stage that writes it (delete its directory)") from None
    except Exception as e:
        raise CheckpointError(f"{path}: unreadable ({type(e).__name__}: {e}); delete it and rerun the stage") from None


def load_weights(model: torch.nn.Module, path: Path) -> None:
    """Loads trainable weights saved by :func:`save_weights`; keys and shapes must match exactly."""
    tensors = read_weights(path)
    params = dict(model.named_parameters())
    expected = {n for n, p in params.items() if p.requires_grad}
    if set(tensors) != expected:
        missing, extra = sorted(expected - set(tensors))[:3], sorted(set(tensors) - expected)[:3]
        raise CheckpointError(f"{path}: does not fit the model (missing {missing}, unexpected {extra}); "
                              "it was written with another config: delete it and rerun the stage")
    with torch.no_grad():
        for name, t in tensors.items():
            if params[name].shape != t.shape:
                want = tuple(params[name].shape)
                raise CheckpointError(f"{path}: {name} has shape {tuple(t.shape)}, the model {want}")
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
        (tmp / STATE_FILE).write_text(json.dumps(state))
        old = directory.with_name(directory.name + ".old")
        if directory.exists():
            os.replace(directory, old)
        os.replace(tmp, directory)
        shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()


def load_state(accelerator, directory: Path) -> dict:
    """Restores model, optimizer, scheduler and RNG states; returns our JSON state."""
    directory = Path(directory)
    try:
        state = json.loads((directory / STATE_FILE).read_text())
        with safe_open(str(directory / "model.safetensors"), framework="pt") as f:
            f.keys()
    except Exception as e:
        raise CheckpointError(
            f"checkpoint {directory} is corrupt ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
            f"delete {directory} to restart this stage"
        ) from None
    try:
        accelerator.load_state(str(directory))
    except Exception as e:
        why = str(e).splitlines()[0] if str(e) else ""
        raise CheckpointError(
            f"checkpoint {directory} cannot be loaded ({type(e).__name__}: {why}); delete {directory} to restart "
            "this stage"
        ) from None
    return state


def write_json(path: Path, obj) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)
