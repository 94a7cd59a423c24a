"""`slmrec-recommend`: top-k recommendations from a run directory or an export, into a Parquet file.

Design: argparse over :class:`slmrec.recommend.Recommender`; the source is an export when its config.json says so
(``slmrec-export``), else a ``slmrec-train`` run (``--model`` picks the stage). Users come from ``--users FILE``
(one raw id per line, or a .parquet with a ``user`` column) or are every user of the model's dataset
(``--users all``, the default); ``--histories FILE`` gives new users instead (JSON lines, each a list of raw item
ids, oldest first; output column ``history`` = the 0-based line among the non-blank ones). The output is written
under a temporary name and renamed (an existing ``--out`` needs ``--force``), readable by polars, DuckDB and Spark.
A progress bar on stderr, then one summary line (users, k, seconds, users/s). Bad input (a missing path, an
unknown id without ``--skip-unknown``, a bad file) prints one ``slmrec-recommend: error: ...`` line and exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from slmrec.cli import Parser, add_model_flag, check_out, user_error, write_out
from slmrec.errors import ConfigError, SlmrecError

PROG = "slmrec-recommend"


def parser() -> argparse.ArgumentParser:
    from slmrec.recommend import DEFAULT_BATCH, SPLITS

    p = Parser(
        prog=PROG,
        allow_abbrev=False,
        description="Top-k recommendations from a slmrec-train run or a slmrec-export directory.",
    )
    p.add_argument("source", metavar="RUN_OR_EXPORT", help="a slmrec-train run directory or a slmrec-export directory")
    add_model_flag(p, "the stage of a run (default student; an export holds one model)")
    who = p.add_mutually_exclusive_group()
    who.add_argument(
        "--users",
        default="all",
        metavar="FILE|all",
        help="raw user ids, one per line (or a .parquet with a user column); all (default): every user",
    )
    who.add_argument(
        "--histories", metavar="FILE", help="new users: JSON lines, each a list of raw item ids, oldest first"
    )
    p.add_argument("--k", type=int, default=10, help="items per user (default 10)")
    p.add_argument("--out", default="recs.parquet", help="output Parquet file (default recs.parquet)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--include-seen", action="store_true", help="also recommend items of the user's own history")
    p.add_argument(
        "--split",
        choices=list(SPLITS),
        default="all",
        help="history of a known user: all (default) | test (without its last item) | valid (last two)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        metavar="N",
        help=f"users per batch (default: the run's eval.batch_size, or {DEFAULT_BATCH})",
    )
    p.add_argument("--skip-unknown", action="store_true", help="skip unknown raw ids (counted) instead of failing")
    p.add_argument("--device", help="cpu | cuda | cuda:N (default: cuda when available)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def read_users(path: Path) -> list[str]:
    if path.suffix == ".parquet":
        import polars as pl

        frame = pl.read_parquet(path)
        if "user" not in frame.columns:
            raise ConfigError(f"{path}: no column 'user' (columns: {', '.join(frame.columns)})")
        return frame["user"].cast(str).to_list()
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def read_histories(path: Path) -> list[list]:
    out = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            h = json.loads(line)
        except ValueError as e:
            raise ConfigError(f"{path}:{n}: not JSON ({e})") from None
        if not isinstance(h, list) or not all(isinstance(x, (str, int)) and not isinstance(x, bool) for x in h):
            raise ConfigError(f"{path}:{n}: not a JSON list of raw item ids")
        out.append(h)
    return out


def open_source(source: Path, model: str, device, batch_size):
    from slmrec import export
    from slmrec.recommend import Recommender

    if not source.exists():
        raise ConfigError(f"{source}: no such run or export directory")
    if export.is_export(source):
        return Recommender.load(source, device=device, batch_size=batch_size)
    return Recommender.from_run(source, model=model, device=device, batch_size=batch_size)


def main(argv=None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    try:
        args = parser().parse_args(sys.argv[1:] if argv is None else list(argv))
        out = Path(args.out)
        if args.k < 1:
            raise ConfigError(f"--k must be at least 1, not {args.k}")
        if args.batch_size is not None and args.batch_size < 1:
            raise ConfigError(f"--batch-size must be at least 1, not {args.batch_size}")
        check_out(out, args.force)
        users = histories = None
        if args.histories:
            histories = read_histories(Path(args.histories))
        elif args.users != "all":
            users = read_users(Path(args.users))
        rec = open_source(Path(args.source), args.model, args.device, args.batch_size)
        unknown = "skip" if args.skip_unknown else "error"
        start = time.perf_counter()
        common = dict(k=args.k, exclude_seen=not args.include_seen, on_unknown=unknown, progress=not args.quiet)
        if histories is not None:
            frame = rec.recommend_histories(histories, **common)
            served = frame["history"].n_unique()
        else:
            frame = rec.recommend(users, split=args.split, **common)
            served = frame["user"].n_unique()
        seconds = time.perf_counter() - start
        write_out(out, frame.write_parquet)
        skipped = "".join(f", skipped {n} {what.replace('_', ' ')}" for what, n in rec.last_skipped.items() if n)
        print(
            f"wrote {out}: {served:,} {'histories' if histories is not None else 'users'} x k {args.k} = "
            f"{len(frame):,} rows in {seconds:.1f} s ({served / seconds if seconds > 0 else 0:,.0f} users/s), "
            f"{rec.info.get('model')} ({rec.kind}) on {rec.device.type}{skipped}"
        )
        return 0
    except (SlmrecError, OSError, ValueError) as e:
        return user_error(PROG, e)


if __name__ == "__main__":
    sys.exit(main())
