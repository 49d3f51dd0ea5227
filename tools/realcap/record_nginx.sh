#!/usr/bin/env bash
# Record real traffic through **nginx** as the ALB node (sibling of record.sh, whose topology,
# mirroring and client helpers it sources), in front of targets that the HAProxy recordings do
# not have: Apache httpd, gunicorn (sync workers), a Node.js app with failure modes.
#
#   sudo tools/realcap/record_nginx.sh                 # all scenarios
#   sudo tools/realcap/record_nginx.sh ngx_apache_ka   # some of them
#   tools/realcap/record_nginx.sh --list
#
# nginx is set up like an ALB as far as it goes: X-Forwarded-For/-Proto/-Port and an
# X-Amzn-Trace-Id, HTTP/1.1 keep-alive to the targets (idle connections kept and reused across
# client connections), connect timeout 10 s, read timeout = idle timeout 5 s (504), no retries
# (`proxy_next_upstream off`), request bodies streamed (`proxy_request_buffering off`), its own
# 502/504 with `Server: awselb/2.0` (headers-more module), client keep-alive 5 s.
# Namespaces rs-* (REALCAP_NS_PREFIX), scratch /tmp/rs-realcap. Writes samples/real/<name>.pcap
# (VXLAN mirror of the node 10.99.0.1), <name>.target.pcap (tcpdump on target 10.99.1.11) and
# <name>.log (client results with ports, nginx's access log).
# Needs what record.sh needs, plus nginx with libnginx-mod-http-headers-more-filter, apache2,
# gunicorn (Debian's, /usr/bin/gunicorn) and Node.js.
set -euo pipefail

export REALCAP_NS_PREFIX=${REALCAP_NS_PREFIX:-rs-}
export REALCAP_WORK=${REALCAP_WORK:-/tmp/rs-realcap}
# shellcheck source=record.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/record.sh"

# The samples in samples/real/ (ngx_apache_tls: an HTTPS target group; its race does not
# happen, see samples/real/README.md).
NGX_SCENARIOS="ngx_apache_ka ngx_gunicorn_timing ngx_burst ngx_burst_tls ngx_tls_out_of_order ngx_connect_fail ngx_uvicorn ngx_apache_upload ngx_apache_tls"

# ---------------------------------------------------------------- the ALB node: nginx
# $UPSTREAMS = upstream blocks (the target groups); $LOCATIONS = extra location blocks.
write_nginx_alb_cfg() {
    local d="$WORK/ngx"
    mkdir -p "$d"
    # X-Amzn-Trace-Id: nginx cannot print the time in hex, so the epoch part is the start of the
    # recording (a few seconds early); the 24 hex digits are unique per request.
    local epoch
    epoch=$(printf '%08x' "$(date +%s)")
    cat >"$d/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so;
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 512; }
http {
    log_format alb '\$remote_addr:\$remote_port [\$time_iso8601] "\$request" \$status '
                   'rt=\$request_time connect=\$upstream_connect_time header=\$upstream_header_time '
                   'response=\$upstream_response_time target_status=\$upstream_status '
                   'target=\$upstream_addr trace=Root=1-$epoch-\$trace24';
    access_log $d/access.log alb;
    client_body_temp_path $d/body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;
    map \$request_id \$trace24 { "~^(?<t>.{24})" \$t; }

    # the ALB idle timeout (5 s) for client and target connections
    keepalive_timeout ${IDLE}s;
    keepalive_requests 10000;
    client_header_timeout 10s;
    client_body_timeout ${IDLE}s;
    send_timeout ${IDLE}s;
    proxy_connect_timeout 10s;
    proxy_read_timeout ${IDLE}s;
    proxy_send_timeout ${IDLE}s;
    proxy_next_upstream off;
    proxy_http_version 1.1;
    proxy_request_buffering off;
    proxy_set_header Connection "";
    proxy_set_header Host \$http_host;
    proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto \$scheme;
    proxy_set_header X-Forwarded-Port \$server_port;
    proxy_set_header X-Amzn-Trace-Id Root=1-$epoch-\$trace24;
    server_tokens off;
    # an ALB relays the target's own Server header (nginx would replace it with its own)
    proxy_pass_header Server;

${UPSTREAMS}

    server {
        listen 10.99.0.1:80;
        listen 10.99.0.1:443 ssl;
        ssl_certificate $WORK/alb.crt;
        ssl_certificate_key $WORK/alb.key;
        # the node's own errors look like an ALB's (the target's relayed 5xx keep theirs)
        error_page 502 @alb502;
        error_page 504 @alb504;
        location @alb502 { more_set_headers "Server: awselb/2.0"; return 502; }
        location @alb504 { more_set_headers "Server: awselb/2.0"; return 504; }
${LOCATIONS}
        location / { proxy_pass ${TG_SCHEME}://tg; }
    }
}
EOF
}

