"""The run configuration: frozen dataclasses, three presets, and overrides from strings.

Design: one ``Config`` made of small frozen sections (``data``, ``sasrec``, ``llm``, ``teacher``, ``student``,
``distill``, ``eval``, ``run``), each field with one comment. Keys are dotted (``teacher.lr``); the CLI derives one
flag per key from these fields (``--teacher.lr 3e-4``), and an unknown key is a :class:`~slmrec.errors.ConfigError`,
never silently ignored. ``validate`` checks what can be checked before any training (layers that divide into
blocks, batches that divide into devices and accumulation steps). The resolved config is saved with every run as
JSON and read back with :func:`from_dict`, which refuses unknown keys too.

Defaults follow METHOD.md §7 (the authors' run scripts): teacher 8 layers -> student 4 layers, B = 4 blocks,
LoRA r=16/alpha=16/dropout 0.05 on gate/up/down, lr 1e-3 cosine, warmup 100/50, epochs 3/5, history 30,
lambda_cos = 1, lambda_norm = 0.1, lambda_ms = 1, model selection on validation MRR.
This module imports no torch, so ``import slmrec`` stays light.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

from slmrec.errors import ConfigError
from slmrec.stages import ORDER as STAGES  # the stage names, declared in slmrec.stages

# the allowed values of each key that takes one of a few words; validate() checks them (one rule, one message)
CHOICES = {
    "llm.finetune": ("lora", "full"),
    "data.train_mode": ("last", "all_prefixes"),
    "llm.head_init": ("default", "zero"),
    "llm.positions": ("last", "all"),
    "llm.init": ("pretrained", "random"),
    "eval.full_exclude": ("history", "none"),
    "eval.cold": ("keep", "drop"),
    "sasrec.positions": ("last", "all"),
    "sasrec.act": ("relu", "gelu"),
    "sasrec.attention": ("mha", "sdpa"),
    "sasrec.negatives_from": ("unseen", "any"),
    "sasrec.softmax_exclude": ("none", "history", "window"),
    "sasrec.init": ("torch", "normal", "xavier"),
    "sasrec.schedule": ("constant", "cosine"),
    "run.mixed_precision": ("auto", "no", "bf16", "fp16"),
    "eval.select": ("mrr", "ndcg@10", "hr@10", "full_mrr", "full_ndcg@10", "full_hr@10"),
}


@dataclass(frozen=True)
class DataConfig:
    max_len: int = 30  # history length fed to every model (left-padded with 0, most recent kept)
    train_mode: str = "last"  # "last": one example per user (target = last training item, as the code) | "all_prefixes"
    synth_users: int = 2000  # users of the embedded synthetic dataset, used when --data is not given
    synth_items: int = 0  # items of the embedded synthetic dataset (0 = the generator's default)
    seed: int = 0  # seed of the synthetic dataset and of the training batch order


@dataclass(frozen=True)
class SASRecConfig:
    emb_dim: int = 128  # item embedding size handed to the LLM stages (METHOD.md §3: 128)
    hidden: int = 32  # transformer width (the code's up_emb 128 -> 32)
    layers: int = 2  # transformer blocks
    heads: int = 1  # attention heads
    inner: int = 0  # feed-forward width (0 = hidden, the code's; RecBole's SASRec uses 4 x hidden)
    dropout: float = 0.5  # dropout on embeddings, attention and feed-forward
    item_dropout: float = 0.0  # dropout on the whole item table, one mask per training step shared by the input
    # lookup and the scores (RecTools' item-net dropout; 0 = off, the code's)
    epochs: int = 50  # training epochs (the budget when sasrec.steps is 0)
    steps: int = 0  # training length in optimizer steps (0 = epochs x steps per epoch)
    batch_size: int = 1024  # global batch (all processes, all accumulation steps)
    lr: float = 1e-4  # Adam learning rate (METHOD.md §3.2 [C-old])
    schedule: str = "constant"  # "constant" (the code's, RecTools') | "cosine": from lr down to 0 over the planned
    # steps (sasrec.steps, else sasrec.epochs x steps per epoch; no warmup), early stopping still applies
    eval_every: int = 0  # validate (and checkpoint) every this many steps and at the end (0 = each epoch end)
    patience: int = 0  # stop after this many validations without a new best (0 = never stop early)
    min_steps: int = 0  # no early stop before this many optimizer steps
    init: str = "torch"  # weight init: "torch" (PyTorch defaults, as the SLMRec code) | "normal" (N(0, 0.02),
    # RecBole's) | "xavier" (Xavier-normal weight matrices and tables, RecTools')
    project: bool = True  # up/down maps between the item table and the transformer (the code's); false = SASRec's
    # own shape (needs hidden == emb_dim)
    scale: bool = True  # multiply item embeddings by sqrt(emb_dim) on input (SASRec's, the code's); false = RecTools'
    beta2: float = 0.999  # Adam's second-moment decay (RecTools: 0.98)
    positions: str = "last"  # "last": CE on each example's last item (the code's; examples per data.train_mode) |
    # "all": CE at every position of max_len windows tiling each user's train part (SASRec's own training)
    stride: int = 0  # positions "all": new targets per window, the rest of its max_len is context (0 = max_len)
    act: str = "relu"  # feed-forward activation: "relu" (the code's, SASRec's) | "gelu" (RecBole's)
    from_end: bool = False  # count positions from the newest item; batches are then cut to their longest history
    negatives: int = 0  # positions "all": sampled-softmax negatives per target, uniform, from where negatives_from
    # says (0 = full softmax over every item)
    attention: str = "mha"  # "mha": nn.MultiheadAttention (the code's) | "sdpa": F.scaled_dot_product_attention on
    # the same parameters (same eval outputs; a speed lever, measured by benches/bench_sasrec_levers.py)
    compile: bool = False  # torch.compile the SASRec module in place (nn.Module.compile, dynamic shapes: the same
    # parameters and state dict; a speed lever, measured by benches/bench_sasrec_levers.py; needs a C++ compiler)
    negatives_from: str = "unseen"  # "unseen": never an item of the user's train part (the core sampler's) | "any":
    # uniform over every item, the user's own included (RecTools'; a draw equal to the target is masked)
    softmax_exclude: str = "none"  # positions "all", full softmax: items that are not negatives of a position:
    # "none" (every item is) | "history": the window's items up to the position (what full-ranking evaluation
    # excludes) | "window": every item of the window, before and after it (near the sampler's "unseen")
    bucket: int = 0  # positions "all": batches of similar history length, from pools of this many batches (0 = off)
    recipe: str = "reference"  # "reference": the keys as given (by default the SLMRec code's SASRec, reproduced:
    # it learns slowly) | "strong": a real SASRec, from SASREC_RECIPES["strong"] (SASRec+SS of the eSASRec
    # benchmark: all-position training, history 50, early stopping; the full softmax, see README)


@dataclass(frozen=True)
class LLMConfig:
    backbone: str = ""  # "random" | "smollm2" | a local HF checkpoint dir | a local .gguf file
    teacher_layers: int = 8  # M: decoder layers kept for the teacher (the first M)
    student_layers: int = 4  # N: decoder layers kept for the student (the first N)
    finetune: str = "lora"  # "lora" (peft, on gate/up/down projections) | "full"
    init: str = "pretrained"  # "pretrained" (the backbone's weights) | "random" (same architecture, re-initialised)
    lora_r: int = 16  # LoRA rank
    lora_alpha: int = 16  # LoRA alpha
    lora_dropout: float = 0.05  # LoRA dropout
    prompt: bool = True  # wrap the item slots in the code's alpaca prompt (needs the backbone's tokenizer)
    head_init: str = "default"  # score and multi-supervision heads: "default" (PyTorch's, the code's) | "zero"
    # (training starts at uniform scores, CE = log(items), instead of a badly scaled CE of 30-70)
    positions: str = "last"  # "last": the prompt suffix, the user vector at the last position, one target per example
    # (the paper's, the code's) | "all": an extension beyond the paper: no suffix, every item position predicts the
    # next item (causal), CE and KD at every position of max_len windows tiling each user's train part (SASRec's
    # all-position training; data.train_mode then applies to SASRec only)
    random_hidden: int = 64  # "random" backbone only: hidden size
    random_intermediate: int = 128  # "random" backbone only: MLP size
    random_heads: int = 4  # "random" backbone only: attention heads
    random_kv_heads: int = 2  # "random" backbone only: key/value heads
    random_vocab: int = 128  # "random" backbone only: vocabulary size
    random_layers: int = 8  # "random" backbone only: layers of the full random decoder (>= teacher_layers)


@dataclass(frozen=True)
class StageConfig:
    epochs: int = 3  # training epochs (the budget when steps is 0)
    steps: int = 0  # training length in optimizer steps (0 = epochs x steps per epoch); the cosine ends there
    batch_size: int = 256  # global batch: per-device micro batch x processes x grad_accum
    grad_accum: int = 1  # gradient accumulation steps per optimizer step
    lr: float = 1e-3  # AdamW peak learning rate
    warmup_steps: int = 100  # linear warmup (optimizer steps), then cosine decay to 0
    warmup_ratio: float = 0.0  # warmup as a fraction of the training steps instead (then warmup_steps must be 0)
    weight_decay: float = 0.0  # AdamW weight decay
    beta2: float = 0.999  # AdamW's second-moment decay
    max_grad_norm: float = 1.0  # gradient clipping (0 = off)
    eval_every: int = 100  # validate (and checkpoint) every this many steps and at the end (0 = each epoch end)
    patience: int = 0  # stop after this many validations without a new best (0 = never stop early)
    min_steps: int = 0  # no early stop before this many optimizer steps


@dataclass(frozen=True)
class DistillConfig:
    blocks: int = 4  # B: teacher and student are cut into B blocks; block k ends at layer k*M/B resp. k*N/B
    lambda_cos: float = 1.0  # weight of sum_k (1 - cos(student_k, teacher_k))
    lambda_norm: float = 0.1  # weight of sum_k ||student_k - teacher_k||_2 (hard-coded 0.1 in the code)
    lambda_ms: float = 1.0  # weight of the multi-supervision CE of the B-1 extra heads on intermediate blocks
    ms_norm: bool = False  # apply the backbone's frozen final RMSNorm before the multi-supervision heads
    center: bool = False  # cos and L2 on batch-centred block states (the user-independent prompt offset drops out)
    logit_kd: float = 0.0  # weight of KL(teacher || student) of the final scores over every item (METHOD.md §5.4)
    cache: bool = False  # compute the frozen teacher's states once per training input and reuse them every epoch


@dataclass(frozen=True)
class EvalConfig:
    negatives: int = 999  # sampled negatives per user (fixed, seeded, persisted; capped at what the catalogue allows)
    seed: int = 0  # seed of the negatives
    select: str = "mrr"  # validation metric for model selection: "mrr" | "ndcg@10" | "hr@10" (1 + negatives
    # candidates) | "full_mrr" | "full_ndcg@10" | "full_hr@10" (every item ranked; eSASRec's benchmark selects on HR@10)
    batch_size: int = 256  # users per evaluation batch and process
    full_ranking: bool = True  # also rank the target among all items (the user's other history excluded)
    full_exclude: str = "history"  # full ranking excludes "history" (the user's other items) | "none" (RecBole's rule)
    users: int = 0  # evaluate a fixed sample of this many users, the same for every split and model (0 = all)
    cold: str = "keep"  # "keep" every user | "drop" the users whose target occurs in no user's training part of the
    # split (RecTools' filter_cold_items, the eSASRec benchmark's rule; result.json's "users" counts who is left)


@dataclass(frozen=True)
class RunConfig:
    stages: str = "sasrec,teacher,student,student_nokd,probe"  # comma-separated stages to run, in this order
    seed: int = 42  # seed of model initialisation and dropout
    mixed_precision: str = "auto"  # "auto" (bf16 where the GPU supports it, else fp32) | "no" | "bf16" | "fp16"
    save_every: int = 0  # also checkpoint every this many optimizer steps (0 = at evaluations and epoch ends)
    progress: bool = True  # show progress bars (loss, step/s, ETA)
    threads: int = 0  # torch's CPU threads per process (0 = torch's default, one per core); on a busy machine fewer
    # threads than cores can be much faster (no spinning on a core another job holds)
    log_with: str = ""  # experiment tracker: "" (none) | "tensorboard" (offline event files under RUN_DIR/logs)


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)  # dataset shape and batch order
    sasrec: SASRecConfig = field(default_factory=SASRecConfig)  # stage 1: item embeddings
    llm: LLMConfig = field(default_factory=LLMConfig)  # backbone, depths, fine-tuning mode
    teacher: StageConfig = field(default_factory=StageConfig)  # stage 2 optimisation
    student: StageConfig = field(  # stage 3 optimisation (also used for the no-KD student)
        default_factory=lambda: StageConfig(epochs=5, warmup_steps=50)
    )
    distill: DistillConfig = field(default_factory=DistillConfig)  # the SLMRec loss
    eval: EvalConfig = field(default_factory=EvalConfig)  # candidates and model selection
    run: RunConfig = field(default_factory=RunConfig)  # seeds, precision, stages

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def stages(self) -> list[str]:
        return [s.strip() for s in self.run.stages.split(",") if s.strip()]


def _tiny() -> Config:
    return Config(
        data=DataConfig(max_len=10, synth_users=300, synth_items=120),
        sasrec=SASRecConfig(emb_dim=32, hidden=16, epochs=6, batch_size=64, lr=3e-3, dropout=0.2),
        llm=LLMConfig(backbone="random", teacher_layers=4, student_layers=2, prompt=False, random_layers=4),
        teacher=StageConfig(epochs=2, batch_size=64, lr=3e-3, warmup_steps=2, eval_every=0),
        student=StageConfig(epochs=2, batch_size=64, lr=3e-3, warmup_steps=2, eval_every=0),
        distill=DistillConfig(blocks=2),
        eval=EvalConfig(negatives=49, batch_size=128),
    )


def _small() -> Config:
    # The real models at a size a 2-core CPU pays for: SmolLM2-135M (the paper's 8 -> 4 layers), the prompt on,
    # batch 64. Sized by examples and optimizer steps, not epochs (the paper's teacher sees ~384k examples in
    # ~1,500 steps at batch 256, its student ~2,500 steps):
    # - every training prefix is an example ("all preceding interactions", METHOD.md A2), so the LLM sees tens of
    #   thousands of distinct examples (LastFM ~49k, MovieLens-100K ~96k, Beauty ~131k) instead of one per user,
    #   which it memorises within a few epochs;
    # - each LLM stage gets 640 optimizer steps (~41k examples seen, a tenth of the paper's teacher; about one
    #   LastFM epoch), warmup 5%, cosine to 0, validation every 80 steps; early stopping keeps the best (patience 3
    #   validations, none before step 320). The KD student runs the frozen teacher online (distill.cache off):
    #   640 steps are less than one epoch of prefixes, so a cache would cost more teacher forwards (one per
    #   training example) than it saves (one per example seen); it pays from the second epoch on.
    # - SASRec trains on every position of its windows (SASRec's own training, the same targets the LLM sees), up
    #   to 200 epochs with patience 20 validations.
    # What a run costs is measured, not stated here: benches/bench_train.py (seconds per step) and README.
    llm_stage = StageConfig(
        steps=640, batch_size=64, warmup_steps=0, warmup_ratio=0.05, eval_every=80, patience=3, min_steps=320
    )
    return Config(
        data=DataConfig(synth_users=1000, train_mode="all_prefixes"),
        sasrec=SASRecConfig(epochs=200, batch_size=128, lr=1e-3, eval_every=0, positions="all", patience=20),
        llm=LLMConfig(backbone="smollm2"),
        teacher=llm_stage,
        student=llm_stage,
        eval=EvalConfig(batch_size=128),
    )


def _paper() -> Config:
    # METHOD.md §7.2; the backbone path must be given (--backbone /path/to/Llama-2-7b-hf).
    return Config(
        llm=LLMConfig(backbone=""),
        teacher=StageConfig(epochs=3, batch_size=256, lr=1e-3, warmup_steps=100, eval_every=100),
        student=StageConfig(epochs=5, batch_size=256, lr=1e-3, warmup_steps=50, eval_every=100),
        eval=EvalConfig(batch_size=512),
        run=RunConfig(mixed_precision="bf16"),
    )


PRESETS = {"tiny": _tiny, "small": _small, "paper": _paper}


def preset(name: str) -> Config:
    """The named preset (``tiny``, ``small``, ``paper``)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]()


