#!/usr/bin/env bash
# Record a real embedded Apache Tomcat 10.1 target (the server under Spring Boot's default web
# stack) through HAProxy as an ALB node (sibling of record.sh, whose topology, mirroring and
# helpers it sources): its keep-alive timer raced by requests at the idle gap, its
# maxKeepAliveRequests limit (`Connection: close` on the last request of a connection), and the
# ways a servlet fails a request (throws before any byte: Tomcat's own 500 page; throws after
# the response is committed: Tomcat closes the connection mid-body; the JVM halts; a status it
# chose; an answer slower than the proxy's idle timeout).
#
#   sudo tools/realcap/record_tomcat.sh                # all scenarios
#   sudo tools/realcap/record_tomcat.sh tc_tomcat      # some of them
#   tools/realcap/record_tomcat.sh --list
#
# Namespaces are named tc-* unless REALCAP_NS_PREFIX says otherwise; scratch in
# /tmp/tc-realcap. Writes samples/real/<scenario>.pcap (VXLAN mirror of the node),
# <scenario>.target.pcap (tcpdump on target 10.99.1.11) and <scenario>.log (client results,
# HAProxy's log, then the target's own output). Needs what record.sh needs, plus a JDK
# (`javac`, `java`) and Debian's Tomcat jars (`apt-get install libtomcat10-java`).
#
# As in record_ka.sh, a race window is made by dropping each connection's first FIN from the
# target (the kernel retransmits it about 0.2 s later), like a FIN still in flight.
set -euo pipefail

export REALCAP_NS_PREFIX=${REALCAP_NS_PREFIX:-tc-}
export REALCAP_WORK=${REALCAP_WORK:-/tmp/tc-realcap}
# shellcheck source=record.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/record.sh"

TC_SCENARIOS="tc_tomcat tc_tomcat_max tc_tomcat_busy tc_tomcat_full tc_tomcat_upload
tc_tomcat_coyote"
TC_JARS="api catalina coyote util util-scan juli servlet-api jaspic-api annotations-api el-api jni"

# HAProxy keeps idle back-end connections longer than the target's keep-alive timer (an ALB
# keeps them up to its idle timeout): no purge of idle server connections during a recording.
POOL_PURGE=60s

# The target's output goes into the scenario's log after HAProxy's (without Java's stack frames).
TARGET_LOG=1
TARGET_LOG_SKIP='^\s*at '

tomcat() { # keepAliveTimeout_ms maxKeepAliveRequests [name=value...]: TcTomcat on 10.99.1.11:8080
    local cp="" j
    for j in $TC_JARS; do cp="$cp/usr/share/java/tomcat10-$j.jar:"; done
    mkdir -p "$WORK/java"
    javac -nowarn -cp "$cp" -d "$WORK/java" "$HERE/servers/TcTomcat.java"
    chmod -R a+rX "$WORK/java"
    supervised tgt1 ${NSP}tgt1 java -Djava.io.tmpdir="$WORK" -cp "$cp$WORK/java" TcTomcat \
        0.0.0.0 8080 "$@"
    SERVERS="    server t1 10.99.1.11:8080"
    TARGET_VANTAGE=1
}

sc_tc_tomcat_setup() {
    # keepAliveTimeout 2 s (Tomcat's default is connectionTimeout: 60 s in the Connector, 20 s
    # in the distribution's server.xml), scaled to the stand-in's 5 s idle timeout; recorded
    # 2026-12-07, its poller closed idle connections 2.00 s after their last response
    tomcat 2000 100
    drop_first_fin ${NSP}tgt1 8080
}
sc_tc_tomcat_drive() {
    sleep 3                                       # the JVM starts
    client 44001 http://10.99.0.1/ok/first
    sleep 1
    client 44002 http://10.99.0.1/ok/reused-1s
    sleep 5                                       # Tomcat closes it (2 s idle)
    # sweep the gaps over 2-3 s: its poller might check timeouts only about once a second
    race_sweep 44031 2.0 2.1 2.2 2.3 2.4 2.5 2.6 2.7 2.8 2.9 3.0 2.35 2.45 2.55 2.65 2.75
    sleep 1
    client 44011 http://10.99.0.1/ok/before-failures
    sleep 0.5
    client 44012 http://10.99.0.1/throw/a         # Tomcat's own 500 page, Connection: close
    sleep 0.5
    client 44013 http://10.99.0.1/ok/b
    sleep 0.5
    client 44014 http://10.99.0.1/abort/c         # 200, 100 of 1000 bytes, Tomcat closes
    sleep 0.5
    client 44015 http://10.99.0.1/status/503/d    # the servlet's own 503
    sleep 0.5
    client 44016 http://10.99.0.1/ok/e
    sleep 0.5
    client 44017 http://10.99.0.1/slow/8/f        # past the 5 s idle timeout
    sleep 4
    client 44018 http://10.99.0.1/ok/g
    sleep 0.5
    client 44019 http://10.99.0.1/halt/h          # the JVM halts before any response byte
    sleep 3                                       # the JVM comes back
    client 44020 http://10.99.0.1/ok/last
    sleep 1
}

sc_tc_tomcat_max_setup() {
    # maxKeepAliveRequests 5 (default 100): the 5th request of a connection is answered with
    # `Connection: close` and Tomcat closes it; keepAliveTimeout left at Tomcat's default
    tomcat "" 5
}
sc_tc_tomcat_max_drive() {
    sleep 3                                       # the JVM starts
    local p
    for p in $(seq 44101 44112); do
        client "$p" "http://10.99.0.1/ok/seq-$p"
        sleep 0.3
    done
    client 44113 http://10.99.0.1/throw/a         # Tomcat's 500 closes the connection too
    sleep 0.3
    for p in $(seq 44114 44118); do
        client "$p" "http://10.99.0.1/ok/seq-$p"
        sleep 0.3
    done
    sleep 1
}

