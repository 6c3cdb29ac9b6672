"""Log lines: LOG_LEVEL, LOG_FORMAT (text, or json: one JSON object per line), and the
request id on every line written while a request runs (api/tracing.py).

Set up by the entry points (python -m app, gunicorn_config.py, the commands), never by
create_app: an application that is embedded or under test keeps its host's logging.
The id is added by a filter on the handler, so every logger's lines get it (filters on a
logger would miss the lines of its children).
"""
from __future__ import annotations

import json
import logging
import logging.config
import time
from typing import Any, TextIO

from .api.tracing import current_request_id

TEXT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# What every LogRecord has: anything else on a record was given as `extra=` (the access log's
# fields) and goes into the JSON object as it is.
_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "request_id", "taskName"}


class _Seconds:
    """A timestamp to the second, formatted once per second (strftime is most of the cost of
    a short log line, and a busy server writes thousands a second)."""

    def __init__(self, form: str, converter: Any):
        self._form, self._converter = form, converter
        self._last: tuple[int, str] = (-1, "")

    def __call__(self, created: float) -> str:
        second = int(created)
        last = self._last  # one read: threads may replace it meanwhile
        if last[0] != second:
            last = (second, time.strftime(self._form, self._converter(second)))
            self._last = last
        return last[1]


class TextFormatter(logging.Formatter):
    """LOG_FORMAT=text: `2026-11-29 11:52:08,541 INFO name [request id] message`, local time."""

    def __init__(self) -> None:
        super().__init__(TEXT)
        self._seconds = _Seconds("%Y-%m-%d %H:%M:%S", time.localtime)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return f"{self._seconds(record.created)},{int(record.msecs):03d}"


class RequestIdFilter(logging.Filter):
    """Stamps each line with the id of the request being served (`-` outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, request_id, message,
    the fields given as `extra`, and the exception's traceback if any."""

    def __init__(self) -> None:
        super().__init__()
        self._seconds = _Seconds("%Y-%m-%dT%H:%M:%S", time.gmtime)

    def format(self, record: logging.LogRecord) -> str:
        fields = vars(record)
        entry: dict[str, Any] = {
            "time": f"{self._seconds(record.created)}.{int(record.msecs):03d}Z",
            "level": record.levelname, "logger": record.name,
            "request_id": fields.get("request_id", "-"), "message": record.getMessage()}
        for key in sorted(fields.keys() - _RECORD_FIELDS):
            entry[key] = fields[key]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


def logging_config(level: str, form: str, stream: str = "ext://sys.stderr") -> dict[str, Any]:
    """The logging.config.dictConfig of LOG_LEVEL and LOG_FORMAT: one handler on the root
    logger, which every logger's lines reach (the app's, gunicorn's, werkzeug's)."""
    formatter = {"()": JsonFormatter if form == "json" else TextFormatter}
    return {"version": 1, "disable_existing_loggers": False,
            "filters": {"request_id": {"()": RequestIdFilter}},
            "formatters": {"orchestrator": formatter},
            "handlers": {"orchestrator": {"class": "logging.StreamHandler", "stream": stream,
                                          "filters": ["request_id"],
                                          "formatter": "orchestrator"}},
            "root": {"level": level, "handlers": ["orchestrator"]}}


def configure_logging(config: dict[str, Any], stream: TextIO | None = None) -> None:
    """Log as the settings say, to standard error (or `stream`)."""
    settings = logging_config(config["LOG_LEVEL"], config["LOG_FORMAT"])
    if stream is not None:
        settings["handlers"]["orchestrator"]["stream"] = stream
    logging.config.dictConfig(settings)