def keys(cfg: Config | None = None) -> dict[str, Any]:
    """Every dotted key with its current value, e.g. ``{"teacher.lr": 0.001, ...}``."""
    cfg = cfg or Config()
    out = {}
    for section in fields(cfg):
        values = getattr(cfg, section.name)
        for f in fields(values):
            out[f"{section.name}.{f.name}"] = getattr(values, f.name)
    return out


def sasrec_windows(cfg: Config) -> int | None:
    """The SASRec stage's window stride (``sasrec.stride``, 0 meaning ``data.max_len``) when it trains every
    position, None when it trains the last position only. The one home of that rule: training and the report
    read it here, so a run with stride 0 and one with stride = max_len are the same windows."""
    if cfg.sasrec.positions != "all":
        return None
    return cfg.sasrec.stride or cfg.data.max_len


def effective_keys(cfg: Config) -> dict[str, Any]:
    """:func:`keys` with ``sasrec.stride`` as the windows it trains (:func:`sasrec_windows`), so that configs saved
    with stride 0 and with their max_len, the same training, compare equal (``--reuse``, the report)."""
    out = keys(cfg)
    if (w := sasrec_windows(cfg)) is not None:
        out["sasrec.stride"] = w
    return out


def field_comments() -> dict[str, str]:
    """Dotted key -> the one-line comment of its field in this file (used as CLI help)."""
    import inspect

    out: dict[str, str] = {}
    for section in fields(Config):
        cls = section.default_factory().__class__  # type: ignore[misc]
        last = None
        for line in inspect.getsource(cls).splitlines():
            name, _, rest = line.strip().partition(":")
            if "#" in rest and name.isidentifier():
                last = f"{section.name}.{name}"
                out[last] = rest.split("#", 1)[1].strip()
            elif line.strip().startswith("#") and last:  # a comment continued on the next line
                out[last] += " " + line.strip()[1:].strip()
            else:
                last = None
    return out


