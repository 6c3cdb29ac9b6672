"""gunicorn settings: `gunicorn --config gunicorn_config.py "app:create_app()"`.

PORT (default 5000), WEB_CONCURRENCY (workers, default 2) and GUNICORN_THREADS
(threads per worker, default 4) come from the environment.
"""
import os
import sys

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
