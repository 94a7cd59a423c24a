"""The efficiency table of benches/bench_efficiency.py as Markdown, put into README.md and docs/RESULTS.md.

    python benches/efficiency_table.py [benches/results/efficiency_cpu.json ...]

Design: every number comes from the bench's JSON (never typed in). The table replaces what stands between the
markers ``<!-- efficiency:begin -->`` and ``<!-- efficiency:end -->`` in each document (runs/report.py renders
the same section with :func:`section` when it rewrites RESULTS.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- efficiency:begin -->", "<!-- efficiency:end -->"
DEFAULT = [ROOT / "benches" / "results" / "efficiency_cpu.json", ROOT / "benches" / "results" / "efficiency_gpu.json"]


def table(res: dict) -> list[str]:
    """The Markdown table and the sentences under it, from one bench JSON."""
    rows, layers = res["rows"], res["layers"]
    depth = {"full": layers["full"], "teacher": layers["teacher"], "student": layers["student"]}
    mem = "peak GPU MiB" if res["device"] != "cpu" else "peak RSS MiB"
    lines = [
        f"| model | layers | total params | trainable params | share of full (total / trainable) | "
        f"train s / 1k examples | inference users/s | {mem} train / serve |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key in ("sasrec", "full", "teacher", "student"):
        r = rows[key]
        cache = f" (+ {r['cache_s_per_1000']:.1f} once: teacher cache)" if "cache_s_per_1000" in r else ""
        lines.append(
            f"| {r['label']} | {depth.get(key, '-')} | {r['params_total']:,} | {r['params_trainable']:,} | "
            f"{r['params_share_of_full']:.1%} / {r['trainable_share_of_full']:.1%} | "
            f"{r['train_s_per_1000']:.1f}{cache} | {r['infer_users_per_s']:,.1f} | "
            f"{r['train_peak_mib']:,.0f} / {r['infer_peak_mib']:,.0f} |"
        )
    q, t, d = res["ratios"], res["targets"], res["dataset"]
    per_layer = ("full", "teacher", "student")
    ok = lambda k: "met" if res["met"][k] else "missed"  # noqa: E731
    lines += [
        "",
        f"`{res['command']}` on {res['device']} ({res['threads']} torch thread{'' if res['threads'] == 1 else 's'}, "
        f"{res['precision']}, torch "
        f"{res['torch']}, {res['date']}; 1-min load average {res['load_average_1min']['start']:.1f} at start, "
        f"{res['load_average_1min']['end']:.1f} at the end), backbone `{res['backbone']}`, "
        f"{'the alpaca prompt, ' if res['prompt'] else ''}history {res['max_len']}, batch "
        f"{res['batch']['llm']} (SASRec {res['batch']['sasrec']}); a synthetic dataset of {d['users']:,} users, "
        f"{d['items']:,} items, {d['interactions']:,} interactions. Numbers from "
        f"`{res.get('_source', 'benches/results/efficiency_cpu.json')}`.",
        "",
        f"- Student inference: {q['student_vs_full_inference']:.2f}x the full-depth model's users/s (target "
        f"{t['student_vs_full_inference']:.0f}x, {layers['full']} -> {layers['student']} layers: ideal "
        f"{layers['full'] / layers['student']:.1f}x): {ok('student_vs_full_inference')}; "
        f"{q['student_vs_teacher_inference']:.2f}x the teacher's (target {t['student_vs_teacher_inference']}x): "
        f"{ok('student_vs_teacher_inference')}.",
        "- Users/s x layers, which would be equal across the LLM rows if only their decoder layers cost: "
        + ", ".join(f"{rows[k]['label']} {rows[k]['infer_users_per_s'] * depth[k]:,.0f}" for k in per_layer)
        + (
            "; the deeper model is slower per layer here, so a ratio above the layer ratio is measured, not an "
            "error (the layer ratio is no ceiling on a CPU)."
            if q["student_vs_full_inference"] > layers["full"] / layers["student"]
            else "; the layers shared by every row (embeddings, score head, top-k) keep the ratios below the layer "
            "ratios."
        ),
        f"- Student training: {q['student_vs_full_training']:.2f}x faster per example than fine-tuning the "
        "full-depth model (its loop includes reading the cached teacher states; the cache costs one teacher "
        "forward pass per training example, once per stage, shown in brackets).",
        "- Inference is `Recommender.recommend` (encode + score every item + top-10 with the history excluded) "
        "at the run's evaluation batch; training is `Pipeline.run_stage`'s loop, timed by the stage itself "
        "(no evaluation, no checkpoint writes). Each row trained and served in its own fresh process.",
    ]
    return lines


def section(paths=DEFAULT) -> list[str]:
    """The whole section (a heading per device) from the bench JSONs that exist."""
    out = []
    for p in paths:
        p = Path(p)
        if p.is_file():
            res = json.loads(p.read_text())
            res["_source"] = str(p.resolve().relative_to(ROOT)) if p.resolve().is_relative_to(ROOT) else str(p)
            out += [f"#### {'CPU' if res['device'] == 'cpu' else res['device']}", "", *table(res), ""]
    if not any(Path(p).name.endswith("gpu.json") and Path(p).is_file() for p in paths):
        out += [
            "No GPU was lent to the session that ran this bench: the bf16 GPU table is still to be measured "
            "(`python benches/bench_efficiency.py` on a GPU machine writes benches/results/efficiency_gpu.json).",
            "",
        ]
    return out


SCALE = ROOT / "benches" / "results" / "recommend_scale_cpu.json"
SCALE_BEGIN, SCALE_END = "<!-- scale:begin -->", "<!-- scale:end -->"


def scale_lines(path: Path = SCALE) -> list[str]:
    """The sentence of benches/bench_recommend_scale.py's JSON."""
    if not path.is_file():
        return ["Not measured yet (`python benches/bench_recommend_scale.py`)."]
    r = json.loads(path.read_text())
    return [
        f"`{r['command']}` ({r['date']}, {r['threads']} torch thread{'' if r['threads'] == 1 else 's'}, "
        "1-min load average "
        f"{r['load_average_1min']:.1f} at the end): {r['users']:,} users x {r['items']:,} items "
        f"({r['interactions']:,} interactions), top-{r['k']} with the history excluded, batch {r['batch_size']}: "
        f"{r['seconds'] / 60:.1f} min ({r['users_per_s']:,.0f} users/s), {r['rows']:,} rows; peak RSS "
        f"{r['peak_rss_mib']:,.0f} MiB ({r['rss_before_mib']:,.0f} MiB before the call: model, histories and id "
        f"maps) of the machine's {r['machine_memory_gib']:.0f} GiB; one batch's score matrix is "
        f"{r['score_matrix_mib']:.0f} MiB. From `benches/results/{path.name}`."
    ] + (
        []
        if r["users"] >= 1_000_000
        else [
            "",
            f"1,000,000 users were not run to the end here (the machine was shared; at this rate they take "
            f"{1_000_000 / r['users_per_s'] / 60:.0f} min): the time is linear in the users, and the memory beyond the "
            f"RSS before the call grows only with the result (users x k ids and scores) and the histories held, not "
            f"with users x items.",
        ]
    )


def insert(doc: Path, lines: list[str], begin: str = BEGIN, end: str = END) -> None:
    text = doc.read_text()
    if begin not in text or end not in text:
        raise SystemExit(f"{doc}: no {begin} ... {end} markers to replace")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    doc.write_text(head + begin + "\n" + "\n".join(lines) + "\n" + end + tail)


def main(argv=None) -> int:
    paths = [Path(p) for p in (argv if argv is not None else sys.argv[1:])] or DEFAULT
    lines = section(paths)
    for doc in (ROOT / "README.md", ROOT / "docs" / "RESULTS.md"):
        insert(doc, lines)
        print(f"updated {doc.relative_to(ROOT)}")
    insert(ROOT / "README.md", scale_lines(), SCALE_BEGIN, SCALE_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
