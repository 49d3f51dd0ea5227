#!/usr/bin/env bash
# Record real traffic through **Caddy** as the ALB node (sibling of record.sh, whose topology,
# mirroring and client helpers it sources). Caddy speaks HTTP/2 over TLS to clients by default
# (ALPN h2) and HTTP/1.1 to the targets, like an ALB with an HTTPS listener.
#
#   sudo tools/realcap/record_caddy.sh               # all scenarios
#   sudo tools/realcap/record_caddy.sh cdy_h2_mixed  # some of them
#   tools/realcap/record_caddy.sh --list
#
# Caddy is set up like an ALB as far as it goes: reverse_proxy adds X-Forwarded-For/-Proto
# (and X-Forwarded-Port here), HTTP/1.1 keep-alive to the targets, dial timeout 10 s, a
# response-header timeout of 5 s standing in for the idle timeout (504), no retries
# (lb_try_duration 0), its own 502/504 answered with `Server: awselb/2.0` (handle_errors).
# Namespaces c2-* (REALCAP_NS_PREFIX), scratch /tmp/c2-realcap. Writes samples/real/<name>.pcap
# (VXLAN mirror of the node 10.99.0.1), <name>.target.pcap (tcpdump on target 10.99.1.11) and
# <name>.log (client results with ports, Caddy's access log), <name>.keys (the clients' TLS key
# log, SSLKEYLOGFILE format, for --tls-keylog).
# Needs what record.sh needs, plus caddy (2.6+) and Node.js.
set -euo pipefail

export REALCAP_NS_PREFIX=${REALCAP_NS_PREFIX:-c2-}
export REALCAP_WORK=${REALCAP_WORK:-/tmp/c2-realcap}
# shellcheck source=record.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/record.sh"

CDY_SCENARIOS="cdy_h2_mixed cdy_h1_mixed cdy_h2_single cdy_h1_tls13"

# ---------------------------------------------------------------- the ALB node: Caddy
# one reverse_proxy block to upstream $1 (host:port)
cdy_proxy() {
    cat <<EOF
reverse_proxy $1 {
            header_up X-Forwarded-Port {http.request.port}
            header_up X-Amzn-Trace-Id "Root=1-$CDY_EPOCH-{http.request.uuid}"
            lb_try_duration 0
            transport http {
                dial_timeout 10s
                response_header_timeout ${IDLE}s
                keepalive 60s
                keepalive_idle_conns 64
                versions 1.1
            }
        }
EOF
}

