"""One transition table per state machine; anything not listed is illegal."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from pmdesk.errors import WrongStateError
from pmdesk.models.enums import PlanStatus, TaskState

P = PlanStatus
T = TaskState

PLAN_TRANSITIONS: dict[PlanStatus, frozenset[PlanStatus]] = {
    P.DRAFT: frozenset({P.DISPATCHING, P.FAILED, P.CANCELLED}),
    P.DISPATCHING: frozenset({P.RUNNING, P.FAILED, P.CANCELLED}),
    # RUNNING -> FAILED when no task completed; -> VERIFYING by explicit verify.
    P.RUNNING: frozenset({P.VERIFYING, P.FAILED, P.CANCELLED}),
    P.VERIFYING: frozenset({P.VERIFIED, P.FAILED, P.CANCELLED}),
    # VERIFIED -> VERIFYING only to rebuild the integration on a branch that moved (verify --rebase).
    P.VERIFIED: frozenset({P.VERIFYING}),
    # Verify may be run again from FAILED, by explicit user action only; so may a task be retried,
    # which takes the plan back to RUNNING until it ends.
    P.FAILED: frozenset({P.VERIFYING, P.RUNNING}),
    P.CANCELLED: frozenset(),
}

TASK_TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    T.CREATED: frozenset({T.QUEUED, T.RUNNING, T.ERROR, T.CANCELLED}),
    T.QUEUED: frozenset({T.RUNNING, T.ERROR, T.CANCELLED}),
    T.RUNNING: frozenset({T.AWAITING_RESPONSE, T.COMPLETE, T.ERROR, T.CANCELLED}),
    T.AWAITING_RESPONSE: frozenset({T.RUNNING, T.ERROR, T.CANCELLED}),
    T.COMPLETE: frozenset(),
    T.ERROR: frozenset(),
    T.CANCELLED: frozenset(),
}


class IllegalTransitionError(WrongStateError, ValueError):
    def __init__(self, machine: str, current: str, target: str) -> None:
        super().__init__(f"illegal {machine} transition {current} -> {target}")
        self.current = current
        self.target = target


S = TypeVar("S", PlanStatus, TaskState)


def _check(table: dict[S, frozenset[S]], machine: str, current: S, target: S) -> S:
    if target not in table[current]:
        raise IllegalTransitionError(machine, current.value, target.value)
    return target


def check_plan_transition(current: PlanStatus, target: PlanStatus) -> PlanStatus:
    return _check(PLAN_TRANSITIONS, "plan", current, target)


def check_task_transition(current: TaskState, target: TaskState) -> TaskState:
    return _check(TASK_TRANSITIONS, "task", current, target)


def reachable(current: TaskState) -> frozenset[TaskState]:
    """Every state a task can reach from ``current`` in one or more steps."""
    seen: set[TaskState] = set()
    frontier = [current]
    while frontier:
        for nxt in TASK_TRANSITIONS[frontier.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return frozenset(seen)


class _HasTaskState(Protocol):
    status: TaskState


class _HasPlanStatus(Protocol):
    status: PlanStatus


def move_task(record: _HasTaskState, target: TaskState, **fields: Any) -> None:
    """Check, set the status, set the fields: the one way a run or task changes state."""
    record.status = check_task_transition(record.status, target)
    for name, value in fields.items():
        setattr(record, name, value)


def move_plan(plan: _HasPlanStatus, target: PlanStatus, **fields: Any) -> None:
    """The same for a plan."""
    plan.status = check_plan_transition(plan.status, target)
    for name, value in fields.items():
        setattr(plan, name, value)


RETRYABLE = frozenset({T.ERROR, T.CANCELLED, T.COMPLETE})  # COMPLETE only when it changed nothing


def retry_task(task: _HasTaskState, **fields: Any) -> None:
    """A task that ended goes back to QUEUED for a new run: the one way out of an ended state,
    and only by the user's explicit retry."""
    if task.status not in RETRYABLE:
        raise IllegalTransitionError("task", task.status.value, T.QUEUED.value)
    task.status = T.QUEUED
    for name, value in fields.items():
        setattr(task, name, value)
