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
        SASRec(10, 5, init="xavier")
