"""The clock, passed to the ledger and the decisions so that they never read time themselves."""
from __future__ import annotations

import time


class SystemClock:
    """Wall time for event timestamps, monotonic time and sleep for waiting."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
