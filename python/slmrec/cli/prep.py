"""`slmrec-prep`: raw review dumps -> a dataset directory, from the command line.

Design: argparse over `slmrec.prepare`; the Rust call runs on a worker thread with the interpreter released, so
the main thread can draw a byte-level progress bar (tqdm, on stderr, only for large inputs). Every failure the user
can fix (bad data, missing file, existing output) prints one `slmrec-prep: error: ...` line and exits with code 2,
without a traceback; a bug (`InternalError`, `MemoryError`, anything else) keeps its traceback and is never
reported as the user's input.
"""

from __future__ import annotations

import os

# The data tools use NumPy only to hold arrays; an idle OpenBLAS thread pool would spin on the cores the
# Rust parser needs. Set before NumPy is first imported (a user's explicit setting wins).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

from slmrec.cli import Parser, user_error  # noqa: E402

PROGRESS_MIN_BYTES = 32 << 20

#: The input formats: (name, what it is, the fields used in their column order). The one home of this text:
#: ``--help`` prints it, and the README's "Inputs" table and "The recipe" list are :func:`readme_tables`
#: (tests/test_cli_prep.py checks that the README holds exactly that).
FORMATS = [
    (
        "amazon-json",
        "Amazon 2018 (and 2014) reviews, JSON lines, plain or gzip (multi-member too; detected by magic bytes)",
        "by key: `reviewerID` -> user, `asin` -> item, `unixReviewTime` -> timestamp, `overall` -> "
        "rating; every other field is validated and skipped without being materialised",
    ),
    (
        "amazon23",
        "Amazon Reviews 2023 (McAuley Lab) JSON lines, plain or gzip",
        "by key: `user_id` -> user, "
        "`parent_asin` -> item (`--item-key asin`: the variant), `timestamp` -> timestamp (milliseconds, stored as "
        "given), `rating`; every other field (`text`, `images`, ...) is validated and skipped without being "
        "materialised",
    ),
    (
        "table",
        "any table with a header: delimited text (CSV, TSV, ...; plain or gzip) or a Parquet file",
        "by header name: `--columns user=COL,item=COL[,time=COL][,rating=COL]`; a role not given is the first of "
        "these the header has (ASCII case ignored): user `user_id, userId, user, reviewerID`; item `item_id, itemId, "
        "item, movieId, parent_asin, asin, business_id`; time `timestamp, time, date, unixReviewTime`; rating "
        "`rating, overall, stars` (no time column: the record's position; no rating: none). Delimiter: "
        "`--delimiter`, or the most frequent of tab, comma, semicolon, pipe in the header. RFC 4180 quoting: a "
        "field may be double-quoted (a quote inside doubled, a line break inside kept; such a record counts as one "
        "line, and messages name the line it starts on); every record has the header's column count. Time: an "
        "integer (or decimal) in seconds, or in milliseconds when the first row's time is at least 10^11; or an "
        "ISO-8601 date or date-time (`YYYY-MM-DD[THH:MM[:SS[.f]]][Z|+HH:MM]`, UTC without an offset) converted to "
        "that unit; a Parquet TIMESTAMP or DATE column is converted to seconds. A time more than 100 years from now, "
        "or under 10^11 in a milliseconds column, is a bad value (a seconds/milliseconds mix-up)",
    ),
    (
        "movielens",
        "MovieLens `ratings.dat` (ML-1M/10M), `ratings.csv` (ML-20M/25M/32M/latest) or ML-100K's `u.data`",
        "by position: `UserID::MovieID::Rating::Timestamp`, or `u.data`'s tab-separated user, item, rating, "
        "timestamp (told from sequence lines by its rating of 1-5 and its Unix time), or by ratings.csv's header "
        "`userId,movieId,rating,timestamp`; timestamps in seconds (one more than 100 years from now is a bad "
        "value)",
    ),
    (
        "yelp",
        "Yelp Open Dataset `review.json`, JSON lines",
        "by key: `user_id` -> user, `business_id` -> item, "
        "`date` (`YYYY-MM-DD HH:MM:SS`, read as UTC; `HH:MM` without seconds too) -> timestamp in seconds, `stars` "
        "-> rating; other fields skipped",
    ),
    (
        "ratings-csv",
        "Amazon ratings CSV, no header (with `--format ratings-csv`, a header line is an error; "
        "detection reads a file with a header as a `table`)",
        "by position, comma-separated: `item,user,rating,timestamp` (a `user,item,...` file without a header would "
        "be read swapped: the summary and `stats.json` say how each input was read)",
    ),
    (
        "recbole",
        "RecBole atomic `.inter`, tab-separated, typed header (`user_id:token item_id:token rating:float "
        "timestamp:float`)",
        "by header, in any column order: `user_id`, `item_id`, optional `rating`, optional "
        "`timestamp` (without it, the record's position; float timestamps are floored and counted in "
        "`timestamps_truncated`); other columns are skipped",
    ),
    (
        "seq",
        "sequence lines `user item item ...` (S3-Rec/ICLRec)",
        "by position, whitespace-separated: the user, "
        "then its items oldest first (non-negative integer ids); no rating; timestamps are the positions 0, 1, 2, ...",
    ),
]

