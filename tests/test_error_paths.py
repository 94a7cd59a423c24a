"""Errors mean what they say (issue 16 item 8): a file the user can fix is one clear error (ConfigError,
CheckpointError, exit 2); a bug or the machine (MemoryError, a RuntimeError from inside a library, a caught panic)
is never reported as bad user input. Small checkpoints are written by the tests themselves."""

import json
import pickle

import pytest

torch = pytest.importorskip("torch")

import slmrec  # noqa: E402
from slmrec import backbone, checkpoint  # noqa: E402
from slmrec.config import preset  # noqa: E402
from slmrec.errors import CheckpointError, ConfigError, InternalError  # noqa: E402

BUGS = [MemoryError(), RuntimeError("CUDA out of memory"), TypeError("a library regression"), InternalError("panic")]


@pytest.fixture
def hf_dir(tmp_path):
    """A tiny Llama checkpoint directory (config.json + model.safetensors), no tokenizer."""
    from transformers import LlamaConfig, LlamaModel

    conf = LlamaConfig(
        hidden_size=32,
        intermediate_size=64,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=100,
        num_hidden_layers=2,
    )
    LlamaModel(conf).save_pretrained(tmp_path / "ckpt")
    return tmp_path / "ckpt"


def _load(path):
    backbone._CACHE.clear()
    return backbone.load(backbone.resolve(str(path)), 2, preset("tiny").llm, max_layers=2)


def test_a_good_checkpoint_without_a_tokenizer_loads(hf_dir):
    model, tokenizer = _load(hf_dir)
    assert len(model.layers) == 2 and tokenizer is None


@pytest.mark.parametrize("damage", ["no-weights", "truncated", "garbage", "other-shape", "bad-config"])
def test_a_checkpoint_that_does_not_load_is_a_config_error(hf_dir, damage):
    weights = hf_dir / "model.safetensors"
    conf = json.loads((hf_dir / "config.json").read_text())
    if damage == "no-weights":
        weights.unlink()
    elif damage == "truncated":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif damage == "garbage":
        weights.write_bytes(b"\xff" * 64)
    elif damage == "other-shape":
        (hf_dir / "config.json").write_text(json.dumps({**conf, "hidden_size": 64, "head_dim": 16}))
    else:
        (hf_dir / "config.json").write_text(json.dumps({**conf, "num_attention_heads": 5, "head_dim": None}))
    with pytest.raises(ConfigError, match=rf"^backbone {hf_dir}: cannot load \("):
        _load(hf_dir)


@pytest.mark.parametrize("bug", BUGS, ids=lambda e: type(e).__name__)
def test_a_bug_while_loading_a_backbone_is_not_the_users_checkpoint(hf_dir, monkeypatch, bug):
    from transformers import AutoModel, AutoTokenizer

    def boom(*args, **kwargs):
        raise bug

    monkeypatch.setattr(AutoModel, "from_pretrained", boom)
    with pytest.raises(type(bug)):
        _load(hf_dir)
    monkeypatch.undo()
    monkeypatch.setattr(AutoTokenizer, "from_pretrained", boom)  # the tokenizer's loader: same rule
    with pytest.raises(type(bug)):
        _load(hf_dir)


def test_is_bad_checkpoint():
    from safetensors import SafetensorError

    assert all(
        backbone.is_bad_checkpoint(e)
        for e in [
            OSError("x"),
            FileNotFoundError("x"),
            ValueError("x"),
            UnicodeDecodeError("utf-8", b"\xff", 0, 1, "x"),
            SafetensorError("header too small"),
            RuntimeError("... set `ignore_mismatched_sizes` to `False`"),
        ]
    )
    assert not any(backbone.is_bad_checkpoint(e) for e in [*BUGS, KeyboardInterrupt()])


@pytest.fixture
def saved(tmp_path):
    """An accelerate checkpoint of a tiny model, written by checkpoint.save_state."""
    from accelerate import Accelerator

    acc = Accelerator(cpu=True)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model, opt = acc.prepare(model, opt)
    checkpoint.save_state(acc, tmp_path / "ckpt", {"epoch": 1, "global_step": 7})
    return acc, tmp_path / "ckpt"


