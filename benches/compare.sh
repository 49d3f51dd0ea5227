#!/usr/bin/env bash
# Side-by-side throughput of albscope and the reference readers on one capture, plus the
# scale-invariance check (issue 11). See benches/README.md for the recorded results.
#
#   benches/compare.sh CAPTURE                      # the table: analyze (1 and N threads), flows,
#                                                   # tcpdump, tshark http,stat on a 200 MB slice
#   benches/compare.sh --scale BASE N CAPTURE       # ... and check that CAPTURE (N time-shifted
#                                                   # copies of BASE, amplify.py -n N) analyses to
#                                                   # exactly N times BASE's counts
#   benches/compare.sh --scale-only BASE N CAPTURE  # the check alone
#   benches/compare.sh --instructions CAPTURE       # instruction counts (callgrind) of analyze
#                                                   # and flows on a 100 MB slice: robust to load
#
# Each tool runs under `/usr/bin/time` (wall and CPU seconds, peak RSS). MB/s is capture bytes
# over wall seconds; "MB/s cpu" over user+system seconds, which moves less when the machine is
# shared. Packets come from `capinfos` (else from albscope's own JSON stats). The ratio column is
# MB/s against tcpdump's. tshark is timed on a slice (it needs ~0.25 GB of memory per 100 MB).
#
# Environment:
#   ALBSCOPE      albscope binary (default: target/release/albscope, first brought up to date
#                 with `cargo build --release -p albscope-cli`)
#   SLICE_MB      tshark slice size in MB (default 200); ICOUNT_MB for --instructions (default 100)
#   REPEAT        runs per tool, the fastest wall time is kept (default 1)
#   THREADS       N for the `analyze --threads N` row (default: nproc; the 1-thread row runs
#                 `--threads 1`); --instructions also counts that run per thread (its busiest
#                 thread bounds the wall time on idle cores)
#   ANALYZE_ARGS  extra arguments for every `albscope analyze` run (timed and scale check), e.g.
#                 "--pairing-memory 8192" to see whether the pairing budget changes the counts
#   SKIP          comma-separated rows to leave out: analyze,analyze-n,flows,tcpdump,tshark
#   WORK          scratch directory for slices and JSON (default: a fresh one under /tmp, removed)
#   AMPLIFY       amplify.py (for --slice); default ../shared/perf/amplify.py beside the repository
#   INSTALL=0     never apt-get install missing tools (by default, as root, tcpdump, tshark,
#                 wireshark-common (capinfos, editcap), time and valgrind are installed when missing)
set -euo pipefail
{ # the whole script is one block, read before it runs: editing the file mid-run is harmless

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SLICE_MB=${SLICE_MB:-200}
ICOUNT_MB=${ICOUNT_MB:-100}
REPEAT=${REPEAT:-1}
THREADS=${THREADS:-$(nproc)}
SKIP=${SKIP:-}
INSTALL=${INSTALL:-1}
ANALYZE_ARGS=${ANALYZE_ARGS:-}

usage() { sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

MODE=table
BASE=""
COPIES=""
case "${1:-}" in
  -h|--help|"") usage ;;
  --scale|--scale-only)
    [ $# -eq 4 ] || usage
    [ "$1" = --scale-only ] && MODE=scale || MODE=table+scale
    BASE=$2; COPIES=$3; shift 3 ;;
  --instructions)
    [ $# -eq 2 ] || usage
    MODE=instructions; shift ;;
esac
[ $# -eq 1 ] || usage
CAP=$1
[ -f "$CAP" ] || { echo "no such capture: $CAP" >&2; exit 2; }
[ -z "$BASE" ] || [ -f "$BASE" ] || { echo "no such capture: $BASE" >&2; exit 2; }

skipped() { case ",$SKIP," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# --- tools -----------------------------------------------------------------------------------
need_pkg() { # command package
  command -v "$1" >/dev/null && return 0
  if [ "$INSTALL" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "# installing $2 (for $1) with apt-get" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null 2>&1; } || true
  fi
  command -v "$1" >/dev/null
}
[ -x /usr/bin/time ] || need_pkg /usr/bin/time time ||
  { echo "/usr/bin/time is needed (apt-get install time)" >&2; exit 1; }
HAVE_CAPINFOS=0; need_pkg capinfos wireshark-common && HAVE_CAPINFOS=1 || true
HAVE_EDITCAP=0; command -v editcap >/dev/null && HAVE_EDITCAP=1 || true

if [ -z "${ALBSCOPE:-}" ]; then
  # the release binary of this checkout, rebuilt when stale (a no-op when it is current)
  ALBSCOPE=${CARGO_TARGET_DIR:-$REPO/target}/release/albscope
  echo "# cargo build --release -p albscope-cli" >&2
  (cd "$REPO" && cargo build --release -q -p albscope-cli)
fi

if [ -z "${AMPLIFY:-}" ]; then
  for a in "$REPO/../shared/perf/amplify.py" "$REPO/../../shared/perf/amplify.py" \
           /work/shared/perf/amplify.py; do
    [ -f "$a" ] && { AMPLIFY=$a; break; }
  done
fi

if [ -n "${WORK:-}" ]; then mkdir -p "$WORK"; else
  WORK=$(mktemp -d /tmp/albscope-compare.XXXXXX); trap 'rm -rf "$WORK"' EXIT
fi

size_of() { stat -c %s "$1"; }
packets_of() { # file -> packet count (counted once per file)
  local memo
  memo="$WORK/packets.$(readlink -f "$1" | md5sum | cut -c1-16)"
  [ -s "$memo" ] || count_packets "$1" >"$memo"
  cat "$memo"
}
count_packets() {
  if [ "$HAVE_CAPINFOS" = 1 ]; then
    capinfos -c -M -T -r "$1" 2>/dev/null | awk -F'\t' 'NF>1 {print $2; exit}'
  else
    "$ALBSCOPE" analyze --format json -o "$WORK/packets.json" "$1" >/dev/null 2>&1 || true
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stats"]["packets"])' \
      "$WORK/packets.json"
  fi
}

# slice FILE MB OUT: whole packets, about MB megabytes, from the middle of FILE (a mid-stream
# start, as a real capture has); the whole file when it is smaller.
slice() {
  local file=$1 mb=$2 out=$3 size want
  size=$(size_of "$file"); want=$((mb * 1000000))
  if [ "$size" -le "$want" ]; then ln -sf "$(readlink -f "$file")" "$out"; return; fi
  if [ -n "${AMPLIFY:-}" ]; then
    python3 "$AMPLIFY" --slice "$(((size - want) / 2)):$want" "$file" "$out" >/dev/null
  elif [ "$HAVE_EDITCAP" = 1 ]; then
    local pk first count
    pk=$(packets_of "$file"); count=$(awk -v p="$pk" -v w="$want" -v s="$size" 'BEGIN{printf "%d", p*w/s}')
    first=$(((pk - count) / 2 + 1))
    editcap -r "$file" "$out" "$first-$((first + count - 1))" >/dev/null
  else
    echo "slicing needs amplify.py (AMPLIFY=...) or editcap (wireshark-common)" >&2; return 1
  fi
}

# --- measuring -------------------------------------------------------------------------------
ROWS=()
TCPDUMP_MBS=""
TCPDUMP_CPU=""
# run NAME FILE CMD...: times CMD REPEAT times, keeps the fastest, adds a table row.
run() {
  local name=$1 file=$2; shift 2
  local size pk best="" line wall user sys rss
  size=$(size_of "$file"); pk=$(packets_of "$file")
  for _ in $(seq "$REPEAT"); do
    if ! /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$@" >/dev/null 2>"$WORK/stderr"; then
      echo "# $name failed:" >&2; tail -5 "$WORK/stderr" >&2
      ROWS+=("$name|$(basename "$file")|failed|||||||"); return
    fi
    line=$(tail -1 "$WORK/time")
    if [ -z "$best" ] || awk -v a="${line%% *}" -v b="${best%% *}" 'BEGIN{exit !(a<b)}'; then
      best=$line
    fi
  done
  read -r wall user sys rss <<<"$best"
  ROWS+=("$(awk -v n="$name" -v f="$(basename "$file")" -v s="$size" -v p="$pk" -v w="$wall" \
    -v u="$user" -v y="$sys" -v r="$rss" 'BEGIN{
      if (w <= 0) w = 0.01; c = u + y; if (c <= 0) c = 0.01;
      printf "%s|%s|%.1f|%s|%.2f|%.2f|%.1f|%.1f|%.3f|%.0f", n, f, s/1e6, p, w, c, s/1e6/w, s/1e6/c, p/1e6/w, r/1024}')")
  if [ "$name" = tcpdump ]; then
    TCPDUMP_MBS=$(echo "${ROWS[-1]}" | cut -d'|' -f7)
    TCPDUMP_CPU=$(echo "${ROWS[-1]}" | cut -d'|' -f8)
  fi
  echo "# $name: done (${wall}s)" >&2
}

print_table() {
  echo
  echo "| tool | file | MB | packets | wall s | cpu s | MB/s | MB/s cpu | Mpkt/s | peak RSS MiB | vs tcpdump | vs tcpdump, cpu |"
  echo "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
  local r
  for r in "${ROWS[@]}"; do
    echo "| ${r//|/ | } | $(ratio "$r" 7 "$TCPDUMP_MBS") | $(ratio "$r" 8 "$TCPDUMP_CPU") |"
  done
}

# ratio ROW FIELD REFERENCE: the row's FIELD over REFERENCE, blank when either is missing
ratio() {
  local v
  v=$(echo "$1" | cut -d'|' -f"$2")
  awk -v a="$v" -v b="$3" 'BEGIN{ if (a+0 > 0 && b+0 > 0) printf "%.3f", a/b }'
}

machine() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), \
$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); load $(cut -d' ' -f1-3 /proc/loadavg); \
$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "albscope: $ALBSCOPE ($("$ALBSCOPE" --version 2>/dev/null || echo '?'), commit \
$(git -C "$(dirname "$ALBSCOPE")" rev-parse --short HEAD 2>/dev/null || echo '?'))"
  command -v tcpdump >/dev/null && echo "tcpdump: $(tcpdump --version 2>&1 | head -1)"
  command -v tshark >/dev/null && echo "tshark: $(tshark --version 2>/dev/null | head -1)"
  return 0
}

