#!/usr/bin/env bash
# Record real traffic of less common HTTP shapes through HAProxy as an ALB node (sibling of
# record.sh, whose topology, mirroring and helpers it sources): WebSocket upgrades, HTTP/1.0
# and close-delimited bodies, Expect: 100-continue uploads, bodiless responses (HEAD, 204,
# 304) and chunked trailers, pipelining, a server-sent-event stream still open when the capture
# ends, real Node.js and nginx targets with their keep-alive timeouts, and targets answering
# 502/503/504 themselves next to the proxy's own 502/504.
#
#   sudo tools/realcap/record_shapes.sh                  # all scenarios
#   sudo tools/realcap/record_shapes.sh ws_upgrade       # some of them
#   tools/realcap/record_shapes.sh --list
#
# Namespaces are named sh-* unless REALCAP_NS_PREFIX says otherwise; scratch in
# /tmp/sh-realcap. Writes samples/real/<scenario>.pcap (VXLAN mirror of the node),
# <scenario>.target.pcap (tcpdump on target 10.99.1.11) and <scenario>.log.
# Needs what record.sh needs, plus nginx and Node.js.
set -euo pipefail

export REALCAP_NS_PREFIX=${REALCAP_NS_PREFIX:-sh-}
export REALCAP_WORK=${REALCAP_WORK:-/tmp/sh-realcap}
# shellcheck source=record.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/record.sh"

SHAPES="ws_upgrade ws_idle http10_close expect_upload bodyless chunked_cut chunked_stall pipelined sse_stream
ka_servers node_race target_errors"

shapes() { # ns name args...: start servers/shapes_target.py
    local ns=$1 name=$2; shift 2
    bg "$name" "$ns" python3 -u "$HERE/servers/shapes_target.py" --name "$name" "$@"
}

shapes_client() { # label args...: servers/shapes_client.py from the client namespace
    local res t0
    t0=$(date +%T.%N | cut -c1-12)
    res=$(nsx "${NSP}client" timeout 40 python3 -u "$HERE/servers/shapes_client.py" "$@" 2>&1) || true
    echo "$t0 client 10.99.2.10:$2 $1 ${*:3} -> $res" | tee -a "$WORK/client.log" >&2
}

curl_line() { # local_port label curl-args...: one curl command (may carry several requests)
    local port=$1 label=$2; shift 2
    local res rc t0
    t0=$(date +%T.%N | cut -c1-12)
    res=$(nsx "${NSP}client" curl -sk --local-port "$port" --max-time 30 \
        -w '%{http_code} ' "$@" 2>&1) && rc=0 || rc=$?
    echo "$t0 client 10.99.2.10:$port $label -> $res curl_exit=$rc" | tee -a "$WORK/client.log" >&2
}

nginx_target() { # ns: real nginx on :8080 (keepalive_timeout 75 s) with its own error pages
    local ns=$1
    mkdir -p "$WORK/nginx"
    cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 64; }
