"""The CLIs' surfaces (issue 19): honest --help with each preset's defaults, --print-config, suggestions for a
mistyped key, --version, and the messages a new user meets."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import slmrec
from slmrec import config
from slmrec.cli import train as train_cli

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(autouse=True)
def _wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100000")  # argparse wraps help (and breaks at hyphens) to the terminal width


def _help(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as e:
        train_cli.main([*argv, "--help"])
    assert e.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines: compare on single spaces


@pytest.mark.parametrize("preset", ["tiny", "small", "paper"])
def test_help_shows_every_key_whole_with_the_presets_default(capsys, preset):
    text = _help(capsys, "--preset", preset) if preset != "small" else _help(capsys)
    comments = config.field_comments()
    for key, value in config.keys(config.preset(preset)).items():
        shown = json.dumps(value) if isinstance(value, (bool, str)) else value
        assert f"--{key} " in text
        assert f"{' '.join(comments[key].split())} (default: {shown})" in text, key


def test_help_snapshot_of_a_continued_comment(capsys):
    text = _help(capsys, "--preset", "tiny")
    assert (
        "--sasrec.positions STR \"last\": CE on each example's last item (the code's; examples per "
        'data.train_mode) | "all": CE at every position of max_len windows tiling each user\'s train part '
        '(SASRec\'s own training) (default: "last")'
    ) in text
    assert "--sasrec.epochs INT training epochs (the budget when sasrec.steps is 0) (default: 6)" in text
    assert "defaults of --preset tiny" in text


def test_help_and_readme_say_which_sasrec_is_real(capsys):
    text = _help(capsys)
    assert (
        '--sasrec.recipe STR "reference": the keys as given (by default the SLMRec code\'s SASRec, reproduced: it '
        'learns slowly) | "strong": a real SASRec, from SASREC_RECIPES["strong"] (SASRec+SS of the eSASRec '
        "benchmark: all-position training, history 50, early stopping; the full softmax, see README) "
        '(default: "reference")'
    ) in text
    readme = " ".join(README.read_text().split())
    assert (
        "`reference` (the default) reproduces the SLMRec code's SASRec, which learns slowly" in readme
        and "`strong` is a real SASRec" in readme
    )


def test_comments_continued_on_the_next_line_are_kept():
    assert config.field_comments()["sasrec.negatives"].endswith("(0 = full softmax over every item)")


def test_print_config_prints_the_resolved_config(capsys):
    assert train_cli.main(["--preset", "small", "--print-config", "--sasrec.epochs", "9", "teacher.lr=3e-4"]) == 0
    got = json.loads(capsys.readouterr().out)
    want = config.override(config.preset("small"), {"sasrec.epochs": "9", "teacher.lr": "3e-4"}).to_dict()
    assert got == want


def test_a_mistyped_key_suggests_the_nearest(capsys):
    assert train_cli.main(["--preset", "tiny", "--sasrec.epoch", "3"]) == 2
    err = capsys.readouterr().err
    assert err == "slmrec-train: error: unrecognized arguments: --sasrec.epoch; did you mean --sasrec.epochs?\n"
    assert train_cli.main(["--preset", "tiny", "--teacher.max_len", "3"]) == 2
    assert "did you mean --data.max_len?" in capsys.readouterr().err
    assert train_cli.main(["--preset", "tiny", "sasrec.epoch=3"]) == 2
    assert capsys.readouterr().err == (
        "slmrec-train: error: unknown config key 'sasrec.epoch'; did you mean sasrec.epochs?\n"
    )


def test_suggest():
    assert config.suggest("teacher.lrr") == "teacher.lr"
    assert config.suggest("eval.negative") == "eval.negatives"
    assert config.suggest("zzz") is None


@pytest.mark.parametrize(
    "module,prog,argv,message",
    [
        ("prep", "slmrec-prep", ["in.json"], "the following arguments are required: --out"),
        ("train", "slmrec-train", ["--nope"], "unrecognized arguments: --nope"),
        ("recommend", "slmrec-recommend", [], "the following arguments are required: RUN_OR_EXPORT"),
        ("export", "slmrec-export", ["run", "--model", "x", "--out", "o"], "argument --model: invalid choice: 'x'"),
        ("evaluate", "slmrec-evaluate", [], "the following arguments are required: RUN_DIR"),
    ],
)
def test_every_cli_reports_a_usage_error_in_one_line_with_exit_2(capsys, module, prog, argv, message):
    import importlib

    cli = importlib.import_module(f"slmrec.cli.{module}")
    main = cli.prep_main if module == "prep" else cli.main
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1 and err.startswith(f"{prog}: error: {message}")


@pytest.mark.parametrize("module,prog", [("slmrec.cli.train", "slmrec-train"), ("slmrec.cli.prep", "slmrec-prep")])
def test_version(module, prog):
    r = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0
    assert r.stdout == f"{prog} {slmrec.__version__}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", slmrec.__version__)


def test_stages_without_their_inputs_say_what_they_need(tmp_path, capsys):
    out = tmp_path / "run"
    assert train_cli.main(["--preset", "tiny", "--stages", "student", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        "slmrec-train: error: --stages student: student needs the sasrec and teacher stages; add sasrec, teacher to "
        "--stages, or copy finished ones from another run on the same data with --reuse RUN_DIR\n"
    )
    assert not out.exists()
    assert train_cli.main(["--preset", "tiny", "--stages", "sasrec,student_nokd,probe", "--out", str(out)]) == 2
    assert "probe needs the sasrec and teacher stages; add teacher to --stages" in capsys.readouterr().err


def test_weights_that_do_not_fit_name_the_config_key(tmp_path):
    torch = pytest.importorskip("torch")
    from slmrec import checkpoint
    from slmrec.errors import CheckpointError

    written = config.preset("tiny")
    now = config.override(written, {"sasrec.hidden": "8", "run.progress": "false"})
    path = tmp_path / "best.safetensors"
    checkpoint.save_weights({"w.weight": torch.zeros(2, written.sasrec.hidden)}, path, config=written)
    model = torch.nn.Module()
    model.w = torch.nn.Linear(now.sasrec.hidden, 2, bias=False)
    with pytest.raises(CheckpointError) as e:
        checkpoint.load_weights(model, path, config=now)
    assert str(e.value) == (
        f"{path}: w.weight has shape (2, 16), the model (2, 8); it was written with other "
        "settings (sasrec.hidden 16 there, 8 here); run with those, or train the stage again "
        "in another --out"
    )
    assert "delete" not in str(e.value)
    model.v = torch.nn.Linear(1, 1)
    with pytest.raises(CheckpointError, match=r"unexpected \[\]\); it was written with other settings \(sasrec"):
        checkpoint.load_weights(model, path, config=now)
    checkpoint.save_weights({"w.weight": torch.zeros(2, 16)}, path)  # nothing recorded
    with pytest.raises(CheckpointError, match="another config or version of slmrec"):
        checkpoint.load_weights(model, path, config=now)


def test_a_sasrec_only_run_reports_only_sasrec(tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        train_cli.main(
            [
                "--preset",
                "tiny",
                "--stages",
                "sasrec",
                "--out",
                str(out),
                "--run.progress",
                "false",
                "--sasrec.epochs",
                "1",
            ]
        )
        == 0
    )
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == f"wrote {out}/: config.json, metrics.json, results.md, curves.png, sasrec/, data/, synthetic.json.gz"
    for name in ("config.json", "metrics.json", "results.md", "curves.png", "sasrec", "data", "synthetic.json.gz"):
        assert (out / name).exists()
    md = (out / "results.md").read_text()
    assert "SASRec only (no LLM stage); 1 positive + 49 fixed negatives" in md
    for word in ("teacher", "student", "probe", "Backbone"):
        assert word not in md
    assert "Plots: `curves.png` (training loss, validation metric).\n" in md


def _fake_run(run_dir, evals=True, probe=None):
    from slmrec import checkpoint

    metrics = {"hr@10": 0.5, "ndcg@10": 0.3, "mrr": 0.2}
    (run_dir / "sasrec").mkdir(parents=True)
    checkpoint.write_json(
        run_dir / "sasrec" / "history.json",
        {
            "losses": [{"step": 1, "ce": 2.0, "loss": 2.0}, {"step": 2, "ce": 1.5, "loss": 1.5}],
            "evals": [{"step": 2, "mrr": 0.2}] if evals else [],
        },
    )
    if probe:
        (run_dir / "probe").mkdir()
        checkpoint.write_json(
            run_dir / "probe" / "result.json", {"layers": probe, "test": {str(k): metrics for k in probe}}
        )


def test_plots_warn_nothing_and_the_probe_has_integer_ticks(tmp_path, monkeypatch):
    import warnings

    from slmrec import report

    figures = {}
    real = report._save_fig
    monkeypatch.setattr(report, "_save_fig", lambda fig, path: (figures.__setitem__(path.name, fig), real(fig, path)))
    _fake_run(tmp_path, evals=False, probe=[1, 2, 3, 4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "No artists with labels found to put in legend"
        report.plot_curves(tmp_path, "mrr")
        assert report.plot_probe(tmp_path) is True
    assert list(figures["probe.png"].axes[0].get_xticks()) == [1, 2, 3, 4]
    assert (tmp_path / "probe.png").is_file()


def test_the_training_bar_leaves_evaluation_out_of_its_eta():
    import io

    from tqdm import tqdm

    pytest.importorskip("torch")
    from slmrec.train import exclude_from_eta

    clock = [0.0]
    bar = tqdm(total=10, file=io.StringIO(), mininterval=0, miniters=1)
    bar._time = lambda: clock[0]
    bar.start_t = bar.last_print_t = 0.0
    clock[0] = 1.0
    bar.update(1)
    clock[0] = 101.0  # a 100-second evaluation
    exclude_from_eta(bar, 100.0)
    clock[0] = 102.0
    bar.update(1)
    d = bar.format_dict
    assert d["elapsed"] == pytest.approx(2.0)
    assert (d["total"] - d["n"]) / d["rate"] == pytest.approx(8.0)  # the ETA: 8 steps at 1 step/s
    bar.close()


@pytest.mark.parametrize("progress,users,shown", [(True, 6, True), (True, 5, False), (False, 6, False)])
def test_a_large_evaluation_says_so_first(monkeypatch, capsys, progress, users, shown):
    torch = pytest.importorskip("torch")
    from accelerate import Accelerator

    from slmrec import evaluate as ev

    monkeypatch.setattr(ev, "PROGRESS_MIN_USERS", 5)
    data = ev.EvalSet(
        "valid",
        torch.arange(users),
        torch.ones(users, 3, dtype=torch.long),
        torch.tensor([[1, 2, 3]] * users),
        torch.zeros(users, 1, dtype=torch.long),
    )
    table = torch.randn(4, 2)
    ev.evaluate(
        Accelerator(cpu=True), lambda ids: {"": torch.ones(len(ids), 2)}, table, data, batch_size=4, progress=progress
    )
    err = capsys.readouterr().err
    assert err == (f"evaluating valid: {users} users\n" if shown else "")


def test_raw_data_says_how_it_was_prepared(tmp_path, capsys):
    from slmrec.synth import generate_reviews

    raw = tmp_path / "raw.json.gz"
    generate_reviews(raw, n_users=300, seed=0)
    out = tmp_path / "run"
    assert (
        train_cli.main(
            [
                "--preset",
                "tiny",
                "--data",
                str(raw),
                "--stages",
                "sasrec",
                "--sasrec.epochs",
                "0",
                "--out",
                str(out),
                "--run.progress",
                "false",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        "prepared --data with slmrec-prep's default recipe kcore (item_min 5, user_min 5); for another "
        "(--recipe, --user-min, --item-min, --min-rating) run slmrec-prep INPUT... --out DIR first and "
        "pass --data DIR"
    )
    from slmrec.cli.prep import _summary

    ds = slmrec.load(out / "data")
    assert err[1 : 1 + len(_summary(ds).splitlines())] == _summary(ds).splitlines()
    assert any(re.fullmatch(rf"  time +{ds.stats['elapsed_seconds']:.2f} s", line) for line in err), err
    assert err[1].startswith("  inputs ") and any(line.startswith("  k-core dropped") for line in err)


def test_help_slmrec_opens_with_a_quickstart_and_the_api_first(tmp_path, monkeypatch):
    import pydoc
    import textwrap

    doc = slmrec.__doc__
    assert (
        doc.index("Quickstart (prepare -> load -> sample -> train -> recommend)")
        < doc.index("Public API")
        < doc.index("errors:")
    )
    text = pydoc.render_doc(slmrec, renderer=pydoc.plaintext)
    assert text.index("Quickstart") < text.index("CLASSES")  # the exception classes come after it
    assert slmrec.__all__[:3] == ["prepare", "load", "Dataset"]
    # the quickstart's data part runs as written (training is the tiny run tests/test_train.py covers)
    from slmrec.synth import generate_reviews

    monkeypatch.chdir(tmp_path)
    generate_reviews(tmp_path / "reviews.json.gz", n_users=200, seed=0)
    code = textwrap.dedent(doc.split("::", 1)[1].split("    # train:", 1)[0])
    ns: dict = {}
    exec(code, ns)
    assert ns["negatives"].shape == (2, 10) and set(ns["batch"]) == {"users", "input_ids", "target"}
