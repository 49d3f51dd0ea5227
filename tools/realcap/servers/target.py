#!/usr/bin/env python3
"""Misbehaving HTTP/1.1 target for realcap recordings.

Raw sockets, one thread per connection, so that the bytes and the timing on the wire are
exactly what the mode says. `GET /health` (the proxy's health check) is always answered 200
except in mode `sick`; `GET /ok...` is always answered 200 (keep-alive); `/m/<mode>/...` uses <mode> for that request. Every other request gets the behaviour of the mode:

  healthy      200, keep-alive; closes idle kept-alive connections after --ka seconds (FIN)
  ka_short     same as healthy (use a small --ka, e.g. 2, to race the proxy's idle timeout)
  close_fin    reads the request, closes without answering (FIN)
  close_rst    reads the request, closes with SO_LINGER 0 (RST)
  hold_fin     reads the request, holds it --delay seconds without answering, then closes (FIN)
  garbage      reads the request, answers bytes that are not HTTP, then closes
  bigheader    200 whose header block is about 40 KB
  slow         sleeps --delay seconds, then answers 200 (too late for the proxy)
  short_body   headers with Content-Length 1000, 100 body bytes, then stalls --delay s and closes
  short_rst    headers with Content-Length 1000, 100 body bytes, 0.2 s, then RST (SO_LINGER 0)
  status       answers --status (e.g. 500 / 502) with its own Server header
  sick         like healthy, but the health check gets 503
  mixed        per request, one of the modes of --mix ("mode:weight,..."), drawn from a
               random generator seeded with --seed (the sequence of draws is reproducible; which
               request gets which draw depends on arrival order)

With --tls CERT KEY every connection is TLS (an HTTPS target): the same modes, over TLS, no
session tickets (so the only server records after the handshake are responses) unless
--tickets N (TLS 1.3: N NewSessionTicket records right after the client's Finished).
"""
import argparse
import socket
import ssl
import struct
import sys
import random
import threading
import time

A = None
DRAW_LOCK = threading.Lock()


def draw_mode():
    """The next mode of --mix, from the seeded generator (one draw per request)."""
    with DRAW_LOCK:
        return A.rng.choices(A.mix_modes, weights=A.mix_weights)[0]


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, flush=True)


def read_request(sock, buf):
    """Read one request head (+ Content-Length body). Returns (head, rest) or (None, buf)."""
    while b"\r\n\r\n" not in buf:
        try:
            data = sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return None, buf, "timeout"
        except OSError:
            return None, buf, "error"
        if not data:
            return None, buf, "eof"
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    clen = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            try:
                clen = int(v.strip())
            except ValueError:
                clen = 0
    while len(rest) < clen:
        data = sock.recv(65536)
        if not data:
            break
        rest += data
    return head, rest[clen:], "ok"


def response(status, reason, body, extra=b"", server=None):
    server = server or A.server
    return (
        b"HTTP/1.1 %d %s\r\nServer: %s\r\nContent-Type: text/plain\r\n"
        b"Content-Length: %d\r\nConnection: keep-alive\r\n%s\r\n"
        % (status, reason.encode(), server.encode(), len(body), extra)
        + body
    )


