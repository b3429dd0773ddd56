"""After a crash: plans left DISPATCHING, RUNNING or VERIFYING by a dead process. Nothing is re-run."""

from __future__ import annotations

from pmdesk.engine.context import EngineContext
from pmdesk.engine.plans.changes import PlanChanges, completion, mirror_runs, moving_to
from pmdesk.engine.plans.jobs import PlanJobs
from pmdesk.models import ActivityType, GateCheck, GateResult, PlanStatus, Project, TaskState, utc_now
from pmdesk.store import StoreError

IN_FLIGHT = (PlanStatus.DISPATCHING, PlanStatus.RUNNING, PlanStatus.VERIFYING)


def recover_plans(ctx: EngineContext, changes: PlanChanges, jobs: PlanJobs, project: Project) -> list[str]:
    """Tasks mirrored from their runs; an interrupted verify FAILED; what can continue, said."""
    store = ctx.store(project)
    notes: list[str] = []
    for summary in store.list_plans():
        if summary.status not in IN_FLIGHT or summary.plan_id in jobs:
            continue
        plan_id = summary.plan_id
        try:
            plan, changed = mirror_runs(store, plan_id, None)
        except StoreError:
            continue
        if changed:
            ctx.publish_plan(project, plan)
        if plan.status == PlanStatus.DISPATCHING:
            plan = changes.update_now(project, plan_id, moving_to(PlanStatus.RUNNING))
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
        elif any(t.status == TaskState.QUEUED for t in plan.tasks):
            notes.append(f"{project.name}: plan {plan_id} has queued tasks; 'pmdesk dispatch {plan_id}' continues it")
    return notes
