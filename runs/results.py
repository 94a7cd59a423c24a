"""Every run behind docs/RESULTS.md, in priority order, resumable; then the report.

    python runs/results.py              # run what is missing (hours on 2 CPU cores), then python runs/report.py
    python runs/results.py --list       # the jobs, their commands, whether they are done, the hours recorded
    python runs/results.py --extra      # also the extra jobs (more seeds and variants of what the default shows)
    python runs/results.py --only lastfm --max-hours 1
    python runs/results.py --lanes 2    # two jobs at once (the peer's timed jobs alone), each on a CPU, one thread

Design: a job is one command with an output (a run dir with ``metrics.json``, or a JSON file); a job whose output
exists is skipped, and a run dir left by a killed job is continued with ``slmrec-train --resume``, so the script can
be stopped and restarted at any time and only pays for what is missing. Jobs run one after another, or with
``--lanes N`` N at a time, each pinned to a CPU of its own with one torch thread (the peer's timed jobs still run
alone, so that their times are their own; a one-thread job is slower than the same job alone on two threads), in the
order of what the report needs most (a job that continues another waits for it): the claims runs (LastFM,
MovieLens-100K, Beauty; three seeds each), LastFM's claims runs on the strong SASRec's table, the ablation of the
distillation terms and options on LastFM's claims runs, the all-position teacher, the strong SASRec recipe, the
reference code's protocol on LastFM (one seed: the main table's protocol, one example per user), and the RecBole
peer on MovieLens-100K and Beauty. ``--extra`` adds what only repeats what the default shows or what the re-sized
preset replaced (see EXTRA_VARIANTS): the reference protocol's other datasets and seeds, its KD-term ablation, its
pretrained-versus-random comparison, its layer probe on Beauty and Beauty's SASRec seeds. Every command is printed
with its duration and appended to runs/out/results/commands.log with its threads and CPUs; ``--max-hours`` stops
before starting a job once that much time has passed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from slmrec import config

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
OUT = Path(os.environ.get("SLMREC_RESULTS_DIR", ROOT / "runs" / "out" / "results"))  # tests point it elsewhere
PY = sys.executable
RECBOLE_PY = ROOT / "runs" / "out" / "recbole-venv" / "bin" / "python"

SEEDS = (0, 1, 2)
PRESET = "small"  # the preset every slmrec-train job starts from
STRONG_DATASETS = ("beauty", "ml-100k")  # the strong SASRec recipe's runs, in this order
BENCHMARKED = ("beauty",)  # of those, the datasets with published numbers: evaluated again by the benchmark's rule
# our SASRec in RecBole's SASRec shape (64-d, 2 layers, 2 heads, history 50, full-softmax CE, lr 1e-3, dropout 0.5),
# selected on full-ranking validation NDCG@10 like RecBole's valid_metric and ranking as RecBole does for sequential
# models (nothing excluded but padding); N(0, 0.02) init as RecBole's (PyTorch's N(0, 1) item table learns slower)
PEER_SASREC = [
    "--eval.full_exclude",
    "none",
    "--sasrec.emb_dim",
    "64",
    "--sasrec.hidden",
    "64",
    "--sasrec.heads",
    "2",
    "--sasrec.layers",
    "2",
    "--sasrec.dropout",
    "0.5",
    "--sasrec.lr",
    "1e-3",
    "--data.max_len",
    "50",
    "--eval.select",
    "full_ndcg@10",
    "--sasrec.eval_every",
    "0",
    "--sasrec.init",
    "normal",
]
# Two ways to train it, each a row of the report: "ours" makes RecBole's examples (every prefix, loss on its last
# position, batch 256); "ours_windows" is SASRec's own all-position training on windows of 50 whose newest 25
# positions are targets (each target still once per epoch, a 25x cheaper epoch), batch 64 windows.
# "strong" is the strong recipe (SASREC_RECIPES["strong"], its own shape and early stopping, not RecBole's shape)
# ranked as RecBole ranks: its time to RecBole's best validation NDCG@10 is the SASRec issue's speed target.
PEER_VARIANTS = {
    "ours": ["--data.train_mode", "all_prefixes", "--sasrec.batch_size", "256"],
    "ours_windows": ["--sasrec.positions", "all", "--sasrec.stride", "25", "--sasrec.batch_size", "64"],
    "strong": ["--sasrec.recipe", "strong", "--data.train_mode", "last", "--eval.full_exclude", "none"],
}
IN_RECBOLES_SHAPE = ("ours", "ours_windows")  # the variants trained in RecBole's shape (PEER_SASREC)
# Epoch caps: RecBole's SASRec takes about 3.5 min per epoch on ml-100k and 5 on Beauty at one thread here; ours
# with RecBole's examples 1.6 min on ml-100k, with windows about 6 s.
# Both sides run on ONE thread (torch's intra-op pool): RecBole at two threads slows down 6x as soon as anything
# else runs on the 2 cores, which would flatter us.
PEER_EPOCHS = {"ours": {"ml-100k": 12, "beauty": 12}, "ours_windows": {"ml-100k": 40, "beauty": 20}, "strong": {}}
# a single seed's "time to RecBole's best" is noise-dominated (its best is one epoch's spike): the cheap variant
# runs three seeds on MovieLens-100K (RecBole and the slower runs one each)
PEER_SEEDS = {
    "ours": {"ml-100k": (0,), "beauty": (0,)},
    "ours_windows": {"ml-100k": SEEDS, "beauty": (0,)},
    "strong": {"ml-100k": SEEDS, "beauty": SEEDS},  # the speed target is per seed
}
RECBOLE_EPOCHS = {"ml-100k": 10, "beauty": 10}
PROBE_USERS = 2000
# --extra: more of what the default run already shows, left out of it to keep it within its job-hour budget: the
# peer's RecBole-examples variant (the windows variant is the faster one to RecBole's quality) and every job of the
# reference protocol but LastFM seed 0 (the claims runs, under the re-sized preset, are what the report rests on)
EXTRA_VARIANTS = ("ours",)
# The main tables' earlier protocol, the reference code's: one example per user (its last training item), 2 epochs
# per LLM stage, no early stopping, SASRec on each example's last position; the small preset before it was re-sized
# by steps and examples. The runs kept under docs/results/cpu/{main,ablation,random_init,probe} were made with it,
# so their jobs pin it (and the report describes them by it); the claims jobs use the preset as it is now.
REFERENCE_PROTOCOL = [
    "--data.train_mode",
    "last",
    "--sasrec.positions",
    "last",
    "--sasrec.eval_every",
    "100",
    "--sasrec.patience",
    "0",
    "--distill.cache",
    "false",
    *(
        a
        for st in ("teacher", "student")
        for a in (
            f"--{st}.steps",
            "0",
            f"--{st}.epochs",
            "2",
            f"--{st}.warmup_ratio",
            "0",
            f"--{st}.warmup_steps",
            "5",
            f"--{st}.eval_every",
            "0",
            f"--{st}.patience",
            "0",
            f"--{st}.min_steps",
            "0",
        )
    ),
]
# the positions job's teacher: a window holds up to max_len targets, so an epoch of windows takes a small fraction of
# the steps of an epoch of prefixes; 240 steps are several epochs of windows, validation every 30, no early stop
# before step 120
POSITIONS_TEACHER = (
    *("--llm.positions", "all", "--teacher.steps", "240"),
    *("--teacher.eval_every", "30", "--teacher.min_steps", "120"),
)
CLAIMS_DATASETS = ("lastfm", "ml-100k", "beauty")  # the claims scorecard's datasets, in the order they run
# Does a better table help the LLM? The claims runs of TABLE_DATASET again, with the strong SASRec recipe's model
# (128-d, the width the LLM stages take) as the item table. Its history length and selection metric stay the claims
# runs' (the recipe's 50 and full NDCG@10 would change the teacher's prompt and its checkpoint choice with the
# table), so the LLM stages differ from the claims runs' in the table alone. LastFM: the cheapest LLM stages, and
# its three claims seeds are done.
TABLE_DATASET = "lastfm"
# The ablation of the distillation terms and options (the paper's claims issue, §2 and §4): each distillation term
# off, and each documented option on, against the table runs (the claims protocol on the strong SASRec's item
# table), three seeds, on each table run's SASRec and (for the student-only rows) its teacher. The table runs, not
# the claims runs: on the strong table the teacher is above SASRec, as in the paper, so whether distillation carries
# its signal is asked of a teacher worth distilling (on the claims table the teacher is level with SASRec). The
# students read the frozen teacher's states from the cache (--distill.cache true: the same loss and gradients,
# tested; a cheaper step, measured by benches/bench_train.py). llm.head_init changes the teacher's heads too, so
# that row trains its own teacher and both students.
KD_OPTIONS = {  # row name -> (stages it trains, the keys it changes)
    "no_cos": ("student", ("--distill.lambda_cos", "0")),
    "no_norm": ("student", ("--distill.lambda_norm", "0")),
    "no_ms": ("student", ("--distill.lambda_ms", "0")),
    "ms_norm": ("student", ("--distill.ms_norm", "true")),
    "center": ("student", ("--distill.center", "true")),
    "logit_kd": ("student", ("--distill.logit_kd", "1")),
    "head_zero": ("teacher,student,student_nokd", ("--llm.head_init", "zero")),
}
_CLAIMS = config.preset(PRESET)
STRONG_TABLE = (  # the recipe's windows of max_len, every position a target, at the claims runs' max_len
    *("--sasrec.recipe", "strong", "--data.max_len", str(_CLAIMS.data.max_len)),
    *("--eval.select", _CLAIMS.eval.select),
)
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass(frozen=True)
class Dataset:
    raw: str  # the raw file under ../shared/data
    prep: tuple[str, ...]  # slmrec-prep's arguments (none: the default recipe, kcore 5/5)
    title: str  # how the report names it
    gpu: str | None = None  # the GPU run of its LLM stages, a directory under docs/results/gpu/, if there is one


# the datasets, in the report's order; a report reads names and counts from here and from their stats.json
DATASETS = {
    "lastfm": Dataset("seq/LastFM.txt", ("--recipe", "none"), "LastFM"),
    "ml-100k": Dataset("movielens/ml-100k.inter", (), "MovieLens-100K"),
    "gift_cards": Dataset("amazon18/Gift_Cards_5.json.gz", (), "Amazon 2018 Gift Cards (5-core)"),
    "beauty": Dataset("seq/Beauty.txt", ("--recipe", "none"), "Beauty", gpu="beauty_small_bf16"),
}


@dataclass
class Job:
    name: str
    cmd: list[str]
    out: Path  # a run dir (done when metrics.json exists) or a file (done when it exists)
    before: list[str] | None = None  # a command to run first (exporting the data for RecBole)
    env: dict | None = None  # extra environment variables
    alone: bool = False  # timed against a peer: runs with nothing else beside it, even with --lanes
    extra: bool = False  # runs only with --extra: more of what the default already shows (see EXTRA_VARIANTS)

    @property
    def is_run(self) -> bool:
        """Whether ``out`` is a run directory (else the JSON file the job writes)."""
        return self.out.suffix != ".json"

    def done(self) -> bool:
        return (self.out / "metrics.json").is_file() if self.is_run else self.out.is_file()

    def needs(self) -> Path | None:
        """The run this job continues from (its ``--reuse``) or evaluates again (``slmrec-evaluate RUN_DIR``): it
        starts only once that run is done."""
        for flag in ("--reuse", EVALUATE):
            if flag in self.cmd:
                return Path(self.cmd[self.cmd.index(flag) + 1])
        return None

    def ready(self) -> bool:
        need = self.needs()
        return need is None or (need / "metrics.json").is_file()

    def config(self) -> dict | None:
        """The config its command resolves to, as ``slmrec-train`` resolves it (the preset with the command's
        overrides); None for a job that is not a ``slmrec-train`` run. A report reads it for a run whose own
        ``config.json`` was not kept."""
        if "slmrec.cli.train" not in self.cmd:
            return None
        from slmrec.cli import train as cli

        return cli.resolve_config(cli.parser().parse_args(self.cmd[self.cmd.index("slmrec.cli.train") + 1 :])).to_dict()


def data_dir(name: str) -> Path:
    return OUT / "data" / name


def train(
    name: str,
    dataset: str,
    out: Path,
    *args: str,
    seed: int = 0,
    env: dict | None = None,
    alone: bool = False,
    extra: bool = False,
) -> Job:
    cmd = [
        PY,
        "-m",
        "slmrec.cli.train",
        "--preset",
        PRESET,
        "--data",
        str(data_dir(dataset)),
        "--out",
        str(out),
        "--run.seed",
        str(seed),
        "--data.seed",
        str(seed),
        "--run.progress",
        "false",
        *args,
    ]
    return Job(name, cmd, out, env=env, alone=alone, extra=extra)


def peer(d: str) -> list[Job]:
    """RecBole's SASRec (data exported first), ours in its shape (two variants) and the strong recipe, on ``d``, one
    thread each."""
    rb = "slmrec_" + d.replace("-", "_")  # not "ml-100k": RecBole would read its own bundled copy of that name
    recbole = Job(
        f"peer {d} recbole",
        [
            str(RECBOLE_PY),
            "runs/recbole_peer.py",
            "run",
            str(OUT / "recbole"),
            rb,
            "--epochs",
            str(RECBOLE_EPOCHS[d]),
            "--threads",
            "1",
            "--json",
            str(OUT / "peer" / d / "recbole.json"),
        ],
        OUT / "peer" / d / "recbole.json",
        before=[PY, "runs/recbole_peer.py", "export", str(data_dir(d)), str(OUT / "recbole"), rb],
        alone=True,
    )
    ours = [
        train(
            f"peer {d} {v}" + (f" seed{s}" if s else ""),
            d,
            peer_dir(d, v, s),
            "--stages",
            "sasrec",
            *((*REFERENCE_PROTOCOL, *PEER_SASREC) if v in IN_RECBOLES_SHAPE else ()),
            *args,
            *(("--sasrec.epochs", str(PEER_EPOCHS[v][d])) if d in PEER_EPOCHS[v] else ()),  # else: early stopping
            seed=s,
            env=ONE_THREAD,
            alone=True,
            extra=v in EXTRA_VARIANTS,
        )
        for v, args in reversed(PEER_VARIANTS.items())
        for s in PEER_SEEDS[v][d]
    ]  # the strong recipe and windows (cheap) first
    return [recbole, *ours]


EVALUATE = "slmrec.cli.evaluate"


def benchmark_rule(d: str, seed: int) -> Job:
    """The strong recipe's selected SASRec of ``d`` evaluated again on test by the rule of the benchmark its
    published numbers come from: the users whose test item is cold (in no user's training part) left out."""
    run = strong_dir(d, seed)
    out = benchmark_rule_path(d, seed)
    cmd = [PY, "-m", EVALUATE, str(run), "--model", "sasrec", "--split", "test", "--eval.cold", "drop"]
    return Job(f"sasrec-strong {d} seed{seed} benchmark rule", [*cmd, "--out", str(out), "-q"], out)


def strong_dir(d: str, seed: int) -> Path:
    return OUT / "sasrec_strong" / d / f"seed{seed}"


def benchmark_rule_path(d: str, seed: int) -> Path:
    return OUT / "sasrec_strong" / d / "benchmark_rule" / f"seed{seed}.json"


def peer_dir(d: str, variant: str, seed: int) -> Path:
    return OUT / "peer" / d / (variant + (f"_seed{seed}" if seed else ""))


def claims_dir(d: str, seed: int) -> Path:
    return OUT / "claims" / d / f"seed{seed}"


def kd_ablation_dir(d: str, name: str, seed: int) -> Path:
    return OUT / "kd_ablation" / d / f"{name}_seed{seed}"


def table_dir(d: str, seed: int) -> Path:
    return OUT / "table" / d / f"seed{seed}"


def positions_dir(d: str, seed: int) -> Path:
    return OUT / "positions" / d / f"seed{seed}"


def jobs() -> list[Job]:
    main = lambda d, s: OUT / "main" / d / f"seed{s}"  # noqa: E731
    base = main("lastfm", 0)
    ref = REFERENCE_PROTOCOL
    # the paper's claims under the re-sized small preset (every prefix an example, steps, early stopping): LastFM's
    # three seeds first (the cheapest full scorecard row), then MovieLens-100K's, then Beauty's (Beauty on a sample of
    # 2,000 users for validation and test, its 22k users would cost an hour per evaluation pass on 2 cores)
    out = [
        train(
            f"claims {d} seed{s}",
            d,
            claims_dir(d, s),
            seed=s,
            *(("--eval.users", str(PROBE_USERS)) if d == "beauty" else ()),
        )
        for d in CLAIMS_DATASETS
        for s in SEEDS
    ]
    out += [
        train(
            f"table {TABLE_DATASET} seed{s}",
            TABLE_DATASET,
            table_dir(TABLE_DATASET, s),
            "--stages",
            "sasrec,teacher,student,student_nokd",
            *STRONG_TABLE,
            seed=s,
        )
        for s in SEEDS
    ]
    out += [
        train(
            f"kd-ablation {TABLE_DATASET} seed{s} {name}",
            TABLE_DATASET,
            kd_ablation_dir(TABLE_DATASET, name, s),
            "--stages",
            trains,
            "--reuse",
            str(table_dir(TABLE_DATASET, s)),
            *STRONG_TABLE,
            *flags,
            "--distill.cache",
            "true",
            seed=s,
        )
        for s in SEEDS
        for name, (trains, flags) in KD_OPTIONS.items()
    ]
    # llm.positions all (an extension beyond the paper) against the claims teacher's last-token protocol, per
    # CPU-minute: LastFM seed 0's teacher on the claims run's SASRec, every position of max_len windows a target
    out.append(
        train(
            "positions lastfm seed0",
            "lastfm",
            positions_dir("lastfm", 0),
            "--stages",
            "teacher",
            "--reuse",
            str(claims_dir("lastfm", 0)),
            *POSITIONS_TEACHER,
        )
    )
    # the strong SASRec recipe (the SASRec issue): Beauty, three seeds, then MovieLens-100K
    out += [
        train(
            f"sasrec-strong {d} seed{s}",
            d,
            strong_dir(d, s),
            "--stages",
            "sasrec",
            "--sasrec.recipe",
            "strong",
            "--data.train_mode",
            "last",
            seed=s,
        )
        for d in STRONG_DATASETS
        for s in SEEDS
    ]
    out += [benchmark_rule(d, s) for d in STRONG_DATASETS if d in BENCHMARKED for s in SEEDS]
    out.append(train("main lastfm seed0", "lastfm", base, *ref))
    out += peer("ml-100k")
    for term in ("cos", "norm", "ms"):
        out.append(
            train(
                f"ablation lastfm lambda_{term}=0",
                "lastfm",
                OUT / "ablation" / "lastfm" / f"no_{term}",
                "--stages",
                "student",
                "--reuse",
                str(base),
                f"--distill.lambda_{term}",
                "0",
                *ref,
                extra=True,
            )
        )
    out.append(
        train(
            "random-init lastfm",
            "lastfm",
            OUT / "random_init" / "lastfm",
            "--stages",
            "teacher,student,student_nokd",
            "--reuse",
            str(base),
            "--llm.init",
            "random",
            *ref,
            extra=True,
        )
    )
    for s in SEEDS:  # the smallest dataset first: three seeds of it come soonest
        out.append(train(f"main gift_cards seed{s}", "gift_cards", main("gift_cards", s), *ref, seed=s, extra=True))
    out.append(train("main ml-100k seed0", "ml-100k", main("ml-100k", 0), *ref, extra=True))
    for s in SEEDS[1:]:
        for d in ("lastfm", "ml-100k"):
            out.append(train(f"main {d} seed{s}", d, main(d, s), *ref, seed=s, extra=True))
    # the layer probe on Beauty: the small preset's teacher (2 epochs over 22k users), every layer scored on a fixed
    # sample of 2,000 users (a tenth of the cost of scoring all of them, per split); its own SASRec, selected on
    # those users, as the GPU run's (50 epochs)
    out.append(
        train(
            "probe beauty",
            "beauty",
            OUT / "probe" / "beauty",
            "--stages",
            "sasrec,teacher,probe",
            "--sasrec.epochs",
            "50",
            "--eval.users",
            str(PROBE_USERS),
            *ref,
            "--sasrec.eval_every",
            "0",
            extra=True,
        )
    )
    out += peer("beauty")
    for s in SEEDS:
        out.append(
            train(
                f"main beauty seed{s} (sasrec)",
                "beauty",
                main("beauty", s),
                "--stages",
                "sasrec",
                *ref,
                "--sasrec.epochs",
                "50",
                "--sasrec.eval_every",
                "0",
                seed=s,  # as the GPU run of Beauty
                extra=True,
            )
        )
    return out


def start(cmd: list[str], log: Path, env: dict | None = None, cpu: int | None = None) -> subprocess.Popen:
    """Starts ``cmd`` with its output appended to ``log``; pinned to ``cpu`` when given."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:
        f.write(f"$ {shlex.join(cmd)}\n")
        f.flush()
        pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
        return subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdout=f,
            stderr=subprocess.STDOUT,
            preexec_fn=pin,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )


def run(cmd: list[str], log: Path, env: dict | None = None) -> int:
    return start(cmd, log, env).wait()


def cmd_threads(cmd: list[str]) -> str | None:
    """The value of a command's own ``--threads`` flag (RecBole's peer script has one), if any."""
    return cmd[cmd.index("--threads") + 1] if "--threads" in cmd else None


def machine(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """This machine in words, for commands.log: its CPU model and how many CPUs it has (not how many this process
    may use: a driver pinned with taskset is on the same machine; the job's own CPUs are the entry's ``cpus``).
    Timings are compared only within one machine; two machines of one session's kind can differ several-fold."""
    try:
        model = next(
            (ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines() if ln.startswith("model name")),
            "",
        )
    except OSError:
        model = ""
    n = os.cpu_count() or 0
    return f"{model or platform.processor() or 'unknown CPU'}, {n} CPU{'s' if n != 1 else ''}"


