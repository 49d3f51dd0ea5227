#!/usr/bin/env bash
# Record real keep-alive behaviour through HAProxy as an ALB node (sibling of record.sh, whose
# topology, mirroring and helpers it sources): real servers with their short keep-alive
# timeouts (Apache httpd, gunicorn, nginx) raced by requests whose idle gaps land on the
# timeout, and a target that receives a request at its keep-alive gap but closes well after it
# (no race).
#
#   sudo tools/realcap/record_ka.sh                  # all scenarios
#   sudo tools/realcap/record_ka.sh ka_apache        # some of them
#   tools/realcap/record_ka.sh --list
#
# Namespaces are named k2-* unless REALCAP_NS_PREFIX says otherwise; scratch in
# /tmp/k2-realcap. Writes samples/real/<scenario>.pcap (VXLAN mirror of the node),
# <scenario>.target.pcap (tcpdump on target 10.99.1.11) and <scenario>.log.
# Needs what record.sh needs, plus apache2, gunicorn and nginx.
#
# No netem in the recording kernel: as in record.sh's keepalive_race, a race window is made by
# dropping each connection's first FIN from the target (the kernel retransmits it about 0.2 s
# later), like a FIN still in flight. A request the proxy sends in that window meets a socket
# the server has closed, which answers RST.
set -euo pipefail

export REALCAP_NS_PREFIX=${REALCAP_NS_PREFIX:-k2-}
export REALCAP_WORK=${REALCAP_WORK:-/tmp/k2-realcap}
# shellcheck source=record.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/record.sh"

KA_SCENARIOS="ka_late_close ka_apache ka_gunicorn ka_nginx"

# HAProxy keeps idle back-end connections longer than the targets' keep-alive timeouts (an ALB
# keeps them up to its idle timeout): no purge of idle server connections during a recording.
POOL_PURGE=60s

sc_ka_late_close_setup() {
    # The target closes idle connections after 3 s itself; /m/hold_fin/ requests are read and
    # held 1.5 s, then closed without an answer (FIN).
    target ${NSP}tgt1 tgt1 --mode healthy --ka 3 --delay 1.5 --server "realcap-target/1.0"
    SERVERS="    server t1 10.99.1.11:8080"
    TARGET_VANTAGE=1
}
sc_ka_late_close_drive() {
    client 40701 http://10.99.0.1/ok/first      # opens be A; the target closes it after 3 s idle
    sleep 3.5
    client 40702 http://10.99.0.1/ok/second     # opens be B
    sleep 2.6
    # reused B after about 2.8 s idle (curl's start adds ~0.2 s; the target's timer is 3 s):
    # the target reads the request, holds it 1.5 s and closes: a close before answering, not
    # a keep-alive race
    client 40703 http://10.99.0.1/m/hold_fin/late
    sleep 0.3
    client 40704 http://10.99.0.1/ok/after
    sleep 3
}

apache_target() { # ns: Apache httpd (mpm_event, KeepAliveTimeout 5, its default), every path 200
    local ns=$1 d=$WORK/apache
    mkdir -p "$d/htdocs" "$d/logs"
    echo "hello from apache" >"$d/htdocs/index.html"
    chmod -R a+rX "$WORK"
    cat >"$d/httpd.conf" <<EOF
ServerRoot $d
ServerName tgt1
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so
TypesConfig /etc/mime.types
User www-data
Group www-data
Listen 8080
PidFile $d/httpd.pid
Mutex file:$d default
ErrorLog $d/logs/error.log
LogLevel warn
KeepAlive On
KeepAliveTimeout 5
MaxKeepAliveRequests 100
DocumentRoot $d/htdocs
AliasMatch "^/.*" "$d/htdocs/index.html"
<Directory $d/htdocs>
    Require all granted
</Directory>
EOF
    bg apache "$ns" apache2 -f "$d/httpd.conf" -DFOREGROUND
}

sc_ka_apache_setup() {
    apache_target ${NSP}tgt1
    drop_first_fin ${NSP}tgt1 8080
    SERVERS="    server t1 10.99.1.11:8080"
    TARGET_VANTAGE=1
}
sc_ka_apache_drive() {
    client 40711 http://10.99.0.1/ok/first
    sleep 4
    client 40712 http://10.99.0.1/ok/reused-4s     # within the 5 s keep-alive: reused, fine
    sleep 6.5                                      # the target closes it (FIN after ~5 s)
    race_sweep 40713 4.72 4.8 4.88 4.96    # curl adds ~0.3 s: idle 5.0-5.3 s
    sleep 1
}

gunicorn_target() { # ns: gunicorn, threaded worker (keep-alive 2 s, its default)
    local ns=$1 d=$WORK/gunicorn
    mkdir -p "$d"
    cat >"$d/app.py" <<'EOF'
def app(environ, start_response):
    body = b"hello from gunicorn\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
EOF
    bg gunicorn "$ns" gunicorn --chdir "$d" -k gthread --threads 4 --workers 1 \
        --bind 0.0.0.0:8080 app:app
}

sc_ka_gunicorn_setup() {
    gunicorn_target ${NSP}tgt1
    drop_first_fin ${NSP}tgt1 8080
    SERVERS="    server t1 10.99.1.11:8080"
    TARGET_VANTAGE=1
}
sc_ka_gunicorn_drive() {
    sleep 1
    client 40731 http://10.99.0.1/ok/first
    sleep 1
    client 40732 http://10.99.0.1/ok/reused-1s     # within the 2 s keep-alive
    sleep 4                                        # the target closes it
    race_sweep 40733 2.05 2.3 2.6 2.9
    sleep 1
}

nginx_ka_target() { # ns: nginx with keepalive_timeout 3 s, announced (Keep-Alive: timeout=3)
    local ns=$1 d=$WORK/nginx
    mkdir -p "$d"
    cat >"$d/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 64; }
http {
    access_log $d/access.log;
    client_body_temp_path $d/body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;
    keepalive_timeout 3s 3s;
    server {
        listen 8080;
        location / { return 200 "hello from nginx\n"; }
    }
}
EOF
    bg nginx "$ns" nginx -c "$d/nginx.conf"
}

sc_ka_nginx_setup() {
    nginx_ka_target ${NSP}tgt1
    drop_first_fin ${NSP}tgt1 8080
    SERVERS="    server t1 10.99.1.11:8080"
    TARGET_VANTAGE=1
}
sc_ka_nginx_drive() {
    client 40751 http://10.99.0.1/ok/first
    sleep 2
    client 40752 http://10.99.0.1/ok/reused-2s
    sleep 4.5
    race_sweep 40753 3.02 3.08 3.14
    sleep 1
}

ka_main() {
    run_scenarios "$KA_SCENARIOS" record "$@"
}

ka_main "$@"
