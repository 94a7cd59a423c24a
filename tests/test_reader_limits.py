"""Reader-side limits and messages (issue 13, session 6): the line-length limit, magic bytes of formats not read,
pipes and /dev/stdin, the thread and array-size bounds, the ratings-CSV column order and header lines, the recipe
arguments that would be ignored, uint64 values in sampler messages, HTML entities of no character, and the
slmrec-prep summary. The hostile files themselves are corpus cases (tests/corpus, run by test_corpus.py).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

import slmrec
from slmrec import sampling

CORPUS = Path(__file__).resolve().parent / "corpus"
CLI = [sys.executable, "-m", "slmrec.cli.prep"]
CSV = "a,U1,5.0,1388534400\nb,U1,4.0,1388620800\na,U2,3.0,1388707200\nc,U2,5,1388793600\n"


def run(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=120, **kw)


def one_error(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("slmrec-prep: error: "), r.stderr
    assert "Traceback" not in r.stderr and "panick" not in r.stderr.lower()
    return lines[0][len("slmrec-prep: error: ") :]


_LAUNCHER = """
import json, os, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
err = p.stderr.read()
_, status, usage = os.wait4(p.pid, 0)
print(json.dumps([os.waitstatus_to_exitcode(status), err, usage.ru_maxrss / 1024]))
"""


def peak_rss_mib(cmd: list[str], timeout: float = 60) -> tuple[int, str, float, float]:
    """Runs ``cmd``; returns its exit code, stderr, peak RSS (MiB) and wall seconds.

    The command is started by a small launcher process, whose wait4 rusage is the command's own: Linux keeps a
    process's peak RSS across exec, so a command forked straight from this (possibly large) test process would
    report the test process's size."""
    start = time.monotonic()
    r = subprocess.run([sys.executable, "-c", _LAUNCHER, *cmd], capture_output=True, text=True, timeout=timeout)
    code, err, rss = json.loads(r.stdout)
    return code, err, rss, time.monotonic() - start


# ----------------------------------------------------------------------------------------- line length


def test_a_line_longer_than_max_line_bytes_is_an_error_naming_it(tmp_path):
    src = tmp_path / "r.json"
    good = json.dumps({"reviewerID": "U1", "asin": "a", "unixReviewTime": 1, "overall": 5.0})
    long = json.dumps({"reviewerID": "U1", "asin": "b", "unixReviewTime": 2, "reviewText": "x" * 500})
    src.write_text(f"{good}\n{good}\n{long}\n{good}\n")
    for mode in ("fail", "skip"):
        with pytest.raises(slmrec.DataFormatError) as e:
            slmrec.prepare(src, tmp_path / f"o_{mode}", recipe="none", on_bad_line=mode, max_line_bytes=100)
        assert str(e.value).startswith(f"{src}:3: line longer than 100 bytes"), e.value
        assert not (tmp_path / f"o_{mode}").exists()
    msg = one_error(run(src, "--out", tmp_path / "cli", "--recipe", "none", "--max-line-bytes", 100))
    assert msg.startswith(f"{src}:3: line longer than 100 bytes")
    # The default (256 MiB) reads it; so does a limit at its length.
    assert slmrec.prepare(src, tmp_path / "ok", recipe="none").num_interactions == 4
    n = len(long.encode())
    assert slmrec.prepare(src, tmp_path / "ok2", recipe="none", max_line_bytes=n).num_interactions == 4
    for bad in (0, -1):
        with pytest.raises(ValueError, match="max_line_bytes must be at least 1"):
            slmrec.prepare(src, tmp_path / "bad", recipe="none", max_line_bytes=bad)


def test_dev_zero_stops_quickly_with_bounded_memory(tmp_path):
    """/dev/zero is one endless line: it used to grow at 500 MB/s until killed."""
    limit = 8 << 20
    code, err, rss, secs = peak_rss_mib(
        [*CLI, "/dev/zero", "--out", str(tmp_path / "o"), "--recipe", "none", "--max-line-bytes", str(limit)]
    )
    assert code == 2, err
    assert (
        err.strip() == f"slmrec-prep: error: /dev/zero:1: line longer than {limit} bytes "
        "(the limit is --max-line-bytes / max_line_bytes)"
    )
    assert secs < 30 and rss < 300, (secs, rss)  # the interpreter and NumPy are ~30-60 MiB of it
    assert not (tmp_path / "o").exists()


