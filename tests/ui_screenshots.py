"""Regenerate docs/dashboard-<page>.png, one screenshot per /ui page:

    python -m tests.ui_screenshots [folder]      # default: docs/

Builds the history of tests/dashboard_history.py through the API on an app with an in-memory
store, serves it on a loopback port and photographs each page in headless Chromium (Debian's
`chromium` and `chromium-driver`, as the browser test needs). Takes a few seconds.
"""
from __future__ import annotations

import base64
import sys
import threading
from pathlib import Path

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))  # the tests' helpers import each other by module name

from conftest import PASSWORD, USER, ApiClient  # noqa: E402
from dashboard_browser import chromium, load, screenshot  # noqa: E402
from dashboard_history import build_history, pages  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from app import create_app, stop_background  # noqa: E402

DOCS = TESTS.parent / "docs"


def main(folder: Path = DOCS) -> list[Path]:
    app = create_app({"USER_AUTH": USER, "PWD_AUTH": PASSWORD, "SWEEP_SECONDS": 0,
                      "DATA_DIR": ":memory:"})
    client = ApiClient(app.test_client())
    client.headers = {"Authorization": "Basic " +
                      base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
    history = build_history(client)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    written = []
    try:
        with chromium(USER, PASSWORD) as driver:
            for name, path in pages(history).items():
                loaded = load(driver, f"http://127.0.0.1:{server.server_port}{path}")
                if loaded["console"]:
                    raise SystemExit(f"{name}: the console says {loaded['console']}")
                target = folder / f"dashboard-{name}.png"
                screenshot(driver, target)
                written.append(target)
    finally:
        server.shutdown()
        stop_background(app)
    return written


if __name__ == "__main__":
    for written_path in main(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS):
        print(written_path)
