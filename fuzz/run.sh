#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for a fixed budget, one at a time, and prints a
# table: executions, exec/s, coverage, corpus size and crashes per target. Not part of
# `cargo test`; needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
#
#   fuzz/run.sh SECONDS [TARGET ...]
#
# Each target fuzzes its committed corpus (fuzz/corpus/TARGET, minimised; new inputs are added
# to it) and its seeds (fuzz/seeds/TARGET, written from the real fixtures by tools/seed.py).
# A crash, hang (over 10 s per input) or OOM (over 2 GiB) stops that target and leaves its
# input in fuzz/artifacts/TARGET/; reproduce it with `fuzz/target/*/release/TARGET FILE`.
# Logs: fuzz/logs/TARGET.log. FUZZ_NO_BUILD=1 runs the binaries as last built.
# Minimise a corpus afterwards: `fuzz/target/*/release/TARGET -set_cover_merge=1 NEW_DIR
# fuzz/corpus/TARGET`, then replace the corpus with NEW_DIR (`cargo +nightly fuzz cmin -s none
# TARGET` does the plain merge).
set -uo pipefail
cd "$(dirname "$0")"

if [ $# -lt 1 ] || ! [[ "$1" =~ ^[0-9]+$ ]]; then
    echo "usage: $0 SECONDS [TARGET ...]" >&2
    exit 2
fi
SECONDS_EACH=$1
shift
# The build settings of every run (and of `cargo fuzz cmin/tmin` by hand): no sanitizer (the
# project is safe Rust; panics, overflows, hangs and OOMs are what is looked for), debug
# assertions on (cargo fuzz's default), several codegen units (a build that fits 2 cores).
BUILD=(-s none --codegen-units 16)
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    mapfile -t TARGETS < <(cargo +nightly fuzz list)
fi

[ -n "${FUZZ_NO_BUILD:-}" ] || cargo +nightly fuzz build "${BUILD[@]}" >&2 || exit 1
BIN=target/x86_64-unknown-linux-gnu/release
[ -d seeds ] || python3 tools/seed.py >&2
mkdir -p logs

printf '%-18s %10s %8s %7s %7s %7s %9s  %s\n' target executions exec/s cov ft corpus "corpus KB" crashes
status=0
for t in "${TARGETS[@]}"; do
    corpus=corpus/$t
    if [ ! -d "$corpus" ]; then
        mkdir -p "$corpus"
        cp seeds/"$t"/* "$corpus"/ 2>/dev/null
    fi
    mkdir -p artifacts/"$t"
    before=$(ls artifacts/"$t" | wc -l)
    # The seeds (regenerated from the fixtures, not committed) are read too, never written.
    "$BIN/$t" "$corpus" seeds/"$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix=artifacts/"$t"/ >logs/"$t".log 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' logs/"$t".log | tail -1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' logs/"$t".log | tail -1)
    cov=$(grep -o 'cov: [0-9]*' logs/"$t".log | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' logs/"$t".log | tail -1 | cut -d' ' -f2)
    files=$(ls "$corpus" | wc -l)
    kb=$(( $(du -sb "$corpus" | cut -f1) / 1024 ))
    new=$(ls -t artifacts/"$t" | head -n $(( $(ls artifacts/"$t" | wc -l) - before )) | tr '\n' ' ')
    if [ "$rc" -ne 0 ]; then
        status=1
        why=$(grep -m1 -oE 'panicked at [^ ]+|deadly signal|timeout after [0-9]+ seconds|out-of-memory \([^)]*\)|ERROR: libFuzzer: [a-z-]+' logs/"$t".log)
        crashes="1: ${why:-exit $rc} ${new}"
    else
        crashes=0
    fi
    printf '%-18s %10s %8s %7s %7s %7s %9s  %s\n' "$t" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "$files" "$kb" "$crashes"
done
exit $status
