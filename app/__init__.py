"""The Morpheo Orchestrator: application factory."""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import Any

from flask import Flask, request
from flask_cors import CORS
from pymongo.errors import PyMongoError

from .auth import init_auth
from .blueprints import algo, data, learnuplet, preduplet, problem
from .config import ConfigError, load_config
from .delivery import start_dispatcher
from .errors import register_error_handlers
from .facts import expand
from .ledger import Ledger
from .openapi import bp as meta_bp
from .store import EXTENSION, ensure_indexes, init_store
from .sweeper import start_sweeper
from .web import LEDGER

__all__ = ["create_app", "stop_background", "ConfigError"]
log = logging.getLogger(__name__)
BACKGROUND = "orchestrator.background"


def stop_background(app: Flask) -> None:
    """Stop this process's sweeper and dispatcher threads (tests, embedding)."""
    for task in app.extensions.get(BACKGROUND, []):
        if task is not None:
            task.stop()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; raises ConfigError (saying what to set) for a configuration that can't run."""
    app = Flask(__name__)
    app.config.update(load_config(config))
    init_store(app)
    db = app.extensions[EXTENSION]
    ledger = Ledger(db, expand, attempts=app.config["COMMIT_ATTEMPTS"],
                    stamp={"deliver": bool(app.config["COMPUTE_URL"])})
    app.extensions[LEDGER] = ledger

    register_error_handlers(app)
    init_auth(app)
    if app.config["CORS"]:
        CORS(app, expose_headers=["Link"])
    for blueprint in (meta_bp, problem.bp, algo.bp, data.bp, learnuplet.bp, preduplet.bp):
        app.register_blueprint(blueprint)
    _prepare_database_on_first_use(app, ledger)
    return app


def _prepare_database_on_first_use(app: Flask, ledger: Ledger) -> None:
    """Indexes, ledger head, roll-forward and the sweeper: once per process, retried until the
    database answers, so the server starts (and answers 503) while the database is down."""
    state = {"ready": False, "pid": None}
    lock = threading.Lock()

    def prepare() -> None:
        if state["ready"] and state["pid"] == os.getpid():
            return
        with lock:
            if state["ready"] and state["pid"] == os.getpid():
                return
            ensure_indexes(ledger.db)
            ledger.ensure_head()
            ledger.roll_forward()  # start-up sweep
            app.extensions[BACKGROUND] = [start_sweeper(app, ledger), start_dispatcher(app, ledger)]
            state.update(ready=True, pid=os.getpid())

    @app.before_request
    def _ready() -> None:
        if request.endpoint != "meta.health":
            prepare()

    try:
        prepare()
    except PyMongoError as error:
        log.warning("database not ready at start-up (%s); will retry on each request", error)
