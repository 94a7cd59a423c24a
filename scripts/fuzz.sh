#!/usr/bin/env bash
# Coverage-guided fuzzing of the data layer's readers, bounded in time (for CI).
#
#   bash scripts/fuzz.sh [SECONDS] [SEED]   # default 60 seconds per target; a random libFuzzer seed
#
# With SEED (a positive integer) every target runs libFuzzer with -seed=SEED, so the inputs it tries are the
# same sequence on every run, cut off by the time limit: CI passes a fixed seed, so a CI failure reproduces
# with the same command, and a longer local run with that seed covers what CI tries. Without it each run
# explores afresh (what a session does to look for new bugs, for longer).
# Builds the cargo-fuzz targets of rust/slmrec-core/fuzz (optimised, with debug assertions and overflow
# checks, under AddressSanitizer) and runs each one for SECONDS, seeded with the hostile-input corpus of
# tests/corpus (copied into a temporary corpus directory; tests/corpus is never written). Targets:
#   json_line  the JSON line scanner (seeds: every line of the corpus's JSON files)
#   read_file  every reader (amazon-json, amazon23, ratings-csv, recbole, seq, table and Parquet, movielens,
#              yelp, auto-detection; plain or gzip) under both bad-line policies and recipes (seeds: every corpus
#              file, with selector bytes)
#   read_meta  the metadata reader (--meta, 2018 and 2023 schemas) under both policies (seeds: the corpus's JSON
#              files)
#   read_table the delimited-text table reader (RFC 4180 quoting, the header, the delimiter detected or given)
#              under both policies (seeds: the corpus's table, csv and movielens files)
#   amazon23_line  the Amazon 2023 line scanner and reader (seeds: every line of the corpus's JSON files)
# Leak detection is off (libFuzzer's -detect_leaks=0, and ASAN_OPTIONS=detect_leaks=0, without which
# LeakSanitizer's own check still runs): a leak is not a memory-safety bug in Rust, and LeakSanitizer reports
# glibc's per-thread TLS-destructor list (allocated in __cxa_thread_atexit_impl) of the reader and parser
# threads now and then, a false positive that does not reproduce when the input is run again (CI once failed on
# an empty input that way).
# Prints, per target, how long it ran, how many inputs it executed and the corpus it ended with. Exits
# non-zero when a target crashes (a panic, a sanitizer report, a timeout or running out of memory); the
# input that did it is copied to rust/slmrec-core/fuzz/artifacts/TARGET/ (reproduce with
# `cargo fuzz run TARGET ARTIFACT`). Exits 0 with a message, doing nothing, when cargo-fuzz is missing and
# cannot be installed (`cargo install cargo-fuzz --locked`).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_PER_TARGET=${1:-60}
SEED=${2:-0}
if ! [[ $SECONDS_PER_TARGET =~ ^[0-9]+$ && $SEED =~ ^[0-9]+$ ]] || (( SECONDS_PER_TARGET < 1 )); then
    echo "usage: bash scripts/fuzz.sh [SECONDS] [SEED]   (a positive number of seconds per target; a seed)" >&2
    exit 2
fi
FUZZ_DIR=$ROOT/rust/slmrec-core/fuzz
CORPUS=$ROOT/tests/corpus

if ! command -v cargo >/dev/null 2>&1; then
    echo "fuzz.sh: skipped: cargo is not installed"
    exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: cargo-fuzz is missing; installing it (cargo install cargo-fuzz --locked)"
    if ! cargo install cargo-fuzz --locked; then
        echo "fuzz.sh: skipped: cargo-fuzz is not installed and could not be installed"
        exit 0
    fi
fi
# cargo-fuzz needs nightly flags (-Zsanitizer); on a stable toolchain RUSTC_BOOTSTRAP=1 enables them.
if ! rustc --version | grep -q nightly; then
    export RUSTC_BOOTSTRAP=1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/slmrec-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# ---- seeds (into $WORK/seeds/TARGET; the corpus itself is only read)
python3 - "$CORPUS" "$WORK/seeds" <<'PY'
import hashlib, sys
from pathlib import Path

corpus, seeds = Path(sys.argv[1]), Path(sys.argv[2])
files = sorted(p for p in corpus.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")
               and p.name != "cases.json" and "__pycache__" not in p.parts)
