"""gunicorn settings: `gunicorn --config gunicorn_config.py "app:create_app()"`.

PORT (default 5000), WEB_CONCURRENCY (workers, default 2) and GUNICORN_THREADS
(threads per worker, default 4) come from the environment. It binds 0.0.0.0 (the image needs
it); `--bind` on the command line overrides that. Put nginx in front (deploy/nginx): a slow
client holds a gunicorn thread, not an nginx connection.

Logs: LOG_LEVEL and LOG_FORMAT (app/logs.py) for the app's lines and gunicorn's own. The app
writes the access log (api/tracing.py: it knows the route, the account and the request id),
so gunicorn's is off.

Metrics: every worker counts into files of its own in PROMETHEUS_MULTIPROC_DIR, and a scrape
adds them up (prometheus_client's multiprocess mode). Unless set, it is a fresh temporary
folder, removed when gunicorn stops; a folder given is emptied at start (counts of an earlier
run would be added in). A worker that dies leaves its counters (they must not go back), and
its live gauges are removed (child_exit).
"""
import json
import os
import shutil
import sys
import tempfile

from gunicorn import glogging
from gunicorn import util as gunicorn_util

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
accesslog = None  # the app logs each request (api/tracing.py)

# Before prometheus_client is imported (app imports it): it picks its mode when imported,
# and the workers inherit the variable.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
_made_metrics_dir = not os.environ.get(MULTIPROCESS_DIR)
if _made_metrics_dir:
    os.environ[MULTIPROCESS_DIR] = tempfile.mkdtemp(prefix="orchestrator-metrics-")

from prometheus_client import multiprocess  # noqa: E402

from app.config import ConfigError, load_config  # noqa: E402  (reads no database)
from app.logs import logging_config  # noqa: E402

try:
    _settings = load_config()
except ConfigError as error:
    sys.exit(f"orchestrator: cannot start: {error}")
loglevel = _settings["LOG_LEVEL"].lower()
# gunicorn's own lines (start, workers, timeouts) go through the app's handler, in LOG_FORMAT
logconfig_dict = {**logging_config(_settings["LOG_LEVEL"], _settings["LOG_FORMAT"]), "loggers": {
    "gunicorn.error": {"level": _settings["LOG_LEVEL"], "handlers": [], "propagate": True},
    "gunicorn.access": {"handlers": [], "propagate": False}}}

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


class Logger(glogging.Logger):
    """gunicorn's logger without its access log (the app's has the route, the account and the
    request id): with logconfig_dict set, gunicorn would format a line for every request, even
    with no handler to write it."""

    def access(self, resp, req, environ, request_time) -> None:
        return None


logger_class = Logger


def on_starting(server) -> None:
    """Empty the metrics folder: counts an earlier run left would be added to this run's."""
    folder = os.environ[MULTIPROCESS_DIR]
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".db"):
            os.remove(os.path.join(folder, name))


def child_exit(server, worker) -> None:
    """A worker stopped: its live gauges go; its counters stay, so that totals never drop."""
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    if _made_metrics_dir:
        shutil.rmtree(os.environ[MULTIPROCESS_DIR], ignore_errors=True)
