#!/usr/bin/env bash
# Record a real Go net/http target (servers/gs_go.go, standard library only, built here with
# Debian's golang-go) through HAProxy as an ALB node (sibling of record.sh, whose topology,
# mirroring and helpers it sources): Go's idle close (IdleTimeout, and ReadTimeout standing in
# for it when IdleTimeout is 0) raced by requests at the idle gap, and the ways Go fails a
# request (a handler panic, a hijacked connection closed or reset, WriteTimeout cutting a
# response before or after its first bytes, a body shorter than its Content-Length, a
# TimeoutHandler's 503, ReadTimeout cutting a slow upload, an answer slower than the proxy's
# idle timeout); HTTP/2 with prior knowledge to Go's HTTP/1-only server (gs_go_h2c_mismatch);
# an HTTPS target group speaking HTTP/2 to Go's TLS server (gs_go_tls_h2, with the target's
# TLS key log in <scenario>.keys); an HTTPS target group speaking HTTP/1.1 to Go's TLS server
# with health checks over TLS every 5 s and failures mid-response, before an answer and past
# the idle timeout (gs_go_tls_hc, key log beside it: the common target-side capture).
#
#   sudo tools/realcap/record_gosrv.sh                 # all scenarios
#   sudo tools/realcap/record_gosrv.sh gs_go_ka        # some of them
#   tools/realcap/record_gosrv.sh --list
#
# Namespaces are named gs-* unless REALCAP_NS_PREFIX says otherwise; scratch in
# /tmp/gs-realcap. Writes samples/real/<scenario>.pcap (VXLAN mirror of the node),
# <scenario>.target.pcap (tcpdump on target 10.99.1.11) and <scenario>.log (client results,
# HAProxy's log, then the target's own output). Needs what record.sh needs, plus Go (`go`,
# Debian golang-go 1.19).
#
# As in record_ka.sh, a race window is made by dropping each connection's first FIN from the
# target (the kernel retransmits it about 0.2 s later), like a FIN still in flight: only in
# the keep-alive scenarios (gs_go_ka, gs_go_rt); gs_go_fail leaves every close as Go sends it.
set -euo pipefail

export REALCAP_NS_PREFIX=${REALCAP_NS_PREFIX:-gs-}
export REALCAP_WORK=${REALCAP_WORK:-/tmp/gs-realcap}
# shellcheck source=record.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/record.sh"

GS_SCENARIOS="gs_go_ka gs_go_fail gs_go_rt gs_go_h2c_mismatch gs_go_tls_h2 gs_go_tls_hc"

# HAProxy keeps idle back-end connections longer than the target's keep-alive timer (an ALB
# keeps them up to its idle timeout): no purge of idle server connections during a recording.
POOL_PURGE=60s

# The target's output goes into the scenario's log after HAProxy's.
TARGET_LOG=1

go_target() { # env assignments...: build servers/gs_go.go and run it on 10.99.1.11:8080
    mkdir -p "$WORK/go"
    GOCACHE="$WORK/go/cache" GO111MODULE=off go build -o "$WORK/go/gs_go" "$HERE/servers/gs_go.go"
    chmod -R a+rX "$WORK/go"
    bg tgt1 ${NSP}tgt1 env "$@" "$WORK/go/gs_go" 0.0.0.0:8080
    SERVERS="    server t1 10.99.1.11:8080"
    TARGET_VANTAGE=1
}

sc_gs_go_ka_setup() {
    # IdleTimeout 2 s (an ALB's default idle timeout is 60 s; the stand-in's is 5 s)
    go_target IDLE=2s
    drop_first_fin ${NSP}tgt1 8080
}
sc_gs_go_ka_drive() {
    sleep 0.5
    client 44001 http://10.99.0.1/ok/first
    sleep 1
    client 44002 http://10.99.0.1/ok/reused-1s     # within Go's IdleTimeout
    sleep 4                                        # Go closes it (2 s idle)
    race_sweep 44011 1.7 1.8 1.9 2.0 2.1 2.2 1.85 1.95
    sleep 1
    client 44041 http://10.99.0.1/close/a          # 200 with Connection: close
    sleep 0.5
    client 44042 http://10.99.0.1/ok/last
    sleep 1
}

