"""SASRec as the SLMRec code builds it (METHOD.md §3.1), with the padding fixed.

Architecture (the code's): item table E [num_items + 1, emb_dim]; ``up`` Linear(emb_dim -> hidden); scaled by
sqrt(emb_dim); learned positions; dropout; ``layers`` pre-LN blocks of causal single-head attention + a
position-wise FFN (``hidden`` wide as in the code, or ``inner``); a final LayerNorm (eps 1e-8); the last position
goes through ``down`` Linear(hidden -> emb_dim) and is scored against every row of E (full-softmax CE on the last
item, as the code trains it; or, with ``sasrec.positions all``, at every position, as SASRec itself trains).

Options for a stronger SASRec (the ``strong`` recipe of :mod:`slmrec.config`; off by default, so the reference
shape is unchanged): ``project=False``: SASRec's own shape, no ``up``/``down`` maps (the transformer runs on the
item table's width and the last state is scored against the table directly; needs ``hidden == emb_dim``);
``scale=False``: item embeddings enter unscaled (RecTools'; SASRec's paper and the code multiply by sqrt(d));
``init="xavier"``: Xavier-normal on every weight matrix, tables included (RecTools' SASRec); ``act="gelu"`` in the
feed-forward (RecBole's); ``item_dropout``: dropout on the whole item table in training, one mask per forward that
the input lookup and the scores share (RecTools' item net; the forward returns the dropped table as ``"table"``
and the losses score with it), and ``from_end=True``: positions
counted from the most recent item instead of from the window's start. With fixed-length left-padded windows the two
are a relabelling of the same learned table, but counted from the end, the columns that are padding in every row
of a batch can be cut off (:func:`trim`) without changing any output: a batch then costs its longest history, not
``max_len``. ``attention="sdpa"``: attention through ``F.scaled_dot_product_attention`` instead of
``nn.MultiheadAttention`` (a speed lever: the same parameters and eval-mode outputs, another draw of attention
dropout in training).

Fixed on purpose (METHOD.md B10/B11): row 0 of E is padding (``padding_idx=0``, never a target, its logit is
-inf), and padded positions are masked as attention keys and zeroed after every block. A query attends to itself
even when it is padding, so an all-padding row stays finite.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU}


def trim(*batches: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Cuts the leading columns that are padding in every row of ``batches[0]`` [B, L] off every tensor given
    ([B, L, ...]); exact for a model with ``from_end=True``."""
    filled = (batches[0] > 0).any(0).nonzero()
    start = int(filled[0]) if len(filled) else batches[0].shape[1] - 1
    return tuple(t[:, start:] for t in batches)