#: The ``--meta`` files, described as the formats are.
META = (
    "--meta",
    "Amazon metadata `meta_*.json.gz`, 2018 (2020 `image` and 2021 `imageURL` schemas) and 2023 (`meta_*.jsonl`)",
    "by key: `asin`; `title`, `brand`, `main_cat` joined onto the item table (2023: "
    "`parent_asin`; `title`, `store` as `brand`, `main_category` as `main_cat`); the first row of an item "
    "wins; HTML entities decoded (one of no character, such as `&#0;`, stays as written)",
)

DEFAULT_RECIPE = "kcore"

#: The recipes (``--recipe``), exactly; kept here beside FORMATS for the same reason.
RECIPES = [
    (
        "kcore",
        "optional `--min-rating X` (records without a rating are dropped when set) -> dedup: for each (user, "
        "item) keep the earliest occurrence by (timestamp, input order) -> iterative k-core to its fixpoint with "
        "`--user-min` (default 5) and `--item-min` (default 5). Each round removes, at once, the records of every "
        "user and item below its minimum (counts taken at the round's start).",
    ),
    (
        "slmrec-paper",
        "the paper's notebook, fixed: rating >= 3 -> users with >= 5 rows (one pass, duplicates "
        "counted) -> items with >= 20 rows (one pass) -> dedup as above -> users with >= 5 rows.",
    ),
    (
        "none",
        "nothing dropped (for files that are already preprocessed, such as sequence lines); `--min-rating`, "
        "`--user-min` and `--item-min` are refused with it (they would be ignored).",
    ),
]

#: What every recipe then does.
AFTER_RECIPE = [
    ("order", "each user's interactions sorted by (timestamp, input order)."),
    (
        "ids",
        "users and items numbered 1..n over their sorted raw ids (numeric order when every surviving raw id "
        "is an integer, otherwise byte order); 0 is padding and never a real item.",
    ),
    (
        "split",
        "leave-one-out: the last interaction is the test target, the second last the validation target, "
        "the rest is training.",
    ),
]

#: The rules every input shares (after the formats, in the help and the README).
INPUT_NOTES = (
    "Several inputs are read as one stream, in argument order. Blank lines are counted and ignored; CRLF "
    "line endings and a UTF-8 BOM are accepted. Pipes and `/dev/stdin` are read as streams. A Parquet "
    "file (told by its magic bytes) is read as a `table`, its rows counted as lines; bzip2, xz, zstd "
    "and zip files are refused with the command that converts them. A line longer than "
    "`--max-line-bytes` (default 256 MiB) is an error in both `--on-bad-line` modes; `--threads` takes "
    "1..1024. `--columns`, `--delimiter` and `--item-key` are refused for a file of another format."
)


def _recipe_name(name: str) -> str:
    return f"{name} (default)" if name == DEFAULT_RECIPE else name


def readme_tables() -> str:
    """The README's "Inputs" table with its notes, and its "The recipe" list, as Markdown."""
    import textwrap

    def fill(text: str, indent: str = "") -> str:
        return textwrap.fill(text, 116, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)

    rows = ["| format | what | fields used, in column order |", "|---|---|---|"]
    rows += [f"| `{name}` | {what} | {fields} |" for name, what, fields in [*FORMATS, META]]
    recipes = [f"- `--recipe {name}`{' (default)' if name == DEFAULT_RECIPE else ''}: {text}" for name, text in RECIPES]
    recipes += [f"- {head.capitalize()}: {text}" for head, text in AFTER_RECIPE]
    return "\n".join(
        [*rows, "", fill(INPUT_NOTES), "", "### The recipe (exact)", "", *(fill(r, "  ") for r in recipes)]
    )


