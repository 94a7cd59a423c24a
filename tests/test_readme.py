"""The README's examples, run as written: the slmrec-prep command of the developer path, then the "Python API" and
"Sampler API" blocks in one namespace (as a reader would paste them), from a directory beside ../shared (the
README's paths are relative to the repository root). The "use the sampler in your project" block is run by
tests/test_sampler_table.py. Skipped when the real data is absent."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SHARED = ROOT.parent / "shared"


def _block(after: str, lang: str) -> str:
    section = README.read_text().split(after, 1)[1]
    return re.search(rf"```{lang}\n(.*?)```", section, re.S).group(1)


@pytest.fixture
def beside_shared(tmp_path, monkeypatch):
    src = SHARED / "data" / "amazon18" / "All_Beauty_5.json.gz"
    if not src.exists():
        pytest.skip(f"{src} is absent (real data lives in ../shared/data)")
    (tmp_path / "shared").symlink_to(SHARED)
    (tmp_path / "repo").mkdir()
    monkeypatch.chdir(tmp_path / "repo")
    return tmp_path / "repo"


def test_the_developer_paths_prep_command(beside_shared):
    (line,) = [
        ln for ln in _block("The developer path works as usual:", "bash").splitlines() if ln.startswith("slmrec-prep ")
    ]
    args = line.split()[1:]
    r = subprocess.run([sys.executable, "-m", "slmrec.cli.prep", *args], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (beside_shared / "data" / "all_beauty" / "stats.json").exists()


def test_the_python_and_sampler_api_blocks(beside_shared):
    code = _block("## Python API", "python") + _block("## Sampler API", "python")
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    ds, s = scope["ds"], scope["s"]
    assert scope["negs"].shape == (ds.num_users, 5) and scope["cands"].shape[1] == 11
    assert (beside_shared / "data" / "all_beauty" / "candidates_test_seed0_n10.npy").exists()
    assert (beside_shared / "candidates" / "candidates_test_seed0_n10.npy").exists()
    assert s.num_users == ds.num_users