table() {
  local threads_row=0
  if "$ALBSCOPE" analyze --help 2>/dev/null | grep -q -- '--threads'; then threads_row=1; fi
  machine
  echo "capture: $CAP ($(size_of "$CAP") bytes, $(packets_of "$CAP") packets)"
  if ! skipped analyze; then
    if [ "$threads_row" = 1 ]; then
      run "analyze --threads 1" "$CAP" "$ALBSCOPE" analyze $ANALYZE_ARGS --threads 1 --format json -o /dev/null "$CAP"
    else
      run "analyze" "$CAP" "$ALBSCOPE" analyze $ANALYZE_ARGS --format json -o /dev/null "$CAP"
    fi
  fi
  if ! skipped analyze-n; then
    # N threads: filled in automatically once `analyze --threads` exists (issue 11).
    if [ "$threads_row" = 1 ]; then
      run "analyze --threads $THREADS" "$CAP" \
        "$ALBSCOPE" analyze $ANALYZE_ARGS --threads "$THREADS" --format json -o /dev/null "$CAP"
    else
      ROWS+=("analyze --threads $THREADS|$(basename "$CAP")|(no --threads option yet)|||||||")
    fi
  fi
  skipped flows || run "flows" "$CAP" "$ALBSCOPE" flows --format ndjson "$CAP"
  if ! skipped tcpdump; then
    if need_pkg tcpdump tcpdump; then
      run "tcpdump" "$CAP" tcpdump -r "$CAP" -w /dev/null 'udp port 4789'
    else
      ROWS+=("tcpdump|$(basename "$CAP")|(not installed)|||||||")
    fi
  fi
  if ! skipped tshark; then
    if need_pkg tshark tshark; then
      slice "$CAP" "$SLICE_MB" "$WORK/slice.pcap"
      run "tshark -2 http,stat" "$WORK/slice.pcap" tshark -n -q -2 -z http,stat -r "$WORK/slice.pcap"
      ROWS[-1]=$(echo "${ROWS[-1]}" | sed "s/|slice.pcap|/|slice of $(basename "$CAP")|/")
    else
      ROWS+=("tshark -2 http,stat|$(basename "$CAP")|(not installed)|||||||")
    fi
  fi
  print_table
}