def test_a_gzip_bomb_of_one_line_stops_at_the_limit(tmp_path):
    """256 MB of one line in 0.25 MB of gzip: stopped after the limit, never inflated whole."""
    bomb = tmp_path / "bomb.json.gz"
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"a" * (1 << 20)
    with open(bomb, "wb") as f:
        for _ in range(256):
            f.write(z.compress(block))
        f.write(z.flush())
    assert bomb.stat().st_size < 1 << 20
    limit = 4 << 20
    code, err, rss, secs = peak_rss_mib([*CLI, str(bomb), "--out", str(tmp_path / "o"), "--max-line-bytes", str(limit)])
    assert code == 2 and f"{bomb}:1: line longer than {limit} bytes" in err, err
    assert secs < 30 and rss < 300, (secs, rss)


# ----------------------------------------------------------------------------------------- pipes, stdin


def test_stdin_and_a_named_pipe_are_read_as_streams(tmp_path):
    src = tmp_path / "r.csv"
    src.write_text(CSV)
    want = slmrec.prepare(src, tmp_path / "file", recipe="none")
    # /dev/stdin, plain and gzip (it used to fail with "Illegal seek").
    for data in (CSV.encode(), gzip.compress(CSV.encode())):
        out = tmp_path / f"stdin{len(data)}"
        r = subprocess.run(
            [*CLI, "/dev/stdin", "--out", str(out), "--recipe", "none", "--format", "ratings-csv"],
            input=data,
            capture_output=True,
            timeout=120,
        )
        assert r.returncode == 0, r.stderr
        got = slmrec.load(out)
        assert (got.items == want.items).all() and (got.offsets == want.offsets).all()
        assert got.stats["inputs"][0]["bytes"] == 0  # not a regular file: no size
    # A named pipe, written by another thread while the API reads it.
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_text(CSV))
    writer.start()
    got = slmrec.prepare(fifo, tmp_path / "fifo", recipe="none")
    writer.join()
    assert (got.items == want.items).all() and got.stats["records"] == 4
    # Magic bytes are checked on a stream too.
    r = subprocess.run(
        [*CLI, "/dev/stdin", "--out", str(tmp_path / "pq"), "--recipe", "none"],
        input=(CORPUS / "misc" / "table.parquet").read_bytes(),
        capture_output=True,
        timeout=120,
    )
    assert r.returncode == 2 and b"/dev/stdin: is a Parquet file" in r.stderr, r.stderr


# ----------------------------------------------------------------------------------------- threads, sizes


def _threads_now() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def test_thread_counts_are_bounded(tmp_path):
    src = tmp_path / "r.csv"
    src.write_text(CSV)
    before = _threads_now()
    for bad in (0, -1, 1025, 10_000, 10**6):
        with pytest.raises(ValueError) as e:
            slmrec.prepare(src, tmp_path / "o", recipe="none", threads=bad)
        assert str(e.value) == f"threads must be in 1..=1024, got {bad}"
    off, items = np.array([0, 2, 4], dtype=np.int64), np.array([1, 2, 3, 4], dtype=np.int64)
    for bad in (0, -5, 10**6):
        with pytest.raises(ValueError, match=f"threads must be in 1..=1024, got {bad}"):
            sampling.NegativeSampler(off, items, 10, threads=bad)
        with pytest.raises(ValueError, match="threads must be in 1..=1024"):
            sampling.LastItemBatches(off, items, 10, threads=bad)
        with pytest.raises(ValueError, match="threads must be in 1..=1024"):
            sampling.SequenceBatches(off, items, 10, threads=bad)
    assert _threads_now() - before < 50  # nothing like 10**6 was started
    assert slmrec.prepare(src, tmp_path / "o", recipe="none", threads=1024).num_interactions == 4
    assert "threads must be in 1..=1024, got 1000000" in one_error(
        run(src, "--out", tmp_path / "c", "--recipe", "none", "--threads", 10**6)
    )
    assert "threads must be in 1..=1024, got 0" in one_error(
        run(src, "--out", tmp_path / "c", "--recipe", "none", "--threads", 0)
    )


