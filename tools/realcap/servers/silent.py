#!/usr/bin/env python3
"""Accepts TCP connections, reads whatever arrives (e.g. a TLS ClientHello) and never answers.
Connections are held open for --hold seconds, then closed (FIN)."""
import argparse
import socket
import threading
import time


def hold(s, secs):
    s.settimeout(secs)
    end = time.time() + secs
    try:
        while time.time() < end:
            if not s.recv(65536):
                break
    except OSError:
        pass
    s.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=8443)
    p.add_argument("--hold", type=float, default=30.0)
    a = p.parse_args()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", a.port))
    ls.listen(16)
    print("silent listener on", a.port, flush=True)
    while True:
        s, _ = ls.accept()
        threading.Thread(target=hold, args=(s, a.hold), daemon=True).start()


if __name__ == "__main__":
    main()
