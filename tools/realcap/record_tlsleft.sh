#!/usr/bin/env bash
# Record real TLS stacks other than Go's and HAProxy's as an HTTPS target (the ALB -> target leg
# over TLS), with health checks over TLS (`check check-ssl`, every 5 s), through HAProxy as an
# ALB node (sibling of record.sh, whose topology, mirroring and helpers it sources):
#   tl_nginx_tls13  nginx (OpenSSL, TLS 1.3 only; session tickets: two NewSessionTicket records
#                   after every full handshake, resumed handshakes from the proxy)
#   tl_nginx_tls12  the same with TLS 1.2 only (tickets in the handshake, close_notify of 31 bytes)
#   tl_apache_tls   Apache httpd mod_ssl (event MPM, TLS 1.3, KeepAliveTimeout 2)
# Each with a failure mix: an answer cut by a reset behind the target (nginx/Apache relay 100 of
# 1000 bytes, then close), a close before any answer (nginx `return 444`), the target's own 500
# and its own 502 (its upstream closed), an answer slower than the proxy's idle timeout, and
# requests raced against the target's keep-alive close on idle TLS connections. The failing
# answers come from target.py behind the web server, on the target's loopback (not captured).
#
#   sudo tools/realcap/record_tlsleft.sh                  # all scenarios
#   sudo tools/realcap/record_tlsleft.sh tl_nginx_tls13   # some of them
#   tools/realcap/record_tlsleft.sh --list
#
# Namespaces are named tl-* unless REALCAP_NS_PREFIX says otherwise; scratch in /tmp/tl-realcap.
# Writes samples/real/<scenario>.pcap (VXLAN mirror of the node), <scenario>.target.pcap (tcpdump
# on target 10.99.1.11: TLS only, analyse it without keys as a user would), <scenario>.keys (the
# target's TLS key log, for checking the truth with --tls-keylog; nginx has no key-log setting,
# so servers/keylog_shim.c is preloaded into it) and <scenario>.log (client results, HAProxy's
# log, then the web server's access log). Needs what record.sh needs, plus nginx, apache2 and gcc.
#
# As in record_nginx.sh's ngx_apache_tls, each connection's first close from the target (a
# close_notify record alone: IP length 76 under TLS 1.3, 83 under TLS 1.2; or a FIN) is dropped
# and retransmitted ~0.2 s later, to widen the keep-alive race window.
set -euo pipefail

export REALCAP_NS_PREFIX=${REALCAP_NS_PREFIX:-tl-}
export REALCAP_WORK=${REALCAP_WORK:-/tmp/tl-realcap}
# shellcheck source=record.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/record.sh"

TL_SCENARIOS="tl_nginx_tls13 tl_nginx_tls12 tl_apache_tls"

# An ALB keeps idle back-end connections up to its idle timeout: no early purge.
POOL_PURGE=60s
TL_CHECK="check check-ssl inter 5s fall 3 rise 2"

keylog_shim() { # build servers/keylog_shim.c into the scratch dir
    gcc -shared -fPIC -O2 -o "$WORK/keylog_shim.so" "$HERE/servers/keylog_shim.c" -ldl
}

upstream_modes() { # target.py behind the web server, on tgt1's loopback :9001 (not captured)
    nsx ${NSP}tgt1 ip link set lo up
    target ${NSP}tgt1 upstream --mode healthy --bind 127.0.0.1 --port 9001 --delay 8 \
        --status 500 --server "realcap-upstream/1.0"
}

drop_first_close() { # ns port: drop each connection's first close_notify-only packet or FIN
    nsx "$1" nft add table inet rc
    nsx "$1" nft add chain inet rc out '{ type filter hook output priority 0; }'
    nsx "$1" nft add rule inet rc out tcp sport "$2" ip length '{ 76, 83 }' ct mark 0 ct mark set 1 drop
    nsx "$1" nft add rule inet rc out tcp sport "$2" 'tcp flags & fin == fin' ct mark 0 ct mark set 1 drop
}

nginx_target() { # protocols: nginx on tgt1:8443 (TLS), keepalive_timeout 2 s
    local protos=$1 d="$WORK/ngx-tgt"
    mkdir -p "$d"
    keylog_shim
    cat >"$d/nginx.conf" <<NGX
user root;
# nginx clears its workers' environment: keep the key log's path for the preloaded shim
env SSLKEYLOGFILE;
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 256; }
http {
    log_format t '\$remote_addr:\$remote_port [\$time_iso8601] "\$request" \$status \$body_bytes_sent '
                 'rt=\$request_time upstream=\$upstream_status \$ssl_protocol \$ssl_session_reused';
    access_log $d/access.log t;
    client_body_temp_path $d/body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;
    keepalive_timeout 2s;
    server_tokens off;
    server {
        listen 8443 ssl;
        ssl_certificate $WORK/tgt.crt;
        ssl_certificate_key $WORK/tgt.key;
        ssl_protocols $protos;
        ssl_session_tickets on;
        default_type text/plain;
        location /health { return 200 "healthy\n"; }
        location /close/ { return 444; }
        location /status/500/ { return 500; }
        location /m/ {
            proxy_pass http://127.0.0.1:9001;
            proxy_http_version 1.1;
            proxy_buffering off;
            proxy_read_timeout 30s;
        }
        location / { return 200 "hello from nginx\n"; }
    }
}
NGX
    bg tgt1 ${NSP}tgt1 env SSLKEYLOGFILE="$WORK/target.keys" LD_PRELOAD="$WORK/keylog_shim.so" \
        nginx -c "$d/nginx.conf"
    drop_first_close ${NSP}tgt1 8443
    SERVERS="    server t1 10.99.1.11:8443 ssl verify none $TL_CHECK"
    TARGET_VANTAGE=1
}