sc_tc_tomcat_busy_setup() {
    # an exhausted Tomcat: one worker thread, one connection (maxConnections counts idle
    # keep-alive connections too), an accept queue of one (acceptCount, the listen backlog;
    # defaults 200, 8192 and 100): past them the kernel queues handshaken connections Tomcat
    # does not accept, then drops SYNs
    tomcat "" "" maxThreads=1 maxConnections=1 acceptCount=1
}
sc_tc_tomcat_busy_drive() {
    sleep 3                                       # the JVM starts
    client 44201 http://10.99.0.1/ok/first        # its connection stays open (the one slot)
    sleep 0.5
    local jobs=()
    client 44202 http://10.99.0.1/slow/8/a &      # reuses it, holds the thread 8 s: 504 at 5 s
    jobs+=($!)
    sleep 0.5
    client 44203 http://10.99.0.1/ok/queued-1 &   # new connections, not accepted by Tomcat
    jobs+=($!)
    sleep 0.3
    client 44204 http://10.99.0.1/ok/queued-2 &
    jobs+=($!)
    sleep 0.3
    client 44205 http://10.99.0.1/ok/queued-3 &   # the accept queue is full: SYNs dropped
    jobs+=($!)
    sleep 0.3
    client 44206 http://10.99.0.1/ok/queued-4 &
    jobs+=($!)
    wait "${jobs[@]}"                             # the clients only, not the servers
    sleep 1
    client 44207 http://10.99.0.1/ok/after
    sleep 1
}

sc_tc_tomcat_full_setup() {
    # exhausted as in tc_tomcat_busy, for longer than the connect timeout: the proxy gives up
    # connecting (HAProxy's 503 for that replaced by the 504 an ALB answers)
    tomcat "" "" maxThreads=1 maxConnections=1 acceptCount=1
    ERR503=504
}
sc_tc_tomcat_full_drive() {
    sleep 3                                       # the JVM starts
    client 44301 http://10.99.0.1/ok/first        # its connection stays open (the one slot)
    sleep 0.5
    local jobs=()
    client 44302 http://10.99.0.1/slow/14/a &     # holds the thread 14 s: 504 at 5 s
    jobs+=($!)
    sleep 0.5
    client 44303 http://10.99.0.1/ok/queued-1 &   # fill the accept queue: 504 at 5 s
    jobs+=($!)
    sleep 0.3
    client 44304 http://10.99.0.1/ok/queued-2 &
    jobs+=($!)
    sleep 0.3
    client 44305 http://10.99.0.1/ok/no-accept &  # SYNs dropped past the 10 s connect timeout
    jobs+=($!)
    wait "${jobs[@]}"                             # the clients only, not the servers
    sleep 4                                       # Tomcat's slot frees (14 s)
    client 44306 http://10.99.0.1/ok/after
    sleep 1
}

sc_tc_tomcat_upload_setup() {
    # maxSwallowSize 4096 (default 2 MB, so Spring Boot's upload limits answer 413/500 the same
    # way for bigger files): after an answer given before the request body was read, Tomcat
    # reads and drops up to that much of the rest; past it, it closes the connection
    tomcat "" "" maxSwallowSize=4096
    head -c 98304 /dev/zero | tr '\0' 'u' >"$WORK/upload.bin"
    head -c 2048 /dev/zero | tr '\0' 'u' >"$WORK/small.bin"
}
sc_tc_tomcat_upload_drive() {
    sleep 3                                       # the JVM starts
    client 44401 http://10.99.0.1/ok/first
    sleep 0.5
    client 44402 http://10.99.0.1/reject/small --data-binary @"$WORK/small.bin"  # swallowed
    sleep 0.5
    client 44403 http://10.99.0.1/ok/reused
    sleep 0.5
    client 44404 http://10.99.0.1/reject/big --data-binary @"$WORK/upload.bin"   # closed
    sleep 0.5
    client 44405 http://10.99.0.1/ok/upload --data-binary @"$WORK/upload.bin"
    sleep 0.5
    client 44406 http://10.99.0.1/ok/last
    sleep 1
}

sc_tc_tomcat_coyote_setup() {
    # the `Server: Apache-Coyote/1.1` header every Tomcat up to 8.0 sent by default (its
    # connector's `server` attribute), keepAliveTimeout 2 s as in tc_tomcat
    tomcat 2000 "" server=Apache-Coyote/1.1
    drop_first_fin ${NSP}tgt1 8080
}
sc_tc_tomcat_coyote_drive() {
    sleep 6                                       # the JVM starts (a busy machine: slower)
    client 44501 http://10.99.0.1/ok/first
    sleep 1
    client 44502 http://10.99.0.1/ok/reused-1s
    sleep 3                                       # Tomcat closes it (2 s idle)
    race_sweep 44511 2.0 2.05 2.1 2.15
    sleep 0.5
    client 44521 http://10.99.0.1/ok/last
    sleep 1
}

tc_main() {
    if [ "${1:-}" != "--list" ]; then
        local s
        for s in haproxy tcpdump nft javac java; do
            command -v $s >/dev/null || { echo "missing $s" >&2; return 1; }
        done
        [ -f /usr/share/java/tomcat10-catalina.jar ] \
            || { echo "missing Tomcat (apt-get install libtomcat10-java)" >&2; return 1; }
    fi
    run_scenarios "$TC_SCENARIOS" record "$@"
}

tc_main "$@"
