"""gunicorn settings: `gunicorn --config gunicorn_config.py "app:create_app()"`.

PORT (default 5000), WEB_CONCURRENCY (workers, default 2) and GUNICORN_THREADS
(threads per worker, default 4) come from the environment. It binds 0.0.0.0 (the image needs
it); `--bind` on the command line overrides that. Put nginx in front (deploy/nginx): a slow
client holds a gunicorn thread, not an nginx connection.
"""
import json
import os
import sys

from gunicorn import util as gunicorn_util

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
accesslog = "-"
# Never log credentials: the access log format has no Authorization header.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(L)ss'

from app.config import ConfigError, load_config  # noqa: E402  (reads no database)

try:
    load_config()
except ConfigError as error:
    sys.exit(f"orchestrator: cannot start: {error}")

if not os.environ.get("MONGO_URI") and workers > 1:
    # The embedded store serves one process (its folder is locked by the first worker).
    sys.exit("orchestrator: MONGO_URI is unset, so the embedded store is used, and it cannot be "
             "shared by several gunicorn workers. Set MONGO_URI, or WEB_CONCURRENCY=1.")


def _problem_json_error(sock, status_int, reason, mesg):
    """gunicorn's own answer to a request it cannot parse (400, 414, 431, ...), as problem JSON
    like every answer of the Orchestrator instead of gunicorn's HTML page. nginx in front
    (deploy/nginx) refuses most such requests before they get here."""
    body = json.dumps({"type": "about:blank", "title": reason, "status": status_int,
                       "detail": mesg or reason}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            "Content-Type: application/problem+json\r\nX-Content-Type-Options: nosniff\r\n"
            "Cache-Control: no-store\r\nContent-Security-Policy: default-src 'none'\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    gunicorn_util.write_nonblock(sock, head.encode("latin-1") + body)


gunicorn_util.write_error = _problem_json_error  # gunicorn's workers call util.write_error
