"""The ``slmrec-prep`` command line, run as a subprocess (``python -m slmrec.cli.prep`` and the installed script).

Covers: success (exit 0, the summary on stderr, the same dataset as the API), -q, every option passed through
(--format, --recipe, --min-rating, --user-min/--item-min, --meta, --threads), --force, --on-bad-line skip, and
exit 2 with exactly one ``slmrec-prep: error: ...`` line and no traceback for each class of failure (bad line,
truncated gzip, empty input, missing path, directory, existing output, bad header, bad arguments); --synthetic
when ``slmrec.synth`` exists.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import slmrec

CLI = [sys.executable, "-m", "slmrec.cli.prep"]


def run(*args, cli=CLI) -> subprocess.CompletedProcess:
    return subprocess.run([*cli, *map(str, args)], capture_output=True, text=True, timeout=120)


def rev(user, item, ts, rating=5.0) -> str:
    return json.dumps({"reviewerID": user, "asin": item, "unixReviewTime": ts, "overall": rating})


@pytest.fixture
def reviews(tmp_path) -> Path:
    p = tmp_path / "reviews.json"
    p.write_text("".join(rev(f"u{k % 4}", f"i{k % 3}", k, float(k % 5 + 1)) + "\n" for k in range(40)))
    return p


def assert_one_line_error(r: subprocess.CompletedProcess, *fragments: str) -> str:
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and "panicked" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("slmrec-prep: error: "), lines[0]
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    assert r.stdout == ""
    return lines[0]


def test_success_prints_a_summary_and_matches_the_api(tmp_path, reviews):
    out = tmp_path / "ds"
    r = run(reviews, "--out", out, "--recipe", "kcore", "--user-min", "2", "--item-min", "2")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert "interactions" in r.stderr and str(out) in r.stderr, r.stderr
    ds = slmrec.load(out)
    api = slmrec.prepare(reviews, tmp_path / "api", user_min=2, item_min=2)
    for a in ("offsets", "items", "timestamps", "ratings"):
        np.testing.assert_array_equal(getattr(ds, a), getattr(api, a))
    assert ds.stats["recipe"] == {"name": "kcore", "min_rating": None, "user_min": 2, "item_min": 2}
    assert f"{ds.num_interactions:,}" in r.stderr and r.stdout == ""


def test_quiet_prints_nothing(tmp_path, reviews):
    r = run(reviews, "--out", tmp_path / "ds", "--recipe", "none", "-q")
    assert r.returncode == 0 and r.stderr == "" and r.stdout == ""
    assert slmrec.load(tmp_path / "ds").num_interactions == 40


def test_installed_script(tmp_path, reviews):
    script = Path(sys.executable).parent / "slmrec-prep"
    if not script.exists():
        script = shutil.which("slmrec-prep")
        if script is None:
            pytest.skip("the slmrec-prep script is not installed in this environment")
    r = run(reviews, "--out", tmp_path / "ds", "--recipe", "none", "-q", cli=[str(script)])
    assert r.returncode == 0, r.stderr
    r = run(tmp_path / "missing.json", "--out", tmp_path / "x", cli=[str(script)])
    assert_one_line_error(r, "missing.json")


def test_options_are_passed_through(tmp_path, reviews):
    out = tmp_path / "ds"
    r = run(reviews, "--out", out, "--min-rating", "3", "--user-min", "1", "--item-min", "1", "--threads", "1", "-q")
    assert r.returncode == 0, r.stderr
    s = slmrec.load(out).stats
    assert s["recipe"] == {"name": "kcore", "min_rating": 3.0, "user_min": 1, "item_min": 1}
    assert s["dropped_by_rating"] == 16 and s["threads"] == 1
    r = run(
        reviews, "--out", tmp_path / "paper", "--recipe", "slmrec-paper", "--user-min", "2", "--item-min", "3", "-q"
    )
    assert r.returncode == 0, r.stderr
    assert slmrec.load(tmp_path / "paper").stats["recipe"] == {
        "name": "slmrec-paper",
        "min_rating": 3.0,
        "user_min": 2,
        "item_min": 3,
    }
    # --format overrides detection: sequence lines in a file named .csv.
    seq = tmp_path / "seqs.csv"
    seq.write_text("1 2 3\n2 3\n")
    r = run(seq, "--out", tmp_path / "seq", "--format", "seq", "--recipe", "none", "-q")
    assert r.returncode == 0, r.stderr
    assert slmrec.load(tmp_path / "seq").num_interactions == 3


def test_meta_option(tmp_path, reviews):
    meta = tmp_path / "meta.json.gz"
    with gzip.open(meta, "wt") as f:
        f.write(json.dumps({"asin": "i1", "title": "Tom &amp; Jerry", "brand": "B", "main_cat": "Toys"}) + "\n")
        f.write(json.dumps({"asin": "i1", "title": "second row loses"}) + "\n")
    r = run(reviews, "--out", tmp_path / "ds", "--recipe", "none", "--meta", meta, "-q")
    assert r.returncode == 0, r.stderr
    items = slmrec.load(tmp_path / "ds").item_table()
    assert items.height == 3
    row = items.filter(items["item"] == "i1").row(0, named=True)
    assert (row["title"], row["brand"], row["main_cat"]) == ("Tom & Jerry", "B", "Toys")
    assert items.filter(items["item"] == "i0")["title"].to_list() == [None]


def test_force_replaces_and_existing_output_is_an_error(tmp_path, reviews):
    out = tmp_path / "ds"
    assert run(reviews, "--out", out, "--recipe", "none", "-q").returncode == 0
    (out / "marker").write_text("old")
    assert_one_line_error(run(reviews, "--out", out, "--recipe", "none"), str(out), "--force")
    assert (out / "marker").exists()
    r = run(reviews, "--out", out, "--recipe", "none", "--force", "-q")
    assert r.returncode == 0, r.stderr
    assert not (out / "marker").exists()
    assert sorted(os.listdir(tmp_path)) == ["ds", "reviews.json"]


def test_on_bad_line_skip(tmp_path, reviews):
    bad = tmp_path / "bad.json"
    bad.write_text(reviews.read_text() + "{not json\n" + rev("u9", "i1", 99) + "\n")
    line = assert_one_line_error(run(bad, "--out", tmp_path / "f", "--recipe", "none"))
    assert line == f"slmrec-prep: error: {bad}:41: " + line.split(f"{bad}:41: ", 1)[1]
    assert not (tmp_path / "f").exists()
    r = run(bad, "--out", tmp_path / "s", "--recipe", "none", "--on-bad-line", "skip")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    s = slmrec.load(tmp_path / "s").stats
    assert s["bad_lines"] == 1 and s["bad_line_reasons"]["invalid JSON"]["first"][0].startswith(f"{bad}:41: ")


def test_each_failure_is_one_line_and_exit_2(tmp_path, reviews):
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    trunc = tmp_path / "trunc.json.gz"
    trunc.write_bytes(gzip.compress(reviews.read_bytes())[:-20])
    header = tmp_path / "h.inter"
    header.write_text("user_id:token\titem_id:token\trating:number\nu\ti\t5\n")
    nul = tmp_path / "nul.json"
    nul.write_bytes(b"\x00" * 64 + b"\n")
    d = tmp_path / "adir"
    d.mkdir()
    cases = [
        ([tmp_path / "missing.json"], ("missing.json",)),
        ([empty], (str(empty),)),
        ([trunc], (f"{trunc}:", "gzip")),
        ([header], (f"{header}:1:",)),
        ([nul], (f"{nul}:1:",)),
        ([d], (str(d), "directory")),
        ([reviews, tmp_path / "missing2.json"], ("missing2.json",)),
    ]
    for k, (inputs, fragments) in enumerate(cases):
        assert_one_line_error(run(*inputs, "--out", tmp_path / "out", "--recipe", "none"), *fragments)
        if k in (0, 2, 3):  # skipping bad lines does not turn these into successes
            assert_one_line_error(
                run(*inputs, "--out", tmp_path / "out", "--recipe", "none", "--on-bad-line", "skip"), *fragments
            )
    # A recipe that drops everything, and a bad thread count.
    assert_one_line_error(run(reviews, "--out", tmp_path / "out", "--user-min", "1000"), "drops all")
    assert_one_line_error(run(reviews, "--out", tmp_path / "out", "--threads", "0"), "threads")
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["adir", "empty.json", "h.inter", "nul.json", "reviews.json", "trunc.json.gz"]
    )


def test_argument_errors_exit_2_without_traceback(tmp_path, reviews):
    for args in (
        [reviews, "--out", tmp_path / "o", "--recipe", "fancy"],
        [reviews, "--out", tmp_path / "o", "--format", "xml"],
        ["--out", tmp_path / "o"],  # no input and no --synthetic
    ):
        r = run(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert "Traceback" not in r.stderr and "error" in r.stderr
    assert not (tmp_path / "o").exists()


def test_synthetic(tmp_path):
    if importlib.util.find_spec("slmrec.synth") is None:
        pytest.skip("slmrec.synth does not exist yet (--synthetic needs it)")
    out = tmp_path / "syn"
    r = run("--synthetic", "50", "--out", out, "--user-min", "1", "--item-min", "1")
    assert r.returncode == 0, r.stderr
    ds = slmrec.load(out)
    assert ds.num_users > 0 and ds.num_interactions > 0
    assert (tmp_path / "syn.synthetic.json.gz").exists()


@pytest.mark.parametrize(
    "args",
    [["--user-min", "-1"], ["--item-min", "99999999999"], ["--threads", "-2"]],
    ids=["user-min", "item-min", "threads"],
)
def test_out_of_range_integers_are_one_line_errors(tmp_path, reviews, args):
    assert_one_line_error(run(reviews, "--out", tmp_path / "o", *args))


README = Path(__file__).resolve().parents[1] / "README.md"


def test_help_explains_each_format_and_recipe():
    r = subprocess.run(
        [*CLI, "--help"], capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "102"}
    )
    assert r.returncode == 0 and r.stderr == ""
    text = r.stdout
    from slmrec.cli.prep import FORMATS, META, RECIPES

    # every format and recipe the options offer has its entry, in the options' order
    choices = text.split("--format {", 1)[1].split("}", 1)[0].split(",")
    assert choices == [name for name, _, _ in FORMATS]
    assert text.split("--recipe {", 1)[1].split("}", 1)[0].split(",") == [name for name, _ in RECIPES]
    epilog = "\n" + text.split("input formats (detected by content and extension; --format overrides):\n", 1)[1]
    starts = [epilog.index(f"\n  {name} ") for name, _, _ in [*FORMATS, META]]
    assert starts == sorted(starts)
    # a snapshot of what a user reads about the column order of the positional formats and the recipes
    assert (
        """
  ratings-csv      Amazon ratings CSV, no header (with --format ratings-csv, a header line is an
                   error; detection reads a file with a header as a table)
                   fields: by position, comma-separated: item,user,rating,timestamp (a user,item,...
                   file without a header would be read swapped: the summary and stats.json say how
                   each input was read)