write_caddy_alb_cfg() {
    local d="$WORK/caddy"
    # X-Amzn-Trace-Id (an ALB always adds one; albscope names the node by it): Caddy cannot
    # print the time in hex, so the epoch part is the start of the recording and the rest is
    # Caddy's request UUID (36 characters where an ALB has 24 hex digits).
    CDY_EPOCH=$(printf '%08x' "$(date +%s)")
    mkdir -p "$d"
    cat >"$d/Caddyfile" <<EOF
{
    admin off
    # curl sends no SNI to an IP address: serve the node's certificate anyway
    default_sni 10.99.0.1
    auto_https off
    servers {
        timeouts {
            idle ${IDLE}s
        }
        protocols ${CDY_PROTOCOLS:-h1 h2 h3}
    }
}
(alb) {
    log {
        output file $d/access.log
        format json
    }
    # the node's own errors look like an ALB's (the target's relayed 5xx keep theirs)
    handle_errors {
        header Server awselb/2.0
        respond "{err.status_code} {err.status_text}" {err.status_code}
    }
    # an ALB adds no Server header of its own to a relayed response
    header -Server
    handle /down/* {
        $(cdy_proxy 10.99.1.11:8081)
    }
    handle /blackhole/* {
        $(cdy_proxy 10.99.1.12:8080)
    }
    handle {
        $(cdy_proxy 10.99.1.11:8080)
    }
}
https://10.99.0.1:443 {
    tls $WORK/cdy.crt $WORK/cdy.key
    import alb
}
http://10.99.0.1:80 {
    import alb
}
EOF
}

node_modes() { # ns name: servers/node_modes.js on :8080
    bg "$2" "$1" node "$HERE/servers/node_modes.js" 0.0.0.0 8080
}

# several requests as concurrent streams of one client connection (HTTP/2 over TLS), or as
# concurrent HTTP/1.1 connections (plain): result per request with the local port
many() { # first_port url...
    local p0=$1; shift
    local urls=() u t0 res
    for u in "$@"; do urls+=(-o /dev/null "$u"); done
    t0=$(date +%T.%N | cut -c1-12)
    res=$(nsx "${NSP}client" curl -sk --parallel --parallel-max 10 \
        --local-port "$p0-$((p0 + 9))" --max-time 30 \
        -w '%{local_port} %{url_effective} -> %{http_code} http%{http_version} time_total=%{time_total}s\n' "${urls[@]}" 2>&1) || true
    echo "$res" | grep -- '->' | sed "s/^/$t0 client 10.99.2.10:/" | tee -a "$WORK/client.log" >&2
}

cdy_setup_common() {
    # t1 Node.js with failure modes; /down -> a closed port on t1 (RST: 502); /blackhole -> t2,
    # whose firewall drops the SYNs (10 s dial timeout: 504)
    node_modes "${NSP}tgt1" tgt1
    nsx "${NSP}tgt2" nft add table inet rc
    nsx "${NSP}tgt2" nft add chain inet rc in '{ type filter hook input priority 0; }'
    nsx "${NSP}tgt2" nft add rule inet rc in tcp dport 8080 drop
    TARGET_VANTAGE=1
}

sc_cdy_h2_mixed_setup() { cdy_setup_common; }
sc_cdy_h2_mixed_drive() {
    local b=https://10.99.0.1
    client 41301 "$b/ok/warm" --http2
    sleep 0.5
    # one HTTP/2 connection, six streams at once: ok, reset, 503, slow ok, refused, ok
    many 41310 "$b/ok/s1" "$b/reset/s2" "$b/status/503/s3" "$b/slow/0.6/s4" "$b/down/s5" "$b/ok/s6"
    sleep 0.5
    # one connection: an answer past the 5 s header timeout (504) next to ok ones
    many 41320 "$b/slow/7/t1" "$b/ok/t2" "$b/status/500/t3" "$b/slowreset/1/t4"
    sleep 0.5
    # the dial timeout (504 after 10 s) alone
    client 41331 "$b/blackhole/c1" --http2
    sleep 0.3
    client 41332 "$b/ok/last" --http2
    sleep 1
}

sc_cdy_h1_mixed_setup() { cdy_setup_common; }
sc_cdy_h1_mixed_drive() {
    local b=http://10.99.0.1
    client 41401 "$b/ok/warm"
    sleep 0.5
    many 41410 "$b/ok/s1" "$b/reset/s2" "$b/status/503/s3" "$b/slow/0.6/s4" "$b/down/s5" "$b/ok/s6"
    sleep 0.5
    many 41420 "$b/slow/7/t1" "$b/ok/t2" "$b/status/500/t3" "$b/slowreset/1/t4"
    sleep 0.5
    client 41431 "$b/blackhole/c1"
    sleep 0.3
    client 41432 "$b/ok/last"
    sleep 1
}

# one request per connection, HTTP/2 over TLS 1.3 and 1.2 from curl (offers h2 and http/1.1) and
# Node.js (offers h2 only), and HTTP/1.1 over TLS for contrast: nothing multiplexed, so only
# the handshake and the records can show HTTP/2 without keys
h2_tls() { # local_port max_tls path: Node.js http2 client (ALPN h2 only)
    local port=$1 max=$2 path=$3 res t0
    t0=$(date +%T.%N | cut -c1-12)
    res=$(nsx "${NSP}client" env SSLKEYLOGFILE="${SSLKEYLOGFILE:-}" timeout 30 \
        node "$HERE/servers/h2_tls_client.js" 10.99.0.1 443 "$port" "$max" "$path" 2>&1) || true
    echo "$t0 client 10.99.2.10:$port https://10.99.0.1$path ($max, ALPN h2 only) -> $res" \
        | tee -a "$WORK/client.log" >&2
}
sc_cdy_h2_single_setup() { cdy_setup_common; }
sc_cdy_h2_single_drive() {
    local b=https://10.99.0.1 p
    # curl --http2, TLS 1.3 (ALPN selection encrypted): ok, reset, target 503, refused
    p=41501
    for u in /ok/a /reset/b /status/503/c /down/d; do
        client $p "$b$u" --http2
        p=$((p + 1))
        sleep 0.3
    done
    # curl --http2, TLS 1.2 (ALPN selection in the clear)
    client 41511 "$b/ok/e" --http2 --tls-max 1.2
    sleep 0.3
    client 41512 "$b/reset/f" --http2 --tls-max 1.2
    sleep 0.3
    # Node.js, ALPN h2 only, TLS 1.3 and 1.2
    h2_tls 41521 TLSv1.3 /ok/g
    sleep 0.3
    h2_tls 41522 TLSv1.3 /status/500/h
    sleep 0.3
    h2_tls 41523 TLSv1.2 /reset/i
    sleep 0.3
    # HTTP/1.1 over TLS (curl --http1.1 offers http/1.1 only): TLS 1.3 and 1.2
    client 41531 "$b/ok/j" --http1.1
    sleep 0.3
    client 41532 "$b/reset/k" --http1.1
    sleep 0.3
    client 41533 "$b/status/503/l" --http1.1 --tls-max 1.2
    sleep 0.3
    client 41534 "$b/down/m" --http1.1
    sleep 1
}

# the node speaks HTTP/1.1 only (like an ALB with routing.http2.enabled false): clients that
# offer h2 and http/1.1 get http/1.1, hidden by TLS 1.3; one with a small body sent after an
# interim 100 Continue (the HTTP/1.1 exchange whose record sizes come closest to HTTP/2's).
# (A client offering h2 only would be refused in the handshake; left out: seen from the front
# end alone, that failed handshake makes albscope take the client for an ALB node.)
sc_cdy_h1_tls13_setup() { cdy_setup_common; CDY_PROTOCOLS="h1"; }
sc_cdy_h1_tls13_drive() {
    local b=https://10.99.0.1 p=41601 u
    for u in /ok/a /reset/b /status/503/c /down/d; do
        client $p "$b$u" --http2
        p=$((p + 1))
        sleep 0.3
    done
    # two requests on one kept-alive connection
    client_multi 41605 --http2 "$b/ok/e1" "$b/ok/e2"
    sleep 0.3
    client 41606 "$b/ok/post" --http2 -H 'Expect: 100-continue' --data 'hello=world!'
    sleep 1
}

# ---------------------------------------------------------------- recording
record_cdy() {
    local sc=$1
    declare -F "sc_${sc}_setup" >/dev/null || { log "unknown scenario $sc"; return 1; }
    log "=== $sc"
    rm -rf "$WORK/run" "$WORK/caddy" "$WORK"/tgt*.out && mkdir -p "$WORK" && : >"$WORK/client.log"
    tls_cert
    # Caddy picks its certificate by name: one for the node's address
    [ -f "$WORK/cdy.crt" ] || openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=realcap-alb \
        -addext subjectAltName=IP:10.99.0.1 -keyout "$WORK/cdy.key" -out "$WORK/cdy.crt" >/dev/null 2>&1
    TARGET_VANTAGE=0 ALB2=0 CDY_PROTOCOLS=
    setup_net
    "sc_${sc}_setup"
    write_caddy_alb_cfg
    local pcap="$OUT/$sc.pcap" tpcap="$OUT/$sc.target.pcap"
    rm -f "$pcap" "$tpcap"
    bg tcpdump-mirror "${NSP}mirror" tcpdump -i eth0 -s 0 -U -n -w "$WORK/mirror.pcap" udp port 4789
    if [ "$TARGET_VANTAGE" = 1 ]; then
        bg tcpdump-target "${NSP}tgt1" tcpdump -i eth0 -s 0 -U -n -w "$WORK/target.pcap" tcp or icmp
    fi
    sleep 1
    bg caddy-alb "${NSP}alb" caddy run --adapter caddyfile --config "$WORK/caddy/Caddyfile"
    sleep 1.5
    # the clients' TLS keys (curl writes them), so the HTTP/2 front end can be read too
    export SSLKEYLOGFILE="$WORK/keys.log"
    rm -f "$SSLKEYLOGFILE"
    "sc_${sc}_drive"
    unset SSLKEYLOGFILE
    sleep 0.5
    teardown
    cp "$WORK/mirror.pcap" "$pcap"
    [ "$TARGET_VANTAGE" = 1 ] && cp "$WORK/target.pcap" "$tpcap"
    if [ -s "$WORK/keys.log" ]; then cp "$WORK/keys.log" "$OUT/$sc.keys"; else rm -f "$OUT/$sc.keys"; fi
    {
        echo "# realcap scenario $sc (Caddy as the ALB node), recorded $(date -u +%FT%TZ); idle timeout ${IDLE}s"
        echo "# client results (local port = client port in the capture)"
        sort "$WORK/client.log"
        echo "# Caddy (10.99.0.1) access log: remote port, proto, uri, status, duration"
        if [ -s "$WORK/caddy/access.log" ]; then
            python3 -c '
import json, sys, datetime
for line in open(sys.argv[1]):
    e = json.loads(line); r = e.get("request", {})
    t = datetime.datetime.utcfromtimestamp(e["ts"]).strftime("%H:%M:%S.%f")[:-3]
    print(t, r.get("remote_port"), r.get("proto"), r.get("method"), r.get("uri"), e.get("status"), "duration=%.3fs" % e.get("duration", 0), "size=%s" % e.get("size"))
' "$WORK/caddy/access.log"
        fi
        echo "# Caddy log (errors)"
        grep -hE '"level":"(warn|error)"' "$WORK/caddy-alb.out" 2>/dev/null | cut -c1-400 || true
        local f
        for f in "$WORK"/tgt*.out; do
            [ -s "$f" ] || continue
            echo "# target log $(basename "$f")"
            cat "$f"
        done
    } >"$OUT/$sc.log"
    log "wrote $pcap ($(stat -c %s "$pcap") bytes)"
}

cdy_main() {
    run_scenarios "$CDY_SCENARIOS" record_cdy "$@"
}

cdy_main "$@"
