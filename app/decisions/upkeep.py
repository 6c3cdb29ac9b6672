"""Background upkeep: roll forward events whose writer died (the registry's and the streams'),
expire lapsed leases, and seal applied events into the audit chain."""
from __future__ import annotations

import logging
import threading

from ..ledger import Ledgers
from ..ledger.sealing import Sealer
from .tasks import expire_leases

log = logging.getLogger(__name__)
# The stream sweep reads the stream events of the last minute or two, and the documents that
# show them applied: it runs every this many ticks (30 s by default). An event a writer left
# behind is usually applied sooner, by the next decision on its stream.
STREAM_SWEEP_EVERY = 6
# The sealer reads the same minutes (and the audit entries of them): on a server that scans a
# collection for each of those reads (FerretDB) every tick would cost each idle process a few
# scans every 5 s, so it runs with the stream sweep, after it (what the sweep applied is sealed).


def sweep_once(ledgers: Ledgers, max_attempts: int, seal: bool = True) -> dict[str, int]:
    """One sweep now, from a command (`flask sweep`), beside any running server: what the
    start-up and a sweeper tick do. A registry event still pending is first given its writer's
    time to finish (settle), as at start-up. Returns what it did, by kind."""
    registry = ledgers.registry
    registry.ensure_head()
    before = registry.head()
    registry.settle(before)
    registry.roll_forward()
    done = {"registry_events_applied": registry.head() - before,
            "stream_events_applied": ledgers.streams.sweep(),
            "leases_expired": expire_leases(ledgers, max_attempts)}
    if seal:
        done["events_sealed"] = Sealer(ledgers.streams).seal()
    return done


class Sweeper:
    """One daemon thread per server process, every `interval` seconds."""

    def __init__(self, ledgers: Ledgers, interval: float, max_attempts: int, seal: bool = True):
        self.ledgers = ledgers
        self.sealer = Sealer(ledgers.streams) if seal else None
        self.interval = interval
        self.max_attempts = max_attempts
        self.stopped = threading.Event()
        # GET /ready reports a sweep that keeps failing: committed events may stay unapplied
        self.failing_since: float | None = None
        self.last_error = ""
        self.ticks = 0
        self.registry_stuck_at: int | None = None  # the head, when an event was pending after it

    def stop(self) -> None:
        self.stopped.set()

    def sweep(self) -> None:
        self.roll_registry_forward()
        streams = self.ticks % STREAM_SWEEP_EVERY == 0  # the first tick: the start-up sweep
        if streams:
            self.ledgers.streams.sweep()
        self.ticks += 1
        expire_leases(self.ledgers, self.max_attempts)
        if streams and self.sealer:
            self.sealer.seal()

    def roll_registry_forward(self) -> None:
        """Apply the registry events left unapplied since the previous tick.

        An event committed moments ago is normally being applied by its writer right now:
        applying it at the same time would do its work twice and take its follow-up (planning
        the chains) from under it, so the writer would answer `new_learnuplets: 0`. An event
        still pending one whole tick later has lost its writer.
        """
        registry = self.ledgers.registry
        head = registry.head()
        if registry.next_event(head) is None:
            self.registry_stuck_at = None
        elif self.registry_stuck_at == head:
            registry.roll_forward()
            self.registry_stuck_at = None
        else:
            self.registry_stuck_at = head

    def run_forever(self) -> None:
        """Sweep at once (the start-up sweep, off the request path), then every interval."""
        clock = self.ledgers.streams.clock
        while not self.stopped.is_set():
            try:
                self.sweep()
                self.failing_since = None
            except Exception as error:  # database down: try again at the next tick
                self.last_error = error.__class__.__name__
                if self.failing_since is None:
                    self.failing_since = clock.monotonic()
                log.warning("sweep failed (%s); retrying in %ss", self.last_error, self.interval)
            self.stopped.wait(self.interval)

    def failing_for(self) -> float:
        """Seconds the sweep has been failing (0 when its last run succeeded)."""
        if self.failing_since is None:
            return 0.0
        return self.ledgers.streams.clock.monotonic() - self.failing_since

    def start(self) -> Sweeper:
        self.thread = threading.Thread(target=self.run_forever, name="ledger-sweeper", daemon=True)
        self.thread.start()
        return self

    def join(self, timeout: float) -> None:
        """Wait for the thread to finish the sweep under way (after stop())."""
        self.thread.join(timeout)