apache_tls_target() { # Apache httpd mod_ssl on tgt1:8443, KeepAliveTimeout 2 s
    local d="$WORK/apache"
    mkdir -p "$d/htdocs" "$d/run"
    echo "hello from apache" >"$d/htdocs/index.html"
    cat >"$d/httpd.conf" <<APA
ServerRoot /etc/apache2
DefaultRuntimeDir $d/run
PidFile $d/run/httpd.pid
Mutex file:$d/run default
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so
LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so
LoadModule socache_shmcb_module /usr/lib/apache2/modules/mod_socache_shmcb.so
LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
User www-data
Group www-data
ServerName tgt1
ErrorLog $d/error.log
LogFormat "%a:%{remote}p %t \"%r\" %>s %b %D %{SSL_PROTOCOL}x" timed
CustomLog $d/access.log timed
KeepAlive On
KeepAliveTimeout 2
MaxKeepAliveRequests 1000
TypesConfig /etc/mime.types
DocumentRoot $d/htdocs
DirectoryIndex index.html
FallbackResource /index.html
<Directory $d/htdocs>
    Require all granted
</Directory>
ProxyPass /m/ http://127.0.0.1:9001/m/ timeout=30
SSLSessionCache shmcb:$d/run/ssl_scache(512000)
Listen 8443 https
<VirtualHost *:8443>
    SSLEngine on
    SSLCertificateFile $WORK/tgt.crt
    SSLCertificateKeyFile $WORK/tgt.key
</VirtualHost>
APA
    : >"$WORK/target.keys"
    chmod 666 "$WORK/target.keys"
    chmod -R a+rX "$WORK"
    chown -R www-data "$d/run"
    bg tgt1 ${NSP}tgt1 env SSLKEYLOGFILE="$WORK/target.keys" apache2 -DFOREGROUND -f "$d/httpd.conf"
    drop_first_close ${NSP}tgt1 8443
    SERVERS="    server t1 10.99.1.11:8443 ssl verify none $TL_CHECK"
    TARGET_VANTAGE=1
}

tl_drive() { # first port, close-path: the failure mix and the keep-alive race sweep
    local p=$1 close=$2
    sleep 6                                              # the first health checks
    client $((p + 1)) http://10.99.0.1/ok/first
    sleep 1
    client $((p + 2)) http://10.99.0.1/ok/reused-1s
    sleep 0.5
    client $((p + 3)) http://10.99.0.1/m/short_rst/a     # 100 of 1000 bytes, then a reset
    sleep 1
    client $((p + 4)) http://10.99.0.1/ok/b
    sleep 0.5
    client $((p + 5)) "http://10.99.0.1$close"           # closed before an answer
    sleep 0.5
    client $((p + 6)) http://10.99.0.1/m/status/c        # the upstream's 500, relayed
    sleep 0.5
    client $((p + 7)) http://10.99.0.1/m/close_fin/d     # the web server's own 502
    sleep 0.5
    client $((p + 8)) http://10.99.0.1/m/slow/e          # past the 5 s idle timeout: 504
    sleep 1
    # the target's 2 s keep-alive close; each gap comes out ~0.25 s longer (curl's start in its
    # namespace), so these land at about 2.0-2.35 s idle
    race_sweep $((p + 10)) 1.75 1.8 1.85 1.9 1.95 2.0 2.05
    client $((p + 30)) http://10.99.0.1/ok/last
    sleep 6                                              # one more health check
}

sc_tl_nginx_tls13_setup() { upstream_modes; nginx_target TLSv1.3; }
sc_tl_nginx_tls13_drive() { tl_drive 46000 /close/f; }
sc_tl_nginx_tls12_setup() { upstream_modes; nginx_target TLSv1.2; }
sc_tl_nginx_tls12_drive() { tl_drive 46100 /close/f; }
sc_tl_apache_tls_setup() { upstream_modes; apache_tls_target; }
sc_tl_apache_tls_drive() { tl_drive 46200 /m/close_rst/f; }

record_tl() {
    local sc=$1
    rm -f "$WORK/target.keys" && mkdir -p "$WORK" && : >"$WORK/target.keys" && chmod 666 "$WORK/target.keys"
    record "$sc"
    cp "$WORK/target.keys" "$OUT/$sc.keys"
    {
        echo "# target access log"
        cat "$WORK/ngx-tgt/access.log" "$WORK/apache/access.log" 2>/dev/null || true
        echo "# target error log (errors)"
        grep -hE '\[(error|crit|alert)\]|:error\]' "$WORK/ngx-tgt/error.log" "$WORK/apache/error.log" 2>/dev/null || true
        echo "# upstream (target.py behind the web server) output"
        cat "$WORK/upstream.out" 2>/dev/null || true
    } >>"$OUT/$sc.log"
    rm -rf "$WORK/ngx-tgt" "$WORK/apache"
}

tl_main() {
    if [ "${1:-}" != "--list" ]; then
        local s
        for s in haproxy tcpdump nft nginx apache2 gcc curl; do
            command -v $s >/dev/null || { echo "missing $s" >&2; return 1; }
        done
    fi
    run_scenarios "$TL_SCENARIOS" record_tl "$@"
}

tl_main "$@"
