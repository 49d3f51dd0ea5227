#!/usr/bin/env bash
# Record real ALB-like traffic (HAProxy in front of misbehaving targets) inside private network
# namespaces, mirrored into VXLAN the way VPC Traffic Mirroring does it.
#
#   sudo tools/realcap/record.sh                 # all scenarios
#   sudo tools/realcap/record.sh keepalive_race  # one or more scenarios
#   tools/realcap/record.sh --list
#
# Writes samples/real/<scenario>.pcap (VXLAN, as seen on the mirror target),
# samples/real/<scenario>.target.pcap (back-end vantage, plain Ethernet, some scenarios) and
# samples/real/<scenario>.log (client results with their local ports + HAProxy's log lines).
# Everything lives in namespaces named rc-* (REALCAP_NS_PREFIX=xx- names them xx-* instead, so
# that two recordings can run at once); they are deleted on exit. Nothing is routed out.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${REALCAP_OUT:-$REPO/samples/real}
WORK=${REALCAP_WORK:-/tmp/realcap}
IDLE=5          # HAProxy timeout server/client = the "ALB idle timeout" (albscope --idle-timeout 5)
VNI=4242        # mirror session's VXLAN network id
# Namespace names start with $NSP (REALCAP_NS_PREFIX, default rc-): recordings running at the
# same time use different prefixes.
NSP=${REALCAP_NS_PREFIX:-rc-}
NS_ALL="${NSP}client ${NSP}alb ${NSP}alb2 ${NSP}vpc ${NSP}tgt1 ${NSP}tgt2 ${NSP}mirror"
PIDS=()

ALL_SCENARIOS="ok_keepalive keepalive_race closed_fin closed_rst malformed_response
header_too_large idle_timeout incomplete_body target_5xx connect_refused unreachable_icmp
connect_timeout connect_timeout_return_path tls_handshake_failed tls_handshake_timeout
no_target_attempt client_closed deregistration_abort mixed_two_nodes tls_backend
tls_backend_alert tls_backend_silent hc_refused h2c_streams grpc_status"

log() { echo "[realcap $(date +%T)] $*" >&2; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# ---------------------------------------------------------------- network
teardown() {
    local p
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] && kill "$p" 2>/dev/null || true
    done
    sleep 0.3
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true
    done
    PIDS=()
    local ns
    for ns in $NS_ALL; do
        if ip netns list | grep -qw "$ns"; then
            # kill whatever still runs inside our own namespaces (processes we started)
            for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
            ip netns del "$ns" 2>/dev/null || true
        fi
    done
}

offloads_off() { # ns dev: no TSO/GSO/GRO and no checksum offload, so captures show real frames
    nsx "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
}

veth() { # nsA devA addrA nsB devB addrB mtu
    local na=$1 da=$2 aa=$3 nb=$4 db=$5 ab=$6 mtu=${7:-1500}
    ip link add "$da" netns "$na" mtu "$mtu" type veth peer name "$db" netns "$nb" mtu "$mtu"
    [ -n "$aa" ] && nsx "$na" ip addr add "$aa" dev "$da"
    [ -n "$ab" ] && nsx "$nb" ip addr add "$ab" dev "$db"
    nsx "$na" ip link set "$da" up
    nsx "$nb" ip link set "$db" up
    offloads_off "$na" "$da"
    offloads_off "$nb" "$db"
}

# Traffic mirroring: every TCP and ICMP frame entering or leaving the ALB node's ENI (eth0) is
# copied into a VXLAN tunnel (UDP 4789) to the mirror target 10.99.9.2. Only TCP/ICMP are
# matched so that the tunnel's own UDP packets are not mirrored again.
mirror_node() { # ns local_addr vni
    local ns=$1 addr=$2 vni=$3
    nsx "$ns" ip link add vxm type vxlan id "$vni" local "$addr" remote 10.99.9.2 \
        dstport 4789 dev eth0 nolearning
    nsx "$ns" ip link set vxm up
    offloads_off "$ns" vxm
    nsx "$ns" tc qdisc add dev eth0 clsact
    local dir proto prio=1
    for dir in ingress egress; do
        for proto in 6 1; do
            nsx "$ns" tc filter add dev eth0 "$dir" protocol ip prio $prio u32 \
                match ip protocol $proto 0xff action mirred egress mirror dev vxm
            prio=$((prio + 1))
        done
    done
}

