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

With ``llm.positions all`` (an extension beyond the paper) a batch is a set of windows (``positives`` [B, L], as
SASRec's all-position training) and every term is taken at every position: the CE and the multi-supervision CE
where a position has a next item (mean over them), cos, L2 (and the logit KL) at every non-padded item slot (mean
over them; padding never counts; ``center`` subtracts the mean over those slots).
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


CE_CHUNK_ELEMENTS = 1 << 20  # scores per chunk of the full-softmax CE: a block of rows x items that stays in cache


def full_ce(
    user: torch.Tensor, item_emb: torch.Tensor, target: torch.Tensor, exclude: torch.Tensor | None = None
) -> torch.Tensor:
    """CE of the target over every item: user [B, D], item_emb [I+1, D] (row 0 = padding, excluded), target [B];
    the mean over the rows. ``exclude`` [B, K] (item ids, 0 = none): items that are not candidates of that row
    (their scores -inf), except the row's target, which always is. Computed in chunks of rows
    (:class:`ChunkedCE`): the [B, I+1] scores never exist at once; the same value and gradients as
    ``F.cross_entropy`` on them, up to float rounding (tested)."""
    if exclude is not None:
        exclude = exclude.masked_fill(exclude == target[:, None], 0)
    on = torch.is_grad_enabled()  # under no_grad (evaluation) no gradient is computed
    return ChunkedCE.apply(user, item_emb, target, exclude, on and user.requires_grad, on and item_emb.requires_grad)


class ChunkedCE(torch.autograd.Function):
    """Full-softmax CE, chunked, its gradients computed in the forward. Per chunk of rows: the scores against every
    item, their softmax and the target's score, then (when a backward will follow) the score gradient (softmax
    minus the target's one-hot) times the two operands, accumulated into both input gradients; the backward only
    scales them by the incoming gradient (a scalar: the loss is a mean). A chunk's scores are written and read
    while they are in cache, instead of one [B, I+1] tensor going through memory several times, and the products
    are three per chunk, not four (a backward that recomputed the scores would take a fourth). Under autocast the
    products run in the autocast dtype (bf16: the CPU's bf16 matrix units where it has them), everything else in
    fp32."""

    @staticmethod
    def _operands(user, item_emb, low):
        u, e = user.float(), item_emb.float()
        return (u, e) if low is None else (u.to(low), e.to(low))

    @staticmethod
    def _scores(u, e, exclude):
        scores = (u @ e.T).float()  # [rows, I+1]
        scores[:, 0] = float("-inf")  # padding is never a candidate
        if exclude is not None:
            scores.scatter_(1, exclude, float("-inf"))  # 0 entries hit the padding column, already -inf
        return scores

    @staticmethod
    def forward(ctx, user, item_emb, target, exclude, want_u, want_e):
        device, n = user.device.type, user.shape[0]
        low = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else None
        rows = max(1, CE_CHUNK_ELEMENTS // item_emb.shape[0])
        with torch.autocast(device, enabled=False):
            u, e = ChunkedCE._operands(user, item_emb, low)
            loss = torch.zeros((), device=u.device)
            grad_u = torch.empty(user.shape, device=u.device) if want_u else None
            grad_e = torch.zeros(item_emb.shape, device=u.device) if want_e else None
            for s in range(0, n, rows):
                chunk = slice(s, s + rows)
                scores = ChunkedCE._scores(u[chunk], e, None if exclude is None else exclude[chunk])
                top = scores.max(1, keepdim=True).values  # finite: the target is always a candidate
                p = torch.exp(scores - top)  # 0 where excluded
                total = p.sum(1, keepdim=True)
                picked = scores.gather(1, target[chunk, None])
                loss += (top + total.log() - picked).sum()  # -log softmax of the targets
                if want_u or want_e:
                    p /= total * n  # the mean's 1/n folded in before the products (bf16 keeps the same scale)
                    p[torch.arange(p.shape[0], device=p.device), target[chunk]] -= 1.0 / n
                    p = p.to(e.dtype)
                    if want_u:
                        grad_u[chunk] = (p @ e).float()
                    if want_e:
                        grad_e += (p.T @ u[chunk]).float()
        ctx.grads, ctx.dtypes = (grad_u, grad_e), (user.dtype, item_emb.dtype)
        return loss / n

    @staticmethod
    def backward(ctx, grad):
        g = grad.float()
        u, e = ((None if d is None else (d * g).to(t)) for d, t in zip(ctx.grads, ctx.dtypes))
        return u, e, None, None, None, None


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
    """Plain next-item CE (SASRec, teacher, student without distillation); ``table`` = item embeddings [I+1, D],
    unless the model returns the table its forward used (SASRec's ``item_dropout``)."""
    out = model(batch["input_ids"])
    ce = full_ce(out["user"], out.get("table", table), batch["target"])
    return ce, {"ce": ce.detach()}


def sampled_ce(
    user: torch.Tensor, item_emb: torch.Tensor, target: torch.Tensor, negatives: torch.Tensor, via: str = "auto"
):
    """Sampled-softmax CE: the target against ``negatives`` [B, K] only (uniform, so no log-Q correction; a
    negative equal to the target, possible when they are drawn from every item, is masked out); with every other
    item as a negative it equals :func:`full_ce`.

    Two exact ways to the same logits, chosen by cost: gather the K negative rows of the table and take K dot
    products per row (B x K x D reads), or score every item once and gather K scores per row (B x I x D multiply-adds
    in one matrix product, no B x K x D copy). The second wins whenever the catalogue is not much larger than
    K x D (it also leaves no per-row gather to back-propagate). ``via``: "auto" | "scores" | "rows"."""
    user = user.float()
    picked = torch.cat([target[:, None], negatives], dim=1)  # [B, 1+K], column 0 the target
    if via == "auto":
        via = "scores" if item_emb.shape[0] <= negatives.shape[1] * item_emb.shape[1] else "rows"
    if via == "scores":
        logits = (user @ item_emb.float().T).gather(1, picked)  # [B, 1+K]
    else:
        logits = torch.bmm(F.embedding(picked, item_emb).float(), user.unsqueeze(-1)).squeeze(-1)  # [B, 1+K]
    clash = torch.cat([torch.zeros_like(target[:, None], dtype=torch.bool), negatives == target[:, None]], dim=1)
    return F.cross_entropy(logits.masked_fill(clash, float("-inf")), torch.zeros_like(target))


def softmax_exclusions(ids: torch.Tensor, positives: torch.Tensor, rule: str) -> torch.Tensor | None:
    """The items each position's full softmax leaves out, [B, L, K] (0 = none; the target itself is put back by
    :func:`full_ce`): ``rule`` "none": nothing; "history": the window's items up to and including the position
    (the input so far: what full-ranking evaluation excludes for its target); "window": every item of the window,
    before and after the position (the nearest a window comes to the sampler's "never in the user's history")."""
    if rule == "none":
        return None
    length = ids.shape[1]
    if rule == "history":
        seen = torch.ones(length, length, dtype=torch.bool, device=ids.device).tril()  # [t, j]: j <= t
        return ids[:, None, :].expand(-1, length, -1) * seen
    if rule == "window":
        return torch.cat([ids, positives], dim=1)[:, None, :].expand(-1, length, -1)
    raise ValueError(f"unknown softmax exclusion rule {rule!r}: expected none, history or window")


def sequence_loss(
    model, batch: dict, table: torch.Tensor, any_negatives: int = 0, exclude: str = "none"
) -> tuple[torch.Tensor, dict]:
    """SASRec's all-position next-item CE: every non-padded position of ``positives`` [B, L] is a target; full
    softmax (leaving out the items that ``exclude`` names, :func:`softmax_exclusions`), or sampled softmax against
    the batch's ``negatives`` [B, L, K] when K > 0 (the core sampler's: never an item of the user's train part), or,
    with ``any_negatives`` K > 0, against K drawn here uniformly from every item with torch's generator (RecTools'
    sampling: the user's own items can be negatives; a draw equal to the target is masked). A model counting
    positions from the end gets the batch cut to its longest history (exact, cheaper)."""
    ids, positives, negatives = batch["input_ids"], batch["positives"], batch["negatives"]
    if getattr(model, "from_end", False):
        ids, positives, negatives = trim(ids, positives, negatives)
    out = model(ids, positions=True)
    states, table = out["positions"], out.get("table", table)  # [B, L, D]; the forward's table (item_dropout)
    keep = positives > 0  # [B, L]
    if any_negatives:
        drawn = torch.randint(1, table.shape[0], (int(keep.sum()), any_negatives), device=positives.device)
        ce = sampled_ce(states[keep], table, positives[keep], drawn)
    elif negatives.shape[-1]:
        ce = sampled_ce(states[keep], table, positives[keep], negatives[keep])
    else:
        left_out = softmax_exclusions(ids, positives, exclude)
        ce = full_ce(states[keep], table, positives[keep], None if left_out is None else left_out[keep])
    return ce, {"ce": ce.detach()}


def logit_kd(student_user: torch.Tensor, teacher_user: torch.Tensor, item_emb: torch.Tensor) -> torch.Tensor:
    """KL(softmax(teacher scores) || softmax(student scores)) over every item, batch mean (padding excluded)."""
    s = student_user.float() @ item_emb.float().T  # [B, I+1]
    t = teacher_user.float() @ item_emb.float().T
    s, t = s[:, 1:], t[:, 1:]
    return F.kl_div(F.log_softmax(s, -1), F.log_softmax(t, -1), log_target=True, reduction="batchmean")


def slmrec_loss(
    model,
    batch: dict,
    table,
    teacher,
    pairs,
    lambda_cos: float,
    lambda_norm: float,
    lambda_ms: float,
    center: bool = False,
    lambda_logit: float = 0.0,
):
    """The SLMRec objective: CE + lambda_ms * multi-supervision CE + block-wise cos and L2 to a frozen teacher
    (on batch-centred states with ``center``), + lambda_logit * KL of the final scores (an option, off by
    default). A batch of windows (``positives``) takes every term at every position (module docs): the CE terms
    where ``positives`` [B, L] has a target, the KD terms at every item slot (``input_ids`` > 0); full softmax
    only. Both cases pick their rows first, then compose the same terms."""
    ids = batch["input_ids"]
    every = "positives" in batch
    if every and batch["negatives"].shape[-1]:
        raise ValueError("the SLMRec loss at every position takes the full softmax, not sampled negatives")
    out = model(ids, states=True, positions=every)
    with torch.no_grad():
        t_out = teacher(ids, states=True, positions=every)
    if every:
        target, real = batch["positives"] > 0, ids > 0  # [B, L]: a next item to predict; an item (not padding)
        y = batch["positives"][target]
        users, heads = out["positions"][target], [u[target] for u in out["head_users"]]
        slots = lambda hs: [None if h is None else h[real] for h in hs]  # [B, L, H] -> [K, H]
        s_states, t_states = slots(out["states"]), slots(t_out["states"])
        s_user, t_user = out["positions"][real], t_out["positions"][real]
    else:
        y, users, heads = batch["target"], out["user"], out["head_users"]
        s_states, t_states, s_user, t_user = out["states"], t_out["states"], out["user"], t_out["user"]
    ce = full_ce(users, table, y)
    ms = sum((full_ce(u, table, y) for u in heads), torch.zeros((), device=ce.device))
    cos_term, norm_term = kd_terms(s_states, t_states, pairs, center)
    loss = ce + lambda_ms * ms + lambda_cos * cos_term + lambda_norm * norm_term
    parts = {"ce": ce.detach(), "ms": ms.detach(), "cos": cos_term.detach(), "norm": norm_term.detach()}
    if lambda_logit:
        kl = logit_kd(s_user, t_user, table)
        loss = loss + lambda_logit * kl
        parts["logit_kd"] = kl.detach()
    return loss, parts
