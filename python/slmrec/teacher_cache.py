"""The frozen teacher's block states, computed once per distinct training input and reused in every student epoch.

Design: distillation compares the student's last-position states with the teacher's, and the teacher is frozen
and in eval mode (no dropout), so its states are a function of the input history alone. :class:`TeacherCache`
runs the teacher once over every training example (the unsharded, unshuffled epoch of the stage's own batch
builder, so every process holds every example and any later order or shard finds it), keeps only what the loss
reads (the states of the teacher's block ends and its user vector), and answers ``cache(input_ids, states=True)``
with the same dict the teacher's forward returns, so :func:`slmrec.distill.slmrec_loss` takes either. Rows are
keyed by their exact bytes (no hashing, so no collision); an input that was not cached is an error, never a silent
online fallback. Values are the teacher's, computed in batches of the training micro-batch size and kept as fp32,
so cached and online losses agree up to float rounding (tested). With ``llm.positions all`` (``positions=True``)
the batches are windows and the cache keeps every item slot instead of the last position: block states [L, H] and
the score head's output [L, D] per input (L times the memory; the user vector is the last slot), and answers
``cache(input_ids, states=True, positions=True)``.

Memory or disk: a first pass over the batches (no teacher) counts the distinct inputs, which gives the cache's
exact size. Up to ``MEMORY_BYTES`` (or the constructor's ``memory_bytes``) it lives in memory on the training
device for the life of the stage and is rebuilt on resume, so it can never be stale. Above that, and when the
stage gives a directory (``path``: RUN_DIR/student/teacher_cache), the states go to one memory-mapped file there,
``states.bin``: the magic ``SLMRECTC``, an 8-byte little-endian header length, a JSON header padded with spaces to
a multiple of 64 bytes, then the raw C-order fp32 arrays (each kept block end's states, then the user vectors) at
the offsets the header gives; a batch reads its rows from the page cache. Above ``MAX_BYTES``, or the
directory's free space, the cache is refused (MemoryError: set --distill.cache false).

The header's ``depends`` records everything the states are a function of: a SHA-256 of every parameter and buffer
of the teacher (the trained weights, the frozen backbone, the prompt's token ids, the item table), a SHA-256 of the
distinct inputs in row order (the dataset, ``data.max_len``, ``data.train_mode`` and the window layout all end up
there), the kept block layers, the teacher's depth, ``positions``, and the stage's ``context`` (the pipeline gives
the SHA-256 its teacher's result.json records for best.safetensors, the dataset fingerprint, data.max_len,
data.train_mode, llm.prompt, llm.positions, the mixed precision the states were computed under); its ``layout``
the rows, every array's shape and offset and their byte size. A construction that finds the file (a resume)
compares both with what it would write and the file's size with the layout: a missing, stale (naming the keys
that differ), truncated or unreadable file is rebuilt with one printed line saying why, never read. The arrays are
size-checked, not checksummed (that would read the whole file on every resume). The file is written as
``states.bin.tmp`` and renamed only once complete and synced, so a kill while writing leaves no cache that could be
read; the next build deletes the leftover. Processes share the file: an exclusive ``flock`` on ``lock`` in the
directory makes one of them build it while the others wait, then find it complete and map it (no collective, so
no timeout however long the build takes). The stage removes the directory once it is done.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from functools import partial
from pathlib import Path

import numpy as np
import torch

MEMORY_BYTES = 8 << 30  # the largest cache held in memory (on the training device); larger ones go to disk
MAX_BYTES = 1 << 40  # the largest cache at all (examples x slots x (blocks x width + user width) x 4 bytes)
DIR = "teacher_cache"  # under the student stage's directory
FILE = "states.bin"
MAGIC = b"SLMRECTC"
VERSION = 1
ALIGN = 64  # the arrays start at a multiple of this


class TeacherCache:
    """Teacher states for every training input: ``cache(input_ids, states=True) -> {"states": [...], "user": ...}``
    where ``states[i]`` is filled for the block ends ``keep`` (None elsewhere), each [B, H]; with ``positions``
    each [B, L, H], and ``"positions"`` [B, L, D] too. ``path``: the directory of the on-disk cache (None: memory
    only); ``context``: what else the states depend on, recorded in the file's header; ``memory_bytes``: the
    in-memory bound (default ``MEMORY_BYTES``); ``log``: where the one line about the on-disk cache goes."""

    def __init__(
        self,
        teacher,
        batches,
        keep: list[int],
        device,
        autocast,
        positions: bool = False,
        path: Path | None = None,
        context: dict | None = None,
        memory_bytes: int | None = None,
        log=print,
    ):
        self.keep = sorted(set(keep))
        self.depth = teacher.num_layers
        self.positions = positions
        self.device = device
        # input bytes -> row, in the order the fill pass meets them
        self.index, inputs_sha256, length = _distinct(batches)
        width, dim = teacher.decoder().config.hidden_size, teacher.item_emb.shape[1]
        slots = length if positions else 1  # L, or the last position
        rows = len(self.index)
        shapes = [(rows, slots, width)] * len(self.keep) + [(rows, slots, dim)]
        if not positions:
            shapes = [(rows, s[2]) for s in shapes]
        need = sum(int(np.prod(s)) for s in shapes) * 4
        bound = MEMORY_BYTES if memory_bytes is None else memory_bytes
        if need <= bound:
            arrays = [torch.empty(s, device=device) for s in shapes]
            _fill(teacher, batches, self.index, self.keep, device, autocast, positions, arrays)
        elif path is None:
            raise MemoryError(_too_big(need, rows, f"more than the {bound / 2**30:.1f} GiB held in memory"))
        else:
            arrays = self._on_disk(
                Path(path), teacher, batches, inputs_sha256, shapes, need, context or {}, autocast, log
            )
        self.states, self.users = arrays[:-1], arrays[-1]  # per kept layer: [N, H] (or [N, L, H]); torch or memmap

    def _on_disk(self, path, teacher, batches, inputs_sha256, shapes, need, context, autocast, log) -> list[np.memmap]:
        depends = {
            "weights": _tensors_sha256(teacher),
            "inputs": inputs_sha256,
            "keep": self.keep,
            "depth": self.depth,
            "positions": self.positions,
            "context": context,
        }
        header = {"format": "slmrec-teacher-cache", "version": VERSION, "depends": depends, "layout": _layout(shapes)}
        header = json.loads(json.dumps(header))  # as it reads back (lists, not tuples)
        path.mkdir(parents=True, exist_ok=True)
        file = path / FILE
        with open(path / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one process builds, the others wait for it (released on exit)
            arrays, why = _read(file, header)
            if arrays is not None:
                log(f"teacher cache: read {len(self.index):,} inputs' states from {file}")
                return arrays
            tmp = file.with_name(FILE + ".tmp")
            for old in (file, tmp):  # never to be read: their space counts as free
                old.unlink(missing_ok=True)
            free = shutil.disk_usage(path).free
            if need > min(MAX_BYTES, free):
                limit = f"more than the {MAX_BYTES / 2**30:.0f} GiB bound or the {free / 2**30:.1f} GiB free at {path}"
                raise MemoryError(_too_big(need, len(self.index), limit))
            log(f"teacher cache: {why}; computing {len(self.index):,} inputs' states ({need / 2**30:.2f} GiB) into it")
            _write(
                tmp,
                header,
                partial(_fill, teacher, batches, self.index, self.keep, self.device, autocast, self.positions),
            )
            os.replace(tmp, file)  # complete: from here on a resume may read it
            arrays, why = _read(file, header)
            if arrays is None:
                raise RuntimeError(f"teacher cache: {file} unreadable right after writing it: {why}")
            return arrays

    def __len__(self) -> int:
        return len(self.index)

    def __call__(self, input_ids: torch.Tensor, states: bool = True, positions: bool = False) -> dict:
        if positions != self.positions:
            raise ValueError(f"teacher cache: filled with positions={self.positions}, asked for positions={positions}")
        try:
            at = np.array([self.index[r.tobytes()] for r in input_ids.cpu().numpy()], dtype=np.int64)
        except KeyError:
            raise RuntimeError("teacher cache: a training input that was not cached (the batches changed)") from None
        full: list[torch.Tensor | None] = [None] * (self.depth + 1)
        for slot, layer in enumerate(self.keep):
            full[layer] = self._rows(self.states[slot], at)
        users = self._rows(self.users, at)
        if positions:
            return {"states": full, "user": users[:, -1], "positions": users}
        return {"states": full, "user": users}

    def _rows(self, array, at: np.ndarray) -> torch.Tensor:
        if isinstance(array, np.ndarray):  # on disk: the rows copied out of the mapped file
            return torch.from_numpy(array[at]).to(self.device)
        return array[torch.as_tensor(at, device=array.device)]


def _distinct(batches) -> tuple[dict[bytes, int], str, int]:
    """Every distinct input of the unshuffled epoch -> its row (first occurrence first), the SHA-256 of those inputs
    in row order, and the inputs' length L."""
    index: dict[bytes, int] = {}
    digest = hashlib.sha256()
    length = 0
    for batch in batches.epoch(0):
        length = batch["input_ids"].shape[1]
        for r in batch["input_ids"]:
            key = r.tobytes()
            if index.setdefault(key, len(index)) == len(index) - 1:
                digest.update(key)
    return index, digest.hexdigest(), length


