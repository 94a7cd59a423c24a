"""The training pipeline: SASRec -> LLM teacher -> distilled student (and the same student without KD).

Design: ONE training loop, :func:`train_stage`, read top to bottom with accelerate's verbs (``prepare``,
``accumulate``, ``autocast``, ``backward``, ``clip_grad_norm_``, ``save_state``/``load_state``; evaluation uses
``gather_for_metrics``). Every stage hands it a model and an objective ``(model, batch, table) -> (loss, parts)``:
plain next-item CE for SASRec (on the last item, or with ``sasrec.positions all`` at every position of
windows from the sampler), the teacher and the no-KD student; the SLMRec loss (:mod:`slmrec.distill`) for the
distilled student, which only adds terms. ``llm.positions all`` (an extension beyond the paper) trains the three
LLM stages the way ``sasrec.positions all`` trains SASRec: windows of ``max_len`` tiling each user's train part
(stride ``max_len``: each target once per epoch), full-softmax CE (and the KD terms) at every position.
Batches come from the Rust sampler, sharded per process (``rank``/``world_size``); an optimizer step takes
``grad_accum`` micro batches, and an epoch drops the micro batches that do not fill a last step, so the number of
steps per epoch is known up front (the schedule: linear warmup, then cosine to 0; SASRec: constant unless
``sasrec.schedule cosine``, no warmup, AdamW with weight decay 0 = the code's Adam). Mixed precision is
accelerate's autocast (bf16 where the GPU has it); the frozen teacher runs under the same autocast as the student
(the reference runs it outside and can hit a dtype error that its bare ``except`` hides, METHOD.md B4).

Model selection is on validation only (``eval.select``: MRR, NDCG@10 or HR@10, sampled or full ranking), evaluated at
each epoch end, or every ``eval_every`` steps and at the last step when that is set; the best weights are kept,
and the test split is scored once, with them, at the end. Each evaluation records the stage's wall seconds so
far (training + evaluation + saving, carried across a resume), for time-to-quality comparisons. Under FSDP the
best weights are gathered from every process (``accelerator.get_state_dict``) before the main one saves them.

Resume: a stage whose ``result.json`` exists is done and skipped; otherwise the stage restarts from its last
checkpoint (``checkpoint/``: accelerate state + ``trainer_state.json``), skipping the micro batches already used
in that epoch. Batches are a pure function of (seed, epoch) and the RNG states are restored, so on CPU the
resumed run is bit-identical to an uninterrupted one.

Student initialisation (METHOD.md §5.1, the code's choice; the paper is silent): the student is the first N
layers of the same *pretrained* backbone the teacher started from, with fresh LoRA adapters and fresh
``input_proj``/``score``/heads; it is not copied from the trained teacher. The no-KD student is the same model
trained with CE only (no heads), i.e. what the released code actually trains (METHOD.md B5).
"""

from __future__ import annotations

import functools
import math
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

import torch

from slmrec import backbone as backbones
from slmrec import checkpoint, interrupt, teacher_cache, tracking
from slmrec.config import Config, StageConfig, sasrec_windows
from slmrec.distill import block_pairs, recommendation_loss, sequence_loss, slmrec_loss
from slmrec.errors import ConfigError, DivergedError
from slmrec.evaluate import EvalSet, build_eval_set, evaluate
from slmrec.sampling import SAMPLED_NEGATIVES_AVOID
from slmrec.stages import STAGES

#: Called as ``hook(stage_name, global_step)`` after every optimizer step, once that step's checkpoint (if any) is
#: written. Empty in production; tests install one (e.g. to end the process abruptly and test resuming).
STEP_HOOKS: list[Callable[[str, int], None]] = []


# The keys of a stage's result.json that measure time (they differ between two runs of the same config; resumed
# and uninterrupted runs agree on every other key)
TIMING_KEYS = ("train_seconds_per_epoch", "train_seconds", "seconds_per_step", "inference_users_per_s", "data_fraction")


@dataclass
class Stage:
    """What the loop needs to train one model."""

    name: str
    model: torch.nn.Module
    objective: Callable  # (model, batch, table) -> (loss [], parts {name: []})
    table: Callable  # () -> item embeddings [I+1, D] on the device (SASRec's is trainable)
    opt: StageConfig
    schedule: str  # "cosine" (warmup then cosine to 0) | "constant"
    windows: int | None = None  # None: last-item examples | S: windows whose newest S positions are targets
    negatives: int = 0  # windows: sampled negatives per target (0 = full softmax)
    bucket: int = 0  # windows: batches of similar history length, from pools of this many batches (0 = off)


