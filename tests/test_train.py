"""`slmrec-train` end to end on the tiny preset (CPU), resume after a crash, and every bad input exits 2."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from slmrec.cli.train import main  # noqa: E402
from train_helpers import QUIET, crashing_run, fails, tiny_args  # noqa: E402

STAGES = ("sasrec", "teacher", "student", "student_nokd")
KEYS = ("hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10", "mrr")
from slmrec.train import TIMING_KEYS as TIMING  # noqa: E402


def _without_timing(metrics: dict) -> dict:
    return {s: {k: v for k, v in r.items() if k not in TIMING} for s, r in metrics.items()}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    assert main(tiny_args(out, "--run.save_every", "2")) == 0
    return out


def test_tiny_run_writes_everything(tiny_run):
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert set(metrics) == set(STAGES)
    for stage in STAGES:
        for split in ("valid", "test"):
            m = metrics[stage][split]
            for k in KEYS:
                assert 0.0 <= m[k] <= 1.0 and 0.0 <= m["full_" + k] <= 1.0
            assert m["users"] > 0 and 0.0 <= m["tie_rate"] <= 1.0
        assert metrics[stage]["params"]["trainable"] > 0
        assert metrics[stage]["inference_users_per_s"] > 0 and metrics[stage]["train_seconds_per_epoch"] > 0
    # the models learn: SASRec and the teacher beat a random ranking (hr@10 = 10/50 over 1 + 49 candidates)
    assert metrics["sasrec"]["test"]["hr@10"] > 0.25 and metrics["teacher"]["test"]["hr@10"] > 0.25
    # the student is shallower: fewer parameters
    assert metrics["student"]["params"]["total"] < metrics["teacher"]["params"]["total"]
    losses = json.loads((tiny_run / "student" / "history.json").read_text())["losses"]
    assert all(x["cos"] > 0 and x["norm"] > 0 and x["ms"] > 0 for x in losses)  # KD actually runs
    saved = json.loads((tiny_run / "config.json").read_text())
    assert saved["llm"]["teacher_layers"] == 4 and saved["distill"]["blocks"] == 2
    for f in ("results.md", "curves.png", "probe.png", "probe/result.json", "teacher/best.safetensors"):
        assert (tiny_run / f).is_file(), f
    assert "| SLMRec student" in (tiny_run / "results.md").read_text()
    assert not list(tiny_run.rglob("*.tmp"))
    probe = json.loads((tiny_run / "probe" / "result.json").read_text())
    assert probe["layers"] == [1, 2, 3, 4]
    assert probe["test"]["4"]["mrr"] == pytest.approx(metrics["teacher"]["test"]["mrr"])


@pytest.mark.slow
def test_resume_after_a_crash_is_bit_exact(tiny_run, tmp_path):
    out = tmp_path / "crashed"
    crashed = crashing_run(*tiny_args(out, "--run.save_every", "2"), env={"SLMREC_CRASH_AFTER": "teacher:3"})
    assert crashed.returncode == 137, crashed.stderr[-2000:]
    assert (out / "sasrec" / "result.json").is_file() and not (out / "teacher" / "result.json").exists()
    state = json.loads((out / "teacher" / "checkpoint" / "trainer_state.json").read_text())
    assert state["global_step"] == 2  # the crash lost step 3; resume redoes it
    assert main(["--out", str(out), "--resume", *QUIET]) == 0
    expected = json.loads((tiny_run / "metrics.json").read_text())
    got = json.loads((out / "metrics.json").read_text())
    assert _without_timing(got) == _without_timing(expected)


def test_bad_inputs_exit_2_and_leave_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    base = ["--preset", "tiny", "--out", str(out)]
    assert "huge" in fails(capsys, "--preset", "huge", "--out", str(out))
    assert "teacher.lrr" in fails(capsys, *base, "teacher.lrr=1")
    assert "--teacher.lrr" in fails(capsys, *base, "--teacher.lrr", "1")
    assert "divide by distill.blocks" in fails(capsys, *base, "--llm.teacher_layers", "3")
    assert "no such file" in fails(capsys, *base, "--backbone", str(tmp_path / "nope"))
    (tmp_path / "enc").mkdir()
    (tmp_path / "enc" / "config.json").write_text('{"model_type": "t5", "is_encoder_decoder": true}')
    assert "not a supported decoder" in fails(capsys, *base, "--backbone", str(tmp_path / "enc"))
    (tmp_path / "badset").mkdir()
    (tmp_path / "badset" / "stats.json").write_text("{}")
    fails(capsys, *base, "--data", str(tmp_path / "badset"))
    assert "--resume" in fails(capsys, "--out", str(out), "--resume")
    assert not out.exists()


def test_corrupt_checkpoint_on_resume(tiny_run, tmp_path, capsys):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(tiny_run, out)
    shutil.rmtree(out / "student_nokd")  # unfinished stage ...
    shutil.copytree(tiny_run / "student_nokd" / "checkpoint", out / "student_nokd" / "checkpoint")
    model = out / "student_nokd" / "checkpoint" / "model.safetensors"
    model.write_bytes(model.read_bytes()[:100])  # ... with a truncated checkpoint
    err = fails(capsys, "--out", str(out), "--resume", *QUIET)
    assert "corrupt" in err and "student_nokd" in err
    assert out.exists()  # a resumed run is never deleted


def test_existing_run_dir_is_not_overwritten(tiny_run, capsys):
    assert "exists" in fails(capsys, "--preset", "tiny", "--out", str(tiny_run))


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    """DDP on CPU (gloo): same global batches, so without dropout the metrics match a 1-process run."""

    def args(out):
        return tiny_args(out, "--stages", "sasrec,teacher", "--sasrec.dropout", "0", "--llm.lora_dropout", "0")

    one = crashing_run(*args(tmp_path / "one"))
    assert one.returncode == 0, one.stderr[-2000:]
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    two = subprocess.run(
        [*launch, "-m", "slmrec.cli.train", *args(tmp_path / "two")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert two.returncode == 0, two.stderr[-2000:]
    a = json.loads((tmp_path / "one" / "metrics.json").read_text())
    b = json.loads((tmp_path / "two" / "metrics.json").read_text())
    for stage in ("sasrec", "teacher"):
        for split in ("valid", "test"):
            assert a[stage][split]["users"] == b[stage][split]["users"]  # no user dropped or counted twice
            for k in KEYS:
                assert abs(a[stage][split][k] - b[stage][split][k]) <= 0.01, (stage, split, k)


@pytest.mark.gpu
def test_tiny_run_on_gpu_in_bf16(tmp_path):
    torch = pytest.importorskip("torch")
    if not (torch.cuda.is_available() and torch.cuda.is_bf16_supported()):
        pytest.skip("needs a CUDA GPU with bf16")
    out = tmp_path / "gpu"
    assert main(tiny_args(out, "--run.mixed_precision", "bf16", "--stages", "sasrec,teacher,student")) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["teacher"]["test"]["hr@10"] > 0.2 and metrics["student"]["test"]["unscorable"] == 0


def test_reuse_copies_finished_stages_for_an_ablation(tiny_run, tmp_path, capsys):
    data = tiny_run / "data"
    base, abl = tmp_path / "base", tmp_path / "ablation"
    assert main(tiny_args(base, "--stages", "sasrec,teacher", data=data)) == 0
    reuse = ["--stages", "student", "--reuse", str(base)]
    assert main(tiny_args(abl, *reuse, "--distill.lambda_cos", "0", data=data)) == 0
    for stage in ("sasrec", "teacher"):  # copied, not retrained
        assert (abl / stage / "result.json").read_bytes() == (base / stage / "result.json").read_bytes()
        assert not (abl / stage / "checkpoint").exists()
    losses = json.loads((abl / "student" / "history.json").read_text())["losses"]
    assert all(x["cos"] > 0 for x in losses)  # the term is computed (and logged) but weighted 0
    assert json.loads((abl / "config.json").read_text())["distill"]["lambda_cos"] == 0
    # a teacher trained differently is not reused, and nothing is left behind
    bad = tmp_path / "bad"
    assert main(tiny_args(bad, *reuse, "--teacher.lr", "0.5", data=data)) == 2
    assert "teacher stage differs in teacher.lr" in capsys.readouterr().err and not bad.exists()


def test_full_ranking_selection_and_time_to_quality(tiny_run, tmp_path):
    out = tmp_path / "full"
    options = ["--stages", "sasrec", "--eval.select", "full_ndcg@10", "--sasrec.eval_every", "3"]
    assert main(tiny_args(out, *options, data=tiny_run / "data")) == 0
    evals = json.loads((out / "sasrec" / "history.json").read_text())["evals"]
    seconds = [e["seconds"] for e in evals]
    assert len(evals) >= 3 and all(b > a > 0 for a, b in zip(seconds, seconds[1:]))
    best = max(evals, key=lambda e: e["full_ndcg@10"])  # selection used the full-ranking metric
    assert json.loads((out / "sasrec" / "result.json").read_text())["best_step"] == best["step"]


def test_random_init_keeps_the_architecture_and_drops_the_weights():
    import torch

    from slmrec import backbone as backbones
    from slmrec.config import LLMConfig

    spec = backbones.resolve("random")
    cfg = LLMConfig(backbone="random", teacher_layers=4, random_layers=4)
    pre, _ = backbones.load(spec, 4, cfg, max_layers=4, seed=0)
    rand, _ = backbones.load(spec, 4, LLMConfig(**{**cfg.__dict__, "init": "random"}), max_layers=4, seed=0)
    again, _ = backbones.load(spec, 2, LLMConfig(**{**cfg.__dict__, "init": "random"}), max_layers=4, seed=0)
    a, b, c = pre.state_dict(), rand.state_dict(), again.state_dict()
    assert a.keys() == b.keys()
    assert not torch.equal(a["layers.0.mlp.up_proj.weight"], b["layers.0.mlp.up_proj.weight"])
    assert torch.equal(b["layers.0.mlp.up_proj.weight"], c["layers.0.mlp.up_proj.weight"])  # student = teacher prefix
    assert torch.equal(b["norm.weight"], torch.ones_like(b["norm.weight"]))
    std = b["layers.1.self_attn.q_proj.weight"].std().item()
    assert abs(std - pre.config.initializer_range) < 0.005


def test_full_ranking_without_exclusions_as_recbole(tiny_run, tmp_path):
    """--eval.full_exclude none (RecBole's rule) scores the same model; the user's own items then compete."""
    data = tiny_run / "data"
    assert main(tiny_args(tmp_path / "history", "--stages", "sasrec", data=data)) == 0
    assert main(tiny_args(tmp_path / "none", "--stages", "sasrec", "--eval.full_exclude", "none", data=data)) == 0
    a = json.loads((tmp_path / "history" / "sasrec" / "result.json").read_text())["test"]
    b = json.loads((tmp_path / "none" / "sasrec" / "result.json").read_text())["test"]
    assert all(a[k] == b[k] for k in KEYS)  # sampled metrics: same model, same candidates
    assert b["full_hr@10"] <= a["full_hr@10"] and b["full_mrr"] < a["full_mrr"]


def test_all_position_sasrec_trains_on_every_window(tiny_run, tmp_path):
    """--sasrec.positions all: CE at every position of windows tiling each train part (SASRec's own training)."""
    import numpy as np

    import slmrec
    from slmrec.sampling import SequenceBatches

    out = tmp_path / "all"
    options = ["--stages", "sasrec", "--sasrec.positions", "all", "--sasrec.epochs", "6", "--sasrec.batch_size", "64"]
    assert main(tiny_args(out, *options, "--sasrec.stride", "4", data=tiny_run / "data")) == 0
    cfg = json.loads((out / "config.json").read_text())
    ds = slmrec.load(tiny_run / "data")
    windows = SequenceBatches(
        ds.offsets, ds.items, ds.num_items, max_len=cfg["data"]["max_len"], num_negatives=0, windows=4
    ).num_examples
    assert windows == sum(-(-(n - 3) // 4) for n in np.diff(ds.offsets) if n > 3)  # every target once
    losses = [x["loss"] for x in json.loads((out / "sasrec" / "history.json").read_text())["losses"]]
    per_epoch = -(-windows // 64)
    assert len(losses) == 6 * per_epoch
    assert np.mean(losses[-per_epoch:]) < np.mean(losses[:per_epoch]) - 0.1  # it learns
    test = json.loads((out / "sasrec" / "result.json").read_text())["test"]
    assert test["hr@10"] > 1.5 * 10 / (1 + cfg["eval"]["negatives"])  # above chance (0.37 vs 0.20 here)


def test_the_strong_sasrec_recipe_runs_through_the_cli(tiny_run, tmp_path):
    """--sasrec.recipe strong end to end on tiny data, as shipped: the full softmax over every item."""
    out = tmp_path / "strong"
    options = ["--stages", "sasrec", "--sasrec.recipe", "strong", "--sasrec.epochs", "3"]
    assert main(tiny_args(out, *options, data=tiny_run / "data")) == 0
    s = json.loads((out / "config.json").read_text())["sasrec"]
    assert (s["recipe"], s["item_dropout"], s["positions"], s["negatives"]) == ("strong", 0.2, "all", 0)
    r = json.loads((out / "sasrec" / "result.json").read_text())
    assert r["total_steps"] == 3 * r["steps_per_epoch"] and 0 < r["best_step"] <= r["total_steps"]
    assert all(math.isfinite(x["loss"]) for x in json.loads((out / "sasrec" / "history.json").read_text())["losses"])


def test_evaluation_on_a_fixed_sample_of_users(tiny_run, tmp_path):
    """--eval.users N: the same N users in every split, each with exactly its rows of the full evaluation."""
    import torch

    import slmrec
    from slmrec.evaluate import build_eval_set

    ds = slmrec.load(tiny_run / "data")
    sets = {
        (split, n): build_eval_set(ds, split, max_len=8, negatives=20, seed=3, sample=n)
        for split in ("valid", "test")
        for n in (0, 25, 10**6)
    }
    full = sets["valid", 0]
    assert len(full.users) > 25 and torch.equal(sets["valid", 10**6].users, full.users)
    for split in ("valid", "test"):
        part, whole = sets[split, 25], sets[split, 0]
        assert len(part.users) == 25 and torch.equal(part.users, sets["valid", 25].users)
        rows = torch.searchsorted(whole.users, part.users)
        assert torch.equal(whole.users[rows], part.users)
        assert torch.equal(whole.history[rows], part.history) and torch.equal(whole.candidates[rows], part.candidates)
        width = part.exclude.shape[1]  # padded to the longest history kept
        assert torch.equal(whole.exclude[rows, :width], part.exclude) and not whole.exclude[rows, width:].any()
    other = build_eval_set(ds, "valid", max_len=8, negatives=20, seed=4, sample=25)
    assert not torch.equal(other.users, sets["valid", 25].users)  # the seed picks the users

    out = tmp_path / "sample"
    assert main(tiny_args(out, "--stages", "sasrec", "--eval.users", "25", data=tiny_run / "data")) == 0
    test = json.loads((out / "sasrec" / "result.json").read_text())["test"]
    assert test["users"] == 25
    assert main(["--preset", "tiny", "--out", str(tmp_path / "bad"), "--eval.users", "-1"]) == 2


def test_the_loss_options_run_through_the_cli(tmp_path):
    """llm.head_init zero, distill.ms_norm, distill.center and distill.logit_kd, end to end on the tiny preset."""
    import math

    out = tmp_path / "options"
    options = ["--stages", "sasrec,teacher,student", "--sasrec.epochs", "2", "--llm.head_init", "zero"]
    losses = ["--distill.ms_norm", "true", "--distill.center", "true", "--distill.logit_kd", "0.5"]
    assert main(tiny_args(out, *options, *losses)) == 0
    items = json.loads((out / "data" / "stats.json").read_text())["items"]
    teacher = json.loads((out / "teacher" / "history.json").read_text())["losses"]
    assert teacher[0]["ce"] == pytest.approx(math.log(items), rel=1e-4)  # zero heads: uniform scores at step 1
    student = json.loads((out / "student" / "history.json").read_text())["losses"]
    assert all(x["logit_kd"] >= 0 and math.isfinite(x["cos"]) for x in student)
    assert student[0]["ms"] == pytest.approx(math.log(items), rel=1e-4)  # one zero-init head on the tiny preset


def test_the_teacher_cache_gives_the_online_loss_and_gradients(tiny_run):
    """Cached teacher states = the teacher's forward pass (up to float rounding), loss and gradients alike."""
    import torch

    import slmrec
    from slmrec import config as configs
    from slmrec.distill import block_pairs, slmrec_loss
    from slmrec.teacher_cache import TeacherCache
    from slmrec.train import Pipeline, _batches

    cfg = configs.load(tiny_run / "config.json")
    pipe = Pipeline(cfg, slmrec.load(tiny_run / "data"), tiny_run)
    teacher = pipe.teacher(frozen=True)
    pairs = block_pairs(cfg.llm.teacher_layers, cfg.llm.student_layers, cfg.distill.blocks)
    every = _batches(cfg, pipe.dataset, cfg.student, pipe.acc, every=True)
    cache = TeacherCache(teacher, every, [t for _, t in pairs], pipe.acc.device, pipe.acc.autocast)
    assert len(cache) == len({r.tobytes() for b in every.epoch(0) for r in b["input_ids"]})
    student = pipe.llmrec(cfg.llm.student_layers, blocks=cfg.distill.blocks).eval()
    train_batches = _batches(cfg, pipe.dataset, cfg.student, pipe.acc)  # shuffled: another order than the cache's
    batch = {k: torch.as_tensor(v) for k, v in next(iter(train_batches.epoch(1))).items()}
    grads = []
    for t in (teacher, cache):
        student.zero_grad()
        loss, parts = slmrec_loss(student, batch, student.item_emb, t, pairs, 1.0, 0.1, 1.0, False, 0.5)
        loss.backward()
        grads.append((loss.detach(), [p.grad.clone() for p in student.parameters() if p.requires_grad]))
    assert torch.allclose(grads[0][0], grads[1][0], rtol=1e-5, atol=1e-5)
    assert all(torch.allclose(a, b, rtol=1e-4, atol=1e-6) for a, b in zip(grads[0][1], grads[1][1]))
    with pytest.raises(RuntimeError, match="not cached"):
        cache(torch.full((1, cfg.data.max_len), 10**6, dtype=torch.long))


@pytest.mark.slow
@pytest.mark.parametrize("where", ["memory", "disk"])
def test_a_cached_distillation_resumes_bit_exact(tmp_path, monkeypatch, capsys, where):
    """Killed in the student stage and resumed: the same metrics as an uninterrupted run. In memory the cache is
    rebuilt on resume; on disk (in-memory bound 0) the resume reads the file the killed run wrote, and the finished
    stage removes it."""
    from slmrec import teacher_cache

    options = ["--run.save_every", "2", "--stages", "sasrec,teacher,student", "--distill.cache", "true"]
    whole = tmp_path / "whole"
    assert main(tiny_args(whole, *options)) == 0  # in memory: on disk must give the same bits
    if where == "disk":
        monkeypatch.setattr(teacher_cache, "MEMORY_BYTES", 0)
    out = tmp_path / "crashed"
    env = {"SLMREC_CRASH_AFTER": "student:3", "SLMREC_TEACHER_CACHE_MEMORY_BYTES": "0" if where == "disk" else ""}
    crashed = crashing_run(*tiny_args(out, *options), env=env)
    assert crashed.returncode == 137, crashed.stderr[-2000:]
    assert (out / "student" / teacher_cache.DIR / teacher_cache.FILE).is_file() == (where == "disk")
    capsys.readouterr()
    assert main(["--out", str(out), "--resume", *QUIET]) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("teacher cache:")]
    assert len(printed) == (where == "disk") and all(line.startswith("teacher cache: read") for line in printed)
    assert not (out / "student" / teacher_cache.DIR).exists()
    got, expected = (json.loads((d / "metrics.json").read_text()) for d in (out, whole))
    assert _without_timing(got) == _without_timing(expected)


def test_llm_positions_all_runs_every_stage_through_the_cli(tmp_path):
    """--llm.positions all (an extension beyond the paper): the LLM stages train on every position of max_len
    windows (each target once per epoch), the cached KD student too, and every stage finishes."""
    import numpy as np

    import slmrec
    from slmrec.sampling import SequenceBatches

    out = tmp_path / "all"
    epochs = ["--sasrec.epochs", "1", "--teacher.epochs", "1", "--student.epochs", "1"]
    assert main(tiny_args(out, "--llm.positions", "all", *epochs, "--distill.cache", "true")) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == set(STAGES) and (out / "probe" / "result.json").is_file()
    cfg = json.loads((out / "config.json").read_text())
    ds = slmrec.load(out / "data")
    windows = SequenceBatches(
        ds.offsets,
        ds.items,
        ds.num_items,
        max_len=cfg["data"]["max_len"],
        num_negatives=0,
        windows=cfg["data"]["max_len"],
    ).num_examples
    assert windows == sum(-(-(n - 3) // cfg["data"]["max_len"]) for n in np.diff(ds.offsets) if n > 3)
    for stage in ("teacher", "student", "student_nokd"):
        result = json.loads((out / stage / "result.json").read_text())
        batch_size = cfg["teacher" if stage == "teacher" else "student"]["batch_size"]
        assert result["steps_per_epoch"] == -(-windows // batch_size)  # every window once per epoch
        assert result["positions_per_example"] == cfg["data"]["max_len"]  # no prompt suffix
        assert result["test"]["unscorable"] == 0
    losses = json.loads((out / "student" / "history.json").read_text())["losses"]
    assert all(x["cos"] > 0 and x["norm"] > 0 and x["ms"] > 0 and np.isfinite(x["loss"]) for x in losses)
    assert main(["--preset", "tiny", "--out", str(tmp_path / "bad"), "--llm.positions", "every"]) == 2


def test_the_speed_and_sampling_options_of_sasrec_run_through_the_cli(tiny_run, tmp_path, capsys):
    """--sasrec.attention sdpa and --sasrec.negatives_from any, then --sasrec.softmax_exclude history, end to end on
    tiny data; negatives_from any without sampled negatives, or softmax_exclude with them, is a usage error."""
    out = tmp_path / "options"
    options = ["--stages", "sasrec", "--sasrec.recipe", "strong", "--sasrec.epochs", "2", "--sasrec.negatives", "8"]
    options += ["--sasrec.attention", "sdpa", "--sasrec.negatives_from", "any"]
    assert main(tiny_args(out, *options, data=tiny_run / "data")) == 0
    s = json.loads((out / "config.json").read_text())["sasrec"]
    assert (s["attention"], s["negatives_from"], s["negatives"]) == ("sdpa", "any", 8)
    losses = json.loads((out / "sasrec" / "history.json").read_text())["losses"]
    assert losses and all(math.isfinite(x["loss"]) for x in losses)
    assert main(tiny_args(tmp_path / "bad", "--stages", "sasrec", "--sasrec.negatives_from", "any")) == 2
    assert "sasrec.negatives_from any needs sasrec.negatives > 0" in capsys.readouterr().err
    out = tmp_path / "exclude"
    options = ["--stages", "sasrec", "--sasrec.recipe", "strong", "--sasrec.epochs", "2"]
    assert main(tiny_args(out, *options, "--sasrec.softmax_exclude", "history", data=tiny_run / "data")) == 0
    assert json.loads((out / "config.json").read_text())["sasrec"]["softmax_exclude"] == "history"
    losses = json.loads((out / "sasrec" / "history.json").read_text())["losses"]
    assert losses and all(math.isfinite(x["loss"]) for x in losses)
    bad = [*options, "--sasrec.softmax_exclude", "window", "--sasrec.negatives", "8"]
    assert main(tiny_args(tmp_path / "bad2", *bad, data=tiny_run / "data")) == 2
    assert "sasrec.softmax_exclude needs the full softmax" in capsys.readouterr().err
    # the core's sampled negatives: result.json says what they avoid (the train part; drawn by the loss: absent)
    assert main(tiny_args(tmp_path / "unseen", *options, "--sasrec.negatives", "8", data=tiny_run / "data")) == 0
    saved = json.loads((tmp_path / "unseen" / "sasrec" / "result.json").read_text())
    assert saved["sampled_negatives_avoid"] == "the user's train part"
    assert "sampled_negatives_avoid" not in json.loads((out / "sasrec" / "result.json").read_text())
