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


@pytest.mark.parametrize("chunk", [11, 3 * 11, 1 << 20])  # one row per chunk, a remainder chunk, one chunk
def test_the_chunked_full_ce_has_the_dense_values_and_gradients(monkeypatch, chunk):
    """full_ce in chunks of rows equals F.cross_entropy on the whole [B, I+1] score matrix (padding excluded), in
    value and in both gradients (fp32, to 1e-6); under bf16 autocast its products are bf16, close to fp32."""
    import slmrec.distill as distill

    monkeypatch.setattr(distill, "CE_CHUNK_ELEMENTS", chunk)
    torch.manual_seed(0)
    user, table = torch.randn(7, 8, requires_grad=True), torch.randn(11, 8, requires_grad=True)
    target = torch.tensor([1, 2, 3, 10, 10, 5, 1])
    logits = user @ table.T
    logits = torch.cat([torch.full_like(logits[:, :1], float("-inf")), logits[:, 1:]], 1)
    want = torch.nn.functional.cross_entropy(logits, target)
    grads = torch.autograd.grad(want, (user, table))
    got = full_ce(user, table, target)
    assert torch.allclose(got, want, atol=1e-6)
    for g, w in zip(torch.autograd.grad(got, (user, table)), grads):
        assert torch.allclose(g, w, atol=1e-6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = full_ce(user, table, target)
    assert low.dtype == torch.float32 and abs(low.item() - want.item()) < 0.05 * want.item()
    for g, w in zip(torch.autograd.grad(low, (user, table)), grads):
        assert torch.allclose(g, w, atol=0.05 * w.abs().max().item())


@pytest.mark.parametrize("chunk", [11, 3 * 11, 1 << 20])
def test_full_ce_with_exclusions_is_the_dense_ce_with_those_items_masked(monkeypatch, chunk):
    """Excluded items get no probability (value and both gradients as F.cross_entropy with their logits at -inf),
    a row's own target is never excluded, and 0 entries exclude nothing but the padding."""
    import slmrec.distill as distill

    monkeypatch.setattr(distill, "CE_CHUNK_ELEMENTS", chunk)
    torch.manual_seed(0)
    user, table = torch.randn(5, 8, requires_grad=True), torch.randn(11, 8, requires_grad=True)
    target = torch.tensor([1, 2, 3, 10, 4])
    exclude = torch.tensor([[2, 3, 0], [2, 5, 6], [0, 0, 0], [1, 9, 9], [4, 7, 1]])  # row 1 and 4: their target too
    logits = user @ table.T
    masked = torch.zeros_like(logits, dtype=torch.bool)
    masked[:, 0] = True
    for r, row in enumerate(exclude.tolist()):
        for i in row:
            masked[r, i] |= i != int(target[r])
    want = torch.nn.functional.cross_entropy(logits.masked_fill(masked, float("-inf")), target)
    grads = torch.autograd.grad(want, (user, table))
    got = full_ce(user, table, target, exclude)
    assert torch.allclose(got, want, atol=1e-6)
    for g, w in zip(torch.autograd.grad(got, (user, table)), grads):
        assert torch.allclose(g, w, atol=1e-6)
    assert got.item() < full_ce(user, table, target).item()  # fewer competitors, lower CE


def test_the_full_ce_gradients_follow_the_loss_they_are_part_of():
    """The gradients are computed in the forward and scaled by the incoming one: a weighted sum with another term,
    a frozen operand (no gradient for it), and no_grad (a value, no graph) all match the dense form."""
    torch.manual_seed(1)
    user, table = torch.randn(6, 8, requires_grad=True), torch.randn(11, 8, requires_grad=True)
    target = torch.tensor([1, 2, 3, 10, 4, 4])

    def dense(u, t):
        logits = (u @ t.T).index_fill(1, torch.tensor([0]), float("-inf"))
        return torch.nn.functional.cross_entropy(logits, target)

    want = torch.autograd.grad(2.5 * dense(user, table) + (user**2).sum(), (user, table))
    got = torch.autograd.grad(2.5 * full_ce(user, table, target) + (user**2).sum(), (user, table))
    for g, w in zip(got, want):
        assert torch.allclose(g, w, atol=1e-6)
    frozen = table.detach()
    (only_user,) = torch.autograd.grad(-full_ce(user, frozen, target), (user,))
    assert torch.allclose(only_user, -torch.autograd.grad(dense(user, frozen), (user,))[0], atol=1e-6)
    with torch.no_grad():
        value = full_ce(user, table, target)
    assert not value.requires_grad and torch.allclose(value, dense(user, table), atol=1e-6)


def test_softmax_exclusions_follow_their_rule():
    from slmrec.distill import softmax_exclusions

    ids = torch.tensor([[0, 5, 6, 7]])  # left padding, then the window's inputs
    positives = torch.tensor([[0, 6, 7, 8]])
    assert softmax_exclusions(ids, positives, "none") is None
    hist = softmax_exclusions(ids, positives, "history")[0]
    assert [sorted(set(r.tolist()) - {0}) for r in hist] == [[], [5], [5, 6], [5, 6, 7]]  # positions <= t only
    window = softmax_exclusions(ids, positives, "window")[0]
    assert all(sorted(set(r.tolist()) - {0}) == [5, 6, 7, 8] for r in window)
    with pytest.raises(ValueError, match="unknown"):
        softmax_exclusions(ids, positives, "all")


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
    assert all(
        torch.allclose(a, b, atol=1e-4)
        for a, b in zip(kd_terms(shift(s, big), shift(t, -big), pairs, center=True), centred)
    )
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
    assert float(full_ce(out["user"], m.item_emb, target).detach()) == pytest.approx(math.log(30), rel=1e-5)
    assert all(
        float(full_ce(u, m.item_emb, target).detach()) == pytest.approx(math.log(30), rel=1e-5)
        for u in out["head_users"]
    )
    with torch.no_grad():
        m.heads[0].weight.normal_()
    h = out["states"][m.head_layers[0]]
    assert torch.allclose(m(ids, states=True)["head_users"][0], m.heads[0](m.decoder().norm(h)), atol=1e-5)


def _pair(blocks=2, positions="all"):
    """(teacher, student) LLMRec with llm.positions all (or ``positions``) on the tiny random backbone, and their
    item table."""
    from slmrec import backbone
    from slmrec.config import preset
    from slmrec.models import LLMRec

    cfg = preset("tiny").llm
    spec = backbone.resolve("random")
    torch.manual_seed(0)
    table = torch.randn(21, 32)
    teacher = LLMRec(backbone.load(spec, 4, cfg, max_layers=4)[0], table, positions=positions).eval()
    student = LLMRec(backbone.load(spec, 2, cfg, max_layers=4)[0], table, blocks=blocks, positions=positions).eval()
    teacher.requires_grad_(False)
    return teacher, student, table


def _windows():
    """A batch as SequenceBatches gives it: left-padded inputs, the next item at every non-padded slot."""
    ids = torch.tensor([[0, 0, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6], [0, 0, 0, 0, 0, 7]])
    positives = torch.tensor([[0, 0, 4, 5, 6, 9], [2, 3, 4, 5, 6, 8], [0, 0, 0, 0, 0, 1]])
    return {"input_ids": ids, "positives": positives, "negatives": torch.zeros(3, 6, 0, dtype=torch.long)}


def test_positions_all_loss_is_the_mean_of_the_per_position_ces():
    """sequence_loss and the SLMRec CE term on an LLM with positions all = the mean over every target of the CE of
    the user vector of the history up to that slot (the input cut right after it, so no later item is seen)."""
    from slmrec.distill import sequence_loss

    teacher, student, table = _pair()
    batch = _windows()
    ids, positives = batch["input_ids"], batch["positives"]
    for model in (teacher, student):
        naive = [
            full_ce(model(ids[b : b + 1, : t + 1])["user"], table, positives[b, t : t + 1])
            for b in range(3)
            for t in range(6)
            if positives[b, t] > 0
        ]
        assert len(naive) == 11
        loss, parts = sequence_loss(model, batch, table)
        assert loss.item() == pytest.approx(torch.stack(naive).mean().item(), rel=1e-5)
    loss, parts = slmrec_loss(student, batch, table, teacher, block_pairs(4, 2, 2), 1.0, 0.1, 1.0)
    assert parts["ce"].item() == pytest.approx(sequence_loss(student, batch, table)[0].item(), rel=1e-5)
    assert parts["cos"] > 0 and parts["norm"] > 0 and parts["ms"] > 0
    assert loss.item() == pytest.approx(
        (parts["ce"] + parts["ms"] + parts["cos"] + 0.1 * parts["norm"]).item(), rel=1e-5
    )


def test_positions_all_kd_reads_every_item_slot_and_no_padding():
    """KD at every position: the teacher's states (and scores) at padded slots do not change the loss; at an item
    slot, even one that is not the last, they do."""
    teacher, student, table = _pair()
    batch = _windows()
    pairs = block_pairs(4, 2, 2)

    def shifted(where):  # the teacher with its states and scores moved at the slots where(ids) is true
        def run(ids, states=True, positions=True):
            out = teacher(ids, states=states, positions=positions)
            at = where(ids).unsqueeze(-1).float()
            return {
                "user": out["user"],
                "positions": out["positions"] + 3 * at,
                "states": [h + 3 * at for h in out["states"]],
            }

        return run

    first_item = torch.zeros(3, 6, dtype=torch.bool)
    first_item[0, 2] = True  # user 0's oldest item, far from the last slot
    for center in (False, True):

        def loss(t):
            return slmrec_loss(student, batch, table, t, pairs, 1.0, 0.1, 1.0, center, 0.5)[0].item()

        base = loss(teacher)
        assert loss(shifted(lambda ids: ids == 0)) == pytest.approx(base, rel=1e-6)
        assert abs(loss(shifted(lambda ids: first_item)) - base) > 1e-3


def test_the_teacher_cache_keeps_every_position():
    """distill.cache with positions all: the cache of windows answers with the teacher's [B, L, H] states."""
    import contextlib

    import numpy as np

    from slmrec.sampling import SequenceBatches
    from slmrec.teacher_cache import TeacherCache

    teacher, student, table = _pair()
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 15, size=12)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    items = rng.integers(1, 21, size=int(offsets[-1]))
    every = SequenceBatches(
        offsets, items, 20, max_len=6, batch_size=8, num_negatives=0, windows=6, shuffle=False, even=False
    )
    pairs = block_pairs(4, 2, 2)
    cache = TeacherCache(teacher, every, [t for _, t in pairs], "cpu", contextlib.nullcontext, positions=True)
    shuffled = SequenceBatches(offsets, items, 20, max_len=6, batch_size=8, num_negatives=0, windows=6, seed=3)
    batch = {k: torch.as_tensor(v) for k, v in next(iter(shuffled.epoch(1))).items()}
    online = slmrec_loss(student, batch, table, teacher, pairs, 1.0, 0.1, 1.0, False, 0.5)[0]
    cached = slmrec_loss(student, batch, table, cache, pairs, 1.0, 0.1, 1.0, False, 0.5)[0]
    assert cached.item() == pytest.approx(online.item(), rel=1e-5)
    assert torch.allclose(
        cache(batch["input_ids"], positions=True)["user"], teacher(batch["input_ids"])["user"], atol=1e-5
    )
    with pytest.raises(ValueError, match="positions"):
        cache(batch["input_ids"])  # a last-position question to a cache of every position