def test_result_sizes_that_cannot_fit_are_errors_before_allocation():
    off = np.array([0, 3, 6], dtype=np.int64)
    items = np.array([1, 2, 3, 2, 3, 4], dtype=np.int64)
    s = sampling.NegativeSampler(off, items, 50, pad_short=True)
    users = np.array([0, 1], dtype=np.int64)
    for k in (2**40, 2**62, 2**63 - 1):
        with pytest.raises(ValueError, match="more than this machine's memory|more than 2\\^64 bytes"):
            s.sample(users, k)
        with pytest.raises(ValueError, match="more than this machine's memory|more than 2\\^64 bytes"):
            s.eval_candidates(users, np.array([1, 2]), k)
    with pytest.raises(ValueError, match="more than this machine's memory"):
        sampling.history_inputs(off, items, users, split="test", max_len=2**40)
    with pytest.raises(ValueError, match="more than this machine's memory"):
        sampling.LastItemBatches(off, items, 50, max_len=2**40)
    with pytest.raises(ValueError, match="more than this machine's memory"):
        sampling.SequenceBatches(off, items, 50, max_len=2**20, batch_size=2**20)
    with pytest.raises(ValueError, match="negatives.*more than"):
        sampling.SequenceBatches(off, items, 50, num_negatives=2**40)
    with pytest.raises(ValueError, match="negatives.*more than"):
        sampling.SequenceBatches(off, items, 50, max_len=2**20, batch_size=1, num_negatives=2**20)
    # The sampler still works afterwards, and sane sizes pass.
    assert s.sample(users, 3).shape == (2, 3)


def test_synthetic_sizes_that_cannot_fit_are_errors(tmp_path):
    out = tmp_path / "syn"
    msg = one_error(run("--synthetic", 10**12, "--out", out))
    assert "n_users = 1,000,000,000,000 needs about" in msg and "more than this machine's" in msg
    assert not list(tmp_path.iterdir())  # nothing generated


def test_uint64_values_are_printed_as_given():
    off = np.array([0, 2, 4], dtype=np.int64)
    items = np.array([1, 2, 3, 4], dtype=np.int64)
    s = sampling.NegativeSampler(off, items, 10)
    big = np.array([0, 2**64 - 1], dtype=np.uint64)
    with pytest.raises(ValueError) as e:
        s.sample(big, 1)
    assert str(e.value) == "users[1] = 18446744073709551615 is out of range (at most 9223372036854775807)"
    with pytest.raises(ValueError, match="items\\[3\\] = 18446744073709551615 is out of range"):
        sampling.NegativeSampler(off, np.array([1, 2, 3, 2**64 - 1], dtype=np.uint64), 10)
    with pytest.raises(ValueError, match="positives\\[0\\] = 9223372036854775808 is out of range"):
        s.eval_candidates(np.array([0]), np.array([2**63], dtype=np.uint64), 2)
    # Values that fit still pass, and a user beyond the CSR is named with its own value.
    with pytest.raises(ValueError, match="users\\[0\\] = 7 is not a user row index"):
        s.sample(np.array([7], dtype=np.uint64), 1)


# ----------------------------------------------------------------------------------------- recipe arguments


def test_recipe_arguments_that_would_be_ignored_or_are_not_numbers(tmp_path):
    src = tmp_path / "r.csv"
    src.write_text(CSV)
    for kw, named in (
        (dict(min_rating=3.0), "min_rating"),
        (dict(user_min=2), "user_min"),
        (dict(item_min=2, min_rating=1.0), "min_rating, item_min"),
    ):
        with pytest.raises(ValueError) as e:
            slmrec.prepare(src, tmp_path / "o", recipe="none", **kw)
        assert f"recipe none keeps every record and applies no filter: {named} would be ignored" in str(e.value)
    assert "min_rating would be ignored" in one_error(
        run(src, "--out", tmp_path / "c", "--recipe", "none", "--min-rating", 3)
    )
    for recipe in ("kcore", "slmrec-paper"):
        for bad in ("nan", "inf", "-inf"):
            with pytest.raises(ValueError, match="min_rating must be a finite number"):
                slmrec.prepare(src, tmp_path / "o", recipe=recipe, min_rating=float(bad))
            msg = one_error(run(src, "--out", tmp_path / "c", "--recipe", recipe, f"--min-rating={bad}"))
            assert msg.startswith("min_rating must be a finite number, got ")
    assert not (tmp_path / "o").exists() and not (tmp_path / "c").exists()
    # Applied where it is meant to be: kcore with a minimum drops the 3.0 row.
    ds = slmrec.prepare(src, tmp_path / "k", recipe="kcore", user_min=1, item_min=1, min_rating=4.0)
    assert ds.stats["dropped_by_rating"] == 1


# ----------------------------------------------------------------------------------------- metadata


def test_entities_of_no_character_stay_literal_text(tmp_path):
    ds = slmrec.prepare(
        CORPUS / "meta" / "reviews.json", tmp_path / "o", recipe="none", meta=CORPUS / "meta" / "entities.json"
    )
    title = ds.item_table().filter(item="i0")["title"][0]
    assert title == ("NUL &#0; sur &#xD800; big &#1114112; ctl &#1; tab \t ok AB plus &#+67; amp &")
    assert "\0" not in title


