"""`slmrec-train`: SASRec -> teacher -> distilled student (and the no-KD student) -> report, in one command.

Design: a flag for every config key, derived from the dataclass fields (``--teacher.lr 3e-4``; positional
``teacher.lr=3e-4`` works too), on top of a preset. Everything the user can get wrong (unknown preset or key, layers
that do not divide, a missing or non-decoder backbone, a dataset dir with missing files or the wrong schema, a
run dir that exists, a corrupt checkpoint) is checked before training where possible and always ends in one
``slmrec-train: error: ...`` line and exit code 2; a bug (``InternalError``, an out of memory, anything else) keeps
its traceback instead. The run directory's rules (what ``--force`` may
replace, the lock a run holds, the dataset fingerprint it is bound to, when a failed run's directory is removed)
are :mod:`slmrec.rundir`'s. SIGINT/SIGTERM end the run with its checkpoints kept, one line saying where it stopped
and how to continue, and exit code 130/143 (:mod:`slmrec.interrupt`). ``--resume`` continues a run
from its saved ``config.json`` (any override given must agree with it), skipping finished stages and restarting
the current one from its last checkpoint. Multi-process (DDP): ``accelerate launch --multi_gpu --num_processes 2
-m slmrec.cli.train ...`` (on GPUs, or on CPU with gloo; plain ``accelerate launch --cpu`` starts one process
only), or ``torchrun --nproc_per_node 2 -m slmrec.cli.train ...``; FSDP/DeepSpeed come from ``accelerate config``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from slmrec import config as configs
from slmrec.cli import Parser, user_error
from slmrec.errors import ConfigError, InternalError, SlmrecError
from slmrec.stages import STAGES

PROG = "slmrec-train"


DEFAULT_PRESET = "small"


class _Parser(Parser):
    def hint(self, message):  # an unknown flag near a config key: name the key
        prefix = "unrecognized arguments: "
        if message.startswith(prefix):
            flags = [a for a in message[len(prefix) :].split() if a.startswith("--")]
            near = configs.suggest(flags[0].lstrip("-").split("=", 1)[0]) if flags else None
            if near:
                return f"; did you mean --{near}?"
        return ""


def _preset_in(argv) -> str:
    """The ``--preset`` named in ``argv`` (for the defaults ``--help`` shows), else the default preset."""
    argv = list(argv)
    for i, a in enumerate(argv):
        if a == "--preset" and i + 1 < len(argv):
            name = argv[i + 1]
        elif a.startswith("--preset="):
            name = a.split("=", 1)[1]
        else:
            continue
        return name if name in configs.PRESETS else DEFAULT_PRESET
    return DEFAULT_PRESET


def parser(preset: str = DEFAULT_PRESET) -> argparse.ArgumentParser:
    """The CLI; each config key's help shows its value in ``preset``."""
    import slmrec

    p = _Parser(
        prog=PROG,
        description="Train SASRec -> LLM teacher -> distilled small student (SLMRec) and report.",
        allow_abbrev=False,
    )
    p.add_argument("--version", action="version", version=f"{PROG} {slmrec.__version__}")
    p.add_argument(
        "--data",
        nargs="+",
        metavar="DIR_OR_FILE",
        help="a prepared dataset dir (with stats.json) or raw files to prepare into RUN_DIR/data; "
        "default: the embedded synthetic dataset",
    )
    p.add_argument(
        "--preset",
        choices=list(configs.PRESETS),
        help=f"base config (default {DEFAULT_PRESET}; tiny for tests); the defaults below are {preset}'s",
    )
    p.add_argument("--out", metavar="RUN_DIR", help="run directory (default runs/<preset>)")
    p.add_argument("--stages", help=f"comma-separated subset of {','.join(configs.STAGES)} (= --run.stages)")
    p.add_argument("--backbone", help="random | smollm2 | local HF checkpoint dir | .gguf file (= --llm.backbone)")
    p.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its checkpoints")
    p.add_argument("--force", action="store_true", help="delete RUN_DIR first if it exists")
    p.add_argument(
        "--print-config", action="store_true", help="print the resolved config (preset + overrides) as JSON and exit"
    )
    p.add_argument(
        "--reuse",
        metavar="OTHER_RUN_DIR",
        help="copy the sasrec/teacher stages that this run does not train (--stages) from another finished "
        "run on the same data, when every config key they depend on is equal (ablations)",
    )
    comments = configs.field_comments()
    group = p.add_argument_group(f"config keys (override the preset; defaults of --preset {preset})")
    for key, value in configs.keys(configs.preset(preset)).items():
        shown = json.dumps(value) if isinstance(value, (bool, str)) else value
        text = f"{comments.get(key, '')} (default: {shown})"
        group.add_argument(
            f"--{key}", dest=f"cfg:{key}", metavar=type(value).__name__.upper(), help=text.replace("%", "%%")
        )  # argparse formats help with %
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="more config overrides, e.g. teacher.epochs=1")
    return p


