"""runs/report.py reads names, counts and depths from the runs' files and the declared tables, keeps copies it can be
regenerated from, and writes nothing into the run tree. The results tree here is written by the test (a fake run:
config.json, result.json files, a dataset's stats.json, a commands.log line), no training."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def report(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(ROOT / "runs"))
    import report as module

    monkeypatch.setattr(module.R, "OUT", tmp_path / "results")
    return module


def _result(scale: float, negatives: int = 99) -> dict:
    metrics = {
        m: scale * (i + 1) / 100
        for i, m in enumerate(["hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10", "mrr", "full_hr@10", "full_ndcg@10"])
    }
    return {
        "test": metrics,
        "valid": metrics,
        "train_seconds_per_epoch": 2.0 * scale,
        "inference_users_per_s": 100.0,
        "params": {"trainable": 10, "total": 20},
        "negatives": negatives,
    }


def _write(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _fake_tree(report, out: Path, teacher_layers: int, student_layers: int) -> Path:
    """A finished LastFM seed 0 (its config from its job's command, with other depths), its dataset's stats and a
    commands.log entry; returns the run dir."""
    job = next(j for j in report.R.jobs() if j.name == "main lastfm seed0")
    cfg = job.config()
    cfg["llm"] |= {"teacher_layers": teacher_layers, "student_layers": student_layers}
    run = job.out
    _write(run / "config.json", cfg)
    _write(run / "metrics.json", {})
    for i, stage in enumerate(report.MODELS):
        _write(run / stage / "result.json", _result(1 + i))
    layers = list(range(1, teacher_layers + 1))
    _write(run / "probe" / "result.json", {"layers": layers, "test": {str(k): _result(k)["test"] for k in layers}})
    _write(out / "data" / "lastfm" / "stats.json", {"users": 1234, "items": 567, "interactions": 8910})
    peer = report.R.peer_dir("ml-100k", "ours_windows", 0)  # a peer run: its curve is read from history.json
    _write(peer / "sasrec" / "result.json", _result(1))
    _write(peer / "metrics.json", {})
    _write(peer / "sasrec" / "history.json", {"evals": [{"step": 1, "seconds": 5.0, "full_ndcg@10": 0.25}]})
    (out / "commands.log").write_text(
        json.dumps({"job": job.name, "cmd": " ".join(job.cmd), "seconds": 60.0, "rc": 0}) + "\n"
    )
    return run


def _snapshot(root: Path) -> dict:
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_report_follows_the_runs_files_and_the_dataset_table(report, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")  # the probe figure
    out = tmp_path / "results"
    _fake_tree(report, out, teacher_layers=6, student_layers=3)
    lastfm = report.R.DATASETS["lastfm"]
    monkeypatch.setitem(report.R.DATASETS, "lastfm", dataclasses.replace(lastfm, title="Renamed FM"))
    before, docs_before, out_before = _snapshot(out), report.DOCS, report.R.OUT
    docs = tmp_path / "docs"
    assert report.main(["--docs", str(docs)]) == 0
    text = (docs / "RESULTS.md").read_text()

    assert "### Renamed FM" in text and "LastFM" not in text.replace("seq/LastFM.txt", "")  # the dataset table's
    assert "(2 of " in text  # the fake runs are done (their metrics.json)
    assert "1,234 users, 567 items, 8,910 interactions" in text  # counts from the dataset's stats.json
    assert "| teacher (6 layers) | 1 |" in text and "| SLMRec student (3 layers, KD) | 1 |" in text  # its config
    assert "Distillation helps the 3-layer student" in text and "teacher = its first 6 layers" in text
    assert "## Ablation of the distillation terms (Renamed FM, seed 0, 3-layer student" in text
    assert "### Renamed FM, seed 0" in text and "| 6 | " in text  # the probe of the 6-layer teacher
    assert "8 layers" not in text.split("## Layer probe")[0].split("### Beauty")[0]  # no preset depth leaks in

    assert _snapshot(out) == before  # nothing written into the run tree (no plot, no curve, no copy)
    assert report.DOCS == docs_before and report.R.OUT == out_before  # no module state changed
    assert (docs / "results" / "probe_lastfm.png").is_file()
    kept = docs / "results" / "cpu"
    assert json.loads((kept / "main/lastfm/seed0/config.json").read_text())["llm"]["teacher_layers"] == 6
    assert json.loads((kept / "data/lastfm/stats.json").read_text())["users"] == 1234
    assert (kept / "commands.log").is_file()
    assert json.loads((kept / "peer/ml-100k/ours_windows/sasrec/valid_curve.json").read_text())[0]["seconds"] == 5
    assert "| MovieLens-100K | slmrec SASRec, windows | 1 | " in text

    # without the live runs, the same report comes from the kept copies alone
    monkeypatch.setattr(report.R, "OUT", tmp_path / "gone")
    (docs / "RESULTS.md").unlink()
    assert report.main(["--docs", str(docs)]) == 0
    assert (docs / "RESULTS.md").read_text() == text


def test_a_run_kept_without_config_reads_its_jobs_config(report, tmp_path):
    out = tmp_path / "results"
    probe = next(j for j in report.R.jobs() if j.name == "probe beauty")
    cfg = probe.config()
    assert cfg["eval"]["users"] == report.R.PROBE_USERS and cfg["run"]["stages"] == "sasrec,teacher,probe"
    assert cfg["sasrec"]["epochs"] == 50 and cfg["llm"] == report.C.preset(report.R.PRESET).to_dict()["llm"]
    src = report.Sources.of(tmp_path / "docs")
    assert src.config(probe.out.relative_to(out)) == cfg and not src.kept_config(probe.out.relative_to(out))
    assert not src.done(probe)
    _write(out / "commands.log", {"job": probe.name, "cmd": "", "seconds": 1.0, "rc": 0})
    assert src.done(probe)  # a recorded success counts when the run's own files are gone


def test_scorecard_judges_each_claim_from_the_claims_runs(report, tmp_path):
    """Three seeds on LastFM with a clear teacher > SASRec gap, a student at 0.99x the teacher (above 0.97x), a
    KD student indistinguishable from the no-KD one, and one stage whose best came at its last step: the verdicts
    and the caveat follow from those numbers alone."""
    job = next(j for j in report.R.jobs() if j.name == "claims lastfm seed0")
    level = {"sasrec": 1.0, "teacher": 2.0, "student": 1.98, "student_nokd": 1.98}
    for seed in report.R.SEEDS:
        run = report.R.claims_dir("lastfm", seed)
        _write(run / "config.json", job.config())
        _write(run / "metrics.json", {})
        for stage, scale in level.items():
            r = _result(scale + 0.01 * seed * (1 if stage != "student" else -1))
            r |= {
                "total_steps": 640,
                "examples_seen": 640 * 64,
                "best_step": 640 if stage == "teacher" else 320,
                "best_in_last_10pct": stage == "teacher" and seed == 1,
                "stopped_early": stage != "teacher",
                "seconds_per_step": 2.0 if stage == "teacher" else 1.0,
                "inference_users_per_s": 200.0 + seed if stage.startswith("student") else 100.0 + seed,
            }
            _write(run / stage / "result.json", r)
    lines = report.claims_section(report.Sources.of(tmp_path / "docs"))
    rows = {line.split(" | ")[0]: line for line in lines if line.startswith("| (") and "| LastFM |" in line}
    assert "| supported; supported |" in rows["| (a) the 8-layer teacher beats SASRec"]
    assert (
        "| supported; supported |" in rows["| (b) the distilled 4-layer student reaches >= 0.97x the teacher's NDCG@10"]
    )
    assert (
        "| inconclusive (within twice the seed spread); inconclusive"
        in rows["| (c) distillation beats the same 4-layer student trained without it"]
    )
    assert "training supported; inference supported" in next(v for k, v in rows.items() if k.startswith("| (d)"))
    assert any("teacher (8 layers) (seed1)" in line and "caveat" in line for line in lines)
    assert any("| 640, 640, 640 | 40,960, 40,960, 40,960 |" in line for line in lines)
    # MovieLens-100K and Beauty have no run: said so, not guessed
    assert any("| MovieLens-100K | not run yet |" in line for line in lines)


@pytest.mark.parametrize("every_scale", [0.5, 3.0])
def test_positions_section_reads_both_teachers_and_judges_from_their_numbers(report, tmp_path, every_scale):
    """LastFM seed 0's claims run (SASRec, last-token teacher) and the positions run's teacher: the table shows each
    run's steps, minutes and metrics, and the sentence's verdict follows which teacher scored higher."""
    claims = report.R.claims_dir("lastfm", 0)
    run = report.R.positions_dir("lastfm", 0)
    job = next(j for j in report.R.jobs() if j.name == "positions lastfm seed0")
    _write(claims / "config.json", next(j for j in report.R.jobs() if j.name == "claims lastfm seed0").config())
    _write(run / "config.json", job.config())
    assert job.config()["llm"]["positions"] == "all"
    for where, stage, scale, steps, seconds in (
        (claims, "sasrec", 1.0, 1387, 600.0),
        (claims, "teacher", 2.0, 640, 2880.0),
        (run, "teacher", every_scale, 240, 540.0),
    ):
        r = _result(scale) | {"total_steps": steps, "examples_seen": steps * 64, "best_step": steps}
        _write(where / stage / "result.json", r | {"train_seconds": seconds})
    lines = report.positions_section(report.Sources.of(tmp_path / "docs"))
    table = [line for line in lines if line.startswith("| teacher")]
    assert "llm.positions last, data.train_mode all_prefixes | 640 | 40,960 | 640 | 48.0 |" in table[0]
    assert "llm.positions all" in table[1] and "| 240 | 15,360 | 240 | 9.0 |" in table[1]
    verdict = lines[-2]
    assert ("does not buy quality" in verdict) == (every_scale < 2.0)
    assert f"test NDCG@10 {every_scale * 0.05:.4f}" in verdict


def test_a_run_is_read_from_one_copy_the_more_complete_one(report, tmp_path):
    """A live run stopped early (config and SASRec only) beside a complete kept copy of the same run: every file of
    that run, its config included, is read from the kept copy; once the live run holds as many stages, from it."""
    rel = report.R.claims_dir("lastfm", 0).relative_to(report.R.OUT)
    live, kept = report.R.OUT / rel, tmp_path / "docs" / "results" / "cpu" / rel
    cfg = next(j for j in report.R.jobs() if j.name == "claims lastfm seed0").config()
    _write(live / "config.json", cfg | {"seed_marker": "live"})
    _write(live / "sasrec" / "result.json", _result(5.0))
    _write(kept / "config.json", cfg | {"seed_marker": "kept"})
    _write(kept / "sasrec" / "result.json", _result(1.0))
    _write(kept / "teacher" / "result.json", _result(2.0))
    _write(live / "sasrec" / "history.json", {"evals": [{"step": 1, "mrr": 0.5}]})
    _write(kept / "sasrec" / "valid_curve.json", [{"step": 1, "mrr": 0.1}])
    src = report.Sources.of(tmp_path / "docs")
    assert src.config(rel)["seed_marker"] == "kept"
    assert src.stage(rel, "sasrec")["test"]["ndcg@10"] == _result(1.0)["test"]["ndcg@10"]
    assert src.stage(rel, "teacher") is not None
    assert src.curve(rel) == [{"step": 1, "mrr": 0.1}]  # the kept run's curve, left as it is
    assert json.loads((kept / "sasrec" / "valid_curve.json").read_text()) == [{"step": 1, "mrr": 0.1}]
    _write(live / "teacher" / "result.json", _result(6.0))  # the live run caught up: it is read, and kept
    assert src.config(rel)["seed_marker"] == "live"
    assert src.stage(rel, "sasrec")["test"]["ndcg@10"] == _result(5.0)["test"]["ndcg@10"]
    assert json.loads((kept / "sasrec" / "result.json").read_text()) == _result(5.0)
    assert src.curve(rel) == [{"step": 1, "mrr": 0.5}]
    assert json.loads((kept / "sasrec" / "valid_curve.json").read_text()) == [{"step": 1, "mrr": 0.5}]


def test_reading_a_stage_keeps_its_runs_config(report, tmp_path):
    """A run's config.json is copied under docs/results/cpu as soon as one of its stages is read, so a run kept
    without its directory still says what it trained with."""
    job = next(j for j in report.R.jobs() if j.name == "sasrec-strong beauty seed0")
    _write(job.out / "config.json", {"sasrec": {"recipe": "strong"}})
    _write(job.out / "sasrec" / "result.json", _result(1))
    src = report.Sources.of(tmp_path / "docs")
    assert src.stage(job.out.relative_to(report.R.OUT), "sasrec")["test"]["hr@10"] == _result(1)["test"]["hr@10"]
    kept = tmp_path / "docs" / "results" / "cpu" / job.out.relative_to(report.R.OUT) / "config.json"
    assert json.loads(kept.read_text()) == {"sasrec": {"recipe": "strong"}}


def test_time_to_plateau_counts_a_moving_average_not_a_spike(report):
    # RecBole: plateau (mean of the last half) 0.06, best 0.07 (one epoch's spike)
    rb = {"curve": [{"valid_ndcg@10": x} for x in (0.02, 0.04, 0.05, 0.07, 0.05)], "best_valid_ndcg@10": 0.07}
    rb["total_seconds"] = 100.0
    spike = [{"seconds": 10.0 * i, "full_ndcg@10": x} for i, x in enumerate((0.03, 0.09, 0.03, 0.03), 1)]
    steady = [{"seconds": 10.0 * i, "full_ndcg@10": x} for i, x in enumerate((0.05, 0.06, 0.07, 0.06), 1)]
    line = report.plateau_sentence(rb, "X", [(0, {}, spike), (1, {}, steady)])
    assert "last 3 epochs, 0.0567" in line and "its best, 0.0700, is one epoch's" in line
    # the spike's moving average (0.05) stays below 0.0567; the steady run's reaches 0.06 at its third evaluation
    assert "per seed: never / 30 s (0.300) (in brackets" in line


def test_scorecard_flags_a_teacher_below_the_student_without_kd(report):
    cfg = {"llm": {"teacher_layers": 8, "student_layers": 4}}

    def values(teacher: float) -> dict:
        v = {"ndcg@10": [teacher, teacher + 0.001], "full_ndcg@10": [0.05, 0.051], "sps": [2.0, 2.0]}
        other = {"ndcg@10": [0.10, 0.101], "full_ndcg@10": [0.05, 0.051], "sps": [1.0, 1.0], "ips": [2.0, 2.0]}
        return {"sasrec": other, "teacher": {**v, "ips": [1.0, 1.0]}, "student": other, "student_nokd": other}

    weak = "\n".join(report.scorecard(values(0.08), cfg, "lastfm", []))
    assert "| caveat | LastFM | the teacher is below the student without KD (test NDCG@10 0.0805 vs 0.1005)" in weak
    assert "the teacher is below" not in "\n".join(report.scorecard(values(0.12), cfg, "lastfm", []))


def test_durations_count_a_runs_own_time_when_an_attempt_left_no_record(report, tmp_path):
    """A job killed outright leaves no commands.log record; its stages' own wall seconds (the last validation of
    each stage it trained) still say what it cost, and the job-hours count the larger of the two."""
    out = tmp_path / "results"
    job = next(j for j in report.R.jobs() if j.name == "claims ml-100k seed2")
    _write(job.out / "config.json", job.config() | {"run": job.config()["run"] | {"stages": "sasrec,teacher"}})
    _write(job.out / "sasrec" / "history.json", {"evals": [{"seconds": 60.0}, {"seconds": 600.0}]})
    _write(job.out / "teacher" / "history.json", {"evals": [{"seconds": 3000.0}]})
    _write(job.out / "student" / "history.json", {"evals": [{"seconds": 9999.0}]})  # not in run.stages: reused
    _write(out / "commands.log", {"job": job.name, "cmd": "", "seconds": 300.0, "rc": 143, "finished": 1.0})
    src = report.Sources.of(tmp_path / "docs")
    assert report.own_minutes(src, job) == pytest.approx(60.0)  # (600 + 3000) s
    text = "\n".join(report.commands_section(src))
    assert "- claims ml-100k seed2: commands.log 5.0 min, its stages 60.0 min" in text
    assert "in commands.log: 0.08 job-hours" in text and ": 1.00 for the jobs of the default run" in text


def test_the_benchmarks_cold_rule_reads_its_count_from_the_data(report, tmp_path):
    """The count of cold test users comes from the prepared dataset's kept count, never typed in; the sentence
    says whether our runs dropped them too."""
    src = report.Sources.of(tmp_path / "docs")
    assert "it drops the test users whose" in report.cold_sentence(src, {})  # no count anywhere: no number
    _write(src.keep / "data" / "beauty" / "cold_targets.json", {"valid": 5, "test": 7, "users": 700})
    keep = report.cold_sentence(src, {"eval": {"cold": "keep"}})
    assert "it drops the 7 test users" in keep and "we keep them (`--eval.cold drop` leaves them out)" in keep
    assert "we drop them too (`--eval.cold drop`)" in report.cold_sentence(src, {"eval": {"cold": "drop"}})


def test_an_explore_row_is_named_the_recipe_before_a_change_only_by_its_exact_keys(report):
    """A run that differs from today's strong recipe by exactly what a change replaced (and every later change) is
    that earlier recipe; one key more or less is an explore run of its own."""
    (latest, replaced), (oldest, _) = report.RECIPE_CHANGES[0], report.RECIPE_CHANGES[-1]
    assert report.earlier_recipe(dict(replaced)) == latest
    every = report.earlier_recipes()[oldest]
    assert report.earlier_recipe(dict(every)) == oldest and set(replaced) <= set(every)
    assert report.earlier_recipe({}) is None
    assert report.earlier_recipe({**replaced, "sasrec.dropout": 0.5}) is None
    if len(replaced) > 1:
        assert report.earlier_recipe(dict(list(replaced.items())[1:])) is None
    # the replaced values are not today's: each change changed something
    today = report.C.keys(report.C.override(report.C.preset(report.R.PRESET), {"sasrec.recipe": "strong"}))
    assert all(today[k] != v for _, before in report.RECIPE_CHANGES for k, v in before.items())


def test_the_sasrec_section_sets_recbole_and_our_other_sasrecs_beside_the_recipe(report, tmp_path):
    """The strong-recipe table's other rows come from the runs' files: RecBole's record, the main tables' SASRec and
    the claims runs' (epochs from their steps where recorded, "-" where a record lacks them); none without runs."""
    out, src = tmp_path / "results", report.Sources.of(tmp_path / "docs")
    assert report._sasrec_rows(src, "ml-100k") == []
    _write(
        out / "peer/ml-100k/recbole.json",
        {"epochs_run": 7, "test": {"hr@10": 0.11, "ndcg@10": 0.05}, "best_valid_ndcg@10": 0.06, "total_seconds": 120.0},
    )
    for s in report.R.SEEDS:
        _write(out / f"main/ml-100k/seed{s}/sasrec/result.json", _result(1))  # an older record: no steps
        claims = _result(2) | {"total_steps": 100 + s, "best_step": 50, "steps_per_epoch": 10, "stopped_early": True}
        _write(report.R.claims_dir("ml-100k", s) / "sasrec/result.json", claims)
    recbole, main, claims = report._sasrec_rows(src, "ml-100k")
    assert "RecBole 1.2.1 SASRec" in recbole and "| 1 | 7 | - | 0.1100 | 0.0500 | 0.0600 | 2.0 |" in recbole
    assert "reference-code SASRec" in main and "| 3 | - | - | 0.0700 ± 0.0000 | 0.0800 ± 0.0000 | - | - |" in main
    assert (
        "claims runs' SASRec" in claims
        and "| 3 | 10 (5) / 10 (5) / 10 (5) | yes / yes / yes | 0.1400 ± 0.0000 |" in claims
    )


