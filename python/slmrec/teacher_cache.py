"""The frozen teacher's block states, computed once per distinct training input and reused in every student epoch.

Design: distillation compares the student's last-position states with the teacher's, and the teacher is frozen
and in eval mode (no dropout), so its states are a function of the input history alone. :class:`TeacherCache`
runs the teacher once over every training example (the unsharded, unshuffled epoch of the stage's own batch
builder, so every process holds every example and any later order or shard finds it), keeps only what the loss
reads (the states of the teacher's block ends and its user vector), and answers ``cache(input_ids, states=True)``
with the same dict the teacher's forward returns, so :func:`slmrec.distill.slmrec_loss` takes either. Rows are
keyed by their exact bytes (no hashing, so no collision); an input that was not cached is an error, never a silent
online fallback. The cache lives in memory for the life of the stage and is rebuilt on resume, so it can never be
stale (nothing is read from disk); its size is checked against ``MAX_BYTES`` before it is filled. Values are the
teacher's, computed in batches of the training micro-batch size, so cached and online losses agree up to float
rounding (tested).
"""

from __future__ import annotations

import torch

MAX_BYTES = 8 << 30  # the largest cache held in memory (examples x (blocks + user) x width x 4 bytes)


class TeacherCache:
    """Teacher states for every training input: ``cache(input_ids, states=True) -> {"states": [...], "user": ...}``
    where ``states[i]`` is filled for the block ends ``keep`` (None elsewhere), each [B, H]."""

    def __init__(self, teacher, batches, keep: list[int], device, autocast):
        self.keep = sorted(set(keep))
        self.depth = teacher.num_layers
        width = teacher.decoder().config.hidden_size
        examples = batches.num_examples
        need = examples * (len(self.keep) * width + teacher.item_emb.shape[1]) * 4
        if need > MAX_BYTES:
            raise MemoryError(f"the teacher cache would take {need / 2**30:.1f} GiB for {examples:,} examples "
                              f"(more than {MAX_BYTES / 2**30:.0f} GiB); set --distill.cache false")
        self.index: dict[bytes, int] = {}
        rows: list[list[torch.Tensor]] = [[] for _ in self.keep]
        users: list[torch.Tensor] = []
        with torch.no_grad():
            for batch in batches.epoch(0):
                ids = torch.as_tensor(batch["input_ids"])
                keys = [r.tobytes() for r in batch["input_ids"]]
                first = {k: i for i, k in reversed(list(enumerate(keys))) if k not in self.index}
                fresh = sorted(first.values())  # the first row of each input not cached yet (histories repeat)
                if not fresh:
                    continue
                with autocast():
                    out = teacher(ids[fresh].to(device), states=True)
                for i in fresh:
                    self.index[keys[i]] = len(self.index)
                for slot, layer in enumerate(self.keep):
                    rows[slot].append(out["states"][layer].float().cpu())
                users.append(out["user"].float().cpu())
        self.states = [torch.cat(r).to(device) for r in rows]  # per kept layer: [N, H]
        self.users = torch.cat(users).to(device)  # [N, D]

    def __len__(self) -> int:
        return len(self.index)

    def __call__(self, input_ids: torch.Tensor, states: bool = True) -> dict:
        try:
            at = [self.index[r.tobytes()] for r in input_ids.cpu().numpy()]
        except KeyError:
            raise RuntimeError("teacher cache: a training input that was not cached (the batches changed)") from None
        at_t = torch.as_tensor(at, device=self.users.device)
        full: list[torch.Tensor | None] = [None] * (self.depth + 1)
        for slot, layer in enumerate(self.keep):
            full[layer] = self.states[slot][at_t]
        return {"states": full, "user": self.users[at_t]}
