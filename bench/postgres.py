"""What PostgreSQL says under FerretDB: rows scanned per table, and the plans of the SQL it runs.

FerretDB v1.24 on PostgreSQL stores each collection as a table of one `_jsonb` column in a
schema named after the database, and creates every index the app declares as an expression
index (`(_jsonb -> 'status'), (_jsonb -> 'seq')`). Its SQL filters with `_jsonb->$1 @> $2`
(the key a parameter, `@>` an operator no btree serves) and sorts and limits in Go, so no
query of the app uses those indexes. Two measures show what that costs:

- `Postgres.table_stats`: pg_stat_user_tables per collection (sequential scans, rows they
  read, index scans), read before and after a round: rows scanned per request;
- `sql_evidence`: auto_explain's plans of the SQL FerretDB sends for the API's filtered page,
  a lookup by `_id` and an update by `_id`, next to EXPLAIN ANALYZE of the same queries written
  by hand so that PostgreSQL can use the index.

Everything goes through `psql` (the server's own, from tools/postgres.sh's state) with the URL
tools/postgres.sh printed: no driver to install.
"""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from pymongo.database import Database

PGX_PING_AFTER_SECONDS = 1.2
COUNTERS = ("seq_scan", "seq_tup_read", "idx_scan", "idx_tup_fetch", "n_tup_ins", "n_tup_upd")
AUTO_EXPLAIN = {"auto_explain.log_min_duration": "0", "auto_explain.log_analyze": "on",
                "auto_explain.log_timing": "on", "auto_explain.log_buffers": "on"}


class Postgres:
    """The private PostgreSQL under FerretDB (tools/postgres.sh's state: URL, BIN, LOG)."""

    def __init__(self, state: dict[str, str]):
        self.url, self.log = state["URL"], Path(state["LOG"])
        self.psql = str(Path(state["BIN"]) / "psql") if state.get("BIN") else "psql"

    def sql(self, *statements: str, timeout: float = 300) -> str:
        """Run each statement on its own (ALTER SYSTEM refuses a multi-statement string)."""
        commands = [arg for statement in statements for arg in ("-c", statement)]
        done = subprocess.run([self.psql, self.url, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                               *commands], capture_output=True, text=True, timeout=timeout)
        if done.returncode:
            raise RuntimeError(f"psql: {done.stderr.strip()[:500]}")
        return done.stdout

    def tables(self, schema: str) -> dict[str, str]:
        """collection -> its table, from FerretDB's metadata table in the database's schema."""
        rows = self.sql(f"SELECT _jsonb->>'_id', _jsonb->>'table' FROM "
                        f"\"{schema}\"._ferretdb_database_metadata")
        return dict(line.split("|", 1) for line in rows.splitlines() if "|" in line)

    def table_stats(self, schema: str) -> dict[str, dict[str, int]]:
        """Cumulative counters per table of the schema (the caller subtracts two readings)."""
        columns = ", ".join(f"'{name}', {name}" for name in COUNTERS)
        rows = self.sql(f"SELECT coalesce(json_object_agg(relname, json_build_object({columns})), "
                        f"'{{}}') FROM pg_stat_user_tables WHERE schemaname = '{schema}'")
        return json.loads(rows or "{}")

    def end_ferretdb_sessions(self) -> None:
        """End FerretDB's sessions and wait for them to exit (its pool opens new ones). An
        ending session publishes its table counters at once (an idle one may hold them up to
        10 s), and a session setting changed with ALTER SYSTEM reaches only new sessions."""
        self.sql("SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                 "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                 "AND backend_type = 'client backend'")
        # FerretDB's pool (pgxpool) pings a connection before reusing it only when it has been
        # idle over a second: past that, no request of an app meets a connection ended here.
        time.sleep(PGX_PING_AFTER_SECONDS)

    def set_auto_explain(self, on: bool) -> None:
        if on:
            # LOAD first: ALTER SYSTEM accepts auto_explain's settings once the module is known
            self.sql("LOAD 'auto_explain'", "ALTER SYSTEM SET session_preload_libraries = 'auto_explain'",
                     *(f"ALTER SYSTEM SET {name} = '{value}'" for name, value in AUTO_EXPLAIN.items()),
                     "SELECT pg_reload_conf()")
        else:
            self.sql("ALTER SYSTEM RESET session_preload_libraries",
                     *(f"ALTER SYSTEM RESET {name}" for name in AUTO_EXPLAIN), "SELECT pg_reload_conf()")
        self.end_ferretdb_sessions()