# --- scale invariance ------------------------------------------------------------------------
scale_check() {
  echo
  echo "scale invariance: $(basename "$CAP") should count exactly $COPIES x $(basename "$BASE")${ANALYZE_ARGS:+ (analyze $ANALYZE_ARGS)}"
  "$ALBSCOPE" analyze $ANALYZE_ARGS --format json -o "$WORK/base.json" "$BASE" || [ $? -le 1 ]
  "$ALBSCOPE" analyze $ANALYZE_ARGS --format json -o "$WORK/copies.json" "$CAP" || [ $? -le 1 ]
  python3 - "$WORK/base.json" "$WORK/copies.json" "$COPIES" <<'EOF'
import json, sys

base, big, n = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])


def counts(d):
    """The counts that must scale: requests, per category (count, who generated it, statuses),
    health checks (and their statuses), packets. Per-target tables are left out: a copy's
    targets have shifted addresses, so its rows are new keys, not larger counts."""
    s = d["summary"]
    out = {"packets": d["stats"]["packets"], "summary.requests": s["requests"],
           "summary.ok": s["ok"], "summary.failed": s["failed"]}
    for cat, c in s["by_category"].items():
        for key in ("count", "generated_by_lb", "generated_by_target"):
            out[f"by_category.{cat}.{key}"] = c[key]
        for status, k in c.get("statuses", {}).items():
            out[f"by_category.{cat}.status.{status}"] = k
    h = d["health_checks"]
    out["health_checks.checks"] = h["checks"]
    out["health_checks.failed"] = h["failed"]
    for row in h.get("by_target", {}).values():
        for status, k in row.get("statuses", {}).items():
            key = f"health_checks.status.{status}"
            out[key] = out.get(key, 0) + k
    return out


