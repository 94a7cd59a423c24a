"""The hostile-input corpus (tests/corpus/cases.json) through the Python API and the ``slmrec-prep`` command line.

Every case runs four ways: ``slmrec.prepare`` and ``slmrec-prep`` (a subprocess), each with ``--on-bad-line fail``
and ``skip``. An error must be the expected exception whose message starts with the expected ``FILE:LINE: `` and
holds the expected words, and the command line must exit 2 with exactly that message as its only stderr line
(``slmrec-prep: error: ...``, no traceback, no panic) and leave no output directory. A success must match the
counts of the manifest, and its stats.json (from both the API and the command line) must reconcile:
``records = interactions + every drop`` and ``lines_read = data_lines + blank_lines + header_lines + bad_lines``.

Also here: the output side of a run (a full disk, a read-only file system, a directory the user cannot write),
which needs root to mount a small tmpfs or to switch to an unprivileged user; each such test skips with its
reason where that is impossible.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

import reference as ref
import slmrec

CORPUS = Path(__file__).resolve().parent / "corpus"
CASES = json.loads((CORPUS / "cases.json").read_text())
CLI = [sys.executable, "-m", "slmrec.cli.prep"]
ERRORS = {
    "DataFormatError": slmrec.DataFormatError,
    "EmptyDatasetError": slmrec.EmptyDatasetError,
    "FileNotFoundError": FileNotFoundError,
    "OSError": OSError,
}
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


# ----------------------------------------------------------------------------------------------- helpers


def _can_run_as_nobody() -> str | None:
    """None when commands can run as an unprivileged user (uid 65534), else the reason they cannot."""
    if os.geteuid() != 0:
        return None  # already unprivileged: file modes apply to us
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    r = subprocess.run([*NOBODY, sys.executable, "-c", "import slmrec"], capture_output=True, text=True)
    if r.returncode != 0:
        return f"the unprivileged user cannot run this Python: {r.stderr.strip()[-200:]}"
    return None


def _as_user() -> list[str]:
    return NOBODY if os.geteuid() == 0 else []


@pytest.fixture(scope="module")
def shared_tmp():
    """A world-traversable scratch directory (pytest's tmp_path is private to root)."""
    d = Path(tempfile.mkdtemp(prefix="slmrec-corpus-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def line_100mb(tmp_path_factory):
    """Two files with a 100 MB review text on line 1, generated here (never committed): valid, and unterminated."""
    d = tmp_path_factory.mktemp("big")
    second = json.dumps({"reviewerID": "U2", "asin": "b", "unixReviewTime": 2, "overall": 4.0}).encode() + b"\n"
    head = b'{"reviewerID": "U1", "asin": "a", "unixReviewTime": 1, "overall": 5.0, "reviewText": "'
    text = b"lorem ipsum " * ((100 << 20) // 12)
    good, bad = d / "line_100mb.json", d / "line_100mb_unterminated.json"
    with open(good, "wb") as f:
        f.write(head + text + b'"}\n' + second)
    with open(bad, "wb") as f:
        f.write(head + text + b"}\n" + second)
    assert good.stat().st_size > 100 << 20
    yield {"line-100mb": good, "line-100mb-bad": bad}
    good.unlink()  # pytest keeps its last temporary directories: do not leave 200 MB in them
    bad.unlink()


def _inputs(case: dict, tmp_path: Path, line_100mb) -> tuple[list[str], list[str]]:
    inputs = [str(CORPUS / f) for f in case["files"]]
    meta = [str(CORPUS / f) for f in case["meta"]]
    setup = case["setup"]
    if setup == "directory":
        (tmp_path / "a_directory.json").mkdir()
        inputs = [str(tmp_path / "a_directory.json")]
    elif setup == "directory-meta":
        (tmp_path / "meta_dir.json.gz").mkdir()
        meta = [str(tmp_path / "meta_dir.json.gz")]
    elif setup == "missing":
        inputs = [str(tmp_path / "no_such_file.json.gz")]
    elif setup in ("line-100mb", "line-100mb-bad"):
        inputs = [str(line_100mb[setup])]
    else:
        assert setup in (None, "unreadable"), setup
    return inputs, meta


def _expand(text: str, inputs: list[str], meta: list[str]) -> str:
    names = {f"f{k}": p for k, p in enumerate(inputs)} | {f"m{k}": p for k, p in enumerate(meta)}
    return text.format(**names)


def _args(inputs, meta, case, out, mode) -> list[str]:
    args = [*inputs, "--out", str(out), "--recipe", "none", "--on-bad-line", mode, "-q"]
    if meta:
        args += ["--meta", *meta]
    if case["format"]:
        args += ["--format", case["format"]]
    if case.get("max_line_bytes"):
        args += ["--max-line-bytes", str(case["max_line_bytes"])]
    for key in ("columns", "delimiter", "item_key"):
        if case.get(key) is not None:
            args += [f"--{key.replace('_', '-')}", case[key]]
    return args


def _expected(case: dict, mode: str) -> dict:
    """The outcome for ``mode``: {"expect": "ok", ...} or {"expect": "error", "error": {...}}."""
    if mode == "fail":
        if case["expect"] == "ok":
            return {"expect": "ok", "bad_lines": 0, "reasons": {}, "stats": {}}
        return {"expect": "error", "error": case["error"]}
    skip = case["skip"]
    if skip == "same":
        return {"expect": "error", "error": case["error"]}
    return skip


def _check_message(msg: str, spec: dict, inputs, meta) -> None:
    assert "\n" not in msg and "panick" not in msg.lower() and "Traceback" not in msg, msg
    if spec["at"] is not None:
        at = _expand(spec["at"], inputs, meta)
        prefix = at if at.endswith(":") else at + ": "
        assert msg.startswith(prefix), (prefix, msg)
        assert len(msg) > len(prefix) + 3, msg  # a reason follows
    for part in spec["has"]:
        assert _expand(part, inputs, meta) in msg, (part, msg)


def _get(stats: dict, dotted: str):
    for key in dotted.split("."):
        stats = stats[int(key)] if isinstance(stats, list) else stats[key]
    return stats


def _check_stats(stats: dict, case: dict, want: dict) -> None:
    ref.assert_reconciled(stats)
    assert stats["bad_lines"] == want["bad_lines"], stats["bad_line_reasons"]
    assert {r: v["count"] for r, v in stats["bad_line_reasons"].items()} == want["reasons"]
    for key, value in {**case["stats"], **want.get("stats", {})}.items():
        assert _get(stats, key) == value, (key, _get(stats, key), value)
    if "meta" in stats:
        m = stats["meta"]
        assert m["lines"] == m["items"] + m["duplicate_rows"] + m["bad_lines"]


def _run_api(case, inputs, meta, out, mode):
    try:
        return slmrec.prepare(
            inputs,
            out,
            meta=meta,
            format=case["format"],
            recipe="none",
            on_bad_line=mode,
            max_line_bytes=case.get("max_line_bytes"),
            columns=case.get("columns"),
            delimiter=case.get("delimiter"),
            item_key=case.get("item_key"),
        ), None
    except (slmrec.SlmrecError, OSError, ValueError) as e:
        return None, e
    except BaseException as e:  # noqa: BLE001 - a pyo3 PanicException derives from BaseException
        pytest.fail(f"{case['name']} ({mode}): {type(e).__name__}: {e}")


def _check_cli(r: subprocess.CompletedProcess, want: dict, case, inputs, meta, out: Path, api_error) -> None:
    assert "Traceback" not in r.stderr and "panick" not in r.stderr.lower(), r.stderr
    assert r.stdout == ""
    if want["expect"] == "error":
        assert r.returncode == 2, (r.returncode, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr
        assert lines[0].startswith("slmrec-prep: error: "), lines[0]
        msg = lines[0][len("slmrec-prep: error: ") :]
        _check_message(msg, want["error"], inputs, meta)
        if api_error is not None:
            assert msg == str(api_error)  # the command line says exactly what the API raises
        assert not out.exists()
    else:
        assert r.returncode == 0, r.stderr
        assert r.stderr == ""  # -q
        _check_stats(json.loads((out / "stats.json").read_text()), case, want)


# ----------------------------------------------------------------------------------------------- the corpus


def test_the_corpus_is_what_make_corpus_writes(tmp_path):
    """The committed files equal the generator's output (so the manifest describes the files), and the corpus
    is small and broad."""
    sys.path.insert(0, str(CORPUS))
    bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # leave no __pycache__ in the corpus
    try:
        import make_corpus
    finally:
        sys.path.remove(str(CORPUS))
        sys.dont_write_bytecode = bytecode
    make_corpus.write(tmp_path)
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(
        p.relative_to(CORPUS)
        for p in CORPUS.rglob("*")
        if p.is_file() and p.name != "make_corpus.py" and "__pycache__" not in p.parts
    )
    assert made == committed
    for rel in made:
        assert (tmp_path / rel).read_bytes() == (CORPUS / rel).read_bytes(), rel
    assert sum((CORPUS / p).stat().st_size for p in committed) < 200_000
    assert len(CASES) >= 40
    kinds = {c["name"].split("-")[0] for c in CASES}
    assert {"json", "gzip", "csv", "recbole", "seq", "meta"} <= kinds
    # issue 17: at least 30 cases for the new readers
    assert {"table", "parquet", "amazon23", "movielens", "yelp"} <= kinds
    assert sum(c["name"].split("-")[0] in ("table", "parquet", "amazon23", "movielens", "yelp") for c in CASES) >= 30
    referenced = {f for c in CASES for f in c["files"] + c["meta"]}
    assert referenced == {str(p) for p in committed if p.name != "cases.json"}  # no orphan, no missing file


@pytest.mark.parametrize("case", [c for c in CASES if c["setup"] != "unreadable"], ids=lambda c: c["name"])
def test_case(case, tmp_path, line_100mb):
    inputs, meta = _inputs(case, tmp_path, line_100mb)
    # The command line runs in the background (both modes) while the API runs here.
    procs = {
        mode: subprocess.Popen(
            [*CLI, *_args(inputs, meta, case, tmp_path / f"cli_{mode}", mode)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for mode in ("fail", "skip")
    }
    api_errors = {}
    try:
        for mode in ("fail", "skip"):
            want = _expected(case, mode)
            out = tmp_path / f"api_{mode}"
            ds, error = _run_api(case, inputs, meta, out, mode)
            api_errors[mode] = error
            if want["expect"] == "error":
                assert error is not None, f"{case['name']} ({mode}): expected an error, got {ds}"
                assert isinstance(error, ERRORS[want["error"]["type"]]), (type(error), error)
                _check_message(str(error), want["error"], inputs, meta)
                assert not out.exists()
            else:
                assert error is None, f"{case['name']} ({mode}): {type(error).__name__}: {error}"
                _check_stats(ds.stats, case, want)
                loaded = slmrec.load(out)
                assert loaded.stats == ds.stats and loaded.num_interactions == ds.num_interactions
                assert (loaded.items == ds.items).all() and (loaded.offsets == ds.offsets).all()
    finally:
        results = {}
        for mode, p in procs.items():
            stdout, stderr = p.communicate(timeout=300)
            results[mode] = subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)
    for mode, r in results.items():
        _check_cli(r, _expected(case, mode), case, inputs, meta, tmp_path / f"cli_{mode}", api_errors.get(mode))
    # Nothing but the outputs that should exist is left beside them (no hidden temporary directories).
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
    assert left == [], left


def test_unreadable_path(shared_tmp):
    """A file without read permission: a one-line OSError naming it (run as an unprivileged user: root reads
    anything)."""
    why = _can_run_as_nobody()
    if why:
        pytest.skip(f"cannot drop privileges to test file permissions: {why}")
    (case,) = [c for c in CASES if c["setup"] == "unreadable"]
    work = shared_tmp / "unreadable"
    work.mkdir()
    work.chmod(0o777)
    src = work / "secret.json"
    shutil.copy(CORPUS / "json" / "good.json", src)
    src.chmod(0o000)
    inputs = [str(src)]
    code = (
        "import json, sys, slmrec\n"
        "try:\n"
        "    slmrec.prepare(sys.argv[1], sys.argv[2], recipe='none', on_bad_line=sys.argv[3])\n"
        "    print(json.dumps(['ok', '']))\n"
        "except Exception as e:\n"
        "    print(json.dumps([type(e).__name__, str(e)]))\n"
    )
    for mode in ("fail", "skip"):
        out = work / f"api_{mode}"
        r = subprocess.run(
            [*_as_user(), sys.executable, "-c", code, str(src), str(out), mode],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 0, r.stderr
        kind, msg = json.loads(r.stdout)
        assert kind in ("OSError", "PermissionError"), (kind, msg)
        _check_message(msg, case["error"], inputs, [])
        assert not out.exists()
        cli_out = work / f"cli_{mode}"
        r = subprocess.run(
            [*_as_user(), *CLI, *_args(inputs, [], case, cli_out, mode)], capture_output=True, text=True, timeout=120
        )
        _check_cli(r, _expected(case, mode), case, inputs, [], cli_out, None)
        assert r.stderr.strip() == f"slmrec-prep: error: {msg}"
    assert sorted(p.name for p in work.iterdir()) == ["secret.json"]


# ----------------------------------------------------------------------------------------------- output side


def _many_records(path: Path, n: int = 40_000) -> Path:
    """A ratings CSV whose dataset directory takes well over 1 MB (long, distinct user names)."""
    with open(path, "w") as f:
        for k in range(n):
            f.write(f"item{k % 5000:08d}-abcdef,user{k:012d}-{k * 7919 % 100_003:06d}-xyz,5,{k}\n")
    return path


@contextmanager
def _mounted_tmpfs(where: Path, options: str):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    where.mkdir(exist_ok=True)
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "slmrec-test", str(where)], capture_output=True, text=True
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _check_output_error(watch: Path, src: Path, out: Path, *words: str) -> None:
    """The API raises a one-line OSError naming ``out`` (or the parent it could not make); the command line exits
    2 with the same line; nothing is left in ``watch`` (an existing ancestor of ``out``)."""
    before = sorted(os.listdir(watch))
    with pytest.raises(OSError) as e:
        slmrec.prepare(src, out, recipe="none")
    assert not isinstance(e.value, slmrec.DataFormatError), e.value  # the input is fine; the disk is not
    msg = str(e.value)
    assert msg.startswith((f"{out}: ", f"{out.parent}: ")) and "\n" not in msg, msg  # the dir it could not make
    for w in words:
        assert w in msg, msg
    assert sorted(os.listdir(watch)) == before  # no partial directory, no hidden temporary one
    r = subprocess.run(
        [*CLI, str(src), "--out", str(out), "--recipe", "none", "-q"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 2 and r.stdout == "", (r.returncode, r.stderr)
    assert r.stderr.strip().splitlines() == [f"slmrec-prep: error: {msg}"]
    assert sorted(os.listdir(watch)) == before


def test_disk_full_is_a_clear_error_and_leaves_nothing(tmp_path):
    src = _many_records(tmp_path / "many.csv")
    with _mounted_tmpfs(tmp_path / "small", "size=1m") as mnt:
        _check_output_error(mnt, src, mnt / "ds", "No space left on device")
        # A dataset that fits is written fine on the same (now empty) file system.
        ds = slmrec.prepare(CORPUS / "csv" / "good.csv", mnt / "fits", recipe="none")
        assert slmrec.load(mnt / "fits").num_interactions == ds.num_interactions == 4


def test_read_only_file_system_is_a_clear_error(tmp_path):
    src = _many_records(tmp_path / "many.csv", 100)
    with _mounted_tmpfs(tmp_path / "ro", "ro,size=1m") as mnt:
        _check_output_error(mnt, src, mnt / "ds", "Read-only file system")
        _check_output_error(mnt, src, mnt / "deeper" / "ds", "Read-only file system")


def test_output_directory_without_write_permission(shared_tmp):
    why = _can_run_as_nobody()
    if why:
        pytest.skip(f"cannot drop privileges to test directory permissions: {why}")
    work = shared_tmp / "locked"
    work.mkdir()  # owned by root, mode 755: the unprivileged user may read but not create
    src = work / "good.csv"
    shutil.copy(CORPUS / "csv" / "good.csv", src)
    src.chmod(0o644)
    for out in (work / "ds", work / "sub" / "ds"):
        r = subprocess.run(
            [*_as_user(), *CLI, str(src), "--out", str(out), "--recipe", "none", "-q"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("slmrec-prep: error: "), r.stderr
        assert "Permission denied" in lines[0] and "Traceback" not in r.stderr
    assert sorted(p.name for p in work.iterdir()) == ["good.csv"]
