#!/usr/bin/env bash
# Record REAL TLS traffic with its key logs for the decryption samples: HAProxy terminating TLS
# (an ALB node with an HTTPS listener), curl (SSLKEYLOGFILE) and Python `ssl` clients
# (keylog_filename), clear-text or HTTPS targets (Python `ssl` server writing its key log).
#
#   sudo tools/realcap/record_tls.sh            # all scenarios
#   sudo tools/realcap/record_tls.sh tls12_h1   # some
#
# Everything runs in one network namespace (default dc-lab; TLSCAP_NS changes it) on its
# loopback, with the client, node and target on their own addresses; tcpdump captures lo.
# Writes samples/tls/<scenario>.pcap and <scenario>.keys (the NSS key log of every session).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${TLSCAP_OUT:-$REPO/samples/tls}
WORK=${TLSCAP_WORK:-/tmp/tlscap}
NS=${TLSCAP_NS:-dc-lab}
ALB=10.98.0.1
CLIENT=10.98.2.10
TGT=10.98.1.11
PIDS=()
ALL="tls13_h1 tls12_h1 https_backend tls_gap tls13_h2"
# Extra options of the HTTPS listener's bind line (e.g. "alpn h2,http/1.1").
BIND_OPTS=""

log() { echo "[tlscap $(date +%T)] $*" >&2; }
nsx() { ip netns exec "$NS" "$@"; }

teardown() {
    local p
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    sleep 0.3
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
    PIDS=()
    if ip netns list | grep -qw "$NS"; then
        for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
        ip netns del "$NS" 2>/dev/null || true
    fi
}
trap teardown EXIT

setup_net() {
    teardown
    ip netns add "$NS"
    nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    nsx ip link set lo mtu 1500
    nsx ip link set lo up
    nsx ethtool -K lo tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
    for a in $ALB $CLIENT $TGT; do nsx ip addr add "$a/32" dev lo; done
}

bg() { # name cmd...
    local name=$1; shift
    nsx "$@" >"$WORK/$name.out" 2>&1 &
    PIDS+=("$!")
}

certs() {
    [ -f "$WORK/alb.pem" ] && return 0
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=alb.example \
        -keyout "$WORK/alb.key" -out "$WORK/alb.crt" >/dev/null 2>&1
    cat "$WORK/alb.crt" "$WORK/alb.key" >"$WORK/alb.pem"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=target.example \
        -keyout "$WORK/tgt.key" -out "$WORK/tgt.crt" >/dev/null 2>&1
}

haproxy_start() { # server line
    cat >"$WORK/haproxy.cfg" <<CFG
global
    log stdout format raw local0
    maxconn 100
    ssl-server-verify none
defaults
    mode http
    log global
    option httplog
    timeout connect 5s
    timeout client 5s
    timeout http-keep-alive 5s
    timeout http-request 10s
    timeout server 5s
    retries 0
    http-reuse always
    errorfile 502 $HERE/haproxy/502.http
    errorfile 503 $HERE/haproxy/503.http
    errorfile 504 $HERE/haproxy/504.http
frontend alb
    bind $ALB:443 ssl crt $WORK/alb.pem $BIND_OPTS
    option forwardfor
    http-request set-header X-Forwarded-Proto https
    http-request set-header X-Forwarded-Port %[dst_port]
    unique-id-format 1-%[date,htonl,hex,lower]-%[rand,htonl,hex,lower]%[rand,htonl,hex,lower]%[rand,htonl,hex,lower]
    http-request set-header X-Amzn-Trace-Id Root=%[unique-id]
    default_backend tg
backend tg
    source $ALB
$1
CFG
    bg haproxy haproxy -f "$WORK/haproxy.cfg"
}

capture_start() { # file
    bg tcpdump tcpdump -i lo -U -B 262144 -s 0 -w "$1" tcp
    sleep 1
}

capture_stop() {
    sleep 1
    local p
    for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
    sleep 1
    teardown
}

ccurl() { # keylog, curl args...
    local keys=$1; shift
    nsx env SSLKEYLOGFILE="$keys" curl -sk -o /dev/null --interface $CLIENT --max-time 10 \
        -w '%{http_code} %{ssl_verify_result}\n' "$@" || true
}

pyclient() { # keylog, args...
    local keys=$1; shift
    nsx python3 "$HERE/servers/tls_client.py" --host $ALB --source $CLIENT --keylog "$keys" "$@" || true
}