b, g = counts(base), counts(big)
bad = 0
for key in sorted(set(b) | set(g)):
    want, got = b.get(key, 0) * n, g.get(key, 0)
    if want != got:
        bad += 1
        print(f"  MISMATCH {key}: base {b.get(key, 0)} x {n} = {want}, copies {got}")
if bad and not base.get("requests_not_kept") and not big.get("requests_not_kept"):
    # Every failed request is listed: say which copy (ALB node address: amplify gives each copy
    # its own) differs from the base, per category.
    from collections import Counter, defaultdict
    def node(r):
        return (r.get("alb") or "?").rsplit(":", 1)[0]
    want = Counter(r["category"] for r in base.get("requests", []))
    per = defaultdict(Counter)
    for r in big.get("requests", []):
        per[node(r)][r["category"]] += 1
    for n in sorted(per):
        diff = {c: per[n][c] - want[c] for c in sorted(set(per[n]) | set(want)) if per[n][c] != want[c]}
        if diff:
            print(f"  listed failures of ALB node {n} differ from the base's: {diff}")
lim = big.get("alb_limits", {})
print(f"  {len(set(b) | set(g))} counts compared, {bad} mismatched; base: {b['summary.requests']} "
      f"requests, {b['summary.failed']} failed, {b['health_checks.checks']} health checks; "
      f"copies: legs paired early {lim.get('legs_paired_early')}, late legs dropped "
      f"{lim.get('late_legs_dropped')}")
