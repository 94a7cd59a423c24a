"""Models: shapes, padding that cannot leak, the frozen table, the layer probe, the backbone checks."""

import pytest

torch = pytest.importorskip("torch")

from slmrec import backbone  # noqa: E402
from slmrec.config import preset  # noqa: E402
from slmrec.errors import ConfigError  # noqa: E402
from slmrec.models import LLMRec, SASRec  # noqa: E402


def test_sasrec_ignores_padding():
    torch.manual_seed(0)
    m = SASRec(num_items=30, max_len=6, emb_dim=16, hidden=8, dropout=0.0).eval()
    a = torch.tensor([[0, 0, 0, 5, 7, 9]])
    out1 = m(a)["user"]
    with torch.no_grad():
        m.item_emb.weight[0] = 100.0  # padding row must not matter
    assert torch.allclose(out1, m(a)["user"], atol=1e-5)
    assert m.scores(out1)[0, 0] == float("-inf")
    assert torch.isfinite(m(torch.zeros(2, 6, dtype=torch.long))["user"]).all()


def test_sasrec_positions_are_causal_and_end_in_the_user_vector():
    torch.manual_seed(0)
    m = SASRec(num_items=30, max_len=6, emb_dim=16, hidden=8, dropout=0.0, inner=24).eval()
    assert m.blocks[0].ffn[0].weight.shape == (24, 8)  # the feed-forward width is `inner`
    a = torch.tensor([[0, 0, 3, 5, 7, 9]])
    out = m(a, positions=True)
    assert out["positions"].shape == (1, 6, 16) and torch.equal(out["positions"][:, -1], out["user"])
    b = a.clone()
    b[0, 5] = 11  # a later item changes no earlier position (causal)
    assert torch.allclose(m(b, positions=True)["positions"][:, :5], out["positions"][:, :5], atol=1e-6)


def test_llmrec_shapes_padding_and_probe():
    cfg = preset("tiny").llm
    table = torch.randn(31, 32)
    m = LLMRec(backbone.load(backbone.resolve("random"), 4, cfg, max_layers=4)[0], table, blocks=2).eval()
    ids = torch.tensor([[0, 0, 3, 4], [1, 2, 3, 4]])
    out = m(ids, states=True)
    assert out["user"].shape == (2, 32) and len(out["states"]) == 5 and len(out["head_users"]) == 1
    assert m.head_layers == [2]
    other = ids.clone()
    other[0, :2] = 0
    assert torch.allclose(m(other)["user"][0], out["user"][0])
    layers = m.layer_users(ids)
    assert len(layers) == 4 and torch.allclose(layers[-1], out["user"], atol=1e-5)
    assert "item_emb" not in m.state_dict()


def test_truncated_copies_share_the_initial_layers():
    cfg = preset("tiny").llm
    spec = backbone.resolve("random")
    t = backbone.load(spec, 4, cfg, max_layers=4)[0]
    s = backbone.load(spec, 2, cfg, max_layers=4)[0]
    assert len(s.layers) == 2 and s.config.num_hidden_layers == 2
    assert torch.equal(s.layers[1].mlp.up_proj.weight, t.layers[1].mlp.up_proj.weight)
    s.layers[0].mlp.up_proj.weight.data.zero_()
    assert t.layers[0].mlp.up_proj.weight.abs().sum() > 0  # a copy, not a view


