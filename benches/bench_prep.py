"""Preprocessing benchmark: ``slmrec.prepare`` against ``gzip -dc``, a polars pipeline and the pandas way.

    python benches/bench_prep.py [--size-mb 1024] [--workdir /tmp/slmrec-bench] [--json OUT]
    python benches/bench_prep.py --only table [--table-gb 1.0]    # only the `table` rows

On a generated Amazon-2018-shaped ``.json.gz`` (``slmrec.synth.generate_to_size``, cached in the work
directory) this times, each in a fresh process, with wall time and peak RSS (the ``os.wait4`` rusage of
that process, started from a small launcher so that it does not inherit this script's RSS):

* ``gzip -dc FILE > /dev/null`` (the floor: just inflating the file);
* ours: the ``slmrec-prep FILE --out DIR --force -q`` command (when installed beside this Python) and
  ``slmrec.prepare(FILE, out, force=True)``, recipe kcore 5/5, all cores, interpreter start included;
  also the latter on the same file uncompressed (to split inflate from parse) and on the same reviews written with
  almost no text (peak RSS must follow the kept interactions, not the text);
* polars: the same recipe and output semantics written in polars (read_ndjson of the 4 columns, which
  inflates the gzip itself -> dedup keeping the earliest (timestamp, input order) per (user, item) ->
  iterative k-core to its fixpoint -> dense ids in raw-id order -> parquet sorted by (user, time, input
  order)); its result is compared with ours row for row;
* pandas: the approach of the paper's preprocessing (McAuley's ``getDF``: ``json.loads`` per line into a
  dict of dicts -> ``DataFrame.from_dict`` -> drop_duplicates -> groupby k-core -> sequence file), on a
  prefix of the file (``--pandas-mb``, 0 = whole file) with its time scaled linearly to the whole file.
  Skipped with a note when pandas is not installed (``pip install pandas``).

Then (``--only json`` skips it, ``--only table`` runs only it) the `table` format: a CSV with the header
``user_id,item_id,rating,timestamp`` of at least ``--table-gb`` GiB (``synth``'s interactions, shuffled, cached in
the work directory) and the same rows as a Parquet file, each prepared by ``slmrec-prep FILE --out DIR`` and by the
same polars recipe read with ``pl.read_csv`` / ``pl.read_parquet``, outputs compared row for row, target: polars
at least 3x our time.

It prints a table (seconds, MB/s of decompressed input, reviews/s, peak RSS, ratios vs gzip and vs ours),
checks the targets of the issue and writes everything as JSON. It is a benchmark, not a test: pytest never
collects it. All ratios come from one invocation on one machine; each step but pandas runs ``--repeat``
times (default 3) and the fastest is kept, since shared cores make single timings noisy.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))  # run from a checkout without installing (the extension is built in place)

MB = 1 << 20
USER_MIN = ITEM_MIN = 5
TABLE_HEADER = ("user_id", "item_id", "rating", "timestamp")  # the `table` input's columns, in file order


# --------------------------------------------------------------------------------------------------------
# The competitors, each run as `python bench_prep.py --child NAME SRC OUT [LIMIT]` in a fresh process.


def child_ours(src: str, out: str) -> dict:
    import slmrec

    ds = slmrec.prepare(src, out, force=True)
    return {
        "interactions": ds.num_interactions,
        "users": ds.num_users,
        "items": ds.num_items,
        "lines": ds.stats["lines_read"],
        "threads": ds.stats["threads"],
        "inner_seconds": ds.stats["elapsed_seconds"],
    }


def polars_recipe(df, out: str) -> dict:
    """The recipe in polars on a frame of ``user, item, timestamp, rating, row`` (``row``: the input order);
    writes the dataset's three parquet files into ``out``."""
    import polars as pl

    lines = df.height
    # Dedup: per (user, item) the earliest by (timestamp, input order).
    df = df.sort(["timestamp", "row"]).unique(["user", "item"], keep="first", maintain_order=True)
    # Iterative k-core: each round drops every user and item below its minimum, to the fixpoint.
    while True:
        kept = df.filter((pl.len().over("user") >= USER_MIN) & (pl.len().over("item") >= ITEM_MIN))
        if kept.height == df.height:
            break
        df = kept
    # Dense ids 1.. in raw-id order; rows by (user, timestamp, input order).
    df = df.with_columns(
        user_id=pl.col("user").rank("dense").cast(pl.UInt32),
        item_id=pl.col("item").rank("dense").cast(pl.UInt32),
    ).sort(["user_id", "timestamp", "row"])
    os.makedirs(out, exist_ok=True)
    df.select("user_id", "item_id", "timestamp", "rating").write_parquet(Path(out) / "interactions.parquet")
    df.select("user_id", "user").unique().sort("user_id").write_parquet(Path(out) / "users.parquet")
    df.select("item_id", "item").unique().sort("item_id").write_parquet(Path(out) / "items.parquet")
    return {
        "interactions": df.height,
        "users": int(df["user_id"].max()),
        "items": int(df["item_id"].max()),
        "lines": lines,
    }