def _cache_data(positions: bool, max_len: int = 6, seed: int = 0):
    """(every, shuffled): the unshuffled epoch a teacher cache is filled from and a training order, windows of
    ``max_len`` with ``positions``, else last-item examples of every prefix (inputs repeat across users)."""
    import numpy as np

    from slmrec.sampling import LastItemBatches, SequenceBatches

    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 15, size=12)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    items = rng.integers(1, 21, size=int(offsets[-1]))
    if positions:
        make = lambda **kw: SequenceBatches(
            offsets, items, 20, max_len=max_len, batch_size=8, num_negatives=0, windows=max_len, **kw
        )
    else:
        make = lambda **kw: LastItemBatches(offsets, items, 20, max_len=max_len, batch_size=8, all_prefixes=True, **kw)
    return make(shuffle=False, even=False), make(seed=seed)


def _counted(teacher):
    """``teacher`` with a count of its forward calls in ``teacher.calls``."""
    forward = teacher.forward
    teacher.calls = 0

    def counted(*args, **kwargs):
        teacher.calls += 1
        return forward(*args, **kwargs)

    teacher.forward = counted
    return teacher


def _disk_cache(teacher, every, path, positions, context=None, lines=None):
    """A TeacherCache forced onto disk (in-memory bound 0) under ``path``; its printed lines go to ``lines``."""
    import contextlib

    from slmrec.teacher_cache import TeacherCache

    keep = [t for _, t in block_pairs(4, 2, 2)]
    log = (lines if lines is not None else []).append
    return TeacherCache(
        teacher, every, keep, "cpu", contextlib.nullcontext, positions, path, context or {"max_len": 6}, 0, log
    )


