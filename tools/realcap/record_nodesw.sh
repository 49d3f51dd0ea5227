#!/usr/bin/env bash
# Record real Node.js, Java (JDK) and Ruby (Puma) targets through HAProxy as an ALB node (sibling of
# record.sh, whose topology, mirroring and helpers it sources): their default keep-alive
# timers raced by requests at the idle gap, and the ways they fail a request (a process that
# dies before or in the middle of a response, a socket destroyed or reset without an answer,
# bytes that are no HTTP response, a handler that throws, a body shorter than its
# Content-Length, an answer slower than the proxy's idle timeout, an upload reset before it is
# read).
#
#   sudo tools/realcap/record_nodesw.sh                # all scenarios
#   sudo tools/realcap/record_nodesw.sh nw_java        # some of them
#   tools/realcap/record_nodesw.sh --list
#
# Namespaces are named nw-* unless REALCAP_NS_PREFIX says otherwise; scratch in
# /tmp/nw-realcap. Writes samples/real/<scenario>.pcap (VXLAN mirror of the node),
# <scenario>.target.pcap (tcpdump on target 10.99.1.11) and <scenario>.log (client results,
# HAProxy's log, then the target's own output). Needs what record.sh needs, plus Node.js
# (`node`), a JDK (`javac`, `java`) and Puma (Debian `puma`).
#
# As in record_ka.sh, a race window is made by dropping each connection's first FIN from the
# target (the kernel retransmits it about 0.2 s later), like a FIN still in flight.
set -euo pipefail

export REALCAP_NS_PREFIX=${REALCAP_NS_PREFIX:-nw-}
export REALCAP_WORK=${REALCAP_WORK:-/tmp/nw-realcap}
# shellcheck source=record.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/record.sh"

NW_SCENARIOS="nw_node nw_node_ka0 nw_java nw_puma nw_node_upload"

# HAProxy keeps idle back-end connections longer than the targets' keep-alive timers (an ALB
# keeps them up to its idle timeout): no purge of idle server connections during a recording.
POOL_PURGE=60s

# The target's output goes into the scenario's log after HAProxy's.
TARGET_LOG=1

sc_nw_node_setup() {
    supervised tgt1 ${NSP}tgt1 node "$HERE/servers/nw_node.js" 0.0.0.0 8080
    drop_first_fin ${NSP}tgt1 8080
    SERVERS="    server t1 10.99.1.11:8080"
    TARGET_VANTAGE=1
}
sc_nw_node_drive() {
    client 43001 http://10.99.0.1/ok/first
    sleep 2
    client 43002 http://10.99.0.1/ok/reused-2s    # within Node's keep-alive
    sleep 8                                       # Node closes it (about 6 s: 5 s + its 1 s buffer)
    race_sweep 43003 5.8 5.9 6.0 6.1              # curl adds ~0.2 s
    sleep 1
    client 43011 http://10.99.0.1/ok/before-failures
    sleep 0.5
    client 43012 http://10.99.0.1/destroy/no-answer   # reused after 0.5 s: FIN, no answer
    sleep 0.5
    client 43013 http://10.99.0.1/ok/a
    sleep 0.5
    client 43014 http://10.99.0.1/reset/no-answer     # reused after 0.5 s: RST, no answer
    sleep 0.5
    client 43015 http://10.99.0.1/ok/b
    sleep 0.5
    client 43016 http://10.99.0.1/crash/head          # the process exits: FIN, no answer
    sleep 1.5
    client 43017 http://10.99.0.1/ok/c
    sleep 0.5
    client 43018 http://10.99.0.1/crash/body          # 200, 100 of 1000 bytes, the process exits
    sleep 1.5
    client 43019 http://10.99.0.1/ok/d
    sleep 0.5
    client 43020 http://10.99.0.1/garbage/x           # no HTTP response
    sleep 0.5
    client 43021 http://10.99.0.1/slow/8/q            # past the 5 s idle timeout
    sleep 4
    client 43022 http://10.99.0.1/close/e             # 200 with Connection: close
    sleep 0.5
    client 43023 http://10.99.0.1/ok/last
    sleep 1
}

sc_nw_node_ka0_setup() {
    # server.keepAliveTimeout = 0: Node never closes an idle connection itself
    supervised tgt1 ${NSP}tgt1 env KA0=1 node "$HERE/servers/nw_node.js" 0.0.0.0 8080
    SERVERS="    server t1 10.99.1.11:8080"
    TARGET_VANTAGE=1
}
sc_nw_node_ka0_drive() {
    client 43051 http://10.99.0.1/ok/first
    sleep 3
    client 43052 http://10.99.0.1/ok/reused-3s
    sleep 7
    client 43053 http://10.99.0.1/ok/reused-7s       # past Node's default 5 s: still open
    sleep 1
    client 43054 http://10.99.0.1/close/a            # Connection: close, Node closes after it
    sleep 1
    client 43055 http://10.99.0.1/ok/new-connection
    sleep 12
    client 43056 http://10.99.0.1/ok/reused-12s
    sleep 1
}

