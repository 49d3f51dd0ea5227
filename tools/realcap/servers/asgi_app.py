"""A small ASGI app for a real uvicorn target (realcap `record_nginx.sh`).

    python3 -m uvicorn --app-dir DIR asgi_app:app --host 0.0.0.0 --port 8080 --timeout-keep-alive 2

/ok...                    200 text
/slow/<secs>/...          sleeps, then 200
/trickle/<gap>/<n>/...    200 with Content-Length of n chunks; each chunk after <gap> seconds
anything else             200
"""
import asyncio


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    parts = scope["path"].strip("/").split("/")
    while True:  # drain the request body
        msg = await receive()
        if not msg.get("more_body"):
            break
    if parts[0] == "slow" and len(parts) > 1:
        await asyncio.sleep(float(parts[1]))
    if parts[0] == "trickle" and len(parts) > 2:
        gap, n = float(parts[1]), int(parts[2])
        chunk = b"x" * 99 + b"\n"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"),
                                (b"content-length", str(len(chunk) * n).encode())]})
        for i in range(n):
            await asyncio.sleep(gap)
            await send({"type": "http.response.body", "body": chunk, "more_body": i < n - 1})
        return
    body = f"hello from uvicorn {scope['path']}\n".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
