"""gRPC target for realcap (grpcio, no generated code): python3 grpc_target.py ADDR PORT

/pkg.Svc/Ok answers; /pkg.Svc/Fail aborts with NOT_FOUND and a message (a trailers-only
response); /pkg.Svc/Boom aborts with INTERNAL."""
import sys
import time
from concurrent import futures

import grpc


def ok(request, context):
    return b"pong:" + request


def fail(request, context):
    context.abort(grpc.StatusCode.NOT_FOUND, "no such user: 42")


def boom(request, context):
    context.abort(grpc.StatusCode.INTERNAL, "database unavailable")


def main():
    addr, port = sys.argv[1], sys.argv[2]
    handlers = {
        "Ok": grpc.unary_unary_rpc_method_handler(ok),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
        "Boom": grpc.unary_unary_rpc_method_handler(boom),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("pkg.Svc", handlers),))
    server.add_insecure_port(f"{addr}:{port}")
    server.start()
    print("listening", addr, port, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
