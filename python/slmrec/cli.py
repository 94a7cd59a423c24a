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
        epilog="ratings-csv is Amazon's ratings file: no header line, four columns read by position as "
        "item,user,rating,timestamp (a user,item,... file would have users and items swapped; the summary and "
        "stats.json say how each input was read). A header-aware table reader for other layouts is planned "
        "(issue 17). Inputs may be pipes or /dev/stdin. Parquet, bzip2, xz, zstd and zip inputs are recognised "
        "and refused: convert or decompress them first.",
    )
    from slmrec import __version__

    p.add_argument("--version", action="version", version=f"slmrec-prep {__version__}")
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="input files, read as one stream in this order")
    p.add_argument("--out", required=True, metavar="DIR", help="dataset directory to write (atomically)")
    p.add_argument("--meta", nargs="+", default=[], metavar="FILE", help="Amazon metadata files (title, brand, main_cat)")
    p.add_argument("--format", choices=["amazon-json", "ratings-csv", "recbole", "seq"],
                   help="skip detection (ratings-csv: item,user,rating,timestamp by position, no header)")
    p.add_argument("--recipe", default="kcore", choices=["kcore", "slmrec-paper", "none"])
    p.add_argument("--min-rating", type=float,
                   help="keep ratings >= X, a finite number (kcore; slmrec-paper defaults to 3; refused with none)")
    p.add_argument("--user-min", type=int, help="min interactions per user (default 5)")
    p.add_argument("--item-min", type=int, help="min interactions per item (default 5; slmrec-paper 20)")
    p.add_argument("--on-bad-line", default="fail", choices=["fail", "skip"], help="fail (default) or count and skip")
    p.add_argument("--threads", type=int, help="worker threads, 1..1024 (default: all cores)")
    p.add_argument("--max-line-bytes", type=int, metavar="N",
                   help="longest line accepted (default 256 MiB); a longer one is an error, in both --on-bad-line modes")
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


#: Inputs smaller than this get no MB/s figure in the summary (it would measure the start-up, not the reading).
RATE_MIN_BYTES = 1_000_000

#: How each input's columns were read, as the summary says it (stats.json: inputs[].columns_by).
_COLUMNS_BY = {"position": "positional", "header": "from its header line", "key": "by key"}


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _summary(ds, seconds: float) -> str:
    s = ds.stats
    recipe = s["recipe"]["name"] if isinstance(s.get("recipe"), dict) else s.get("recipe")
    total_bytes = sum(f["bytes"] for f in s["inputs"])
    rows = [("inputs", ", ".join(f"{Path(f['path']).name} ({f['format']})" for f in s["inputs"]))]
    for f in s["inputs"]:
        if f.get("columns"):
            how = _COLUMNS_BY.get(f.get("columns_by"), f.get("columns_by"))
            label = "columns" if len(s["inputs"]) == 1 else f"columns of {Path(f['path']).name}"
            rows.append((label, f"{f['columns']} ({f['format']}, {how})"))
    lines = f"{s['lines_read']:,} ({s['bad_lines']:,} bad, {s['blank_lines']:,} blank"
    lines += f", {s['header_lines']:,} header)" if s.get("header_lines") else ")"
    rows += [("lines read", lines), ("records", f"{s['records']:,}")]
    if recipe != "none":
        rows.append(("dropped by rating", f"{s['dropped_by_rating']:,}"))
        rows.append(("duplicates dropped", f"{s['duplicates_dropped']:,}"))
    if recipe == "kcore":
        rows.append(("k-core dropped", f"{s['kcore_dropped']:,} in {_plural(s['kcore_rounds'], 'round')}"))
    if recipe == "slmrec-paper":
        paper = s["dropped_by_user_filter"] + s["dropped_by_item_filter"] + s["dropped_short_users"]
        rows.append(("paper filters dropped", f"{paper:,}"))
    rows += [
        ("users / items", f"{s['users']:,} / {s['items']:,}"),
        ("interactions", f"{s['interactions']:,} (sparsity {s['sparsity']:.5f})"),
        ("sequence length", f"mean {s['seq_len']['mean']:.2f}, median {s['seq_len']['median']}, max {s['seq_len']['max']}"),
    ]
    short = s.get("users_too_short_for_split", 0)
    if short:  # fewer than 3 interactions: no train, valid and test item (leave-one-out)
        note = " (all of them: nothing to train or evaluate on)" if short == s["users"] else ""
        rows.append(("users too short to split", f"{short:,} of {s['users']:,}{note}"))
    if "meta" in s:
        matched = s["meta"].get("items_with_meta") or 0
        rows.append(("metadata", f"{matched:,} of {s['items']:,} items matched"))
    time_text = f"{seconds:.2f} s"
    if total_bytes >= RATE_MIN_BYTES:
        time_text += f" ({total_bytes / 1e6 / max(seconds, 1e-9):.0f} MB/s of input as stored)"
    rows += [("time", time_text), ("written", str(ds.path))]
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
            max_line_bytes=args.max_line_bytes,
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
