#!/usr/bin/env bash
# Record real traffic of a proxy seen under two addresses, and an HTTP/2 front end, with HAProxy
# standing in for an ALB node (sibling of record.sh; same target server and error pages).
#
#   sudo tools/realcap/record_addrs.sh                  # both scenarios
#   sudo tools/realcap/record_addrs.sh two_interfaces   # one of: two_interfaces http2_frontend
#
# Topology (namespaces $NS-*, default prefix "ad"; REALCAP_NS=xx changes it): a client
# (10.98.2.10), HAProxy with a client-facing interface (10.98.2.1) and a target-facing one
# (10.98.1.1), one target (10.98.1.11:8080, real TCP stack; port 8081 closed). Nothing is routed.
#
# two_interfaces: two tcpdumps, one on the client (client-side file: the proxy at 10.98.2.1) and
#   one on the target (target-side file: the proxy at 10.98.1.1), written to separate files as
#   two machines would record them. Both run on one kernel clock, so the target-side file's
#   timestamps are then moved by REALCAP_SKEW seconds (default -0.85) with editcap -t, as a
#   machine whose clock is off would have written them. Requests: several ok ones on kept-alive
#   connections, one to a closed port (refused connect: HAProxy answers 502 with no back-end
#   request), one target 500, one target reset.
# http2_frontend: HAProxy binds 443 with `alpn h2,http/1.1` (TLS 1.3: the selection is
#   encrypted) and connects to the target from the same address (one address for both legs, as
#   an ALB node's ENI); curl --http2 --parallel sends concurrent streams on one TLS connection,
#   some of which fail on the back end (target 500, target reset, refused connect); one tcpdump
#   on the proxy host (-i any) holds both legs.
#
# Writes samples/real/two_interfaces/{client-side,target-side}.pcap,
# samples/real/http2_frontend.pcap and a .log beside each with the client results.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${REALCAP_OUT:-$REPO/samples/real}
NS=${REALCAP_NS:-ad}
WORK=${REALCAP_WORK:-/tmp/realcap-$NS}
SKEW=${REALCAP_SKEW:--0.85}
PIDS=()

