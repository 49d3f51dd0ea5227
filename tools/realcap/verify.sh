#!/usr/bin/env bash
# Check with tshark that each recording in samples/real shows what its scenario is about.
#   tools/realcap/verify.sh            # all files
# Each check: file | display filter | op (ge/eq) | count. Exit status 1 if any check fails.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${REALCAP_OUT:-$HERE/../../samples/real}
DEC=(-d udp.port==4789,vxlan -d tcp.port==8443,tls -o tcp.desegment_tcp_streams:TRUE)
AWS='http.server == "awselb/2.0"'
TRACE='http.request.line matches "^X-Amzn-trace-id: Root=1-[0-9a-f]{8}-[0-9a-f]{24}"'

CHECKS=$(cat <<EOF
ok_keepalive.pcap|$TRACE|ge|5
ok_keepalive.pcap|http.user_agent contains "ELB-HealthChecker/2.0"|ge|1
ok_keepalive.pcap|http.response.code >= 500|eq|0
ok_keepalive.pcap|tcp.dstport == 443 && tls.handshake.type == 1|eq|1
ok_keepalive.target.pcap|vxlan|eq|0
ok_keepalive.target.pcap|http.request.line contains "X-Forwarded-For: 10.99.2.10"|ge|5
keepalive_race.pcap|ip.src == 10.99.1.11 && tcp.srcport == 8080 && tcp.flags.reset == 1|eq|1
keepalive_race.pcap|tcp.dstport == 40012 && http.response.code == 502 && $AWS|eq|1
keepalive_race.pcap|http.response.code == 502|eq|1
keepalive_race.target.pcap|tcp.srcport == 8080 && tcp.flags.reset == 1|eq|1
closed_fin.pcap|tcp.dstport == 40022 && http.response.code == 502 && $AWS|eq|1
closed_fin.pcap|ip.src == 10.99.1.11 && tcp.flags.fin == 1 && tcp.flags.reset == 0|ge|1
closed_rst.pcap|tcp.dstport == 40032 && http.response.code == 502 && $AWS|eq|1
closed_rst.pcap|ip.src == 10.99.1.11 && tcp.flags.reset == 1|eq|1
malformed_response.pcap|ip.src == 10.99.1.11 && tcp.payload contains "NotHttp"|eq|1
malformed_response.pcap|tcp.dstport == 40042 && http.response.code == 502 && $AWS|eq|1
header_too_large.pcap|ip.src == 10.99.1.11 && tcp.payload contains "X-Filler-099"|ge|1
header_too_large.pcap|tcp.dstport == 40051 && http.response.code == 502 && $AWS|eq|1
idle_timeout.pcap|tcp.dstport == 40062 && http.response.code == 504 && $AWS && http.time > 4.9|eq|1
idle_timeout.target.pcap|ip.src == 10.99.0.1 && tcp.flags.reset == 1 && tcp.ack > 1|ge|1
incomplete_body.pcap|ip.src == 10.99.1.11 && tcp.payload contains "Content-Length: 1000"|eq|1
incomplete_body.pcap|tcp.srcport == 80 && tcp.dstport == 40071 && tcp.flags.fin == 1|eq|1
incomplete_body.pcap|http.response.code == 504|eq|0
target_5xx.pcap|http.response.code == 500 && http.server contains "Apache"|eq|2
target_5xx.pcap|http.response.code == 502 && http.server contains "Werkzeug"|eq|2
target_5xx.pcap|$AWS|eq|0
connect_refused.pcap|ip.src == 10.99.1.11 && tcp.srcport == 8081 && tcp.flags.reset == 1|ge|2
connect_refused.pcap|http.response.code == 502 && $AWS|eq|2
unreachable_icmp.pcap|icmp.type == 3 && icmp.code == 1 && ip.src == 10.99.1.12|ge|2
unreachable_icmp.pcap|http.response.code == 502 && $AWS|eq|2
connect_timeout.pcap|tcp.dstport == 8080 && tcp.flags.syn == 1 && tcp.flags.ack == 0|ge|6
connect_timeout.pcap|tcp.srcport == 8080 && tcp.flags.syn == 1 && tcp.flags.ack == 1|eq|0
connect_timeout.pcap|http.response.code == 504 && $AWS && http.time > 9.9|eq|1
connect_timeout_return_path.pcap|tcp.srcport == 8080 && tcp.flags.syn == 1 && tcp.flags.ack == 1|eq|0
connect_timeout_return_path.pcap|http.response.code == 504 && $AWS && http.time > 9.9|eq|1
connect_timeout_return_path.target.pcap|tcp.srcport == 8080 && tcp.flags.syn == 1 && tcp.flags.ack == 1|ge|6
tls_handshake_failed.pcap|tls.handshake.type == 1 && tcp.dstport == 8443|eq|2
tls_handshake_failed.pcap|tls.alert_message.desc == 70|eq|2
tls_handshake_failed.pcap|http.response.code == 502 && $AWS|eq|2
tls_handshake_timeout.pcap|tls.handshake.type == 1 && tcp.dstport == 8443|eq|1
tls_handshake_timeout.pcap|tls.handshake.type == 2|eq|0
tls_handshake_timeout.pcap|http.response.code == 504 && $AWS && http.time > 9.9|eq|1
no_target_attempt.pcap|http.response.code == 503 && $AWS|eq|2
no_target_attempt.pcap|http.request.uri contains "nobody-home"|eq|2
no_target_attempt.pcap|http.user_agent contains "ELB-HealthChecker" && http.request|ge|2
client_closed.pcap|tcp.srcport == 40171 && tcp.flags.fin == 1|eq|1
client_closed.pcap|tcp.srcport == 40171 && tcp.flags.reset == 1|ge|1
deregistration_abort.pcap|tcp.dstport == 40181 && http.response.code == 502 && $AWS && http.time < 4|eq|1
deregistration_abort.pcap|ip.src == 10.99.0.1 && tcp.dstport == 8080 && tcp.flags.fin == 1|ge|1
mixed_two_nodes.pcap|vxlan.vni == 4242 && ip.src == 10.99.0.1|ge|100
mixed_two_nodes.pcap|vxlan.vni == 4243 && ip.src == 10.99.0.2|ge|100
mixed_two_nodes.pcap|http.response.code == 502 && $AWS|eq|4
mixed_two_nodes.pcap|http.response.code == 504 && $AWS|eq|1
mixed_two_nodes.pcap|http.response.code == 500 && http.server contains "nginx"|eq|3
mixed_two_nodes.pcap|tcp.srcport == 80 && tcp.dstport == 40225 && tcp.flags.fin == 1|eq|1
tls_backend.pcap|tcp.dstport == 40303 && http.response.code == 502 && $AWS|eq|1
tls_backend.pcap|tcp.dstport == 40305 && http.response.code == 504 && $AWS|eq|1
tls_backend.pcap|ip.src == 10.99.1.11 && tcp.srcport == 8443 && tcp.flags.reset == 1|eq|1
tls_backend.target.pcap|http|eq|0
tls_backend.target.pcap|tls.handshake.type == 1|ge|11
tls_backend_alert.pcap|(tcp.dstport == 40311 or tcp.dstport == 40312) && http.response.code == 502 && $AWS|eq|2
tls_backend_alert.target.pcap|tls.alert_message.desc == 70|ge|6
tls_backend_silent.target.pcap|tls.handshake.type == 1|eq|1
tls_backend_silent.target.pcap|tls.handshake.type == 2|eq|0
hc_refused.pcap|http.response.code == 200 && (tcp.dstport == 40331 or tcp.dstport == 40332)|eq|2
hc_refused.target.pcap|tcp.srcport == 8081 && tcp.flags.reset == 1|ge|8
hc_refused.target.pcap|http|eq|0
hc_cadence_refused.pcap|tcp.dstport == 40393 && http.response.code == 502 && $AWS|eq|1
hc_cadence_refused.target.pcap|ip.src == 10.99.1.11 && tcp.dstport == 59796 && tcp.flags.fin == 1|eq|0
hc_cadence_refused.target.pcap|ip.src == 10.99.1.11 && tcp.dstport == 59796 && tcp.flags.reset == 1|eq|1
hc_cadence_refused.target.pcap|ip.src == 10.99.1.11 && tcp.dstport != 59796 && tcp.flags.reset == 1|ge|6
hc_refused_blip.pcap|tcp.dstport == 40402 && http.response.code == 502 && $AWS|eq|1
hc_refused_blip.target.pcap|ip.src == 10.99.1.11 && tcp.dstport == 35112 && tcp.flags.fin == 1|eq|0
hc_refused_blip.target.pcap|ip.src == 10.99.1.11 && tcp.dstport == 35118 && tcp.flags.reset == 1|eq|1
hc_refused_blip.target.pcap|ip.src == 10.99.1.11 && tcp.dstport == 35128 && tcp.flags.syn == 1 && tcp.flags.ack == 1|eq|1
ka_race_rst.pcap|tcp.dstport == 40412 && http.response.code == 502 && $AWS|eq|1
ka_race_rst.target.pcap|ip.src == 10.99.1.11 && tcp.flags.fin == 1|eq|0
ka_race_rst.target.pcap|ip.src == 10.99.1.11 && tcp.dstport == 42896 && tcp.flags.reset == 1|eq|1
ws_upgrade.pcap|http.response.code == 101|eq|4
ws_upgrade.pcap|websocket|ge|10
ws_upgrade.target.pcap|http.response.code == 101|eq|2
ws_idle.pcap|http.response.code == 101|eq|2
ws_idle.pcap|websocket|eq|0
expect_upload.pcap|http.response.code == 100|eq|4
expect_upload.pcap|http.response.code == 201|eq|6
chunked_cut.pcap|ip.src == 10.99.1.11 && tcp.payload contains "then the target dies"|eq|1
chunked_cut.pcap|ip.src == 10.99.1.11 && tcp.payload contains "\x0d\x0a0\x0d\x0a"|eq|0
chunked_stall.pcap|ip.src == 10.99.1.11 && tcp.payload contains "first part, then"|eq|1
chunked_stall.pcap|tcp.srcport == 80 && tcp.dstport == 40612 && tcp.flags.fin == 1|eq|1
http10_close.pcap|http.response.version == "HTTP/1.0"|ge|2
http10_close.pcap|ip.src == 10.99.1.11 && tcp.payload contains "Content-Length"|ge|3
bodyless.pcap|http.request.method == "HEAD"|eq|2
bodyless.pcap|http.response.code == 304|eq|2
bodyless.pcap|http.response.code == 204|eq|2
sse_stream.pcap|tcp.payload contains "text/event-stream"|eq|2
sse_stream.pcap|tcp.flags.fin == 1 && (tcp.port == 40552)|eq|0
node_race.pcap|tcp.dstport == 40602 && http.response.code == 502 && $AWS|eq|1
node_race.pcap|ip.src == 10.99.1.11 && tcp.flags.reset == 1|eq|1
target_errors.pcap|http.server contains "nginx" && http.response.code >= 502|eq|6
target_errors.pcap|http.response.code == 502 && $AWS|eq|1
target_errors.pcap|http.response.code == 504 && $AWS|eq|1
target_errors.pcap|ip.src == 10.99.1.12 && http.response.code == 503|eq|1
ka_late_close.pcap|tcp.dstport == 40703 && http.response.code == 502 && $AWS && http.time > 1.4|eq|1
ka_late_close.target.pcap|http.request.uri contains "hold_fin" && tcp.srcport == 47564|eq|1
ka_apache.pcap|http.server contains "Apache"|eq|18
ka_apache.pcap|tcp.dstport == 40720 && http.response.code == 502 && $AWS|eq|1
ka_gunicorn.pcap|http.server == "gunicorn"|eq|18
ka_gunicorn.pcap|tcp.dstport == 40734 && http.response.code == 502 && $AWS|eq|1
ka_gunicorn.target.pcap|tcp.srcport == 8080 && tcp.flags.reset == 1|eq|1
ka_nginx.pcap|http.response.line contains "Keep-Alive: timeout=3"|ge|5
ka_nginx.pcap|http.response.code == 502 && $AWS|eq|3
ka_nginx.target.pcap|tcp.srcport == 8080 && tcp.flags.reset == 1|eq|3
nw_node.pcap|http.response.line contains "Keep-Alive: timeout=5"|ge|10
nw_node.pcap|http.response.code == 502 && $AWS|eq|6
nw_node.pcap|tcp.dstport == 43021 && http.response.code == 504 && $AWS|eq|1
nw_node.pcap|tcp.dstport == 43018 && tcp.srcport == 80 && tcp.flags.fin == 1|eq|1
nw_node.pcap|ip.src == 10.99.1.11 && tcp.payload contains "HTPT/1.1"|eq|1
nw_node.target.pcap|tcp.srcport == 8080 && tcp.flags.reset == 1|eq|3
nw_node_ka0.pcap|http.response.line contains "Keep-Alive"|eq|0
nw_node_ka0.pcap|http.response.code != 200|eq|0
nw_node_ka0.target.pcap|tcp.srcport == 8080 && tcp.flags.syn == 1|eq|2
nw_java.pcap|http.response.code == 502 && $AWS|eq|4
nw_java.pcap|tcp.dstport == 43125 && http.response.code == 500|eq|1
nw_java.pcap|tcp.dstport == 43126 && http.response.code == 504 && $AWS|eq|1
nw_java.target.pcap|tcp.srcport == 8080 && tcp.flags.reset == 1|eq|1
nw_puma.pcap|http.response.code == 502 && $AWS|eq|3
nw_puma.pcap|tcp.dstport == 43232 && http.response.code == 500|eq|1
nw_puma.pcap|tcp.dstport == 43235 && http.response.code == 504 && $AWS|eq|1
nw_puma.target.pcap|tcp.srcport == 8080 && tcp.flags.reset == 1|eq|2
nw_node_upload.pcap|http.response.code == 502 && $AWS|eq|2
nw_node_upload.target.pcap|tcp.srcport == 8080 && tcp.flags.reset == 1|ge|2
nw_java.target.pcap|tcp.srcport == 8080 && tcp.payload contains "Content-length: 1000"|eq|2
h2f_mixed.pcap|$TRACE|eq|21
h2f_mixed.pcap|tcp.dstport == 443 && tls.handshake.type == 1|eq|3
h2f_mixed.pcap|ip.src == 10.99.1.11 && tcp.srcport == 8080 && tcp.flags.reset == 1|eq|1
h2f_mixed.pcap|ip.src == 10.99.0.1 && tcp.dstport == 8080 && tcp.flags.reset == 1|ge|1
h2f_mixed.pcap|http.response.code == 500 || http.response.code == 503|eq|2
h2f_mixed.target.pcap|http.request|eq|21
EOF
)

fail=0
while IFS='|' read -r file filter op want; do
    [ -z "$file" ] && continue
    if [ ! -f "$DIR/$file" ]; then
        echo "MISSING $file"; fail=1; continue
    fi
    got=$(tshark -r "$DIR/$file" "${DEC[@]}" -Y "$filter" 2>/dev/null | wc -l)
    ok=0
    case $op in
        ge) [ "$got" -ge "$want" ] && ok=1 ;;
        eq) [ "$got" -eq "$want" ] && ok=1 ;;
    esac
    if [ $ok = 1 ]; then echo "ok   $file: [$filter] $op $want (got $got)"
    else echo "FAIL $file: [$filter] $op $want (got $got)"; fail=1; fi
done <<<"$CHECKS"
for f in "$DIR"/*.pcap; do
    s=$(stat -c %s "$f")
    [ "$s" -lt 1000000 ] || { echo "FAIL $(basename "$f") is $s bytes (>= 1 MB)"; fail=1; }
done
exit $fail