def test_metadata_that_matches_no_item_says_so(tmp_path):
    r = run(
        CORPUS / "meta" / "reviews.json",
        "--out",
        tmp_path / "o",
        "--recipe",
        "none",
        "--meta",
        CORPUS / "meta" / "unmatched.json",
    )
    assert r.returncode == 0, r.stderr
    assert re.search(r"\n  metadata +0 of 4 items matched\n", r.stderr), r.stderr
    stats = json.loads((tmp_path / "o" / "stats.json").read_text())
    assert stats["meta"]["items_with_meta"] == 0 and stats["meta"]["items"] == 3
    r = run(
        CORPUS / "meta" / "reviews.json",
        "--out",
        tmp_path / "o2",
        "--recipe",
        "none",
        "--meta",
        CORPUS / "meta" / "meta_2020.json",
    )
    assert "4 of 4 items matched" in r.stderr, r.stderr


# ----------------------------------------------------------------------------------------- ratings CSV, summary


def test_the_csv_column_order_is_stated_everywhere(tmp_path):
    src = tmp_path / "r.csv"
    src.write_text(CSV)
    r = run(src, "--out", tmp_path / "o", "--recipe", "none")
    assert r.returncode == 0, r.stderr
    assert re.search(r"\n  columns +item,user,rating,timestamp \(ratings-csv, positional\)\n", r.stderr), r.stderr
    entry = json.loads((tmp_path / "o" / "stats.json").read_text())["inputs"][0]
    assert entry["columns"] == "item,user,rating,timestamp" and entry["columns_by"] == "position"
    help_text = " ".join(run("--help").stdout.split())
    # issue 17: a file with a header is read by name (the table format), so the help says where it goes
    assert "item,user,rating,timestamp" in help_text and "no header" in help_text
    assert "detection reads a file with a header as a table" in help_text
    # Other formats say how they were read too.
    inter = tmp_path / "r.inter"
    inter.write_text("user_id:token\titem_id:token\ttimestamp:float\nU1\ta\t1\nU1\tb\t2\n")
    ds = slmrec.prepare(
        [inter, CORPUS / "seq" / "good.txt", CORPUS / "json" / "good.json"], tmp_path / "m", recipe="none"
    )
    got = [(f["columns"], f["columns_by"]) for f in ds.stats["inputs"]]
    assert got == [
        ("user_id:token,item_id:token,timestamp:float", "header"),
        ("user,item,item,...", "position"),
        ("reviewerID,asin,unixReviewTime,overall", "key"),
    ]


def test_summary_rows_fit_the_recipe_and_the_input(tmp_path):
    src = tmp_path / "r.csv"
    # A 2-core that peels off in exactly one round: U3 has one row.
    src.write_text("a,U1,5,1\nb,U1,5,2\na,U2,5,3\nb,U2,5,4\nc,U3,5,5\n")
    r = run(src, "--out", tmp_path / "k", "--user-min", 2, "--item-min", 2)
    assert r.returncode == 0, r.stderr
    s = r.stderr
    assert re.search(r"\n  k-core dropped +1 in 1 round\n", s), s
    assert "rounds" not in s and "paper filters" not in s and "MB/s" not in s, s
    r = run(src, "--out", tmp_path / "p", "--recipe", "slmrec-paper", "--user-min", 1, "--item-min", 1)
    assert r.returncode == 0 and "paper filters dropped" in r.stderr and "k-core" not in r.stderr, r.stderr
    r = run(src, "--out", tmp_path / "n", "--recipe", "none")
    assert r.returncode == 0, r.stderr
    assert not any(w in r.stderr for w in ("k-core", "paper filters", "duplicates dropped", "dropped by rating"))
    inter = tmp_path / "r.inter"
    inter.write_text("user_id:token\titem_id:token\nU1\ta\n\nU1\tb\n")
    r = run(inter, "--out", tmp_path / "i", "--recipe", "none")
    assert re.search(r"\n  lines read +4 \(0 bad, 1 blank, 1 header\)\n", r.stderr), r.stderr
    # A multi-MB input gets its rate.
    big = tmp_path / "big.csv"
    big.write_text("".join(f"i{k % 97},u{k % 1013},5,{k}\n" for k in range(120_000)))
    r = run(big, "--out", tmp_path / "b", "--recipe", "none")
    assert big.stat().st_size > 1_000_000 and "MB/s of input as stored" in r.stderr, r.stderr
    # the time shown is stats.json's (issue 19: they disagreed)
    elapsed = json.loads((tmp_path / "b" / "stats.json").read_text())["elapsed_seconds"]
    assert re.search(rf"\n  time +{elapsed:.2f} s \(\d+ MB/s of input as stored\)\n", r.stderr), r.stderr