def suggest(key: str, known=None) -> str | None:
    """The known dotted key nearest to a mistyped ``key`` (difflib), or None when nothing is close."""
    import difflib

    known = list(known if known is not None else keys())
    name = key.rsplit(".", 1)[-1]
    elsewhere = [k for k in known if k.split(".", 1)[1] == name]  # the right name in the wrong section
    close = elsewhere or difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return close[0] if close else None


def _parse(key: str, text: Any, like: Any) -> Any:
    """``text`` (a string from the command line, or a JSON value from a saved config) as the type of ``like``."""
    want = (
        "true or false"
        if isinstance(like, bool)
        else "an integer"
        if isinstance(like, int)
        else "a number"
        if isinstance(like, float)
        else "a string"
    )
    if isinstance(text, str) and not isinstance(like, str):
        low = text.strip().lower()
        try:
            if isinstance(like, bool):
                if low not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                return low in ("true", "1", "yes")
            return int(low) if isinstance(like, int) else float(low)
        except ValueError:
            raise ConfigError(f"{key} takes {want}, not {text!r}") from None
    ok = (
        isinstance(text, bool)
        if isinstance(like, bool)
        else isinstance(text, int) and not isinstance(text, bool)
        if isinstance(like, int)
        else isinstance(text, (int, float)) and not isinstance(text, bool)
        if isinstance(like, float)
        else isinstance(text, str)
    )
    if not ok:
        raise ConfigError(f"{key} takes {want}, not {text!r} ({type(text).__name__})")
    return float(text) if isinstance(like, float) else text