@dataclass
class LoopState:
    """Where a stage's training stands; saved as JSON with every checkpoint, so a resumed run continues exactly."""

    total_steps: int = 0  # the planned optimizer steps
    steps_per_epoch: int = 0
    batch_size: int = 0  # global examples per optimizer step
    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    best: float = -math.inf  # best validation value of eval.select so far
    best_step: int = -1
    since_best: int = 0  # validations since the best one (early stopping)
    stopped_early: bool = False
    losses: list = field(default_factory=list)  # per optimizer step: step, lr, seconds, loss terms
    evals: list = field(default_factory=list)  # per validation: step, examples_seen, seconds, metrics
    epoch_seconds: list = field(default_factory=list)  # training seconds of each finished epoch
    epoch_train_seconds: float = 0.0  # training seconds of the current epoch so far
    data_seconds: float = 0.0  # seconds spent drawing batches
    step_seconds: float = 0.0  # training seconds of the finished epochs
    wall_seconds: float = 0.0  # training + evaluation + saving, carried across a resume

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, **fresh) -> "LoopState":
        """A saved state; keys added since it was written start at their fresh values (``fresh`` or defaults)."""
        known = {f.name for f in fields(cls)}
        return cls(**{**fresh, **{k: v for k, v in d.items() if k in known}})


def make_accelerator(cfg: Config):
    from accelerate import Accelerator

    mp = cfg.run.mixed_precision
    if mp == "auto":
        mp = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    # cpu=True without a GPU: multi-process runs then use gloo (torchrun / accelerate launch --multi_gpu)
    return Accelerator(mixed_precision=mp, step_scheduler_with_optimizer=False, cpu=not torch.cuda.is_available())


def llm_windows(cfg: Config) -> int | None:
    """The LLM stages' ``Stage.windows``: None (last-item examples) | max_len with ``llm.positions all``."""
    return cfg.data.max_len if cfg.llm.positions == "all" else None


def _batches(
    cfg: Config,
    dataset,
    opt: StageConfig,
    accelerator,
    windows: int | None = None,
    every: bool = False,
    negatives: int = 0,
    bucket: int = 0,
):
    """The stage's batch builder for this process; ``every``: all examples, unshuffled, unsharded (one pass over
    the whole training set, for the teacher cache)."""
    from slmrec.sampling import LastItemBatches, SequenceBatches

    micro = opt.batch_size // (accelerator.num_processes * opt.grad_accum)
    shard = (
        dict(shuffle=False, even=False)
        if every
        else dict(rank=accelerator.process_index, world_size=accelerator.num_processes)
    )
    common = dict(max_len=cfg.data.max_len, batch_size=micro, seed=cfg.data.seed, **shard)
    data = (dataset.offsets, dataset.items, dataset.num_items)
    if windows:
        return SequenceBatches(*data, num_negatives=negatives, windows=windows, bucket=bucket, **common)
    return LastItemBatches(*data, all_prefixes=cfg.data.train_mode == "all_prefixes", **common)


def _stop_flags(accelerator, losses: dict, signals) -> tuple[bool, bool]:
    """(a loss is NaN/inf, a signal asks to stop) on any process: every process acts on the same step."""
    diverged = not all(math.isfinite(v) for v in losses.values())
    stop = signals.signum is not None
    if accelerator.num_processes > 1:
        flags = torch.tensor([float(diverged), float(stop)], device=accelerator.device)
        flags = accelerator.reduce(flags, reduction="sum")
        diverged, stop = bool(flags[0] > 0), bool(flags[1] > 0)
    return diverged, stop


def _patience_ran_out(opt: StageConfig, state: LoopState) -> bool:
    """Early stopping: ``patience`` validations in a row without a new best, once ``min_steps`` are done."""
    return bool(opt.patience) and state.since_best >= opt.patience and state.global_step >= opt.min_steps


def _on(device, batch: dict) -> dict:
    return {k: torch.as_tensor(v).to(device, non_blocking=True) for k, v in batch.items()}