@pytest.mark.parametrize("positions", [False, True], ids=["last", "all"])
def test_the_on_disk_teacher_cache_gives_the_online_loss_and_gradients(tmp_path, positions):
    """Over the memory bound the cache is a memory-mapped fp32 file: the same loss and gradients as the teacher's
    forward (loss rel 1e-5, gradients rtol 1e-4 / atol 1e-6), and bit for bit the in-memory cache's."""
    import contextlib

    import numpy as np

    from slmrec.teacher_cache import FILE, TeacherCache

    teacher, student, table = _pair(positions="all" if positions else "last")
    every, shuffled = _cache_data(positions)
    pairs = block_pairs(4, 2, 2)
    lines = []
    disk = _disk_cache(teacher, every, tmp_path, positions, lines=lines)
    memory = TeacherCache(teacher, every, [t for _, t in pairs], "cpu", contextlib.nullcontext, positions)
    assert (tmp_path / FILE).is_file() and not (tmp_path / (FILE + ".tmp")).exists()
    assert len(lines) == 1 and "no cache" in lines[0] and len(disk) == len(memory)
    assert not isinstance(memory.users, np.ndarray) and isinstance(disk.users, np.ndarray)
    batch = {k: torch.as_tensor(v) for k, v in next(iter(shuffled.epoch(1))).items()}
    results = []
    for t in (teacher, disk, memory):
        student.zero_grad()
        loss = slmrec_loss(student, batch, table, t, pairs, 1.0, 0.1, 1.0, False, 0.5)[0]
        loss.backward()
        results.append((loss.detach(), [p.grad.clone() for p in student.parameters() if p.grad is not None]))
    (online, online_grads), (on_disk, disk_grads), (in_memory, memory_grads) = results
    assert on_disk.item() == pytest.approx(online.item(), rel=1e-5)
    assert len(disk_grads) == len(online_grads) > 0
    assert all(torch.allclose(a, b, rtol=1e-4, atol=1e-6) for a, b in zip(online_grads, disk_grads))
    assert torch.equal(on_disk, in_memory) and all(torch.equal(a, b) for a, b in zip(disk_grads, memory_grads))


