"""Top-k recommendations, the portable export and their command lines, on one tiny run (CPU)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import polars as pl  # noqa: E402
import torch  # noqa: E402

import slmrec  # noqa: E402
from slmrec.errors import CheckpointError  # noqa: E402
from slmrec.recommend import Recommender, UnknownIdError, top_k  # noqa: E402

MODELS = ("sasrec", "teacher", "student", "student_nokd")


@pytest.fixture(scope="session")
def run(tmp_path_factory):
    """One tiny run with every model stage (no probe), built once per test session."""
    from slmrec.cli.train import main

    out = tmp_path_factory.mktemp("rec") / "tiny"
    assert main(["--preset", "tiny", "--out", str(out), "--run.progress", "false", "--stages", ",".join(MODELS)]) == 0
    return out


@pytest.fixture(scope="session")
def student(run):
    return Recommender.from_run(run, model="student")


@pytest.fixture(scope="session")
def dataset(run):
    return slmrec.load(run / "data")


def _raw(ds, rows, cut=0):
    """Raw item histories of CSR rows, without their last ``cut`` items."""
    items = ds.item_table()["item"].to_list()
    return [[items[i - 1] for i in ds.sequence(r)[: len(ds.sequence(r)) - cut]] for r in rows]


def test_top_k_orders_ties_by_item_id_for_any_batch():
    s = torch.tensor([[0.0, 1.0, 1.0, 1.0, 0.5], [2.0, 2.0, 3.0, 2.0, float("-inf")]])
    v, i = top_k(s, 2)
    assert i.tolist() == [[1, 2], [2, 0]] and v.tolist() == [[1.0, 1.0], [3.0, 2.0]]
    gen = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 6, (200, 50), generator=gen).float()  # many ties, many crossing the cut
    want = [sorted(range(50), key=lambda j: (-row[j], j))[:7] for row in scores.tolist()]
    assert top_k(scores, 7)[1].tolist() == want
    assert torch.cat([top_k(scores[a : a + 13], 7)[1] for a in range(0, 200, 13)]).tolist() == want


def test_top_k_shape_order_and_history_excluded(student, dataset):
    top = student.recommend(k=5)
    assert top.columns[:4] == ["user", "rank", "item", "score"]
    assert len(top) == 5 * dataset.num_users
    assert top["user"].unique(maintain_order=True).to_list() == dataset.user_table()["user"].to_list()
    assert top["rank"].to_list() == [1, 2, 3, 4, 5] * dataset.num_users
    for _, g in top.group_by("user"):
        assert (np.diff(g["score"].to_numpy()) <= 0).all()
    seen = dict(zip(dataset.user_table()["user"].to_list(), _raw(dataset, range(dataset.num_users))))
    assert not any(item in seen[u] for u, item in zip(top["user"], top["item"]))
    kept = student.recommend(k=5, exclude_seen=False)
    assert any(item in seen[u] for u, item in zip(kept["user"], kept["item"]))  # the model likes what was seen
    everything = student.recommend(users=[top["user"][0]], k=10_000)  # k above the catalogue: every unseen item
    assert len(everything) == dataset.num_items - len(seen[top["user"][0]])


def test_raw_ids_round_trip_and_a_user_equals_its_history(student, dataset):
    users = dataset.user_table()["user"].to_list()
    asked = [users[7], users[2], users[7]]
    top = student.recommend(users=asked, k=3)
    assert top["user"].to_list() == [u for u in asked for _ in range(3)]
    assert set(top["item"]) <= set(dataset.item_table()["item"])
    one = student.recommend(users=[users[7]], k=3)
    same = student.recommend_histories(_raw(dataset, [7]), k=3)  # the whole sequence, the same batch: bit-exact
    assert same["item"].to_list() == one["item"].to_list() == top["item"].to_list()[:3]
    assert same["score"].to_list() == one["score"].to_list()
    assert same["history"].to_list() == [0, 0, 0]


def test_new_user_histories_exclude_what_they_name(student, dataset):
    items = dataset.item_table()["item"].to_list()
    histories = [items[:3], [items[10]], items[5:40]]
    top = student.recommend_histories(histories, k=4)
    assert top["history"].to_list() == [0] * 4 + [1] * 4 + [2] * 4
    for h, g in top.group_by("history"):
        assert not set(g["item"]) & set(histories[h[0]])
    s = student.score(histories, [items[0], items[50]])
    assert s.shape == (3, 2) and s.dtype == np.float32
    row = top.filter(pl.col("history") == 1)
    # same batch: the same scores, up to float32 rounding (scoring a few items is a different matmul than the
    # whole catalogue's, so the last bit may differ by CPU)
    again = student.score(histories, row["item"].to_list())[1].tolist()
    assert again == pytest.approx(row["score"].to_list(), rel=1e-6)


@pytest.mark.parametrize("model", MODELS)
def test_scores_equal_the_runs_evaluation(run, dataset, model):
    """Recomputing the run's test metrics from Recommender scores gives result.json's numbers exactly."""
    from slmrec import config as configs
    from slmrec.metrics import metrics_from_ranks, rank_of_target
    from slmrec.train import Pipeline

    rec = Recommender.from_run(run, model=model)
    cfg = configs.load(run / "config.json")
    es = Pipeline(cfg, dataset, run).eval_set("test")
    want = json.loads((run / model / "result.json").read_text())["test"]
    items = dataset.item_table()["item"].to_list()
    rows = es.users.tolist()
    hist = _raw(dataset, rows, cut=1)
    cands = [[items[i - 1] for i in c] for c in es.candidates.tolist()]
    s = torch.as_tensor(rec.score(hist, cands, batch_size=cfg.eval.batch_size))
    r, ties = rank_of_target(s, s[:, 0])
    got = metrics_from_ranks(r.numpy(), ties.numpy(), num_candidates=s.shape[1])
    assert {k: got[k] for k in ("hr@1", "hr@10", "ndcg@10", "mrr", "tie_rate")} == {
        k: want[k] for k in ("hr@1", "hr@10", "ndcg@10", "mrr", "tie_rate")
    }
    users = dataset.user_table()["user"].to_list()
    full = rec.recommend(
        users=[users[u] for u in rows], k=dataset.num_items, split="test", batch_size=cfg.eval.batch_size
    )
    target = dict(zip(range(len(rows)), (items[c[0] - 1] for c in es.candidates.tolist())))
    ranks = []
    for i, g in enumerate(full.partition_by("user", maintain_order=True)):
        sc = g["score"].to_numpy()
        t = sc[g["item"].to_list().index(target[i])]
        ranks.append(int((sc > t).sum() + (sc == t).sum() - 1))
    got = metrics_from_ranks(np.array(ranks), num_candidates=dataset.num_items, prefix="full_")
    assert got["full_hr@10"] == want["full_hr@10"] and got["full_ndcg@10"] == want["full_ndcg@10"]


@pytest.mark.parametrize("model", ["student", "sasrec"])
def test_export_loads_alone_with_the_same_scores(run, tmp_path, monkeypatch, model):
    rec = Recommender.from_run(run, model=model)
    path = rec.save(tmp_path / "export")
    assert sorted(p.name for p in path.iterdir()) == [
        "config.json",
        "items.parquet",
        "model.safetensors",
        "users.parquet",
    ]
    config = json.loads((path / "config.json").read_text())
    assert config["provenance"]["data"]["fingerprint"] == slmrec.load(run / "data").fingerprint
    assert config["provenance"]["metrics"]["test"] == json.loads((run / model / "result.json").read_text())["test"]

    def refuse(*a, **k):
        raise AssertionError("an export must not need the run, the dataset or the backbone")

    from slmrec import backbone

    monkeypatch.setattr(slmrec.data, "load", refuse)
    monkeypatch.setattr(backbone, "load", refuse)
    loaded = Recommender.load(path)
    a, b = rec.recommend(k=10), loaded.recommend(k=10)
    assert a["user"].to_list() == b["user"].to_list() and a["item"].to_list() == b["item"].to_list()
    if model == "sasrec":  # nothing merged: bit-exact
        assert a["score"].to_list() == b["score"].to_list()
    else:  # LoRA merged into the weights: equal up to float rounding
        assert np.allclose(a["score"].to_numpy(), b["score"].to_numpy(), rtol=0, atol=1e-5)
        assert config["architecture"]["lora_merged"] and config["architecture"]["layers"] == 2
    again = Recommender.load(loaded.save(tmp_path / "again"))
    assert again.recommend(k=10)["score"].to_list() == b["score"].to_list()  # export -> load -> export: exact


def test_a_tampered_or_truncated_export_is_refused(student, tmp_path):
    good = student.save(tmp_path / "good")

    def damaged(name, change):
        bad = tmp_path / f"bad_{name}_{len(list(tmp_path.iterdir()))}"
        shutil.copytree(good, bad)
        change(bad / name)
        with pytest.raises(CheckpointError) as e:
            Recommender.load(bad)
        return str(e.value)

    def flip(p):
        data = bytearray(p.read_bytes())
        data[len(data) // 2] ^= 1
        p.write_bytes(bytes(data))

    assert "SHA-256" in damaged("model.safetensors", flip)
    assert "truncated" in damaged("items.parquet", lambda p: p.write_bytes(p.read_bytes()[:-10]))
    assert "missing" in damaged("users.parquet", lambda p: p.unlink())
    assert "edited" in damaged(
        "config.json", lambda p: p.write_text(p.read_text().replace('"max_len": 10', '"max_len": 11'))
    )
    with pytest.raises(Exception, match="exists"):
        student.save(good)  # an existing export needs force
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(Exception, match="not a slmrec export"):
        student.save(tmp_path / "mine", force=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_unknown_ids_are_named_or_skipped_and_counted(student, dataset):
    known = dataset.user_table()["user"][0]
    with pytest.raises(UnknownIdError, match="'nobody'"):
        student.recommend(users=["nobody", known])
    top = student.recommend(users=["nobody", known, "ghost"], k=2, on_unknown="skip")
    assert top["user"].to_list() == [known, known] and student.last_skipped == {"users": 2}
    items = dataset.item_table()["item"].to_list()
    with pytest.raises(UnknownIdError, match="1 unknown item id: 'X1'"):
        student.recommend_histories([[items[0], "X1"]])
    a = student.recommend_histories([[items[0], "X1"], ["X2"]], k=3, on_unknown="skip")
    assert a["history"].to_list() == [0, 0, 0]
    assert student.last_skipped == {"items": 2, "histories": 1}
    assert a["item"].to_list() == student.recommend_histories([[items[0]]], k=3)["item"].to_list()
    with pytest.raises(UnknownIdError):
        student.score([[items[0]]], ["nope"])
    assert np.isnan(student.score([[items[0]]], ["nope", items[1]], on_unknown="skip")[0, 0])
    with pytest.raises(ValueError, match="k must be"):
        student.recommend(k=0)


def _recommend(*args):
    from slmrec.cli.recommend import main

    return main([str(a) for a in args])


def test_the_command_lines(run, tmp_path, capsys, dataset):
    from slmrec.cli.export import main as export

    out = tmp_path / "recs.parquet"
    assert _recommend(run, "--model", "sasrec", "--k", 3, "--out", out, "-q") == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"wrote {out}: {dataset.num_users:,} users x k 3") and "users/s" in line
    assert len(pl.read_parquet(out)) == 3 * dataset.num_users
    assert _recommend(run, "--k", 3, "--out", out, "-q") == 2  # exists
    assert "exists" in capsys.readouterr().err
    users = tmp_path / "users.txt"
    users.write_text(f"{dataset.user_table()['user'][3]}\nnobody\n")
    assert _recommend(run, "--users", users, "--out", tmp_path / "u.parquet", "-q") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("slmrec-recommend: error: 1 unknown user id: 'nobody'") and "\n" not in err
    assert _recommend(run, "--users", users, "--out", tmp_path / "u.parquet", "-q", "--skip-unknown") == 0
    assert "skipped 1 users" in capsys.readouterr().out
    hist = tmp_path / "h.jsonl"
    items = dataset.item_table()["item"].to_list()
    hist.write_text(json.dumps(items[:3]) + "\n\n" + json.dumps([items[9]]) + "\n")
    assert _recommend(run, "--histories", hist, "--out", tmp_path / "h.parquet", "-q", "--k", 2) == 0
    assert pl.read_parquet(tmp_path / "h.parquet")["history"].to_list() == [0, 0, 1, 1]
    hist.write_text('["a"]\n{"no": 1}\n')
    assert _recommend(run, "--histories", hist, "--out", tmp_path / "x.parquet") == 2
    assert f"{hist}:2: not a JSON list" in capsys.readouterr().err
    for bad in (["--k", 0], ["--model", "probe"], ["--batch-size", -1]):
        assert _recommend(run, "--out", tmp_path / "y.parquet", *bad) == 2
    assert _recommend(tmp_path / "nowhere", "--out", tmp_path / "y.parquet") == 2
    assert "no such run or export" in capsys.readouterr().err
    assert not (tmp_path / "y.parquet").exists() and not list(tmp_path.glob(".*tmp*"))

    exp = tmp_path / "exp"
    assert export([str(run), "--model", "student", "--out", str(exp)]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {exp}/: student (2 decoder layers")
    assert export([str(run), "--out", str(exp)]) == 2  # exists
    assert export([str(tmp_path / "nowhere"), "--out", str(tmp_path / "e2")]) == 2
    capsys.readouterr()
    assert _recommend(exp, "--k", 2, "--out", tmp_path / "from_export.parquet", "-q") == 0
    assert "student (llm)" in capsys.readouterr().out
    via_run = Recommender.from_run(run, "student").recommend(k=2)
    assert pl.read_parquet(tmp_path / "from_export.parquet")["item"].to_list() == via_run["item"].to_list()


def test_the_installed_entry_points_run_as_modules(run, tmp_path):
    out = tmp_path / "r.parquet"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "slmrec.cli.recommend",
            str(run),
            "--model",
            "sasrec",
            "--out",
            str(out),
            "--users",
            str(tmp_path / "missing.txt"),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "missing.txt" in r.stderr


def test_recommender_resolves_lazily():
    code = (
        "import sys, slmrec; assert 'torch' not in sys.modules; slmrec.Recommender; "
        "assert 'torch' in sys.modules; print('ok')"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "ok", r.stderr


def test_a_strong_recipe_sasrec_exports_and_loads_with_the_same_scores(tmp_path):
    """The strong recipe's SASRec (no up/down maps, unscaled inputs, positions from the end) round-trips: the
    export's architecture carries every key that shapes the network, not only the reference ones."""
    from slmrec.cli.train import main

    out = tmp_path / "strong"
    argv = ["--preset", "tiny", "--out", str(out), "--run.progress", "false", "--stages", "sasrec"]
    assert main([*argv, "--sasrec.recipe", "strong", "--sasrec.epochs", "2", "--sasrec.negatives", "8"]) == 0
    rec = Recommender.from_run(out, model="sasrec")
    loaded = Recommender.load(rec.save(tmp_path / "export"))
    a, b = rec.recommend(k=10), loaded.recommend(k=10)
    assert a["item"].to_list() == b["item"].to_list() and a["score"].to_list() == b["score"].to_list()