def _epilog(width: int) -> str:
    """The help's closing text: each format's fields in column order, the recipes, then the input notes."""
    import textwrap

    heads = [*(n for n, _, _ in FORMATS), META[0], *map(_recipe_name, (n for n, _ in RECIPES))]
    hang = 2 + max(map(len, heads)) + 2

    def block(head: str, text: str) -> list[str]:
        return textwrap.wrap(
            text.replace("`", ""),
            width,
            initial_indent=f"  {head:<{hang - 2}}",
            subsequent_indent=" " * hang,
            break_long_words=False,
            break_on_hyphens=False,
        )

    lines = ["input formats (detected by content and extension; --format overrides):"]
    for name, what, fields in [*FORMATS, META]:
        lines += block(name, what) + block("", f"fields: {fields}")
    lines += ["", "recipes (--recipe):"]
    for name, text in RECIPES:
        lines += block(_recipe_name(name), text)
    lines += ["then, whatever the recipe:"]
    for head, text in AFTER_RECIPE:
        lines += block(head, text)
    lines += [""] + textwrap.wrap(INPUT_NOTES.replace("`", ""), width, break_on_hyphens=False)
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    import shutil

    width = max(shutil.get_terminal_size().columns - 2, 40)
    p = Parser(
        prog="slmrec-prep",
        description="Read review dumps and interaction tables (Amazon 2014/2018 and 2023 JSON lines, plain or .gz; "
        "any CSV/TSV or Parquet table with a header; MovieLens and Yelp ratings; Amazon ratings CSV; RecBole "
        ".inter; sequence lines) and write a dataset directory of clean per-user sequences.",
        epilog=_epilog(width),
        formatter_class=_Formatter,
    )
    from slmrec import __version__

    p.add_argument("--version", action="version", version=f"slmrec-prep {__version__}")
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="input files, read as one stream in this order")
    p.add_argument("--out", required=True, metavar="DIR", help="dataset directory to write (atomically)")
    p.add_argument(
        "--meta", nargs="+", default=[], metavar="FILE", help="Amazon metadata files (title, brand, main_cat)"
    )
    p.add_argument(
        "--format",
        choices=[name for name, _, _ in FORMATS],
        help="skip detection (each format's fields and column order are below)",
    )
    p.add_argument(
        "--columns",
        metavar="user=COL,item=COL[,time=COL][,rating=COL]",
        help="table: the columns to read, by header name (a role not given is guessed)",
    )
    p.add_argument(
        "--delimiter",
        metavar="C",
        help="table: the field delimiter (one character, or \\t; default: detected from the header)",
    )
    p.add_argument(
        "--item-key",
        choices=["parent_asin", "asin"],
        help="amazon23: the item id (default parent_asin, the product; asin is the variant)",
    )
    p.add_argument(
        "--recipe",
        default=DEFAULT_RECIPE,
        choices=[name for name, _ in RECIPES],
        help=f"which records to keep (default {DEFAULT_RECIPE}; each recipe is described below)",
    )
    p.add_argument(
        "--min-rating",
        type=float,
        help="keep ratings >= X, a finite number (kcore; slmrec-paper defaults to 3; refused with none)",
    )
    p.add_argument("--user-min", type=int, help="min interactions per user (default 5)")
    p.add_argument("--item-min", type=int, help="min interactions per item (default 5; slmrec-paper 20)")
    p.add_argument("--on-bad-line", default="fail", choices=["fail", "skip"], help="fail (default) or count and skip")
    p.add_argument("--threads", type=int, help="worker threads, 1..1024 (default: all cores)")
    p.add_argument(
        "--max-line-bytes",
        type=int,
        metavar="N",
        help="longest line accepted (default 256 MiB); a longer one is an error, in both --on-bad-line modes",
    )
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


class _Formatter(argparse.HelpFormatter):
    """Wraps the description and options as argparse does; the epilog, already laid out, is kept as it is."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return text if "\n" in text else super()._fill_text(text, width, indent)


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


def _summary(ds) -> str:
    """The table printed after preparing: what stats.json records that a user needs (its elapsed time too)."""
    s = ds.stats
    seconds = s.get("elapsed_seconds", 0.0)
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
        (
            "sequence length",
            f"mean {s['seq_len']['mean']:.2f}, median {s['seq_len']['median']}, max {s['seq_len']['max']}",
        ),
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
    from slmrec.errors import InternalError, SlmrecError

    try:
        args = _parser().parse_args(argv)
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
            columns=args.columns,
            delimiter=args.delimiter,
            item_key=args.item_key,
        )
        ds = _run_with_progress(inputs, kwargs, args.quiet)
        if not args.quiet:
            print(_summary(ds), file=sys.stderr)
        return 0
    except InternalError:  # a bug (a caught panic), not the user's input: its traceback, not "error: ..." and 2
        raise
    except (SlmrecError, OSError, ValueError) as e:
        return user_error("slmrec-prep", e)
    except KeyboardInterrupt:
        print("slmrec-prep: interrupted", file=sys.stderr)
        return 130


def main() -> None:
    sys.exit(prep_main())


if __name__ == "__main__":
    main()
