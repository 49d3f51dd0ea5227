#!/usr/bin/env bash
# Record one ALB-like failure mix as two files from two machines (sibling of record.sh, whose
# topology, mirroring and helpers it sources): HAProxy as the ALB node, one target host whose
# ports fail in different ways, and besides the node's mirror (both legs,
# kept in the scratch dir as the reference) two host captures, into samples/real/two_machines/:
#
# - client-host.pcap: `tcpdump -i eth0 -s 0` on the client host, client<->ALB only, plain
#   Ethernet, running for the whole scenario;
# - target-host.pcap: `tcpdump -i any -s 2048` on the target host, ALB<->target only,
#   Linux cooked SLL2 frames and a different snap length, started STARTS_LATER s after the
#   client's and stopped before it (requests before and after it have no captured back end);
# - target-host-ahead.pcap / target-host-behind.pcap: the target file with its clock shifted
#   by +0.35 s and -2.1 s (`editcap -t`, which writes pcapng), as two machines' clocks disagree;
# - truth.log: the client's results (local port = client port) and HAProxy's log.
#
#   sudo tools/realcap/record_twomach.sh                # all scenarios
#   tools/realcap/record_twomach.sh --list
#
# Namespaces are named tm-* unless REALCAP_NS_PREFIX says otherwise; scratch in /tmp/tm-realcap.
# Needs what record.sh needs, and editcap (Debian's wireshark-common, with tshark).
#
# tm_two_hosts (idle timeout 5 s, one target host 10.99.1.11, a port per behaviour):
#   :8080 keep-alive 2 s, its first FIN per connection dropped (a keep-alive race at 2.05 s);
#   :8083 resets the connection before answering; :8084 answers 500 (Apache's Server header);
#   :8085 answers after 7 s (past the idle timeout: the proxy's 504); :8089 nothing listens
#   (refused: the proxy's 503, mapped to an ALB's 502). Each phase (before, during and after
#   the target capture) sends some of them; the log says which request is where.
set -euo pipefail

export REALCAP_NS_PREFIX=${REALCAP_NS_PREFIX:-tm-}
export REALCAP_WORK=${REALCAP_WORK:-/tmp/tm-realcap}
# shellcheck source=record.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/record.sh"

TWOMACH_SCENARIOS="tm_two_hosts"
STARTS_LATER=${STARTS_LATER:-9}

HOST_TCPDUMPS=()
host_capture() { # name ns tcpdump-args...: start a tcpdump on a host, as a user would
    local name=$1 ns=$2; shift 2
    bg "tcpdump-$name" "$ns" tcpdump -U -n -w "$WORK/$name.pcap" "$@"
    HOST_TCPDUMPS+=("${PIDS[-1]}")
    echo "$(date +%T.%N | cut -c1-12) capture $name started" | tee -a "$WORK/client.log" >&2
}
host_capture_stop() { # index: stop that tcpdump (the child of the subshell `bg` started)
    pkill -INT -P "${HOST_TCPDUMPS[$1]}" 2>/dev/null || true
    sleep 0.3
    echo "$(date +%T.%N | cut -c1-12) capture ${2:-$1} stopped" | tee -a "$WORK/client.log" >&2
}
phase() { echo "$(date +%T.%N | cut -c1-12) phase $*" | tee -a "$WORK/client.log" >&2; }

