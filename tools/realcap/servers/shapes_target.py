#!/usr/bin/env python3
"""HTTP/1.x target whose responses take the less common shapes (realcap `record_shapes.sh`).

Raw sockets, one thread per connection, so the framing on the wire is exactly what the path
asks for. Keep-alive unless the path says otherwise; idle kept-alive connections are closed
(FIN) after --ka seconds.

  /health          200 (the proxy's health check)
  /ok...           200, Content-Length
  /ws...           WebSocket: 101 Switching Protocols, then echoes every frame and sends a text
                   frame every second for --ws-seconds, then a close frame and FIN
  /close...        200 without Content-Length or chunking, body ends with FIN (close-delimited;
                   HTTP/1.0 status line when the request was HTTP/1.0)
  /chunked...      200 chunked with three chunks and trailers (X-Checksum, Server-Timing)
  /head...         any method: 200 with Content-Length 5000; the body is sent unless HEAD
  /nocontent...    204 with no body
  /notmodified...  304 with Content-Length 5000 and an ETag, no body
  /upload...       reads the body; sends `100 Continue` first when the request expects it;
                   then 201 with the byte count
  /wsquiet...      WebSocket: 101, then silence for --ws-seconds (an idle tunnel), then FIN
  /chunkcut...     200 chunked: two chunks, then FIN without the last chunk (body cut short)
  /chunkstall...   200 chunked: one chunk, then silence for --ws-seconds, then FIN
  /sse...          text/event-stream, chunked, one event every 0.5 s for --sse-seconds
  /status/<code>   that status with an HTML error page and this server's Server header
"""
import argparse
import base64
import hashlib
import socket
import sys
import threading
import time

A = None
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC11B85"


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, flush=True)


def read_head(sock, buf):
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
    return head, rest, "ok"


def headers_of(head):
    out = {}
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        out[k.strip().lower()] = v.strip()
    return out


def read_body(sock, rest, n):
    while len(rest) < n:
        data = sock.recv(65536)
        if not data:
            break
        rest += data
    return rest[n:], min(len(rest), n)


def resp(status, reason, body, extra=b"", version=b"HTTP/1.1"):
    return (
        b"%s %d %s\r\nServer: %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n"
        % (version, status, reason, A.server.encode(), len(body), extra)
        + body
    )


def ws_frame(payload, opcode=1):
    return bytes([0x80 | opcode, len(payload)]) + payload


def websocket(sock, hdrs, rest):
    key = hdrs.get(b"sec-websocket-key", b"")
    accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
    sock.sendall(
        b"HTTP/1.1 101 Switching Protocols\r\nServer: %s\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n" % (A.server.encode(), accept)
    )
    sock.settimeout(0.2)
    end = time.time() + A.ws_seconds
    n = 0
    next_push = time.time() + 1
    while time.time() < end:
        try:
            data = sock.recv(65536)
            if not data:
                return
            # echo the client's (masked) frames back unmasked, as text "echo"
            sock.sendall(ws_frame(b"echo %d bytes" % len(data)))
        except (socket.timeout, TimeoutError):
            pass
        if time.time() >= next_push:
            n += 1
            sock.sendall(ws_frame(b"tick %d" % n))
            next_push += 1
    sock.sendall(ws_frame(b"\x03\xe8", opcode=8))
    time.sleep(0.3)


