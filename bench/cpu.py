"""CPU time by component (an app's gunicorn processes, FerretDB, PostgreSQL), from /proc.

On two cores every scenario is CPU-bound, so where a request's CPU goes (the app's Python,
FerretDB's Go, PostgreSQL's scans) says why one app is slower than the other, and whether
that part grows with the database. A component is a process and its children (gunicorn's
workers, PostgreSQL's backends); a child that exits within a round takes its time with it
(none should: the servers keep their workers and FerretDB its connections).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields from the 3rd on (state, ppid, ...)


def _tree(root: int) -> list[int]:
    """`root` and its children (one level is enough: gunicorn's workers, PostgreSQL's backends)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and int(fields[1]) == root:
                children.append(int(entry.name))
    return [root, *children]


def cpu_seconds(roots: dict[str, int | None]) -> dict[str, dict[int, float]]:
    """Per component, the user + system CPU seconds of each of its processes so far."""
    out: dict[str, dict[int, float]] = {}
    for name, root in roots.items():
        if not root:
            continue
        out[name] = {}
        for pid in _tree(root):
            fields = _stat(pid)
            if fields:  # utime and stime: the 14th and 15th fields
                out[name][pid] = (int(fields[11]) + int(fields[12])) / TICKS
    return out


def used(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
    """CPU seconds per component between two readings (a process new since `before` counts whole)."""
    return {name: round(sum(seconds - before.get(name, {}).get(pid, 0.0) for pid, seconds in pids.items()), 3)
            for name, pids in after.items()}


def wait_idle(roots: dict[str, int | None], cores: float = 0.2, window: float = 0.5,
              limit: float = 120.0) -> float:
    """Wait until the components together use less than `cores` of CPU over `window` seconds;
    returns the seconds waited (at most `limit`). A request a client gave up on still runs in
    the database without sending a new command, and would be counted against the next round."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = cpu_seconds(roots)
        time.sleep(window)
        if sum(used(before, cpu_seconds(roots)).values()) < cores * window:
            break
    return round(time.monotonic() - started, 1)
