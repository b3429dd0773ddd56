"""After a crash: plans left DISPATCHING, RUNNING or VERIFYING by a dead process. Nothing is re-run.

A dispatch killed half-way leaves tasks without runs and runs (already written QUEUED) that no
task names. Recovery finishes the records, not the work: each task gets its run (the orphan it
was written for, or a new QUEUED one), the plan is RUNNING with those tasks queued, and the note
says how the user continues it. Runs that name a plan which does not name them end CANCELLED.
"""

from __future__ import annotations

from pmdesk.engine.context import EngineContext
from pmdesk.engine.isolation import plan_task_worktree
from pmdesk.engine.plans.changes import PlanChanges, completion, mirror_runs, moving_to, queued
from pmdesk.engine.plans.jobs import PlanJobs
from pmdesk.engine.runs import RunService
from pmdesk.errors import PmdeskError
from pmdesk.models import (
    ActivityType,
    GateCheck,
    GateResult,
    Plan,
    PlanStatus,
    PlanTask,
    Project,
    Run,
    TaskState,
    move_task,
    utc_now,
)
from pmdesk.store import StateStore, StoreError

IN_FLIGHT = (PlanStatus.DISPATCHING, PlanStatus.RUNNING, PlanStatus.VERIFYING)
ORPHANED = "never started: pmdesk stopped while dispatching, and its plan does not name it"


def recover_plans(ctx: EngineContext, changes: PlanChanges, jobs: PlanJobs, runs: RunService,
                  project: Project) -> list[str]:
    """Tasks mirrored from their runs; an interrupted verify FAILED; what can continue, said."""
    store = ctx.store(project)
    notes: list[str] = []
    for summary in store.list_plans():
        if summary.status not in IN_FLIGHT or summary.plan_id in jobs:
            continue
        plan_id = summary.plan_id
        try:
            plan, changed, completed, _ = mirror_runs(store, plan_id, None)
        except StoreError:
            continue
        if changed:
            ctx.publish_plan(project, plan)
        if completed is not None:
            kind, message = completed
            ctx.record(project, kind, message, plan_id=plan_id, actor="system")
            notes.append(f"{project.name}: plan {plan_id} recomputed from its tasks")
        unlinked = [t for t in plan.tasks if t.status == TaskState.CREATED and not t.run_id]
        said = bool(unlinked) or plan.status == PlanStatus.DISPATCHING
        if plan.status == PlanStatus.DISPATCHING or (plan.status == PlanStatus.RUNNING and unlinked):
            plan = changes.update_now(project, plan_id, queued(_runs_for(store, runs, project, plan, unlinked)))
            notes.append(f"{project.name}: plan {plan_id} was being dispatched when pmdesk stopped; its "
                         f"{len(unlinked)} task(s) are queued and nothing was started: "
                         f"'pmdesk dispatch {plan_id}' (or Continue) starts them")
        if plan.status == PlanStatus.VERIFYING:
            check = GateCheck(name="gate:all", passed=False, message="interrupted: pmdesk stopped during verification")
            changes.update_now(project, plan_id, moving_to(
                PlanStatus.FAILED, gate_result=GateResult(passed=False, checks=[check]), verified_at=utc_now()))
            ctx.record(project, ActivityType.PLAN_FAILED, check.message, plan_id=plan_id, actor="system")
            notes.append(f"{project.name}: plan {plan_id} verification interrupted, marked FAILED")
            continue
        if all(t.status.is_terminal for t in plan.tasks) and not plan.completed_at:
            change, kind, message = completion(plan)
            changes.update_now(project, plan_id, change)
            ctx.record(project, kind, message, plan_id=plan_id, actor="system")
            notes.append(f"{project.name}: plan {plan_id} recomputed from its tasks")
        elif any(t.status == TaskState.QUEUED for t in plan.tasks) and not said:
            notes.append(f"{project.name}: plan {plan_id} has queued tasks; 'pmdesk dispatch {plan_id}' continues it")
    return notes


def _runs_for(store: StateStore, runs: RunService, project: Project, plan: Plan,
              tasks: list[PlanTask]) -> dict[str, Run | str]:
    """Each task's run: the one the interrupted dispatch wrote for it, else a new QUEUED one."""
    written = {r.plan_task_id: r.run_id for r in store.list_runs()
               if r.plan_id == plan.plan_id and r.status == TaskState.QUEUED and r.plan_task_id}
    made: dict[str, Run | str] = {}
    for task in tasks:
        try:
            if task.task_id in written:
                made[task.task_id] = store.get_run(written[task.task_id])
            else:
                made[task.task_id] = runs.write_new(project, store, task.description, plan_id=plan.plan_id,
                                                    plan_task_id=task.task_id, status=TaskState.QUEUED,
                                                    worktree=plan_task_worktree(project, plan, task),
                                                    cluster=plan.cluster)
        except (PmdeskError, ValueError) as exc:
            made[task.task_id] = f"could not create a run: {exc}"
    return made


def end_orphans(ctx: EngineContext, project: Project) -> list[str]:
    """QUEUED runs whose plan does not name them (written by a dispatch that died) end CANCELLED."""
    store = ctx.store(project)
    named: dict[str, set[str]] = {}
    notes: list[str] = []
    if not store.run_tally().count(TaskState.QUEUED):
        return notes
    for summary in store.list_runs():
        if summary.status != TaskState.QUEUED or not summary.plan_id:
            continue
        if summary.plan_id not in named:
            try:
                named[summary.plan_id] = {t.run_id for t in store.get_plan(summary.plan_id).tasks if t.run_id}
            except StoreError:
                named[summary.plan_id] = set()
        if summary.run_id in named[summary.plan_id]:
            continue

        def orphaned(run: Run) -> None:
            if run.status == TaskState.QUEUED:
                move_task(run, TaskState.CANCELLED, error=ORPHANED, ended_at=utc_now())

        ctx.publish_run(project, store.update_run(summary.run_id, orphaned))
        notes.append(f"{project.name}: run {summary.run_id} {ORPHANED}")
    return notes