def boot_id(path: Path = Path("/proc/sys/kernel/random/boot_id")) -> str:
    """This boot of this machine ("" where the kernel does not say): tells apart two machines of one CPU model."""
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def job_resources(cmd: list[str], env: dict | None, cpu: int | None = None) -> dict:
    """The torch threads a job ran with (its own ``--threads`` flag, else OMP_NUM_THREADS; "all" = torch's
    default, one per core), the CPUs it could use, the machine and its boot."""
    threads = cmd_threads(cmd) or {**os.environ, **(env or {})}.get("OMP_NUM_THREADS", "all")
    cpus = [cpu] if cpu is not None else sorted(os.sched_getaffinity(0))
    return {"threads": threads, "cpus": cpus, "machine": machine(), "boot": boot_id()}


def log_entries(log: Path | None = None) -> list[dict]:
    """The records of commands.log (``log``, default the live one), one per finished job attempt (a line that does
    not parse is skipped)."""
    log = log or OUT / "commands.log"
    out = []
    for line in log.read_text().splitlines() if log.is_file() else []:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and "job" in rec and "seconds" in rec:
            out.append(rec)
    return out


def recorded_minutes(entries: list[dict] | None = None) -> dict[str, float]:
    """Minutes each job took, summed over its successful and resumed attempts (from commands.log, or ``entries``
    read from it)."""
    took: dict[str, float] = {}
    for rec in log_entries() if entries is None else entries:
        took[rec["job"]] = took.get(rec["job"], 0.0) + rec["seconds"] / 60
    return took