class _Block(nn.Module):
    def __init__(self, hidden: int, heads: int, dropout: float, inner: int, act: str = "relu", sdpa: bool = False):
        super().__init__()
        self.sdpa = sdpa
        self.attn_norm = nn.LayerNorm(hidden, eps=1e-8)
        self.attn = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
        self.ffn_norm = nn.LayerNorm(hidden, eps=1e-8)
        self.ffn = nn.Sequential(
            nn.Linear(hidden, inner),
            nn.Dropout(dropout),
            ACTIVATIONS[act](),
            nn.Linear(inner, hidden),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor, blocked: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        # x [B, L, H]; blocked [B*heads, L, L] True = may not attend; keep [B, L, 1]
        q = self.attn_norm(x)
        x = q + self._attend(q, x, blocked)
        x = self.ffn_norm(x)
        x = x + self.ffn(x)
        return x * keep

    def _attend(self, q: torch.Tensor, x: torch.Tensor, blocked: torch.Tensor) -> torch.Tensor:
        """Attention of queries ``q`` over keys and values ``x``, through ``nn.MultiheadAttention`` or, with
        ``sdpa``, through ``F.scaled_dot_product_attention`` on the same module's parameters (same state dict,
        same outputs in eval mode; in training its attention dropout draws other random numbers)."""
        if not self.sdpa:
            return self.attn(q, x, x, attn_mask=blocked, need_weights=False)[0]
        a = self.attn
        b, length, hidden = q.shape
        heads = a.num_heads

        def split(t: torch.Tensor) -> torch.Tensor:  # [B, L, H] -> [B, heads, L, H / heads]
            return t.view(b, length, heads, hidden // heads).transpose(1, 2)

        w_q, w_k, w_v = a.in_proj_weight.chunk(3)
        b_q, b_k, b_v = a.in_proj_bias.chunk(3)
        out = F.scaled_dot_product_attention(
            split(F.linear(q, w_q, b_q)),
            split(F.linear(x, w_k, b_k)),
            split(F.linear(x, w_v, b_v)),
            attn_mask=~blocked.view(b, heads, length, length),  # True = may attend
            dropout_p=a.dropout if self.training else 0.0,
        )
        return a.out_proj(out.transpose(1, 2).reshape(b, length, hidden))


class SASRec(nn.Module):
    """History [B, L] of item ids (0 = padding) -> ``{"user": [B, emb_dim], "table": [I+1, emb_dim]}`` (the last
    position's vector; the item table this forward used, dropped in training with ``item_dropout``); with
    ``positions=True`` also ``"positions": [B, L, emb_dim]``, every position's (all-position training)."""

    def __init__(
        self,
        num_items: int,
        max_len: int,
        emb_dim=128,
        hidden=32,
        layers=2,
        heads=1,
        dropout=0.5,
        item_dropout: float = 0.0,
        init: str = "torch",
        inner: int = 0,
        act: str = "relu",
        from_end: bool = False,
        project: bool = True,
        scale: bool = True,
        attention: str = "mha",
    ):
        super().__init__()
        if not project and hidden != emb_dim:
            raise ValueError(f"project=False needs hidden == emb_dim, got {hidden} and {emb_dim}")
        self.from_end = from_end
        self.item_emb = nn.Embedding(num_items + 1, emb_dim, padding_idx=0)  # [I+1, D]
        self.up = nn.Linear(emb_dim, hidden) if project else nn.Identity()
        self.pos_emb = nn.Embedding(max_len, hidden)
        self.dropout = nn.Dropout(dropout)
        self.item_dropout = nn.Dropout(item_dropout) if item_dropout else None
        if attention not in ("mha", "sdpa"):
            raise ValueError(f"attention must be mha or sdpa, not {attention!r}")
        sdpa = attention == "sdpa"
        self.blocks = nn.ModuleList(_Block(hidden, heads, dropout, inner or hidden, act, sdpa) for _ in range(layers))
        self.final_norm = nn.LayerNorm(hidden, eps=1e-8)
        self.down = nn.Linear(hidden, emb_dim) if project else nn.Identity()
        self.heads = heads
        self.scale = math.sqrt(emb_dim) if scale else 1.0
        if init == "normal":  # RecBole's/BERT's: N(0, 0.02) weights, zero biases (padding row kept at 0)
            for m in self.modules():
                if isinstance(m, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(m.weight, 0.0, 0.02)
                if isinstance(m, nn.Linear) and m.bias is not None:
                    nn.init.zeros_(m.bias)
            with torch.no_grad():
                self.item_emb.weight[0].zero_()
        elif init == "xavier":  # RecTools': Xavier-normal on every parameter of 2+ dims, biases and norms as PyTorch's
            for p in self.parameters():
                if p.dim() > 1:
                    nn.init.xavier_normal_(p)
            with torch.no_grad():
                self.item_emb.weight[0].zero_()
        elif init != "torch":
            raise ValueError(f"init must be torch, normal or xavier, not {init!r}")

    def forward(self, input_ids: torch.Tensor, positions: bool = False) -> dict:
        b, length = input_ids.shape
        pad = input_ids == 0  # [B, L]
        table = self.item_emb.weight  # [I+1, D]
        if self.item_dropout is not None and self.training:
            table = self.item_dropout(table)  # one mask for the whole table: the input and the scores share it
        x = self.up(F.embedding(input_ids, table, padding_idx=0)) * self.scale  # [B, L, H]
        pos = self.pos_emb.weight[:length]  # [L, H]
        x = self.dropout(x + (pos.flip(0) if self.from_end else pos))
        causal = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)  # [L, L]
        eye = torch.eye(length, dtype=torch.bool, device=x.device)
        blocked = (causal | pad[:, None, :]) & ~eye  # [B, L, L]
        blocked = blocked.repeat_interleave(self.heads, dim=0)  # [B*heads, L, L]
        keep = (~pad).unsqueeze(-1).to(x.dtype)  # [B, L, 1]
        for block in self.blocks:
            x = block(x, blocked, keep)
        if positions:
            every = self.down(self.final_norm(x))  # [B, L, D]
            return {"user": every[:, -1], "positions": every, "table": table}
        return {"user": self.down(self.final_norm(x)[:, -1]), "table": table}  # [B, D]

    def scores(self, user: torch.Tensor) -> torch.Tensor:
        """User vectors [B, D] -> scores of every item [B, I+1], padding column at -inf."""
        s = user @ self.item_emb.weight.T
        s[:, 0] = float("-inf")
        return s
