"""One transition table per state machine; anything not listed is illegal."""

from __future__ import annotations

from typing import TypeVar

from pmdesk.models.enums import PlanStatus, TaskState

P = PlanStatus
T = TaskState

PLAN_TRANSITIONS: dict[PlanStatus, frozenset[PlanStatus]] = {
    P.DRAFT: frozenset({P.DISPATCHING, P.FAILED, P.CANCELLED}),
    P.DISPATCHING: frozenset({P.RUNNING, P.FAILED, P.CANCELLED}),
    # RUNNING -> FAILED when no task completed; -> VERIFYING by explicit verify.
    P.RUNNING: frozenset({P.VERIFYING, P.FAILED, P.CANCELLED}),
    P.VERIFYING: frozenset({P.VERIFIED, P.FAILED, P.CANCELLED}),
    P.VERIFIED: frozenset(),
    # Verify may be run again from FAILED, by explicit user action only.
    P.FAILED: frozenset({P.VERIFYING}),
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


class IllegalTransitionError(ValueError):
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
