"""`slmrec-export`: a trained run's model -> a self-contained directory for serving (:mod:`slmrec.export`).

Design: ``Recommender.from_run(RUN_DIR, model).save(DIR)``; the layout and its integrity checks are
:mod:`slmrec.export`'s. Prints one summary line (model, depth, sizes); bad input prints one
``slmrec-export: error: ...`` line and exits 2. ``--force`` replaces only an earlier export.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from slmrec.cli import Parser, add_model_flag, user_error

PROG = "slmrec-export"


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog=PROG,
        allow_abbrev=False,
        description="Export a trained model with its item table and id maps into a self-contained directory.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished slmrec-train run directory")
    add_model_flag(p, "the stage to export (default student)")
    p.add_argument("--out", required=True, metavar="DIR", help="the export directory to write (atomically)")
    p.add_argument("--force", action="store_true", help="replace DIR if it is an earlier export")
    return p


def main(argv=None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from slmrec.errors import SlmrecError

    try:
        args = parser().parse_args(sys.argv[1:] if argv is None else list(argv))
        run_dir = Path(args.run_dir)
        if not run_dir.is_dir():
            raise ValueError(f"{run_dir}: no such run directory")
        from slmrec.recommend import Recommender

        rec = Recommender.from_run(run_dir, model=args.model, device="cpu")
        out = rec.save(Path(args.out), force=args.force)
        size = sum(p.stat().st_size for p in out.iterdir())
        depth = f"{rec.model.num_layers} decoder layers, " if rec.kind == "llm" else ""
        print(
            f"wrote {out}/: {args.model} ({depth}{rec.num_items:,} items, {len(rec.users):,} users), "
            f"{size / 2**20:.1f} MiB; load with slmrec.Recommender.load({str(out)!r}) or "
            f"slmrec-recommend {out}"
        )
        return 0
    except (SlmrecError, OSError, ValueError) as e:
        return user_error(PROG, e)


if __name__ == "__main__":
    sys.exit(main())
