"""The SLMRec loss: block index mapping, zero when student = teacher, gradients that reach the student."""

import pytest

torch = pytest.importorskip("torch")

from slmrec.distill import block_pairs, full_ce, kd_terms, slmrec_loss  # noqa: E402


def test_block_pairs_match_the_paper_table():
    assert block_pairs(8, 4, 4) == [(1, 2), (2, 4), (3, 6), (4, 8)]
    assert block_pairs(32, 8, 4) == [(2, 8), (4, 16), (6, 24), (8, 32)]
    assert block_pairs(32, 4, 4) == [(1, 8), (2, 16), (3, 24), (4, 32)]
    with pytest.raises(ValueError):
        block_pairs(8, 6, 4)


def test_kd_is_zero_when_student_equals_teacher_and_has_gradients():
    torch.manual_seed(0)
    states = [torch.randn(3, 16, requires_grad=True) for _ in range(5)]
    cos, norm = kd_terms(states, [s.detach().clone() for s in states], block_pairs(4, 4, 2))
    assert cos.item() == pytest.approx(0.0, abs=1e-6) and norm.item() == pytest.approx(0.0, abs=1e-6)
    other = [torch.randn(3, 16) for _ in range(5)]
    cos, norm = kd_terms(states, other, block_pairs(4, 4, 2))
    (cos + norm).backward()
    assert cos.item() > 0 and norm.item() > 0
    assert states[2].grad is not None and states[2].grad.abs().sum() > 0  # block 1 of 2 -> index 2
    assert states[1].grad is None  # not a block boundary


def test_full_ce_excludes_padding_and_matches_a_manual_softmax():
    torch.manual_seed(0)
    user, table, target = torch.randn(4, 8), torch.randn(11, 8), torch.tensor([1, 2, 3, 10])
    logits = user @ table[1:].T
    manual = torch.nn.functional.cross_entropy(logits, target - 1)
    assert full_ce(user, table, target).item() == pytest.approx(manual.item(), rel=1e-5)


def test_slmrec_loss_on_real_models_trains_the_student_only():
    from slmrec import backbone
    from slmrec.config import preset
    from slmrec.models import LLMRec
    from slmrec.models.llmrec import with_lora

    cfg = preset("tiny").llm
    spec = backbone.resolve("random")
    table = torch.randn(21, 32)
    teacher = LLMRec(backbone.load(spec, 4, cfg, max_layers=4)[0], table)
    student = LLMRec(with_lora(backbone.load(spec, 2, cfg, max_layers=4)[0], 4, 4, 0.0), table, blocks=2)
    teacher.eval().requires_grad_(False)
    batch = {"input_ids": torch.randint(0, 21, (6, 10)), "target": torch.randint(1, 21, (6,))}
    loss, parts = slmrec_loss(student, batch, table, teacher, block_pairs(4, 2, 2), 1.0, 0.1, 1.0)
    loss.backward()
    assert parts["cos"] > 0 and parts["norm"] > 0 and parts["ms"] > 0
    expected = parts["ce"] + parts["ms"] + parts["cos"] + 0.1 * parts["norm"]
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    lora = [p for n, p in student.named_parameters() if "lora_" in n]
    assert lora and all(p.grad is not None for p in lora)
    assert student.heads[0].weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in teacher.parameters())


def test_centred_states_remove_an_offset_shared_by_every_user():
    torch.manual_seed(0)
    s = [torch.randn(6, 16) for _ in range(3)]
    t = [torch.randn(6, 16) for _ in range(3)]
    pairs = [(1, 1), (2, 2)]
    shift = lambda xs, c: [x + c for x in xs]  # noqa: E731 - the same vector added to every user's state
    big = 50 * torch.randn(16)
    centred = kd_terms(s, t, pairs, center=True)
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(kd_terms(shift(s, big), shift(t, -big), pairs,
                                                                         center=True), centred))
    raw = kd_terms(shift(s, big), shift(t, -big), pairs)
    assert raw[1] > 10 * centred[1]  # without centring the offset dominates the L2 term


def test_logit_kd_is_zero_for_equal_scores_and_positive_otherwise():
    from slmrec.distill import logit_kd

    torch.manual_seed(0)
    table, u = torch.randn(11, 8), torch.randn(4, 8)
    assert float(logit_kd(u, u, table)) == pytest.approx(0.0, abs=1e-6)
    assert float(logit_kd(u, torch.randn(4, 8), table)) > 0.01


def test_zero_heads_start_at_uniform_scores_and_ms_norm_reads_normed_states():
    import math

    from slmrec import backbone
    from slmrec.config import preset
    from slmrec.models import LLMRec

    cfg = preset("tiny").llm
    table = torch.randn(31, 32)
    bb = backbone.load(backbone.resolve("random"), 4, cfg, max_layers=4)[0]
    m = LLMRec(bb, table, blocks=2, head_init="zero", ms_norm=True).eval()
    ids = torch.tensor([[0, 3, 4, 5], [1, 2, 3, 4]])
    out = m(ids, states=True)
    target = torch.tensor([7, 9])
    assert float(full_ce(out["user"], m.item_emb, target)) == pytest.approx(math.log(30), rel=1e-5)
    assert all(float(full_ce(u, m.item_emb, target)) == pytest.approx(math.log(30), rel=1e-5)
               for u in out["head_users"])
    with torch.no_grad():
        m.heads[0].weight.normal_()
    h = out["states"][m.head_layers[0]]
    assert torch.allclose(m(ids, states=True)["head_users"][0], m.heads[0](m.decoder().norm(h)), atol=1e-5)