setup_net() {
    teardown
    local ns
    for ns in $NS_ALL; do
        ip netns add "$ns"
        nsx "$ns" ip link set lo up
        # IPv4 only: no router solicitations / MLD reports in the captures
        nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    done
    # ${NSP}vpc is the "VPC router": it alone forwards, and only between these private subnets.
    nsx ${NSP}vpc sysctl -qw net.ipv4.ip_forward=1
    veth ${NSP}vpc vc 10.99.2.254/24 ${NSP}client eth0 10.99.2.10/24
    nsx ${NSP}vpc ip link add bra mtu 9001 type bridge
    nsx ${NSP}vpc ip addr add 10.99.0.254/24 dev bra
    nsx ${NSP}vpc ip link set bra up
    veth ${NSP}vpc va1 "" ${NSP}alb eth0 10.99.0.1/24 9001
    nsx ${NSP}vpc ip link set va1 master bra
    if [ "${ALB2:-0}" = 1 ]; then
        veth ${NSP}vpc va2 "" ${NSP}alb2 eth0 10.99.0.2/24 9001
        nsx ${NSP}vpc ip link set va2 master bra
        nsx ${NSP}alb2 ip route add 10.99.0.0/16 via 10.99.0.254
    fi
    veth ${NSP}vpc vm 10.99.9.254/24 ${NSP}mirror eth0 10.99.9.2/24 9001
    nsx ${NSP}vpc ip link add br0 type bridge
    nsx ${NSP}vpc ip addr add 10.99.1.254/24 dev br0
    nsx ${NSP}vpc ip link set br0 up
    veth ${NSP}vpc vt1 "" ${NSP}tgt1 eth0 10.99.1.11/24
    veth ${NSP}vpc vt2 "" ${NSP}tgt2 eth0 10.99.1.12/24
    nsx ${NSP}vpc ip link set vt1 master br0
    nsx ${NSP}vpc ip link set vt2 master br0
    nsx ${NSP}client ip route add 10.99.0.0/16 via 10.99.2.254
    nsx ${NSP}alb ip route add 10.99.0.0/16 via 10.99.0.254
    nsx ${NSP}mirror ip route add 10.99.0.0/16 via 10.99.9.254
    nsx ${NSP}tgt1 ip route add 10.99.0.0/16 via 10.99.1.254
    nsx ${NSP}tgt2 ip route add 10.99.0.0/16 via 10.99.1.254

    mirror_node ${NSP}alb 10.99.0.1 "$VNI"
    if [ "${ALB2:-0}" = 1 ]; then mirror_node ${NSP}alb2 10.99.0.2 $((VNI + 1)); fi
    # The mirror target has no VXLAN listener: drop silently instead of ICMP port unreachable.
    nsx ${NSP}mirror nft add table inet rc
    nsx ${NSP}mirror nft add chain inet rc in '{ type filter hook input priority 0; }'
    nsx ${NSP}mirror nft add rule inet rc in udp dport 4789 drop
}

# ---------------------------------------------------------------- helpers
bg() { # name ns cmd...: start a background process, remember its pid
    local name=$1 ns=$2; shift 2
    nsx "$ns" "$@" >"$WORK/$name.out" 2>&1 &
    PIDS+=("$!")
}

tls_cert() {
    [ -f "$WORK/alb.pem" ] && return 0
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=realcap-alb \
        -keyout "$WORK/alb.key" -out "$WORK/alb.crt" >/dev/null 2>&1
    cat "$WORK/alb.crt" "$WORK/alb.key" >"$WORK/alb.pem"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=realcap-target \
        -keyout "$WORK/tgt.key" -out "$WORK/tgt.crt" >/dev/null 2>&1
}

target() { # ns name args...: start servers/target.py
    local ns=$1 name=$2; shift 2
    bg "$name" "$ns" python3 -u "$HERE/servers/target.py" --name "$name" "$@"
}

# HAProxy configured like an ALB node. $SERVERS = server lines; $CHECK = "check ..." or "";
# $ERR503 = which error page HAProxy's 503 (its code for a failed connect) is replaced with;
# $POOL_PURGE = how long idle back-end connections are kept (HAProxy's default purges them
# sooner than an ALB, which keeps them up to its idle timeout).
write_haproxy_cfg() { # [node address] [config/socket name]
    local addr=${1:-10.99.0.1} name=${2:-haproxy}
    cat >"$WORK/$name.cfg" <<EOF
global
    log stdout format raw local0
    maxconn 200
    tune.bufsize 32768
    ssl-server-verify none
    stats socket $WORK/$name.sock mode 600 level admin
    # HAProxy lowercases header names on HTTP/1; restore the case an ALB uses for its headers
    h1-case-adjust host Host
    h1-case-adjust user-agent User-Agent
    h1-case-adjust accept Accept
    h1-case-adjust content-type Content-Type
    h1-case-adjust content-length Content-Length
    h1-case-adjust connection Connection
    h1-case-adjust x-forwarded-for X-Forwarded-For
    h1-case-adjust x-forwarded-proto X-Forwarded-Proto
    h1-case-adjust x-forwarded-port X-Forwarded-Port
    h1-case-adjust x-amzn-trace-id X-Amzn-Trace-Id

defaults
    ${POOL_PURGE:+default-server pool-purge-delay $POOL_PURGE}
    mode http
    log global
    option httplog
    timeout connect 10s
    timeout client ${IDLE}s
    timeout http-keep-alive ${IDLE}s
    timeout http-request 10s
    timeout server ${IDLE}s
    retries 0
    no option redispatch
    http-reuse always
    option h1-case-adjust-bogus-server
    errorfile 502 $HERE/haproxy/502.http
    errorfile 503 $HERE/haproxy/${ERR503:-503}.http
    errorfile 504 $HERE/haproxy/504.http

frontend alb
    bind $addr:80
    bind $addr:443 ssl crt $WORK/alb.pem ${TLS_BIND_OPTS:-}
    log-format "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq bi=%bi:%bp {%[unique-id]} %{+Q}r"
    unique-id-format 1-%[date,htonl,hex,lower]-%[rand,htonl,hex,lower]%[rand,htonl,hex,lower]%[rand,htonl,hex,lower]
    option forwardfor
    http-request set-header X-Forwarded-Proto https if { ssl_fc }
    http-request set-header X-Forwarded-Proto http if !{ ssl_fc }
    http-request set-header X-Forwarded-Port %[dst_port]
    http-request set-header X-Amzn-Trace-Id Root=%[unique-id]
${EXTRA_FRONTEND:-}
    default_backend tg

backend tg
    balance roundrobin
    option httpchk
    http-check send meth GET uri /health ver HTTP/1.1 hdr Host 10.99.1.11:8080 hdr User-Agent ELB-HealthChecker/2.0
    http-check expect status 200
$SERVERS
${EXTRA_BACKENDS:-}
EOF
}

