#!/usr/bin/env bash
# Record HTTPS targets that close right after the TLS handshake or right after the request
# without answering, through HAProxy as an ALB node (`ssl verify none` to the target; sibling
# of record.sh, whose topology, mirroring and helpers it sources). Under TLS 1.3 the server
# sends its NewSessionTicket records (encrypted, content type 23 like application data) right
# after the client's Finished, often after the proxy's first request left in the same flight:
# server records after the request that are no answer.
#   tlc_nginx13     nginx (OpenSSL), TLS 1.3 only, session tickets on: `return 444` (a close
#                   without an answer) on fresh and on reused connections, answers on other
#                   paths (a 204 and a 200) with keep-alive reuse
#   tlc_nginx13_nt  the same with `ssl_session_tickets off`
#   tlc_nginx12     the same with TLS 1.2 only (tickets inside the handshake)
#   tlc_py_close    Python `ssl` (target.py --tls, TLS 1.3, two tickets): reads the request
#                   and closes (FIN, no close_notify) or resets (SO_LINGER 0), on fresh and on
#                   reused connections
#   tlc_py_one      the same with one ticket per handshake (as Go's crypto/tls sends): one
#                   record after the request, a ticket or a whole small answer by its size
# Health checks over TLS (`check check-ssl`, every 2 s: enough of them in a short recording
# to show their cadence from the target alone).
#
#   sudo tools/realcap/record_tlsclose.sh                 # all scenarios (~1.5 min)
#   sudo tools/realcap/record_tlsclose.sh tlc_nginx13     # some of them
#   tools/realcap/record_tlsclose.sh --list
#
# Namespaces are named tlc-* unless REALCAP_NS_PREFIX says otherwise; scratch in
# /tmp/tlc-realcap. Writes samples/real/<scenario>.pcap (VXLAN mirror of the node),
# <scenario>.target.pcap (tcpdump on target 10.99.1.11: TLS only, analysed without keys) and
# <scenario>.log (client results, HAProxy's log, then the target's access log or output).
# Needs what record.sh needs, plus nginx.
set -euo pipefail

export REALCAP_NS_PREFIX=${REALCAP_NS_PREFIX:-tlc-}
export REALCAP_WORK=${REALCAP_WORK:-/tmp/tlc-realcap}
# shellcheck source=record.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/record.sh"

TLC_SCENARIOS="tlc_nginx13 tlc_nginx13_nt tlc_nginx12 tlc_py_close tlc_py_one"

# An ALB keeps idle back-end connections up to its idle timeout: no early purge.
POOL_PURGE=60s
TLC_CHECK="check check-ssl inter 2s fall 3 rise 2"

tlc_nginx() { # protocols tickets(on|off): nginx on tgt1:8443 (TLS), keepalive_timeout 30 s
    local protos=$1 tickets=$2 d="$WORK/ngx-tgt"
    mkdir -p "$d"
    cat >"$d/nginx.conf" <<NGX
user root;
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 256; }
http {
    log_format t '\$remote_addr:\$remote_port [\$time_iso8601] "\$request" \$status \$body_bytes_sent '
                 'rt=\$request_time \$ssl_protocol \$ssl_session_reused';
    access_log $d/access.log t;
    client_body_temp_path $d/body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;
    keepalive_timeout 30s;
    server_tokens off;
    server {
        listen 8443 ssl;
        ssl_certificate $WORK/tgt.crt;
        ssl_certificate_key $WORK/tgt.key;
        ssl_protocols $protos;
        ssl_session_tickets $tickets;
        default_type text/plain;
        location /health { return 200 "healthy\n"; }
        location /close/ { return 444; }
        location /empty/ { return 204; }
        location / { return 200 "hello from nginx\n"; }
    }
}
NGX
    bg tgt1 ${NSP}tgt1 nginx -c "$d/nginx.conf"
    SERVERS="    server t1 10.99.1.11:8443 ssl verify none $TLC_CHECK"
    TARGET_VANTAGE=1
}