def child_polars(src: str, out: str) -> dict:
    import polars as pl

    schema = {"reviewerID": pl.String, "asin": pl.String, "overall": pl.Float32, "unixReviewTime": pl.Int64}
    df = pl.read_ndjson(src, schema=schema, row_index_name="row")
    names = {"reviewerID": "user", "asin": "item", "unixReviewTime": "timestamp", "overall": "rating"}
    return polars_recipe(df.rename(names), out)


def child_polars_table(src: str, out: str) -> dict:
    """What a user writes for a CSV (``pl.read_csv``) or a Parquet file (``pl.read_parquet``) of the table."""
    import polars as pl

    if src.endswith(".parquet"):
        df = pl.read_parquet(src, columns=list(TABLE_HEADER), row_index_name="row")
    else:
        schema = dict(zip(TABLE_HEADER, (pl.String, pl.String, pl.Float32, pl.Int64)))
        df = pl.read_csv(src, schema=schema, row_index_name="row")
    names = {"user_id": "user", "item_id": "item"}
    return polars_recipe(df.rename(names), out)


def child_pandas(src: str, out: str, limit_bytes: int) -> dict:
    import pandas as pd

    def parse(path):  # the Amazon dataset page's reader, stopped after `limit_bytes` of decompressed input
        g = gzip.open(path, "rb")
        read = 0
        for line in g:
            read += len(line)
            yield json.loads(line)
            if limit_bytes and read >= limit_bytes:
                break
        parse.bytes_read = read

    def get_df(path):
        i = 0
        df = {}
        for d in parse(path):
            df[i] = d
            i += 1
        return pd.DataFrame.from_dict(df, orient="index")

    df = get_df(src)
    lines = len(df)
    df = df[["reviewerID", "asin", "overall", "unixReviewTime"]].copy()
    df["row"] = range(len(df))
    df = df.sort_values(["unixReviewTime", "row"], kind="stable").drop_duplicates(["reviewerID", "asin"])
    while True:
        u = df.groupby("reviewerID")["asin"].transform("size")
        i = df.groupby("asin")["reviewerID"].transform("size")
        kept = df[(u >= USER_MIN) & (i >= ITEM_MIN)]
        if len(kept) == len(df):
            break
        df = kept
    df = df.sort_values(["reviewerID", "unixReviewTime", "row"], kind="stable")
    user_map = {u: k + 1 for k, u in enumerate(sorted(df["reviewerID"].unique()))}
    item_map = {a: k + 1 for k, a in enumerate(sorted(df["asin"].unique()))}
    os.makedirs(out, exist_ok=True)
    with open(Path(out) / "sequences.txt", "w") as f:
        for user, items in df.groupby("reviewerID", sort=True)["asin"]:
            f.write(f"{user_map[user]} " + " ".join(str(item_map[a]) for a in items) + "\n")
    return {
        "interactions": len(df),
        "users": len(user_map),
        "items": len(item_map),
        "lines": lines,
        "bytes_read": parse.bytes_read,
    }