# one target group per upstream; keep-alive pool like an ALB's (idle connections reused)
upstream_block() { # name server...
    local name=$1; shift
    echo "    upstream $name {"
    local s
    for s in "$@"; do echo "        server $s max_fails=0;"; done
    echo "        keepalive 64;"
    echo "        keepalive_timeout 60s;"
    echo "    }"
}

apache_target() { # ns: Apache httpd (event MPM) on :8080, KeepAliveTimeout $1 s
    local ns=$1 ka=$2 d="$WORK/apache"
    mkdir -p "$d/htdocs" "$d/run"
    echo "hello from apache" >"$d/htdocs/index.html"
    chmod -R a+rX "$d"
    cat >"$d/httpd.conf" <<EOF
ServerRoot /etc/apache2
DefaultRuntimeDir $d/run
PidFile $d/run/httpd.pid
Mutex file:$d/run default
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so
User www-data
Group www-data
Listen 8080
ServerName tgt1
ErrorLog $d/error.log
LogFormat "%a:%{remote}p %t \"%r\" %>s %b %D" timed
CustomLog $d/access.log timed
KeepAlive On
KeepAliveTimeout $ka
MaxKeepAliveRequests 1000
TypesConfig /etc/mime.types
DocumentRoot $d/htdocs
DirectoryIndex index.html
FallbackResource /index.html
<Directory $d/htdocs>
    Require all granted
</Directory>
Redirect 503 /maintenance
Redirect 410 /gone
EOF
    if [ "${APACHE_TLS:-0}" = 1 ]; then
        cat >>"$d/httpd.conf" <<EOF
LoadModule socache_shmcb_module /usr/lib/apache2/modules/mod_socache_shmcb.so
LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
SSLSessionCache shmcb:$d/run/ssl_scache(512000)
Listen 8443 https
<VirtualHost *:8443>
    SSLEngine on
    SSLCertificateFile $WORK/tgt.crt
    SSLCertificateKeyFile $WORK/tgt.key
</VirtualHost>
EOF
    fi
    bg apache "$ns" apache2 -DFOREGROUND -f "$d/httpd.conf"
}

gunicorn_target() { # ns name bind extra-args...
    local ns=$1 name=$2 bind=$3; shift 3
    bg "$name" "$ns" /usr/bin/gunicorn --bind "$bind" --chdir "$HERE/servers" --timeout 30 \
        --access-logfile - --access-logformat '%(h)s "%(r)s" %(s)s %(L)ss' "$@" wsgi_app:app
}

node_modes() { # ns name: servers/node_modes.js on :8080
    bg "$2" "$1" node "$HERE/servers/node_modes.js" 0.0.0.0 8080
}

drop_first_fin() { # ns: drop the target's first FIN per connection (retransmitted ~0.2 s later)
    nsx "$1" nft add table inet rc
    nsx "$1" nft add chain inet rc out '{ type filter hook output priority 0; }'
    nsx "$1" nft add rule inet rc out tcp sport 8080 'tcp flags & fin == fin' ct mark 0 ct mark set 1 drop
}