def _fill(teacher, batches, index, keep, device, autocast, positions, arrays) -> None:
    """Runs the teacher over the first occurrence of every input, in row order, into ``arrays`` (torch or memmap)."""
    done = 0
    with torch.no_grad():
        for batch in batches.epoch(0):
            fresh = []
            for i, r in enumerate(batch["input_ids"]):
                if index[r.tobytes()] == done + len(fresh):  # its first occurrence (histories repeat)
                    fresh.append(i)
            if not fresh:
                continue
            ids = torch.as_tensor(batch["input_ids"])[fresh].to(device)
            with autocast():
                out = teacher(ids, states=True, positions=positions)
            values = [out["states"][layer] for layer in keep] + [out["positions" if positions else "user"]]
            for array, v in zip(arrays, values):
                v = v.float()
                if isinstance(array, np.ndarray):
                    array[done : done + len(fresh)] = v.cpu().numpy()
                else:
                    array[done : done + len(fresh)] = v.to(array.device)
            done += len(fresh)
    if done != len(index):
        raise RuntimeError(f"teacher cache: filled {done} of {len(index)} rows (the batches changed between passes)")


def _write(tmp: Path, header: dict, fill) -> None:
    """Writes the header and the arrays ``fill(arrays)`` fills (mapped into ``tmp``), then syncs the file."""
    prefix = _prefix(header)
    with open(tmp, "wb") as f:
        f.write(prefix)
        f.truncate(len(prefix) + header["layout"]["bytes"])  # sparse until filled
    arrays = [
        np.memmap(tmp, np.float32, "r+", len(prefix) + a["offset"], tuple(a["shape"]))
        for a in header["layout"]["arrays"]
    ]
    fill(arrays)
    for a in arrays:
        a.flush()
    del arrays
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())