# Named SASRec recipes: dotted keys set by ``sasrec.recipe NAME`` before the other overrides (which win). "strong"
# starts from the strongest published SASRec on these leave-one-out benchmarks, "SASRec+SS" of the eSASRec paper
# (github.com/blondered/transformer_benchmark: RecTools' SASRec, its README's Beauty hyper-parameters): SASRec's own
# shape (no up/down maps, unscaled inputs, Xavier-normal init, positions counted from the newest item), the authors'
# block (the LayerNorm'd query as the attention residual, a 1x ReLU feed-forward), 1 block, 1 head, dropout 0.2, history
# 50, every position a target against 256 uniform sampled negatives, Adam lr 1e-3 with beta2 0.98, batch 128, up to 200
# epochs. Changed from it by validation runs on Beauty (docs/RESULTS.md, the strong-recipe section, says which): the
# full softmax over every item instead of 256 sampled negatives (on Beauty better validation NDCG@10 under both
# rankings, history excluded or not; on MovieLens-100K worse, by less once the core sampler stopped drawing its
# negatives outside the whole history, which had kept every user's validation and test items out of training's
# negatives; leaving the history out of the full softmax, sasrec.softmax_exclude, does not close it), 128-d (its README
# 64, its configs 256; 256-d costs 3x a 128-d epoch here), the item-table dropout 0.2 that RecTools' item net applies
# (its dropout rate; we had none), no length buckets (they reweight the loss toward short histories), patience 10
# (theirs 50; the best epoch comes within a few epochs of the plateau, and a seed then trains in minutes), and a
# cosine from lr 2e-3 down to 0 over 40 epochs instead of a constant 1e-3 for up to 200 (a faster rise, then a higher
# plateau as the lr decays; on Beauty the best epoch came near the end of the 40, a fixed budget a fifth of the old
# cap; on MovieLens-100K early stopping still ends it before the decay). Also ours:
# with ``sasrec.negatives K``, negatives never in the user's train part (theirs: any item); early stopping on
# full-ranking validation NDCG@10 (theirs: HR@10). README, "SASRec recipes", lists every difference.
SASREC_RECIPES: dict[str, dict[str, Any]] = {
    "reference": {},
    "strong": {
        "data.max_len": 50,
        "sasrec.emb_dim": 128,
        "sasrec.hidden": 128,
        "sasrec.project": False,
        "sasrec.scale": False,
        "sasrec.heads": 1,
        "sasrec.layers": 1,
        "sasrec.inner": 0,
        "sasrec.act": "relu",
        "sasrec.dropout": 0.2,
        "sasrec.item_dropout": 0.2,
        "sasrec.init": "xavier",
        "sasrec.positions": "all",
        "sasrec.stride": 0,  # = data.max_len: windows of the history length, whatever --data.max_len says
        "sasrec.from_end": True,
        "sasrec.bucket": 0,
        "sasrec.negatives": 0,
        "sasrec.batch_size": 128,
        "sasrec.lr": 2e-3,
        "sasrec.schedule": "cosine",
        "sasrec.beta2": 0.98,
        "sasrec.epochs": 40,
        "sasrec.eval_every": 0,
        "sasrec.patience": 10,
        "eval.select": "full_ndcg@10",
    },
}