# --------------------------------------------------------------------------------------------------------
# Running and measuring


# Linux starts a child's peak RSS at its parent's RSS (fork copies it, exec keeps the high-water mark), so
# every command runs under this small launcher process and its own rusage (os.wait4) is what is reported.
LAUNCHER = """
import json, os, subprocess, sys, time
cmd, quiet = json.loads(sys.argv[1]), sys.argv[2] == "1"
start = time.perf_counter()
proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL if quiet else subprocess.PIPE)
out = b"" if quiet else proc.stdout.read()
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - start
sys.stdout.write(out.decode())
print(json.dumps({"seconds": wall, "peak_rss_mb": usage.ru_maxrss / 1024,
                  "cpu_seconds": usage.ru_utime + usage.ru_stime, "exit": os.waitstatus_to_exitcode(status)}))
"""


def measure(cmd: list[str], quiet: bool = False) -> dict:
    """Wall seconds, peak RSS (MB) and CPU seconds of one command, merged with the JSON it printed last."""
    proc = subprocess.run(
        [sys.executable, "-c", LAUNCHER, json.dumps(cmd), "1" if quiet else "0"], capture_output=True, text=True
    )
    lines = proc.stdout.strip().splitlines()
    usage = json.loads(lines[-1]) if lines else {"exit": proc.returncode}
    if proc.returncode != 0 or usage["exit"] != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({usage['exit']}):\n{proc.stderr[-3000:]}")
    result = json.loads(lines[-2]) if len(lines) > 1 else {}
    result.update(usage)
    return result


def best_of(n: int, fn) -> dict:
    """The run with the least wall time out of ``n`` (peak RSS: the largest seen)."""
    runs = [fn() for _ in range(n)]
    best = min(runs, key=lambda r: r["seconds"])
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    best["all_seconds"] = [r["seconds"] for r in runs]
    return best


def run_child(name: str, *args) -> dict:
    return measure([sys.executable, str(Path(__file__).resolve()), "--child", name, *map(str, args)])


def generator_version() -> str:
    """A hash of ``slmrec.synth``: cached files are generated again when it changes."""
    from slmrec import synth

    return hashlib.sha256(Path(synth.__file__).read_bytes()).hexdigest()[:16]


def warm(*files: Path) -> None:
    """Reads ``files`` into the page cache, so that no competitor pays for the disk."""
    for f in files:
        with open(f, "rb") as fh:
            while fh.read(64 * MB):
                pass


def table_frame(n_users: int, seed: int):
    """The interactions of ``slmrec.synth`` (its hidden process, catalogue and id shapes) for ``n_users`` users
    as a frame with the columns TABLE_HEADER, rows shuffled (a dump in no particular order); whole-day times
    in seconds, so same-day ties are frequent and the dedup has to use the input order."""
    import numpy as np
    import polars as pl

    from slmrec import synth

    inter = synth.interactions(n_users, seed=seed, shuffle=True)
    return pl.DataFrame(
        {
            "user_id": pl.Series(inter["user_ids"]).gather(inter["user"]),
            "item_id": pl.Series(inter["item_ids"]).gather(inter["item"]),
            "rating": inter["rating"].astype(np.float32),
            "timestamp": inter["day"] * 86_400,
        }
    )


