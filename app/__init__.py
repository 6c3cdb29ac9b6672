"""The Morpheo Orchestrator: application factory (wiring only; no endpoint logic)."""
from __future__ import annotations

__version__ = "1.0.0"  # the one version: pyproject.toml reads it, GET /version serves it

import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

import click
from flask import Flask, request
from flask_cors import CORS

from .api.accounts import AccountsFileError, StoredAccount, load_accounts
from .api.auth import Authenticator, check_every_route_declares_a_permission, init_auth
from .api.blueprints import algo, audit, dashboard, data, learnuplet, meta, metrics, preduplet, problem
from .api.errors import register_error_handlers
from .api.headers import add_security_headers
from .api.metrics import Metrics
from .api.tracing import REQUEST_ID_HEADER, init_tracing
from .api.views import LEDGER, METRICS, STORE, VERSION
from .clock import SystemClock
from .commands import register_commands
from .config import ConfigError, load_config
from .decisions.chains import follow_registry
from .decisions.upkeep import Sweeper
from .delivery.dispatcher import Dispatcher, delivery_ledger
from .delivery.outbox import schedule_deliveries
from .ledger import Ledger, Ledgers, StreamLedger
from .ledger.events import REGISTRY_KINDS, STREAM_KINDS
from .storage import Store
from .storage.errors import DatabaseError

__all__ = ["create_app", "connect_database", "stop_background", "ConfigError", "__version__"]
log = logging.getLogger(__name__)
BACKGROUND = "orchestrator.background"
MEMORY = ":memory:"


def stop_background(app: Flask, wait: float = 30.0) -> None:
    """Stop this process's sweeper and dispatcher threads (tests, embedding), and wait up to
    `wait` seconds for the work under way, so that nothing reads the database afterwards."""
    tasks = [task for task in app.extensions.get(BACKGROUND, []) if task is not None]
    for task in tasks:
        task.stop()
    for task in tasks:
        task.join(wait)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; raises ConfigError (saying what to set) for a configuration that can't run.

    Under a command-line command that serves no request (`flask --app app routes`, the
    commands of commands.py) it needs no account and opens no database until a command asks
    for it (connect_database); everywhere else (gunicorn, python -m app, `flask run`, tests)
    it refuses to start without an account and opens the database at once.
    """
    serving = _serves_requests()
    app = Flask(__name__, static_folder=None)  # no static files: every route is the API
    app.config.update(load_config(config, accounts_required=serving))
    authenticator = open_accounts(app.config, required=serving)
    app.extensions[VERSION] = __version__
    app.extensions[METRICS] = Metrics(lambda: app.extensions.get(LEDGER),
                                      push=bool(app.config["COMPUTE_URL"]))

    init_tracing(app, app.extensions[METRICS], time.perf_counter)  # first: sees every request
    register_error_handlers(app)
    add_security_headers(app)
    if app.config["CORS"]:
        CORS(app, expose_headers=["Link", REQUEST_ID_HEADER])
    for blueprint in (meta.bp, metrics.bp, problem.bp, algo.bp, data.bp, learnuplet.bp,
                      preduplet.bp, audit.bp, dashboard.bp):
        app.register_blueprint(blueprint)
    init_auth(app, authenticator)  # after the blueprints: it reads their routes' settings
    check_every_route_declares_a_permission(app)
    register_commands(app)
    if serving:
        _prepare_database_on_first_use(app, connect_database(app))
    return app


def _serves_requests() -> bool:
    """False while a click command other than `run` runs (the `flask` and `orchestrator`
    commands): those may list routes or work on the database without an account."""
    command = click.get_current_context(silent=True)
    return command is None or command.info_name == "run"


def connect_database(app: Flask) -> Ledgers:
    """The app's store and ledgers, opened on the first call."""
    if LEDGER not in app.extensions:
        store = open_store(app)
        app.extensions[STORE] = store
        app.extensions[LEDGER] = open_ledgers(app, store)
    return app.extensions[LEDGER]


def open_accounts(config: Mapping[str, Any], required: bool = True) -> Authenticator:
    """The administrator (USER_AUTH/PWD_AUTH) and the accounts of ACCOUNTS_FILE."""
    admin = (config["USER_AUTH"], config["PWD_AUTH"]) if config.get("USER_AUTH") else None
    accounts: dict[str, StoredAccount] = {}
    if config.get("ACCOUNTS_FILE"):
        try:
            accounts = load_accounts(config["ACCOUNTS_FILE"], {admin[0]} if admin else set())
        except AccountsFileError as error:
            raise ConfigError(str(error)) from None
    if admin is None and not accounts and required:
        raise ConfigError(f"ACCOUNTS_FILE={config['ACCOUNTS_FILE']} holds no account and "
                          "USER_AUTH/PWD_AUTH are not set: no one could use the server")
    return Authenticator(admin, accounts)