def override(cfg: Config, overrides: Mapping[str, Any]) -> Config:
    """A copy of ``cfg`` with dotted keys replaced; values may be strings (parsed by the field's type). A
    ``sasrec.recipe`` among them applies that recipe's keys first."""
    if "sasrec.recipe" in overrides:
        name = overrides["sasrec.recipe"]
        if name not in SASREC_RECIPES:
            raise ConfigError(f"unknown sasrec.recipe {name!r}; choose one of {', '.join(SASREC_RECIPES)}")
        cfg = override(cfg, SASREC_RECIPES[name])
        cfg = replace(cfg, sasrec=replace(cfg.sasrec, recipe=name))
        overrides = {k: v for k, v in overrides.items() if k != "sasrec.recipe"}
    known = keys(cfg)
    sections: dict[str, dict[str, Any]] = {}
    for key, text in overrides.items():
        if key not in known:
            near = suggest(key, known)
            raise ConfigError(
                f"unknown config key {key!r}; "
                + (f"did you mean {near}?" if near else f"known keys: {', '.join(known)}")
            )
        section, name = key.split(".", 1)
        sections.setdefault(section, {})[name] = _parse(key, text, known[key])
    return replace(cfg, **{s: replace(getattr(cfg, s), **kv) for s, kv in sections.items()})


