"""Every pair of states of both machines: legal ones pass, the others raise naming both."""

from __future__ import annotations

import itertools

import pytest

from pmdesk.models import IllegalTransitionError, PlanStatus, TaskState, check_plan_transition, check_task_transition

P, T = PlanStatus, TaskState

LEGAL_PLAN = {
    (P.DRAFT, P.DISPATCHING), (P.DRAFT, P.FAILED), (P.DRAFT, P.CANCELLED),
    (P.DISPATCHING, P.RUNNING), (P.DISPATCHING, P.FAILED), (P.DISPATCHING, P.CANCELLED),
    (P.RUNNING, P.VERIFYING), (P.RUNNING, P.FAILED), (P.RUNNING, P.CANCELLED),
    (P.VERIFYING, P.VERIFIED), (P.VERIFYING, P.FAILED), (P.VERIFYING, P.CANCELLED), (P.VERIFIED, P.VERIFYING),
    (P.FAILED, P.VERIFYING), (P.FAILED, P.RUNNING),  # verify again, or a task retried: by the user's action
}
LEGAL_TASK = {
    (T.CREATED, T.QUEUED), (T.CREATED, T.RUNNING), (T.CREATED, T.ERROR), (T.CREATED, T.CANCELLED),
    (T.QUEUED, T.RUNNING), (T.QUEUED, T.ERROR), (T.QUEUED, T.CANCELLED),
    (T.RUNNING, T.AWAITING_RESPONSE), (T.RUNNING, T.COMPLETE), (T.RUNNING, T.ERROR), (T.RUNNING, T.CANCELLED),
    (T.AWAITING_RESPONSE, T.RUNNING), (T.AWAITING_RESPONSE, T.ERROR), (T.AWAITING_RESPONSE, T.CANCELLED),
}


@pytest.mark.parametrize(("a", "b"), list(itertools.product(PlanStatus, PlanStatus)))
def test_plan_pairs(a: PlanStatus, b: PlanStatus) -> None:
    if (a, b) in LEGAL_PLAN:
        assert check_plan_transition(a, b) is b
    else:
        with pytest.raises(IllegalTransitionError) as info:
            check_plan_transition(a, b)
        assert a.value in str(info.value) and b.value in str(info.value)


@pytest.mark.parametrize(("a", "b"), list(itertools.product(TaskState, TaskState)))
def test_task_pairs(a: TaskState, b: TaskState) -> None:
    if (a, b) in LEGAL_TASK:
        assert check_task_transition(a, b) is b
    else:
        with pytest.raises(IllegalTransitionError) as info:
            check_task_transition(a, b)
        assert a.value in str(info.value) and b.value in str(info.value)

