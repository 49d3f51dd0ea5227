#!/usr/bin/env bash
# Record what a client's own host sees of ALB-like failures (sibling of record.sh, whose
# topology, mirroring and helpers it sources): HAProxy as the ALB node, and besides the node's
# mirror (both legs, samples/real/<scenario>.pcap) a tcpdump on the client's interface
# (samples/real/<scenario>.client.pcap: the front end only, plain Ethernet, as `tcpdump -i eth0`
# on a client instance writes it).
#
#   sudo tools/realcap/record_front.sh                 # all scenarios
#   sudo tools/realcap/record_front.sh frl_gave_up     # some of them
#   tools/realcap/record_front.sh --list
#
# Namespaces are named frl-* unless REALCAP_NS_PREFIX says otherwise; scratch in
# /tmp/frl-realcap. Needs what record.sh needs.
#
# - frl_gave_up: the client gives up (curl --max-time 1.5) on a slow target, and its capture
#   stops half a second later (a tcpdump run around the failing command): it holds one
#   plain-HTTP request that nothing answered, and no awselb answer or ALB header names the
#   node. (The node answers the target's late 200 at 4 s, as an ALB does after a half-close;
#   the mirror capture has it.)
# - frl_late_502: the ALB's 502 at two times after the request, each a target that holds the
#   request and then closes (FIN): ~12.5 s (past the connect timeout, inside a TLS handshake's
#   reach) and ~21 s (past both); the node's idle timeout is raised to 30 s for it (analyse
#   with --idle-timeout 30).
set -euo pipefail

export REALCAP_NS_PREFIX=${REALCAP_NS_PREFIX:-frl-}
export REALCAP_WORK=${REALCAP_WORK:-/tmp/frl-realcap}
# shellcheck source=record.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/record.sh"

FRONT_SCENARIOS="frl_gave_up frl_late_502"

CLIENT_TCPDUMP=""
client_capture() { # start the tcpdump on the client's own interface
    bg tcpdump-client ${NSP}client tcpdump -i eth0 -s 0 -U -n -w "$WORK/client.pcap" tcp or icmp
    CLIENT_TCPDUMP=${PIDS[-1]}
    sleep 1
}
client_capture_stop() { # stop it (the child of the subshell `bg` started), as a user stops tcpdump
    pkill -INT -P "$CLIENT_TCPDUMP" 2>/dev/null || true
    sleep 0.3
}

sc_frl_gave_up_setup() {
    target ${NSP}tgt1 tgt1 --mode slow --delay 4 --server "realcap-target/1.0"
    SERVERS="    server t1 10.99.1.11:8080"
}
sc_frl_gave_up_drive() {
    client_capture
    client 40601 http://10.99.0.1/report/impatient --max-time 1.5
    sleep 0.5
    client_capture_stop
    sleep 3
}

sc_frl_late_502_setup() {
    IDLE=30
    # /m/hold_fin/ (every /b/ request on target 2): read the request, hold it --delay s, close
    # without an answer
    target ${NSP}tgt1 tgt1 --mode healthy --delay 21 --server "realcap-target/1.0"
    target ${NSP}tgt2 tgt2 --mode hold_fin --delay 12.5 --server "realcap-target/1.0"
    SERVERS="    server t1 10.99.1.11:8080"
    EXTRA_FRONTEND="    use_backend tg2 if { path_beg /b/ }"
    EXTRA_BACKENDS="backend tg2
    server t2 10.99.1.12:8080"
}
sc_frl_late_502_drive() {
    client_capture
    client 40611 http://10.99.0.1/ok/warmup
    sleep 0.3
    client 40612 http://10.99.0.1/b/hold_fin/after-12.5s &
    local first=$!
    sleep 0.2
    client 40613 http://10.99.0.1/m/hold_fin/after-21s
    wait "$first"
    sleep 1
}

record_front() {
    local sc=$1 idle=$IDLE
    record "$sc"
    IDLE=$idle
    cp "$WORK/client.pcap" "$OUT/$sc.client.pcap"
    log "wrote $OUT/$sc.client.pcap ($(stat -c %s "$OUT/$sc.client.pcap") bytes)"
}

run_scenarios "$FRONT_SCENARIOS" record_front "$@"
