"""What a piece of work cost the database: FerretDB's commands and PostgreSQL's scanned rows.

Commands are FerretDB's own counters (serverStatus → metrics.commands, without monitoring and
handshakes: bench/servers.py's Counters), exact at once. On the PostgreSQL backend, the rows
its sequential scans read per collection come from pg_stat_user_tables (bench/postgres.py),
published by a session only when it ends or sits idle: each reading therefore waits until
FerretDB is quiet and ends FerretDB's sessions first.

The Orchestrator's sweeper (every SWEEP_SECONDS in each server process) also queries the
database whatever else runs, so the costs per request are measured with the servers stopped
(bench/costs.py), and the sweeper on its own there too.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from pymongo import uri_parser

from .postgres import Postgres, delta
from .servers import Counters


class Meter:
    def __init__(self, counters: Counters, pg: Postgres | None, schema: str):
        self.counters, self.pg, self.schema = counters, pg, schema

    def read(self) -> dict[str, Any]:
        self.counters.wait_quiet(quiet=0.5, limit=60)
        tables: dict[str, Any] = {}
        if self.pg is not None:
            self.pg.end_ferretdb_sessions()
            tables = self.pg.table_stats(self.schema)
        return {"at": time.monotonic(), "commands": self.counters.read()[0], "tables": tables}

    def difference(self, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
        names = self.pg.tables(self.schema) if self.pg is not None else {}
        return {"seconds": round(after["at"] - before["at"], 2),
                "commands": after["commands"] - before["commands"],
                "tables": delta(before["tables"], after["tables"], names)}

    def cost(self, before: dict[str, Any], after: dict[str, Any], requests: int) -> dict[str, Any]:
        return per(self.difference(before, after), requests, round(after["at"] - before["at"], 2))


def from_environment(uri: str) -> Meter | None:
    """A Meter on the PostgreSQL under FerretDB, if BENCH_POSTGRES_STATE names tools/postgres.sh's
    state file (bench/costs.py and bench/roundtrips.py, run by bench/run.py as subprocesses)."""
    state = os.environ.get("BENCH_POSTGRES_STATE")
    if not state:
        return None
    config = dict(line.split("=", 1) for line in Path(state).read_text().splitlines() if "=" in line)
    return Meter(Counters(uri), Postgres(config), uri_parser.parse_uri(uri)["database"])


def per(moved: dict[str, Any], divisor: float, seconds: float) -> dict[str, Any]:
    """Commands and scans per request."""
    divisor = divisor or 1
    commands = {name: round(count / divisor, 2) for name, count in sorted(moved["commands"].items())
                if round(count / divisor, 2)}
    return {"per": divisor, "seconds": seconds,
            "commands": commands, "commands_total": round(sum(moved["commands"].values()) / divisor, 2),
            "seq_scans": {table: round(c["seq_scan"] / divisor, 2) for table, c in moved["tables"].items()
                          if round(c["seq_scan"] / divisor, 2)},
            "rows_scanned": {table: round(c["seq_tup_read"] / divisor) for table, c in moved["tables"].items()
                             if round(c["seq_tup_read"] / divisor)},
            "rows_scanned_total": round(sum(c["seq_tup_read"] for c in moved["tables"].values()) / divisor)}
