"""Smoke test of the results machinery (runs/results.py, runs/report.py) on a tiny run: the real jobs take hours."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from slmrec.train_cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _py(*args: str, results: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SLMREC_RESULTS_DIR": str(results)}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_results_driver_lists_jobs_and_report_reads_runs(tmp_path):
    results = tmp_path / "results"
    listed = _py("runs/results.py", "--list", results=results)
    assert listed.returncode == 0, listed.stderr
    *lines, total = listed.stdout.splitlines()
    assert len(lines) >= 20 and all(x.startswith("[todo] ") for x in lines)
    assert total.startswith(f"0 of {len(lines)} done")
    assert any("peer ml-100k recbole" in x for x in lines) and any("--llm.init random" in x for x in lines)

    run = results / "main" / "lastfm" / "seed0"  # stands in for the real LastFM run
    assert main(["--preset", "tiny", "--out", str(run), "--run.progress", "false"]) == 0
    docs = tmp_path / "docs"
    report = _py("runs/report.py", "--docs", str(docs), results=results)
    assert report.returncode == 0, report.stderr
    text = (docs / "RESULTS.md").read_text()
    assert "1 of " in text and "| SASRec | 1 | " in text and "## Layer probe" in text
    assert "| 4 | " in text  # the probe table of the tiny teacher's 4 layers
    kept = docs / "results" / "cpu" / "main" / "lastfm" / "seed0" / "sasrec" / "result.json"
    metrics = json.loads((run / "metrics.json").read_text())
    assert json.loads(kept.read_text())["test"] == metrics["sasrec"]["test"]  # copied, not retyped
    assert f"{metrics['sasrec']['test']['hr@10']:.4f}" in text
    assert (docs / "results" / "probe_lastfm.png").is_file()
