"""The command line: `orchestrator COMMAND` (the console script `pip install .` installs) and
`python -m app [COMMAND]` (from a checkout; no command: run).

- run: the development server on HOST:PORT (default 127.0.0.1:5000); production runs gunicorn
  (docs/deployment.md).
- hash-password: reads a password on standard input and prints its hash for ACCOUNTS_FILE
  (docs/api.md, Accounts).
- version: prints the version (also GET /version).
- create-indexes, sweep, export, verify: the operators' commands of commands.py, the same as
  `flask --app app COMMAND` (run by Flask's command line).
"""
import argparse
import getpass
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


COMMANDS: dict[str, tuple[Callable[..., int], str]] = {
    "run": (serve, "start the server on HOST:PORT (the development server; see "
                   "docs/deployment.md for gunicorn)"),
    "hash-password": (print_password_hash, "read a password on standard input and print its "
                                           "hash for ACCOUNTS_FILE"),
    "version": (print_version, "print the version"),
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
        commands.add_parser(name, help=description, description=description)
    for name, command in FLASK_COMMANDS.items():  # listed here, run by run_flask_command
        commands.add_parser(name, help=command.get_short_help_str(80))
    return COMMANDS[parser.parse_args(arguments).command][0]()


def main(arguments: list[str]) -> int:
    """`python -m app [COMMAND]`: without a command, run the server (the README's quick start)."""
    return run_command(arguments or ["run"], "python -m app")


def console() -> None:
    """The `orchestrator` console script."""
    sys.exit(run_command(sys.argv[1:], "orchestrator"))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
