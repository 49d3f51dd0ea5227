#!/bin/bash
# The issue-11 "Pair eagerly" scenario, streamed (nothing written to disk): one ALB node,
# RATE requests/s of small keep-alive traffic over CONNS connections for SECONDS, HANGS requests
# the target never answers (the ALB answers them 504 after IDLE s), analysed by each BINARY at
# once from one generator (tee), with --threads 1. Prints per binary: the pairing peak, the
# legs paired early, the requests counted, CPU seconds and peak RSS.
#
#   benches/hanging.sh [BINARY...]      (default: target/release/albscope)
#   DURATION=300 RATE=20000 CONNS=3000 HANGS=5 IDLE=60 benches/hanging.sh /tmp/ref8/albscope target/release/albscope
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_=${DURATION:-300}
RATE=${RATE:-20000}; CONNS=${CONNS:-3000}; HANGS=${HANGS:-5}; IDLE=${IDLE:-60}
[ $# -gt 0 ] || set -- target/release/albscope
cargo build --release -q -p albscope-synth --example hanging_load </dev/null
GEN=target/release/examples/hanging_load
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
fifos=(); i=0
for bin in "$@"; do
  mkfifo "$WORK/in$i"
  /usr/bin/time -f '%U+%S s cpu, %M KB peak RSS' "$bin" analyze --threads 1 --idle-timeout "$IDLE" \
    --format json -o "$WORK/out$i.json" "$WORK/in$i" 2>"$WORK/time$i" &
  fifos+=("$WORK/in$i"); i=$((i + 1))
done
"$GEN" - "$SECONDS_" "$RATE" "$CONNS" "$HANGS" "$IDLE" 1 2>"$WORK/gen" | tee "${fifos[@]}" >/dev/null
wait
echo "scenario: ${SECONDS_} s at $RATE req/s over $CONNS connections, $HANGS hanging, ${IDLE} s idle; $(cat "$WORK/gen")"
i=0
for bin in "$@"; do
  python3 - "$bin" "$WORK/out$i.json" "$(tail -1 "$WORK/time$i")" <<'PY'
import json, sys
d = json.load(open(sys.argv[2]))
l, s = d["alb_limits"], d["summary"]
print(f"{sys.argv[1]}: pairing peak {l['pairing_peak_bytes']:,} B, legs paired early {l['legs_paired_early']:,}, "
      f"requests {s['requests']:,} ({s['failed']} failed), {sys.argv[3]}")
PY
  i=$((i + 1))
done
