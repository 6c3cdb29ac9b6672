"""Operators' commands: `flask --app app COMMAND` and `orchestrator COMMAND` (docs/deployment.md,
Commands).

They work on the database the settings name (MONGO_URI, or the embedded store in DATA_DIR,
which a running server holds: stop it first), beside any running server, and serve no
request, so they need no account: under a command other than `run`, create_app asks for
none and opens no database until a command needs it (app/__init__.py).

- create-indexes: create the collections' indexes (servers also do at start-up);
- sweep: one sweep now (apply what crashed writers left, expire lapsed leases);
- export: one collection, or the registry's event ledger, as JSON lines, a page at a time;
- verify [--from VERSION --hash HASH]: check the audit chain and re-derive every document
  from the events (docs/audit.md); exit 0 when intact, 1 naming the first thing that is not.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any, TextIO

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .decisions.upkeep import sweep_once
from .ledger import Ledgers
from .ledger.verify import Tampered, Verifier
from .logs import configure_logging
from .storage import Store, public

COLLECTIONS = ("problem", "algo", "data", "learnuplet", "preduplet")
EVENTS = "events"  # the registry's ledger
DOCUMENTS_PER_PAGE, EVENTS_PER_PAGE = 1000, 100  # an event may hold thousands of documents


def database() -> Ledgers:
    """The current app's store and ledgers, opened now (the server's start-up does the same)."""
    from . import ConfigError, connect_database  # the factory imports this module

    if not logging.getLogger().handlers:  # unless the host set logging up (tests, embedding)
        configure_logging(current_app.config)
    try:
        # the app itself, not the proxy: Flask-PyMongo keeps a weak reference to it
        return connect_database(current_app._get_current_object())  # type: ignore[attr-defined]
    except ConfigError as error:  # e.g. DATA_DIR held by a running server
        raise click.ClickException(str(error)) from None


@click.command("create-indexes")
@with_appcontext
def create_indexes() -> None:
    """Create the collections' indexes (idempotent; servers also do at start-up)."""
    database().store.prepare()
    click.echo("indexes created")


@click.command("sweep")
@with_appcontext
def sweep() -> None:
    """Sweep once: apply committed events their writer left, expire lapsed leases, seal."""
    config = current_app.config
    done = sweep_once(database(), config["MAX_ATTEMPTS"], seal=config["SEAL_EVENTS"])
    click.echo(" ".join(f"{name}={count}" for name, count in done.items()))


@click.command("export")
@click.argument("what", type=click.Choice([*COLLECTIONS, EVENTS]))
@click.option("--output", "-o", type=click.File("w"), default="-",
              help="file to write (default: standard output)")
@with_appcontext
def export(what: str, output: TextIO) -> None:
    """Write a collection's documents (as GET answers them), or the registry's events, as JSON
    lines in commit order, reading a page at a time."""
    store = database().store
    lines = events(store) if what == EVENTS else documents(store, what)
    for line in lines:
        output.write(json.dumps(line, separators=(",", ":")) + "\n")
    output.flush()


def documents(store: Store, collection: str) -> Iterator[dict[str, Any]]:
    """Every document of a collection in commit order, without the store's bookkeeping."""
    after = None
    while True:
        page = store.page(collection, {}, after, DOCUMENTS_PER_PAGE)
        yield from (public(document) for document in page)
        if len(page) < DOCUMENTS_PER_PAGE:
            return
        after = page[-1]["seq"]


def events(store: Store) -> Iterator[dict[str, Any]]:
    """Every event of the registry's ledger, in order; its key is its `number`."""
    number = 0
    while True:
        page = store.events_after(EVENTS, number, EVENTS_PER_PAGE)
        for event in page:
            number = event.pop("_id")
            yield {"number": number, **event}
        if len(page) < EVENTS_PER_PAGE:
            return


@click.command("verify")
@click.option("--from", "start", type=click.IntRange(min=1), metavar="VERSION",
              help="start at this audit chain version (a kept checkpoint; with --hash)")
@click.option("--hash", "start_hash", metavar="HASH", help="the checkpoint's hash (GET /ledger)")
@with_appcontext
def verify(start: int | None, start_hash: str | None) -> None:
    """Check the audit chain and re-derive every document from the events (docs/audit.md)."""
    if (start is None) != (start_hash is None):
        raise click.UsageError("--from and --hash go together (a kept checkpoint)")
    # long reads in a tool, not in a request
    current_app.config["DB_TIMEOUT_SECONDS"] = max(current_app.config["DB_TIMEOUT_SECONDS"], 600)
    verifier = Verifier(database(), progress=lambda line: click.echo(f"verify: {line}", err=True))
    try:
        report = verifier.run(start, start_hash)
    except Tampered as error:
        click.echo(f"NOT INTACT: {error}")
        raise SystemExit(1) from None
    click.echo(report.summary())


# name -> command (`orchestrator --help` lists them too)
COMMANDS: dict[str, click.Command] = {
    "create-indexes": create_indexes,
    "sweep": sweep,
    "export": export,
    "verify": verify,
}


def register_commands(app: Flask) -> None:
    for command in COMMANDS.values():
        app.cli.add_command(command)