# ---------------------------------------------------------------- scenarios
sc_ngx_apache_ka_setup() {
    # Apache with KeepAliveTimeout 2 s behind a proxy that keeps idle connections 60 s: a
    # request on a connection idle just over 2 s meets the target's close (its FIN delayed by
    # dropping the first copy, as in record.sh keepalive_race). Apache's own 503 and 410.
    apache_target "${NSP}tgt1" 2
    drop_first_fin "${NSP}tgt1"
    UPSTREAMS=$(upstream_block tg 10.99.1.11:8080)
    TARGET_VANTAGE=1
}
sc_ngx_apache_ka_drive() {
    client 40701 http://10.99.0.1/ok/first
    sleep 0.8
    client 40702 http://10.99.0.1/ok/reused-0.8s
    sleep 2.08
    client 40703 http://10.99.0.1/race            # reused after ~2.1 s idle: Apache just closed it
    sleep 0.4
    client 40704 http://10.99.0.1/maintenance     # Apache's own 503
    sleep 0.3
    client_multi 40705 http://10.99.0.1/gone http://10.99.0.1/ok/second
    sleep 4                                        # Apache closes the idle connection after 2 s
    client 40706 http://10.99.0.1/ok/after-clean-close
    sleep 1
}

sc_ngx_gunicorn_timing_setup() {
    # gunicorn sync workers: `Connection: close` on every response (no keep-alive at all).
    # Responses near the 5 s idle timeout: 4.3 s (in time), 7 s (the proxy gives up at 5 s with
    # 504, closes the back end with FIN; the target's late answer then meets a closed socket);
    # a client leaving before the answer; gunicorn's own 500; a slow upload (2 KB/s, 12 KB)
    # whose bytes keep the connection from idling.
    gunicorn_target "${NSP}tgt1" tgt1 0.0.0.0:8080 --workers 4
    UPSTREAMS=$(upstream_block tg 10.99.1.11:8080)
    TARGET_VANTAGE=1
    head -c 9000 /dev/urandom | base64 -w 0 >"$WORK/upload.bin"
}
sc_ngx_gunicorn_timing_drive() {
    client 40711 http://10.99.0.1/ok/first
    sleep 0.3
    client 40712 http://10.99.0.1/slow/4.3/report          # 200 after 4.3 s
    sleep 0.3
    client 40713 http://10.99.0.1/slow/7/export            # 504 at 5 s
    sleep 0.3
    client 40714 http://10.99.0.1/boom/checkout            # gunicorn's 500
    sleep 0.3
    client 40715 http://10.99.0.1/slow/3/search --max-time 1.2   # client leaves at 1.2 s
    sleep 0.3
    client 40716 http://10.99.0.1/upload/slow --limit-rate 2K --data-binary "@$WORK/upload.bin" \
        -H 'Content-Type: application/octet-stream'
    sleep 0.3
    client 40717 http://10.99.0.1/ok/last
    sleep 3
}

