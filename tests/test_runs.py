"""Smoke test of the results machinery (runs/results.py, runs/report.py) on a tiny run: the real jobs take hours."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from slmrec.cli.train import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _py(*args: str, results: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SLMREC_RESULTS_DIR": str(results)}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_results_driver_lists_jobs_and_report_reads_runs(tmp_path):
    results = tmp_path / "results"
    listed = _py("runs/results.py", "--list", results=results)
    assert listed.returncode == 0, listed.stderr
    *lines, default, extra = listed.stdout.splitlines()
    assert len(lines) >= 20 and all(x.startswith("[todo] ") for x in lines)
    n_extra = sum(x.startswith("[todo] [extra] ") for x in lines)
    assert default.startswith(f"default run: 0 of {len(lines) - n_extra} jobs done")
    assert extra.startswith(f"--extra: 0 of {n_extra} jobs done") and n_extra >= 1
    assert any("probe beauty" in x and "--eval.users" in x for x in lines)
    assert any("peer ml-100k recbole" in x for x in lines) and any("--llm.init random" in x for x in lines)

    run = results / "main" / "lastfm" / "seed0"  # stands in for the real LastFM run
    assert main(["--preset", "tiny", "--out", str(run), "--run.progress", "false"]) == 0
    # the same run stands in for the claims, the strong-table and one ablation run of LastFM
    for copy in ("claims/lastfm/seed0", "table/lastfm/seed0", "kd_ablation/lastfm/center_seed0"):
        shutil.copytree(run, results / copy)
    docs = tmp_path / "docs"
    report = _py("runs/report.py", "--docs", str(docs), results=results)
    assert report.returncode == 0, report.stderr
    text = (docs / "RESULTS.md").read_text()
    table = text.split("### Does a better item table help the LLM? (LastFM)")[1].split("###")[0]
    assert "| SASRec, claims table | 1 | " in table and "| SASRec, strong table | 1 | " in table
    assert "- teacher (4 layers), strong table against the claims table: ndcg@10 " in table
    assert "inconclusive (1 seed)" in table
    claims = text.split("### LastFM (claims runs)")[1].split("###")[0]
    assert "| epochs (passes over the training examples) |" in claims
    reg = next(x for x in claims.splitlines() if x.startswith("Regularisation: the LLM stages made "))
    teacher = json.loads((run / "teacher" / "result.json").read_text())
    passes = teacher["total_steps"] / teacher["steps_per_epoch"]
    assert f"{passes:.2f}" in reg and ("(no example seen twice)" in reg) == (passes < 1)
    ablation = text.split("### Ablation of the distillation terms and options, on the strong table (LastFM)")[1]
    ablation = ablation.split("###")[0]
    assert "| `center`: (same keys) | SLMRec student (" in ablation and "| `no_cos`: not run yet |" in ablation
    assert "| the table runs | teacher (4 layers) | 1 | " in ablation  # head_zero retrains the teacher
    assert "(+0.0%): inconclusive (1 seed); full_ndcg@10 " in ablation  # the row is a copy of the table run
    assert "4 of " in text and "| SASRec | 1 | " in text and "## Layer probe" in text  # main, claims, table, ablation
    assert "| 4 | " in text  # the probe table of the tiny teacher's 4 layers
    kept = docs / "results" / "cpu" / "main" / "lastfm" / "seed0" / "sasrec" / "result.json"
    metrics = json.loads((run / "metrics.json").read_text())
    assert json.loads(kept.read_text())["test"] == metrics["sasrec"]["test"]  # copied, not retyped
    assert f"{metrics['sasrec']['test']['hr@10']:.4f}" in text
    assert (docs / "results" / "probe_lastfm.png").is_file()


def _results_module(monkeypatch, out: Path):
    sys.path.insert(0, str(ROOT / "runs"))
    try:
        import results
    finally:
        sys.path.remove(str(ROOT / "runs"))
    monkeypatch.setattr(results, "OUT", out)
    return results


# a fake job: records when it ran, where and with how many torch threads, then writes its output
FAKE = """
import json, os, sys, time
out, sleep, rc = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
need = sys.argv[sys.argv.index("--reuse") + 1] if "--reuse" in sys.argv else None
t0 = time.time()
time.sleep(sleep)
rec = {"start": t0, "end": time.time(), "cpus": sorted(os.sched_getaffinity(0)),
       "threads": os.environ.get("OMP_NUM_THREADS"), "need_done": need and os.path.exists(need + "/metrics.json")}
os.makedirs(out, exist_ok=True)
if rc == 0:
    json.dump(rec, open(os.path.join(out, "metrics.json"), "w"))