def resolve_config(args) -> configs.Config:
    overrides = {k[4:]: v for k, v in vars(args).items() if k.startswith("cfg:") and v is not None}
    for item in args.overrides:
        key, eq, value = item.partition("=")
        if not eq:
            raise ConfigError(f"override {item!r} is not KEY=VALUE")
        overrides[key.lstrip("-")] = value
    if args.stages is not None:
        overrides["run.stages"] = args.stages
    if args.backbone is not None:
        overrides["llm.backbone"] = args.backbone
    if args.resume:
        saved = Path(args.out or "") / "config.json"
        if not args.out or not saved.is_file():
            raise ConfigError(f"--resume needs --out RUN_DIR of an earlier run (no {saved})")
        base = configs.load(saved)
        cfg = configs.override(base, overrides)
        if args.preset:
            raise ConfigError("--resume takes the config saved in RUN_DIR; drop --preset")
        free = ("run.progress", "run.stages", "run.log_with", "run.threads")  # may change on resume: no result
        # depends on them (thread counts change float rounding only)
        diff = [k for k, v in configs.keys(cfg).items() if configs.keys(base)[k] != v and k not in free]
        if diff:
            raise ConfigError(
                f"--resume: {', '.join(diff)} would change the run saved in {saved}; start a new run "
                "(another --out) to change them"
            )
        return cfg
    return configs.override(configs.preset(args.preset or DEFAULT_PRESET), overrides)


def _is_prepared(path: Path) -> bool:
    return path.is_dir() and (path / "stats.json").is_file()