sc_gs_go_fail_setup() {
    # WriteTimeout 3 s (below the stand-in's 5 s idle timeout), IdleTimeout 30 s
    go_target IDLE=30s WRITE=3s
}
sc_gs_go_fail_drive() {
    sleep 0.5
    client 44101 http://10.99.0.1/ok/first
    sleep 0.5
    client 44102 http://10.99.0.1/panic/head/a     # recovered panic: closed, no answer
    sleep 0.5
    client 44103 http://10.99.0.1/ok/b
    sleep 0.5
    client 44104 http://10.99.0.1/panic/body/c     # 100 of 1000 bytes, ErrAbortHandler
    sleep 0.5
    client 44105 http://10.99.0.1/ok/d
    sleep 0.5
    client 44106 http://10.99.0.1/hijack/close/e   # hijacked, closed: FIN
    sleep 0.5
    client 44107 http://10.99.0.1/ok/f
    sleep 0.5
    client 44108 http://10.99.0.1/hijack/rst/g     # hijacked, SO_LINGER 0: RST
    sleep 0.5
    client 44109 http://10.99.0.1/ok/h
    sleep 0.5
    client 44110 http://10.99.0.1/short/i          # 100 of 1000 bytes, Go closes
    sleep 0.5
    client 44111 http://10.99.0.1/ok/j
    sleep 0.5
    client 44112 http://10.99.0.1/wt/head/4/k      # WriteTimeout: nothing written, closed at 4 s
    sleep 0.5
    client 44113 http://10.99.0.1/ok/l
    sleep 0.5
    client 44114 http://10.99.0.1/wt/body/4/m      # WriteTimeout: one chunk, closed at 4 s
    sleep 0.5
    client 44115 http://10.99.0.1/ok/n
    sleep 0.5
    client 44116 http://10.99.0.1/status/500/o     # Go's own 500 (http.Error)
    sleep 0.5
    client 44117 http://10.99.0.1/th/3/p           # TimeoutHandler's 503 after 1 s
    sleep 0.5
    client 44118 http://10.99.0.1/slow/8/q         # past the 5 s idle timeout: 504
    sleep 4
    client 44119 http://10.99.0.1/ok/last
    sleep 1
}

sc_gs_go_rt_setup() {
    # ReadTimeout 3 s, IdleTimeout unset: Go closes idle connections after ReadTimeout
    go_target READ=3s
    head -c 65536 /dev/zero | tr '\0' 'u' >"$WORK/upload.bin"
    drop_first_fin ${NSP}tgt1 8080
}
sc_gs_go_rt_drive() {
    sleep 0.5
    client 44201 http://10.99.0.1/ok/first
    sleep 2
    client 44202 http://10.99.0.1/ok/reused-2s
    sleep 5
    race_sweep 44211 2.8 2.9 3.0 3.1 3.2
    sleep 1
    client 44231 http://10.99.0.1/upload/fast --data-binary @"$WORK/upload.bin"
    sleep 0.5
    # 64 KB at 8 KB/s: ReadTimeout (3 s from the request's start) cuts the body read
    client 44232 http://10.99.0.1/upload/slow --data-binary @"$WORK/upload.bin" --limit-rate 8k
    sleep 0.5
    client 44233 http://10.99.0.1/ok/last
    sleep 1
}

sc_gs_go_h2c_mismatch_setup() {
    # The stand-in speaks HTTP/2 with prior knowledge (h2c, an ALB target group whose protocol
    # version is HTTP2 or gRPC) to a Go net/http server that speaks only HTTP/1 without TLS
    # (h2c needs golang.org/x/net/http2/h2c, outside the standard library)
    go_target IDLE=30s
    SERVERS="    server t1 10.99.1.11:8080 proto h2"
    # HAProxy counts the HTTP/2 connection that fails before its settings as a failed connect
    # (its 503); an ALB answers 502 to a target that closes without a response
    ERR503=502
}
sc_gs_go_h2c_mismatch_drive() {
    sleep 0.5
    client 44301 http://10.99.0.1/ok/first
    sleep 0.5
    client 44302 http://10.99.0.1/ok/second
    sleep 0.5
    client 44303 http://10.99.0.1/ok/third
    sleep 1
}

