"""The run report: ``metrics.json``, ``results.md`` and the plots, all from the stage outputs on disk.

Design: the report reads only files (each stage's ``result.json`` and ``history.json``, ``probe/result.json``),
so it can be rebuilt at any time (``slmrec.report.write_all(run_dir, cfg)``) and a resumed run reports exactly
what an uninterrupted one does. Every file is written under a temporary name and renamed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from slmrec import checkpoint
from slmrec.metrics import METRIC_KEYS
from slmrec.stages import MODEL_STAGES, label

LABELS = {s: label(s) for s in MODEL_STAGES}  # depths as M and N (the run's are said above the tables)


def _read(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


def collect(run_dir: Path) -> dict:
    return {s: r for s in MODEL_STAGES if (r := _read(Path(run_dir) / s / "result.json")) is not None}


def _fmt(x) -> str:
    return f"{x:.4f}" if isinstance(x, float) else str(x)


def results_markdown(run_dir: Path, cfg) -> str:
    metrics = collect(run_dir)
    probe = _read(Path(run_dir) / "probe" / "result.json")
    stages = set(metrics) | ({"probe"} if probe else set())
    c = cfg.llm
    negatives = next((r.get("negatives") for r in metrics.values()), cfg.eval.negatives)
    models = []  # what this run trained, said only for the stages it has
    if "teacher" in metrics or "probe" in stages:
        models.append(f"teacher M={c.teacher_layers} layers")
    if "student" in metrics:
        models.append(f"student N={c.student_layers} distilled over B={cfg.distill.blocks} blocks")
    elif "student_nokd" in metrics:
        models.append(f"student N={c.student_layers} (no KD)")
    described = (
        f"Backbone `{c.backbone}`: {', '.join(models)}, {c.finetune}; " if models else "SASRec only (no LLM stage); "
    )
    lines = [
        f"# SLMRec run `{Path(run_dir).name}`",
        "",
        f"{described}1 positive + {negatives} fixed negatives per "
        f"user (`full_*`: ranked among all items); ties count against the target; selection on validation "
        f"{cfg.eval.select}.",
        "",
    ]
    cols = list(METRIC_KEYS) + ["full_hr@10", "full_ndcg@10", "full_mrr", "tie_rate"]
    for split in ("test", "valid"):
        lines += [f"## {split}", "", "| model | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        for s, r in metrics.items():
            lines.append(f"| {LABELS[s]} | " + " | ".join(_fmt(r[split].get(k, "")) for k in cols) + " |")
        lines.append("")
    lines += [
        "## cost",
        "",
        "| model | parameters | trainable | train s/epoch | inference users/s | data time |",
        "|---|---|---|---|---|---|",
    ]
    for s, r in metrics.items():
        lines.append(
            f"| {LABELS[s]} | {r['params']['total']:,} | {r['params']['trainable']:,} | "
            f"{r['train_seconds_per_epoch']:.2f} | {r['inference_users_per_s']:.1f} | "
            f"{100 * r['data_fraction']:.1f}% |"
        )
    lines += [
        "",
        "## training budget",
        "",
        "| model | optimizer steps | examples seen | best step | stopped early | note |",
        "|---|---|---|---|---|---|",
    ]
    for s, r in metrics.items():
        if "total_steps" not in r:  # a stage from before steps were recorded
            continue
        note = "best in the last 10% of training: possibly under-trained" if r["best_in_last_10pct"] else ""
        lines.append(
            f"| {LABELS[s]} | {r['total_steps']:,} of {r['planned_steps']:,} | {r['examples_seen']:,} | "
            f"{r['best_step']:,} | {'yes' if r['stopped_early'] else 'no'} | {note} |"
        )
    if probe:
        lines += [
            "",
            "## layer probe (teacher scored with its first k layers, test)",
            "",
            "| k | hr@10 | ndcg@10 | mrr | full_hr@10 |",
            "|---|---|---|---|---|",
        ]
        for k in probe["layers"]:
            m = probe["test"][str(k)]
            lines.append(
                f"| {k} | {_fmt(m['hr@10'])} | {_fmt(m['ndcg@10'])} | {_fmt(m['mrr'])} | "
                f"{_fmt(m.get('full_hr@10', ''))} |"
            )
    plots = "`curves.png` (training loss, validation metric)" + (", `probe.png` (layer probe)" if probe else "")
    lines += ["", f"Plots: {plots}.", ""]
    return "\n".join(lines)


def _save_fig(fig, path: Path) -> None:
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)


def plot_curves(run_dir: Path, select: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for s in MODEL_STAGES:
        h = _read(Path(run_dir) / s / "history.json")
        if not h:
            continue
        if h["losses"]:  # the next-item CE of every model (comparable); the distilled student's total dashed
            steps = [x["step"] for x in h["losses"]]
            line = ax1.plot(steps, [x["ce"] for x in h["losses"]], label=f"{s} CE")[0]
            if s == "student":
                ax1.plot(steps, [x["loss"] for x in h["losses"]], "--", color=line.get_color(), label="student total")
        if h["evals"]:
            ax2.plot([x["step"] for x in h["evals"]], [x[select] for x in h["evals"]], marker="o", label=s)
    ax1.set(xlabel="optimizer step", ylabel="training loss", title="training loss (next-item CE)", yscale="log")
    ax2.set(xlabel="optimizer step", ylabel=f"validation {select}", title=f"validation {select} (sampled)")
    for ax in (ax1, ax2):
        if ax.get_legend_handles_labels()[0]:  # an empty legend only warns ("No artists with labels")
            ax.legend()
        ax.grid(alpha=0.3)
    _save_fig(fig, Path(run_dir) / "curves.png")
    plt.close(fig)


def plot_probe(run_dir: Path, out: Path | None = None) -> bool:
    """Writes ``out`` (default the run's ``probe.png``) when the run has a probe result; returns whether it did."""
    probe = _read(Path(run_dir) / "probe" / "result.json")
    if not probe:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ks = probe["layers"]
    for key in ("hr@10", "ndcg@10", "mrr"):
        ax.plot(ks, [probe["test"][str(k)][key] for k in ks], marker="o", label=key)
    ax.set(xlabel="teacher layers kept (k)", ylabel="test metric", title="layer probe: teacher with its first k layers")
    ax.set_xticks(ks)  # layer counts are integers
    ax.legend()
    ax.grid(alpha=0.3)
    _save_fig(fig, Path(out) if out else Path(run_dir) / "probe.png")
    plt.close(fig)
    return True


def write_all(run_dir: Path, cfg) -> list[str]:
    """Writes the report; returns the names of the files written, in ``run_dir``."""
    run_dir = Path(run_dir)
    checkpoint.write_json(run_dir / "metrics.json", collect(run_dir))
    tmp = run_dir / "results.md.tmp"
    tmp.write_text(results_markdown(run_dir, cfg))
    os.replace(tmp, run_dir / "results.md")
    plot_curves(run_dir, cfg.eval.select)
    written = ["metrics.json", "results.md", "curves.png"]
    if plot_probe(run_dir):
        written.append("probe.png")
    return written