def test_a_second_on_disk_cache_reads_the_file_instead_of_the_teacher(tmp_path):
    teacher, _, _ = _pair()
    every, shuffled = _cache_data(True)
    first = _disk_cache(_counted(teacher), every, tmp_path, True)
    assert teacher.calls > 0
    teacher.calls, lines = 0, []
    second = _disk_cache(teacher, every, tmp_path, True, lines=lines)
    assert teacher.calls == 0 and len(lines) == 1 and lines[0].startswith("teacher cache: read")
    ids = torch.as_tensor(next(iter(shuffled.epoch(1)))["input_ids"])
    a, b = first(ids, positions=True), second(ids, positions=True)
    assert torch.equal(a["positions"], b["positions"]) and all(
        torch.equal(x, y) for x, y in zip(a["states"], b["states"]) if x is not None
    )


@pytest.mark.parametrize("change", ["weights", "max_len", "context", "truncated", "garbage", "killed"])
def test_a_stale_truncated_or_half_written_on_disk_cache_is_rebuilt_and_says_why(tmp_path, change):
    """A cache whose teacher, inputs or context differ, or whose file is cut short, unreadable or was never
    renamed (the writer died), is rebuilt with one line naming why, and answers with the current teacher."""
    from slmrec.teacher_cache import FILE

    teacher, _, _ = _pair()
    every, _ = _cache_data(True)
    context, max_len = {"max_len": 6}, 6
    if change == "killed":
        calls = {"n": 0}
        forward = teacher.forward

        def dies(*args, **kwargs):  # the writer fails after its first batch
            calls["n"] += 1
            if calls["n"] == 2:
                raise KeyboardInterrupt
            return forward(*args, **kwargs)

        teacher.forward = dies
        with pytest.raises(KeyboardInterrupt):
            _disk_cache(teacher, every, tmp_path, True)
        teacher.forward = forward
        assert not (tmp_path / FILE).exists() and (tmp_path / (FILE + ".tmp")).is_file()
    else:
        _disk_cache(teacher, every, tmp_path, True)
    if change == "weights":
        with torch.no_grad():
            teacher.score.weight.mul_(2.0)
    elif change == "max_len":
        max_len = context["max_len"] = 5
        every, _ = _cache_data(True, max_len=5)
    elif change == "context":
        context = {**context, "teacher_sha256": "another teacher"}
    elif change == "truncated":
        with open(tmp_path / FILE, "rb+") as f:
            f.truncate((tmp_path / FILE).stat().st_size - 4)
    elif change == "garbage":
        (tmp_path / FILE).write_bytes(b"not a cache")
    lines = []
    cache = _disk_cache(_counted(teacher), every, tmp_path, True, context=context, lines=lines)
    assert teacher.calls > 0 and len(lines) == 1 and "computing" in lines[0]
    why = {
        "weights": "stale (weights differ)",
        "max_len": "stale (inputs, max_len, layout differ)",
        "context": "stale (teacher_sha256 differ)",
        "truncated": "truncated",
        "garbage": "unreadable",
        "killed": "no cache",
    }[change]
    assert why in lines[0], lines[0]
    ids = torch.as_tensor(next(iter(every.epoch(0)))["input_ids"])
    with torch.no_grad():
        online = teacher.forward(ids, states=True, positions=True)["positions"]
    assert ids.shape[1] == max_len
    assert torch.allclose(cache(ids, positions=True)["positions"], online, atol=1e-5)
    assert not (tmp_path / (FILE + ".tmp")).exists()
