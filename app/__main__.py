"""`python -m app`: the development server on HOST:PORT (default 127.0.0.1:5000).

`python -m app hash-password` reads a password on standard input and prints its hash for
ACCOUNTS_FILE (docs/api.md, Accounts).
"""
import getpass
import logging
import sys

from werkzeug.serving import WSGIRequestHandler

from . import ConfigError, create_app
from .api.passwords import hash_password

USAGE = "usage: python -m app [hash-password]"


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


def main(arguments: list[str]) -> int:
    if not arguments:
        return serve()
    if arguments == ["hash-password"]:
        return print_password_hash()
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
