"""engine/plans/rules.py: which actions a plan allows, for every state — the one table clients share."""

from __future__ import annotations

import re

import pytest

from pmdesk.engine.plans.rules import PlanAction, PlanStateError, allowed_actions, require
from pmdesk.models import GateCheck, GateResult, Plan, PlanStatus, PlanTask, TaskState, new_id

P, T = PlanStatus, TaskState
D, K, C, V = PlanAction.DISPATCH, PlanAction.CONTINUE, PlanAction.CANCEL, PlanAction.VERIFY


def plan(status: PlanStatus, *states: TaskState) -> Plan:
    return Plan(plan_id=new_id("plan"), project_id="pidx_0123456789ab", status=status,
                tasks=[PlanTask(task_id=new_id("ptask"), description=f"t{i}", status=s) for i, s in enumerate(states)])


A, X = PlanAction.ARCHIVE, PlanAction.DELETE  # a plan at rest can be put away


def failed_verify() -> Plan:
    found = plan(P.FAILED, T.COMPLETE)
    found.gate_result = GateResult(passed=False, checks=[GateCheck(name="gate:all", passed=False, message="no")])
    found.verify_run_id = new_id("run")
    return found


def archived() -> Plan:
    found = plan(P.VERIFIED, T.COMPLETE)
    found.archived_at = "2026-12-01T00:00:00.000Z"
    return found


CASES = [
    # plan, live, what is allowed
    (plan(P.DRAFT, T.CREATED), False, {PlanAction.EDIT, D, C, A, X}),
    (plan(P.DRAFT), False, {PlanAction.EDIT, C, A, X}),  # nothing to dispatch
    (plan(P.DISPATCHING, T.QUEUED), False, {C}),
    (plan(P.RUNNING, T.COMPLETE, T.QUEUED), False, {K, C}),  # nobody schedules it: it can be continued
    (plan(P.RUNNING, T.COMPLETE, T.QUEUED), True, {C}),
    (plan(P.RUNNING, T.COMPLETE, T.AWAITING_RESPONSE), False, {K, C}),
    (plan(P.RUNNING, T.COMPLETE, T.COMPLETE), False, {V, C}),
    (plan(P.RUNNING, T.COMPLETE, T.ERROR), False, {V, C}),  # with a confirmation
    (plan(P.VERIFYING, T.COMPLETE), True, {C}),
    (plan(P.VERIFIED, T.COMPLETE), False, {A, X}),
    (plan(P.FAILED, T.COMPLETE), False, {V, A, X}),  # verify again, by the user's action
    (failed_verify(), False, {V, PlanAction.FIX, A, X}),  # or plan fixes for what it found
    (failed_verify(), True, set()),  # not while it is being verified
    (plan(P.FAILED), False, {A, X}),  # a failed generation has nothing to verify
    (plan(P.CANCELLED, T.CANCELLED), False, {A, X}),
    (archived(), False, {PlanAction.RESTORE, X}),
]


@pytest.mark.parametrize(("subject", "live", "allowed"), CASES)
def test_allowed_actions_in_every_state(subject: Plan, live: bool, allowed: set[PlanAction]) -> None:
    verdicts = allowed_actions(subject, live)
    assert {a for a, v in verdicts.items() if v.allowed} == allowed
    for action, verdict in verdicts.items():
        if not verdict.allowed:
            assert verdict.reason, f"{action} is refused without a reason"
            with pytest.raises(PlanStateError, match=re.escape(verdict.reason)):
                require(subject, action, live)


def test_verify_with_incomplete_tasks_needs_confirmation() -> None:
    subject = plan(P.RUNNING, T.COMPLETE, T.ERROR)
    verdict = allowed_actions(subject)[V]
    assert verdict.allowed and verdict.confirm == f"1 task(s) of plan {subject.plan_id} did not complete"
    with pytest.raises(PlanStateError, match="--force"):
        require(subject, V)
    require(subject, V, confirmed=True)
