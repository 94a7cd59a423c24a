"""`slmrec-evaluate`: a finished run's model evaluated again, under another evaluation rule, into a JSON file.

Design: argparse over :func:`slmrec.evaluate.evaluate_run`. Only the ``--eval.*`` keys of the run's config may
change (the rule a benchmark counts by: ``--eval.cold drop``, ``--eval.full_exclude none``, ``--eval.users N``);
the model, its best weights and its dataset are the run's, so with no key given the metrics equal the run's own.
The run directory is never written to. The result is printed as one summary line, and written as JSON to
``--out`` under a temporary name then renamed (an existing ``--out`` needs ``--force``). Bad input prints one
``slmrec-evaluate: error: ...`` line and exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from slmrec.cli import Parser, add_model_flag, check_out, user_error, write_out
from slmrec.errors import ConfigError, SlmrecError

PROG = "slmrec-evaluate"


def parser() -> argparse.ArgumentParser:
    from slmrec import config as configs
    from slmrec.evaluate import EVAL_SECTION, SPLITS

    p = Parser(
        prog=PROG,
        allow_abbrev=False,
        description="Evaluate a finished slmrec-train run's model again, with some of its eval.* keys changed.",
    )
    p.add_argument("run", metavar="RUN_DIR", help="a slmrec-train run directory")
    add_model_flag(p, "the stage of the run (default student)")
    p.add_argument("--split", choices=SPLITS, default="test", help="the split to evaluate (default test)")
    p.add_argument("--out", metavar="FILE", help="also write the result as JSON to FILE")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    comments = configs.field_comments()
    group = p.add_argument_group("evaluation keys (default: the run's own)")
    for key, value in configs.keys().items():
        if key.startswith(EVAL_SECTION):
            group.add_argument(
                f"--{key}",
                dest=f"cfg:{key}",
                metavar=type(value).__name__.upper(),
                help=comments.get(key, "").replace("%", "%%"),
            )
    return p


def main(argv=None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        args = parser().parse_args(sys.argv[1:] if argv is None else list(argv))
        out = Path(args.out) if args.out else None
        if out is not None:
            check_out(out, args.force)
        run = Path(args.run)
        if not run.is_dir():
            raise ConfigError(f"{run}: no such run directory")
        overrides = {k[4:]: v for k, v in vars(args).items() if k.startswith("cfg:") and v is not None}
        from slmrec.evaluate import evaluate_run

        result = evaluate_run(run, args.model, args.split, overrides, progress=not args.quiet)
        if out is not None:
            write_out(out, lambda path: path.write_text(json.dumps(result, indent=1) + "\n"))
        m = result["metrics"]
        shown = ", ".join(f"{k} {m[k]:.4f}" for k in ("ndcg@10", "hr@10", "full_ndcg@10", "full_hr@10") if k in m)
        changed = ", ".join(f"{k}={v}" for k, v in overrides.items()) or "the run's own rule"
        print(
            f"{args.model} on {args.split} ({changed}): {m.get('users', 0):,} users, {shown}"
            + (f"; wrote {out}" if out is not None else "")
        )
        return 0
    except (SlmrecError, OSError, ValueError) as e:
        return user_error(PROG, e)


if __name__ == "__main__":
    sys.exit(main())