def test_a_saved_state_loads(saved):
    acc, path = saved
    assert checkpoint.load_state(acc, path) == {"epoch": 1, "global_step": 7}


@pytest.mark.parametrize("bug", BUGS, ids=lambda e: type(e).__name__)
def test_a_bug_while_loading_a_checkpoint_is_not_called_corrupt(saved, monkeypatch, bug):
    acc, path = saved

    def boom(*args, **kwargs):
        raise bug

    monkeypatch.setattr(acc, "load_state", boom)
    with pytest.raises(type(bug)):
        checkpoint.load_state(acc, path)
    monkeypatch.undo()
    monkeypatch.setattr("accelerate.utils.load", boom)  # the RNG state's reader, in the integrity pass
    with pytest.raises(type(bug)):
        checkpoint.load_state(acc, path)


@pytest.mark.parametrize(
    "fault",
    [
        pickle.UnpicklingError("Weights only load failed"),
        OSError("gone"),
        RuntimeError("Error(s) in loading state_dict for Linear: size mismatch"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_what_a_bad_file_raises_stays_a_checkpoint_error(saved, monkeypatch, fault):
    acc, path = saved

    def bad(*args, **kwargs):
        raise fault

    monkeypatch.setattr(acc, "load_state", bad)
    with pytest.raises(CheckpointError, match=rf"checkpoint {path} cannot be loaded .*delete {path}"):
        checkpoint.load_state(acc, path)


def test_an_integrity_record_without_its_file_list_is_corrupt_not_a_traceback(saved):
    acc, path = saved
    state = json.loads((path / checkpoint.STATE_FILE).read_text())
    state[checkpoint.INTEGRITY]["files"] = ["model.safetensors"]
    (path / checkpoint.STATE_FILE).write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match="no valid list of files"):
        checkpoint.load_state(acc, path)


def test_unreadable_weights_are_a_checkpoint_error_and_a_bug_is_not(tmp_path, monkeypatch):
    from safetensors.torch import save_file

    path = tmp_path / "w.safetensors"
    save_file({"a": torch.ones(100)}, str(path))
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(CheckpointError, match="unreadable \\(SafetensorError"):
        checkpoint.read_weights(path)
    monkeypatch.setattr(checkpoint, "safe_open", lambda *a, **k: (_ for _ in ()).throw(MemoryError()))
    with pytest.raises(MemoryError):
        checkpoint.read_weights(path)


@pytest.mark.parametrize("bug", BUGS, ids=lambda e: type(e).__name__)
def test_the_clis_report_a_bug_as_a_bug(tmp_path, monkeypatch, capsys, bug):
    from slmrec.cli import prep, train

    def boom(*args, **kwargs):
        raise bug

    monkeypatch.setattr(slmrec, "prepare", boom)
    with pytest.raises(type(bug)):
        prep.prep_main([str(tmp_path / "in.json"), "--out", str(tmp_path / "ds"), "-q"])
    monkeypatch.setattr(train.configs, "validate", boom)
    with pytest.raises(type(bug)):
        train.main(["--preset", "tiny", "--out", str(tmp_path / "run")])
    assert "error:" not in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_the_clis_still_report_the_users_errors_in_one_line(tmp_path, monkeypatch, capsys):
    from slmrec.cli import prep, train

    def bad(*args, **kwargs):
        raise ConfigError("that cannot work")

    monkeypatch.setattr(slmrec, "prepare", bad)
    assert prep.prep_main([str(tmp_path / "in.json"), "--out", str(tmp_path / "ds"), "-q"]) == 2
    monkeypatch.setattr(train.configs, "validate", bad)
    assert train.main(["--preset", "tiny", "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "slmrec-prep: error: that cannot work",
        "slmrec-train: error: that cannot work",
    ]


def test_every_install_hint_names_an_extra_that_exists():
    """A hint such as ``pip install 'slmrec[smollm2]'`` must name an extra pyproject.toml defines."""
    import re
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    extras = set(tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    texts = [
        p.read_text() for p in [root / "README.md", *(root / "python").rglob("*.py"), *(root / "scripts").glob("*")]
    ]
    named = {m for t in texts for m in re.findall(r"slmrec\[([\w,-]+)\]", t)}
    assert {x for n in named for x in n.split(",")} <= extras, (named, extras)