sc_ngx_burst_setup() {
    # Node.js (t1, keepAliveTimeout 5 s) and gunicorn with 8 sync workers (t2) round-robin;
    # /reset (Node resets the socket: 502) and /hang go to t1 only, /boom (gunicorn's 500)
    # to t2 only. Many clients at once: many back-end connections open at the same moment,
    # responses finishing out of order.
    node_modes "${NSP}tgt1" tgt1
    gunicorn_target "${NSP}tgt2" tgt2 0.0.0.0:8080 --workers 8
    UPSTREAMS="$(upstream_block tg 10.99.1.11:8080 10.99.1.12:8080)
$(upstream_block tg_node 10.99.1.11:8080)
$(upstream_block tg_gun 10.99.1.12:8080)"
    LOCATIONS="        location /reset/ { proxy_pass http://tg_node; }
        location /hang/ { proxy_pass http://tg_node; }
        location /slowreset/ { proxy_pass http://tg_node; }
        location /node/ { proxy_pass http://tg_node; }
        location /boom/ { proxy_pass http://tg_gun; }"
    TARGET_VANTAGE=1
}
burst() { # scheme first_port: 24 requests on 24 connections opened at once (curl --parallel)
    local scheme=$1 p0=$2 urls=() i path
    for i in $(seq 1 24); do
        case $i in
            4) path=/reset/r$i ;;
            9) path=/status/503/s$i ;;
            13) path=/slow/0.8/s$i ;;
            17) path=/boom/b$i ;;
            20) path=/slow/6/s$i ;;
            22) path=/reset/r$i ;;
            *) path=/ok/b$i ;;
        esac
        urls+=(-o /dev/null "$scheme://10.99.0.1$path")
    done
    local t0 res
    t0=$(date +%T.%N | cut -c1-12)
    res=$(nsx "${NSP}client" curl -sk --parallel --parallel-immediate --parallel-max 30 \
        --local-port "$p0-$((p0 + 40))" --max-time 30 \
        -w '%{local_port} %{url_effective} -> %{http_code} time_total=%{time_total}s\n' "${urls[@]}" 2>&1) || true
    echo "$res" | grep -- '->' | sed "s/^/$t0 client 10.99.2.10:/" | tee -a "$WORK/client.log" >&2
}
sc_ngx_burst_drive() {
    client 40720 http://10.99.0.1/ok/warm1
    client 40721 http://10.99.0.1/ok/warm2
    sleep 0.5
    burst http 40722
    sleep 0.5
    client 40770 http://10.99.0.1/ok/after1
    client 40771 http://10.99.0.1/ok/after2
    sleep 1
}

sc_ngx_burst_tls_setup() { sc_ngx_burst_setup; }
sc_ngx_burst_tls_drive() {
    # the same over HTTPS: the front end is encrypted, so requests pair by time only
    client 40820 https://10.99.0.1/ok/warm1
    client 40821 https://10.99.0.1/ok/warm2
    sleep 0.5
    burst https 40822
    sleep 0.5
    client 40870 https://10.99.0.1/ok/after1
    sleep 1
}

sc_ngx_tls_out_of_order_setup() { sc_ngx_burst_setup; }
sc_ngx_tls_out_of_order_drive() {
    # 16 HTTPS clients at once, all to the Node.js target, answered in reverse order (the
    # first sent waits longest); every fourth is reset by the target after its delay instead
    # of answered: over an encrypted front end only the order of the answers pairs them.
    local i d urls=() t0 res
    for i in $(seq 1 16); do
        d=$(printf '0.%02d' $(( (17 - i) * 5 )))
        if [ $((i % 4)) = 2 ]; then
            urls+=(-o /dev/null "https://10.99.0.1/slowreset/$d/q$i")
        else
            urls+=(-o /dev/null "https://10.99.0.1/node/slow/$d/q$i")
        fi
    done
    client 40880 https://10.99.0.1/ok/warm
    sleep 0.5
    t0=$(date +%T.%N | cut -c1-12)
    res=$(nsx "${NSP}client" curl -sk --parallel --parallel-immediate --parallel-max 30 \
        --local-port 40881-40920 --max-time 30 \
        -w '%{local_port} %{url_effective} -> %{http_code} time_total=%{time_total}s\n' "${urls[@]}" 2>&1) || true
    echo "$res" | grep -- '->' | sed "s/^/$t0 client 10.99.2.10:/" | tee -a "$WORK/client.log" >&2
    sleep 1
}

sc_ngx_uvicorn_setup() {
    # uvicorn (--timeout-keep-alive 2) raced on a reused connection (its FIN delayed as in
    # ngx_apache_ka); bodies trickled with gaps under the idle timeout (fine) and one gap over
    # it (headers, then silence: the proxy gives up mid-body); answers at 4.6 s and 5.4 s.
    bg tgt1-uvicorn "${NSP}tgt1" /usr/bin/python3 -m uvicorn --app-dir "$HERE/servers" asgi_app:app \
        --host 0.0.0.0 --port 8080 --timeout-keep-alive 2 --no-access-log
    drop_first_fin "${NSP}tgt1"
    UPSTREAMS=$(upstream_block tg 10.99.1.11:8080)
    TARGET_VANTAGE=1
}
sc_ngx_uvicorn_drive() {
    sleep 1   # uvicorn starts slowly
    client 40761 http://10.99.0.1/ok/first
    sleep 2.08
    client 40762 http://10.99.0.1/race                    # reused after ~2.1 s: uvicorn closed it
    sleep 0.3
    client 40763 http://10.99.0.1/trickle/1.5/4/download  # 6 s in all, never 5 s idle: 200
    sleep 0.3
    client 40764 http://10.99.0.1/trickle/6/2/stalled     # headers, then 6 s of silence
    sleep 0.3
    client 40765 http://10.99.0.1/slow/4.6/near           # in time
    sleep 0.3
    client 40766 http://10.99.0.1/slow/5.4/past           # 0.4 s too late: 504
    sleep 1
}