# ----- slmrec-evaluate: a finished run evaluated again under another rule


@pytest.mark.parametrize("model", ["sasrec", "student"])
def test_evaluating_a_run_again_gives_its_own_metrics(run, model):
    """With no key changed, the model evaluated again from its best weights equals what the run recorded."""
    from slmrec.evaluate import evaluate_run

    before = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    got = evaluate_run(run, model, "test")
    assert got["metrics"] == got["recorded"] == json.loads((run / model / "result.json").read_text())["test"]
    assert got["overrides"] == {} and got["eval"]["cold"] == "keep"
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()} == before  # nothing written


@pytest.fixture(scope="module")
def cold_run(tmp_path_factory):
    """A tiny SASRec run on sequences of which 4 end in an item no other position holds (cold test targets)."""
    from slmrec.cli.train import main

    root = tmp_path_factory.mktemp("cold")
    rng = np.random.default_rng(0)
    lines = [" ".join(map(str, rng.integers(1, 31, 8))) for _ in range(40)]
    lines += [" ".join(map(str, [*rng.integers(1, 31, 7), 100 + u])) for u in range(4)]  # items 100..103: once each
    (root / "cold.txt").write_text("\n".join(lines) + "\n")
    prep = [sys.executable, "-m", "slmrec.cli.prep", str(root / "cold.txt"), "--out", str(root / "ds")]
    subprocess.run([*prep, "--format", "seq", "--recipe", "none"], check=True, capture_output=True, timeout=120)
    out = root / "run"
    args = ["--preset", "tiny", "--data", str(root / "ds"), "--out", str(out), "--run.progress", "false"]
    assert main([*args, "--stages", "sasrec", "--eval.negatives", "20"]) == 0
    return out