client() { # local_port url [curl args...]: one request, result line into the scenario log
    local port=$1 url=$2; shift 2
    local res rc t0
    t0=$(date +%T.%N | cut -c1-12)
    res=$(nsx ${NSP}client curl -sk -o /dev/null --local-port "$port" --max-time 30 \
        -w '%{http_code} time_total=%{time_total}s size=%{size_download}' "$@" "$url" 2>&1) \
        && rc=0 || rc=$?
    echo "$t0 client 10.99.2.10:$port $url -> $res curl_exit=$rc" \
        | tee -a "$WORK/client.log" >&2
}

supervised() { # name ns cmd...: run cmd in a loop (a crashed server comes back ~0.3 s later)
    local name=$1 ns=$2; shift 2
    bg "$name" "$ns" sh -c 'while :; do "$@"; echo "exited $? at $(date +%T.%N)"; sleep 0.3; done' \
        sh "$@"
}

# Keep-alive races (record_ka.sh, record_nodesw.sh): the target's first FIN per connection is
# dropped (the kernel retransmits it ~0.2 s later, like a FIN still in flight), and requests
# are sent at chosen idle gaps after a connection's last use.
drop_first_fin() { # ns port: drop each connection's first FIN from the server
    nsx "$1" nft add table inet rc
    nsx "$1" nft add chain inet rc out '{ type filter hook output priority 0; }'
    nsx "$1" nft add rule inet rc out tcp sport "$2" 'tcp flags & fin == fin' ct mark 0 ct mark set 1 drop
}

race_sweep() { # first_port gap...: per gap, a request that (re)opens a connection, the gap, a request on it
    local port=$1 gap; shift
    for gap in "$@"; do
        client "$port" "http://10.99.0.1/ok/prep-$gap"
        sleep "$gap"
        client $((port + 1)) "http://10.99.0.1/race/after-$gap"
        port=$((port + 2))
        sleep 0.6
    done
}

client_multi() { # local_port url url...: several requests on one front-end connection
    local port=$1; shift
    local res t0
    t0=$(date +%T.%N | cut -c1-12)
    res=$(nsx ${NSP}client curl -sk --local-port "$port" --max-time 30 \
        -w '%{http_code} ' -o /dev/null -o /dev/null -o /dev/null "$@" 2>&1) || true
    echo "$t0 client 10.99.2.10:$port $* -> $res" \
        | tee -a "$WORK/client.log" >&2
}

# ---------------------------------------------------------------- scenarios
# Each sc_<name>_setup starts targets and sets SERVERS/ERR503/TARGET_VANTAGE; sc_<name>_drive
# sends the client requests.
SRV_CHECK="check inter 3s fall 3 rise 2"

sc_ok_keepalive_setup() {
    target ${NSP}tgt1 tgt1 --mode healthy --ka 60 --server "nginx/1.24.0"
    SERVERS="    server t1 10.99.1.11:8080 $SRV_CHECK"
    TARGET_VANTAGE=1
}
sc_ok_keepalive_drive() {
    client_multi 40001 http://10.99.0.1/a http://10.99.0.1/b
    sleep 1
    client 40002 http://10.99.0.1/c
    sleep 1
    client 40003 https://10.99.0.1/secure
    sleep 1
    client 40004 http://10.99.0.1/form -d 'name=value&x=1'
    sleep 3.5
}

sc_keepalive_race_setup() {
    # gunicorn-like keep-alive of 2 s, shorter than the proxy's idle timeout. To widen the race
    # window (no netem in this kernel) the target's FIN is delayed by dropping its first copy
    # (the kernel retransmits it ~200-400 ms later), like a FIN still in flight.
    target ${NSP}tgt1 tgt1 --mode ka_short --ka 2 --server "gunicorn"
    nsx ${NSP}tgt1 nft add table inet rc
    nsx ${NSP}tgt1 nft add chain inet rc out '{ type filter hook output priority 0; }'
    nsx ${NSP}tgt1 nft add rule inet rc out tcp sport 8080 'tcp flags & fin == fin' ct mark 0 ct mark set 1 drop
    SERVERS="    server t1 10.99.1.11:8080"
    TARGET_VANTAGE=1
}
sc_keepalive_race_drive() {
    client 40011 http://10.99.0.1/ok/first
    sleep 2.05
    client 40012 http://10.99.0.1/race   # reused connection, idle 2.05 s: target already closed
    sleep 0.5
    client 40013 http://10.99.0.1/after-race
    sleep 1
    client 40014 http://10.99.0.1/reused-1s
    sleep 4
    client 40015 http://10.99.0.1/after-clean-close
    sleep 3
}

