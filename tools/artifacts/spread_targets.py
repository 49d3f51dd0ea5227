#!/usr/bin/env python3
"""Copies a back-end-only capture's connections to another target of the same group.

usage: spread_targets.py SRC DST OLD_TARGET_IP NEW_TARGET_IP ALB_PORT PORT_DELTA SHIFT_S

Every packet of SRC (pcap, Ethernet + IPv4) is written to DST with OLD_TARGET_IP replaced by
NEW_TARGET_IP (IPv4 header checksum recomputed; TCP checksums are left stale, as offloaded
mirrored packets often carry them), the node's source port ALB_PORT moved by PORT_DELTA, and
every timestamp SHIFT_S seconds later: the same connection as if the ALB node had opened it to
another target of its target group.
"""
import ipaddress
import struct
import sys

src, dst, old_ip, new_ip, alb_port, port_delta, shift = sys.argv[1:8]
old = ipaddress.IPv4Address(old_ip).packed
new = ipaddress.IPv4Address(new_ip).packed
alb_port, port_delta, shift = int(alb_port), int(port_delta), float(shift)

data = open(src, "rb").read()
out = bytearray(data[:24])
i = 24
while i < len(data):
    ts, tu, cap_len, orig_len = struct.unpack("<IIII", data[i : i + 16])
    pkt = bytearray(data[i + 16 : i + 16 + cap_len])
    i += 16 + cap_len
    t = ts + tu / 1e6 + shift
    ts = int(t)
    tu = int(round((t - ts) * 1e6))
    ip = 14
    ihl = (pkt[ip] & 15) * 4
    for off in (12, 16):
        if pkt[ip + off : ip + off + 4] == old:
            pkt[ip + off : ip + off + 4] = new
    for off in (0, 2):
        (port,) = struct.unpack(">H", pkt[ip + ihl + off : ip + ihl + off + 2])
        if port == alb_port:
            pkt[ip + ihl + off : ip + ihl + off + 2] = struct.pack(">H", port + port_delta)
    pkt[ip + 10 : ip + 12] = b"\0\0"
    s = sum((pkt[ip + k] << 8) + pkt[ip + k + 1] for k in range(0, ihl, 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    pkt[ip + 10 : ip + 12] = struct.pack(">H", (~s) & 0xFFFF)
    out += struct.pack("<IIII", ts, tu, cap_len, orig_len) + pkt
open(dst, "wb").write(out)
