"""Which actions a plan allows now, and why not: the one rule for the engine, window and API.

The engine's preconditions call ``require`` (a refusal is a ``PlanStateError``, HTTP 409),
the window enables its buttons and menu items from ``allowed_actions`` and shows the reason
as the tooltip of a disabled one, and the API answers 409 with the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pmdesk.errors import WrongStateError
from pmdesk.models import Plan, PlanStatus, TaskState

ENDED = (PlanStatus.VERIFIED, PlanStatus.CANCELLED, PlanStatus.FAILED)


class PlanStateError(WrongStateError):
    """The plan is not in a state that allows this action (HTTP 409)."""


class PlanAction(StrEnum):
    EDIT = "edit"
    DISPATCH = "dispatch"
    CONTINUE = "continue"
    VERIFY = "verify"
    CANCEL = "cancel"
    RESOLVE = "resolve"
    MERGE = "merge"
    CLEAN = "clean"
    REBASE = "rebase"
    FIX = "fix"
    ARCHIVE = "archive"
    RESTORE = "restore"
    DELETE = "delete"


@dataclass(frozen=True)
class Verdict:
    """Whether an action applies; ``reason`` says why not, ``confirm`` what the user must accept first."""

    allowed: bool
    reason: str | None = None
    confirm: str | None = None


YES = Verdict(True)


def verdict(plan: Plan, action: PlanAction, live: bool = False) -> Verdict:
    """``live``: this process is scheduling or verifying the plan right now."""
    pid, status = plan.plan_id, plan.status
    if action == PlanAction.EDIT:
        return YES if status == PlanStatus.DRAFT else \
            Verdict(False, f"plan {pid} is {status.value}; only a DRAFT plan can be edited")
    if action == PlanAction.DISPATCH:
        if status != PlanStatus.DRAFT:
            return Verdict(False, f"plan {pid} is {status.value}; only a DRAFT plan can be dispatched")
        return YES if plan.tasks else Verdict(False, f"plan {pid} has no tasks")
    if action == PlanAction.CONTINUE:
        if status != PlanStatus.RUNNING:
            return Verdict(False, f"plan {pid} is {status.value}; only a RUNNING plan can be continued")
        if live:
            return Verdict(False, f"plan {pid} is being scheduled already")
        if all(t.status.is_terminal for t in plan.tasks):
            return Verdict(False, f"plan {pid} has already run all its tasks; verify it with 'pmdesk verify {pid}'")
        return YES
    if action == PlanAction.CANCEL:
        return Verdict(False, f"plan {pid} has already ended ({status.value})") if status in ENDED else YES
    if action == PlanAction.RESOLVE:
        if plan.integration is None or plan.integration.conflict is None:
            return Verdict(False, f"plan {pid} has no merge conflict to resolve")
        return Verdict(False, f"plan {pid} is being verified") if live else YES
    if action == PlanAction.MERGE:
        return _merge(plan, live)
    if action == PlanAction.REBASE:
        if not plan.base_commit or plan.merge is not None:
            return Verdict(False, f"plan {pid} has no unmerged integration to rebuild")
        if status not in (PlanStatus.VERIFIED, PlanStatus.FAILED) or live:
            return Verdict(False, f"plan {pid} is {status.value}; a verified or failed plan's integration can be "
                                  "rebuilt")
        return YES
    if action == PlanAction.CLEAN:
        if not plan.base_commit:
            return Verdict(False, f"plan {pid} has no worktrees")
        if live or status in (PlanStatus.DISPATCHING, PlanStatus.VERIFYING) or \
                (status == PlanStatus.RUNNING and not all(t.status.is_terminal for t in plan.tasks)):
            return Verdict(False, f"plan {pid} is still working in its worktrees")
        return YES
    if action == PlanAction.FIX:
        if status != PlanStatus.FAILED or plan.gate_result is None or not plan.verify_run_id:
            return Verdict(False, f"plan {pid} is {status.value}; fixes are planned for a plan whose verify failed")
        if live:
            return Verdict(False, f"plan {pid} is being verified")
        if plan.integration is not None and plan.integration.conflict is not None:
            return Verdict(False, f"plan {pid} stopped at a merge conflict: resolve it first")
        return YES
    if action in (PlanAction.ARCHIVE, PlanAction.RESTORE, PlanAction.DELETE):
        return _shelve(plan, action, live)
    return _verify(plan, live)


def _shelve(plan: Plan, action: PlanAction, live: bool) -> Verdict:
    """Archive, restore or delete: only a plan at rest (DRAFT or ended), and never one that
    still has worktrees (their work would lose its plan)."""
    pid, status = plan.plan_id, plan.status
    if action == PlanAction.RESTORE:
        return YES if plan.archived_at else Verdict(False, f"plan {pid} is not archived")
    if action == PlanAction.ARCHIVE and plan.archived_at:
        return Verdict(False, f"plan {pid} is archived already")
    if live or status not in (PlanStatus.DRAFT, *ENDED):
        return Verdict(False, f"plan {pid} is {status.value}; only a DRAFT or ended plan can be "
                              f"{'archived' if action == PlanAction.ARCHIVE else 'deleted'}")
    if action == PlanAction.DELETE and has_worktrees(plan):
        return Verdict(False, f"plan {pid} still has worktrees; clean them up first (their work is kept under a "
                              "backup ref), then delete the plan")
    return YES


def has_worktrees(plan: Plan) -> bool:
    folders = [t.worktree_path for t in plan.tasks if t.worktree_path]
    if plan.integration is not None:
        folders.append(plan.integration.worktree_path)
    return any(Path(folder).exists() for folder in folders)


def _merge(plan: Plan, live: bool) -> Verdict:
    pid = plan.plan_id
    if plan.in_place or (plan.status != PlanStatus.DRAFT and not plan.base_commit):
        return Verdict(False, f"plan {pid} ran in the project folder: there is no branch to merge")
    if plan.merge is not None:
        return Verdict(False, f"plan {pid} is merged already (into {plan.merge.into_branch}, {plan.merge.commit[:10]})")
    if live:
        return Verdict(False, f"plan {pid} is still being dispatched or verified")
    if plan.integration is None or not plan.integration.head_commit or plan.integration.conflict is not None:
        return Verdict(False, f"plan {pid} has no integration branch yet: verify it first")
    if plan.status != PlanStatus.VERIFIED:
        return Verdict(True, confirm=f"plan {pid} is {plan.status.value}, not VERIFIED")
    return YES


def _verify(plan: Plan, live: bool) -> Verdict:
    """Spec: RUNNING with all tasks complete; DESIGN: also when all ended (with confirmation), and FAILED."""
    pid = plan.plan_id
    busy = Verdict(False, f"plan {pid} is still being dispatched or verified")
    if plan.status == PlanStatus.FAILED:
        if live:
            return busy
        return YES if plan.tasks else Verdict(False, f"plan {pid} has no tasks to verify")
    if plan.status != PlanStatus.RUNNING:
        return Verdict(False, f"plan {pid} is {plan.status.value}; verify needs a RUNNING plan whose tasks are "
                              "complete, or a FAILED plan")
    unfinished = [t for t in plan.tasks if not t.status.is_terminal]
    if unfinished:
        return Verdict(False, f"plan {pid} still has {len(unfinished)} unfinished task(s)")
    if live:
        return busy
    incomplete = [t for t in plan.tasks if t.status != TaskState.COMPLETE]
    if incomplete:
        return Verdict(True, confirm=f"{len(incomplete)} task(s) of plan {pid} did not complete")
    return YES


def allowed_actions(plan: Plan, live: bool = False) -> dict[PlanAction, Verdict]:
    return {action: verdict(plan, action, live) for action in PlanAction}


def require(plan: Plan, action: PlanAction, live: bool = False, confirmed: bool = False) -> None:
    """Raise ``PlanStateError`` unless the action applies (and what needs confirming was confirmed)."""
    found = verdict(plan, action, live)
    if not found.allowed:
        raise PlanStateError(found.reason or f"{action.value} does not apply to plan {plan.plan_id}")
    if found.confirm and not confirmed:
        what = "verify with --force to run the gates anyway" if action == PlanAction.VERIFY else \
            f"{action.value} with --force to go ahead anyway"
        raise PlanStateError(f"{found.confirm}; {what}")


def retry_verdict(plan: Plan, task_id: str, live: bool = False) -> Verdict:
    """Whether a task can be retried: it ended in ERROR or CANCELLED, or completed with no
    changes; its plan is RUNNING or FAILED (not being verified, not merged)."""
    pid = plan.plan_id
    task = next((t for t in plan.tasks if t.task_id == task_id), None)
    if task is None:
        return Verdict(False, f"plan {pid} has no task {task_id}")
    if plan.status not in (PlanStatus.RUNNING, PlanStatus.FAILED):
        return Verdict(False, f"plan {pid} is {plan.status.value}; a task is retried in a RUNNING or FAILED plan")
    if plan.merge is not None:
        return Verdict(False, f"plan {pid} is merged already")
    if live and plan.status != PlanStatus.RUNNING:
        return Verdict(False, f"plan {pid} is being verified")
    if task.status in (TaskState.ERROR, TaskState.CANCELLED) or (task.status == TaskState.COMPLETE and task.no_changes):
        return YES
    what = "completed with changes" if task.status == TaskState.COMPLETE else f"is {task.status.value}"
    return Verdict(False, f"task {task_id} {what}; only a task that failed, was cancelled or changed nothing "
                          "is retried")
