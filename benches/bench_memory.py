"""Memory bounds: ``slmrec-prep`` on multi-gigabyte dumps, and a sampler over 10 million users.

    python benches/bench_memory.py [--sizes-gb 1,5] [--sampler-users 10000000] [--workdir /tmp] [--json OUT]

1. Preparation. For each size, a review dump of at least that many bytes *uncompressed* is generated with
   ``slmrec.synth.generate_to_size`` (gzip, seed 0, under ``--workdir``; deleted afterwards unless ``--keep``),
   then ``slmrec-prep FILE --out DIR -q`` (recipe kcore 5/5, all cores) runs in a fresh process whose peak RSS
   is its own ``os.wait4`` rusage (it is started from a small launcher, so it does not inherit this script's
   RSS). Reported: peak RSS, the records read and the interactions kept, and the bytes of peak RSS per record
   and per kept interaction. Across sizes, the bytes per record should stay flat (memory follows the records,
   not the bytes of text around them), and the RSS should stay far below the dump's size.
2. Sampler. In a fresh process: a history CSR of ``--sampler-users`` users (lengths 3..12, 200k items, built in
   NumPy), then ``NegativeSampler`` on it, then one ``sample`` of 20 negatives for 1M users, then
   ``eval_candidates`` (99) for 1M users. Reported: RSS (``VmRSS``) and peak (``VmHWM``) after each step against
   the arrays' ``nbytes``: the sampler's own memory (its copy of the CSR, converted to its internal layout) must
   be bounded by the arrays' size plus a constant, and a call's peak by its result's size plus a constant.

A measurement script, not a test: pytest never collects it. The machine it ran on is shared (2 cores, 23 GB);
timings are indicative only, memory figures are what matters.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "benches"))
from bench_prep import measure  # noqa: E402  (one child-process measurement for every bench)

GB = 10**9
MB = 1 << 20


def prep_child(src: str, out: str, *extra: str) -> None:
    """The measured process: slmrec-prep's own entry point, then the counts."""
    from slmrec.cli.prep import prep_main

    rc = prep_main([src, "--out", out, "-q", *extra])
    if rc != 0:
        sys.exit(rc)
    stats = json.loads((Path(out) / "stats.json").read_text())
    print(json.dumps({k: stats[k] for k in ("records", "interactions", "users", "items", "lines_read")}))


def prep_baseline(workdir: Path) -> dict:
    """The same process on a 6-line file: the interpreter, the imports and the fixed buffers."""
    src = ROOT / "tests" / "corpus" / "json" / "good.json"
    out = workdir / "slmrec-mem-baseline.ds"
    shutil.rmtree(out, ignore_errors=True)
    try:
        return measure([sys.executable, __file__, "--child-prep", str(src), str(out), "--recipe", "none"])
    finally:
        shutil.rmtree(out, ignore_errors=True)


def bench_prep(size_gb: float, workdir: Path, keep: bool, baseline_mb: float) -> dict:
    from slmrec import synth

    src = workdir / f"slmrec-mem-{size_gb:g}gb.json.gz"
    out = workdir / f"slmrec-mem-{size_gb:g}gb.ds"
    try:
        start = time.perf_counter()
        if src.exists() and keep:
            summary = {"bytes": None, "file_bytes": src.stat().st_size, "reused": True}
        else:
            summary = synth.generate_to_size(src, int(size_gb * GB), seed=0)
        gen_seconds = time.perf_counter() - start
        print(
            f"generated {src} ({summary['file_bytes'] / GB:.2f} GB gzip, "
            f"{(summary['bytes'] or 0) / GB:.2f} GB uncompressed) in {gen_seconds:.0f} s",
            flush=True,
        )
        if out.exists():
            shutil.rmtree(out)
        r = measure([sys.executable, __file__, "--child-prep", str(src), str(out)])
        r.update(
            size_gb=size_gb,
            uncompressed_bytes=summary["bytes"],
            file_bytes=summary["file_bytes"],
            generate_seconds=gen_seconds,
        )
        rss = (r["peak_rss_mb"] - baseline_mb) * MB  # above the fixed cost of the process
        r["baseline_rss_mb"] = baseline_mb
        r["rss_bytes_per_record"] = rss / r["records"]
        r["rss_bytes_per_interaction"] = rss / r["interactions"]
        if summary["bytes"]:
            r["rss_fraction_of_dump"] = r["peak_rss_mb"] * MB / summary["bytes"]
        print(
            f"  slmrec-prep: {r['seconds']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB ({baseline_mb:.0f} MB of it "
            f"the process's fixed cost), {r['records']:,} records -> {r['interactions']:,} interactions kept: "
            f"{r['rss_bytes_per_record']:.0f} B/record, {r['rss_bytes_per_interaction']:.0f} B/kept interaction "
            "above the fixed cost",
            flush=True,
        )
        return r
    finally:
        shutil.rmtree(out, ignore_errors=True)
        if not keep:
            src.unlink(missing_ok=True)


def _mem() -> dict:
    status = Path("/proc/self/status").read_text()
    get = lambda key: int(next(x for x in status.splitlines() if x.startswith(key)).split()[1]) * 1024  # noqa: E731
    return {"rss": get("VmRSS:"), "hwm": get("VmHWM:")}