def to_dict(cfg: Config) -> dict:
    return cfg.to_dict()


def from_dict(d: Mapping[str, Any]) -> Config:
    """Inverse of :meth:`Config.to_dict`; unknown sections or keys are errors. A saved config holds every key its
    recipe resolved to, so ``sasrec.recipe`` is kept as its name only: the recipe is not applied again (a key the
    saved config lacks, from an older version, takes its dataclass default, not today's recipe value)."""
    flat: dict[str, Any] = {}
    for section, values in d.items():
        if not isinstance(values, Mapping):
            raise ConfigError(f"config section {section!r} must be an object")
        for name, value in values.items():
            flat[f"{section}.{name}"] = value
    recipe = flat.pop("sasrec.recipe", None)
    cfg = override(Config(), flat)
    if recipe is not None:
        if recipe not in SASREC_RECIPES:
            raise ConfigError(f"unknown sasrec.recipe {recipe!r}; choose one of {', '.join(SASREC_RECIPES)}")
        cfg = replace(cfg, sasrec=replace(cfg.sasrec, recipe=recipe))
    return cfg


def save(cfg: Config, path) -> None:
    """Writes the resolved config as JSON (to a temporary name, then renamed)."""
    from pathlib import Path

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    tmp.replace(path)


def load(path) -> Config:
    from pathlib import Path

    try:
        return from_dict(json.loads(Path(path).read_text()))
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not valid JSON ({e})") from None