def handle(sock, peer):
    buf = b""
    served = 0
    try:
        while True:
            sock.settimeout(A.ka if served else 30)
            head, buf, why = read_head(sock, buf)
            if head is None:
                log(peer, "closing after", why, "served", served)
                return
            line = head.split(b"\r\n", 1)[0]
            log(peer, "request", line.decode("latin1"))
            parts = line.split(b" ")
            method = parts[0]
            path = parts[1] if len(parts) > 1 else b"/"
            http10 = line.endswith(b"HTTP/1.0")
            hdrs = headers_of(head)
            clen = int(hdrs.get(b"content-length", b"0") or 0)
            if path.startswith(b"/upload"):
                if hdrs.get(b"expect", b"").lower() == b"100-continue":
                    sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                buf, got = read_body(sock, buf, clen)
                sock.sendall(resp(201, b"Created", b"stored %d bytes\n" % got))
                served += 1
                continue
            buf, _ = read_body(sock, buf, clen)
            if path.startswith(b"/wsquiet"):
                key = hdrs.get(b"sec-websocket-key", b"")
                accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
                sock.sendall(
                    b"HTTP/1.1 101 Switching Protocols\r\nServer: %s\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n"
                    % (A.server.encode(), accept)
                )
                sock.settimeout(A.ws_seconds)
                try:
                    sock.recv(65536)
                except (socket.timeout, TimeoutError):
                    pass
                return
            if path.startswith(b"/chunkcut"):
                sock.sendall(
                    b"HTTP/1.1 200 OK\r\nServer: %s\r\nContent-Type: text/plain\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n" % A.server.encode()
                )
                for chunk in (b"first chunk\n", b"second chunk, then the target dies\n"):
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    time.sleep(0.05)
                return
            if path.startswith(b"/chunkstall"):
                sock.sendall(
                    b"HTTP/1.1 200 OK\r\nServer: %s\r\nContent-Type: text/plain\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n12\r\nfirst part, then \n\r\n"
                    % A.server.encode()
                )
                time.sleep(A.ws_seconds)
                return
            if path.startswith(b"/ws"):
                websocket(sock, hdrs, buf)
                return
            if path.startswith(b"/close"):
                ver = b"HTTP/1.0" if http10 else b"HTTP/1.1"
                sock.sendall(
                    b"%s 200 OK\r\nServer: %s\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n"
                    % (ver, A.server.encode())
                )
                for i in range(4):
                    sock.sendall(b"<p>part %d of a close-delimited body</p>\n" % i)
                    time.sleep(0.05)
                return
            if path.startswith(b"/chunked"):
                sock.sendall(
                    b"HTTP/1.1 200 OK\r\nServer: %s\r\nContent-Type: text/plain\r\n"
                    b"Transfer-Encoding: chunked\r\nTrailer: X-Checksum, Server-Timing\r\n\r\n"
                    % A.server.encode()
                )
                for chunk in (b"first chunk\n", b"second, longer chunk of data\n", b"third\n"):
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    time.sleep(0.02)
                sock.sendall(b"0\r\nX-Checksum: 9f86d081\r\nServer-Timing: db;dur=53\r\n\r\n")
            elif path.startswith(b"/head"):
                body = b"h" * 5000
                r = resp(200, b"OK", body)
                sock.sendall(r[: len(r) - len(body)] if method == b"HEAD" else r)
            elif path.startswith(b"/nocontent"):
                sock.sendall(b"HTTP/1.1 204 No Content\r\nServer: %s\r\n\r\n" % A.server.encode())
            elif path.startswith(b"/notmodified"):
                sock.sendall(
                    b"HTTP/1.1 304 Not Modified\r\nServer: %s\r\nETag: \"v1\"\r\n"
                    b"Content-Length: 5000\r\n\r\n" % A.server.encode()
                )
            elif path.startswith(b"/sse"):
                sock.sendall(
                    b"HTTP/1.1 200 OK\r\nServer: %s\r\nContent-Type: text/event-stream\r\n"
                    b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n" % A.server.encode()
                )
                end = time.time() + A.sse_seconds
                n = 0
                while time.time() < end:
                    n += 1
                    ev = b"id: %d\ndata: {\"tick\": %d}\n\n" % (n, n)
                    sock.sendall(b"%x\r\n%s\r\n" % (len(ev), ev))
                    time.sleep(0.5)
                sock.sendall(b"0\r\n\r\n")
            elif path.startswith(b"/status/"):
                code = int(path.split(b"/")[2] or b"500")
                reasons = {502: b"Bad Gateway", 503: b"Service Unavailable", 504: b"Gateway Time-out"}
                reason = reasons.get(code, b"Error")
                body = (
                    b"<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n"
                    b"<center><h1>%d %s</h1></center>\r\n<hr><center>%s</center>\r\n</body>\r\n</html>\r\n"
                    % (code, reason, code, reason, A.server.encode())
                )
                sock.sendall(resp(code, reason, body, b"Content-Type: text/html\r\n"))
            else:
                sock.sendall(resp(200, b"OK", b"hello from %s\n" % A.name.encode()))
            served += 1
            if http10 and hdrs.get(b"connection", b"").lower() != b"keep-alive":
                return
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
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--ka", type=float, default=60.0)
    p.add_argument("--ws-seconds", type=float, default=8.0)
    p.add_argument("--sse-seconds", type=float, default=30.0)
    p.add_argument("--server", default="realcap-shapes/1.0")
    p.add_argument("--name", default="target")
    A = p.parse_args()
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", A.port))
    ls.listen(64)
    log("listening", A.port)
    while True:
        s, peer = ls.accept()
        threading.Thread(target=handle, args=(s, "%s:%d" % peer), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