def _reset_hwm() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def sampler_child(users: int) -> None:
    import numpy as np

    from slmrec.sampling import NegativeSampler

    steps = {"start": _mem()}
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 13, users)
    offsets = np.zeros(users + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    del lengths
    num_items = 200_000
    items = (rng.integers(0, num_items, int(offsets[-1]), dtype=np.uint32) + 1).astype(np.uint32)
    arrays = offsets.nbytes + items.nbytes
    steps["arrays"] = _mem()
    can_reset = _reset_hwm()
    t = time.perf_counter()
    s = NegativeSampler(offsets, items, num_items, seed=0)
    build_seconds = time.perf_counter() - t
    steps["sampler"] = _mem()
    _reset_hwm()
    batch = np.arange(0, users, max(1, users // 1_000_000))[:1_000_000]
    t = time.perf_counter()
    negs = s.sample(batch, 20, epoch=0)
    sample_seconds = time.perf_counter() - t
    steps["sample"] = _mem()
    result_bytes = negs.nbytes
    del negs
    steps["sample_freed"] = _mem()
    _reset_hwm()
    pos = items[offsets[batch + 1] - 1].astype(np.int64)
    t = time.perf_counter()
    cands = s.eval_candidates(batch, pos, 99)
    cand_seconds = time.perf_counter() - t
    steps["candidates"] = _mem()
    cand_bytes = cands.nbytes
    del cands
    print(
        json.dumps(
            {
                "users": users,
                "interactions": int(offsets[-1]),
                "num_items": num_items,
                "array_bytes": arrays,
                "offsets_bytes": offsets.nbytes,
                "items_bytes": items.nbytes,
                "steps": steps,
                "hwm_reset": can_reset,
                "sample_result_bytes": result_bytes,
                "candidates_result_bytes": cand_bytes,
                "build_seconds": build_seconds,
                "sample_seconds": sample_seconds,
                "candidates_seconds": cand_seconds,
            }
        )
    )


def bench_sampler(users: int) -> dict:
    r = measure([sys.executable, __file__, "--child-sampler", str(users)])
    st = r["steps"]
    r["sampler_rss_bytes"] = st["sampler"]["rss"] - st["arrays"]["rss"]
    r["sampler_peak_bytes"] = st["sampler"]["hwm"] - st["arrays"]["rss"]
    r["sample_peak_over_rss_bytes"] = st["sample"]["hwm"] - st["sampler"]["rss"]
    r["candidates_peak_over_rss_bytes"] = st["candidates"]["hwm"] - st["sample_freed"]["rss"]
    mb = lambda b: f"{b / MB:.0f} MB"  # noqa: E731
    print(
        f"sampler over {users:,} users, {r['interactions']:,} interactions: arrays {mb(r['array_bytes'])} "
        f"(offsets {mb(r['offsets_bytes'])}, items {mb(r['items_bytes'])}); sampler adds {mb(r['sampler_rss_bytes'])} "
        f"RSS (peak {mb(r['sampler_peak_bytes'])}) = {r['sampler_rss_bytes'] / r['array_bytes']:.2f}x the arrays, "
        f"built in {r['build_seconds']:.2f} s; sample(1M users, 20): peak +{mb(r['sample_peak_over_rss_bytes'])} "
        f"for a {mb(r['sample_result_bytes'])} result in {r['sample_seconds']:.2f} s; eval_candidates(1M, 99): "
        f"peak +{mb(r['candidates_peak_over_rss_bytes'])} for a {mb(r['candidates_result_bytes'])} result "
        f"in {r['candidates_seconds']:.2f} s; process peak {r['peak_rss_mb']:.0f} MB",
        flush=True,
    )
    return r


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-prep":
        return prep_child(*sys.argv[2:])
    if len(sys.argv) > 1 and sys.argv[1] == "--child-sampler":
        return sampler_child(int(sys.argv[2]))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes-gb", default="1,5", help="uncompressed dump sizes, comma-separated (default 1,5)")
    p.add_argument("--sampler-users", type=int, default=10_000_000)
    p.add_argument("--workdir", default="/tmp", type=Path)
    p.add_argument("--keep", action="store_true", help="keep (and reuse) the generated dumps")
    p.add_argument("--skip-prep", action="store_true")
    p.add_argument("--skip-sampler", action="store_true")
    p.add_argument("--json", type=Path, help="write the results here")
    args = p.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    results = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_start": os.getloadavg()},
        "prep": [],
        "sampler": None,
    }
    if not args.skip_prep:
        base = prep_baseline(args.workdir)
        results["prep_baseline"] = base
        print(f"slmrec-prep on a 6-line file: peak RSS {base['peak_rss_mb']:.0f} MB (the fixed cost)", flush=True)
        for size in (float(s) for s in args.sizes_gb.split(",")):
            results["prep"].append(bench_prep(size, args.workdir, args.keep, base["peak_rss_mb"]))
        if len(results["prep"]) > 1:
            per = [r["rss_bytes_per_record"] for r in results["prep"]]
            print(
                f"bytes of peak RSS per record across sizes: {', '.join(f'{x:.0f}' for x in per)} "
                f"(max/min {max(per) / min(per):.2f})"
            )
    if not args.skip_sampler:
        results["sampler"] = bench_sampler(args.sampler_users)
    results["machine"]["load_end"] = os.getloadavg()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