def test_the_strong_recipes_minutes_name_each_seeds_threads_and_machine(report, tmp_path):
    """The 20-minute target's sentence pairs each seed's own run with its own commands.log entry: a seed that has a
    run but no entry says so, and the others keep their own threads and machine."""
    out, src = tmp_path / "results", report.Sources.of(tmp_path / "docs")
    run_result = _result(1) | {"total_steps": 40, "best_step": 30, "steps_per_epoch": 1, "stopped_early": False}
    log = []
    for seed, minutes in ((0, 17.0), (2, 85.0)):  # seed 1 never ran; seed 2 has no commands.log entry
        run = out / "sasrec_strong" / "beauty" / f"seed{seed}"
        _write(run / "sasrec" / "result.json", run_result)
        _write(
            run / "sasrec" / "history.json", {"evals": [{"step": 40, "seconds": 60 * minutes, "full_ndcg@10": 0.07}]}
        )
    log.append({"job": "sasrec-strong beauty seed0", "cmd": "x", "seconds": 1020, "rc": 0, "finished": 5000.0})
    log[-1] |= {"threads": "all", "machine": "CPU A, 2 CPUs"}
    (out / "commands.log").write_text("".join(json.dumps(e) + "\n" for e in log))
    text = "\n".join(report.sasrec_section(src))
    assert "seed 0: 17.0 (torch threads all, CPU A, 2 CPUs); seed 2: 85.0 (not in commands.log), against 20" in text
    assert "1 of 2 within it" in text