sc_closed_fin_setup() {
    target ${NSP}tgt1 tgt1 --mode close_fin --server "realcap-target/1.0"
    SERVERS="    server t1 10.99.1.11:8080 $SRV_CHECK"
}
sc_closed_fin_drive() {
    client 40021 http://10.99.0.1/ok/warmup
    sleep 0.5
    client 40022 http://10.99.0.1/fail
    sleep 1
}

sc_closed_rst_setup() {
    target ${NSP}tgt1 tgt1 --mode close_rst --server "realcap-target/1.0"
    SERVERS="    server t1 10.99.1.11:8080 $SRV_CHECK"
}
sc_closed_rst_drive() {
    client 40031 http://10.99.0.1/ok/warmup
    sleep 0.5
    client 40032 http://10.99.0.1/fail
    sleep 1
}

sc_malformed_response_setup() {
    target ${NSP}tgt1 tgt1 --mode garbage
    SERVERS="    server t1 10.99.1.11:8080 $SRV_CHECK"
}
sc_malformed_response_drive() {
    client 40041 http://10.99.0.1/ok/warmup
    sleep 0.5
    client 40042 http://10.99.0.1/fail
    sleep 2
}

sc_header_too_large_setup() {
    target ${NSP}tgt1 tgt1 --mode bigheader
    SERVERS="    server t1 10.99.1.11:8080 $SRV_CHECK"
}
sc_header_too_large_drive() {
    client 40051 http://10.99.0.1/big
    sleep 1
}

sc_idle_timeout_setup() {
    target ${NSP}tgt1 tgt1 --mode slow --delay 8 --server "Apache/2.4.58 (Ubuntu)"
    SERVERS="    server t1 10.99.1.11:8080 $SRV_CHECK"
    TARGET_VANTAGE=1
}
sc_idle_timeout_drive() {
    client 40061 http://10.99.0.1/ok/warmup
    sleep 0.5
    client 40062 http://10.99.0.1/slow-report
    sleep 4.5
}

sc_incomplete_body_setup() {
    target ${NSP}tgt1 tgt1 --mode short_body --delay 12
    SERVERS="    server t1 10.99.1.11:8080 $SRV_CHECK"
}
sc_incomplete_body_drive() {
    client 40071 http://10.99.0.1/download
    sleep 7.5
}

sc_target_5xx_setup() {
    target ${NSP}tgt1 tgt1 --mode status --status 500 --server "Apache/2.4.58 (Ubuntu)"
    target ${NSP}tgt2 tgt2 --mode status --status 502 --server "Werkzeug/3.0.1 Python/3.12.3"
    SERVERS="    server t1 10.99.1.11:8080 $SRV_CHECK
    server t2 10.99.1.12:8080 $SRV_CHECK"
}
sc_target_5xx_drive() {
    client 40081 http://10.99.0.1/app/one
    sleep 0.5
    client 40082 http://10.99.0.1/app/two
    sleep 0.5
    client 40083 http://10.99.0.1/ok/three
    sleep 1
}

sc_connect_refused_setup() {
    target ${NSP}tgt1 tgt1 --mode healthy --port 8080
    SERVERS="    server t1 10.99.1.11:8081"   # nothing listens on 8081
    ERR503=502
}
sc_connect_refused_drive() {
    client 40091 http://10.99.0.1/refused
    sleep 0.5
    client 40092 http://10.99.0.1/refused-again
    sleep 1
}

# Not in ALL_SCENARIOS and not in samples/real yet: recorded once (2026-12-07), albscope calls
# the first refused request (an RST at the request on the reused connection, no keep-alive
# timer known) a keepalive_race, which it is not (the target went on refusing every connect).
sc_hc_cadence_refused_setup() {
    # Health checks every 2 s on the traffic port pass (readable, ELB-HealthChecker); then the
    # target starts refusing (an nft rule answers every SYN to 8080 with RST, as a closed port
    # does): two client requests are refused before HAProxy marks it down, and the checks go
    # on being refused on their 2 s cadence.
    target ${NSP}tgt1 tgt1 --mode healthy --port 8080 --server "nginx/1.24.0"
    SERVERS="    server t1 10.99.1.11:8080 check inter 2s fall 3 rise 2"
    ERR503=502
    TARGET_VANTAGE=1
}
sc_hc_cadence_refused_drive() {
    sleep 9
    client 40392 http://10.99.0.1/ok/before
    sleep 0.7
    nsx ${NSP}tgt1 nft add table inet rc
    nsx ${NSP}tgt1 nft add chain inet rc in '{ type filter hook input priority 0; }'
    nsx ${NSP}tgt1 nft add rule inet rc in tcp dport 8080 reject with tcp reset
    sleep 0.3
    client 40393 http://10.99.0.1/refused/one
    sleep 1
    client 40394 http://10.99.0.1/refused/two
    sleep 8
}