sc_ngx_apache_upload_setup() {
    # Apache with LimitRequestBody 10000: a 40 KB upload is refused with 413 before its body
    # has arrived (Apache answers early and closes); one with Expect: 100-continue (the proxy
    # answers the 100 itself, as an ALB does); a slow small upload (2 KB/s) that is accepted.
    apache_target "${NSP}tgt1" 10
    echo "LimitRequestBody 10000" >>"$WORK/apache/httpd.conf"
    UPSTREAMS=$(upstream_block tg 10.99.1.11:8080)
    TARGET_VANTAGE=1
    head -c 30000 /dev/urandom | base64 -w 0 >"$WORK/big.bin"
    head -c 6000 /dev/urandom | base64 -w 0 >"$WORK/small.bin"
}
sc_ngx_apache_upload_drive() {
    client 40781 http://10.99.0.1/ok/first
    sleep 0.3
    client 40782 http://10.99.0.1/upload/big --data-binary "@$WORK/big.bin" -H 'Expect:'
    sleep 0.3
    client 40783 http://10.99.0.1/upload/big-expect --data-binary "@$WORK/big.bin" \
        -H 'Expect: 100-continue'
    sleep 0.3
    client 40784 http://10.99.0.1/upload/slow --data-binary "@$WORK/small.bin" --limit-rate 2K -H 'Expect:'
    sleep 0.3
    client 40785 http://10.99.0.1/ok/after
    sleep 1
}

sc_ngx_apache_tls_setup() {
    # An HTTPS target group: Apache mod_ssl on :8443 (KeepAliveTimeout 2), the proxy speaking
    # TLS to it over kept-alive connections. The back end carries only TLS records: a
    # keep-alive race, Apache's own 503 and 410, plain 200s. Over TLS Apache's close starts
    # with a close_notify alert (a 31-byte TLS 1.2 record, IP length 83), alone or with the FIN:
    # the first of them is dropped (retransmitted ~0.2 s later; a FIN behind it waits for it)
    # to widen the race.
    APACHE_TLS=1 apache_target "${NSP}tgt1" 2
    nsx "${NSP}tgt1" nft add table inet rc
    nsx "${NSP}tgt1" nft add chain inet rc out '{ type filter hook output priority 0; }'
    nsx "${NSP}tgt1" nft add rule inet rc out tcp sport 8443 ip length 83 ct mark 0 ct mark set 1 drop
    nsx "${NSP}tgt1" nft add rule inet rc out tcp sport 8443 'tcp flags & fin == fin' ct mark 0 ct mark set 1 drop
    UPSTREAMS=$(upstream_block tg 10.99.1.11:8443)
    TG_SCHEME=https
    TARGET_VANTAGE=1
}
sc_ngx_apache_tls_drive() {
    local p=40791
    client "$p" http://10.99.0.1/ok/first
    sleep 0.8
    client $((p + 1)) http://10.99.0.1/ok/reused-0.8s
    sleep 1.96
    client $((p + 2)) http://10.99.0.1/race            # reused after ~2.05 s idle
    sleep 0.4
    client $((p + 3)) http://10.99.0.1/maintenance
    sleep 0.3
    client_multi $((p + 4)) http://10.99.0.1/gone http://10.99.0.1/ok/second
    sleep 4
    client $((p + 5)) http://10.99.0.1/ok/after-clean-close
    sleep 1
}