"""
        in epilog
    )
    # issue 17: each new format says where its fields come from
    for name, words in [
        ("table", "--columns user=COL,item=COL"),
        ("amazon23", "parent_asin"),
        ("movielens", "UserID::MovieID::Rating::Timestamp"),
        ("yelp", "business_id"),
    ]:
        entry = re.split(r"\n  \S", epilog.split(f"\n  {name} ", 1)[1], maxsplit=1)[0]
        assert words in " ".join(entry.split()), (name, entry)
    assert (
        """
  seq              sequence lines user item item ... (S3-Rec/ICLRec)
                   fields: by position, whitespace-separated: the user, then its items oldest first
                   (non-negative integer ids); no rating; timestamps are the positions 0, 1, 2, ...
"""
        in epilog
    )
    assert (
        """
recipes (--recipe):
  kcore (default)  optional --min-rating X (records without a rating are dropped when set) -> dedup:
                   for each (user, item) keep the earliest occurrence by (timestamp, input order) ->
                   iterative k-core to its fixpoint with --user-min (default 5) and --item-min
                   (default 5). Each round removes, at once, the records of every user and item
                   below its minimum (counts taken at the round's start).
  slmrec-paper     the paper's notebook, fixed: rating >= 3 -> users with >= 5 rows (one pass,
                   duplicates counted) -> items with >= 20 rows (one pass) -> dedup as above ->
                   users with >= 5 rows.
  none             nothing dropped (for files that are already preprocessed, such as sequence
                   lines); --min-rating, --user-min and --item-min are refused with it (they would
                   be ignored).
then, whatever the recipe:
  order            each user's interactions sorted by (timestamp, input order).
"""
        in epilog
    )
    assert max(map(len, text.splitlines())) <= 100  # wrapped to the terminal
    assert "`" not in epilog  # Markdown quoting is the README's, not the terminal's


def test_the_readme_format_table_and_recipes_are_the_help_text():
    from slmrec.cli.prep import readme_tables

    text = README.read_text()
    start = text.index("<!-- generated from FORMATS and RECIPES in python/slmrec/cli/prep.py")
    start = text.index("\n", start) + 1
    end = text.index("<!-- end of the generated part -->")
    assert text[start:end] == readme_tables() + "\n", (
        "README.md's format table and recipes differ from python/slmrec/cli/prep.py; paste readme_tables() there"
    )