sc_gs_go_tls_h2_setup() {
    # An HTTPS target group of protocol version HTTP2: the stand-in opens TLS with ALPN h2 and
    # Go's standard library serves HTTP/2 on it by itself. IdleTimeout 2 s, WriteTimeout 3 s.
    # The target writes its TLS keys to <scenario>.keys (for --tls-keylog).
    rm -f "$WORK/go-keys.log"
    go_target IDLE=2s WRITE=3s TLS_CERT="$WORK/tgt.crt" TLS_KEY="$WORK/tgt.key" \
        KEYLOG="$WORK/go-keys.log"
    SERVERS="    server t1 10.99.1.11:8080 ssl verify none alpn h2"
}
sc_gs_go_tls_h2_drive() {
    sleep 0.5
    client 44401 http://10.99.0.1/ok/first
    sleep 1
    client 44402 http://10.99.0.1/ok/reused-1s
    sleep 4                                        # Go closes it (2 s idle: GOAWAY, close)
    race_sweep 44411 1.8 1.9 2.0 2.1
    sleep 1
    client 44431 http://10.99.0.1/ok/before-failures
    sleep 0.5
    client 44432 http://10.99.0.1/panic/head/a     # HTTP/2: the stream is reset
    sleep 0.5
    client 44433 http://10.99.0.1/status/500/b
    sleep 0.5
    client 44434 http://10.99.0.1/wt/head/4/c      # past WriteTimeout
    sleep 0.5
    client 44435 http://10.99.0.1/short/d          # 100 of 1000 bytes
    sleep 0.5
    client 44436 http://10.99.0.1/slow/8/e         # past the 5 s idle timeout: 504
    sleep 4
    client 44437 http://10.99.0.1/ok/last
    sleep 1
    if [ -s "$WORK/go-keys.log" ]; then cp "$WORK/go-keys.log" "$OUT/gs_go_tls_h2.keys"; fi
}

sc_gs_go_tls_hc_setup() {
    # An HTTPS target group of protocol version HTTP1 (the default), as its target sees it:
    # Go's TLS server (HTTP/1.1: the stand-in offers no ALPN), health checks over TLS every 5 s
    # (the ALB's shortest interval), IdleTimeout 30 s (above the stand-in's 5 s idle timeout).
    # The target writes its TLS keys to <scenario>.keys (for --tls-keylog).
    rm -f "$WORK/go-keys.log"
    go_target IDLE=30s TLS_CERT="$WORK/tgt.crt" TLS_KEY="$WORK/tgt.key" \
        KEYLOG="$WORK/go-keys.log"
    SERVERS="    server t1 10.99.1.11:8080 ssl verify none check inter 5s fall 3 rise 2"
}
sc_gs_go_tls_hc_drive() {
    sleep 6                                        # a first health check or two
    client 44501 http://10.99.0.1/ok/first
    sleep 1
    client 44502 http://10.99.0.1/ok/reused-1s
    sleep 1
    client 44503 http://10.99.0.1/hijack/rstbody/a # 100 of 1000 bytes, then RST
    sleep 1
    client 44504 http://10.99.0.1/ok/b
    sleep 1
    client 44505 http://10.99.0.1/hijack/close/c   # closed before an answer (close_notify, FIN)
    sleep 1
    client 44506 http://10.99.0.1/ok/d
    sleep 1
    client 44507 http://10.99.0.1/hijack/rst/e     # reset before an answer
    sleep 1
    client 44508 http://10.99.0.1/status/500/f     # Go's own 500
    sleep 1
    client 44509 http://10.99.0.1/slow/8/g         # past the 5 s idle timeout: 504
    sleep 5
    client 44510 http://10.99.0.1/ok/last
    sleep 6                                        # one more health check
    if [ -s "$WORK/go-keys.log" ]; then cp "$WORK/go-keys.log" "$OUT/gs_go_tls_hc.keys"; fi
}

gs_main() {
    if [ "${1:-}" != "--list" ]; then
        local s
        for s in haproxy tcpdump nft go curl; do
            command -v $s >/dev/null || { echo "missing $s" >&2; return 1; }
        done
    fi
    run_scenarios "$GS_SCENARIOS" record "$@"
}

gs_main "$@"
