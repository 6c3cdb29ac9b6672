# The Morpheo Orchestrator under gunicorn. Needs USER_AUTH and PWD_AUTH at run time, and
# MONGO_URI for several workers (see docs/deployment.md); docker-compose.yml provides all
# three with MongoDB.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=5000

# An unprivileged user with a home directory (gunicorn keeps its control socket there), and
# the embedded store's folder, used only without MONGO_URI (then with WEB_CONCURRENCY=1;
# mount a volume on it to keep the data).
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin orchestrator \
    && mkdir -p /var/lib/orchestrator && chown orchestrator /var/lib/orchestrator
ENV DATA_DIR=/var/lib/orchestrator

WORKDIR /srv/orchestrator

# Dependencies first, so that a code change does not reinstall them.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY gunicorn_config.py .
COPY app/ app/

USER orchestrator

EXPOSE 5000

# /health answers without touching the database: this checks the process, not MongoDB.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '5000'), timeout=4)"]

CMD ["gunicorn", "--config", "gunicorn_config.py", "app:create_app()"]
