"""The E4SRec-style LLM recommender (METHOD.md §4): teacher and student are this class at two depths.

Forward (one pass, all tensors batch-first):
  E[input_ids]                 frozen item table (the SASRec embeddings)           [B, L, D]
  input_proj                   Linear(D -> H, bias) into the decoder's width       [B, L, H]
  [prefix | items | suffix]    prompt token embeddings around the item slots       [B, P+L+S, H]
  decoder (first n layers)     attention mask 0 on left padding, default positions [B, T, H]
                               (the prefix, the same for every user, runs once per call: see below)
  last position -> score       Linear(H -> D, no bias): the user vector            [B, D]
Scores are dot products with the same frozen table E (padding row 0 is never a target).

``forward(..., states=True)`` also returns the last position's hidden state after every layer, in Hugging Face
indexing (0 = input embeddings, i < n = residual stream after layer i, n = final-RMSNorm output), which is what
the distillation compares (METHOD.md §5.2, A15). A student built with ``blocks = B`` carries B - 1 extra heads
``W_k = Linear(H -> D)`` on the states at layers k*N/B, k = 1..B-1 (multi-supervision, METHOD.md §5.3); with
``ms_norm`` they read those states through the backbone's final RMSNorm (raw residual states are not normalised:
their scale is the backbone's, far from the final output's).
``head_init="zero"`` starts ``score`` and the heads at 0, so training starts at uniform scores.

``positions="last"`` (the paper's and the reference code's protocol) appends the prompt suffix and reads the user
vector at the last position: one target per example. ``positions="all"`` (an extension beyond the paper, in the
spirit of SASRec's all-position training) drops the suffix, in training and inference alike: the decoder is causal,
so the state at every item slot depends on the items up to it only and predicts the next item, and the user vector
is the state at the last item slot (the newest item: histories are left-padded); without a prompt there is no
suffix in either mode. ``forward(..., positions=True)`` also returns ``"positions"``, the score head at every item
slot [B, L, D] (with "all" the last one is ``"user"``), and with ``states=True`` the per-layer states and the
heads' user vectors at every item slot ([B, L, H], [B, L, D]) instead of at the last position, so one pass trains
up to L targets (:func:`slmrec.distill.sequence_loss`); the shared prefix's KV cache serves both.
The item table is a non-persistent buffer: checkpoints hold the trainable weights only.

The prompt prefix comes first and is the same for every user, so under causal attention its hidden states are too:
it goes through the decoder once per call as a batch of one, and its keys and values are shared with the batch as
a KV cache. The outputs and gradients are those of the full sequence up to float rounding; with the alpaca prompt
most of each sequence is that prefix, so the saving is most of the teacher's step (benches/bench_train.py times
both ways; ``share_prefix = False`` restores the reference code's per-user prefix). One difference in training:
LoRA dropout draws one mask for the shared prefix, not one per user.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

PROMPT_PREFIX = (
    "Below is an instruction that describes a task, paired with an input that provides further context. Write a "
    "response that appropriately completes the request.\n\n### Instruction:\nGiven the user\u2019s purchase history, "
    "predict next possible item to be purchased.\n\n### Input:\n"
)
PROMPT_SUFFIX = "\n### Response:\n"


class LLMRec(nn.Module):
    def __init__(
        self,
        backbone: nn.Module,
        item_emb: torch.Tensor,
        *,
        tokenizer=None,
        blocks: int = 0,
        head_init: str = "default",
        ms_norm: bool = False,
        positions: str = "last",
    ):
        super().__init__()
        if positions not in ("last", "all"):
            raise ValueError(f"positions must be last or all, not {positions!r}")
        self.positions = positions  # "last": the prompt suffix, one user vector | "all": no suffix, every item slot
        self.ms_norm = ms_norm  # the final RMSNorm (frozen) before the multi-supervision heads
        self.backbone = backbone
        hidden = backbone.config.hidden_size
        self.num_layers = backbone.config.num_hidden_layers
        self.register_buffer("item_emb", item_emb.detach().float().clone(), persistent=False)  # [I+1, D]
        d = item_emb.shape[1]
        self.input_proj = nn.Linear(d, hidden, bias=True)
        self.score = nn.Linear(hidden, d, bias=False)
        # multi-supervision heads on the states at layers k*N/B, k = 1..B-1
        self.head_layers = [k * self.num_layers // blocks for k in range(1, blocks)] if blocks > 1 else []
        self.heads = nn.ModuleList(nn.Linear(hidden, d, bias=False) for _ in self.head_layers)
        if head_init == "zero":  # user vectors start at 0: uniform scores, CE = log(items)
            for w in (self.score, *self.heads):
                nn.init.zeros_(w.weight)
        elif head_init != "default":
            raise ValueError(f"head_init must be default or zero, not {head_init!r}")
        if tokenizer is not None:
            enc = lambda s: torch.tensor(tokenizer(s, add_special_tokens=False)["input_ids"], dtype=torch.long)
            prefix, suffix = enc(PROMPT_PREFIX), enc(PROMPT_SUFFIX)
        else:
            prefix = suffix = torch.zeros(0, dtype=torch.long)
        if positions == "all":  # the last item slot is the last position: it is the user vector
            suffix = torch.zeros(0, dtype=torch.long)
        self.register_buffer("prefix_ids", prefix, persistent=False)  # [P]
        self.register_buffer("suffix_ids", suffix, persistent=False)  # [S]
        self.share_prefix = True  # False: the prefix goes through the decoder for every user (the reference code)

    def decoder(self) -> nn.Module:
        """The plain decoder (under a peft wrapper, if any)."""
        m = self.backbone
        return m.get_base_model() if hasattr(m, "get_base_model") else m

    def forward(self, input_ids: torch.Tensor, states: bool = False, positions: bool = False) -> dict:
        b, length = input_ids.shape
        x = self.input_proj(self.item_emb[input_ids])  # [B, L, H]
        mask = input_ids > 0  # [B, L]
        embed = self.decoder().embed_tokens
        p, s = self.prefix_ids.numel(), self.suffix_ids.numel()
        cache, parts = None, [x.to(embed.weight.dtype)]
        if p and self.share_prefix:  # the same for every user: through the decoder once, shared as a KV cache
            cache = self.backbone(inputs_embeds=embed(self.prefix_ids).unsqueeze(0), use_cache=True).cache
            cache.batch_repeat_interleave(b)  # [1, P] keys and values -> [B, P]
        elif p:
            parts.insert(0, embed(self.prefix_ids).unsqueeze(0).expand(b, -1, -1))  # [B, P, H]
        if s:
            parts.append(embed(self.suffix_ids).unsqueeze(0).expand(b, -1, -1))  # [B, S, H]
        h0 = torch.cat(parts, dim=1)  # [B, L+S, H], or [B, P+L+S, H] with the prefix per user
        attn = torch.cat([mask.new_ones(b, p), mask, mask.new_ones(b, s)], dim=1).long()  # [B, P+L+S]
        out = self.backbone(
            inputs_embeds=h0,
            attention_mask=attn,
            output_hidden_states=states or bool(self.heads),
            cache=cache,
            use_cache=cache is not None,
        )
        last = out.last_hidden_state  # [B, T, H]
        result = {"user": self.score(last[:, -1])}  # [B, D]
        if positions:  # the item slots: the L positions before the suffix
            start = last.shape[1] - s - length
            at = lambda h: h[:, start : start + length]  # noqa: E731 - [B, T, H] -> [B, L, H]
            result["positions"] = self.score(at(last))  # [B, L, D]
        else:
            at = lambda h: h[:, -1]  # noqa: E731 - [B, T, H] -> [B, H]
        if states or self.heads:
            hs = [at(h) for h in out.hidden_states]  # n+1 x [B, H] (x [B, L, H] with positions)
            result["states"] = hs
            norm = self.decoder().norm if self.ms_norm else (lambda h: h)
            result["head_users"] = [w(norm(hs[i])) for w, i in zip(self.heads, self.head_layers)]  # B-1 x [B, (L,) D]
        return result

    def layer_users(self, input_ids: torch.Tensor) -> list[torch.Tensor]:
        """User vectors [B, D] from the first k layers only, k = 1..n (the layer probe, paper Fig. 1).

        For k < n the state is passed through the final RMSNorm first, so "first k layers" means exactly the
        model truncated to k layers (the code's probe skips that norm; METHOD.md §8.2).
        """
        hs = self.forward(input_ids, states=True)["states"]
        norm = self.decoder().norm
        return [self.score(norm(hs[k]) if k < self.num_layers else hs[k]) for k in range(1, self.num_layers + 1)]

    def scores(self, user: torch.Tensor) -> torch.Tensor:
        """User vectors [B, D] -> scores of every item [B, I+1], padding column at -inf."""
        s = user.float() @ self.item_emb.T
        s[:, 0] = float("-inf")
        return s


def with_lora(backbone: nn.Module, r: int, alpha: int, dropout: float) -> nn.Module:
    """LoRA on the MLP projections (gate/up/down), bias none, as the reference code; the rest frozen."""
    from peft import LoraConfig, get_peft_model

    conf = LoraConfig(
        r=r, lora_alpha=alpha, lora_dropout=dropout, bias="none", target_modules=["gate_proj", "up_proj", "down_proj"]
    )
    with warnings.catch_warnings():  # peft asks transformers a deprecated question; nothing for our users to do
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing", category=FutureWarning)
        return get_peft_model(backbone, conf)