# Not in ALL_SCENARIOS: recorded by name (2026-12-07). The target rejects for a moment only
# (an nft reject rule, deleted 0.5 s later, as a restart within a second looks): the request on
# the reused connection is reset as it arrives (no FIN before), the next client connect is
# refused (RST to SYN), and the one after is accepted and answered. A target that accepts again
# that soon does not show it had stopped accepting: the reset stays undetermined.
sc_hc_refused_blip_setup() {
    target ${NSP}tgt1 tgt1 --mode healthy --port 8080 --server "nginx/1.24.0"
    SERVERS="    server t1 10.99.1.11:8080 check inter 2s fall 3 rise 2"
    ERR503=502
    TARGET_VANTAGE=1
}
sc_hc_refused_blip_drive() {
    sleep 5
    client 40401 http://10.99.0.1/ok/before
    sleep 0.7
    nsx ${NSP}tgt1 nft add table inet rc
    nsx ${NSP}tgt1 nft add chain inet rc in '{ type filter hook input priority 0; }'
    nsx ${NSP}tgt1 nft add rule inet rc in tcp dport 8080 reject with tcp reset
    sleep 0.3
    client 40402 http://10.99.0.1/blip/reset
    sleep 0.1
    client 40403 http://10.99.0.1/blip/refused
    nsx ${NSP}tgt1 nft delete table inet rc
    sleep 0.3
    client 40404 http://10.99.0.1/blip/after
    sleep 5
}

# Not in ALL_SCENARIOS: recorded by name (2026-12-07). A true keep-alive race whose FIN never
# reaches the capture point (every FIN of the target is dropped on its way out): the target's
# 2 s keep-alive timer closes the idle connection, the proxy reuses it 2.1 s after the last
# response, and the target's kernel answers the request with RST; the next connect is accepted
# and answered. The capture shows only the RST at the request: undetermined, the target still
# accepting.
sc_ka_race_rst_setup() {
    target ${NSP}tgt1 tgt1 --mode ka_short --ka 2 --server "gunicorn"
    nsx ${NSP}tgt1 nft add table inet rc
    nsx ${NSP}tgt1 nft add chain inet rc out '{ type filter hook output priority 0; }'
    nsx ${NSP}tgt1 nft add rule inet rc out tcp sport 8080 'tcp flags & fin == fin' drop
    SERVERS="    server t1 10.99.1.11:8080"
    TARGET_VANTAGE=1
}
sc_ka_race_rst_drive() {
    client 40411 http://10.99.0.1/ok/first
    sleep 2.1
    client 40412 http://10.99.0.1/race
    sleep 0.3
    client 40413 http://10.99.0.1/after-race
    sleep 3
}

# Not in ALL_SCENARIOS (it takes 14 minutes): record it by name.
sc_hc_port_lone_refused_setup() {
    # Health checks go to the target's port 8082 (the target group's health-check port
    # override), every 30 s, and pass; nothing listens on the traffic port 8080. One client
    # request 330 s in is refused on 8080; the capture goes on 480 s after it: no connection
    # of the node to 10.99.1.11:8080 within 310 s on either side but the client's attempt.
    target ${NSP}tgt1 tgt1 --mode healthy --port 8082 --server "nginx/1.24.0"
    SERVERS="    server t1 10.99.1.11:8080 check port 8082 inter 30s fall 3 rise 2"
    ERR503=502
    TARGET_VANTAGE=1
}
sc_hc_port_lone_refused_drive() {
    sleep 330
    client 40391 http://10.99.0.1/lone/refused
    sleep 480
}

sc_unreachable_icmp_setup() {
    target ${NSP}tgt2 tgt2 --mode healthy
    nsx ${NSP}tgt2 nft add table inet rc
    nsx ${NSP}tgt2 nft add chain inet rc in '{ type filter hook input priority 0; }'
    nsx ${NSP}tgt2 nft add rule inet rc in tcp dport 8080 reject with icmp type host-unreachable
    SERVERS="    server t2 10.99.1.12:8080"
    ERR503=502
}
sc_unreachable_icmp_drive() {
    client 40101 http://10.99.0.1/unreachable
    sleep 0.5
    client 40102 http://10.99.0.1/unreachable-again
    sleep 1
}

sc_connect_timeout_setup() {
    target ${NSP}tgt1 tgt1 --mode healthy
    nsx ${NSP}tgt1 nft add table inet rc
    nsx ${NSP}tgt1 nft add chain inet rc in '{ type filter hook input priority 0; }'
    nsx ${NSP}tgt1 nft add rule inet rc in tcp dport 8080 'tcp flags & (syn|ack) == syn' drop
    SERVERS="    server t1 10.99.1.11:8080"
    ERR503=504
}
sc_connect_timeout_drive() {
    client 40111 http://10.99.0.1/blackhole
    sleep 1
}

sc_connect_timeout_return_path_setup() {
    # The target answers SYN-ACK but the "security group" on the way back drops it
    # (dropped in the VPC router, after the target's ENI).
    target ${NSP}tgt1 tgt1 --mode healthy
    nsx ${NSP}vpc nft add table inet rc
    nsx ${NSP}vpc nft add chain inet rc fw '{ type filter hook forward priority 0; }'
    nsx ${NSP}vpc nft add rule inet rc fw ip saddr 10.99.1.11 tcp sport 8080 'tcp flags & (syn|ack) == syn|ack' drop
    SERVERS="    server t1 10.99.1.11:8080"
    ERR503=504
    TARGET_VANTAGE=1
}
sc_connect_timeout_return_path_drive() {
    client 40121 http://10.99.0.1/return-path-blocked
    sleep 1
}