def encoder(accelerator, model) -> Callable:
    """The ``encode`` of :func:`slmrec.evaluate.evaluate` for a model of this pipeline (under autocast)."""

    def encode(ids):
        with accelerator.autocast():
            return {"": model(ids)["user"]}

    return encode


def lr_factor(schedule: str, warmup: int, total: int) -> Callable[[int], float]:
    """Multiplier of the peak lr after ``step`` optimizer steps: linear warmup, then cosine to 0 (or constant)."""

    def factor(step: int) -> float:
        if schedule == "constant":
            return 1.0
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def exclude_from_eta(bar, seconds: float) -> None:
    """Leaves ``seconds`` (an evaluation, a checkpoint) out of a tqdm bar's elapsed time, rate and ETA."""
    bar.start_t += seconds
    bar.last_print_t += seconds


def train_stage(
    accelerator, cfg: Config, stage: Stage, dataset, valid: EvalSet | None, out: Path | None, tracker=None
) -> LoopState:
    """Trains ``stage.model`` in place (best validation weights loaded at the end); returns where it stands.

    ``valid=None`` and ``out=None`` run the same loop without validation and without checkpoints (the model keeps
    its last weights): how benchmarks time the real loop. Each step's wall seconds are in ``losses``. ``tracker``
    (:class:`slmrec.tracking.Tracker`) receives each step's losses and each validation."""
    opt_cfg, main = stage.opt, accelerator.is_main_process
    tracker = tracker or tracking.Tracker.off()
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    accelerator.gradient_accumulation_steps = opt_cfg.grad_accum
    batches = _batches(
        cfg, dataset, opt_cfg, accelerator, stage.windows, negatives=stage.negatives, bucket=stage.bucket
    )
    steps_per_epoch = batches.num_batches(0) // opt_cfg.grad_accum
    if steps_per_epoch == 0:
        raise ConfigError(f"{stage.name}: batch_size {opt_cfg.batch_size} is larger than the training set; lower it")
    total_steps = opt_cfg.steps or steps_per_epoch * opt_cfg.epochs
    warmup = round(opt_cfg.warmup_ratio * total_steps) if opt_cfg.warmup_ratio else opt_cfg.warmup_steps
    if stage.schedule == "cosine" and total_steps and warmup >= total_steps:
        raise ConfigError(
            f"{stage.name}: warmup of {warmup} steps is not shorter than the {total_steps} training "
            f"steps ({steps_per_epoch} per epoch); lower --{stage.name}.warmup_steps or raise the budget"
        )

    params = [p for p in stage.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=opt_cfg.lr, betas=(0.9, opt_cfg.beta2), weight_decay=opt_cfg.weight_decay)
    factor = lr_factor(stage.schedule, warmup, total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    model, optimizer, scheduler = accelerator.prepare(stage.model, optimizer, scheduler)

    plan = dict(total_steps=total_steps, steps_per_epoch=steps_per_epoch, batch_size=opt_cfg.batch_size)
    state = LoopState(**plan)
    ckpt_dir = best_path = None
    if out is not None:
        ckpt_dir, best_path = out / "checkpoint", out / "best.safetensors"
        if checkpoint.exists(ckpt_dir):
            state = LoopState.from_dict(checkpoint.load_state(accelerator, ckpt_dir), **plan)
    select = cfg.eval.select

    # wall seconds of this stage so far (training, evaluation, saving; carried across a resume): time-to-quality
    began = time.perf_counter() - state.wall_seconds
    full = select.startswith("full_")

    def validate_and_keep_best():
        model.eval()
        m = evaluate(
            accelerator,
            encoder(accelerator, model),
            stage.table(),
            valid,
            batch_size=cfg.eval.batch_size,
            full=full,
            sampled=not full,
            progress=cfg.run.progress,
        )[""]  # what selection reads
        model.train()
        shown = ("full_hr@10", "full_ndcg@10", "full_mrr") if full else ("hr@10", "ndcg@10", "mrr")
        state.evals.append(
            {
                "step": state.global_step,
                "examples_seen": state.global_step * opt_cfg.batch_size,
                "seconds": time.perf_counter() - began,
                **{k: m[k] for k in shown},
            }
        )
        tracker.log(
            stage.name,
            {"wall_seconds": state.evals[-1]["seconds"], **{f"valid/{k}": m[k] for k in shown}},
            state.global_step,
        )
        state.since_best += 1
        if m[select] > state.best:
            state.best, state.best_step, state.since_best = m[select], state.global_step, 0
            weights = checkpoint.gathered_trainable_state(accelerator, model)  # every process (FSDP gathers)
            if main:
                checkpoint.save_weights(weights, best_path, config=cfg)
        accelerator.wait_for_everyone()

    bar = None
    if main and cfg.run.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total_steps, initial=state.global_step, desc=stage.name, unit="step", dynamic_ncols=True)
    model.train()
    with interrupt.deferred() as signals:
        for epoch in range(state.epoch, -(-total_steps // steps_per_epoch)):
            if state.stopped_early or state.global_step >= total_steps:
                break
            stream = iter(batches.epoch(epoch))
            skip = state.step_in_epoch * opt_cfg.grad_accum  # micro batches already used before a resume
            for i in range(steps_per_epoch * opt_cfg.grad_accum):
                start = time.perf_counter()
                batch = next(stream)
                if i < skip:
                    continue
                batch = _on(accelerator.device, batch)  # input_ids [b, L], target [b] (or positives [b, L])
                state.data_seconds += time.perf_counter() - start
                if i % opt_cfg.grad_accum == 0:
                    step_began = start
                with accelerator.accumulate(model):
                    with accelerator.autocast():
                        loss, parts = stage.objective(model, batch, stage.table())
                    accelerator.backward(loss)
                    if accelerator.sync_gradients and opt_cfg.max_grad_norm > 0:
                        accelerator.clip_grad_norm_(params, opt_cfg.max_grad_norm)
                    optimizer.step()
                    optimizer.zero_grad()
                if accelerator.sync_gradients:
                    lr_used = optimizer.param_groups[0]["lr"]  # the rate of the step just taken
                    scheduler.step()
                    state.global_step += 1
                    state.step_in_epoch += 1
                    losses = {"loss": loss.item(), **{k: float(v) for k, v in parts.items()}}  # .item() syncs
                    state.losses.append(
                        {
                            "step": state.global_step,
                            "lr": lr_used,
                            "seconds": time.perf_counter() - step_began,
                            **losses,
                        }
                    )
                    tracker.log(stage.name, {"lr": lr_used, **losses}, state.global_step)
                state.epoch_train_seconds += time.perf_counter() - start  # training only: no eval, no saving
                if not accelerator.sync_gradients:
                    continue
                diverged, stop = _stop_flags(accelerator, losses, signals)
                if diverged:
                    bad = ", ".join(f"{k} {v}" for k, v in losses.items() if not math.isfinite(v))
                    raise DivergedError(
                        f"{stage.name} step {state.global_step}: {bad}; the last checkpoint is "
                        f"kept (lower --{stage.name}.lr, or set --{stage.name}.max_grad_norm)"
                    )
                if bar is not None:
                    bar.set_postfix(loss=f"{loss.item():.4f}", epoch=epoch)
                    bar.update(1)
                last_in_epoch = state.step_in_epoch == steps_per_epoch
                if last_in_epoch:
                    state.epoch_seconds.append(state.epoch_train_seconds)
                    state.step_seconds += state.epoch_train_seconds
                    state.epoch, state.step_in_epoch, state.epoch_train_seconds = epoch + 1, 0, 0.0
                evaluate_now = valid is not None and (
                    (last_in_epoch and not opt_cfg.eval_every)
                    or (opt_cfg.eval_every and state.global_step % opt_cfg.eval_every == 0)
                    or state.global_step == total_steps
                )
                paused = time.perf_counter()
                if evaluate_now:
                    validate_and_keep_best()
                    state.stopped_early = _patience_ran_out(opt_cfg, state)
                save_now = cfg.run.save_every and state.global_step % cfg.run.save_every == 0
                state.wall_seconds = time.perf_counter() - began
                if out is not None and (evaluate_now or save_now or stop):
                    checkpoint.save_state(accelerator, ckpt_dir, state.to_dict())
                if bar is not None:
                    exclude_from_eta(bar, time.perf_counter() - paused)
                if stop:
                    if bar is not None:
                        bar.close()
                    raise interrupt.Interrupted(signals.signum or 2)
                for hook in STEP_HOOKS:
                    hook(stage.name, state.global_step)
                if state.stopped_early or state.global_step == total_steps:
                    break
    if bar is not None:
        bar.close()
    if valid is not None:
        if state.best_step < 0:  # no training step at all (epochs = 0): the initial model is the best
            validate_and_keep_best()
        accelerator.wait_for_everyone()
        checkpoint.load_weights(accelerator.unwrap_model(model), best_path, config=cfg)
    accelerator.free_memory()
    return state


def count_params(model: torch.nn.Module) -> dict:
    return {
        "total": sum(p.numel() for p in model.parameters()),
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }


class Pipeline:
    """Builds each stage's model from the config and the outputs of earlier stages, and runs the stages."""

    def __init__(self, cfg: Config, dataset, run_dir: Path, accelerator=None):
        self.cfg, self.dataset, self.run_dir = cfg, dataset, Path(run_dir)
        if cfg.run.threads:
            torch.set_num_threads(cfg.run.threads)
        self.acc = accelerator or make_accelerator(cfg)
        uses_llm = any(STAGES[s].llm for s in cfg.stages())
        self.spec = backbones.resolve(cfg.llm.backbone) if uses_llm else None
        self._eval_sets: dict[str, EvalSet] = {}
        self._negatives: int | None = None
        self.tracker = tracking.Tracker.open(cfg, self.run_dir, self.acc)  # off unless run.log_with is set

    # ----- data
    def negatives(self) -> int:
        """eval.negatives, capped at what this dataset can supply (small catalogues); the cap is reported."""
        if self._negatives is None:
            from slmrec.evaluate import max_negatives

            most = max_negatives(self.dataset)
            self._negatives = min(self.cfg.eval.negatives, most)
            if self._negatives < 1:
                raise ConfigError(f"{self.dataset.path}: no user has an item outside its history to sample")
            if self._negatives < self.cfg.eval.negatives and self.acc.is_main_process:
                print(
                    f"note: {self.dataset.num_items} items leave at most {most} negatives per user; "
                    f"evaluating with 1 + {most} candidates instead of 1 + {self.cfg.eval.negatives}",
                    flush=True,
                )
        return self._negatives

    def eval_set(self, split: str) -> EvalSet:
        if split not in self._eval_sets:
            c = self.cfg
            self._eval_sets[split] = build_eval_set(
                self.dataset,
                split,
                max_len=c.data.max_len,
                negatives=self.negatives(),
                seed=c.eval.seed,
                exclude=c.eval.full_exclude,
                sample=c.eval.users,
                cold=c.eval.cold,
            )
        return self._eval_sets[split]

    # ----- models
    def stage_output(self, stage: str, name: str) -> Path:
        """A finished stage's output file, checked against the size and SHA-256 its result.json recorded."""
        path = self.run_dir / stage / name
        outputs = checkpoint.read_json(self.run_dir / stage / "result.json").get("outputs", {})
        checkpoint.verify_file(path, outputs.get(name))
        return path

    def item_table(self) -> torch.Tensor:
        return checkpoint.read_weights(self.stage_output("sasrec", "item_emb.safetensors"))["item_emb"]  # [I+1, D]

    def sasrec_arch(self) -> dict:
        """The SASRec constructor's arguments for this run (the one place a config becomes an architecture: the
        training stage builds from it and an export stores it)."""
        c = self.cfg.sasrec
        return dict(
            num_items=self.dataset.num_items,
            max_len=self.cfg.data.max_len,
            emb_dim=c.emb_dim,
            hidden=c.hidden,
            layers=c.layers,
            heads=c.heads,
            dropout=c.dropout,
            item_dropout=c.item_dropout,
            init=c.init,
            inner=c.inner,
            act=c.act,
            from_end=c.from_end,
            project=c.project,
            scale=c.scale,
            attention=c.attention,
        )

    def sasrec(self):
        from slmrec.models import SASRec

        return SASRec(**self.sasrec_arch())

    def llmrec(self, layers: int, blocks: int = 0):
        from slmrec.models import LLMRec
        from slmrec.models.llmrec import with_lora

        c = self.cfg.llm
        bb, tok = backbones.load(self.spec, layers, c, max_layers=c.teacher_layers, seed=self.cfg.run.seed)
        if c.prompt and tok is None:
            raise ConfigError(f"backbone {c.backbone} has no tokenizer for the prompt; set --llm.prompt false")
        if c.finetune == "lora":
            bb = with_lora(bb, c.lora_r, c.lora_alpha, c.lora_dropout)
        return LLMRec(
            bb,
            self.item_table(),
            tokenizer=tok if c.prompt else None,
            blocks=blocks,
            head_init=c.head_init,
            ms_norm=self.cfg.distill.ms_norm,
            positions=c.positions,
        )

    def stage_model(self, name: str) -> torch.nn.Module:
        """The model of stage ``name`` as it is built before training (its trained weights load into it)."""
        c = self.cfg
        if name == "sasrec":
            return self.sasrec()
        if name in ("teacher", "student_nokd"):
            return self.llmrec(c.llm.teacher_layers if name == "teacher" else c.llm.student_layers)
        if name == "student":
            return self.llmrec(c.llm.student_layers, blocks=c.distill.blocks if c.distill.lambda_ms > 0 else 0)
        raise ConfigError(f"unknown stage {name!r}")

    def trained(self, name: str) -> torch.nn.Module:
        """The model of finished stage ``name`` with its best weights, on the CPU."""
        torch.manual_seed(self.cfg.run.seed)
        model = self.stage_model(name)
        checkpoint.load_weights(model, self.stage_output(name, "best.safetensors"), config=self.cfg)
        return model

    def teacher(self, frozen: bool):
        """The trained teacher (best weights), for distillation and the probe."""
        model = self.trained("teacher")
        if frozen:
            model.eval().requires_grad_(False)
        return model.to(self.acc.device)

    def teacher_cache_context(self) -> dict:
        """What the teacher's states depend on beyond its tensors and the inputs, for the on-disk cache's header."""
        c = self.cfg
        weights = checkpoint.read_json(self.run_dir / "teacher" / "result.json").get("outputs", {})
        return {
            "teacher_sha256": weights.get("best.safetensors", {}).get("sha256"),
            "dataset": self.dataset.fingerprint,
            "data.max_len": c.data.max_len,
            "data.train_mode": c.data.train_mode,
            "llm.prompt": c.llm.prompt,
            "llm.positions": c.llm.positions,
            "mixed_precision": str(self.acc.mixed_precision),
        }

    def build(self, name: str) -> Stage:
        c = self.cfg
        torch.manual_seed(c.run.seed)  # every stage starts from the same seed: skipping done stages changes nothing
        model = self.stage_model(name)
        if name == "sasrec":
            s = c.sasrec
            if s.compile:
                model.compile(dynamic=True)  # in place: parameters, state dict and checkpoints are unchanged
            opt = StageConfig(
                epochs=s.epochs,
                steps=s.steps,
                batch_size=s.batch_size,
                grad_accum=1,
                lr=s.lr,
                warmup_steps=0,
                weight_decay=0.0,
                beta2=s.beta2,
                max_grad_norm=0.0,
                eval_every=s.eval_every,
                patience=s.patience,
                min_steps=s.min_steps,
            )
            windows = sasrec_windows(c)
            objective = sequence_loss if windows else recommendation_loss
            negatives = s.negatives
            if s.softmax_exclude != "none":
                objective = functools.partial(sequence_loss, exclude=s.softmax_exclude)
            if s.negatives_from == "any":  # drawn by the loss from every item, not by the core's batches
                objective, negatives = functools.partial(sequence_loss, any_negatives=s.negatives), 0
            return Stage(
                name, model, objective, lambda: model.item_emb.weight, opt, s.schedule, windows, negatives, s.bucket
            )
        windows = llm_windows(c)  # every position of max_len windows with llm.positions all, full softmax
        if name in ("teacher", "student_nokd"):
            objective = sequence_loss if windows else recommendation_loss
            return Stage(
                name,
                model,
                objective,
                lambda: model.item_emb,
                c.teacher if name == "teacher" else c.student,
                "cosine",
                windows,
            )
        if name == "student":
            d = c.distill
            teacher = self.teacher(frozen=True)
            pairs = block_pairs(c.llm.teacher_layers, c.llm.student_layers, d.blocks)
            if d.cache:  # the teacher's states once per training input, reused every epoch
                every = _batches(c, self.dataset, c.student, self.acc, windows, every=True)
                teacher = teacher_cache.TeacherCache(
                    teacher,
                    every,
                    [t for _, t in pairs],
                    self.acc.device,
                    self.acc.autocast,
                    positions=bool(windows),
                    path=self.run_dir / name / teacher_cache.DIR,  # used when the cache is over the memory bound
                    context=self.teacher_cache_context(),
                    log=print if self.acc.is_main_process else (lambda line: None),
                )

            def objective(m, batch, table):
                return slmrec_loss(
                    m, batch, table, teacher, pairs, d.lambda_cos, d.lambda_norm, d.lambda_ms, d.center, d.logit_kd
                )

            return Stage(name, model, objective, lambda: model.item_emb, c.student, "cosine", windows)
        raise ConfigError(f"unknown stage {name!r}")

    # ----- running
    def run_stage(self, name: str) -> dict:
        out = self.run_dir / name
        result_path = out / "result.json"
        if result_path.exists():
            return checkpoint.read_json(result_path)
        stage = self.build(name)
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        state = train_stage(self.acc, self.cfg, stage, self.dataset, self.eval_set("valid"), out, self.tracker)
        model = stage.model.to(self.acc.device).eval()
        encode = encoder(self.acc, model)
        table = stage.table().detach()
        result = {}
        for split in ("valid", "test"):
            m = evaluate(
                self.acc,
                encode,
                table,
                self.eval_set(split),
                batch_size=self.cfg.eval.batch_size,
                full=self.cfg.eval.full_ranking,
                progress=self.cfg.run.progress,
            )
            result[split] = m[""]
            self.tracker.log(name, {f"{split}/{k}": v for k, v in m[""].items()}, state.global_step)
            if split == "test":
                result["inference_users_per_s"] = m["_speed"]["users_per_s"]
        epochs = state.epoch_seconds
        steps = state.global_step
        result.update(
            params=count_params(model),
            train_seconds_per_epoch=sum(epochs) / len(epochs) if epochs else 0.0,
            # optimizer steps only (no validation, no checkpoints; across a resume); per step: the stage's cost
            train_seconds=state.step_seconds + state.epoch_train_seconds,
            seconds_per_step=(state.step_seconds + state.epoch_train_seconds) / steps if steps else 0.0,
            data_fraction=state.data_seconds / state.step_seconds if state.step_seconds else 0.0,
            best_step=state.best_step,
            total_steps=steps,
            planned_steps=state.total_steps,
            steps_per_epoch=state.steps_per_epoch,
            examples_seen=steps * state.batch_size,
            stopped_early=state.stopped_early,
            # validation was still improving when training ended: the run may be under-trained
            best_in_last_10pct=steps > 0 and state.best_step > 0.9 * steps,
            negatives=self.negatives(),
            processes=self.acc.num_processes,
            # positions the model reads per example: the history, plus the prompt's tokens for an LLM stage
            positions_per_example=self.cfg.data.max_len
            + sum(int(getattr(model, k).numel()) for k in ("prefix_ids", "suffix_ids") if hasattr(model, k)),
        )
        sa = self.cfg.sasrec
        if name == "sasrec" and sa.negatives and sa.negatives_from == "unseen":
            # what the core's sampled negatives avoid; a run without this key is older: its negatives avoided the
            # user's whole history, so never its validation and test items (a leak of the held-out targets)
            result["sampled_negatives_avoid"] = SAMPLED_NEGATIVES_AVOID
        if torch.cuda.is_available():
            result["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
        if self.acc.is_main_process:
            files = ["best.safetensors"]
            if name == "sasrec":
                table = {"item_emb": model.item_emb.weight.detach().cpu()}  # [I+1, D], handed to the LLM stages
                checkpoint.save_weights(table, out / "item_emb.safetensors")
                files.append("item_emb.safetensors")
            result["outputs"] = {f: checkpoint.file_record(out / f) for f in files}  # checked when read back
            checkpoint.write_json(out / "history.json", {"losses": state.losses, "evals": state.evals})
            checkpoint.write_json(result_path, result)  # the stage's done-marker, written last
        self.acc.wait_for_everyone()
        if self.acc.is_main_process:
            shutil.rmtree(out / teacher_cache.DIR, ignore_errors=True)  # the student's on-disk teacher cache, if any
        return result

    def run(self) -> dict:
        from slmrec import probe, report

        results = {}
        for name in self.cfg.stages():
            if not STAGES[name].model:  # the layer probe scores the trained teacher
                results[name] = probe.run_probe(self)
            else:
                results[name] = self.run_stage(name)
        self.tracker.close()
        if self.acc.is_main_process:
            self.report_files = report.write_all(self.run_dir, self.cfg)  # names, for the CLI's last line
        self.acc.wait_for_everyone()
        return results