def delta(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]],
          tables: dict[str, str]) -> dict[str, dict[str, int]]:
    """Counter differences per collection, only where something changed."""
    changes: dict[str, dict[str, int]] = {}
    names = {table: collection for collection, table in tables.items()}
    for table, counters in after.items():
        old = before.get(table, {})
        moved = {name: (counters.get(name) or 0) - (old.get(name) or 0) for name in COUNTERS}
        if any(moved.values()):
            changes[names.get(table, table)] = moved
    return changes


def plans_logged(log: Path, offset: int, table: str) -> list[dict[str, Any]]:
    """auto_explain's entries in the server log after `offset` whose SQL names `table`."""
    with log.open(errors="replace") as handle:
        handle.seek(offset)
        text = handle.read()
    entries: list[dict[str, Any]] = []
    for block in text.split(" LOG:  duration: ")[1:]:
        lines = block.splitlines()
        head, body = lines[0], [line.strip() for line in lines[1:] if line.startswith("\t")]
        query = next((line[len("Query Text: "):] for line in body if line.startswith("Query Text: ")), "")
        if table in query:
            entries.append({"duration_ms": float(head.split(" ms")[0]), "sql": query,
                            "plan": [line for line in body if not line.startswith("Query Text: ")]})
    return entries


def explain(pg: Postgres, statement: str) -> dict[str, Any]:
    plan = pg.sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}").splitlines()
    return {"sql": statement, "plan": plan,
            "execution_ms": next((float(line.split(":")[1].split()[0]) for line in plan
                                  if line.startswith("Execution Time")), None)}


def sql_evidence(pg: Postgres, db: Database, uuid: str) -> dict[str, Any]:
    """The plans of what FerretDB sends for the API's queries, and of the same by hand.

    Run with no app connected (auto_explain is switched on for every new session of the
    server, then off again). `uuid` is a learnuplet's; the update sets a field only the bench
    reads, on a database that is dropped afterwards."""
    schema, table = db.name, pg.tables(db.name)["learnuplet"]
    offset = pg.log.stat().st_size
    pg.set_auto_explain(True)
    sent: dict[str, Any] = {}
    try:
        started = time.perf_counter()
        list(db.learnuplet.find({"status": "todo"}, {"_id": 0}, sort=[("seq", 1)], limit=101))
        sent["filtered_page_s"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        db.learnuplet.find_one({"_id": uuid})
        sent["lookup_s"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        db.learnuplet.update_one({"_id": uuid}, {"$set": {"bench_sql_evidence": 1}})
        sent["update_s"] = round(time.perf_counter() - started, 3)
        time.sleep(0.5)  # the log is written by the server's logger process
    finally:
        pg.set_auto_explain(False)
    qualified = f'"{schema}"."{table}"'
    by_hand = {
        "filtered_page_by_hand": explain(pg, f"SELECT _jsonb FROM {qualified} WHERE _jsonb->'status' = "
                                             f"'\"todo\"' ORDER BY _jsonb->'seq' LIMIT 101"),
        "lookup_by_hand": explain(pg, f"SELECT _jsonb FROM {qualified} WHERE _jsonb->'_id' = '\"{uuid}\"'"),
        "filtered_page_as_ferretdb_sends_it": explain(
            pg, f"SELECT _jsonb FROM {qualified} WHERE _jsonb->'status' @> '\"todo\"'"),
    }
    indexes = pg.sql(f"SELECT indexdef FROM pg_indexes WHERE schemaname = '{schema}' "
                     f"AND tablename = '{table}' AND indexname LIKE '%status%'").splitlines()
    return {"table": qualified, "learnuplets": db.learnuplet.estimated_document_count(),
            "pymongo_seconds_with_auto_explain": sent,
            "sent_by_ferretdb": plans_logged(pg.log, offset, table), **by_hand,
            "status_indexes": indexes}