sc_tm_two_hosts_setup() {
    target ${NSP}tgt1 ka --port 8080 --mode ka_short --ka 2 --server "gunicorn"
    drop_first_fin ${NSP}tgt1 8080
    target ${NSP}tgt1 rst --port 8083 --mode close_rst --server "realcap-target/1.0"
    target ${NSP}tgt1 err --port 8084 --mode status --status 500 --server "Apache/2.4.58 (Ubuntu)"
    target ${NSP}tgt1 slow --port 8085 --mode slow --delay 7 --server "realcap-target/1.0"
    SERVERS="    server t1 10.99.1.11:8080"
    ERR503=502 # a refused connect is HAProxy's 503, an ALB's 502
    EXTRA_FRONTEND="    use_backend tg_rst if { path_beg /rst/ }
    use_backend tg_err if { path_beg /err/ }
    use_backend tg_slow if { path_beg /slow/ }
    use_backend tg_down if { path_beg /down/ }"
    EXTRA_BACKENDS="backend tg_rst
    server t3 10.99.1.11:8083
backend tg_err
    server t4 10.99.1.11:8084
backend tg_slow
    server t5 10.99.1.11:8085
backend tg_down
    server t9 10.99.1.11:8089"
}
sc_tm_two_hosts_drive() {
    local t0=$SECONDS
    HOST_TCPDUMPS=()
    host_capture client ${NSP}client -i eth0 -s 0 tcp or icmp
    sleep 1
    phase "A: client capture only"
    client 40701 http://10.99.0.1/ok/a1
    sleep 0.3
    client 40702 http://10.99.0.1/err/a2
    sleep 0.3
    client 40703 http://10.99.0.1/down/a3
    sleep 0.3
    client 40704 http://10.99.0.1/rst/a4
    sleep 0.3
    client 40705 http://10.99.0.1/ok/a5          # reuses a1's connection to :8080
    sleep $((STARTS_LATER - (SECONDS - t0)))
    host_capture target ${NSP}tgt1 -i any -s 2048 tcp or icmp
    sleep 1
    phase "B: both captures"
    client 40711 http://10.99.0.1/ok/b1          # a new connection (the target closed a5's after 2 s)
    sleep 2.05
    client 40712 http://10.99.0.1/race/b2        # reused after 2.05 s idle: keep-alive race
    sleep 0.5
    client 40713 http://10.99.0.1/ok/b3
    sleep 0.3
    client 40714 http://10.99.0.1/err/b4         # on the :8084 connection opened for a2, before the target capture
    sleep 0.3
    client 40715 http://10.99.0.1/rst/b5
    sleep 0.3
    client 40716 http://10.99.0.1/down/b6
    sleep 0.3
    client 40717 http://10.99.0.1/slow/b7        # 504 after the 5 s idle timeout
    sleep 0.3
    client 40718 http://10.99.0.1/ok/b8
    sleep 0.5
    client 40719 http://10.99.0.1/slow/b9 &      # its 504 comes after the target capture stops
    local straddle=$!
    sleep 2
    host_capture_stop 1 target
    sleep 0.5
    phase "C: client capture only"
    client 40721 http://10.99.0.1/err/c1
    sleep 0.3
    client 40722 http://10.99.0.1/down/c2
    sleep 0.3
    client 40723 http://10.99.0.1/rst/c3
    sleep 0.3
    client 40724 http://10.99.0.1/ok/c4
    wait "$straddle"
    sleep 1
    # tcpdump loses what is still in its capture ring when stopped (up to a second or so):
    # a last request keeps the 504 above out of that tail.
    client 40725 http://10.99.0.1/ok/c5
    sleep 1.5
    host_capture_stop 0 client
    sleep 0.5
}

record_twomach() {
    local sc=$1 dir=$OUT/two_machines out=$OUT f
    mkdir -p "$dir" "$WORK/out"
    OUT=$WORK/out record "$sc" # the mirror (reference, both legs) and the log stay in scratch
    OUT=$out
    cp "$WORK/out/$sc.log" "$dir/truth.log"
    cp "$WORK/client.pcap" "$dir/client-host.pcap"
    cp "$WORK/target.pcap" "$dir/target-host.pcap"
    editcap -t 0.35 "$dir/target-host.pcap" "$dir/target-host-ahead.pcap"
    editcap -t -2.1 "$dir/target-host.pcap" "$dir/target-host-behind.pcap"
    for f in client-host target-host target-host-ahead target-host-behind; do
        log "wrote $dir/$f.pcap ($(stat -c %s "$dir/$f.pcap") bytes)"
    done
    log "reference (node's mirror, both legs): $WORK/out/$sc.pcap"
}

run_scenarios "$TWOMACH_SCENARIOS" record_twomach "$@"