def budget(group: list[Job], took: dict[str, float], done=Job.done) -> tuple[int, float, list[str]]:
    """(jobs of ``group`` done, job-hours commands.log recorded for them, names of those it has no record of);
    ``done(job)`` says whether a job is done (default: its output exists)."""
    return (
        sum(map(done, group)),
        sum(took.get(j.name, 0) for j in group) / 60,
        [j.name for j in group if j.name not in took],
    )


def budget_line(label: str, group: list[Job], took: dict[str, float]) -> str:
    done, hours, missing = budget(group, took)
    return f"{label}: {done} of {len(group)} jobs done, {hours:.1f} job-hours recorded in {OUT / 'commands.log'}" + (
        f" (no record: {', '.join(missing)})" if missing else ""
    )


def prepare_data() -> None:
    for name, ds in DATASETS.items():
        if (data_dir(name) / "stats.json").is_file():
            continue
        cmd = [PY, "-m", "slmrec.cli.prep", str(SHARED / ds.raw), "--out", str(data_dir(name)), "-q", *ds.prep]
        if run(cmd, OUT / "logs" / f"prep_{name}.log"):
            raise SystemExit(f"slmrec-prep failed for {name}; see {OUT / 'logs' / f'prep_{name}.log'}")


def run_jobs(todo: list[Job], lanes: int = 1, max_hours: float = 0, poll: float = 1.0) -> list[str]:
    """Runs the jobs of ``todo`` that are not done, up to ``lanes`` at once; returns the names of those that failed.

    One lane: one job after another, with torch's default threads. More: each job gets a CPU of its own and one
    torch thread (so that side by side, neither stalls the other), a job that continues another (``--reuse``)
    waits until that one is done, and a job timed against a peer (``alone``) runs with nothing beside it, so that
    its time is its own (a conservative rule: RecBole's Beauty epochs took 309-385 s with another job on the other
    CPU and 348 s in the one epoch that ran mostly alone, an effect lost in the noise). Each finished job is
    appended to commands.log with its duration, threads and CPUs.
    """
    started = time.time()
    cpus = sorted(os.sched_getaffinity(0))
    if not 1 <= lanes <= len(cpus):
        raise SystemExit(f"--lanes {lanes}: this process may use {len(cpus)} CPUs")
    pending = [j for j in todo if not j.done()]
    running: dict[int, tuple] = {}  # lane -> (job, process, start time, command, env, cpu)
    failed: list[str] = []
    while pending or running:
        if pending and max_hours and time.time() - started > max_hours * 3600:
            print(f"--max-hours {max_hours} reached; not starting {', '.join(j.name for j in pending)}", flush=True)
            pending = []
        for lane in range(lanes):
            while lane not in running and not any(r[0].alone for r in running.values()):
                job = next((j for j in pending if j.ready() and not (j.alone and running)), None)
                if job is None:
                    break
                pending.remove(job)
                if job.done():  # finished meanwhile (by another driver, or an earlier job of this one)
                    continue
                if job.cmd[0] == str(RECBOLE_PY) and not RECBOLE_PY.exists():
                    print(f"skip {job.name}: no RecBole venv (bash runs/recbole_setup.sh)", flush=True)
                    continue
                log = OUT / "logs" / (job.name.replace(" ", "_").replace("=", "") + ".log")
                if job.before and run(job.before, log):  # RecBole reads the same prepared data, exported
                    print(f"   {job.name}: {shlex.join(job.before)} failed; see {log}", flush=True)
                    failed.append(job.name)
                    continue
                cmd = list(job.cmd)
                if job.is_run and (job.out / "config.json").is_file():
                    # a killed run: continue it (its saved config is the job's)
                    cmd = [PY, "-m", "slmrec.cli.train", "--out", str(job.out), "--resume", "--run.progress", "false"]
                env, cpu = (job.env, None) if lanes == 1 else ({**(job.env or {}), **ONE_THREAD}, cpus[lane])
                print(f"-> {job.name}" + (f" (CPU {cpu})" if cpu is not None else ""), flush=True)
                running[lane] = (job, start(cmd, log, env, cpu), time.time(), cmd, env, cpu)
        if not running:
            for j in pending:  # what they continue from failed or was not run
                print(f"   {j.name}: not run, it needs {j.needs()}, which is not done", flush=True)
                failed.append(j.name)
            break
        time.sleep(poll)
        for lane, (job, proc, t0, cmd, env, cpu) in list(running.items()):
            rc = proc.poll()
            if rc is None:
                continue
            del running[lane]
            took = time.time() - t0
            with open(OUT / "commands.log", "a") as f:
                f.write(
                    json.dumps(
                        {
                            "job": job.name,
                            "cmd": shlex.join(cmd),
                            "seconds": round(took, 1),
                            "rc": rc,
                            "finished": round(time.time(), 1),
                            **job_resources(cmd, env, cpu),
                        }
                    )
                    + "\n"
                )
            print(f"   {job.name}: {'ok' if rc == 0 else f'FAILED (exit {rc})'} in {took / 60:.1f} min", flush=True)
            if rc:
                failed.append(job.name)
    return failed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--list", action="store_true", help="list the jobs and exit")
    p.add_argument("--only", help="run only jobs whose name contains this")
    p.add_argument("--max-hours", type=float, default=0, help="start no job after this many hours (0 = no limit)")
    p.add_argument("--no-report", action="store_true", help="do not write docs/RESULTS.md at the end")
    p.add_argument(
        "--extra",
        action="store_true",
        help="also run the extra jobs (the peer's RecBole-examples variant, Beauty SASRec seeds 1 and 2)",
    )
    p.add_argument(
        "--lanes",
        type=int,
        default=1,
        help="jobs at once, each on a CPU of its own with one torch thread (default 1: one job at a "
        "time with torch's default threads)",
    )
    args = p.parse_args(argv)
    picked = [j for j in jobs() if not args.only or args.only in j.name]
    if args.list:
        took = recorded_minutes()
        for j in picked:
            t = f" ({took[j.name]:.1f} min)" if j.name in took else ""
            print(f"[{'done' if j.done() else 'todo'}]{' [extra]' if j.extra else ''}{t} {j.name}: {shlex.join(j.cmd)}")
        for label, group in (
            ("default run", [j for j in picked if not j.extra]),
            ("--extra", [j for j in picked if j.extra]),
        ):
            if group:
                print(budget_line(label, group, took))
        return 0
    todo = [j for j in picked if args.extra or not j.extra]
    started = time.time()
    prepare_data()
    failed = run_jobs(todo, args.lanes, args.max_hours)
    print(f"results.py: {(time.time() - started) / 60:.1f} min; failed: {failed or 'none'}", flush=True)
    if not args.no_report:
        subprocess.run([PY, "runs/report.py"], cwd=ROOT, check=False)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
