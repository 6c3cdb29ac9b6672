"""Keeping a claim alive: heartbeats in a background thread while the task runs.

The first heartbeat goes out at once (the claim's answer does not say when the lease ends);
then one every `fraction` of the time left, so a heartbeat or two may be lost to an outage
before the lease lapses. A heartbeat that cannot get through (Orchestrator down, restarting,
503) is retried; only a refusal (409: the claim is no longer ours, 404, 403) ends the lease.
"""
from __future__ import annotations

import logging
import threading
import time

from .client import Client
from .documents import TaskKind
from .errors import Forbidden, NotFound, OrchestratorError, StateConflict

log = logging.getLogger(__name__)
MIN_INTERVAL = 0.5  # seconds between heartbeats, however short the lease
RETRY_INTERVAL = 2.0  # after a heartbeat that did not get through


class LeaseKeeper:
    """Heartbeats for one claimed task until stop(); `lost` is set if the claim is gone."""

    def __init__(self, client: Client, kind: TaskKind, uuid: str, worker: str,
                 fraction: float = 1 / 3):
        self.client, self.kind, self.uuid, self.worker = client, kind, uuid, worker
        self.fraction = fraction
        self.lost = threading.Event()
        self.beats = 0  # heartbeats the server accepted
        self.lease_expires: int | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{uuid[:8]}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopped.set()
        # a heartbeat under way may be retrying against an Orchestrator that is down: the
        # thread is a daemon and ends after it, nothing waits for it longer than this
        self._thread.join(timeout=1.0)

    def _run(self) -> None:
        wait = 0.0
        while not self._stopped.wait(wait):
            try:
                self.lease_expires = self.client.heartbeat(self.kind, self.uuid, self.worker)
            except (StateConflict, NotFound, Forbidden) as refused:
                if not self._stopped.is_set():  # after stop() the task is reported: 409 is normal
                    log.warning("%s %s: lease lost (%s)", self.kind, self.uuid, refused.detail)
                    self.lost.set()
                return
            except OrchestratorError as error:
                log.warning("%s %s: heartbeat did not get through (%s); retrying",
                            self.kind, self.uuid, error)
                wait = RETRY_INTERVAL
                continue
            self.beats += 1
            wait = max(MIN_INTERVAL, (self.lease_expires - time.time()) * self.fraction)