print("  scale invariance: " + ("OK" if bad == 0 else "FAILED"))
sys.exit(1 if bad else 0)
EOF
}

# --- instruction counts ----------------------------------------------------------------------
instructions() {
  need_pkg valgrind valgrind || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
  machine
  slice "$CAP" "$ICOUNT_MB" "$WORK/islice.pcap"
  local size pk
  size=$(size_of "$WORK/islice.pcap"); pk=$(packets_of "$WORK/islice.pcap")
  echo "instruction counts (valgrind --tool=callgrind) on a $((size / 1000000)) MB, $pk-packet slice of $CAP"
  echo
  echo "| command | instructions (Ir) | per byte | per packet | vs flows |"
  echo "|---|--:|--:|--:|--:|"
  local flows_ir="" name ir threads_arg=() flows_threads=() names=(flows analyze)
  if "$ALBSCOPE" analyze --help 2>/dev/null | grep -q -- '--threads'; then
    threads_arg=(--threads 1)
    names+=(analyze-n)
  fi
  if "$ALBSCOPE" flows --help 2>/dev/null | grep -q -- '--threads'; then
    # The flows row stays the one-thread work; flows-n shows its busiest thread.
    flows_threads=(--threads 1)
    names+=(flows-n)
  fi
  for name in "${names[@]}"; do
    local args=(flows "${flows_threads[@]}" --format ndjson) label="albscope $name" vg=()
    [ "$name" = analyze ] && args=(analyze "${threads_arg[@]}" --format json -o /dev/null)
    if [ "$name" = analyze-n ]; then
      args=(analyze --threads "$THREADS" --format json -o /dev/null)
      vg=(--separate-threads=yes)
    fi
    if [ "$name" = flows-n ]; then
      args=(flows --threads "$THREADS" --format ndjson)
      vg=(--separate-threads=yes)
    fi
    valgrind --tool=callgrind --dump-instr=no "${vg[@]}" --callgrind-out-file="$WORK/callgrind.$name" \
      "$ALBSCOPE" "${args[@]}" "$WORK/islice.pcap" >/dev/null 2>"$WORK/vg.$name" || true
    if [ "$name" = analyze-n ] || [ "$name" = flows-n ]; then
      # One file per thread: the row shows the busiest thread, the note the sum.
      local per all=0 most=0
      for f in "$WORK/callgrind.$name"-*; do
        per=$(grep -m1 -E '^(summary|totals):' "$f" | awk '{print $2}')
        [ -n "$per" ] || continue
        all=$((all + per)); [ "$per" -gt "$most" ] && most=$per
      done
      ir=$most
      label="albscope ${name%-n} --threads $THREADS, busiest thread (all threads: $(awk -v a="$all" 'BEGIN{printf "%.3f G", a/1e9}'))"
    else
      ir=$(grep -m1 -E '^(summary|totals):' "$WORK/callgrind.$name" | awk '{print $2}')
    fi
    [ "$name" = flows ] && flows_ir=$ir
    awk -v n="$label" -v i="$ir" -v s="$size" -v p="$pk" -v f="$flows_ir" 'BEGIN{
      printf "| %s | %.3f G | %.1f | %.0f | %.2f |\n", n, i/1e9, i/s, i/p, i/f }'
    if [ -n "${KEEP_CALLGRIND:-}" ]; then
      for f in "$WORK/callgrind.$name"*; do cp "$f" "$KEEP_CALLGRIND.${f##*/callgrind.}"; done
    fi
  done
  echo
  echo "(callgrind_annotate --inclusive=yes <file> | head -60 shows where; KEEP_CALLGRIND=PREFIX keeps the files)"
}

case $MODE in
  table) table ;;
  table+scale) table; scale_check ;;
  scale) machine; scale_check ;;
  instructions) instructions ;;
esac
exit
}