def _tensors_sha256(model: torch.nn.Module) -> str:
    """SHA-256 of every parameter and buffer of ``model``: names, dtypes, shapes and bytes."""
    h = hashlib.sha256()
    for name, t in sorted([*model.named_parameters(), *model.named_buffers()], key=lambda x: x[0]):
        h.update(f"{name} {t.dtype} {tuple(t.shape)}\n".encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return h.hexdigest()


def _layout(shapes: list[tuple[int, ...]]) -> dict:
    """The arrays' names, shapes and byte offsets from the end of the header, and their total bytes."""
    names = [f"states_{i}" for i in range(len(shapes) - 1)] + ["users"]
    arrays, offset = [], 0
    for name, shape in zip(names, shapes):
        arrays.append({"name": name, "shape": list(shape), "offset": offset})
        offset += int(np.prod(shape)) * 4
    return {"dtype": "float32", "rows": shapes[0][0], "arrays": arrays, "bytes": offset}


def _prefix(header: dict) -> bytes:
    """MAGIC, the header's length (u64 little-endian) and the JSON header, padded with spaces to ``ALIGN``."""
    text = json.dumps(header, sort_keys=True).encode()
    text += b" " * (-(len(MAGIC) + 8 + len(text)) % ALIGN)
    return MAGIC + len(text).to_bytes(8, "little") + text


def _read(file: Path, header: dict) -> tuple[list[np.memmap] | None, str]:
    """The arrays of ``file`` mapped read-only when its header equals ``header`` and its size the layout's, else
    (None, why not)."""
    if not file.exists():
        return None, f"no cache at {file} yet"
    with open(file, "rb") as f:  # one open file: the header and the arrays are the same inode's
        try:
            if f.read(len(MAGIC)) != MAGIC:
                raise ValueError("no magic")
            n = int.from_bytes(f.read(8), "little")
            stored = json.loads(f.read(n))
        except ValueError:
            return None, f"{file} is unreadable"
        start = len(MAGIC) + 8 + n
        if (stored.get("format"), stored.get("version")) != (header["format"], header["version"]):
            return None, f"{file} has another format or version"
        differ = [k for k in header["depends"] if stored.get("depends", {}).get(k) != header["depends"][k]]
        context = stored.get("depends", {}).get("context")
        if "context" in differ and isinstance(context, dict):  # name the context keys
            keys = set(context) | set(header["depends"]["context"])
            differ.remove("context")
            differ += sorted(k for k in keys if context.get(k) != header["depends"]["context"].get(k))
        if stored.get("layout") != header["layout"]:
            differ.append("layout")
        if differ:
            return None, f"{file} is stale ({', '.join(differ)} differ)"
        size, want = os.fstat(f.fileno()).st_size, start + header["layout"]["bytes"]
        if size != want:
            return None, f"{file} is truncated ({size:,} of {want:,} bytes)"
        return [
            np.memmap(f, np.float32, "r", start + a["offset"], tuple(a["shape"])) for a in stored["layout"]["arrays"]
        ], ""


def _too_big(need: int, rows: int, limit: str) -> str:
    return (
        f"the teacher cache would take {need / 2**30:.1f} GiB for {rows:,} distinct inputs ({limit}); "
        "set --distill.cache false"
    )
