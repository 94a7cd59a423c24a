"""`slmrec-prep`: raw review dumps -> a dataset directory, from the command line.

Design: argparse over `slmrec.prepare`; the Rust call runs on a worker thread with the interpreter released, so
the main thread can draw a byte-level progress bar (tqdm, on stderr, only for large inputs). Every failure the user
can fix (bad data, missing file, existing output) prints one `slmrec-prep: error: ...` line and exits with code 2;
no traceback reaches the user.
"""

from __future__ import annotations

import os

# The data tools use NumPy only to hold arrays; an idle OpenBLAS thread pool would spin on the cores the
# Rust parser needs. Set before NumPy is first imported (a user's explicit setting wins).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

PROGRESS_MIN_BYTES = 32 << 20


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="slmrec-prep",
        description="Read review dumps (Amazon 2018/2014 JSON lines, plain or .gz; ratings CSV; RecBole .inter; "
        "sequence lines) and write a dataset directory of clean per-user sequences.",
    )
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="input files, read as one stream in this order")
    p.add_argument("--out", required=True, metavar="DIR", help="dataset directory to write (atomically)")
    p.add_argument("--meta", nargs="+", default=[], metavar="FILE", help="Amazon metadata files (title, brand, main_cat)")
    p.add_argument("--format", choices=["amazon-json", "ratings-csv", "recbole", "seq"], help="skip detection")
    p.add_argument("--recipe", default="kcore", choices=["kcore", "slmrec-paper", "none"])
    p.add_argument("--min-rating", type=float, help="keep ratings >= X (kcore; slmrec-paper defaults to 3)")
    p.add_argument("--user-min", type=int, help="min interactions per user (default 5)")
    p.add_argument("--item-min", type=int, help="min interactions per item (default 5; slmrec-paper 20)")
    p.add_argument("--on-bad-line", default="fail", choices=["fail", "skip"], help="fail (default) or count and skip")
    p.add_argument("--threads", type=int, help="worker threads (default: all cores)")
    p.add_argument("--force", action="store_true", help="replace DIR if it exists")
    p.add_argument(
        "--synthetic",
        type=int,
        metavar="N",
        help="generate the embedded default (N users of Amazon-2018-shaped reviews) as DIR.synthetic.json.gz "
        "and prepare it",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of --synthetic")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    return p


def _run_with_progress(inputs: list[str], kwargs: dict, quiet: bool):
    """Runs prepare on a worker thread; draws a bytes progress bar meanwhile for large inputs."""
    import slmrec
    from slmrec import _core

    progress = _core.Progress()
    result: dict = {}

    def work() -> None:
        try:
            result["dataset"] = slmrec.prepare(inputs, progress=progress, **kwargs)
        except BaseException as e:  # re-raised on the main thread
            result["error"] = e

    total = sum(os.path.getsize(p) for p in inputs if os.path.isfile(p))
    worker = threading.Thread(target=work, name="slmrec-prepare", daemon=True)
    worker.start()
    if not quiet and total >= PROGRESS_MIN_BYTES:
        from tqdm import tqdm

        with tqdm(total=total, unit="B", unit_scale=True, desc="reading", file=sys.stderr) as bar:
            while worker.is_alive():
                worker.join(0.2)
                bar.update(progress.done - bar.n)
            bar.update(progress.done - bar.n)
    worker.join()
    if "error" in result:
        raise result["error"]
    return result["dataset"]


def _summary(ds, seconds: float) -> str:
    s = ds.stats
    mb = sum(f["bytes"] for f in s["inputs"]) / 1e6
    rows = [
        ("inputs", ", ".join(f"{Path(f['path']).name} ({f['format']})" for f in s["inputs"])),
        ("lines read", f"{s['lines_read']:,} ({s['bad_lines']:,} bad, {s['blank_lines']:,} blank)"),
        ("records", f"{s['records']:,}"),
        ("dropped by rating", f"{s['dropped_by_rating']:,}"),
        ("duplicates dropped", f"{s['duplicates_dropped']:,}"),
        ("k-core dropped", f"{s['kcore_dropped']:,} in {s['kcore_rounds']} rounds"),
        ("paper filters dropped", f"{s['dropped_by_user_filter'] + s['dropped_by_item_filter'] + s['dropped_short_users']:,}"),
        ("users / items", f"{s['users']:,} / {s['items']:,}"),
        ("interactions", f"{s['interactions']:,} (sparsity {s['sparsity']:.5f})"),
        ("sequence length", f"mean {s['seq_len']['mean']:.2f}, median {s['seq_len']['median']}, max {s['seq_len']['max']}"),
        ("time", f"{seconds:.2f} s ({mb / max(seconds, 1e-9):.0f} MB/s of input as stored)"),
        ("written", str(ds.path)),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows)


def prep_main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from slmrec.errors import SlmrecError

    try:
        inputs = list(args.inputs)
        if args.synthetic is not None:
            from slmrec import synth

            raw = Path(f"{args.out.rstrip('/')}.synthetic.json.gz")
            synth.generate_reviews(raw, n_users=args.synthetic, seed=args.seed)
            inputs.append(str(raw))
        if not inputs:
            _parser().error("give at least one INPUT file, or --synthetic N")
        kwargs = dict(
            out_dir=args.out,
            meta=args.meta,
            format=args.format,
            recipe=args.recipe,
            min_rating=args.min_rating,
            user_min=args.user_min,
            item_min=args.item_min,
            on_bad_line=args.on_bad_line,
            threads=args.threads,
            force=args.force,
        )
        start = time.perf_counter()
        ds = _run_with_progress(inputs, kwargs, args.quiet)
        if not args.quiet:
            print(_summary(ds, time.perf_counter() - start), file=sys.stderr)
        return 0
    except (SlmrecError, OSError, ValueError) as e:
        print(f"slmrec-prep: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("slmrec-prep: interrupted", file=sys.stderr)
        return 130


def main() -> None:
    sys.exit(prep_main())


if __name__ == "__main__":
    main()
