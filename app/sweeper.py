"""Background roll-forward: completes events whose writer died between commit and apply."""
from __future__ import annotations

import logging
import threading

from flask import Flask

from .ledger import Ledger

log = logging.getLogger(__name__)


def start_sweeper(app: Flask, ledger: Ledger) -> threading.Thread | None:
    """One daemon thread per server process, every SWEEP_SECONDS (0 disables it)."""
    interval = app.config["SWEEP_SECONDS"]
    if not interval:
        return None

    def sweep_forever() -> None:
        while True:
            try:
                ledger.roll_forward()
            except Exception as error:  # database down: try again at the next tick
                log.warning("sweep failed (%s); retrying in %ss", error.__class__.__name__, interval)
            stop.wait(interval)

    stop = threading.Event()
    thread = threading.Thread(target=sweep_forever, name="ledger-sweeper", daemon=True)
    thread.start()
    return thread
