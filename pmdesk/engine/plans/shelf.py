"""Putting plans away: archive (left out of listings, restorable) and delete (the plan's file
moves to ``<state>/trash/plans/``; its runs, packets and activity stay)."""

from __future__ import annotations

from pmdesk.engine.context import EngineContext
from pmdesk.engine.notifications import ProjectsChanged
from pmdesk.engine.plans.changes import PlanChanges
from pmdesk.engine.plans.jobs import PlanJobs
from pmdesk.engine.plans.rules import PlanAction, require
from pmdesk.models import ActivityType, Plan, Project, utc_now


class Shelf:
    def __init__(self, ctx: EngineContext, changes: PlanChanges, jobs: PlanJobs) -> None:
        self.ctx = ctx
        self.changes = changes
        self.jobs = jobs

    def archive(self, project: Project, plan_id: str, archived: bool = True) -> Plan:
        """Archive the plan (``archived``) or restore it; each undoes the other."""
        action = PlanAction.ARCHIVE if archived else PlanAction.RESTORE

        def change(plan: Plan) -> None:
            require(plan, action, live=plan_id in self.jobs)
            plan.archived_at = utc_now() if archived else None

        plan = self.changes.update_now(project, plan_id, change)
        self.ctx.record(project, ActivityType.PLAN_ARCHIVED if archived else ActivityType.PLAN_RESTORED,
                        f"plan {'archived' if archived else 'restored'}", plan_id=plan_id, actor="user")
        return plan

    def delete(self, project: Project, plan_id: str) -> str:
        """The plan's file to the trash (where it went is returned and recorded); nothing else goes."""
        store = self.ctx.store(project)
        require(store.get_plan(plan_id), PlanAction.DELETE, live=plan_id in self.jobs)
        kept = store.discard_plan(plan_id)
        self.ctx.record(project, ActivityType.PLAN_DELETED, f"plan deleted; its file is kept at {kept}",
                        plan_id=plan_id, actor="user")
        self.ctx.bus.publish(ProjectsChanged())  # listings read again: the plan is gone from them
        return str(kept)