MAX_LEN = 4096  # the longest history a model takes (positions are embedded; batches are B x max_len)
SEED_MAX = 2**32 - 1  # seeds go to torch.manual_seed and the Rust sampler


def _at_least(lo):
    return lambda v: v >= lo, f">= {lo}"


def _between(lo, hi):
    return lambda v: lo <= v <= hi, f"in {lo}..{hi}"


_POSITIVE = (lambda v: v > 0, "> 0")
_UNIT = (lambda v: 0 <= v < 1, "in [0, 1)")

# The range of every numeric key, in one table (fnmatch patterns over dotted keys; the first match applies). Every
# number must also be finite. Keys with a fixed set of values are checked in validate().
RANGES = (
    ("data.max_len", _between(1, MAX_LEN)),
    ("*seed", _between(0, SEED_MAX)),
    ("*dropout", _UNIT),
    ("*.warmup_ratio", _UNIT),
    ("*.lr", _POSITIVE),
    ("*.batch_size", _at_least(1)),
    ("*.grad_accum", _at_least(1)),
    ("eval.negatives", _at_least(1)),
    ("llm.lora_r", _at_least(1)),
    ("llm.lora_alpha", _POSITIVE),
    ("llm.random_*", _at_least(1)),
    ("*.beta2", _UNIT),
    ("run.threads", _between(0, 1024)),
    ("sasrec.emb_dim", _at_least(1)),
    ("sasrec.hidden", _at_least(1)),
    ("sasrec.layers", _at_least(1)),
    ("sasrec.heads", _at_least(1)),
    ("data.synth_users", _at_least(1)),
    ("llm.*_layers", _at_least(1)),
    ("distill.blocks", _at_least(1)),
    ("*", _at_least(0)),  # every other number: epochs, steps, weights, sizes, lambdas
)


def _check_ranges(cfg: Config) -> None:
    import fnmatch
    import math

    for key, value in keys(cfg).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not math.isfinite(value):
            raise ConfigError(f"{key} must be a finite number, not {value}")
        check, text = next(rule for pattern, rule in RANGES if fnmatch.fnmatchcase(key, pattern))
        if not check(value):
            raise ConfigError(f"{key} must be {text}, not {value}")


