"""Index declarations: every query the API makes has one (tests/test_indexes.py checks it).

A document's `_id` is its uuid, so a lookup by uuid needs no index of its own (and a unique
`uuid` index would only cost a second index write per document). Lists are paged in `seq`
order, so every list filter has an index ending in `seq`.
"""
from __future__ import annotations

ASC, DESC = 1, -1
Index = list[tuple[str, int]]


def _filters(*fields: str) -> list[Index]:
    return [[(name, ASC), ("seq", ASC)] for name in fields]


INDEXES: dict[str, list[Index]] = {
    "problem": [[("seq", ASC)], *_filters("workflow", "test_dataset", "size_train_dataset",
                                          "timestamp_upload")],
    "algo": [[("seq", ASC)], *_filters("problem", "name", "timestamp_upload")],
    # data_before: a problem's data in upload order
    "data": [[("seq", ASC)], *_filters("problems", "timestamp_upload")],
    "learnuplet": [[("seq", ASC)], *_filters(
        "problem", "workflow", "algo", "status", "worker", "rank", "model_start", "model_end",
        "train_data", "test_data", "timestamp_creation", "timestamp_done", "perf"),
        [("status", ASC), ("lease_expires", ASC)]],  # stale_leases
    "preduplet": [[("seq", ASC)], *_filters(
        "problem", "workflow", "data", "model", "status", "worker", "prediction_storage_uuid",
        "timestamp_request", "timestamp_done"),
        [("status", ASC), ("lease_expires", ASC)]],
    "chain": [[("problem", ASC)]],  # chains_of
    "outbox": [[("state", ASC), ("next_attempt", ASC)]],  # due_deliveries
    "stream_events": [[("ms", ASC)]],  # events_since (the stream sweep)
}
