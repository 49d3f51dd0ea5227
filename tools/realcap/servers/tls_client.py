#!/usr/bin/env python3
"""HTTPS client for the TLS decryption recordings: sends the given paths on one keep-alive
connection with Python's `ssl`, writing the session secrets to --keylog (NSS key log format).

  tls_client.py --host 10.98.0.1 --source 10.98.2.10 --keylog k.log --tls 1.2 \\
      --ciphers ECDHE-RSA-AES256-GCM-SHA384 /ok/1 /ok/2
"""
import argparse
import socket
import ssl


def read_response(s, buf):
    while b"\r\n\r\n" not in buf:
        data = s.recv(65536)
        if not data:
            return None, buf
        buf += data
    head, _, buf = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(buf) < length:
        data = s.recv(65536)
        if not data:
            break
        buf += data
    return head.split(b"\r\n", 1)[0].decode("latin-1"), buf[length:]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=443)
    p.add_argument("--source", default="")
    p.add_argument("--source-port", type=int, default=0)
    p.add_argument("--keylog", required=True)
    p.add_argument("--tls", default="1.3")
    p.add_argument("--ciphers", default="")
    p.add_argument("paths", nargs="+")
    a = p.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.keylog_filename = a.keylog
    if a.tls == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if a.ciphers:
        ctx.set_ciphers(a.ciphers)
    raw = socket.create_connection((a.host, a.port), source_address=(a.source, a.source_port))
    s = ctx.wrap_socket(raw, server_hostname="alb.example")
    buf = b""
    for path in a.paths:
        req = f"GET {path} HTTP/1.1\r\nHost: alb.example\r\nUser-Agent: py-ssl-client/1.0\r\n\r\n"
        s.sendall(req.encode())
        status, buf = read_response(s, buf)
        print(path, status, s.version(), s.cipher()[0], flush=True)
        if status is None:
            break
    s.close()


if __name__ == "__main__":
    main()