sc_nw_java_setup() {
    mkdir -p "$WORK/java"
    javac -d "$WORK/java" "$HERE/servers/NwJava.java"
    chmod -R a+rX "$WORK/java"
    # idle connections closed after 2 s, checked every 1 s: closes at 2-3 s idle (the JDK's
    # defaults, 30 s checked every 10 s, scaled to the stand-in's 5 s idle timeout)
    supervised tgt1 ${NSP}tgt1 java -Dsun.net.httpserver.idleInterval=2 \
        -Dsun.net.httpserver.clockTick=1000 -cp "$WORK/java" NwJava 0.0.0.0 8080
    drop_first_fin ${NSP}tgt1 8080
    SERVERS="    server t1 10.99.1.11:8080"
    TARGET_VANTAGE=1
}
sc_nw_java_drive() {
    sleep 1                                       # the JVM starts
    client 43101 http://10.99.0.1/ok/first
    sleep 1
    client 43102 http://10.99.0.1/ok/reused-1s
    sleep 5                                       # the JDK closes it (2-3 s idle)
    # the JDK's timer fires on a 1 s tick: sweep the gaps over its whole 2-3 s window
    race_sweep 43131 2.0 2.1 2.2 2.3 2.4 2.5 2.6 2.7 2.8 2.9 3.0 2.35 2.45 2.55 2.65 2.75
    sleep 1
    client 43121 http://10.99.0.1/ok/before-failures
    sleep 0.5
    client 43122 http://10.99.0.1/throw/a         # handler throws: closed, no answer
    sleep 0.5
    client 43123 http://10.99.0.1/ok/a
    sleep 0.5
    client 43124 http://10.99.0.1/short/b         # 200, 100 of 1000 bytes, closed
    sleep 0.5
    client 43125 http://10.99.0.1/status/500/c    # the target's own 500
    sleep 0.5
    client 43126 http://10.99.0.1/slow/8/d        # past the 5 s idle timeout
    sleep 4
    client 43127 http://10.99.0.1/ok/e
    sleep 0.5
    client 43128 http://10.99.0.1/halt/f          # the JVM halts mid-response
    sleep 2.5
    client 43129 http://10.99.0.1/ok/last
    sleep 1
}

sc_nw_puma_setup() {
    # Puma 5 (Ruby; Rails' default server) closes idle connections after persistent_timeout,
    # 20 s by default (below an ALB's 60 s); here 2 s against the stand-in's 5 s
    local d=$WORK/puma
    mkdir -p "$d"
    printf 'environment "production"\npersistent_timeout 2\nthreads 4, 4\nbind "tcp://0.0.0.0:8080"\n' \
        >"$d/puma.rb"
    chmod -R a+rX "$d"
    bg tgt1 ${NSP}tgt1 puma -C "$d/puma.rb" "$HERE/servers/nw_puma.ru"
    drop_first_fin ${NSP}tgt1 8080
    SERVERS="    server t1 10.99.1.11:8080"
    TARGET_VANTAGE=1
}
sc_nw_puma_drive() {
    sleep 1.5                                     # Ruby starts
    client 43201 http://10.99.0.1/ok/first
    sleep 1
    client 43202 http://10.99.0.1/ok/reused-1s
    sleep 4                                       # Puma closes it (2 s)
    race_sweep 43211 1.95 2.0 2.05 2.1 2.15 2.2
    sleep 1
    client 43231 http://10.99.0.1/ok/before-failures
    sleep 0.5
    client 43232 http://10.99.0.1/raise/a         # the app raises: Puma's own 500
    sleep 0.5
    client 43233 http://10.99.0.1/hijack/b        # hijacked and closed: no answer
    sleep 0.5
    client 43234 http://10.99.0.1/ok/c
    sleep 0.5
    client 43235 http://10.99.0.1/slow/8/d        # past the 5 s idle timeout
    sleep 4
    client 43236 http://10.99.0.1/ok/last
    sleep 1
}

sc_nw_node_upload_setup() {
    supervised tgt1 ${NSP}tgt1 node "$HERE/servers/nw_node.js" 0.0.0.0 8080
    head -c 98304 /dev/zero | tr '\0' 'u' >"$WORK/upload.bin"
    SERVERS="    server t1 10.99.1.11:8080"
    TARGET_VANTAGE=1
}
sc_nw_node_upload_drive() {
    client 43301 http://10.99.0.1/ok/first
    sleep 0.5
    # 96 KB uploads: the process exits, or the socket is destroyed, as the headers arrive,
    # with body bytes still unread (the kernel answers them with RST)
    client 43302 http://10.99.0.1/crash/head/upload --data-binary @"$WORK/upload.bin"
    sleep 1.5
    client 43303 http://10.99.0.1/ok/upload --data-binary @"$WORK/upload.bin"
    sleep 0.5
    client 43304 http://10.99.0.1/destroy/upload --data-binary @"$WORK/upload.bin"
    sleep 0.5
    client 43305 http://10.99.0.1/ok/last
    sleep 1
}

nw_main() {
    if [ "${1:-}" != "--list" ]; then
        local s
        for s in haproxy tcpdump nft node javac java puma; do
            command -v $s >/dev/null || { echo "missing $s" >&2; return 1; }
        done
    fi
    run_scenarios "$NW_SCENARIOS" record "$@"
}

nw_main "$@"