sc_tls_handshake_failed_setup() {
    tls_cert
    # The target accepts TLS 1.3 only; the proxy offers at most TLS 1.2.
    bg tgt1-tls ${NSP}tgt1 openssl s_server -accept 8443 -cert "$WORK/tgt.crt" -key "$WORK/tgt.key" \
        -tls1_3 -www
    SERVERS="    server t1 10.99.1.11:8443 ssl verify none ssl-max-ver TLSv1.2 ciphers ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA"
    ERR503=502
}
sc_tls_handshake_failed_drive() {
    client 40131 http://10.99.0.1/tls-backend
    sleep 0.5
    client 40132 http://10.99.0.1/tls-backend-again
    sleep 1
}

sc_tls_handshake_timeout_setup() {
    bg tgt1-silent ${NSP}tgt1 python3 -u "$HERE/servers/silent.py" --port 8443 --hold 30
    SERVERS="    server t1 10.99.1.11:8443 ssl verify none"
    ERR503=504
}
sc_tls_handshake_timeout_drive() {
    client 40141 http://10.99.0.1/tls-silent
    sleep 1
}

# HTTPS target groups, recorded on the target as well (*.target.pcap: TLS only, no plaintext).
sc_tls_backend_setup() {
    # The target speaks TLS only; the proxy's health checks go over TLS too.
    tls_cert
    target ${NSP}tgt1 tgt1 --mode healthy --ka 60 --delay 8 --server "nginx/1.24.0" --port 8443 \
        --tls "$WORK/tgt.crt" "$WORK/tgt.key"
    SERVERS="    server t1 10.99.1.11:8443 ssl verify none $SRV_CHECK"
    TARGET_VANTAGE=1
}
sc_tls_backend_drive() {
    client 40301 http://10.99.0.1/ok/first
    sleep 0.5
    client 40302 http://10.99.0.1/ok/second
    sleep 0.5
    client 40303 http://10.99.0.1/m/close_rst/reset-after-request
    sleep 0.5
    client 40304 http://10.99.0.1/ok/third
    sleep 0.5
    client 40305 http://10.99.0.1/m/slow/too-slow        # 8 s > the 5 s idle timeout
    sleep 0.5
    client 40306 http://10.99.0.1/m/slow/impatient --max-time 1.5   # the client gives up
    sleep 7
    client 40307 http://10.99.0.1/ok/last
    sleep 1
}

sc_tls_backend_alert_setup() {
    # TLS 1.3-only target, the proxy offers at most TLS 1.2: every handshake (client requests
    # and health checks) ends in a protocol_version alert. The health checks run from a second,
    # unused backend so that the failing checks do not stop the client requests' attempts (an
    # ALB with no healthy target fails open and still tries the targets).
    tls_cert
    bg tgt1-tls ${NSP}tgt1 openssl s_server -accept 8443 -cert "$WORK/tgt.crt" -key "$WORK/tgt.key" \
        -tls1_3 -www
    local tls="ssl verify none ssl-max-ver TLSv1.2 ciphers ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA"
    SERVERS="    server t1 10.99.1.11:8443 $tls
backend tg_health_checks
    option httpchk
    http-check send meth GET uri /health ver HTTP/1.1 hdr Host 10.99.1.11:8443 hdr User-Agent ELB-HealthChecker/2.0
    server t1 10.99.1.11:8443 $tls check inter 2s"
    ERR503=502
    TARGET_VANTAGE=1
}
sc_tls_backend_alert_drive() {
    sleep 2.5
    client 40311 http://10.99.0.1/tls-alert
    sleep 1
    client 40312 http://10.99.0.1/tls-alert-again
    sleep 3
}

sc_tls_backend_silent_setup() {
    # The target accepts TCP and never answers the ClientHello.
    bg tgt1-silent ${NSP}tgt1 python3 -u "$HERE/servers/silent.py" --port 8443 --hold 30
    SERVERS="    server t1 10.99.1.11:8443 ssl verify none"
    ERR503=504
    TARGET_VANTAGE=1
}
sc_tls_backend_silent_drive() {
    client 40321 http://10.99.0.1/tls-silent
    sleep 1
}

sc_hc_refused_setup() {
    # Target 1's port is closed: every health check to it is refused (RST), seen on target 1.
    # Target 2 serves the clients once target 1 is marked down.
    target ${NSP}tgt2 tgt2 --mode healthy --ka 60 --server "nginx/1.24.0"
    SERVERS="    server t1 10.99.1.11:8081 check inter 1s fall 2 rise 2
    server t2 10.99.1.12:8080 check inter 1s fall 2 rise 2"
    TARGET_VANTAGE=1
}
sc_hc_refused_drive() {
    sleep 3
    client 40331 http://10.99.0.1/ok/one
    sleep 0.5
    client 40332 http://10.99.0.1/ok/two
    sleep 3
}

sc_no_target_attempt_setup() {
    target ${NSP}tgt1 tgt1 --mode sick
    SERVERS="    server t1 10.99.1.11:8080 check inter 1s fall 2 rise 2"
}
sc_no_target_attempt_drive() {
    sleep 4   # two failed health checks mark the only target DOWN
    client 40161 http://10.99.0.1/nobody-home
    sleep 0.5
    client 40162 http://10.99.0.1/nobody-home-2
    sleep 1
}