sys.exit(rc)
"""


def _fake(results, tmp: Path, name: str, sleep: float, rc: int = 0, reuse: Path | None = None):
    cmd = [sys.executable, "-c", FAKE, str(tmp / name), str(sleep), str(rc)]
    cmd += ["--reuse", str(reuse)] if reuse else []
    return results.Job(name, cmd, tmp / name)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="two lanes need two CPUs")
def test_two_lanes_run_jobs_side_by_side_on_their_own_cpu_and_keep_dependencies(tmp_path, monkeypatch):
    results = _results_module(monkeypatch, tmp_path)
    a, b = _fake(results, tmp_path, "a", 1.5), _fake(results, tmp_path, "b", 1.5)
    c = _fake(results, tmp_path, "c", 0.1, reuse=tmp_path / "a")  # continues a: must wait for it
    bad = _fake(results, tmp_path, "bad", 0.1, rc=3)
    orphan = _fake(results, tmp_path, "orphan", 0.1, reuse=tmp_path / "bad")  # what it needs fails
    solo = _fake(results, tmp_path, "solo", 0.5)
    solo.alone = True  # timed against a peer: nothing may run beside it
    failed = results.run_jobs([a, c, b, solo, bad, orphan], lanes=2, poll=0.05)
    assert failed == ["bad", "orphan"]
    got = {n: json.loads((tmp_path / n / "metrics.json").read_text()) for n in ("a", "b", "c", "solo")}
    alone = got.pop("solo")
    assert all(r["end"] <= alone["start"] or r["start"] >= alone["end"] for r in got.values())
    assert got["b"]["start"] < got["a"]["end"] and got["a"]["start"] < got["b"]["end"]  # side by side
    assert len(got["a"]["cpus"]) == 1 and got["a"]["cpus"] != got["b"]["cpus"]
    assert all(r["threads"] == "1" for r in got.values())
    assert got["c"]["need_done"] and got["c"]["start"] >= got["a"]["end"]
    assert not (tmp_path / "orphan").exists()
    log = [json.loads(x) for x in (tmp_path / "commands.log").read_text().splitlines()]
    assert sorted(r["job"] for r in log) == ["a", "b", "bad", "c", "solo"]
    assert {r["job"]: r["rc"] for r in log}["bad"] == 3
    assert all(r["threads"] == "1" and len(r["cpus"]) == 1 for r in log)
    # a second call finds everything done but the failures, and retries only those
    assert results.run_jobs([a, b, c, bad], lanes=2, poll=0.05) == ["bad"]


def test_one_lane_runs_jobs_one_after_another_with_default_threads(tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    results = _results_module(monkeypatch, tmp_path)
    a, b = _fake(results, tmp_path, "a", 0.3), _fake(results, tmp_path, "b", 0.3)
    assert results.run_jobs([a, b], lanes=1, poll=0.05) == []
    ra, rb = (json.loads((tmp_path / n / "metrics.json").read_text()) for n in "ab")
    assert rb["start"] >= ra["end"] and ra["threads"] is None
    assert ra["cpus"] == sorted(os.sched_getaffinity(0))


def test_a_job_whose_output_appeared_meanwhile_is_not_run(tmp_path, monkeypatch):
    """A job is checked again when its turn comes: an output made meanwhile (here by the job before it; in use, by
    another driver) means it is done, and it is neither run nor logged."""
    results = _results_module(monkeypatch, tmp_path)
    a = _fake(results, tmp_path, "a", 0.1)
    b = _fake(results, tmp_path, "b", 0.1)
    b.out = tmp_path / "a"  # a makes b's output
    assert results.run_jobs([a, b], lanes=1, poll=0.05) == []
    assert not (tmp_path / "b").exists()
    assert [json.loads(x)["job"] for x in (tmp_path / "commands.log").read_text().splitlines()] == ["a"]


def test_report_wall_time_is_the_union_of_job_intervals():
    sys.path.insert(0, str(ROOT / "runs"))
    try:
        import report
    finally:
        sys.path.remove(str(ROOT / "runs"))
    side_by_side = [
        {"seconds": 3600, "finished": 10_000},
        {"seconds": 1800, "finished": 8_200},
        {"seconds": 900, "finished": 20_000},
    ]  # 1 h with a half hour inside it, then 15 min apart
    assert report.wall_hours(side_by_side) == pytest.approx(1.25)
    assert report.wall_hours([{"seconds": 1800}, {"seconds": 1800, "finished": 5000}]) == pytest.approx(1.0)


def test_report_says_what_ran_beside_a_timed_job(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "runs"))
    try:
        import report
    finally:
        sys.path.remove(str(ROOT / "runs"))
    monkeypatch.setattr(report.R, "OUT", tmp_path)
    log = [
        {"job": "old", "seconds": 60, "rc": 0},
        {"job": "timed", "seconds": 600, "rc": 0, "finished": 1600},
        {"job": "neighbour", "seconds": 300, "rc": 0, "finished": 1300},  # 1000..1300: 5 of timed's 10 min
        {"job": "neighbour", "seconds": 200, "rc": 1, "finished": 1250},  # a failed try inside it: counted once
        {"job": "later", "seconds": 100, "rc": 0, "finished": 5000},
    ]
    (tmp_path / "commands.log").write_text("".join(json.dumps(e) + "\n" for e in log))
    text = report.side_by_side(["timed", "later", "old", "missing"], "X")
    assert "timed: another job on the other CPU for 5 of its 10 min" in text
    assert "later: alone" in text and "old: alone (one job at a time)" in text and "missing" not in text
    assert report.side_by_side(["old"], "X") == "- X: every timed job ran alone (one job at a time)."
    assert "not have run on one machine" not in report.side_by_side(["timed", "neighbour"], "X")  # one day
    assert "(machine not recorded, finished 1970-01-01: timed, later; machine and day not recorded: old)" in text
    day = 86400
    log.append({"job": "next day", "seconds": 60, "rc": 0, "finished": 1600 + day})
    (tmp_path / "commands.log").write_text("".join(json.dumps(e) + "\n" for e in log))
    two_days = report.side_by_side(["timed", "next day"], "X")
    assert "finished 1970-01-01: timed; machine not recorded, finished 1970-01-02: next day)" in two_days
    # entries that record their machine: one day, two machines, and a job on the other machine is not beside it
    log += [
        {"job": "here", "seconds": 600, "rc": 0, "finished": 9600, "machine": "CPU A, 2 CPUs"},
        {"job": "there", "seconds": 600, "rc": 0, "finished": 9600, "machine": "CPU B, 2 CPUs"},
        {"job": "here too", "seconds": 600, "rc": 0, "finished": 9700, "machine": "CPU A, 2 CPUs"},
    ]
    (tmp_path / "commands.log").write_text("".join(json.dumps(e) + "\n" for e in log))
    text = report.side_by_side(["here", "there"], "X")
    assert "(CPU A, 2 CPUs: here; CPU B, 2 CPUs: there)" in text
    assert "here: another job on the other CPU for 8 of its 10 min" in text  # "here too", not "there"
    assert "there: alone" in text
    assert "not have run on one machine" not in report.side_by_side(["here", "here too"], "X")
    # one CPU model, two boots (two machines, or one rebooted): never beside each other
    log += [
        {"job": "boot 1", "seconds": 600, "rc": 0, "finished": 20600, "machine": "CPU A, 2 CPUs", "boot": "1"},
        {"job": "boot 2", "seconds": 600, "rc": 0, "finished": 20600, "machine": "CPU A, 2 CPUs", "boot": "2"},
    ]
    (tmp_path / "commands.log").write_text("".join(json.dumps(e) + "\n" for e in log))
    assert "boot 1: alone" in report.side_by_side(["boot 1"], "X")
    places = report.job_places(["here", "there", "missing"], log)
    assert places == {"here": "CPU A, 2 CPUs", "there": "CPU B, 2 CPUs"}
    assert report.machines_sentence(places, "These runs").startswith(" These runs may not have run on one machine (")
    assert report.machines_sentence({"here": "CPU A, 2 CPUs"}, "These runs") == ""


def test_commands_log_records_the_machine(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "runs"))
    try:
        import results
    finally:
        sys.path.remove(str(ROOT / "runs"))
    info = tmp_path / "cpuinfo"
    info.write_text(
        "processor\t: 0\nmodel name\t: Example CPU @ 2.0GHz\n\nprocessor\t: 1\nmodel name\t: Example CPU @ 2.0GHz\n"
    )
    assert results.machine(info).startswith("Example CPU @ 2.0GHz, ")
    monkeypatch.setattr(results.platform, "processor", lambda: "")
    assert results.machine(tmp_path / "missing").startswith("unknown CPU, ")
    monkeypatch.setattr(results.os, "sched_getaffinity", lambda pid: {0})  # pinned to one CPU: same machine
    assert results.machine(info) == f"Example CPU @ 2.0GHz, {os.cpu_count()} CPU{'s' if os.cpu_count() != 1 else ''}"
    monkeypatch.setattr(results.os, "cpu_count", lambda: 1)
    assert results.machine(info) == "Example CPU @ 2.0GHz, 1 CPU"
    (tmp_path / "boot").write_text("abc-123\n")
    assert results.boot_id(tmp_path / "boot") == "abc-123" and results.boot_id(tmp_path / "missing") == ""
    rec = results.job_resources(["x"], {}, 0)
    assert rec["machine"] == results.machine() and rec["boot"] == results.boot_id()


def test_extra_jobs_run_only_with_extra(tmp_path, monkeypatch):
    results = _results_module(monkeypatch, tmp_path)
    jobs = [_fake(results, tmp_path, "a", 0), _fake(results, tmp_path, "b", 0)]
    jobs[1].extra = True
    ran = []
    monkeypatch.setattr(results, "jobs", lambda: jobs)
    monkeypatch.setattr(results, "prepare_data", lambda: None)
    monkeypatch.setattr(results, "run_jobs", lambda todo, *args: ran.append([j.name for j in todo]) or [])
    assert results.main(["--no-report"]) == 0 and results.main(["--no-report", "--extra"]) == 0
    assert ran == [["a"], ["a", "b"]]


def test_explore_rows_list_the_keys_a_stage_depends_on_and_read_old_configs_with_defaults():
    sys.path.insert(0, str(ROOT / "runs"))
    try:
        import report
    finally:
        sys.path.remove(str(ROOT / "runs"))
    from slmrec import config

    base = config.to_dict(config.preset("small"))
    old = {sec: {k: v for k, v in d.items() if k != "center"} for sec, d in base.items()}  # an older version's
    mine = json.loads(json.dumps(base))
    mine["llm"]["head_init"], mine["distill"]["center"], mine["run"]["stages"] = "zero", True, "teacher,student"
    assert report.changed_keys(mine, old, "teacher") == "`--llm.head_init zero`"  # distill is not the teacher's
    assert report.changed_keys(mine, old, "student") == "`--llm.head_init zero` `--distill.center true`"
    assert report.changed_keys(base, old, "student") == "(same keys)"  # the missing key reads as its default
    # a stride of 0 is max_len's windows: a run saved with either compares equal, another stride does not
    strong = config.to_dict(config.override(config.preset("small"), {"sasrec.recipe": "strong"}))
    explicit = json.loads(json.dumps(strong))
    explicit["sasrec"]["stride"] = strong["data"]["max_len"]
    assert strong["sasrec"]["stride"] == 0 and report.changed_keys(explicit, strong, "sasrec") == "(same keys)"
    explicit["sasrec"]["stride"] = 25
    assert report.changed_keys(explicit, strong, "sasrec") == "`--sasrec.stride 25`"


def test_every_training_job_resolves_to_a_valid_config(tmp_path, monkeypatch):
    """Each slmrec-train command of the driver parses and passes the config's validation (as the CLI does before
    it trains), so no job fails at its start after the jobs before it have run for hours."""
    from slmrec import config as configs
    from slmrec.cli.train import _preset_in, parser, resolve_config

    results = _results_module(monkeypatch, tmp_path)
    checked = 0
    for job in results.jobs():
        if "slmrec.cli.train" not in job.cmd:
            continue
        argv = job.cmd[job.cmd.index("slmrec.cli.train") + 1 :]
        configs.validate(resolve_config(parser(_preset_in(argv)).parse_args(argv)))
        checked += 1
    assert checked >= 40


def test_the_benchmark_rule_jobs_evaluate_each_strong_run_again_once_it_is_done(tmp_path, monkeypatch):
    """Each Beauty strong-recipe seed has a job that evaluates its run again by the benchmark's rule (a command the
    evaluate CLI parses, changing only eval.cold), started only once that run is done, writing a file of its own."""
    from slmrec.cli.evaluate import parser

    results = _results_module(monkeypatch, tmp_path)
    jobs = {j.name: j for j in results.jobs()}
    for d in results.BENCHMARKED:
        for s in results.SEEDS:
            job = jobs[f"sasrec-strong {d} seed{s} benchmark rule"]
            run = jobs[f"sasrec-strong {d} seed{s}"].out
            assert job.needs() == run and not job.is_run and job.out == results.benchmark_rule_path(d, s)
            assert not job.out.is_relative_to(run)  # never written into the run
            args = parser().parse_args(job.cmd[job.cmd.index(results.EVALUATE) + 1 :])
            assert {k: v for k, v in vars(args).items() if k.startswith("cfg:") and v} == {"cfg:eval.cold": "drop"}
            assert not job.ready()
            run.mkdir(parents=True)
            (run / "metrics.json").write_text("{}")
            assert job.ready()
