"""Background upkeep: roll forward events whose writer died (the registry's and the streams'),
and expire lapsed leases."""
from __future__ import annotations

import logging
import threading

from ..ledger import Ledgers
from .tasks import expire_leases

log = logging.getLogger(__name__)


class Sweeper:
    """One daemon thread per server process, every `interval` seconds."""

    def __init__(self, ledgers: Ledgers, interval: float, max_attempts: int):
        self.ledgers = ledgers
        self.interval = interval
        self.max_attempts = max_attempts
        self.stopped = threading.Event()

    def stop(self) -> None:
        self.stopped.set()

    def sweep(self) -> None:
        self.ledgers.registry.roll_forward()
        self.ledgers.streams.sweep()
        expire_leases(self.ledgers, self.max_attempts)

    def run_forever(self) -> None:
        while not self.stopped.is_set():
            try:
                self.sweep()
            except Exception as error:  # database down: try again at the next tick
                log.warning("sweep failed (%s); retrying in %ss", error.__class__.__name__,
                            self.interval)
            self.stopped.wait(self.interval)

    def start(self) -> Sweeper:
        threading.Thread(target=self.run_forever, name="ledger-sweeper", daemon=True).start()
        return self
