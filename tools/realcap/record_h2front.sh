#!/usr/bin/env bash
# Record HTTP/2 front ends through HAProxy as the ALB node (sibling of record.sh, whose topology,
# mirroring, HAProxy configuration and client helpers it sources): clients speak HTTP/2 over
# TLS (ALPN h2, TLS 1.3) to the node's HTTPS listener (`alpn h2,http/1.1`), the node speaks
# HTTP/1.1 to the targets, like an ALB whose HTTPS listener negotiates HTTP/2.
#
#   sudo tools/realcap/record_h2front.sh              # all scenarios
#   sudo tools/realcap/record_h2front.sh h2f_mixed    # some of them
#   tools/realcap/record_h2front.sh --list
#
# Namespaces h2-* (REALCAP_NS_PREFIX), scratch /tmp/h2f-realcap. Writes samples/real/<name>.pcap
# (VXLAN mirror of the node 10.99.0.1), <name>.target.pcap (tcpdump on target 10.99.1.11),
# <name>.keys (the clients' TLS key log, for --tls-keylog) and <name>.log (client results by
# local port, HAProxy's log: one line per stream with its status and termination state).
# Needs what record.sh needs, plus Node.js (its http2 module) and curl with nghttp2.
set -euo pipefail

export REALCAP_NS_PREFIX=${REALCAP_NS_PREFIX:-h2-}
export REALCAP_WORK=${REALCAP_WORK:-/tmp/h2f-realcap}
# shellcheck source=record.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/record.sh"

H2F_SCENARIOS="h2f_mixed"
# the HTTPS listener negotiates HTTP/2 (ALPN h2), as an ALB's does
TLS_BIND_OPTS="alpn h2,http/1.1"

h2f() { # local_port [--cancel PATH] [--goaway] [--idle S] path...: streams on one connection
    local port=$1 res t0
    shift
    t0=$(date +%T.%N | cut -c1-12)
    res=$(nsx "${NSP}client" env SSLKEYLOGFILE="${SSLKEYLOGFILE:-}" timeout 40 \
        node "$HERE/servers/h2f_client.js" 10.99.0.1 443 "$port" "$@" 2>&1) || true
    echo "$t0 client 10.99.2.10:$port h2 streams: $res" | tee -a "$WORK/client.log" >&2
}

many() { # first_port url...: curl --http2 --parallel, all streams on one connection
    local p0=$1; shift
    local urls=() u t0 res
    for u in "$@"; do urls+=(-o /dev/null "$u"); done
    t0=$(date +%T.%N | cut -c1-12)
    res=$(nsx "${NSP}client" curl -sk --http2 --parallel --parallel-max 20 \
        --local-port "$p0-$((p0 + 9))" --max-time 30 \
        -w '%{local_port} %{url_effective} -> %{http_code} http%{http_version} size=%{size_download} time_total=%{time_total}s\n' "${urls[@]}" 2>&1) || true
    echo "$res" | grep -- '->' | sed "s/^/$t0 client 10.99.2.10:/" | tee -a "$WORK/client.log" >&2
}

sc_h2f_mixed_setup() {
    bg tgt1 "${NSP}tgt1" node "$HERE/servers/node_modes.js" 0.0.0.0 8080
    SERVERS="    server t1 10.99.1.11:8080"
    TARGET_VANTAGE=1
}
sc_h2f_mixed_drive() {
    local b=https://10.99.0.1
    # one connection, concurrent streams: ok ones with bodies large enough to interleave, a
    # target reset (502), an answer slower than the idle timeout (504 at 5 s), the target's
    # own 503, and a stream the client cancels mid-answer; then the connection stays idle
    # until HAProxy's idle timeout closes it with a GOAWAY
    h2f 41701 --cancel /drip/20/a9 --idle 7 /ok/a1 /reset/a2 /slow/7/a3 /status/503/a4 \
        /big/48/a5 /big/48/a6 /ok/a7 /big/32/a8
    sleep 0.3
    # curl: many streams at once whose answers interleave
    many 41710 "$b/big/24/c1" "$b/big/24/c2" "$b/ok/c3" "$b/big/24/c4" "$b/big/24/c5" \
        "$b/status/500/c6" "$b/big/24/c7" "$b/ok/c8" "$b/big/24/c9" "$b/big/24/c10"
    sleep 0.3
    # the client sends GOAWAY while its two streams are in flight (they are still answered)
    h2f 41721 --goaway /slow/1/g1 /ok/g2
    sleep 1
}

record_h2f() {
    export SSLKEYLOGFILE="$WORK/keys.log"
    mkdir -p "$WORK"
    rm -f "$SSLKEYLOGFILE"
    record "$1"
    unset SSLKEYLOGFILE
    if [ -s "$WORK/keys.log" ]; then cp "$WORK/keys.log" "$OUT/$1.keys"; else rm -f "$OUT/$1.keys"; fi
}

h2f_main() {
    if [ "${1:-}" != "--list" ]; then
        command -v node >/dev/null || { echo "missing node (apt-get install nodejs)" >&2; return 1; }
    fi
    run_scenarios "$H2F_SCENARIOS" record_h2f "$@"
}

h2f_main "$@"
