"""`python -m app`: the development server on PORT (default 5000)."""
import logging
import sys

from . import ConfigError, create_app


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app = create_app()
    except ConfigError as error:
        print(f"orchestrator: cannot start: {error}", file=sys.stderr)
        return 2
    app.run(host="0.0.0.0", port=app.config["PORT"], threaded=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