log() { echo "[realcap-addrs $(date +%T)] $*" >&2; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

teardown() {
    local p ns
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    sleep 0.3
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
    PIDS=()
    for ns in "$NS-cli" "$NS-alb" "$NS-tgt"; do
        if ip netns list | grep -qw "$ns"; then
            for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
            ip netns del "$ns" 2>/dev/null || true
        fi
    done
}
trap teardown EXIT

bg() { # name ns cmd...
    local name=$1 ns=$2; shift 2
    nsx "$ns" "$@" >"$WORK/$name.out" 2>&1 &
    PIDS+=("$!")
}

setup_net() {
    teardown
    local ns
    for ns in "$NS-cli" "$NS-alb" "$NS-tgt"; do
        ip netns add "$ns"
        nsx "$ns" ip link set lo up
    done
    ip link add "${NS}c0" netns "$NS-cli" type veth peer name "${NS}a0" netns "$NS-alb"
    ip link add "${NS}a1" netns "$NS-alb" type veth peer name "${NS}t0" netns "$NS-tgt"
    nsx "$NS-cli" ip addr add 10.98.2.10/24 dev "${NS}c0"
    nsx "$NS-alb" ip addr add 10.98.2.1/24 dev "${NS}a0"
    nsx "$NS-alb" ip addr add 10.98.1.1/24 dev "${NS}a1"
    nsx "$NS-tgt" ip addr add 10.98.1.11/24 dev "${NS}t0"
    for pair in "$NS-cli ${NS}c0" "$NS-alb ${NS}a0" "$NS-alb ${NS}a1" "$NS-tgt ${NS}t0"; do
        # shellcheck disable=SC2086
        set -- $pair
        nsx "$1" ip link set "$2" up
        nsx "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
    done
}

tls_cert() {
    [ -f "$WORK/alb.pem" ] && return 0
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=realcap-alb \
        -keyout "$WORK/alb.key" -out "$WORK/alb.crt" >/dev/null 2>&1
    cat "$WORK/alb.crt" "$WORK/alb.key" >"$WORK/alb.pem"
}

haproxy_cfg() {
    cat >"$WORK/haproxy.cfg" <<EOF
global
    log stdout format raw local0
    maxconn 200
    h1-case-adjust host Host
    h1-case-adjust user-agent User-Agent
    h1-case-adjust accept Accept
    h1-case-adjust x-forwarded-for X-Forwarded-For
    h1-case-adjust x-forwarded-proto X-Forwarded-Proto
    h1-case-adjust x-forwarded-port X-Forwarded-Port
    h1-case-adjust x-amzn-trace-id X-Amzn-Trace-Id

defaults
    mode http
    log global
    option httplog
    timeout connect 10s
    timeout client 5s
    timeout http-keep-alive 5s
    timeout server 5s
    retries 0
    no option redispatch
    http-reuse always
    option h1-case-adjust-bogus-server
    errorfile 502 $HERE/haproxy/502.http
    errorfile 503 $HERE/haproxy/502.http
    errorfile 504 $HERE/haproxy/504.http

frontend alb
    bind 10.98.2.1:80
    bind 10.98.2.1:443 ssl crt $WORK/alb.pem alpn h2,http/1.1
    unique-id-format 1-%[date,htonl,hex,lower]-%[rand,htonl,hex,lower]%[rand,htonl,hex,lower]%[rand,htonl,hex,lower]
    option forwardfor
    http-request set-header X-Forwarded-Proto https if { ssl_fc }
    http-request set-header X-Forwarded-Proto http if !{ ssl_fc }
    http-request set-header X-Forwarded-Port %[dst_port]
    http-request set-header X-Amzn-Trace-Id Root=%[unique-id]
    use_backend closed if { path_beg /legacy }
    default_backend tg

backend tg
    server t1 10.98.1.11:8080 source ${BACK_SRC:-10.98.1.1}

backend closed
    server t2 10.98.1.11:8081 source ${BACK_SRC:-10.98.1.1}
EOF
}

start_servers() {
    bg tgt "$NS-tgt" python3 -u "$HERE/servers/target.py" --name tgt --mode healthy --ka 60 \
        --server "nginx/1.24.0"
    haproxy_cfg
    bg haproxy "$NS-alb" haproxy -f "$WORK/haproxy.cfg" -db
    sleep 1
}

curl_one() { # local_port url [curl args]: one request, result line into the log
    local port=$1 url=$2; shift 2
    local res
    res=$(nsx "$NS-cli" curl -sk -o /dev/null --local-port "$port" --max-time 10 \
        -w '%{http_code}' "$@" "$url" 2>&1) || true
    echo "client 10.98.2.10:$port $url -> $res" | tee -a "$WORK/client.log" >&2
}

sc_two_interfaces() {
    bg tcpdump-cli "$NS-cli" tcpdump -i "${NS}c0" -U -s 0 -w "$WORK/client-side.pcap" tcp
    bg tcpdump-tgt "$NS-tgt" tcpdump -i "${NS}t0" -U -s 0 -w "$WORK/target-side.raw.pcap" tcp
    sleep 1
    local base=http://10.98.2.1
    nsx "$NS-cli" curl -s -o /dev/null -o /dev/null -o /dev/null --local-port 41001 \
        "$base/ok/1" "$base/ok/2" "$base/ok/3" -w '%{http_code} ' | tee -a "$WORK/client.log" || true
    echo " <- client 10.98.2.10:41001 /ok/1 /ok/2 /ok/3" | tee -a "$WORK/client.log"
    sleep 0.2
    curl_one 41002 "$base/ok/4"
    sleep 0.2
    curl_one 41003 "$base/legacy/page"
    sleep 0.2
    curl_one 41004 "$base/m/status/orders"
    sleep 0.2
    curl_one 41005 "$base/m/close_rst/pay"
    sleep 0.2
    curl_one 41006 "$base/ok/5"
    sleep 1.5
    mkdir -p "$OUT/two_interfaces"
    teardown_captures
    cp "$WORK/client-side.pcap" "$OUT/two_interfaces/client-side.pcap"
    editcap -t "$SKEW" "$WORK/target-side.raw.pcap" "$OUT/two_interfaces/target-side.pcap"
    cp "$WORK/client.log" "$OUT/two_interfaces/client-side.log"
}

sc_http2_frontend() {
    # One address for both legs, as an ALB node's ENI: the proxy connects to the target from
    # its client-facing address (the target routes it back through the proxy).
    bg tcpdump-alb "$NS-alb" tcpdump -i any -U -s 0 -w "$WORK/http2_frontend.pcap" tcp
    sleep 1
    local base=https://10.98.2.1
    nsx "$NS-cli" curl -sk --no-progress-meter --http2 --parallel --local-port 41101 \
        -o /dev/null -o /dev/null -o /dev/null -o /dev/null -o /dev/null -o /dev/null \
        -w '%{http_code} ' \
        "$base/ok/a" "$base/ok/b" "$base/m/status/orders" "$base/m/close_rst/pay" \
        "$base/ok/c" "$base/legacy/x" | tee -a "$WORK/client.log" || true
    echo " <- client 10.98.2.10:41101 (HTTP/2, 6 parallel streams)" | tee -a "$WORK/client.log"
    sleep 0.3
    nsx "$NS-cli" curl -sk --no-progress-meter --http2 --parallel --local-port 41102 \
        -o /dev/null -o /dev/null -o /dev/null -w '%{http_code} ' \
        "$base/ok/d" "$base/ok/e" "$base/ok/f" | tee -a "$WORK/client.log" || true
    echo " <- client 10.98.2.10:41102 (HTTP/2, 3 parallel streams)" | tee -a "$WORK/client.log"
    sleep 1.5
    teardown_captures
    cp "$WORK/http2_frontend.pcap" "$OUT/http2_frontend.pcap"
    cp "$WORK/client.log" "$OUT/http2_frontend.log"
}

teardown_captures() { # stop tcpdump (and everything else), flush files
    local p
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -INT "$p" 2>/dev/null || true; done
    sleep 1
}

main() {
    local scenarios=("$@")
    [ ${#scenarios[@]} -eq 0 ] && scenarios=(two_interfaces http2_frontend)
    mkdir -p "$WORK" "$OUT"
    tls_cert
    for s in "${scenarios[@]}"; do
        log "scenario $s"
        : >"$WORK/client.log"
        setup_net
        BACK_SRC=10.98.1.1
        if [ "$s" = http2_frontend ]; then
            BACK_SRC=10.98.2.1
            nsx "$NS-tgt" ip route add 10.98.2.0/24 via 10.98.1.1
        fi
        start_servers
        "sc_$s"
        teardown
    done
}

main "$@"
