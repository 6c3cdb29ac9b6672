"""Recent changes: ONE function, `recent_changes`, so the page can switch to the audit
trail's event feed (GET /events) once it exists, without touching the page.

For now a change is a document's newest timestamp: a registration (problem, algo, data), a
task created or requested, a task finished. Each source is one `newest` query (an index on
MongoDB); their results are merged by time.
"""
from __future__ import annotations

from typing import Any

from ..storage import Store

# (collection, timestamp field, what happened at that time); tests/test_indexes.py reads it
NEWEST_CHANGES = (
    ("problem", "timestamp_upload", "registered"),
    ("algo", "timestamp_upload", "registered"),
    ("data", "timestamp_upload", "registered"),
    ("learnuplet", "timestamp_creation", "planned"),
    ("learnuplet", "timestamp_done", "finished"),
    ("preduplet", "timestamp_request", "requested"),
    ("preduplet", "timestamp_done", "finished"),
)
NEWEST = tuple((collection, field) for collection, field, _ in NEWEST_CHANGES)


def recent_changes(store: Store, limit: int) -> list[dict[str, Any]]:
    """The `limit` newest changes, newest first: {at, collection, uuid, change, document}."""
    changes = []
    for collection, field, change in NEWEST_CHANGES:
        for document in store.newest(collection, field, limit):
            happened = document.get("status", change) if change == "finished" else change
            changes.append({"at": document[field], "collection": collection,
                            "uuid": document["uuid"], "change": happened,
                            "document": document})
    changes.sort(key=lambda item: (item["at"], item["document"].get("seq") or ""), reverse=True)
    return changes[:limit]