def ensure_table_files(workdir: Path, size_gb: float, seed: int) -> dict:
    """The `table` inputs, generated once and cached: a CSV with a header of at least ``size_gb`` GiB and the
    same rows as a Parquet file."""
    import polars as pl

    workdir.mkdir(parents=True, exist_ok=True)
    stem = f"table-{size_gb:g}gb-seed{seed}"
    csv, pq, info_path = workdir / f"{stem}.csv", workdir / f"{stem}.parquet", workdir / f"{stem}.summary.json"
    target = int(size_gb * (1 << 30))
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    if info.get("generator") != generator_version() or not (csv.exists() and pq.exists()):
        print(f"generating {csv} and {pq.name} (>= {size_gb:g} GiB of CSV) ...", flush=True)
        t = time.perf_counter()
        n_users = max(1, math.ceil(target / 370))  # about 9 rows of 41 bytes per user; corrected below
        while True:
            df = table_frame(n_users, seed)
            tmp = csv.with_name(csv.name + ".tmp")
            df.write_csv(tmp)
            if tmp.stat().st_size >= target:
                break
            n_users = math.ceil(n_users * 1.03 * target / tmp.stat().st_size)
        os.replace(tmp, csv)
        df.write_parquet(pq)
        info = {
            "generator": generator_version(),
            "rows": df.height,
            "users": n_users,
            "items": max(20, n_users // 3),
            "csv_bytes": csv.stat().st_size,
            "parquet_bytes": pq.stat().st_size,
            "target_bytes": target,
            "generate_seconds": time.perf_counter() - t,
        }
        print(f"  {df.height:,} rows in {info['generate_seconds']:.1f} s", flush=True)
        info_path.write_text(json.dumps(info, indent=1))
        del df
    assert pl.read_csv(csv, n_rows=1).columns == list(TABLE_HEADER)
    warm(csv, pq)
    return {"csv": csv, "parquet": pq, "summary": info}


def ensure_files(workdir: Path, size_mb: int, seed: int) -> dict:
    """The benchmark files, generated once and cached: the .json.gz, the same uncompressed, the same reviews
    with almost no text."""
    from slmrec import synth

    workdir.mkdir(parents=True, exist_ok=True)
    stem = f"reviews-{size_mb}mb-seed{seed}"
    gz, plain, notext = workdir / f"{stem}.json.gz", workdir / f"{stem}.json", workdir / f"{stem}-notext.json.gz"
    info_path = workdir / f"{stem}.summary.json"
    version = generator_version()
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    if info.get("generator") != version or not gz.exists():
        for f in (gz, plain, notext):
            f.unlink(missing_ok=True)
        print(f"generating {gz} (>= {size_mb} MB uncompressed) ...", flush=True)
        t = time.perf_counter()
        info = {"generator": version, "reviews": synth.generate_to_size(gz, size_mb * MB, seed=seed)}
        info["reviews"]["generate_seconds"] = time.perf_counter() - t
        print(f"  {info['reviews']['lines']:,} lines in {info['reviews']['generate_seconds']:.1f} s", flush=True)
        info_path.write_text(json.dumps(info, indent=1))
    if not notext.exists() or "notext" not in info:
        r = info["reviews"]
        info["notext"] = synth.generate_reviews(notext, n_users=r["users"], seed=seed, text=False)
        info_path.write_text(json.dumps(info, indent=1))
    if not plain.exists():
        tmp = plain.with_name(plain.name + ".tmp")
        with gzip.open(gz, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, 16 * MB)
        os.replace(tmp, plain)
    warm(gz, plain, notext)
    return {"gz": gz, "plain": plain, "notext": notext, "reviews": info["reviews"], "notext_summary": info["notext"]}


def same_result(ours_dir: Path, polars_dir: Path) -> bool:
    import polars as pl

    cols = ["user_id", "item_id", "timestamp"]
    a = pl.read_parquet(ours_dir / "interactions.parquet", columns=cols).cast(pl.Int64)
    b = pl.read_parquet(polars_dir / "interactions.parquet", columns=cols).cast(pl.Int64)
    ua = pl.read_parquet(ours_dir / "users.parquet")
    ub = pl.read_parquet(polars_dir / "users.parquet")
    return a.equals(b) and ua.get_column(ua.columns[1]).equals(ub.get_column("user"), check_names=False)


# --------------------------------------------------------------------------------------------------------
# The report


def table(
    rows: list[dict], input_mb: float, lines: int, gzip_s: float | None, ours_s: float, unit: str = "reviews/s"
) -> str:
    """The rows as text; ``gzip_s`` None leaves out the ``x gzip`` column."""
    head = (
        f"{'step':<44} {'seconds':>8} {'CPU s':>6} {'MB/s':>7} {unit:>10} {'peak RSS MB':>11} "
        + (f"{'x gzip':>7} " if gzip_s else "")
        + f"{'x ours':>7}"
    )
    out = [head, "-" * len(head)]
    for r in rows:
        if r.get("skipped"):
            out.append(f"{r['name']:<44} skipped: {r['skipped']}")
            continue
        s = r["seconds"]
        out.append(
            f"{r['name']:<44} {s:8.2f} {r['cpu_seconds']:6.1f} {input_mb / s:7.0f} {lines / s:10,.0f} "
            f"{r['peak_rss_mb']:11.0f} " + (f"{s / gzip_s:7.2f} " if gzip_s else "") + f"{s / ours_s:7.2f}"
        )
    return "\n".join(out)


def check_targets(targets: dict, checks: dict) -> None:
    """Sets each target's ``met`` from its check and prints one line per target."""
    print()
    for key, t in targets.items():
        v = t["value"]
        t["met"] = None if v is None else bool(checks[key](v))
        shown = "n/a" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v).lower())
        verdict = "n/a" if t["met"] is None else ("ok" if t["met"] else "MISSED")
        print(f"{key:<32} {shown:>8}  target {t['target']:<46} {verdict}")