http {
    access_log $WORK/nginx/access.log;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    keepalive_timeout 75s;
    upstream dead { server 127.0.0.1:9; }
    upstream silent { server 127.0.0.1:9001; }
    server {
        listen 8080;
        location = /health { return 200 "ok\n"; }
        location /status/503 { return 503; }
        location /status/502 { proxy_pass http://dead; }
        location /status/504 { proxy_pass http://silent; proxy_read_timeout 1s; }
        location /slow { proxy_pass http://silent; proxy_read_timeout 30s; }
        location / { return 200 "hello from nginx\n"; }
    }
}
EOF
    bg silent-upstream "$ns" python3 -u "$HERE/servers/silent.py" --port 9001 --hold 60
    bg nginx "$ns" nginx -c "$WORK/nginx/nginx.conf"
}

# HAProxy keeps idle back-end connections longer than the targets' keep-alive timeouts (an ALB
# keeps them up to its idle timeout): no purge of idle server connections during a recording.
POOL_PURGE=60s

sc_ws_upgrade_setup() {
    shapes "${NSP}tgt1" tgt1 --ka 60 --ws-seconds 6 --server "realcap-shapes/1.0"
    SERVERS="    server t1 10.99.1.11:8080 $SRV_CHECK"
    TARGET_VANTAGE=1
}
sc_ws_upgrade_drive() {
    client 40501 http://10.99.0.1/ok/before
    sleep 0.3
    # a WebSocket that the server closes after 6 s (frames both ways every second or so)
    shapes_client ws 40502 10.99.0.1 /ws/chat 8
    client 40503 http://10.99.0.1/ok/after
    # a WebSocket still open when the capture ends
    nsx "${NSP}client" timeout 30 python3 -u "$HERE/servers/shapes_client.py" ws 40504 10.99.0.1 \
        /ws/live 20 >>"$WORK/client.log" 2>&1 &
    echo "$(date +%T.%N | cut -c1-12) client 10.99.2.10:40504 ws /ws/live (still open at the end)" >>"$WORK/client.log"
    sleep 3
}

sc_ws_idle_setup() {
    shapes "${NSP}tgt1" tgt1 --ka 60 --ws-seconds 30 --server "realcap-shapes/1.0"
    SERVERS="    server t1 10.99.1.11:8080 $SRV_CHECK"
    TARGET_VANTAGE=1
}
sc_ws_idle_drive() {
    # a WebSocket nobody speaks on: the proxy closes it at its idle (tunnel) timeout, 5 s
    shapes_client ws 40581 10.99.0.1 /wsquiet/idle 9
    client 40582 http://10.99.0.1/ok/after
    sleep 1
}

sc_chunked_cut_setup() {
    shapes "${NSP}tgt1" tgt1 --ka 60 --server "realcap-shapes/1.0"
    SERVERS="    server t1 10.99.1.11:8080 $SRV_CHECK"
    TARGET_VANTAGE=1
}
sc_chunked_cut_drive() {
    client 40591 http://10.99.0.1/ok/before
    sleep 0.3
    client 40592 http://10.99.0.1/chunkcut/report   # the target FINs before the last chunk
    sleep 0.3
    client 40593 http://10.99.0.1/ok/after
    sleep 1
}

sc_chunked_stall_setup() {
    shapes "${NSP}tgt1" tgt1 --ka 60 --ws-seconds 8 --server "realcap-shapes/1.0"
    SERVERS="    server t1 10.99.1.11:8080 $SRV_CHECK"
    TARGET_VANTAGE=1
}
sc_chunked_stall_drive() {
    sleep 3   # the first health checks pass
    client 40611 http://10.99.0.1/ok/before
    sleep 0.3
    client 40612 http://10.99.0.1/chunkstall/export   # one chunk, then silence past the 5 s idle timeout
    sleep 0.3
    client 40613 http://10.99.0.1/ok/after
    sleep 1
}

sc_node_race_setup() {
    # A plain Node.js http server (keepAliveTimeout 5 s; it closes idle sockets after about
    # 6 s) raced by a request on a reused connection. As in record.sh keepalive_race, the
    # target's first FIN is dropped (retransmitted ~0.2 s later) to widen the race window.
    bg tgt1-node "${NSP}tgt1" node "$HERE/servers/node_target.js" 0.0.0.0 8080
    nsx "${NSP}tgt1" nft add table inet rc
    nsx "${NSP}tgt1" nft add chain inet rc out '{ type filter hook output priority 0; }'
    nsx "${NSP}tgt1" nft add rule inet rc out tcp sport 8080 'tcp flags & fin == fin' ct mark 0 ct mark set 1 drop
    SERVERS="    server t1 10.99.1.11:8080"
    TARGET_VANTAGE=1
}
sc_node_race_drive() {
    client 40601 http://10.99.0.1/ok/first
    sleep 6.12
    client 40602 http://10.99.0.1/race     # reused after ~6.1 s idle: Node has just closed it
    sleep 0.5
    client 40603 http://10.99.0.1/ok/after
    sleep 7
}

sc_http10_close_setup() {
    shapes "${NSP}tgt1" tgt1 --ka 60 --server "realcap-shapes/1.0"
    SERVERS="    server t1 10.99.1.11:8080 $SRV_CHECK"
    TARGET_VANTAGE=1
}
sc_http10_close_drive() {
    client 40511 http://10.99.0.1/close/http10-client --http1.0
    sleep 0.3
    client 40512 http://10.99.0.1/close/http11-client
    sleep 0.3
    client 40513 http://10.99.0.1/ok/connection-close -H 'Connection: close'
    sleep 0.3
    client 40514 http://10.99.0.1/ok/http10 --http1.0
    sleep 0.3
    client 40515 http://10.99.0.1/ok/after
    sleep 1
}

sc_expect_upload_setup() {
    shapes "${NSP}tgt1" tgt1 --ka 60 --server "realcap-shapes/1.0"
    SERVERS="    server t1 10.99.1.11:8080 $SRV_CHECK"
    TARGET_VANTAGE=1
    head -c 30000 /dev/urandom | base64 -w 0 >"$WORK/upload.bin"
}
sc_expect_upload_drive() {
    client 40521 http://10.99.0.1/upload/big -H 'Expect: 100-continue' -H 'Content-Type: application/octet-stream' --data-binary "@$WORK/upload.bin"
    sleep 0.3
    client 40522 http://10.99.0.1/upload/small -H 'Expect: 100-continue' -d 'name=value'
    sleep 0.3
    client 40523 http://10.99.0.1/upload/plain --data-binary "@$WORK/upload.bin" -H 'Expect:'
    sleep 0.3
    client 40524 http://10.99.0.1/ok/after
    sleep 1
}

sc_bodyless_setup() {
    shapes "${NSP}tgt1" tgt1 --ka 60 --server "realcap-shapes/1.0"
    SERVERS="    server t1 10.99.1.11:8080 $SRV_CHECK"
    TARGET_VANTAGE=1
}
sc_bodyless_drive() {
    # one client connection carrying HEAD, 204, 304, chunked with trailers, then a plain 200:
    # a wrong body length on any of them would swallow or invent the next response
    curl_line 40531 "HEAD /head/a; GET /nocontent; GET /notmodified; GET /chunked; GET /ok" \
        -I http://10.99.0.1/head/a \
        --next -o /dev/null http://10.99.0.1/nocontent/b \
        --next -o /dev/null http://10.99.0.1/notmodified/c -H 'If-None-Match: "v1"' \
        --next -o /dev/null http://10.99.0.1/chunked/d \
        --next -o /dev/null http://10.99.0.1/ok/e
    sleep 0.3
    client 40532 http://10.99.0.1/head/get-with-body
    sleep 1
}

sc_pipelined_setup() {
    shapes "${NSP}tgt1" tgt1 --ka 60 --server "realcap-shapes/1.0"
    SERVERS="    server t1 10.99.1.11:8080 $SRV_CHECK"
    TARGET_VANTAGE=1
}
sc_pipelined_drive() {
    shapes_client pipeline 40541 10.99.0.1 /ok/p1 /chunked/p2 /head/p3 /nocontent/p4 /ok/p5
    sleep 0.3
    client 40542 http://10.99.0.1/ok/after
    sleep 1
}

sc_sse_stream_setup() {
    shapes "${NSP}tgt1" tgt1 --ka 60 --sse-seconds 60 --server "realcap-shapes/1.0"
    SERVERS="    server t1 10.99.1.11:8080 $SRV_CHECK"
    TARGET_VANTAGE=1
}
sc_sse_stream_drive() {
    client 40551 http://10.99.0.1/ok/before
    nsx "${NSP}client" curl -s -N --local-port 40552 --max-time 60 -o /dev/null \
        http://10.99.0.1/sse/live >/dev/null 2>&1 &
    echo "$(date +%T.%N | cut -c1-12) client 10.99.2.10:40552 GET /sse/live (event stream, still open at the end)" >>"$WORK/client.log"
    sleep 2
    client 40553 http://10.99.0.1/ok/during
    sleep 6   # longer than the 5 s idle timeout: events every 0.5 s keep the stream alive
}

sc_ka_servers_setup() {
    # t1: a plain Node.js http server (keepAliveTimeout 5 s); t2: nginx (keepalive_timeout 75 s).
    bg tgt1-node "${NSP}tgt1" node "$HERE/servers/node_target.js" 0.0.0.0 8080
    nginx_target "${NSP}tgt2"
    SERVERS="    server t1 10.99.1.11:8080
    server t2 10.99.1.12:8080"
    TARGET_VANTAGE=1
}
sc_ka_servers_drive() {
    client 40561 http://10.99.0.1/ok/1    # t1 (round robin)
    client 40562 http://10.99.0.1/ok/2    # t2
    sleep 6.5                              # Node closes its idle connection at 5 s; nginx keeps it
    client 40563 http://10.99.0.1/ok/3    # t1: a new connection
    client 40564 http://10.99.0.1/ok/4    # t2: the kept-alive one, idle 6.5 s
    sleep 1
    client 40565 http://10.99.0.1/ok/5
    client 40566 http://10.99.0.1/ok/6
    sleep 6.2
}

sc_target_errors_setup() {
    # t2: Node.js answering 503 itself; t1: nginx answering 502 (its upstream refused), 503
    # (return 503) and 504 (its upstream timed out after 1 s); /down goes to a closed port (the
    # proxy's own 502); /slow waits on nginx longer than the proxy's idle timeout (its own 504).
    bg tgt2-node "${NSP}tgt2" node "$HERE/servers/node_target.js" 0.0.0.0 8080
    nginx_target "${NSP}tgt1"
    SERVERS="    server t1 10.99.1.11:8080"
    EXTRA_FRONTEND="    use_backend tg_node if { path_beg /node/ }
    use_backend tg_down if { path_beg /down }"
    EXTRA_BACKENDS="backend tg_node
    http-request set-path %[path,regsub(^/node,)]
    server t2 10.99.1.12:8080
backend tg_down
    server t1 10.99.1.11:8081"
    ERR503=502
    TARGET_VANTAGE=1
}
sc_target_errors_drive() {
    client 40571 http://10.99.0.1/status/502
    sleep 0.3
    client 40572 http://10.99.0.1/status/503
    sleep 0.3
    client 40573 http://10.99.0.1/status/504
    sleep 0.3
    client 40574 http://10.99.0.1/node/status/503
    sleep 0.3
    client 40575 http://10.99.0.1/down/refused
    sleep 0.3
    client 40576 http://10.99.0.1/slow/report
    sleep 0.3
    client 40577 http://10.99.0.1/ok/after
    sleep 1
}

shapes_main() {
    [ "${1:-}" = "--list" ] && { echo $SHAPES; return 0; }
    [ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; return 1; }
    mkdir -p "$OUT" "$WORK"
    trap teardown EXIT
    trap 'exit 130' INT TERM
    local list=("$@") s
    [ ${#list[@]} -eq 0 ] && read -r -a list <<<"$(echo $SHAPES)"
    for s in "${list[@]}"; do record "$s"; done
}

shapes_main "$@"
