"""Configuration: documented defaults, then the environment, then the mapping given to create_app."""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

MIB = 1024 * 1024

# Every setting the server reads, with its default. docs/configuration.md mirrors this table.
DEFAULTS: dict[str, Any] = {
    "MONGO_URI": None,  # unset: the embedded store, in DATA_DIR
    "DATA_DIR": "./orchestrator-data",  # the embedded store's folder; ":memory:" keeps nothing
    "MONGO_DBNAME": "orchestrator",  # used when MONGO_URI names no database
    "USER_AUTH": None,  # the administrator's name and password
    "PWD_AUTH": None,
    "ACCOUNTS_FILE": None,  # a TOML file of further accounts (app/api/accounts.py)
    "CORS": False,
    "HOST": "127.0.0.1",  # address of `python -m app` (gunicorn_config.py binds 0.0.0.0)
    "PORT": 5000,
    "MAX_CONTENT_LENGTH": 4 * MIB,
    "DB_TIMEOUT_SECONDS": 3.0,  # bound on waiting for an unreachable database before 503
    "SWEEP_SECONDS": 5.0,  # how often committed but unapplied events are rolled forward; 0: never
    "SEAL_EVENTS": True,  # the sweeper seals applied events into the audit chain (docs/audit.md)
    "PAGE_LIMIT_DEFAULT": 1000,
    "PAGE_LIMIT_MAX": 10000,
    "COMMIT_ATTEMPTS": 200,  # optimistic commit retries before answering 503
    # Bounds on one event (decisions/bounds.py): beyond them a request gets 413.
    "MAX_EVENT_DOCUMENTS": 100_000,  # documents one request may create
    "MAX_EVENT_UUIDS": 2_000_000,  # uuids they may hold together (about 80 MB)
    # Leases on claimed tasks (docs/compute.md).
    "LEASE_SECONDS": 3600.0,  # a claim lasts this long unless the worker sends a heartbeat
    "MAX_ATTEMPTS": 3,  # expired leases before a task fails
    # Push delivery of runnable tasks to compute (off while COMPUTE_URL is unset).
    "COMPUTE_URL": None,  # learnuplets go to COMPUTE_URL/learn, preduplets to COMPUTE_URL/pred
    "DELIVERY_TIMEOUT_SECONDS": 10.0,  # one push attempt
    "DELIVERY_FIRST_RETRY_SECONDS": 1.0,  # backoff after the first failure, doubled each time
    "DELIVERY_MAX_BACKOFF_SECONDS": 60.0,
    # Observability (docs/deployment.md, Metrics and logs).
    "LOG_LEVEL": "INFO",  # DEBUG, INFO, WARNING, ERROR
    "LOG_FORMAT": "text",  # text, or json: one JSON object per line
    "METRICS_REQUIRE_AUTH": True,  # GET /metrics needs credentials (any account may read it)
}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")

_BOOLEAN_WORDS = {"1": True, "true": True, "yes": True, "on": True,
                  "0": False, "false": False, "no": False, "off": False, "": False}


MAX_EVENT_DOCUMENTS_CEILING = 300_000


class ConfigError(Exception):
    """The configuration cannot run a server; the message says what to set."""


def _convert(name: str, raw: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            return _BOOLEAN_WORDS[raw.strip().lower()]
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except (KeyError, ValueError):
        raise ConfigError(f"{name}={raw!r} is not a valid {type(default).__name__}") from None
    return raw or None


def load_config(overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None,
                accounts_required: bool = True) -> dict[str, Any]:
    """Defaults, then the environment, then explicit overrides (tests, embedding).

    `accounts_required=False` only for command-line tools that serve no request (create_app
    under `flask`, commands.py): a server never starts without an account."""
    environ = os.environ if environ is None else environ
    config = dict(DEFAULTS)
    for name, default in DEFAULTS.items():
        if name in environ:
            config[name] = _convert(name, environ[name], default)
    config.update(overrides or {})
    config["LOG_LEVEL"] = str(config["LOG_LEVEL"]).upper()
    config["LOG_FORMAT"] = str(config["LOG_FORMAT"]).lower()
    check_config(config, accounts_required)
    return config


def check_config(config: Mapping[str, Any], accounts_required: bool = True) -> None:
    """Refuse settings that would run the server open or broken."""
    has_user, has_password = bool(config.get("USER_AUTH")), bool(config.get("PWD_AUTH"))
    if has_user != has_password or accounts_required and not (has_user
                                                               or config.get("ACCOUNTS_FILE")):
        raise ConfigError(
            "No account is configured: set USER_AUTH and PWD_AUTH (the administrator's "
            "user name and password), and/or ACCOUNTS_FILE. The Orchestrator never runs "
            "without authentication.")
    if not config.get("MONGO_URI") and not config.get("DATA_DIR"):
        raise ConfigError("DATA_DIR is empty: name the embedded store's folder (default "
                          "./orchestrator-data), or :memory: to keep nothing, or set MONGO_URI")
    if config["PAGE_LIMIT_DEFAULT"] > config["PAGE_LIMIT_MAX"]:
        raise ConfigError("PAGE_LIMIT_DEFAULT must not exceed PAGE_LIMIT_MAX")
    if config["SWEEP_SECONDS"] < 0:
        raise ConfigError("SWEEP_SECONDS must not be negative")
    for name in ("MAX_EVENT_DOCUMENTS", "MAX_EVENT_UUIDS", "DB_TIMEOUT_SECONDS", "LEASE_SECONDS",
                 "MAX_ATTEMPTS", "DELIVERY_TIMEOUT_SECONDS", "DELIVERY_FIRST_RETRY_SECONDS",
                 "DELIVERY_MAX_BACKOFF_SECONDS"):
        if config[name] <= 0:
            raise ConfigError(f"{name} must be positive")
    if config["MAX_EVENT_DOCUMENTS"] > MAX_EVENT_DOCUMENTS_CEILING:
        # A chain document names the learnuplets its last event wrote: past this many, it
        # could outgrow MongoDB's 16 MiB documents and its event could never be applied.
        raise ConfigError(f"MAX_EVENT_DOCUMENTS must be at most {MAX_EVENT_DOCUMENTS_CEILING}")
    if config["LOG_LEVEL"] not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    if config["LOG_FORMAT"] not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
    if config["COMPUTE_URL"] and not str(config["COMPUTE_URL"]).startswith(("http://", "https://")):
        raise ConfigError("COMPUTE_URL must be an http:// or https:// URL")
