#!/usr/bin/env python3
"""Clients for the shapes curl cannot make (realcap `record_shapes.sh`), from a fixed local port.

  shapes_client.py ws LOCAL_PORT HOST PATH SECONDS      WebSocket upgrade, a masked text frame
                                                       every 0.7 s (none when PATH has "quiet"),
                                                       reads until the server closes
  shapes_client.py pipeline LOCAL_PORT HOST PATH...     all requests written at once on one
                                                       connection (HTTP/1.1 pipelining), then
                                                       reads every response
Prints one result line (statuses seen, bytes) for the scenario log.
"""
import os
import re
import socket
import sys
import time


def connect(local_port, host):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", local_port))
    s.connect((host, 80))
    return s


def masked(payload, opcode=1):
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body


def ws(local_port, host, path, seconds):
    s = connect(local_port, host)
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    s.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    s.settimeout(0.2)
    got = b""
    end = time.time() + seconds
    sent = 0
    quiet = "quiet" in path
    while time.time() < end:
        try:
            data = s.recv(65536)
            if not data:
                break
            got += data
        except (socket.timeout, TimeoutError):
            pass
        if quiet:
            continue
        if b"\r\n\r\n" in got and time.time() > end - seconds + 0.7 * (sent + 1):
            s.sendall(masked(b"message %d from client" % sent))
            sent += 1
    status = got.split(b"\r\n", 1)[0].decode("latin1")
    s.close()
    print(f"{status!r} frames_sent={sent} bytes_received={len(got)}")


def pipeline(local_port, host, paths):
    s = connect(local_port, host)
    reqs = b"".join(
        f"GET {p} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: pipeline-client/1.0\r\n\r\n".encode()
        for p in paths
    )
    s.sendall(reqs)
    s.settimeout(3)
    got = b""
    while True:
        try:
            data = s.recv(65536)
        except (socket.timeout, TimeoutError):
            break
        if not data:
            break
        got += data
        if len(re.findall(rb"HTTP/1\.[01] \d{3}", got)) >= len(paths) and got.endswith(b"\n"):
            time.sleep(0.2)
    s.close()
    statuses = [m.decode() for m in re.findall(rb"HTTP/1\.[01] (\d{3})", got)]
    print(f"statuses={','.join(statuses)} bytes_received={len(got)}")


def main():
    cmd = sys.argv[1]
    if cmd == "ws":
        ws(int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5]))
    elif cmd == "pipeline":
        pipeline(int(sys.argv[2]), sys.argv[3], sys.argv[4:])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
