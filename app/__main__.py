"""The command line: `orchestrator COMMAND` (the console script `pip install .` installs) and
`python -m app [COMMAND]` (from a checkout; no command: run).

- run: the development server on HOST:PORT (default 127.0.0.1:5000); production runs gunicorn
  (docs/deployment.md).
- hash-password: reads a password on standard input and prints its hash for ACCOUNTS_FILE
  (docs/api.md, Accounts).
- version: prints the version (also GET /version).
"""
import argparse
import getpass
import logging
import sys
from collections.abc import Callable

from werkzeug.serving import WSGIRequestHandler

from . import ConfigError, __version__, create_app
from .api.passwords import hash_password


class QuietRequestHandler(WSGIRequestHandler):
    """The development server without its `Server: Werkzeug/<version> Python/<version>`."""

    def version_string(self) -> str:
        return "orchestrator"


def serve() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
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


COMMANDS: dict[str, tuple[Callable[[], int], str]] = {
    "run": (serve, "start the server on HOST:PORT (the development server; see "
                   "docs/deployment.md for gunicorn)"),
    "hash-password": (print_password_hash, "read a password on standard input and print its "
                                           "hash for ACCOUNTS_FILE"),
    "version": (print_version, "print the version"),
}


def run_command(arguments: list[str], program: str) -> int:
    """Run one command; a wrong one prints the usage and exits with status 2."""
    parser = argparse.ArgumentParser(
        prog=program, description="The Morpheo Orchestrator. Settings come from the environment "
                                  "(USER_AUTH, PWD_AUTH, MONGO_URI...: docs/configuration.md).")
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, description) in COMMANDS.items():
        commands.add_parser(name, help=description, description=description)
    return COMMANDS[parser.parse_args(arguments).command][0]()


def main(arguments: list[str]) -> int:
    """`python -m app [COMMAND]`: without a command, run the server (the README's quick start)."""
    return run_command(arguments or ["run"], "python -m app")


def console() -> None:
    """The `orchestrator` console script."""
    sys.exit(run_command(sys.argv[1:], "orchestrator"))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
