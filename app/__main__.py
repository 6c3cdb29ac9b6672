"""The command line: `orchestrator COMMAND` (the console script `pip install .` installs) and
`python -m app [COMMAND]` (from a checkout; no command: run).

- run: the development server on HOST:PORT (default 127.0.0.1:5000); production runs gunicorn
  (docs/deployment.md).
- hash-password: reads a password on standard input and prints its hash for ACCOUNTS_FILE
  (docs/api.md, Accounts).
- version: prints the version (also GET /version).
- verify [--from VERSION --hash HASH]: checks the audit chain and re-derives every document
  from the events (docs/audit.md); exit 0 when intact, 1 naming the first thing that is not.
- create-indexes, sweep, export: the operators' commands of commands.py, the same as
  `flask --app app COMMAND` (run by Flask's command line).
"""
import argparse
import getpass
import logging
import os
import sys
from collections.abc import Callable

from flask.cli import FlaskGroup
from werkzeug.serving import WSGIRequestHandler

from . import ConfigError, __version__, create_app
from .api.passwords import hash_password
from .commands import COMMANDS as FLASK_COMMANDS
from .config import load_config
from .logs import configure_logging


class QuietRequestHandler(WSGIRequestHandler):
    """The development server without its `Server: Werkzeug/<version> Python/<version>`, nor its
    line per request: the app writes a richer one (api/tracing.py)."""

    def version_string(self) -> str:
        return "orchestrator"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def serve() -> int:
    try:
        configure_logging(load_config(accounts_required=False))  # create_app checks accounts
        app = create_app()
    except ConfigError as error:
        print(f"orchestrator: cannot start: {error}", file=sys.stderr)
        return 2
    app.run(host=app.config["HOST"], port=app.config["PORT"], threaded=True,
            request_handler=QuietRequestHandler)
    return 0


def print_password_hash() -> int:
    """Hash the password read on stdin (one line; at a terminal, asked without echo)."""
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("orchestrator: the two passwords differ", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        print(hash_password(password))
    except ValueError as error:
        print(f"orchestrator: {error}", file=sys.stderr)
        return 2
    return 0


def print_version() -> int:
    print(__version__)
    return 0


def verify(arguments: argparse.Namespace) -> int:
    """Verify the database the server's settings name (MONGO_URI, DATA_DIR...)."""
    import secrets

    from .api.views import LEDGER
    from .ledger.verify import Tampered, Verifier

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if (arguments.start is None) != (arguments.hash is None):
        print("orchestrator verify: --from and --hash go together (a kept checkpoint)",
              file=sys.stderr)
        return 2
    # No request is served: no background thread, no push; long reads; and an account only
    # because the app refuses to exist without one (a random one nobody knows)
    settings = {"SWEEP_SECONDS": 0, "COMPUTE_URL": "", "DB_TIMEOUT_SECONDS": 600}
    if not os.environ.get("USER_AUTH") and not os.environ.get("ACCOUNTS_FILE"):
        settings.update(USER_AUTH="verify", PWD_AUTH=secrets.token_urlsafe(24))
    try:
        app = create_app(settings)
    except ConfigError as error:
        print(f"orchestrator verify: {error}", file=sys.stderr)
        return 2
    verifier = Verifier(app.extensions[LEDGER],
                        progress=lambda line: print(f"verify: {line}", file=sys.stderr, flush=True))
    try:
        report = verifier.run(arguments.start, arguments.hash)
    except Tampered as error:
        print(f"NOT INTACT: {error}")
        return 1
    print(report.summary())
    return 0


COMMANDS: dict[str, tuple[Callable[..., int], str]] = {
    "run": (serve, "start the server on HOST:PORT (the development server; see "
                   "docs/deployment.md for gunicorn)"),
    "hash-password": (print_password_hash, "read a password on standard input and print its "
                                           "hash for ACCOUNTS_FILE"),
    "version": (print_version, "print the version"),
    "verify": (verify, "check the audit chain (from a kept checkpoint with --from and --hash) "
                       "and re-derive every document from the events (docs/audit.md)"),
}


def run_flask_command(arguments: list[str], program: str) -> int:
    """One of commands.py's commands, through Flask's command line (as `flask --app app`)."""
    group = FlaskGroup(create_app=create_app, add_default_commands=False,
                       add_version_option=False, load_dotenv=False)
    return group.main(arguments, prog_name=program)  # exits with the command's status


def run_command(arguments: list[str], program: str) -> int:
    """Run one command; a wrong one prints the usage and exits with status 2."""
    if arguments and arguments[0] in FLASK_COMMANDS:
        return run_flask_command(arguments, program)
    parser = argparse.ArgumentParser(
        prog=program, description="The Morpheo Orchestrator. Settings come from the environment "
                                  "(USER_AUTH, PWD_AUTH, MONGO_URI...: docs/configuration.md).")
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, description) in COMMANDS.items():
        command = commands.add_parser(name, help=description, description=description)
        if name == "verify":
            command.add_argument("--from", dest="start", type=int, metavar="VERSION",
                                 help="start at this audit chain version (a kept checkpoint)")
            command.add_argument("--hash", help="the checkpoint's hash (GET /ledger gave both)")
    for name, command in FLASK_COMMANDS.items():  # listed here, run by run_flask_command
        commands.add_parser(name, help=command.get_short_help_str(80))
    parsed = parser.parse_args(arguments)
    run = COMMANDS[parsed.command][0]
    return run(parsed) if parsed.command == "verify" else run()


def main(arguments: list[str]) -> int:
    """`python -m app [COMMAND]`: without a command, run the server (the README's quick start)."""
    return run_command(arguments or ["run"], "python -m app")


def console() -> None:
    """The `orchestrator` console script."""
    sys.exit(run_command(sys.argv[1:], "orchestrator"))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