def test_bad_backbones(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        backbone.resolve(str(tmp_path / "missing"))
    (tmp_path / "x.gguf").write_bytes(b"nope")
    with pytest.raises(ConfigError, match="not a GGUF"):
        backbone.resolve(str(tmp_path / "x.gguf"))
    (tmp_path / "enc").mkdir()
    (tmp_path / "enc" / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ConfigError, match="not a supported decoder"):
        backbone.resolve(str(tmp_path / "enc"))


def test_sasrec_normal_init_is_recboles():
    import torch

    from slmrec.models import SASRec

    torch.manual_seed(0)
    m = SASRec(500, 20, emb_dim=64, hidden=64, init="normal")
    assert abs(m.item_emb.weight[1:].std().item() - 0.02) < 0.002
    assert torch.count_nonzero(m.item_emb.weight[0]) == 0  # padding stays 0
    assert torch.count_nonzero(m.up.bias) == 0
    assert SASRec(500, 20, emb_dim=64, hidden=64).item_emb.weight[1:].std().item() > 0.5  # PyTorch's N(0, 1)
    with pytest.raises(ValueError, match="init"):
        SASRec(10, 5, init="uniform")


def test_sasrec_own_shape_is_recttools_without_projections_or_scale():
    """project=False, scale=False, init="xavier": SASRec as RecTools builds it: the transformer on the table's
    width, no up/down maps, unscaled inputs, Xavier-normal matrices; padding row 0 and causality hold as ever."""
    torch.manual_seed(0)
    m = SASRec(300, 10, emb_dim=16, hidden=16, layers=1, init="xavier", project=False, scale=False, from_end=True)
    assert isinstance(m.up, torch.nn.Identity) and isinstance(m.down, torch.nn.Identity) and m.scale == 1.0
    expected = (2 / (301 + 16)) ** 0.5  # Xavier-normal std of the [301, 16] table
    assert abs(m.item_emb.weight[1:].std().item() - expected) < 0.1 * expected
    assert torch.count_nonzero(m.item_emb.weight[0]) == 0
    m.eval()
    ids = torch.tensor([[0, 0, 3, 4, 5], [1, 2, 3, 4, 5]])
    out = m(ids, positions=True)
    assert out["positions"].shape == (2, 5, 16) and out["user"].shape == (2, 16)
    changed = ids.clone()
    changed[:, 4] = 7  # the newest item changes no earlier position
    assert torch.allclose(m(changed, positions=True)["positions"][:, :4], out["positions"][:, :4], atol=1e-6)
    short = m(ids[:1, 2:])["user"]  # padding is never attended: [0, 0, 3, 4, 5] encodes as [3, 4, 5]
    assert torch.allclose(short, out["user"][:1], atol=1e-6)
    with pytest.raises(ValueError, match="hidden == emb_dim"):
        SASRec(10, 5, emb_dim=16, hidden=8, project=False)


def test_the_shared_prompt_prefix_gives_the_full_sequence_outputs_and_gradients():
    """The prefix runs once and is shared as a KV cache: same user vectors, states and gradients as running the
    whole [prefix | items | suffix] sequence for every user."""
    cfg = preset("tiny").llm
    tokenizer = lambda s, add_special_tokens: {"input_ids": [1 + ord(c) % 100 for c in s]}  # noqa: E731
    torch.manual_seed(0)
    m = LLMRec(
        backbone.load(backbone.resolve("random"), 4, cfg, max_layers=4)[0],
        torch.randn(31, 32),
        tokenizer=tokenizer,
        blocks=2,
    ).eval()
    assert m.prefix_ids.numel() > 50 and m.suffix_ids.numel() > 5
    ids = torch.tensor([[0, 0, 3, 4], [1, 2, 3, 4], [0, 0, 0, 7]])

    def full_sequence(ids):  # the plain forward pass over every token of every user
        b, embed = ids.shape[0], m.decoder().embed_tokens
        h0 = torch.cat(
            [
                embed(m.prefix_ids).expand(b, -1, -1),
                m.input_proj(m.item_emb[ids]),
                embed(m.suffix_ids).expand(b, -1, -1),
            ],
            dim=1,
        )
        attn = torch.cat([torch.ones(b, m.prefix_ids.numel()), ids > 0, torch.ones(b, m.suffix_ids.numel())], 1)
        out = m.backbone(inputs_embeds=h0, attention_mask=attn.long(), output_hidden_states=True, use_cache=False)
        return m.score(out.last_hidden_state[:, -1]), [h[:, -1] for h in out.hidden_states]

    user, states = full_sequence(ids)
    out = m(ids, states=True)
    assert torch.allclose(out["user"], user, atol=1e-5)
    assert len(out["states"]) == len(states) == 5
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(out["states"], states))
    m.share_prefix = False  # the reference code's way, kept for comparison (benches/bench_train.py)
    assert torch.allclose(m(ids)["user"], user, atol=1e-5)
    m.share_prefix = True
    grads = []
    for f in (lambda: m(ids)["user"], lambda: full_sequence(ids)[0]):
        m.zero_grad()
        f().pow(2).sum().backward()
        grads.append({n: p.grad.clone() for n, p in m.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 10
    worst = max(((grads[0][n] - grads[1][n]).abs().max() / grads[1][n].abs().max()).item() for n in grads[0])
    assert worst < 1e-5  # float rounding, relative to each gradient's largest entry


def test_sasrec_counted_from_the_end_is_exact_on_trimmed_batches():
    """With positions counted from the newest item, cutting the all-padding columns changes no output."""
    from slmrec.models.sasrec import trim

    torch.manual_seed(0)
    m = SASRec(
        num_items=30, max_len=8, emb_dim=16, hidden=16, heads=2, dropout=0.0, inner=64, act="gelu", from_end=True
    ).eval()
    a = torch.tensor([[0, 0, 0, 0, 3, 5, 7, 9], [0, 0, 0, 0, 0, 0, 2, 4]])
    positives = torch.tensor([[0, 0, 0, 0, 5, 7, 9, 11], [0, 0, 0, 0, 0, 0, 4, 6]])
    (cut, cut_pos) = trim(a, positives)
    assert cut.shape == (2, 4) and torch.equal(cut_pos[:, -1], positives[:, -1])
    full, short = m(a, positions=True), m(cut, positions=True)
    assert torch.allclose(full["user"], short["user"], atol=1e-5)
    assert torch.allclose(full["positions"][:, 4:], short["positions"], atol=1e-5)
    b = cut.clone()
    b[0, 3] = 12  # causal: a later item changes no earlier position
    assert torch.allclose(m(b, positions=True)["positions"][0, :3], short["positions"][0, :3], atol=1e-6)
    assert torch.isfinite(m(torch.zeros(2, 8, dtype=torch.long))["user"]).all()  # an all-padding row


def test_item_dropout_drops_one_table_that_the_input_and_the_scores_share():
    from slmrec.distill import sequence_loss

    torch.manual_seed(0)
    m = SASRec(num_items=40, max_len=6, emb_dim=8, hidden=8, dropout=0.0, item_dropout=0.5, project=False)
    ids = torch.tensor([[0, 3, 5, 7, 9, 11], [0, 0, 2, 4, 6, 8]])
    out = m(ids, positions=True)
    table = out["table"]
    dropped = (table == 0) & (m.item_emb.weight != 0)
    assert 0.3 < dropped[1:].float().mean() < 0.7  # about half of the entries, each rescaled by 1 / (1 - p)
    kept = ~dropped
    assert torch.allclose(table[kept], 2 * m.item_emb.weight[kept])
    assert torch.equal(table[0], torch.zeros(8))  # padding stays zero
    # the input lookup used this same dropped table: replaying with it reproduces the forward exactly
    m2 = SASRec(num_items=40, max_len=6, emb_dim=8, hidden=8, dropout=0.0, project=False)
    m2.load_state_dict(m.state_dict(), strict=False)
    with torch.no_grad():
        m2.item_emb.weight.copy_(table)
    assert torch.allclose(m2(ids, positions=True)["positions"], out["positions"], atol=1e-6)
    # the loss scores with the forward's table, not the one handed in; a backward reaches the table
    batch = {"input_ids": ids, "positives": torch.roll(ids, -1, 1).clamp(min=0), "negatives": torch.zeros(2, 6, 0)}
    batch["positives"][:, -1] = 13
    torch.manual_seed(1)
    loss, _ = sequence_loss(m, batch, torch.full_like(m.item_emb.weight, float("nan")))
    assert torch.isfinite(loss)
    loss.backward()
    assert m.item_emb.weight.grad.abs().sum() > 0
    # evaluation: no dropout, the table is the weights
    m.eval()
    assert torch.equal(m(ids)["table"], m.item_emb.weight)


def test_sampled_softmax_equals_full_ce_with_every_other_item_as_negative():
    from slmrec.distill import full_ce, sampled_ce

    torch.manual_seed(0)
    table = torch.randn(21, 8)  # row 0 = padding
    user = torch.randn(5, 8)
    target = torch.tensor([1, 4, 20, 7, 7])
    negatives = torch.stack([torch.tensor([i for i in range(1, 21) if i != t]) for t in target])  # [5, 19]
    assert torch.allclose(sampled_ce(user, table, target, negatives), full_ce(user, table, target), atol=1e-5)
    few = negatives[:, :3]  # fewer negatives: a smaller loss (a lower bound of the full CE)
    assert sampled_ce(user, table, target, few) < full_ce(user, table, target)


def test_a_negative_equal_to_the_target_is_masked_out():
    """Negatives drawn from every item (``sasrec.negatives_from any``) may hit the target: such a column counts as
    absent, so the loss equals the one without it."""
    from slmrec.distill import sampled_ce

    torch.manual_seed(0)
    table, user = torch.randn(21, 8), torch.randn(2, 8)
    target = torch.tensor([3, 9])
    clean = torch.tensor([[5, 6], [1, 2]])
    clashing = torch.tensor([[5, 6, 3], [1, 2, 9]])  # each row's last negative is its own target
    assert torch.allclose(sampled_ce(user, table, target, clashing), sampled_ce(user, table, target, clean))


def test_negatives_from_any_item_are_drawn_by_the_loss_and_may_be_history_items():
    """``sequence_loss(..., any_negatives=K)`` ignores the batch's negatives and draws K per target from every item
    with torch's generator: reproducible under a seed, and a user's own items can be among them."""
    from slmrec.distill import sequence_loss

    torch.manual_seed(0)
    m = SASRec(num_items=6, max_len=4, emb_dim=8, hidden=8, layers=1, dropout=0.0, project=False).eval()
    batch = {
        "input_ids": torch.tensor([[1, 2, 3, 4]]),
        "positives": torch.tensor([[2, 3, 4, 5]]),
        "negatives": torch.zeros(1, 4, 0, dtype=torch.long),
    }
    drawn = []
    real = torch.randint

    def spy(*a, **k):
        drawn.append(real(*a, **k))
        return drawn[-1]

    torch.manual_seed(1)
    a, _ = sequence_loss(m, batch, m.item_emb.weight, any_negatives=50)
    torch.manual_seed(1)
    import unittest.mock

    with unittest.mock.patch.object(torch, "randint", spy):
        b, _ = sequence_loss(m, batch, m.item_emb.weight, any_negatives=50)
    assert torch.equal(a, b) and drawn[0].shape == (4, 50)
    assert drawn[0].min() >= 1 and drawn[0].max() <= 6  # every item, never padding
    assert bool(torch.isin(drawn[0], torch.tensor([1, 2, 3, 4])).any())  # history items among them


def test_sampled_softmax_two_ways_agree_in_value_and_gradient():
    from slmrec.distill import sampled_ce

    torch.manual_seed(0)
    target = torch.randint(1, 50, (6,))
    negatives = torch.randint(1, 50, (6, 7))  # repeats allowed: each draw is its own column
    grads = []
    for via in ("scores", "rows"):
        table = torch.randn(50, 4, generator=torch.Generator().manual_seed(1)).requires_grad_()
        user = torch.randn(6, 4, generator=torch.Generator().manual_seed(2)).requires_grad_()
        loss = sampled_ce(user, table, target, negatives, via=via)
        loss.backward()
        grads.append((loss.detach(), table.grad, user.grad))
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-6)


def test_lora_wrapping_warns_nothing():
    """peft asks transformers a deprecated question (a FutureWarning about is_gradient_checkpointing) that no
    user can act on: it must not reach them (issue 19)."""
    import warnings

    from slmrec.models.llmrec import with_lora

    decoder = backbone.load(backbone.resolve("random"), 2, preset("tiny").llm, max_layers=2)[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wrapped = with_lora(decoder, 4, 8, 0.0)
    assert [f"{w.category.__name__}: {w.message}" for w in caught] == []
    assert any("lora_" in name for name, _ in wrapped.named_parameters())


def test_llmrec_positions_all_is_causal_and_ends_in_the_user_vector():
    """llm.positions all: no prompt suffix, so the item slots are the last positions; the score at slot t reads the
    items up to t only (causal, through the shared prefix's KV cache too), and the last slot is the user vector."""
    cfg = preset("tiny").llm
    tokenizer = lambda s, add_special_tokens: {"input_ids": [1 + ord(c) % 100 for c in s]}  # noqa: E731
    decoder = lambda: backbone.load(backbone.resolve("random"), 4, cfg, max_layers=4)[0]  # noqa: E731
    torch.manual_seed(0)
    m = LLMRec(decoder(), torch.randn(31, 32), tokenizer=tokenizer, blocks=2, positions="all").eval()
    assert m.prefix_ids.numel() > 50 and m.suffix_ids.numel() == 0
    assert LLMRec(decoder(), torch.randn(31, 32), tokenizer=tokenizer).suffix_ids.numel() > 5  # "last" keeps it
    ids = torch.tensor([[0, 0, 3, 4, 5], [1, 2, 3, 4, 5], [0, 0, 0, 0, 7]])
    out = m(ids, states=True, positions=True)
    assert out["positions"].shape == (3, 5, 32) and len(out["states"]) == 5
    assert all(h.shape == (3, 5, 64) for h in out["states"]) and out["head_users"][0].shape == (3, 5, 32)
    last = m(ids, states=True)
    assert torch.allclose(out["positions"][:, -1], last["user"], atol=1e-5)
    assert all(torch.allclose(a[:, -1], b, atol=1e-5) for a, b in zip(out["states"], last["states"]))
    for t in range(4):
        later = ids.clone()
        later[:, t + 1 :] = torch.randint(1, 31, (3, 4 - t))  # other items after slot t
        again = m(later, states=True, positions=True)
        assert torch.allclose(again["positions"][:, : t + 1], out["positions"][:, : t + 1], atol=1e-5)
        assert torch.allclose(again["states"][2][:, : t + 1], out["states"][2][:, : t + 1], atol=1e-5)
        assert not torch.allclose(again["positions"][1, t + 1 :], out["positions"][1, t + 1 :], atol=1e-3)
    m.share_prefix = False  # the prefix per user gives the same slots
    assert torch.allclose(m(ids, positions=True)["positions"], out["positions"], atol=1e-5)
    with pytest.raises(ValueError, match="positions"):
        LLMRec(decoder(), torch.randn(31, 32), positions="every")


def test_a_compiled_sasrec_is_the_same_network_with_the_same_state_dict():
    """``sasrec.compile`` compiles the module in place: its state dict keeps its keys (checkpoints and exports read
    it), and its outputs and gradients are the uncompiled module's."""
    torch.manual_seed(0)
    kw = dict(num_items=30, max_len=6, emb_dim=16, hidden=16, heads=1, layers=1, dropout=0.0, project=False)
    plain = SASRec(**kw)
    compiled = SASRec(**kw)
    compiled.load_state_dict(plain.state_dict(), strict=True)
    compiled.compile(dynamic=True)
    assert list(compiled.state_dict()) == list(plain.state_dict())
    a = torch.tensor([[0, 0, 3, 5, 7, 9], [0, 0, 0, 0, 0, 4], [1, 2, 3, 4, 5, 6]])
    want, got = plain(a, positions=True)["positions"], compiled(a, positions=True)["positions"]
    assert torch.allclose(want, got, atol=1e-5)
    want.sum().backward()
    got.sum().backward()
    for (name, p), q in zip(plain.named_parameters(), compiled.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-5), name


def test_sdpa_attention_is_the_same_network_as_multihead_attention():
    """``attention="sdpa"`` uses the same parameters: one state dict loads into both, and in eval mode every
    position's output agrees (2 heads, padding, causal); padding and later items still change nothing."""
    torch.manual_seed(0)
    kw = dict(num_items=30, max_len=6, emb_dim=16, hidden=16, heads=2, layers=2, dropout=0.3, project=False)
    mha = SASRec(**kw).eval()
    sdpa = SASRec(**kw, attention="sdpa").eval()
    sdpa.load_state_dict(mha.state_dict(), strict=True)
    a = torch.tensor([[0, 0, 3, 5, 7, 9], [0, 0, 0, 0, 0, 4], [1, 2, 3, 4, 5, 6]])
    want, got = mha(a, positions=True)["positions"], sdpa(a, positions=True)["positions"]
    keep = a > 0
    assert torch.allclose(want[keep], got[keep], atol=1e-5)
    b = a.clone()
    b[0, 5] = 11  # causal: a later item changes no earlier position
    assert torch.allclose(sdpa(b, positions=True)["positions"][0, :5], got[0, :5], atol=1e-6)
    with torch.no_grad():
        sdpa.item_emb.weight[0] = 100.0  # padding is never attended
    assert torch.allclose(sdpa(a)["user"], got[:, -1], atol=1e-5)
    with pytest.raises(ValueError, match="mha or sdpa"):
        SASRec(**kw, attention="flash")