scenario() {
    local name=$1
    local pcap="$WORK/$name.pcap" keys="$WORK/$name.keys" skeys="$WORK/$name.server.keys"
    rm -f "$pcap" "$keys" "$skeys"
    setup_net
    case $name in
    tls13_h1)
        # TLS 1.3 front end (AES-128-GCM, AES-256-GCM, ChaCha20), clear-text target; the
        # target resets one request (HAProxy answers 502).
        bg target python3 -u "$HERE/servers/tls_target.py" --bind $TGT --port 8080
        haproxy_start "    server t1 $TGT:8080"
        sleep 1; capture_start "$pcap"
        ccurl "$keys" --tlsv1.3 --tls13-ciphers TLS_AES_128_GCM_SHA256 --http1.1 --local-port 41001 \
            "https://$ALB/ok/1" "https://$ALB/ok/2"
        ccurl "$keys" --tlsv1.3 --tls13-ciphers TLS_AES_256_GCM_SHA384 --http1.1 --local-port 41002 \
            "https://$ALB/reset/1"
        ccurl "$keys" --tlsv1.3 --tls13-ciphers TLS_CHACHA20_POLY1305_SHA256 --http1.1 \
            --local-port 41003 "https://$ALB/ok/3"
        capture_stop
        ;;
    tls12_h1)
        # TLS 1.2 front end: ECDHE-RSA with ChaCha20-Poly1305 (curl), AES-256-GCM (Python),
        # AES-128-GCM (curl, reset by the target).
        bg target python3 -u "$HERE/servers/tls_target.py" --bind $TGT --port 8080
        haproxy_start "    server t1 $TGT:8080"
        sleep 1; capture_start "$pcap"
        ccurl "$keys" --tls-max 1.2 --ciphers ECDHE-RSA-CHACHA20-POLY1305 --http1.1 \
            --local-port 41011 "https://$ALB/ok/1"
        pyclient "$keys" --source-port 41012 --tls 1.2 --ciphers ECDHE-RSA-AES256-GCM-SHA384 /ok/2 /ok/3
        ccurl "$keys" --tls-max 1.2 --ciphers ECDHE-RSA-AES128-GCM-SHA256 --http1.1 \
            --local-port 41013 "https://$ALB/reset/2"
        capture_stop
        ;;
    https_backend)
        # HTTPS target (TLS 1.2 on the back end, Python ssl server key log), TLS 1.3 front end
        # (curl and Python); the target resets one request.
        bg target python3 -u "$HERE/servers/tls_target.py" --bind $TGT --port 443 \
            --cert "$WORK/tgt.crt" --key "$WORK/tgt.key" --keylog "$skeys" --max-version 1.2
        haproxy_start "    server t1 $TGT:443 ssl verify none"
        sleep 1; capture_start "$pcap"
        ccurl "$keys" --tlsv1.3 --http1.1 --local-port 41021 "https://$ALB/ok/1" "https://$ALB/ok/2"
        pyclient "$keys" --source-port 41022 /ok/3
        ccurl "$keys" --tlsv1.3 --http1.1 --local-port 41023 "https://$ALB/reset/3"
        capture_stop
        cat "$skeys" >>"$keys"
        ;;
    tls_gap)
        # A big response over TLS 1.3 on both legs, then one more request on the same
        # connections; packets in the middle of the big response are cut out afterwards.
        bg target python3 -u "$HERE/servers/tls_target.py" --bind $TGT --port 443 \
            --cert "$WORK/tgt.crt" --key "$WORK/tgt.key" --keylog "$skeys"
        haproxy_start "    server t1 $TGT:443 ssl verify none"
        sleep 1; capture_start "$WORK/$name.full.pcap"
        ccurl "$keys" --tlsv1.3 --http1.1 --local-port 41031 "https://$ALB/big/120000" \
            "https://$ALB/ok/after"
        capture_stop
        cat "$skeys" >>"$keys"
        # Cut two data packets out of the middle of the response to the client (a gap inside
        # a record), and fourteen (about 20 KB: across record headers) out of the target's.
        local drop front back
        front=$(tshark -r "$WORK/$name.full.pcap" -T fields -e frame.number \
            -Y "tcp.len > 1000 && tcp.srcport == 443 && tcp.dstport == 41031" 2>/dev/null |
            awk '{a[NR]=$1} END {n=int(NR/2); print a[n]" "a[n+1]}')
        back=$(tshark -r "$WORK/$name.full.pcap" -T fields -e frame.number \
            -Y "tcp.len > 1000 && tcp.srcport == 443 && tcp.dstport != 41031" 2>/dev/null |
            awk '{a[NR]=$1} END {n=int(NR/2); s=""; for (i = n; i < n + 14; i++) s=s" "a[i]; print s}')
        drop="$front $back"
        log "dropping frames $drop"
        # shellcheck disable=SC2086
        editcap "$WORK/$name.full.pcap" "$pcap" $drop
        ;;
    tls13_h2)
        # HTTP/2 front end (ALPN h2 on a TLS 1.3 listener), clear-text HTTP/1.1 target: one
        # curl connection carrying five concurrent streams; the target resets one after
        # reading the request (HAProxy 2.6 answers REFUSED_STREAM on that stream) and answers
        # another with a malformed response (HAProxy answers 502).
        bg target python3 -u "$HERE/servers/tls_target.py" --bind $TGT --port 8080
        BIND_OPTS="alpn h2,http/1.1"
        haproxy_start "    server t1 $TGT:8080"
        BIND_OPTS=""
        sleep 1; capture_start "$pcap"
        ccurl "$keys" --tlsv1.3 --http2 --parallel --parallel-max 8 --local-port 41041 \
            "https://$ALB/ok/h2a" "https://$ALB/ok/h2b" "https://$ALB/reset/h2c" \
            "https://$ALB/bad/h2d" "https://$ALB/ok/h2e"
        capture_stop
        ;;
    front_only)
        # An HTTPS listener (ALPN h2,http/1.1, TLS 1.3) recorded from the clients' side only
        # (tcpdump of port 443: no back end), with the clients' key log beside it: HTTP/1.1
        # requests answered 200, the target's 500, a target reset (HAProxy's 502), a target
        # silent past the 5 s server timeout (HAProxy's 504), a client giving up after 2 s,
        # an HTTP/2 connection with four concurrent streams (one the target's 500), and a
        # client offering only TLS 1.1 (the listener's handshake alert).
        bg target python3 -u "$HERE/servers/tls_target.py" --bind $TGT --port 8080
        BIND_OPTS="alpn h2,http/1.1"
        haproxy_start "    server t1 $TGT:8080"
        BIND_OPTS=""
        sleep 1
        bg tcpdump tcpdump -i lo -U -B 262144 -s 0 -w "$pcap" tcp port 443
        sleep 1
        ccurl "$keys" --tlsv1.3 --http1.1 --local-port 41201 \
            "https://$ALB/ok/1" "https://$ALB/err/1" "https://$ALB/ok/2"
        ccurl "$keys" --tlsv1.3 --http1.1 --local-port 41202 "https://$ALB/reset/1"
        ccurl "$keys" --tlsv1.3 --http1.1 --local-port 41203 "https://$ALB/slow/1"
        ccurl "$keys" --tlsv1.3 --http1.1 --local-port 41204 --max-time 2 "https://$ALB/slow/2"
        ccurl "$keys" --tlsv1.3 --http2 --parallel --parallel-max 8 --local-port 41205 \
            "https://$ALB/ok/h2a" "https://$ALB/ok/h2b" "https://$ALB/err/h2c" \
            "https://$ALB/ok/h2d"
        ccurl "$keys" --tls-max 1.1 --ciphers 'DEFAULT:@SECLEVEL=0' --http1.1 \
            --local-port 41206 "https://$ALB/ok/old"
        capture_stop
        ;;
    bench)
        # Throughput capture (kept out of samples/): 4 clients x 60 requests of 100 KB over
        # TLS 1.3 on both legs. Written to $WORK/bench.pcap and bench.keys only.
        bg target python3 -u "$HERE/servers/tls_target.py" --bind $TGT --port 443 \
            --cert "$WORK/tgt.crt" --key "$WORK/tgt.key" --keylog "$skeys"
        haproxy_start "    server t1 $TGT:443 ssl verify none"
        sleep 1; capture_start "$pcap"
        local i cpids=()
        for i in $(seq 1 4); do
            nsx env SSLKEYLOGFILE="$keys" curl -sk -o /dev/null --interface $CLIENT \
                --http1.1 "https://$ALB/big/100000/[1-60]" &
            cpids+=("$!")
        done
        wait "${cpids[@]}" || true
        capture_stop
        cat "$skeys" >>"$keys"
        log "bench: $(stat -c %s "$pcap") bytes in $pcap"
        return 0
        ;;
    *) log "unknown scenario $name"; return 1 ;;
    esac
    cp "$pcap" "$OUT/$name.pcap"
    cp "$keys" "$OUT/$name.keys"
    log "$name: $(stat -c %s "$OUT/$name.pcap") bytes, $(wc -l <"$OUT/$name.keys") key lines"
}

mkdir -p "$WORK" "$OUT"
certs
for s in ${*:-$ALL}; do scenario "$s"; done
if [ -f "$OUT/tls13_h1.pcap" ]; then
    # The same capture as pcapng with the keys inside (Decryption Secrets Block).
    editcap --inject-secrets "tls,$OUT/tls13_h1.keys" "$OUT/tls13_h1.pcap" "$OUT/tls13_dsb.pcapng"
fi
