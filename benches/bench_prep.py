"""Preprocessing benchmark: ``slmrec.prepare`` against ``gzip -dc``, a polars pipeline and the pandas way.

    python benches/bench_prep.py [--size-mb 1024] [--workdir /tmp/slmrec-bench] [--json OUT]

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


# --------------------------------------------------------------------------------------------------------
# The competitors, each run as `python bench_prep.py --child NAME SRC OUT [LIMIT]` in a fresh process.


def child_ours(src: str, out: str) -> dict:
    import slmrec

    ds = slmrec.prepare(src, out, force=True)
    return {"interactions": ds.num_interactions, "users": ds.num_users, "items": ds.num_items,
            "lines": ds.stats["lines_read"], "threads": ds.stats["threads"],
            "inner_seconds": ds.stats["elapsed_seconds"]}


def child_polars(src: str, out: str) -> dict:
    import polars as pl

    schema = {"reviewerID": pl.String, "asin": pl.String, "overall": pl.Float32, "unixReviewTime": pl.Int64}
    df = pl.read_ndjson(src, schema=schema, row_index_name="row")
    lines = df.height
    # Dedup: per (user, item) the earliest by (timestamp, input order).
    df = df.sort(["unixReviewTime", "row"]).unique(["reviewerID", "asin"], keep="first", maintain_order=True)
    # Iterative k-core: each round drops every user and item below its minimum, to the fixpoint.
    while True:
        kept = df.filter(
            (pl.len().over("reviewerID") >= USER_MIN) & (pl.len().over("asin") >= ITEM_MIN)
        )
        if kept.height == df.height:
            break
        df = kept
    # Dense ids 1.. in raw-id order; rows by (user, timestamp, input order).
    df = df.with_columns(
        user_id=pl.col("reviewerID").rank("dense").cast(pl.UInt32),
        item_id=pl.col("asin").rank("dense").cast(pl.UInt32),
    ).sort(["user_id", "unixReviewTime", "row"])
    os.makedirs(out, exist_ok=True)
    df.select(
        "user_id", "item_id", pl.col("unixReviewTime").alias("timestamp"), pl.col("overall").alias("rating")
    ).write_parquet(Path(out) / "interactions.parquet")
    df.select("user_id", user="reviewerID").unique().sort("user_id").write_parquet(Path(out) / "users.parquet")
    df.select("item_id", item="asin").unique().sort("item_id").write_parquet(Path(out) / "items.parquet")
    return {"interactions": df.height, "users": int(df["user_id"].max()), "items": int(df["item_id"].max()),
            "lines": lines}


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
    return {"interactions": len(df), "users": len(user_map), "items": len(item_map), "lines": lines,
            "bytes_read": parse.bytes_read}


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
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, json.dumps(cmd), "1" if quiet else "0"],
                          capture_output=True, text=True)
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


def ensure_files(workdir: Path, size_mb: int, seed: int) -> dict:
    """The benchmark files, generated once and cached: the .json.gz, the same uncompressed, the same reviews
    with almost no text."""
    from slmrec import synth

    workdir.mkdir(parents=True, exist_ok=True)
    stem = f"reviews-{size_mb}mb-seed{seed}"
    gz, plain, notext = workdir / f"{stem}.json.gz", workdir / f"{stem}.json", workdir / f"{stem}-notext.json.gz"
    info_path = workdir / f"{stem}.summary.json"
    version = hashlib.sha256(Path(synth.__file__).read_bytes()).hexdigest()[:16]  # regenerate when it changes
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
    for f in (gz, plain, notext):  # into the page cache, so that no competitor pays for the disk
        with open(f, "rb") as fh:
            while fh.read(64 * MB):
                pass
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


def table(rows: list[dict], input_mb: float, lines: int, gzip_s: float, ours_s: float) -> str:
    head = (f"{'step':<44} {'seconds':>8} {'CPU s':>6} {'MB/s':>7} {'reviews/s':>10} {'peak RSS MB':>11} "
            f"{'x gzip':>7} {'x ours':>7}")
    out = [head, "-" * len(head)]
    for r in rows:
        if r.get("skipped"):
            out.append(f"{r['name']:<44} skipped: {r['skipped']}")
            continue
        s = r["seconds"]
        out.append(
            f"{r['name']:<44} {s:8.2f} {r['cpu_seconds']:6.1f} {input_mb / s:7.0f} {lines / s:10,.0f} "
            f"{r['peak_rss_mb']:11.0f} "
            f"{s / gzip_s:7.2f} {s / ours_s:7.2f}"
        )
    return "\n".join(out)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        name, args = sys.argv[2], sys.argv[3:]
        fn = {"ours": child_ours, "polars": child_polars, "pandas": child_pandas}[name]
        result = fn(*args[:2], *(int(a) for a in args[2:]))
        print(json.dumps(result))
        return

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=int, default=1024, help="uncompressed size of the generated file")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/slmrec-bench"))
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pandas-mb", type=int, default=128,
                    help="time pandas on this prefix (MB of decompressed input) and scale; 0 = whole file")
    ap.add_argument("--skip-pandas", action="store_true")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each step but pandas; the fastest is reported (the cores are shared)")
    args = ap.parse_args()

    files = ensure_files(args.workdir, args.size_mb, args.seed)
    info = files["reviews"]
    input_bytes, lines = info["bytes"], info["lines"]
    input_mb = input_bytes / MB
    work = args.workdir
    print(f"input: {files['gz']} ({input_mb:,.0f} MB uncompressed, {files['gz'].stat().st_size / MB:,.0f} MB "
          f"gzip, {lines:,} lines, {info['users']:,} users, {info['items']:,} items); "
          f"{os.cpu_count()} CPUs", flush=True)

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

    n = args.repeat
    gz = step("gzip -dc FILE > /dev/null", best_of(n, lambda: measure(["gzip", "-dc", str(files["gz"])], quiet=True)))
    cli = Path(sys.executable).with_name("slmrec-prep")
    if cli.exists():  # the command line, end to end; `ours` for the ratios
        ours = step("slmrec-prep FILE --out DIR --force -q  [ours]", best_of(n, lambda: measure(
            [str(cli), str(files["gz"]), "--out", str(work / "out-cli"), "--force", "-q"], quiet=True)))
        api = step("slmrec.prepare(FILE)", best_of(n, lambda: run_child("ours", files["gz"], work / "out-ours")))
        ours.update({k: api[k] for k in ("interactions", "threads", "inner_seconds")})
    else:
        ours = api = step("slmrec.prepare(FILE)  [ours]",
                          best_of(n, lambda: run_child("ours", files["gz"], work / "out-ours")))
    plain = step("slmrec.prepare(FILE uncompressed)",
                 best_of(n, lambda: run_child("ours", files["plain"], work / "out-plain")))
    notext = step("slmrec.prepare(same reviews, no text)",
                  best_of(n, lambda: run_child("ours", files["notext"], work / "out-notext")))
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
            pandas_note = (f"pandas ran on the first {pd_r['bytes_read'] / MB:,.0f} MB ({pd_r['lines']:,} lines) "
                           f"in {pd_r['measured_seconds']:.1f} s, scaled x{scale:.2f}; its RSS is the prefix's")
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
        "pandas_over_ours": {"value": None if pd_row.get("skipped") else pd_row["seconds"] / ours["seconds"],
                             "target": ">= 10"},
        "ours_rss_over_polars_rss": {"value": ours["peak_rss_mb"] / pol["peak_rss_mb"], "target": "<= 0.25"},
        "rss_text_over_notext": {"value": ours["peak_rss_mb"] / notext["peak_rss_mb"],
                                 "target": "about 1 (RSS follows interactions, not text)"},
        "polars_interactions_equal_ours": {"value": pol["interactions"] == ours["interactions"],
                                           "target": "true"},
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
    print()
    for key, t in targets.items():
        v = t["value"]
        t["met"] = None if v is None else bool(checks[key](v))
        shown = "n/a" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v).lower())
        verdict = "n/a" if t["met"] is None else ("ok" if t["met"] else "MISSED")
        print(f"{key:<32} {shown:>8}  target {t['target']:<46} {verdict}")
    print(f"\ninteractions kept: ours {ours['interactions']:,}, polars {pol['interactions']:,}. "
          f"slmrec.prepare: {api['seconds']:.2f} s on the .gz, {plain['seconds']:.2f} s on the same file "
          f"uncompressed (inflating costs {api['seconds'] - plain['seconds']:+.2f} s of wall time); "
          f"{api['inner_seconds']:.2f} s inside prepare, the rest is starting Python and importing slmrec; "
          f"{api['threads']} threads, {api['cpu_seconds']:.1f} CPU s.")

    result = {
        "input": {"path": str(files["gz"]), "bytes_uncompressed": input_bytes,
                  "bytes_gzip": files["gz"].stat().st_size, "lines": lines, "summary": info,
                  "notext_summary": files["notext_summary"]},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_at_start": load_start, "load_average_at_end": os.getloadavg()},
        "repeat": args.repeat,
        "rows": [{**r, "mb_per_s": None if r.get("skipped") else input_mb / r["seconds"],
                  "reviews_per_s": None if r.get("skipped") else lines / r["seconds"]} for r in rows],
        "pandas_note": pandas_note,
        "targets": targets,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1, default=str))
        print(f"wrote {args.json}")


def _has_pandas() -> bool:
    import importlib.util

    return importlib.util.find_spec("pandas") is not None


if __name__ == "__main__":
    main()
