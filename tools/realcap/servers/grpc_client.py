"""gRPC client for realcap: python3 grpc_client.py HOST:PORT (h2c, one channel)."""
import sys
import time

import grpc


def main():
    target = sys.argv[1]
    with grpc.insecure_channel(target) as ch:
        for method in ("/pkg.Svc/Ok", "/pkg.Svc/Fail", "/pkg.Svc/Boom", "/pkg.Down/Call"):
            t0 = time.strftime("%H:%M:%S")
            call = ch.unary_unary(method)
            try:
                resp = call(b"ping", timeout=10)
                print(f"{t0} grpc {method} -> OK {resp!r}", flush=True)
            except grpc.RpcError as e:
                print(f"{t0} grpc {method} -> {e.code().name} {e.details()!r}", flush=True)
            time.sleep(0.3)


if __name__ == "__main__":
    main()