def validate(cfg: Config, world_size: int = 1) -> Config:
    """Raises ConfigError, with what to fix, for a config that cannot run; returns ``cfg``."""
    _check_ranges(cfg)
    unknown = [s for s in cfg.stages() if s not in STAGES]
    if unknown:
        raise ConfigError(f"unknown stage(s) {', '.join(unknown)} in run.stages; choose from {', '.join(STAGES)}")
    m, n, b = cfg.llm.teacher_layers, cfg.llm.student_layers, cfg.distill.blocks
    if m % b or n % b:
        raise ConfigError(
            f"teacher layers M={m} and student layers N={n} must both divide by distill.blocks B={b} "
            f"(e.g. M=8, N=4, B=4)"
        )
    if n > m:
        raise ConfigError(f"the student (N={n} layers) must not be deeper than the teacher (M={m})")
    if cfg.llm.backbone == "random" and cfg.llm.random_layers < m:
        raise ConfigError(f"llm.random_layers={cfg.llm.random_layers} must be >= llm.teacher_layers={m}")
    if not cfg.llm.backbone:
        raise ConfigError(
            "no backbone: pass --backbone PATH (a local HF checkpoint dir or .gguf file), smollm2 or random"
        )
    values = keys(cfg)
    for key, allowed in CHOICES.items():
        if (value := values[key]) not in allowed:
            raise ConfigError(f"{key} must be {', '.join(allowed[:-1])} or {allowed[-1]}, not {value!r}")
    if not 0 <= cfg.sasrec.stride <= cfg.data.max_len:
        raise ConfigError(f"sasrec.stride must be in 0..data.max_len ({cfg.data.max_len}), not {cfg.sasrec.stride}")
    if cfg.sasrec.negatives and cfg.sasrec.positions != "all":
        raise ConfigError("sasrec.negatives (sampled softmax) needs sasrec.positions all")
    if cfg.sasrec.softmax_exclude != "none" and (cfg.sasrec.negatives or cfg.sasrec.positions != "all"):
        raise ConfigError(
            "sasrec.softmax_exclude needs the full softmax at every position (sasrec.negatives 0, sasrec.positions all)"
        )
    if cfg.sasrec.negatives_from == "any" and not cfg.sasrec.negatives:
        raise ConfigError("sasrec.negatives_from any needs sasrec.negatives > 0 (where sampled negatives come from)")
    if not cfg.sasrec.project and cfg.sasrec.hidden != cfg.sasrec.emb_dim:
        raise ConfigError(
            f"sasrec.project false needs sasrec.hidden == sasrec.emb_dim, got {cfg.sasrec.hidden} and "
            f"{cfg.sasrec.emb_dim}"
        )
    if cfg.run.log_with:
        from slmrec import tracking

        if cfg.run.log_with not in tracking.TRACKERS:
            raise ConfigError(f"run.log_with must be empty or tensorboard, not {cfg.run.log_with!r}")
        tracking.check_available(cfg.run.log_with)
    if cfg.sasrec.hidden % cfg.sasrec.heads:
        raise ConfigError(f"sasrec.hidden ({cfg.sasrec.hidden}) must divide by sasrec.heads ({cfg.sasrec.heads})")
    for name in ("sasrec", "teacher", "student"):
        st = getattr(cfg, name)
        accum = getattr(st, "grad_accum", 1)
        if getattr(st, "warmup_ratio", 0) and getattr(st, "warmup_steps", 0):
            raise ConfigError(
                f"{name}.warmup_steps ({st.warmup_steps}) and {name}.warmup_ratio ({st.warmup_ratio}) "
                f"are both set; set one of them to 0"
            )
        if st.batch_size % (world_size * accum):
            raise ConfigError(
                f"{name}.batch_size={st.batch_size} must divide by processes ({world_size}) x "
                f"grad_accum ({accum}); pick a multiple of {world_size * accum}"
            )
    return cfg