def test_the_published_comparison_counts_by_the_benchmarks_rule_once_it_was_evaluated(report, tmp_path):
    """Against the published numbers, the verdict reads the selected weights evaluated again by the benchmark's
    rule (cold test users left out) when every seed has that file; before, it reads every user and gives the
    bound; the row of the rule sits in the table beside the recipe's own."""
    out, src = tmp_path / "results", report.Sources.of(tmp_path / "docs")
    _, _, hr, ndcg, _ = report.PUBLISHED_SASREC[0]
    below = {"full_hr@10": hr - 0.0002, "full_ndcg@10": ndcg + 0.002, "full_users": 700}
    for seed in report.R.SEEDS:
        run = report.R.strong_dir("beauty", seed)
        _write(run / "sasrec" / "result.json", _result(1) | {"test": below, "valid": below})
        _write(run / "sasrec" / "history.json", {"evals": [{"step": 4, "seconds": 60.0, "full_ndcg@10": 0.07}]})
    _write(src.keep / "data" / "beauty" / "cold_targets.json", {"valid": 5, "test": 7, "users": 700})
    text = "\n".join(report.sasrec_section(src))
    assert f"HR@10 {hr - 0.0002:.4f} / NDCG@10 {ndcg + 0.002:.4f}" in text and ": not met (over the warm" in text
    assert "benchmark's rule (cold test users left out)" not in text
    warm = {"full_hr@10": hr + 0.0001, "full_ndcg@10": ndcg + 0.002, "full_users": 693}
    for seed in report.R.SEEDS[:-1]:  # one seed short: still every user
        _write(report.R.benchmark_rule_path("beauty", seed), {"metrics": warm})
    assert ": not met (over the warm" in "\n".join(report.sasrec_section(src))
    _write(report.R.benchmark_rule_path("beauty", report.R.SEEDS[-1]), {"metrics": warm})
    text = "\n".join(report.sasrec_section(src))
    assert "| Beauty | strong recipe, the benchmark's rule (cold test users left out) | 3 | - | - |" in text
    assert f"693 users left): mean of 3 seed(s) HR@10 {hr + 0.0001:.4f}" in text
    assert f"{hr:.4f} / {ndcg:.4f}: met. Over every user" in text and "over the warm" not in text
    assert "leave them out when the selected weights are evaluated again" in text
    assert not list(out.glob("sasrec_strong/beauty/seed*/*.json"))  # nothing written into the runs
