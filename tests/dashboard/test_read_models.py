"""The dashboard's read models on their own: tasks by status from a chain document, chart
coordinates, times as text, and how an event reads as a change."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.dashboard.charts import HEIGHT, Scale, heat_level, learning_curve
from app.dashboard.counts import chain_counts, total_counts
from app.dashboard.recent import describe
from app.dashboard.text import duration_text, perf_text, utc_text


def chain(**fields):
    return {"uuid": "a", "problem": "p", "length": 0, "active": None, "next_waiting": None,
            "best": None, "failed": 0, **fields}


@pytest.mark.parametrize("fields, expected", [
    # waiting, todo, pending, done, failed, finished
    ({}, (0, 0, 0, 0, 0, 0)),
    ({"length": 5, "active": 0, "next_waiting": 1, "running_status": "todo"}, (4, 1, 0, 0, 0, 0)),
    ({"length": 5, "active": 3, "next_waiting": 4, "running_status": "pending", "failed": 1},
     (1, 0, 1, 2, 1, 3)),
    ({"length": 5, "active": 4, "running_status": "pending"}, (0, 0, 1, 4, 0, 4)),
    ({"length": 5, "failed": 2}, (0, 0, 0, 3, 2, 5)),  # idle: every rank finished
])
def test_tasks_by_status_from_the_chain_document(fields, expected):
    counts = chain_counts(chain(**fields))
    assert tuple(counts[name] for name in ("waiting", "todo", "pending", "done", "failed",
                                           "finished")) == expected


def test_a_chain_without_its_failed_count_knows_finished_only():
    older = {name: value for name, value in chain(length=3).items() if name != "failed"}
    counts = chain_counts(older)
    assert counts["finished"] == 3 and counts["done"] is None and counts["failed"] is None
    total = total_counts([older, chain(length=2, failed=1)])
    assert total["finished"] == 5 and total["done"] is None and total["failed"] is None


def test_a_learning_curve_marks_failed_ranks_and_joins_done_ones():
    tasks = [{"rank": 2, "status": "done", "perf": 0.9}, {"rank": 0, "status": "done", "perf": 0.5},
             {"rank": 1, "status": "failed", "perf": None}, {"rank": 3, "status": "todo"}]
    curve = learning_curve(tasks, 4, Scale.of([0.5, 0.9]))
    assert len(curve.dots) == 2 and len(curve.failed) == 1
    (x0, y0, _), (x2, y2, _) = curve.dots
    assert x0 < curve.failed[0][0] < x2  # rank order along x
    assert y2 < y0  # higher perf is drawn higher
    assert curve.line == f"{x0},{y0} {x2},{y2}"


def test_scales_with_one_value_or_none():
    assert Scale.of([]).high > Scale.of([]).low
    single = Scale.of([0.7, None])
    assert single.low < 0.7 < single.high and 0 < single.y(0.7) < HEIGHT
    assert heat_level(None, single) is None
    assert [heat_level(value, Scale.of([0, 1])) for value in (0, 0.5, 1)] == [0, 4, 7]


@pytest.mark.parametrize("timestamp", [0, 951_782_400, 1_700_000_000.9, 4_102_444_799,
                                       1_709_208_000])  # 2000-02-29, 2024-02-29
def test_times_are_utc_as_datetime_writes_them(timestamp):
    expected = datetime.fromtimestamp(int(timestamp), UTC).strftime(
        "%Y-%m-%d %H:%M:%S UTC")
    assert utc_text(timestamp) == expected


def test_durations_and_perfs_as_text():
    assert utc_text(None) == duration_text(None) == perf_text(None) == "—"
    assert duration_text(65) == "in 1 m 05 s" and duration_text(-3) == "3 s ago"
    assert perf_text(0.123456) == "0.1235"


def test_events_read_as_changes():
    report = describe({"kind": "task_reported", "by": "w", "ms": 1_000_500, "uuid": "t",
                       "algo": "a", "outcome": {"status": "done", "perf": 0.8},
                       "chain": {"problem": "p", "running_worker": "holder"}})
    assert (report["at"], report["status"], report["perf"], report["worker"], report["problem"]) \
        == (1000.5, "done", 0.8, "holder", "p")
    given_up = describe({"kind": "task_reported", "ms": 1, "uuid": "t", "algo": "a",
                         "outcome": {"status": "failed", "worker": "giver"}, "chain": None})
    assert given_up["worker"] == "giver" and given_up["problem"] is None
    data = describe({"kind": "data_registered", "at": 5, "data": ["d1", "d2"], "problems": ["p"]})
    assert (data["at"], data["count"], data["problem"], data["what"]) == (5, 2, "p",
                                                                         "data registered")
    lapsed = describe({"kind": "lease_expired", "ms": 1, "uuid": "t", "status": "todo",
                       "worker": "w", "chain": None})
    assert lapsed["what"] == "lease lapsed, runs again" and lapsed["worker"] == "w"
    assert describe({"kind": "something_new", "ms": 1})["what"] is None  # shown by its kind