tlc_nginx_drive() { # first port
    local p=$1
    sleep 2
    client $((p + 1)) http://10.99.0.1/close/fresh-a     # first request of a new connection: 444
    sleep 0.5
    client $((p + 2)) http://10.99.0.1/close/fresh-b     # again (the last one was closed)
    sleep 0.5
    client $((p + 3)) http://10.99.0.1/ok/1              # a new connection, answered
    sleep 0.5
    client $((p + 4)) http://10.99.0.1/ok/2              # reused
    sleep 0.5
    client $((p + 5)) http://10.99.0.1/close/reused-c    # reused, closed without an answer
    sleep 0.5
    client $((p + 6)) http://10.99.0.1/empty/d           # a new connection: 204, the smallest answer
    sleep 0.5
    client $((p + 7)) http://10.99.0.1/close/reused-e    # reused after the 204
    sleep 0.5
    client $((p + 8)) http://10.99.0.1/empty/f           # a new connection: 204
    sleep 0.5
    client $((p + 9)) http://10.99.0.1/ok/last           # reused
    sleep 4                                              # more health checks
}

sc_tlc_nginx13_setup() { tlc_nginx TLSv1.3 on; }
sc_tlc_nginx13_drive() { tlc_nginx_drive 47000; }
sc_tlc_nginx13_nt_setup() { tlc_nginx TLSv1.3 off; }
sc_tlc_nginx13_nt_drive() { tlc_nginx_drive 47100; }
sc_tlc_nginx12_setup() { tlc_nginx TLSv1.2 on; }
sc_tlc_nginx12_drive() { tlc_nginx_drive 47200; }

tlc_py() { # tickets: target.py over TLS 1.3 on tgt1:8443
    target ${NSP}tgt1 tgt1 --mode healthy --ka 30 --server "realcap-tls/1.0" --port 8443 \
        --tls "$WORK/tgt.crt" "$WORK/tgt.key" --tickets "$1"
    local i # Python can take over a second to start: the first health check must find it
    for i in $(seq 50); do
        nsx ${NSP}tgt1 ss -ltn | grep -q ':8443 ' && break
        sleep 0.2
    done
    SERVERS="    server t1 10.99.1.11:8443 ssl verify none $TLC_CHECK"
    TARGET_VANTAGE=1
    TARGET_LOG=1
}
sc_tlc_py_close_setup() { tlc_py 2; }
sc_tlc_py_close_drive() { tlc_py_drive 47300; }
sc_tlc_py_one_setup() { tlc_py 1; }
sc_tlc_py_one_drive() { tlc_py_drive 47400; }

tlc_py_drive() { # first port
    local p=$1
    sleep 2
    client $((p + 1)) http://10.99.0.1/m/close_fin/fresh-a   # new connection: request read, FIN
    sleep 0.5
    client $((p + 2)) http://10.99.0.1/m/close_rst/fresh-b   # new connection: request read, RST
    sleep 0.5
    client $((p + 3)) http://10.99.0.1/ok/1                  # new connection, answered
    sleep 0.5
    client $((p + 4)) http://10.99.0.1/m/close_fin/reused-c  # reused: FIN
    sleep 0.5
    client $((p + 5)) http://10.99.0.1/ok/2                  # new connection, answered
    sleep 0.5
    client $((p + 6)) http://10.99.0.1/m/close_rst/reused-d  # reused: RST
    sleep 0.5
    client $((p + 7)) http://10.99.0.1/ok/last
    sleep 6
}

record_tlc() {
    local sc=$1
    TARGET_LOG=0
    record "$sc"
    if [ -f "$WORK/ngx-tgt/access.log" ]; then
        {
            echo "# target access log"
            cat "$WORK/ngx-tgt/access.log"
        } >>"$OUT/$sc.log"
    fi
    rm -rf "$WORK/ngx-tgt"
}

tlc_main() {
    if [ "${1:-}" != "--list" ]; then
        local s
        for s in haproxy tcpdump nft nginx curl python3; do
            command -v $s >/dev/null || { echo "missing $s" >&2; return 1; }
        done
    fi
    run_scenarios "$TLC_SCENARIOS" record_tlc "$@"
}

tlc_main "$@"