# read_file's selector: bits 0-2 a format of Format::ALL (amazon-json, amazon23, ratings-csv, recbole, seq,
# table, movielens, yelp), 8 detection, 16 fail, 32 kcore, 64 a small line limit, 128 an .inter name
FORMAT = {"json": 0, "amazon23": 1, "csv": 2, "recbole": 3 | 128, "seq": 4, "table": 5, "parquet": 5,
          "movielens": 6, "yelp": 7, "meta": 0, "gzip": 0, "misc": 0}


def put(target, data):
    d = seeds / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


for p in files:
    data = p.read_bytes()
    kind = p.relative_to(corpus).parts[0]
    inter = 128 if p.name.endswith((".inter", ".inter.gz")) else 0
    for sel in {FORMAT[kind], 8 | inter, 8 | inter | 16, FORMAT[kind] | 32}:
        put("read_file", bytes([sel]) + data)
    if kind in ("json", "meta", "misc", "gzip", "amazon23"):
        put("read_meta", b"\x00" + data)  # byte 0: skip (even) or fail (odd)
    if kind in ("table", "csv", "movielens") and not p.name.endswith(".gz"):
        for sel in (0, 4, 1):  # read_table: delimiter detected (skip, fail), a comma given
            put("read_table", bytes([sel]) + data)
    if kind in ("json", "meta", "amazon23", "yelp") and not p.name.endswith(".gz"):
        for line in data.split(b"\n"):
            if line.strip():
                put("json_line", line.rstrip(b"\r"))
                put("amazon23_line", b"\x00" + line.rstrip(b"\r"))
for t in ("json_line", "read_file", "read_meta", "read_table", "amazon23_line"):
    print(f"seeds: {t}: {len(list((seeds / t).iterdir()))} inputs")
PY

# ---- build
cd "$FUZZ_DIR"
TARGETS=$(cargo fuzz list)
echo "building: $(echo $TARGETS)"
cargo fuzz build -O -a

# ---- run each target
STATUS=0
SUMMARY=()
for target in $TARGETS; do
    corpus_dir=$WORK/corpus/$target
    artifacts=$WORK/artifacts/$target
    mkdir -p "$corpus_dir" "$artifacts" "$WORK/tmp"
    if [[ -d $WORK/seeds/$target ]]; then
        cp "$WORK/seeds/$target"/* "$corpus_dir"/
    fi
    log=$WORK/$target.log
    echo "fuzzing $target for ${SECONDS_PER_TARGET}s ($(ls "$corpus_dir" | wc -l) seeds)"
    start=$(date +%s.%N)
    rc=0
    # The targets write their input to a file under TMPDIR: keep that inside $WORK.
    TMPDIR=$WORK/tmp ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 cargo fuzz run -O -a "$target" "$corpus_dir" -- \
        -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -timeout=30 -rss_limit_mb=4096 -detect_leaks=0 \
        -print_final_stats=1 -seed="$SEED" -artifact_prefix="$artifacts/" >"$log" 2>&1 || rc=$?
    end=$(date +%s.%N)
    ran=$(python3 -c "print(f'{$end - $start:.1f}')")
    stat() { grep -m1 "^stat::$1:" "$log" | awk '{print $2}'; }
    execs=$(stat number_of_executed_units)
    per_s=$(stat average_exec_per_sec)
    rss=$(stat peak_rss_mb)
    cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+' | awk '{print $2}')
    units=$(ls "$corpus_dir" | wc -l)
    line="$target: ran ${ran}s, ${execs:-?} execs (${per_s:-?}/s), coverage ${cov:-?} edges, corpus $units inputs, peak RSS ${rss:-?} MB"
    if (( rc != 0 )) || ls "$artifacts" | grep -q .; then
        STATUS=1
        line="$line: CRASH (exit $rc)"
        mkdir -p "$FUZZ_DIR/artifacts/$target"
        cp "$artifacts"/* "$FUZZ_DIR/artifacts/$target/" 2>/dev/null || true
        echo "---- $target: last lines of the libFuzzer log" >&2
        tail -40 "$log" >&2
        echo "---- inputs saved in $FUZZ_DIR/artifacts/$target/: $(ls "$artifacts" | tr '\n' ' ')" >&2
    fi
    echo "$line"
    SUMMARY+=("$line")
done

echo
echo "fuzz summary (${SECONDS_PER_TARGET}s per target, seed ${SEED/#0/random}):"
printf '  %s\n' "${SUMMARY[@]}"
if (( STATUS != 0 )); then
    echo "fuzz.sh: a target crashed (see above)" >&2
fi
exit $STATUS