def test_evaluating_a_run_without_its_cold_users_counts_only_the_warm_ones(cold_run):
    """``eval.cold drop`` leaves out exactly the users whose test item is in no training part: their count and
    their hits come off the run's own (the same ranks, so the warm users' hits are the run's less the cold ones')."""
    from slmrec import rundir
    from slmrec.evaluate import evaluate_run
    from slmrec.sampling import cold_targets, splittable_users

    everyone = evaluate_run(cold_run, "sasrec", "test")
    warm = evaluate_run(cold_run, "sasrec", "test", {"eval.cold": "drop"})
    ds = rundir.bound_dataset(cold_run)
    users = splittable_users(ds.offsets, len(ds.items))
    cold = cold_targets(ds.offsets, ds.items, users, split="test")
    assert int(cold.sum()) == 4
    assert warm["metrics"]["users"] == everyone["metrics"]["users"] - 4 == everyone["recorded"]["users"] - 4
    assert everyone["metrics"] == everyone["recorded"]
    n_all, n_warm = everyone["metrics"]["users"], warm["metrics"]["users"]
    hits_all = round(everyone["metrics"]["full_hr@10"] * n_all)
    hits_warm = round(warm["metrics"]["full_hr@10"] * n_warm)
    assert hits_all - 4 <= hits_warm <= hits_all
    assert evaluate_run(cold_run, "sasrec", "test", {"eval.users": "0"})["metrics"] == everyone["metrics"]


