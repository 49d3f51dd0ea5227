#!/usr/bin/env python3
"""HTTP/1.1 target over TLS (or clear text) for the TLS decryption recordings.

Python's `ssl` writes the session secrets to --keylog (NSS key log format), so that the
back-end leg of a capture can be decrypted. One thread per connection, keep-alive.

  GET /ok...        200, small body
  GET /big/<n>...   200 with an n-byte body
  GET /reset...     reads the request, then resets the connection (SO_LINGER 0): no response
  GET /bad...       answers with a malformed status line (the proxy answers 502)
  GET /err...       500, small body (the target's own error)
  GET /slow...      answers 200 after 8 s (past a 5 s proxy timeout)
"""
import argparse
import socket
import ssl
import struct
import threading
import time


def serve(conn):
    buf = b""
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
            head, _, buf = buf.partition(b"\r\n\r\n")
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = line.split(" ")
            path = parts[1] if len(parts) > 1 else "/"
            if path.startswith("/reset"):
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                return
            if path.startswith("/bad"):
                conn.sendall(b"HTTP/1.1 OOPS\r\nnot a header line\r\n\r\n")
                conn.close()
                return
            status = b"200 OK"
            if path.startswith("/err"):
                status = b"500 Internal Server Error"
            if path.startswith("/slow"):
                time.sleep(8)
            if path.startswith("/big/"):
                try:
                    n = int(path.split("/")[2])
                except ValueError:
                    n = 1000
                body = (b"0123456789abcdef" * (n // 16 + 1))[:n]
            else:
                body = b"ok " + path.encode() + b"\n"
            resp = (
                b"HTTP/1.1 " + status + b"\r\nServer: tls-target/1.0\r\nContent-Type: text/plain\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            conn.sendall(resp)
    except OSError:
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--port", type=int, default=443)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--keylog")
    p.add_argument("--max-version", default="")
    a = p.parse_args()
    ctx = None
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        if a.keylog:
            ctx.keylog_filename = a.keylog
        if a.max_version == "1.2":
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.bind, a.port))
    ls.listen(64)
    print("listening", a.bind, a.port, flush=True)
    while True:
        s, _ = ls.accept()
        if ctx is not None:
            try:
                s = ctx.wrap_socket(s, server_side=True)
            except (ssl.SSLError, OSError):
                s.close()
                continue
        threading.Thread(target=serve, args=(s,), daemon=True).start()


if __name__ == "__main__":
    main()