def with_rates(rows: list[dict], input_mb: float, lines: int) -> list[dict]:
    """The rows for the JSON, with MB/s and lines/s."""
    return [
        {
            **r,
            "mb_per_s": None if r.get("skipped") else input_mb / r["seconds"],
            "reviews_per_s": None if r.get("skipped") else lines / r["seconds"],
        }
        for r in rows
    ]


def machine(load_start) -> dict:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "load_average_at_start": load_start,
        "load_average_at_end": os.getloadavg(),
    }


def ours_cli(src: Path, out: Path) -> dict:
    """``slmrec-prep SRC --out OUT --force -q``, the command line, end to end (``slmrec.prepare`` in a fresh
    process when the command is not installed beside this Python)."""
    cli = Path(sys.executable).with_name("slmrec-prep")
    if not cli.exists():
        return run_child("ours", src, out)
    return measure([str(cli), str(src), "--out", str(out), "--force", "-q"], quiet=True)


def run_tables(args, step, rows: list[dict]) -> dict:
    """The `table` rows: the CSV and the Parquet file, each prepared by slmrec-prep and by polars."""
    files = ensure_table_files(args.workdir, args.table_gb, args.seed)
    info, work, n = files["summary"], args.workdir, args.repeat
    print(
        f"table input: {files['csv']} ({info['csv_bytes'] / MB:,.0f} MB CSV, "
        f"{info['parquet_bytes'] / MB:,.0f} MB Parquet, {info['rows']:,} rows)",
        flush=True,
    )
    result: dict = {"input": {k: str(v) for k, v in files.items() if k != "summary"} | {"summary": info}}
    targets, checks = {}, {}
    for kind, reader in (("csv", "read_csv"), ("parquet", "read_parquet")):
        src, first = files[kind], len(rows)
        ours = step(
            f"slmrec-prep {kind.upper()} --out DIR --force -q  [ours]",
            best_of(n, lambda: ours_cli(src, work / f"out-{kind}")),
        )
        pol = step(
            f"polars pl.{reader} pipeline",
            best_of(n, lambda: run_child("polars_table", src, work / f"out-polars-{kind}")),
        )
        input_mb = (info["csv_bytes"] if kind == "csv" else info["parquet_bytes"]) / MB
        print()
        print(table(rows[first:], input_mb, info["rows"], None, ours["seconds"], unit="rows/s"))
        identical = same_result(work / f"out-{kind}", work / f"out-polars-{kind}")
        targets[f"polars_over_ours_{kind}"] = {"value": pol["seconds"] / ours["seconds"], "target": ">= 3"}
        targets[f"polars_rows_identical_to_ours_{kind}"] = {"value": identical, "target": "true"}
        checks[f"polars_over_ours_{kind}"] = lambda v: v >= 3
        checks[f"polars_rows_identical_to_ours_{kind}"] = bool
        result[kind] = {"input_mb": input_mb, "rows": with_rates(rows[first:], input_mb, info["rows"])}
    check_targets(targets, checks)
    result["targets"] = targets
    return result


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        name, args = sys.argv[2], sys.argv[3:]
        fn = {
            "ours": child_ours,
            "polars": child_polars,
            "polars_table": child_polars_table,
            "pandas": child_pandas,
        }[name]
        result = fn(*args[:2], *(int(a) for a in args[2:]))
        print(json.dumps(result))
        return

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=int, default=1024, help="uncompressed size of the generated file")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/slmrec-bench"))
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--pandas-mb",
        type=int,
        default=128,
        help="time pandas on this prefix (MB of decompressed input) and scale; 0 = whole file",
    )
    ap.add_argument("--skip-pandas", action="store_true")
    ap.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each step but pandas; the fastest is reported (the cores are shared)",
    )
    ap.add_argument(
        "--only",
        choices=["json", "table"],
        default=None,
        help="run only the Amazon JSON rows or only the `table` rows (CSV and Parquet); default: both",
    )
    ap.add_argument("--table-gb", type=float, default=1.0, help="size of the generated CSV (GiB; Parquet: same rows)")
    args = ap.parse_args()

    rows: list[dict] = []
    load_start = os.getloadavg()

    def step(name: str, result: dict) -> dict:
        result["name"] = name
        rows.append(result)
        if result.get("skipped"):
            print(f"  {name}: skipped ({result['skipped']})", flush=True)
        else:
            print(f"  {name}: {result['seconds']:.2f} s, {result['peak_rss_mb']:.0f} MB", flush=True)
        return result

    if args.only == "table":
        result = {"command": " ".join(sys.argv), "repeat": args.repeat, "table": run_tables(args, step, rows)}
        result["machine"] = machine(load_start)
        write_json(args.json, result)
        return

    files = ensure_files(args.workdir, args.size_mb, args.seed)
    info = files["reviews"]
    input_bytes, lines = info["bytes"], info["lines"]
    input_mb = input_bytes / MB
    work = args.workdir
    print(
        f"input: {files['gz']} ({input_mb:,.0f} MB uncompressed, {files['gz'].stat().st_size / MB:,.0f} MB "
        f"gzip, {lines:,} lines, {info['users']:,} users, {info['items']:,} items); "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )

    n = args.repeat
    gz = step("gzip -dc FILE > /dev/null", best_of(n, lambda: measure(["gzip", "-dc", str(files["gz"])], quiet=True)))
    cli = Path(sys.executable).with_name("slmrec-prep")
    if cli.exists():  # the command line, end to end; `ours` for the ratios
        ours = step(
            "slmrec-prep FILE --out DIR --force -q  [ours]",
            best_of(
                n,
                lambda: measure(
                    [str(cli), str(files["gz"]), "--out", str(work / "out-cli"), "--force", "-q"], quiet=True
                ),
            ),
        )
        api = step("slmrec.prepare(FILE)", best_of(n, lambda: run_child("ours", files["gz"], work / "out-ours")))
        ours.update({k: api[k] for k in ("interactions", "threads", "inner_seconds")})
    else:
        ours = api = step(
            "slmrec.prepare(FILE)  [ours]", best_of(n, lambda: run_child("ours", files["gz"], work / "out-ours"))
        )
    plain = step(
        "slmrec.prepare(FILE uncompressed)", best_of(n, lambda: run_child("ours", files["plain"], work / "out-plain"))
    )
    notext = step(
        "slmrec.prepare(same reviews, no text)",
        best_of(n, lambda: run_child("ours", files["notext"], work / "out-notext")),
    )
    pol = step("polars pipeline", best_of(n, lambda: run_child("polars", files["gz"], work / "out-polars")))
    pandas_note = None
    if args.skip_pandas:
        step("pandas getDF + json.loads", {"skipped": "--skip-pandas"})
    elif _has_pandas():
        limit = args.pandas_mb * MB
        pd_r = run_child("pandas", files["gz"], work / "out-pandas", limit)
        scale = input_bytes / pd_r["bytes_read"]
        pd_r["measured_seconds"], pd_r["scale"] = pd_r["seconds"], scale
        pd_r["seconds"] *= scale
        pd_r["cpu_seconds"] *= scale
        if scale > 1.0001:
            pandas_note = (
                f"pandas ran on the first {pd_r['bytes_read'] / MB:,.0f} MB ({pd_r['lines']:,} lines) "
                f"in {pd_r['measured_seconds']:.1f} s, scaled x{scale:.2f}; its RSS is the prefix's"
            )
        step("pandas getDF + json.loads (paper)" + (" *" if pandas_note else ""), pd_r)
    else:
        step("pandas getDF + json.loads", {"skipped": "pandas not installed (pip install pandas)"})

    print()
    print(table(rows, input_mb, lines, gz["seconds"], ours["seconds"]))
    if pandas_note:
        print(f"* {pandas_note}")

    identical = same_result(work / "out-ours", work / "out-polars")
    pd_row = next(r for r in rows if r["name"].startswith("pandas"))
    targets = {
        "ours_over_gzip": {"value": ours["seconds"] / gz["seconds"], "target": "<= 1.0"},
        "polars_over_ours": {"value": pol["seconds"] / ours["seconds"], "target": ">= 3"},
        "pandas_over_ours": {
            "value": None if pd_row.get("skipped") else pd_row["seconds"] / ours["seconds"],
            "target": ">= 10",
        },
        "ours_rss_over_polars_rss": {"value": ours["peak_rss_mb"] / pol["peak_rss_mb"], "target": "<= 0.25"},
        "rss_text_over_notext": {
            "value": ours["peak_rss_mb"] / notext["peak_rss_mb"],
            "target": "about 1 (RSS follows interactions, not text)",
        },
        "polars_interactions_equal_ours": {"value": pol["interactions"] == ours["interactions"], "target": "true"},
        "polars_rows_identical_to_ours": {"value": identical, "target": "true"},
    }
    checks = {
        "ours_over_gzip": lambda v: v <= 1.0,
        "polars_over_ours": lambda v: v >= 3,
        "pandas_over_ours": lambda v: v >= 10,
        "ours_rss_over_polars_rss": lambda v: v <= 0.25,
        "rss_text_over_notext": lambda v: v <= 1.25,
        "polars_interactions_equal_ours": bool,
        "polars_rows_identical_to_ours": bool,
    }
    check_targets(targets, checks)
    print(
        f"\ninteractions kept: ours {ours['interactions']:,}, polars {pol['interactions']:,}. "
        f"slmrec.prepare: {api['seconds']:.2f} s on the .gz, {plain['seconds']:.2f} s on the same file "
        f"uncompressed (inflating costs {api['seconds'] - plain['seconds']:+.2f} s of wall time); "
        f"{api['inner_seconds']:.2f} s inside prepare, the rest is starting Python and importing slmrec; "
        f"{api['threads']} threads, {api['cpu_seconds']:.1f} CPU s."
    )

    result = {
        "input": {
            "path": str(files["gz"]),
            "bytes_uncompressed": input_bytes,
            "bytes_gzip": files["gz"].stat().st_size,
            "lines": lines,
            "summary": info,
            "notext_summary": files["notext_summary"],
        },
        "machine": machine(load_start),
        "repeat": args.repeat,
        "rows": with_rates(rows, input_mb, lines),
        "pandas_note": pandas_note,
        "targets": targets,
    }
    if args.only is None:
        print()
        result["table"] = run_tables(args, step, rows)
        result["machine"]["load_average_at_end"] = os.getloadavg()
    write_json(args.json, result)


def write_json(path: Path | None, result: dict) -> None:
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1, default=str))
        print(f"wrote {path}")


def _has_pandas() -> bool:
    import importlib.util

    return importlib.util.find_spec("pandas") is not None


if __name__ == "__main__":
    main()
