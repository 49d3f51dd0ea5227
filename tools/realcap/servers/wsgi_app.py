"""A small WSGI app for real gunicorn targets (realcap `record_nginx.sh`).

    gunicorn --bind 0.0.0.0:8080 --workers 2 --timeout 30 --chdir DIR wsgi_app:app

/ok...           200 text
/slow/<secs>/... sleeps, then 200 (responses near or past the proxy's idle timeout)
/boom...         raises: gunicorn's own 500 page (`Server: gunicorn`)
/status/<code>   that status with a short body
/upload...       reads the whole request body, answers 201 with its length
anything else    200
"""
import time


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    parts = path.strip("/").split("/")
    if parts[0] == "slow" and len(parts) > 1:
        time.sleep(float(parts[1]))
    if parts[0] == "boom":
        raise RuntimeError("the application failed")
    if parts[0] == "upload":
        n = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(n) if n else b""
        out = f"stored {len(body)} bytes\n".encode()
        start_response("201 Created", [("Content-Type", "text/plain"), ("Content-Length", str(len(out)))])
        return [out]
    if parts[0] == "status" and len(parts) > 1 and parts[1].isdigit():
        code = int(parts[1])
        out = f"status {code} from the app\n".encode()
        start_response(f"{code} Status", [("Content-Type", "text/plain"), ("Content-Length", str(len(out)))])
        return [out]
    out = f"hello from gunicorn {path}\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(out)))])
    return [out]
