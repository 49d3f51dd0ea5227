#!/usr/bin/env bash
# Record BUSY traffic through HAProxy as an ALB node (sibling of record.sh, whose topology,
# mirroring and helpers it sources): many concurrent clients sending the IDENTICAL request line
# (`GET /api/items`), from several client addresses and many connections per address, through
# back-end connections the proxy reuses across clients, with failures mixed in at random.
#
#   sudo tools/realcap/record_busy.sh                 # all scenarios
#   sudo tools/realcap/record_busy.sh busy_noid       # some of them
#   tools/realcap/record_busy.sh --list
#
# Namespaces are named bsy-* unless REALCAP_NS_PREFIX says otherwise; scratch in
# /tmp/bsy-realcap. Writes samples/real/<scenario>.pcap (VXLAN mirror of the node),
# <scenario>.target.pcap (tcpdump on target 10.99.1.11, the only target) and <scenario>.log
# (the clients' results and HAProxy's log line per request: the truth).
# Needs what record.sh needs, plus wrk.
#
# Clients (all at once, for ~3 s): wrk from 10.99.2.10 with 20 connections, each sending the
# next request 100-300 ms after the last answer; curl --parallel from 10.99.2.11 and 10.99.2.12
# with 8 connections each, 24 requests each. Every request is `GET /api/items`.
# The target (servers/target.py --mode mixed, seeded) answers each request at random: 200, its
# own 500, silence past HAProxy's 5 s server timeout (HAProxy's 504; wrk exits after 3 s and
# closes its connections, so its requests stalled then are clients that left: HAProxy, without
# `abortonclose`, still logs its 504 for them; the log says when wrk exited), a close without answering (FIN: HAProxy's 502) or a
# reset (RST: HAProxy's 502).
# Scenarios: `busy_noid`: HAProxy adds X-Forwarded-For but no per-request id header (the
# back-end request of a client IP's many identical requests can only be paired by timing);
# `busy_traceid`: HAProxy also adds `X-Amzn-Trace-Id: Root=1-...` (as an ALB does).
set -euo pipefail

export REALCAP_NS_PREFIX=${REALCAP_NS_PREFIX:-bsy-}
export REALCAP_WORK=${REALCAP_WORK:-/tmp/bsy-realcap}
# shellcheck source=record.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/record.sh"

BUSY_SCENARIOS="busy_noid busy_traceid"
BUSY_MIX="healthy:55,status:15,slow:8,close_fin:10,close_rst:12"
POOL_PURGE=60s
# the target's output (each request and the mode drawn for it, per back-end connection) goes
# into the log too: HAProxy does not log a request it closes silently (see README)
TARGET_LOG=1

# HAProxy without the trace id header when BUSY_TRACE=0 (its log keeps the unique id).
eval "orig_$(declare -f write_haproxy_cfg)"
write_haproxy_cfg() {
    orig_write_haproxy_cfg "$@"
    if [ "${BUSY_TRACE:-1}" = 0 ]; then
        sed -i '/set-header X-Amzn-Trace-Id/d' "$WORK/${2:-haproxy}.cfg"
    fi
}

busy_setup() { # seed
    target ${NSP}tgt1 tgt1 --mode mixed --mix "$BUSY_MIX" --seed "$1" --delay 6 \
        --status 500 --server "gunicorn"
    SERVERS="    server t1 10.99.1.11:8080 $SRV_CHECK"
    TARGET_VANTAGE=1
    nsx ${NSP}client ip addr add 10.99.2.11/24 dev eth0
    nsx ${NSP}client ip addr add 10.99.2.12/24 dev eth0
}

curl_parallel() { # source_ip connections requests: identical requests over parallel connections
    local ip=$1 conns=$2 n=$3 i args=()
    for ((i = 0; i < n; i++)); do args+=(-o /dev/null http://10.99.0.1/api/items); done
    nsx ${NSP}client curl -s --parallel --parallel-max "$conns" --interface "$ip" --max-time 30 \
        -w "%{time_total} client %{local_ip}:%{local_port} /api/items -> %{http_code} size=%{size_download} curl_exit=%{exitcode}\n" \
        "${args[@]}" >>"$WORK/curl-$ip.log" 2>/dev/null || true
}

busy_drive() {
    cat >"$WORK/busy.lua" <<'EOF'
-- the next request on a connection 100-300 ms after its last answer
function delay()
    return math.random(100, 300)
end
EOF
    rm -f "$WORK"/curl-*.log
    sleep 1
    nsx ${NSP}client wrk -t 2 -c 20 -d 3s --timeout 10s -s "$WORK/busy.lua" \
        http://10.99.0.1/api/items >"$WORK/wrk.out" 2>&1 &
    local w=$!
    curl_parallel 10.99.2.11 8 24 &
    local c1=$!
    sleep 0.3
    curl_parallel 10.99.2.12 8 24 &
    local c2=$!
    wait "$w"
    # wrk closes its connections when it exits, requests still in flight too (a client that
    # left: the answer HAProxy logs for them came after this)
    local wrk_end
    wrk_end=$(date +%T.%3N)
    wait "$c1" "$c2"
    # every request still waiting on the target ends at HAProxy's 5 s timeout, and is logged,
    # before the recording stops
    sleep $((IDLE + 1))
    {
        echo "wrk exited at $wrk_end"
        echo "wrk from 10.99.2.10 (its per-request results are in HAProxy's log):"
        cat "$WORK/wrk.out"
        cat "$WORK"/curl-*.log
    } >>"$WORK/client.log"
}

sc_busy_noid_setup() {
    BUSY_TRACE=0
    busy_setup 7
}
sc_busy_noid_drive() { busy_drive; }

sc_busy_traceid_setup() {
    BUSY_TRACE=1
    busy_setup 11
}
sc_busy_traceid_drive() { busy_drive; }

busy_main() {
    if [ "${1:-}" != "--list" ]; then
        command -v wrk >/dev/null || { echo "missing wrk (apt-get install wrk)" >&2; return 1; }
    fi
    run_scenarios "$BUSY_SCENARIOS" record "$@"
}

busy_main "$@"