def open_ledgers(app: Flask, store: Store) -> Ledgers:
    """The registry (algos, data) and the streams (problems, chains, preduplets); applying a
    registry event plans or extends its chains on their streams."""
    clock, attempts = SystemClock(), app.config["COMMIT_ATTEMPTS"]
    stamp = {"deliver": bool(app.config["COMPUTE_URL"])}
    watch = app.extensions[METRICS].contention  # commit conflicts and retries, counted
    streams = StreamLedger(store, STREAM_KINDS, clock, attempts=attempts, stamp=stamp,
                           after_expand=schedule_deliveries, observe=watch("streams"))
    registry = Ledger(store, REGISTRY_KINDS, clock, attempts=attempts, stamp=stamp,
                      after_apply=lambda event: follow_registry(streams, event),
                      observe=watch("registry"))
    return Ledgers(registry=registry, streams=streams)


def open_store(app: Flask) -> Store:
    """MongoDB through Flask-PyMongo when MONGO_URI is set, else the embedded store in DATA_DIR.

    Every database operation is bounded by DB_TIMEOUT_SECONDS (pymongo's client-side operation
    timeout), so a stalled database gets 503 as quickly as a dead one.
    """
    uri = app.config["MONGO_URI"]
    if uri:
        from flask_pymongo import PyMongo

        from .storage.mongo import MongoStore

        timeout_ms = int(app.config["DB_TIMEOUT_SECONDS"] * 1000)
        mongo = PyMongo(app, uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms,
                        timeoutMS=timeout_ms, retryWrites=False)
        # Flask-PyMongo answers JSON through bson.json_util, which walks every answer for BSON
        # types; the documents hold none (uuids, numbers, strings): Flask's own JSON, as on
        # the embedded store (a GET of one document is the benchmark's closest to the floor)
        app.json = app.json_provider_class(app)
        return MongoStore.for_uri(mongo.cx, uri, app.config["MONGO_DBNAME"])
    from .storage.embedded import EmbeddedStore
    from .storage.journal import StoreUnusable

    folder = app.config["DATA_DIR"]
    if folder == MEMORY:
        log.warning("DATA_DIR=%s: NOTHING IS PERSISTED (meant for tests).", MEMORY)
        return EmbeddedStore(None)
    log.info("MONGO_URI is not set: the embedded store keeps its data in %s "
             "(one server process only).", os.path.abspath(folder))
    try:
        return EmbeddedStore(folder)
    except (StoreUnusable, OSError) as error:
        raise ConfigError(f"cannot use DATA_DIR={folder}: {error}") from None


def _prepare_database_on_first_use(app: Flask, ledgers: Ledgers) -> None:
    """Indexes, ledger head, roll-forward and the background threads: once per process, retried
    until the database answers, so the server starts (and answers 503) while it is down."""
    state = {"ready": False, "pid": None}
    lock = threading.Lock()

    def prepare() -> None:
        if state["ready"] and state["pid"] == os.getpid():
            return
        with lock:
            if state["ready"] and state["pid"] == os.getpid():
                return
            ledgers.store.prepare()
            ledgers.registry.ensure_head()
            # start-up sweep (the streams': by the sweeper). settle: a pending event is
            # normally being applied by another process's writer; wait for it before applying
            ledgers.registry.settle(ledgers.registry.head())
            app.extensions[BACKGROUND] = _start_background(app, ledgers)
            state.update(ready=True, pid=os.getpid())

    without_database = meta.WITHOUT_DATABASE | {metrics.ENDPOINT}  # /metrics says if it is down

    @app.before_request
    def _ready() -> None:
        if request.endpoint not in without_database:
            prepare()

    app.extensions["orchestrator.prepare"] = prepare
    try:
        prepare()
    except DatabaseError as error:
        log.warning("database not ready at start-up (%s); will retry on each request", error)


def _start_background(app: Flask, ledgers: Ledgers) -> list[Any]:
    config = app.config
    sweeper = dispatcher = None
    if config["SWEEP_SECONDS"]:
        sweeper = Sweeper(ledgers, config["SWEEP_SECONDS"], config["MAX_ATTEMPTS"],
                          seal=config["SEAL_EVENTS"]).start()
    if config["COMPUTE_URL"]:
        watch = app.extensions[METRICS]
        dispatcher = Dispatcher(delivery_ledger(ledgers.registry, watch.contention("delivery")),
                                config, observe=watch.delivery()).start()
    return [sweeper, dispatcher]