def test_evaluating_a_run_refuses_what_would_change_the_model(run, tmp_path):
    from slmrec.errors import ConfigError
    from slmrec.evaluate import evaluate_run

    with pytest.raises(ConfigError, match="sasrec.dropout: only eval"):
        evaluate_run(run, "sasrec", "test", {"sasrec.dropout": "0.5"})
    with pytest.raises(ConfigError, match="split must be one of valid, test"):
        evaluate_run(run, "sasrec", "train")
    with pytest.raises(ConfigError, match="not a slmrec-train run directory"):
        evaluate_run(tmp_path, "sasrec")
    with pytest.raises(ConfigError, match="unknown config key 'eval.colds'"):
        evaluate_run(run, "sasrec", "test", {"eval.colds": "drop"})


def test_the_evaluate_command_line(cold_run, tmp_path, capsys):
    from slmrec.cli.evaluate import main

    run = cold_run
    out = tmp_path / "e" / "warm.json"
    assert main([str(run), "--model", "sasrec", "--eval.cold", "drop", "--out", str(out), "-q"]) == 0
    line = capsys.readouterr().out
    assert "sasrec on test (eval.cold=drop)" in line and str(out) in line
    written = json.loads(out.read_text())
    assert written["overrides"] == {"eval.cold": "drop"}
    assert written["metrics"]["users"] == written["recorded"]["users"] - 4
    assert main([str(run), "--model", "sasrec", "--out", str(out), "-q"]) == 2  # exists, no --force
    assert "exists; pass --force" in capsys.readouterr().err
    assert main([str(run), "--model", "sasrec", "--eval.cold", "lukewarm", "-q"]) == 2
    assert "eval.cold" in capsys.readouterr().err
    assert main([str(tmp_path / "nope"), "-q"]) == 2
    assert "no such run directory" in capsys.readouterr().err
    r = subprocess.run(
        [sys.executable, "-m", "slmrec.cli.evaluate", str(run), "--model", "sasrec", "--split", "valid", "-q"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and "sasrec on valid (the run's own rule)" in r.stdout