sc_client_closed_setup() {
    target ${NSP}tgt1 tgt1 --mode slow --delay 4
    SERVERS="    server t1 10.99.1.11:8080 $SRV_CHECK"
}
sc_client_closed_drive() {
    client 40171 http://10.99.0.1/impatient --max-time 1.5
    sleep 5
}

sc_deregistration_abort_setup() {
    # The target is slow; while the request waits, the target is put into maintenance
    # ("deregistered") and its sessions are shut down through HAProxy's runtime API, so the
    # proxy itself closes the back-end connection before the idle timeout.
    target ${NSP}tgt1 tgt1 --mode slow --delay 8
    SERVERS="    server t1 10.99.1.11:8080 $SRV_CHECK"
}
haproxy_cmd() {
    python3 - "$WORK/haproxy.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
print(s.recv(65536).decode(errors="replace").strip())
PY
}
sc_deregistration_abort_drive() {
    client 40181 http://10.99.0.1/long-job &
    local cpid=$!
    sleep 2
    echo "$(date +%T.%N | cut -c1-12) runtime API: set server tg/t1 state maint; shutdown sessions server tg/t1" >>"$WORK/client.log"
    haproxy_cmd "set server tg/t1 state maint" >&2
    haproxy_cmd "shutdown sessions server tg/t1" >&2
    wait "$cpid"
    sleep 1
}

sc_mixed_two_nodes_net() { ALB2=1; }
sc_mixed_two_nodes_setup() {
    # Two ALB nodes (10.99.0.1 mirrored with VNI 4242, 10.99.0.2 with VNI 4243), two targets,
    # three concurrent clients; each request picks the target's behaviour with /m/<mode>/.
    target ${NSP}tgt1 tgt1 --mode healthy --ka 60 --status 500 --delay 8 --server "nginx/1.24.0"
    target ${NSP}tgt2 tgt2 --mode healthy --ka 2 --status 503 --delay 8 --server "gunicorn"
    SERVERS="    server t1 10.99.1.11:8080 $SRV_CHECK
    server t2 10.99.1.12:8080 $SRV_CHECK"
}
sc_mixed_two_nodes_drive() {
    local n1=http://10.99.0.1 n2=http://10.99.0.2
    (
        client 40201 $n1/ok/a1; sleep 0.3
        client 40202 $n1/m/status/a2; sleep 0.4
        client 40203 $n1/m/close_rst/a3; sleep 0.5
        client 40204 $n1/ok/a4; sleep 1
        client 40205 $n1/m/garbage/a5; sleep 0.5
        client 40206 $n1/m/slow/a6
        client 40207 $n1/ok/a7
    ) &
    local a=$!
    (
        sleep 0.1
        client 40221 $n2/ok/b1; sleep 0.2
        client 40222 $n2/ok/b2; sleep 0.6
        client 40223 $n2/m/close_fin/b3; sleep 0.3
        client 40224 $n2/m/bigheader/b4; sleep 0.5
        client 40225 $n2/m/short_body/b5
        client 40226 $n2/ok/b6; sleep 2.5
        client 40227 $n2/ok/b7
    ) &
    local b=$!
    (
        sleep 0.2
        client_multi 40241 https://10.99.0.1/ok/c1 https://10.99.0.1/m/status/c2 https://10.99.0.1/ok/c3
        sleep 1
        client 40242 $n1/ok/c4; sleep 3
        client 40243 $n1/ok/c5
    ) &
    local c=$!
    wait "$a" "$b" "$c"
    sleep 1
}

sc_h2c_streams_setup() {
    # HTTP/2 to the target (h2c, prior knowledge: `proto h2`), a real Node.js http2 server.
    # Front end: curl with HTTP/2 prior knowledge, concurrent streams on one connection.
    bg tgt1 ${NSP}tgt1 node "$HERE/servers/h2c_target.js" 10.99.1.11 8080
    SERVERS="    server t1 10.99.1.11:8080 proto h2"
    TARGET_VANTAGE=1
}
h2_client() { # local_port path...: concurrent HTTP/2 streams on one front-end connection
    local port=$1; shift
    local res t0
    t0=$(date +%T.%N | cut -c1-12)
    res=$(nsx ${NSP}client timeout 30 node "$HERE/servers/h2_client.js" 10.99.0.1 80 "$port" "$@" 2>&1) \
        || true
    echo "$t0 client 10.99.2.10:$port (h2c) $* -> $res" | tee -a "$WORK/client.log" >&2
}
sc_h2c_streams_drive() {
    h2_client 40301 /ok/1 /ok/2 /ok/3 /big
    sleep 0.5
    h2_client 40302 /reset
    sleep 0.5
    h2_client 40303 /goaway
    sleep 0.5
    h2_client 40304 /ok/after
    sleep 1
}

sc_grpc_status_setup() {
    # A real gRPC server (Python grpcio) behind HAProxy over h2c; /pkg.Down/* goes to a
    # back end on a port of the same target where nothing listens (refused, visible in the
    # target's capture too), so the proxy answers with its own 503.
    bg tgt1 ${NSP}tgt1 python3 -u "$HERE/servers/grpc_target.py" 10.99.1.11 8080
    SERVERS="    server t1 10.99.1.11:8080 proto h2"
    EXTRA_FRONTEND="    use_backend tg_down if { path_beg /pkg.Down/ }"
    ERR503=502   # a refused connect is HAProxy's 503, an ALB's 502
    EXTRA_BACKENDS="backend tg_down
    server t2 10.99.1.11:8081 proto h2"
    TARGET_VANTAGE=1
}
sc_grpc_status_drive() {
    sleep 1
    nsx ${NSP}client python3 -u "$HERE/servers/grpc_client.py" 10.99.0.1:80 \
        2>&1 | tee -a "$WORK/client.log" >&2
    sleep 1
}

