"""Plan changes: every write of a plan goes through here, then is published.

The changes themselves are plain functions of a ``Plan`` (``moving_to``, ``queued``,
``completion``), so the scheduler, verify and recovery share one definition of each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from pmdesk.engine.context import EngineContext
from pmdesk.models import (
    ActivityType,
    Plan,
    PlanStatus,
    PlanTask,
    Project,
    Run,
    TaskState,
    move_plan,
    move_task,
    reachable,
    utc_now,
)
from pmdesk.store import StateStore, StoreError
from pmdesk.store.state_store import Signature

PlanChange = Callable[[Plan], Any]


class PlanChanges:
    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx

    async def update(self, project: Project, plan_id: str, change: PlanChange) -> Plan:
        """Change the plan on the store worker, then tell the listeners."""
        plan = await self.ctx.disk(self.ctx.store(project).update_plan, plan_id, change)
        self.ctx.publish_plan(project, plan)
        return plan

    def update_now(self, project: Project, plan_id: str, change: PlanChange) -> Plan:
        """The same on the caller's thread: for one-off edits and for recovery, before work starts."""
        plan = self.ctx.store(project).update_plan(plan_id, change)
        self.ctx.publish_plan(project, plan)
        return plan

    async def transition(self, project: Project, plan_id: str, target: PlanStatus, **fields: Any) -> Plan:
        return await self.update(project, plan_id, moving_to(target, **fields))

    async def set_task(self, project: Project, plan_id: str, task_id: str, status: TaskState, **fields: Any) -> Plan:
        """One task to ``status`` (unless it has ended already), with ``fields`` set."""
        def change(plan: Plan) -> None:
            task = plan.task(task_id)
            if task.status.is_terminal and task.status != status:
                return
            if task.status != status:
                move_task(task, status)
            for name, value in fields.items():
                setattr(task, name, value)

        return await self.update(project, plan_id, change)

    async def complete(self, project: Project, plan: Plan) -> Plan:
        change, kind, message = completion(plan)
        done = await self.update(project, plan.plan_id, change)
        self.ctx.record(project, kind, message, plan_id=plan.plan_id, actor="system")
        return done


def moving_to(target: PlanStatus, **fields: Any) -> Callable[[Plan], None]:
    """A plan change: to ``target`` (checked), with ``fields`` set."""
    def change(plan: Plan) -> None:
        move_plan(plan, target, **fields)

    return change


def queued(made: dict[str, Run | str]) -> Callable[[Plan], None]:
    """Dispatch's one write: each task QUEUED with its run, or ERROR with why it has none; plan RUNNING."""
    def change(plan: Plan) -> None:
        for task in plan.tasks:
            run = made.get(task.task_id)
            if isinstance(run, Run):
                move_task(task, TaskState.QUEUED, run_id=run.run_id)
                copy_worktree(run, task)
            elif run is not None:
                move_task(task, TaskState.ERROR, error=run)
        if plan.status != PlanStatus.RUNNING:  # recovery links the runs of a plan that runs already
            move_plan(plan, PlanStatus.RUNNING)

    return change


WORKTREE_FIELDS = ("branch", "worktree_path", "base_commit", "start_commit", "head_commit", "changes", "no_changes")


def copy_worktree(run: Run, task: PlanTask) -> None:
    """A task shows where its run works and, once it ended, what it changed."""
    for name in WORKTREE_FIELDS:
        value = getattr(run, name)
        if value is not None and getattr(task, name) != value:
            setattr(task, name, value)


def completion(plan: Plan) -> tuple[Callable[[Plan], None], ActivityType, str]:
    """Every task has ended: the plan's change and the activity that says so."""
    completed = sum(t.status == TaskState.COMPLETE for t in plan.tasks)
    if completed == 0:
        return moving_to(PlanStatus.FAILED, completed_at=utc_now()), ActivityType.PLAN_FAILED, \
            "plan failed: no task completed"

    def change(p: Plan) -> None:
        p.completed_at = utc_now()

    return change, ActivityType.PLAN_COMPLETED, f"plan completed: {completed} of {len(plan.tasks)} tasks complete"


def _moves(task: PlanTask, run: Run) -> bool:
    """Whether the task takes its run's status: intermediate steps may have been missed, and a
    task never moves backwards (nor back to waiting)."""
    target = run.status
    return target not in (TaskState.CREATED, TaskState.QUEUED) and task.status != target and \
        target in reachable(task.status)


def _take(task: PlanTask, run: Run) -> None:
    task.status = run.status
    copy_worktree(run, task)
    if run.status in (TaskState.ERROR, TaskState.CANCELLED):
        task.error = run.error


def mirror_onto(plan: Plan, known: dict[str, Run]) -> Mirrored:
    """``plan`` with its tasks' runs mirrored, in memory, for a plan this process last wrote and
    nobody has changed since (no read, no validation). The tasks that move are copies; the rest
    are shared with ``plan``, which stays as it was (it may have been published): read only."""
    tasks = list(plan.tasks)
    moved = False
    for i, task in enumerate(tasks):
        run = known.get(task.run_id) if task.run_id and not task.status.is_terminal else None
        if run is not None and _moves(task, run):
            tasks[i] = task.model_copy()
            _take(tasks[i], run)
            moved = True
    return Mirrored(plan.model_copy(update={"tasks": tasks}) if moved else plan, moved, None)


class Mirrored(NamedTuple):
    plan: Plan
    changed: bool
    completed: tuple[ActivityType, str] | None  # the plan ended in this write: the activity to record
    signed: Signature | None = None  # the plan file's signature under the write's lock (a written mirror)


def mirror_runs(store: StateStore, plan_id: str, known: dict[str, Run] | None, *, complete: bool = True,
                write: bool = True) -> Mirrored:
    """Each unfinished task takes its run's status; written only when something changed.

    ``known`` holds the runs to look at (the latest published); None reads every task's run
    from disk. When the last task ends, the plan's completion is part of the same write, so
    no reader sees every task ended and the plan not (unless ``complete`` is False: a plan
    being cancelled ends CANCELLED instead). The plan is read once, under the write lock.
    ``write=False``: the plan as it is on disk with its runs mirrored, in memory only (what the
    scheduler decides its next starts by; their write then carries both). Files only: for the
    store worker.
    """
    completed: tuple[ActivityType, str] | None = None

    def change(p: Plan) -> bool:
        nonlocal completed
        moved = False
        for task in p.tasks:
            if not task.run_id or task.status.is_terminal:
                continue
            if known is not None:
                found = known.get(task.run_id)
                if found is None:
                    continue
                run = found
            else:
                try:
                    run = store.get_run(task.run_id)
                except StoreError:
                    continue
            if not _moves(task, run):
                continue
            _take(task, run)
            moved = True
        if moved and complete and write and p.status == PlanStatus.RUNNING and not p.completed_at and \
                all(t.status.is_terminal for t in p.tasks):
            finish, kind, message = completion(p)
            finish(p)
            completed = (kind, message)
        return moved

    if not write:  # ``changed``: the plan in memory is ahead of the one on disk
        plan = store.get_plan(plan_id)
        return Mirrored(plan, change(plan), None)
    plan, written, signed = store.update_plan_signed(plan_id, change)
    return Mirrored(plan, written, completed, signed)