def main(argv=None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from slmrec import interrupt, rundir

    handlers = interrupt.install()  # Ctrl-C / SIGTERM: stop with the checkpoints kept and say how to continue
    created, run_dir, lock, cfg = False, None, None, None
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        args = parser(_preset_in(argv)).parse_args(argv)
        cfg = resolve_config(args)
        if args.print_config:
            print(json.dumps(cfg.to_dict(), indent=2))
            return 0
        world = int(os.environ.get("WORLD_SIZE", "1"))
        configs.validate(cfg, world_size=world)
        run_dir = Path(args.out or f"runs/{args.preset or DEFAULT_PRESET}")
        import slmrec
        from slmrec import backbone

        if any(STAGES[s].llm for s in cfg.stages()):
            backbone.resolve(cfg.llm.backbone)  # a bad path fails here, before anything is written
        data_paths = [Path(p) for p in (args.data or [])]
        for p in data_paths:
            if not p.exists():
                raise ConfigError(f"--data {p}: no such file or directory")
        rundir.check_out(run_dir, force=args.force, resume=args.resume, inputs=data_paths)
        _check_upstream(cfg, run_dir, args)
        if not data_paths and args.resume:
            source = rundir.bound_source(run_dir).get("path")
            data_paths = [Path(source)] if source else []
        prepared = len(data_paths) == 1 and data_paths[0].is_dir()
        if prepared:
            dataset = slmrec.load(data_paths[0])  # missing files or a wrong schema fail here
        if args.reuse and not prepared:
            raise ConfigError("--reuse needs --data to be a prepared dataset dir (the same as the other run's)")

        from slmrec.train import Pipeline, make_accelerator

        acc = make_accelerator(cfg)
        if acc.is_main_process:
            lock = rundir.Lock(run_dir)  # held for the life of the process: a second run on RUN_DIR fails at once
            if args.force and run_dir.exists() and not args.resume:
                rundir.check_out(run_dir, force=True, resume=False, inputs=data_paths)  # again, under the lock
                shutil.rmtree(run_dir)
            created = not run_dir.exists()
            run_dir.mkdir(parents=True, exist_ok=True)
            if not args.resume:  # a resumed run keeps its config (only the keys in `free` may differ)
                configs.save(cfg, run_dir / "config.json")
            if not prepared:
                _prepare_data(cfg, data_paths, run_dir)
        acc.wait_for_everyone()
        if not prepared:
            dataset = slmrec.load(run_dir / "data")
        if dataset.stats.get("users_too_short_for_split", 0) >= dataset.num_users:
            raise ConfigError(
                f"{dataset.path}: no user has the 3 interactions leave-one-out needs (a train, a "
                "valid and a test item); nothing to train or evaluate on"
            )
        if acc.is_main_process:
            if args.resume and rundir.bound_source(run_dir):
                rundir.check_bound(run_dir, dataset, "--resume")  # re-prepared or swapped data: refused
            else:
                rundir.bind(run_dir, dataset)
            if args.reuse:
                _reuse(cfg, Path(args.reuse), run_dir, dataset)
        acc.wait_for_everyone()
        pipeline = Pipeline(cfg, dataset, run_dir, acc)
        results = pipeline.run()
        if acc.is_main_process:
            for name, r in results.items():
                if STAGES[name].model:
                    t = r["test"]
                    print(
                        f"{name:>13}: test hr@10 {t['hr@10']:.4f} ndcg@10 {t['ndcg@10']:.4f} mrr {t['mrr']:.4f} "
                        f"full_hr@10 {t.get('full_hr@10', float('nan')):.4f}"
                    )
            files = ([] if args.resume else ["config.json"]) + pipeline.report_files
            files += [f"{s}/" for s in cfg.stages()] + ([] if prepared else ["data/"])  # stage outputs, dataset
            if not data_paths and not args.resume:
                files.append("synthetic.json.gz")  # the raw synthetic reviews the dataset was prepared from
            print(f"wrote {run_dir}/: {', '.join(files)}")
        return 0
    except InternalError:  # a bug (a caught panic), not the user's input: its traceback, not "error: ..." and 2
        _cleanup(created, run_dir)
        raise
    except (SlmrecError, OSError) as e:
        _cleanup(created, run_dir)
        return user_error(PROG, e)
    except interrupt.Interrupted as e:
        return _interrupted(e.exit_code, created, run_dir, cfg)
    except KeyboardInterrupt:  # a Ctrl-C that arrived before the handlers were installed
        return _interrupted(130, created, run_dir, cfg)
    except BaseException:
        _cleanup(created, run_dir)
        raise
    finally:
        if lock is not None:
            lock.release()
        interrupt.restore(handlers)


def _interrupted(code: int, created: bool, run_dir: Path | None, cfg) -> int:
    """One line for a run stopped by a signal: where it stopped and how to continue (or that nothing was kept)."""
    from slmrec import rundir

    _cleanup(created, run_dir)
    if run_dir is None or cfg is None or not (run_dir / "config.json").is_file():
        print(f"{PROG}: interrupted before the first checkpoint; nothing was kept", file=sys.stderr)
        return code
    stage, step = rundir.last_position(run_dir, cfg.stages())
    print(f"interrupted at {stage} step {step}; continue with: {PROG} --resume --out {run_dir}", file=sys.stderr)
    return code


def _prepare_data(cfg, data_paths: list[Path], run_dir: Path) -> None:
    import slmrec

    target = run_dir / "data"
    if _is_prepared(target):
        return
    if data_paths:
        ds = slmrec.prepare([str(p) for p in data_paths], target)
        _say_how_prepared(ds)
        return
    from slmrec.synth import generate_reviews

    raw = run_dir / "synthetic.json.gz"
    generate_reviews(raw, n_users=cfg.data.synth_users, n_items=cfg.data.synth_items or None, seed=cfg.data.seed)
    slmrec.prepare([str(raw)], target)


def _say_how_prepared(ds) -> None:
    """Raw --data was prepared with slmrec-prep's defaults: which recipe, the prep summary, and where to change it."""
    from slmrec.cli.prep import _summary

    recipe = ds.stats.get("recipe") or {}
    settings = ", ".join(f"{k} {v}" for k, v in recipe.items() if k != "name" and v is not None)
    print(
        f"prepared --data with slmrec-prep's default recipe {recipe.get('name')} ({settings}); for another "
        "(--recipe, --user-min, --item-min, --min-rating) run slmrec-prep INPUT... --out DIR first and pass "
        "--data DIR",
        file=sys.stderr,
    )
    print(_summary(ds), file=sys.stderr, flush=True)


# the earlier stages whose outputs a stage reads (SASRec's item table; the trained teacher)
NEEDS = {name: spec.needs for name, spec in STAGES.items()}


def _check_upstream(cfg, run_dir: Path, args) -> None:
    """Refuses, before anything is written, stages whose inputs neither this run trains nor RUN_DIR or --reuse has."""
    stages = cfg.stages()
    if args.reuse:  # _reuse checks that the other run finished them
        return
    have = set(stages) | ({s for s in NEEDS if (run_dir / s / "result.json").is_file()} if not args.force else set())
    for stage in stages:
        missing = [s for s in NEEDS[stage] if s not in have]
        if missing:
            need = " and ".join(NEEDS[stage])
            raise ConfigError(
                f"--stages {cfg.run.stages}: {stage} needs the {need} stage"
                f"{'s' if len(NEEDS[stage]) > 1 else ''}; add {', '.join(missing)} to --stages, or "
                f"copy finished ones from another run on the same data with --reuse RUN_DIR"
            )


# the config keys (dotted prefixes) a stage's result depends on: a stage is reused only when all of them are equal
REUSE_KEYS = {name: spec.keys for name, spec in STAGES.items() if spec.reusable}


def _reuse(cfg, other: Path, run_dir: Path, dataset) -> None:
    """Copies the finished sasrec/teacher stages of ``other`` into ``run_dir`` (weights and results; no checkpoint)."""
    from slmrec import rundir

    saved = other / "config.json"
    if not saved.is_file():
        raise ConfigError(f"--reuse {other}: not a run dir (no config.json)")
    rundir.check_bound(other, dataset, "--reuse")
    mine, theirs = configs.effective_keys(cfg), configs.effective_keys(configs.load(saved))
    wanted = [s for s in REUSE_KEYS if s not in cfg.stages()]  # the upstream stages this run does not train
    for stage in wanted:
        prefixes = REUSE_KEYS[stage]
        diff = [k for k in mine if k.startswith(prefixes) and mine[k] != theirs[k]]
        if not (other / stage / "result.json").is_file():
            raise ConfigError(f"--reuse {other}: its {stage} stage did not finish")
        if diff:
            raise ConfigError(f"--reuse {other}: its {stage} stage differs in {', '.join(diff)}")
    for stage in wanted:  # all checked first: a refused reuse copies nothing
        if not (run_dir / stage / "result.json").is_file():
            shutil.copytree(other / stage, run_dir / stage, ignore=shutil.ignore_patterns("checkpoint"))


def _cleanup(created: bool, run_dir: Path | None) -> None:
    """Removes a run dir made by this invocation if no stage left a checkpoint or a result in it."""
    from slmrec import rundir

    if created and run_dir is not None and run_dir.is_dir() and not rundir.has_progress(run_dir):
        shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