sc_ngx_connect_fail_setup() {
    # /down -> a closed port (RST: 502); /blackhole -> t2, whose firewall drops the SYNs (the
    # proxy gives up at its 10 s connect timeout: 504); / -> t1 (Node.js) as usual.
    node_modes "${NSP}tgt1" tgt1
    nsx "${NSP}tgt2" nft add table inet rc
    nsx "${NSP}tgt2" nft add chain inet rc in '{ type filter hook input priority 0; }'
    nsx "${NSP}tgt2" nft add rule inet rc in tcp dport 8080 drop
    UPSTREAMS="$(upstream_block tg 10.99.1.11:8080)
$(upstream_block tg_down 10.99.1.11:8081)
$(upstream_block tg_black 10.99.1.12:8080)"
    LOCATIONS="        location /down { proxy_pass http://tg_down; }
        location /blackhole { proxy_pass http://tg_black; }"
    TARGET_VANTAGE=1
}
sc_ngx_connect_fail_drive() {
    client 40751 http://10.99.0.1/ok/first
    sleep 0.3
    client 40752 http://10.99.0.1/down/refused
    sleep 0.3
    client 40753 http://10.99.0.1/blackhole/timeout
    sleep 0.3
    client 40754 http://10.99.0.1/ok/after
    sleep 1
}

# ---------------------------------------------------------------- recording
record_ngx() {
    local sc=$1
    declare -F "sc_${sc}_setup" >/dev/null || { log "unknown scenario $sc"; return 1; }
    log "=== $sc"
    rm -rf "$WORK/run" "$WORK/ngx" "$WORK/apache" "$WORK"/tgt*.out && mkdir -p "$WORK" && : >"$WORK/client.log"
    tls_cert
    UPSTREAMS="" LOCATIONS="" TARGET_VANTAGE=0 ALB2=0 TG_SCHEME=http
    setup_net
    "sc_${sc}_setup"
    write_nginx_alb_cfg
    local pcap="$OUT/$sc.pcap" tpcap="$OUT/$sc.target.pcap"
    rm -f "$pcap" "$tpcap"
    bg tcpdump-mirror "${NSP}mirror" tcpdump -i eth0 -s 0 -U -n -w "$WORK/mirror.pcap" udp port 4789
    if [ "$TARGET_VANTAGE" = 1 ]; then
        bg tcpdump-target "${NSP}tgt1" tcpdump -i eth0 -s 0 -U -n -w "$WORK/target.pcap" tcp or icmp
    fi
    sleep 1
    bg nginx-alb "${NSP}alb" nginx -c "$WORK/ngx/nginx.conf"
    sleep 1.5
    "sc_${sc}_drive"
    sleep 0.5
    teardown
    cp "$WORK/mirror.pcap" "$pcap"
    [ "$TARGET_VANTAGE" = 1 ] && cp "$WORK/target.pcap" "$tpcap"
    {
        echo "# realcap scenario $sc (nginx as the ALB node), recorded $(date -u +%FT%TZ); idle timeout ${IDLE}s"
        echo "# client results (local port = client port in the capture)"
        sort "$WORK/client.log"
        echo "# nginx (10.99.0.1) access log: client:port [time] request status request_time upstream connect/header/response times, target status, target"
        cat "$WORK/ngx/access.log" 2>/dev/null || true
        echo "# nginx error log (warnings and errors)"
        grep -E '\[(warn|error|crit)\]' "$WORK/ngx/error.log" 2>/dev/null || true
        local f
        for f in "$WORK"/tgt*.out "$WORK"/apache/access.log; do
            [ -s "$f" ] || continue
            echo "# target log $(basename "$f")"
            cat "$f"
        done
    } >"$OUT/$sc.log"
    log "wrote $pcap ($(stat -c %s "$pcap") bytes)"
}

ngx_main() {
    run_scenarios "$NGX_SCENARIOS" record_ngx "$@"
}

ngx_main "$@"
