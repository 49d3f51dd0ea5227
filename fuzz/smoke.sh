#!/usr/bin/env bash
# CI fuzz smoke test: builds every fuzz target once and runs each for a few seconds, starting
# from the committed corpus (new inputs go to a scratch directory, not into the repository).
# Exits non-zero when a target crashes (the reproducer is left in fuzz/artifacts/<target>/;
# copy it into fuzz/corpus/<target>/ once fixed so tests/robust_fuzz_corpus.rs replays it).
#
# Environment: FUZZ_SECONDS (per target, default 10), FUZZ_JOBS (targets at once, default 2).
# Uses the nightly toolchain when installed, else stable with RUSTC_BOOTSTRAP=1.
set -euo pipefail

cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-10}"
jobs="${FUZZ_JOBS:-2}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi
# Same flags as the long runs: optimised, debug assertions and overflow checks on, no sanitizer
# (the crate forbids unsafe code; assertions and panics are what the targets check).
build_flags=(-s none)

targets=$("${fuzz[@]}" list)
echo "fuzz smoke: building $(echo "$targets" | wc -w) targets"
"${fuzz[@]}" build "${build_flags[@]}"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
run_one() {
    local t="$1"
    mkdir -p "$scratch/$t"
    if "${fuzz[@]}" run "${build_flags[@]}" "$t" "$scratch/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 \
        >"$scratch/$t.log" 2>&1; then
        echo "fuzz smoke: $t ok ($(grep -o 'Done [0-9]* runs' "$scratch/$t.log" | tail -1))"
    else
        echo "fuzz smoke: $t FAILED; last lines of its log:"
        tail -n 40 "$scratch/$t.log"
        return 1
    fi
}

failed=0
pids=()
names=()
for t in $targets; do
    run_one "$t" &
    pids+=($!)
    names+=("$t")
    if [ "${#pids[@]}" -ge "$jobs" ]; then
        wait "${pids[0]}" || failed=1
        pids=("${pids[@]:1}")
        names=("${names[@]:1}")
    fi
done
for p in "${pids[@]}"; do
    wait "$p" || failed=1
done
if [ "$failed" -ne 0 ]; then
    echo "fuzz smoke: a target crashed (reproducers in fuzz/artifacts/)"
    exit 1
fi
echo "fuzz smoke: all targets ran ${seconds}s without a crash"
