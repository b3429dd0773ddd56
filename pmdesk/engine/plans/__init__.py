"""The Autonomous Loop's plan operations, one module per verb; ``PlanService`` composes them.

shape (pure validation, cycles, waves) · planner (the model call) · authoring (create, edit,
from an answer) · fixes (a fix plan for a FAILED verify) · scheduler (dispatch, continue, cancel, follow) · verify (gate:all) ·
integrate (integration, conflicts, diff, merge) · shelf (archive, restore, delete) · changes
(every plan write) · retry (a task again, by the user's action) · rules (which actions a plan
allows) · estimate · recovery.
"""

from __future__ import annotations

from pmdesk.engine.context import EngineContext
from pmdesk.engine.isolation import Isolation
from pmdesk.engine.notifications import Change, RunChanged
from pmdesk.engine.plans.authoring import Authoring
from pmdesk.engine.plans.changes import PlanChanges
from pmdesk.engine.plans.fixes import Fixes
from pmdesk.engine.plans.integrate import Integrator, Resolution
from pmdesk.engine.plans.jobs import PlanJobs
from pmdesk.engine.plans.recovery import end_orphans, recover_plans
from pmdesk.engine.plans.retry import Retrier
from pmdesk.engine.plans.rules import PlanAction, PlanStateError, Verdict, allowed_actions
from pmdesk.engine.plans.scheduler import Scheduler
from pmdesk.engine.plans.shelf import Shelf
from pmdesk.engine.plans.verify import Verifier
from pmdesk.engine.runs import RunService
from pmdesk.models import Plan, Project

__all__ = ["PlanAction", "PlanService", "PlanStateError", "Resolution", "Verdict"]


class PlanService:
    """What a client may do with plans. Each verb is the method of the module that owns it."""

    def __init__(self, ctx: EngineContext, runs: RunService, isolation: Isolation) -> None:
        self.ctx = ctx
        self._runs = runs
        self.jobs: PlanJobs = {}
        self.changes = PlanChanges(ctx)
        authoring = Authoring(ctx, self.changes)
        scheduler = Scheduler(ctx, self.changes, runs, self.jobs)
        integrator = Integrator(ctx, self.changes, runs)
        verifier = Verifier(ctx, self.changes, self.jobs, integrator, isolation)
        self.generate = authoring.generate
        self.create_plan = authoring.create_plan
        self.generate_from_goal = authoring.generate_from_goal
        self.create_from_goal = authoring.create_from_goal
        self.plan_from_answer = authoring.plan_from_answer
        self.edit_tasks = authoring.edit_tasks
        self.dispatch = scheduler.dispatch
        self.estimate = scheduler.estimate
        self.continue_plan = scheduler.continue_plan
        self.follow = scheduler.follow
        self.wait = scheduler.wait
        self.cancel = scheduler.cancel
        self.start_verify = verifier.start_verify
        self.verify = verifier.verify
        self.resolve = integrator.resolve
        self.merge = integrator.merge
        self.preview_merge = integrator.preview_merge
        fixes = Fixes(ctx, authoring, integrator, self.jobs)
        self.generate_fixes = fixes.generate_fixes
        self.create_fix_plan = fixes.create_fix_plan
        self.diff = integrator.diff
        self.update_now = self.changes.update_now
        retrier = Retrier(ctx, self.changes, runs, self.jobs, scheduler)
        self.retry = retrier.retry
        self.task_of = retrier.task_of
        shelf = Shelf(ctx, self.changes, self.jobs)
        self.archive = shelf.archive
        self.delete = shelf.delete
        self._scheduler = scheduler
        ctx.bus.subscribe(self._on_change, only=(RunChanged,))

    def _on_change(self, change: Change) -> None:
        if isinstance(change, RunChanged):
            self._scheduler.on_run_changed(change.run)

    def is_live(self, plan_id: str) -> bool:
        """This process is scheduling or verifying the plan now."""
        return plan_id in self.jobs

    def allowed(self, plan: Plan) -> dict[PlanAction, Verdict]:
        return allowed_actions(plan, self.is_live(plan.plan_id))

    def recover(self, project: Project) -> list[str]:
        notes = recover_plans(self.ctx, self.changes, self.jobs, self._runs, project)
        return notes + end_orphans(self.ctx, project)

    def stop(self) -> None:
        for job in list(self.jobs.values()):
            if job.task is not None:
                job.task.cancel()