def handle(sock, peer):
    buf = b""
    served = 0
    try:
        if A.tls_ctx is not None:
            sock.settimeout(30)
            try:
                sock = A.tls_ctx.wrap_socket(sock, server_side=True)
            except (ssl.SSLError, OSError) as e:
                log(peer, "tls handshake failed", e)
                return
        while True:
            # keep-alive idle timer: closes the connection with FIN when nothing arrives.
            sock.settimeout(A.ka if served else 30)
            head, buf, why = read_request(sock, buf)
            if head is None:
                log(peer, "closing after", why, "served", served)
                return
            line = head.split(b"\r\n", 1)[0]
            log(peer, "request", line.decode("latin1"))
            path = line.split(b" ")[1] if len(line.split(b" ")) > 1 else b"/"
            if path.startswith(b"/health"):
                if A.mode == "sick":
                    sock.sendall(response(503, "Service Unavailable", b"sick\n"))
                else:
                    sock.sendall(response(200, "OK", b"healthy\n"))
                served += 1
                continue
            mode = A.mode
            if mode == "mixed":
                mode = draw_mode()
                log(peer, "drawn", mode)
            if path.startswith(b"/ok"):
                mode = "healthy"  # /ok is always served normally, to set up reused connections
            elif path.startswith(b"/m/"):
                mode = path.split(b"/")[2].decode("latin1")  # /m/<mode>/...: per-request mode
            if mode in ("healthy", "ka_short", "sick"):
                sock.sendall(response(200, "OK", b"hello from %s\n" % A.name.encode()))
            elif mode == "close_fin":
                return
            elif mode == "hold_fin":
                time.sleep(A.delay)
                return
            elif mode == "close_rst":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            elif mode == "garbage":
                sock.sendall(b"\x00\x01\x02 SSH-2.0-NotHttp garbage \xff\xfe\r\nthis is not HTTP\r\n\r\n")
                time.sleep(1)
                return
            elif mode == "bigheader":
                extra = b"".join(
                    b"X-Filler-%03d: %s\r\n" % (i, b"f" * 400) for i in range(100)
                )
                sock.sendall(response(200, "OK", b"big headers\n", extra))
            elif mode == "slow":
                time.sleep(A.delay)
                sock.sendall(response(200, "OK", b"late reply\n"))
            elif mode == "short_body":
                sock.sendall(
                    b"HTTP/1.1 200 OK\r\nServer: %s\r\nContent-Type: text/plain\r\n"
                    b"Content-Length: 1000\r\n\r\n" % A.server.encode()
                    + b"x" * 100
                )
                time.sleep(A.delay)
                return
            elif mode == "short_rst":
                sock.sendall(
                    b"HTTP/1.1 200 OK\r\nServer: %s\r\nContent-Type: text/plain\r\n"
                    b"Content-Length: 1000\r\n\r\n" % A.server.encode()
                    + b"x" * 100
                )
                time.sleep(0.2)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            elif mode == "status":
                reasons = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
                st = A.status
                sock.sendall(response(st, reasons.get(st, "Error"), b"target error %d\n" % st))
            served += 1
    except OSError as e:
        log(peer, "socket error", e)
    finally:
        try:
            sock.close()
        except OSError:
            pass


def main():
    global A
    p = argparse.ArgumentParser()
    p.add_argument("--mode", default="healthy")
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--ka", type=float, default=60.0, help="keep-alive idle timeout, s")
    p.add_argument("--delay", type=float, default=8.0)
    p.add_argument("--status", type=int, default=500)
    p.add_argument("--server", default="realcap-target/1.0")
    p.add_argument("--name", default="target")
    p.add_argument("--mix", default="healthy:1", help="mode mixed: mode:weight,...")
    p.add_argument("--seed", type=int, default=1, help="mode mixed: the generator's seed")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve HTTPS")
    p.add_argument("--tickets", type=int, default=0, help="TLS 1.3 session tickets sent")
    A = p.parse_args()
    A.tls_ctx = None
    A.rng = random.Random(A.seed)
    A.mix_modes = [m.split(":")[0] for m in A.mix.split(",")]
    A.mix_weights = [float(m.split(":")[1]) for m in A.mix.split(",")]
    if A.tls:
        A.tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        A.tls_ctx.load_cert_chain(A.tls[0], A.tls[1])
        A.tls_ctx.num_tickets = A.tickets
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((A.bind, A.port))
    ls.listen(64)
    log("listening", A.bind, A.port, "mode", A.mode)
    while True:
        s, peer = ls.accept()
        threading.Thread(target=handle, args=(s, "%s:%d" % peer), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