# ---------------------------------------------------------------- recording
# (A sibling script setting TARGET_LOG=1 gets the target's output, $WORK/tgt1.out, appended to
# each scenario's log, without the lines matching TARGET_LOG_SKIP when set.)
record() {
    local sc=$1
    declare -F "sc_${sc}_setup" >/dev/null || { log "unknown scenario $sc"; return 1; }
    log "=== $sc"
    rm -rf "$WORK/run" && mkdir -p "$WORK" && : >"$WORK/client.log"
    rm -f "$WORK"/haproxy*.out
    tls_cert
    SERVERS="" ERR503=503 TARGET_VANTAGE=0 ALB2=0 EXTRA_FRONTEND="" EXTRA_BACKENDS=""
    declare -F "sc_${sc}_net" >/dev/null && "sc_${sc}_net"
    setup_net
    "sc_${sc}_setup"
    write_haproxy_cfg 10.99.0.1 haproxy
    if [ "${ALB2:-0}" = 1 ]; then write_haproxy_cfg 10.99.0.2 haproxy2; fi
    local pcap="$OUT/$sc.pcap" tpcap="$OUT/$sc.target.pcap"
    rm -f "$pcap" "$tpcap"
    bg tcpdump-mirror ${NSP}mirror tcpdump -i eth0 -s 0 -U -n -w "$WORK/mirror.pcap" udp port 4789
    if [ "$TARGET_VANTAGE" = 1 ]; then
        bg tcpdump-target ${NSP}tgt1 tcpdump -i eth0 -s 0 -U -n -w "$WORK/target.pcap" tcp or icmp
    fi
    sleep 1
    bg haproxy ${NSP}alb haproxy -db -f "$WORK/haproxy.cfg"
    if [ "${ALB2:-0}" = 1 ]; then bg haproxy2 ${NSP}alb2 haproxy -db -f "$WORK/haproxy2.cfg"; fi
    sleep 1.5
    "sc_${sc}_drive"
    sleep 0.5
    teardown
    cp "$WORK/mirror.pcap" "$pcap"
    [ "$TARGET_VANTAGE" = 1 ] && cp "$WORK/target.pcap" "$tpcap"
    {
        echo "# realcap scenario $sc, recorded $(date -u +%FT%TZ); HAProxy idle timeout ${IDLE}s"
        echo "# client results (local port = client port in the capture)"
        cat "$WORK/client.log"
        echo "# HAProxy log: client:port [accept time] frontend backend/server TR/Tw/Tc/Tr/Ta status bytes termination_state conns queues bi=proxy_backend_src {trace id} request"
        local h
        for h in haproxy haproxy2; do
            [ -f "$WORK/$h.out" ] || continue
            echo "# $h ($( [ $h = haproxy ] && echo 10.99.0.1 || echo 10.99.0.2 ))"
            grep -v '^\[' "$WORK/$h.out" || true
        done
        echo "# HAProxy notices"
        cat "$WORK"/haproxy*.out | grep '^\[' || true
        if [ "${TARGET_LOG:-0}" = 1 ]; then
            echo "# target output"
            if [ -n "${TARGET_LOG_SKIP:-}" ]; then
                grep -v -- "$TARGET_LOG_SKIP" "$WORK/tgt1.out" 2>/dev/null || true
            else
                cat "$WORK/tgt1.out" 2>/dev/null || true
            fi
        fi
    } >"$OUT/$sc.log"
    log "wrote $pcap ($(stat -c %s "$pcap") bytes)"
}

# The entry of record.sh and of its siblings: `--list` prints SCENARIOS; otherwise, as root, runs
# RECORD_FN for each scenario named (all of SCENARIOS when none is) and tears the namespaces down
# on exit.
run_scenarios() { # SCENARIOS RECORD_FN [--list | SCENARIO...]
    local scenarios=$1 record_fn=$2
    shift 2
    [ "${1:-}" = "--list" ] && { echo $scenarios; return 0; }
    [ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; return 1; }
    mkdir -p "$OUT" "$WORK"
    trap teardown EXIT
    trap 'exit 130' INT TERM
    local list=("$@") s
    [ ${#list[@]} -eq 0 ] && read -r -a list <<<"$(echo $scenarios)"
    for s in "${list[@]}"; do "$record_fn" "$s"; done
}

main() {
    local s
    if [ "${1:-}" != "--list" ]; then
        for s in haproxy tcpdump tshark nft ethtool curl openssl python3; do
            command -v $s >/dev/null || { echo "missing $s (apt-get install haproxy tcpdump tshark nftables ethtool curl openssl python3)" >&2; return 1; }
        done
    fi
    run_scenarios "$ALL_SCENARIOS" record "$@"
}

# Sourced by a sibling script (record_shapes.sh) for its helpers: do not run.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
