"""The training objectives: full-softmax CE, and the SLMRec distillation loss that adds to it.

Design: one function per term, each a pure function of tensors, so the one training loop calls
``objective(model, batch)`` for every stage and distillation only adds terms (METHOD.md §5.3, code form):

    L = CE(score(h_s[N]) . E^T, y)                                    (next-item CE over all items)
      + lambda_ms  * sum_{k=1}^{B-1} CE(W_k(h_s[k*N/B]) . E^T, y)      (multi-supervision heads)
      + sum_{k=1}^{B} [ lambda_cos  * (1 - mean_b cos(h_s[k*N/B], h_t[k*M/B]))
                      + lambda_norm * mean_b ||h_s[k*N/B] - h_t[k*M/B]||_2 ]

with last-position states in Hugging Face indexing (k = B is the final-RMSNorm output of both), blocks summed
not averaged, the L2 norm not squared, and the teacher frozen (its states computed under ``no_grad``). Unlike the
released code there is no bare ``except``: a KD term that cannot be computed is an error, never a silent
fallback to plain CE (METHOD.md B3-B5). Every term is returned for logging.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from slmrec.models.sasrec import trim


def block_pairs(teacher_layers: int, student_layers: int, blocks: int) -> list[tuple[int, int]]:
    """(student index, teacher index) into ``hidden_states`` for blocks k = 1..B; e.g. 8->4, B=4: (1,2)...(4,8)."""
    if blocks < 1 or teacher_layers % blocks or student_layers % blocks:
        raise ValueError(f"M={teacher_layers} and N={student_layers} must divide by B={blocks}")
    m, n = teacher_layers // blocks, student_layers // blocks
    return [(k * n, k * m) for k in range(1, blocks + 1)]


def full_ce(user: torch.Tensor, item_emb: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CE of the target over every item: user [B, D], item_emb [I+1, D] (row 0 = padding, excluded), target [B]."""
    logits = user.float() @ item_emb.float().T  # [B, I+1]
    logits[:, 0] = float("-inf")
    return F.cross_entropy(logits, target)


def kd_terms(student_states, teacher_states, pairs, center: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum_k (1 - mean cos), sum_k mean L2) over the block pairs; states are lists of [B, H]. ``center``: each
    block's states minus their batch mean first, so an offset shared by every user (the prompt's) drops out."""
    cos_term = norm_term = 0.0
    for s_idx, t_idx in pairs:
        s, t = student_states[s_idx].float(), teacher_states[t_idx].float()  # [B, H]
        if center:
            s, t = s - s.mean(0, keepdim=True), t - t.mean(0, keepdim=True)
        cos_term = cos_term + (1.0 - F.cosine_similarity(s, t, dim=-1, eps=1e-8).mean())
        norm_term = norm_term + (s - t).norm(dim=-1).mean()
    return cos_term, norm_term


def recommendation_loss(model, batch: dict, table: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Plain next-item CE (SASRec, teacher, student without distillation); ``table`` = item embeddings [I+1, D]."""
    ce = full_ce(model(batch["input_ids"])["user"], table, batch["target"])
    return ce, {"ce": ce.detach()}


def sampled_ce(user: torch.Tensor, item_emb: torch.Tensor, target: torch.Tensor, negatives: torch.Tensor):
    """Sampled-softmax CE: the target against ``negatives`` [B, K] only (uniform, none of them the target, so no
    log-Q correction); with every other item as a negative it equals :func:`full_ce`."""
    user = user.float()
    pos = (user * item_emb[target].float()).sum(-1, keepdim=True)  # [B, 1]
    neg = torch.einsum("bd,bkd->bk", user, item_emb[negatives].float())  # [B, K]
    logits = torch.cat([pos, neg], dim=1)
    return F.cross_entropy(logits, torch.zeros_like(target))


def sequence_loss(model, batch: dict, table: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """SASRec's all-position next-item CE: every non-padded position of ``positives`` [B, L] is a target; full
    softmax, or sampled softmax against the batch's ``negatives`` [B, L, K] when K > 0. A model counting positions
    from the end gets the batch cut to its longest history (exact, cheaper)."""
    ids, positives, negatives = batch["input_ids"], batch["positives"], batch["negatives"]
    if getattr(model, "from_end", False):
        ids, positives, negatives = trim(ids, positives, negatives)
    states = model(ids, positions=True)["positions"]  # [B, L, D]
    keep = positives > 0  # [B, L]
    if negatives.shape[-1]:
        ce = sampled_ce(states[keep], table, positives[keep], negatives[keep])
    else:
        ce = full_ce(states[keep], table, positives[keep])
    return ce, {"ce": ce.detach()}


def logit_kd(student_user: torch.Tensor, teacher_user: torch.Tensor, item_emb: torch.Tensor) -> torch.Tensor:
    """KL(softmax(teacher scores) || softmax(student scores)) over every item, batch mean (padding excluded)."""
    s = student_user.float() @ item_emb.float().T  # [B, I+1]
    t = teacher_user.float() @ item_emb.float().T
    s, t = s[:, 1:], t[:, 1:]
    return F.kl_div(F.log_softmax(s, -1), F.log_softmax(t, -1), log_target=True, reduction="batchmean")


def slmrec_loss(model, batch: dict, table, teacher, pairs, lambda_cos: float, lambda_norm: float, lambda_ms: float,
                center: bool = False, lambda_logit: float = 0.0):
    """The SLMRec objective: CE + lambda_ms * multi-supervision CE + block-wise cos and L2 to a frozen teacher
    (on batch-centred states with ``center``), + lambda_logit * KL of the final scores (an option, off by
    default)."""
    out = model(batch["input_ids"], states=True)
    target = batch["target"]
    ce = full_ce(out["user"], table, target)
    ms = sum((full_ce(u, table, target) for u in out["head_users"]), torch.zeros((), device=ce.device))
    with torch.no_grad():
        t_out = teacher(batch["input_ids"], states=True)
    cos_term, norm_term = kd_terms(out["states"], t_out["states"], pairs, center)
    loss = ce + lambda_ms * ms + lambda_cos * cos_term + lambda_norm * norm_term
    parts = {"ce": ce.detach(), "ms": ms.detach(), "cos": cos_term.detach(), "norm": norm_term.detach()}
    if lambda_logit:
        kl = logit_kd(out["user"], t_out["user"], table)
        loss = loss + lambda_logit * kl
        parts["logit_kd"] = kl.detach()
    return loss, parts
