"""The task state machine as pure functions: no HTTP, no database."""
import pytest

from app.domain.errors import TransitionRefused
from app.domain.states import (
    DONE,
    FAILED,
    PENDING,
    STATUSES,
    TODO,
    WAITING,
    check_claim,
    check_report,
)

DONE_OUTCOME = {"status": DONE, "perf": 0.5, "train_perf": {"d": 0.5}, "test_perf": {"t": 0.4}}
FAILED_OUTCOME = {"status": FAILED}


def task(status, **fields):
    return {"uuid": "task-1", "worker": None, **fields, "status": status}


def finished(outcome):
    return task(**outcome)


def test_only_todo_can_be_claimed():
    check_claim("learnuplet", task(TODO))
    for status in (WAITING, PENDING, DONE, FAILED):
        with pytest.raises(TransitionRefused) as refused:
            check_claim("learnuplet", task(status, worker="w-1"))
        assert refused.value.current_status == status
        assert status in refused.value.detail


def test_done_needs_pending():
    assert check_report("learnuplet", task(PENDING), DONE_OUTCOME) is True
    for status in (WAITING, TODO):
        with pytest.raises(TransitionRefused):
            check_report("learnuplet", task(status), DONE_OUTCOME)


def test_failed_from_todo_or_pending_only():
    assert check_report("preduplet", task(TODO), FAILED_OUTCOME) is True
    assert check_report("preduplet", task(PENDING), FAILED_OUTCOME) is True
    with pytest.raises(TransitionRefused):
        check_report("preduplet", task(WAITING), FAILED_OUTCOME)


def test_identical_report_of_a_finished_task_is_a_retry():
    assert check_report("learnuplet", finished(DONE_OUTCOME), dict(DONE_OUTCOME)) is False
    assert check_report("learnuplet", task(FAILED), FAILED_OUTCOME) is False


@pytest.mark.parametrize("stored, outcome", [
    (finished(DONE_OUTCOME), FAILED_OUTCOME),
    (finished(DONE_OUTCOME), {**DONE_OUTCOME, "perf": 0.6}),
    (finished(DONE_OUTCOME), {**DONE_OUTCOME, "test_perf": {"t": 0.1}}),
    (task(FAILED), DONE_OUTCOME),
])
def test_any_other_change_to_a_finished_task_is_refused(stored, outcome):
    with pytest.raises(TransitionRefused) as refused:
        check_report("learnuplet", stored, outcome)
    assert refused.value.current_status == stored["status"]


def test_statuses_are_the_contract_ones():
    assert set(STATUSES) == {"waiting", "todo", "pending", "done", "failed"}
