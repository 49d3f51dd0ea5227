#!/bin/bash
# Derives samples/artifacts/*.pcap from the real recordings in samples/real/ with small
# deterministic edits (what each one is: samples/artifacts/README.md). Needs python3 and
# editcap (Wireshark). Run from the repository root.
set -euo pipefail
R=samples/real
A=samples/artifacts
T=tools/artifacts
mkdir -p "$A"
# Mirror loss: the first request of 40011, the ALB's FIN to 40011, the back-end request of
# /race, the first request of 40013 and the target's FIN on be 41990 were not mirrored.
python3 $T/pcap_edit.py $R/keepalive_race.pcap $A/mirror_loss.pcap 'drop:4,15,21,31,56'
# Mirror loss: a health check's request segment.
python3 $T/pcap_edit.py $R/closed_rst.pcap $A/hc_request_lost.pcap 'drop:3'
# The targets' ENIs mirrored too (VNI 4300, outer source = the target, 30 µs later): every
# back-end packet twice, TLS back end with TLS health checks.
python3 $T/mirror_twice.py $R/tls_backend.pcap $A/double_mirror_tls.pcap 10.99.1.11,10.99.1.12 4300 30
# tcpdump -s 128 on the mirror target: 12 bytes of each inner TCP payload left.
editcap -s 128 $R/closed_fin.pcap $A/snaplen128.pcap
# tcpdump -s 96: cut inside the inner TCP header.
editcap -s 96 $R/closed_rst.pcap $A/snaplen96.pcap
# The capture ends 0.3 ms into the first request: the ALB's SYN to the target just sent.
python3 $T/pcap_edit.py $R/keepalive_race.pcap $A/ends_mid_connect.pcap 'until:5'
# connect_timeout cut 7.1 s after the ALB's first SYN (after packet 12: its sixth SYN): the
# ALB gives up only at 10 s, a later retransmission may still be answered.
python3 $T/pcap_edit.py $R/connect_timeout.pcap $A/ends_before_connect_timeout.pcap 'until:12'
# The capture starts at the target's RST on a kept-alive back-end connection.
python3 $T/pcap_edit.py $R/keepalive_race.pcap $A/starts_mid_connection.pcap 'from:22'
# A keep-alive race whose idle period the capture cannot show: the target's response to the
# first request on the raced back-end connection (be 54716) was not mirrored; and a capture that
# starts at the raced request (the connection opened before it).
python3 $T/pcap_edit.py $R/keepalive_race.pcap $A/race_response_lost.pcap 'drop:10'
python3 $T/pcap_edit.py $R/keepalive_race.pcap $A/race_starts_mid_connection.pcap 'from:20'
# The capture starts inside an HTTP/2-over-TLS client connection (neither handshake captured,
# records from mid-stream): the ALB's answers to streams sent before it, then the client's
# close_notify and FIN; its streams' back-end requests are in the capture.
python3 $T/pcap_edit.py $R/http2_frontend.pcap $A/h2_tls_starts_mid_stream.pcap 'from:45'
# The synthetic samples/tls-backend.pcap from packet 330 on: starts inside the TLS handshake of
# the back-end connection that carries /long-poll (aborted by a deregistration 20 s later), while
# the ALB's health checks of a closed target port are refused every 5 s.
python3 $T/pcap_edit.py samples/tls-backend.pcap $A/dereg_starts_mid_handshake.pcap 'from:330'
# The mirror delivered the ALB's ACK of a target's response before the response itself.
python3 $T/pcap_edit.py $R/malformed_response.pcap $A/ack_before_data.pcap 'swap:16:17'
# Back end only (the targets' ENIs mirrored), starting at a health check's response: its
# request was sent before the capture started.
python3 $T/pcap_edit.py $R/closed_rst.pcap $A/hc_starts_mid_response.pcap 'drop:7,8,9,10,18,19,20,21,22,23,24,25,26,29,30,31,32,33;from:5'
# Dual-stack node: clients reach it at an IPv6 address (fd00::99:1), its back end is IPv4
# (X-Forwarded-For carries the client's IPv6 address), fewer than 3 requests: both requests,
# and the first alone (until packet 22: the warmup request and its connection's close).
python3 $T/v6_front.py $R/idle_timeout.pcap $A/dualstack_two.pcap
one=$(mktemp)
python3 $T/pcap_edit.py $R/idle_timeout.pcap "$one" 'until:22'
python3 $T/v6_front.py "$one" $A/dualstack_one.pcap
rm -f "$one"
# A keep-alive race whose round trip the capture lacks: ka_nginx's target-side recording
# without the handshake of be 40490 (packets 14-16), the target's RST on it moved 40 ms after
# the raced request (packet 22).
# Its round trip then comes from the node's other connections to the target (their handshakes).
python3 $T/pcap_edit.py $R/ka_nginx.target.pcap $A/race_close_unordered.pcap 'tsback:22:-40000;drop:14,15,16'
# The same without any handshake (packets 1-3, 14-16, 23-25, 32-34): no round trip at all.
python3 $T/pcap_edit.py $R/ka_nginx.target.pcap $A/race_no_round_trip.pcap 'tsback:22:-40000;drop:1,2,3,14,15,16,23,24,25,32,33,34'
# The capture ends between gunicorn's response header segment and its body (after packet 10).
python3 $T/pcap_edit.py $R/ka_gunicorn.pcap $A/body_in_flight_at_end.pcap 'until:10'
# A TLS-only back end (HTTPS targets, no keys) seen from the targets' side alone, spread over a
# target group: the back-end cut of samples/tls/https_backend.pcap (one keep-alive TLS
# connection of the node 10.98.0.1 to 10.98.1.11:443, reset by the target after the fourth
# request) copied to two more targets, 2 s and 4 s later.
cut=$(mktemp -d)
cargo run -q -p albscope-testkit --example vantage_cut -- samples/tls/https_backend.pcap "$cut" >/dev/null
python3 $T/spread_targets.py "$cut/https_backend.back.pcap" "$cut/t12.pcap" 10.98.1.11 10.98.1.12 41192 1 2
python3 $T/spread_targets.py "$cut/https_backend.back.pcap" "$cut/t13.pcap" 10.98.1.11 10.98.1.13 41192 2 4
mergecap -F pcap -w $A/tls_target_group.pcap "$cut/https_backend.back.pcap" "$cut/t12.pcap" "$cut/t13.pcap"
rm -rf "$cut"
# An HTTPS front end seen from one private client alone (no keys, no back end): the front-end
# cut of samples/tls/tls13_h1.pcap (10.98.2.10 to the node 10.98.0.1:443, 3 TLS connections).
cut=$(mktemp -d)
cargo run -q -p albscope-testkit --example vantage_cut -- samples/tls/tls13_h1.pcap "$cut" >/dev/null
cp "$cut/tls13_h1.front.pcap" $A/tls_one_client_front.pcap
rm -rf "$cut"

# A target's side too short for the health-check cadence: the first two refused health-check
# connects of hc_refused's target-side recording (1 s apart, fewer than the 4 a cadence needs).
python3 $T/pcap_edit.py $R/hc_refused.target.pcap $A/hc_refused_too_few.pcap 'until:4'
