"""runs/gpu_check.py on the CPU (how it is tested): slmrec-train's pipeline and loop, a few steps per model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_runs_the_pipelines_loop_on_cpu(tmp_path):
    import slmrec
    from slmrec.config import preset
    from slmrec.synth import generate_reviews

    generate_reviews(tmp_path / "r.json.gz", n_users=300, seed=0)
    slmrec.prepare([str(tmp_path / "r.json.gz")], tmp_path / "data")
    out = tmp_path / "check.json"
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "runs" / "gpu_check.py"),
            "--data",
            str(tmp_path / "data"),
            "--backbone",
            "random",
            "--precision",
            "no",
            "--steps",
            "3",
            "--warmup",
            "2",
            "--batch",
            "8",
            "--eval-users",
            "20",
            "--out",
            str(tmp_path / "run"),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    res = json.loads(out.read_text())
    assert res["pass"] and res["device"] == "cpu"
    depths = preset("small").llm  # the check's default depths, recorded for the report's labels
    assert (res["teacher_layers"], res["student_layers"]) == (depths.teacher_layers, depths.student_layers)
    for name in ("teacher", "student"):
        m = res[name]
        assert m["steps"] == 3 and m["step_s"] > 0 and m["loss_finite"]
        assert m["positions"] == 30  # the small preset's history, no prompt on a random decoder
        # the figures are the run's own: its history holds every step's seconds, its result the metrics
        hist = json.loads((tmp_path / "run" / name / "history.json").read_text())
        assert len(hist["losses"]) == 5 and all(e["seconds"] > 0 for e in hist["losses"])
        result = json.loads((tmp_path / "run" / name / "result.json").read_text())
        assert m["valid_hr@10"] == result["valid"]["hr@10"] and result["total_steps"] == 5
