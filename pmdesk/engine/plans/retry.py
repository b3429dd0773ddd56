"""Retry: a task that failed, was cancelled or changed nothing gets a new run, by the user's
explicit action only (the spec: no automatic retry). The new run starts in a fresh worktree
from the same starting point; the old run, its branch and its log are kept and listed under
the task (``runIds``)."""

from __future__ import annotations

from pmdesk.engine.cluster.placement import placement, reachable
from pmdesk.engine.context import EngineContext
from pmdesk.engine.isolation import plan_task_worktree
from pmdesk.engine.plans.changes import PlanChanges
from pmdesk.engine.plans.jobs import PlanJobs
from pmdesk.engine.plans.rules import PlanStateError, retry_verdict
from pmdesk.engine.plans.scheduler import Scheduler
from pmdesk.engine.runs import RunService
from pmdesk.engine.worktrees import layout
from pmdesk.errors import BadInputError
from pmdesk.models import (
    ActivityType,
    ExecutorKind,
    Plan,
    PlanStatus,
    PlanTask,
    Project,
    Run,
    TaskState,
    move_plan,
    retry_task,
)

BLOCKED = "not started: dependency"  # how the scheduler cancels a task whose dependency failed
WORK_FIELDS = ("changes", "no_changes", "head_commit", "start_commit")


class Retrier:
    def __init__(self, ctx: EngineContext, changes: PlanChanges, runs: RunService, jobs: PlanJobs,
                 scheduler: Scheduler) -> None:
        self.ctx = ctx
        self.changes = changes
        self.runs = runs
        self.jobs = jobs
        self.scheduler = scheduler

    def task_of(self, plan: Plan, ref: str) -> PlanTask:
        """A task by id, by number ("3", "#3"), or by one of its runs."""
        wanted = ref.lstrip("#")
        for number, task in enumerate(plan.tasks, 1):
            if ref in (task.task_id, task.run_id) or wanted == str(number) or ref in (task.run_ids or []):
                return task
        raise BadInputError(f"plan {plan.plan_id} has no task {ref!r} (give its id, its number or its run)")

    async def retry(self, project: Project, plan_id: str, task_ref: str, prompt_extra: str | None = None,
                    with_dependents: bool = False, on: str | None = None) -> Plan:
        """New runs for the task (and, ``with_dependents``, for the tasks cancelled because it
        failed), the plan RUNNING again and scheduled. ``on``: where they run ("local", or a
        cluster's address); by default where the plan's runs ran."""
        store = self.ctx.store(project)
        plan = store.get_plan(plan_id)
        task = self.task_of(plan, task_ref)
        found = retry_verdict(plan, task.task_id, live=plan_id in self.jobs)
        if not found.allowed:
            raise PlanStateError(found.reason or "the task cannot be retried")
        cluster = plan.cluster if on is None else placement(self.ctx, project, on)
        if cluster:
            await reachable(cluster)  # refused here, before anything is written
        targets = [task] + (self._blocked_by(plan, task) if with_dependents else [])
        extra = (prompt_extra or "").strip()
        with self.ctx.owning(project):
            made: dict[str, Run] = {}
            for target in targets:
                attempt = len(target.run_ids or []) + (2 if target.run_id else 1)
                worktree = plan_task_worktree(project, plan, target, attempt)
                if worktree:  # a dependent retried with it starts from its new branch, not the failed one
                    target.branch = str(worktree["branch"])
                previous = store.get_run(target.run_id) if target.run_id else None
                prompt = target.description + (f"\n\n{extra}" if extra and target is task else "")
                made[target.task_id] = await self.ctx.disk(
                    self.runs.write_new, project, store, prompt,
                    executor=previous.executor if previous and previous.executor != ExecutorKind.GATE else None,
                    model=previous.model if previous else None,
                    command=previous.settings.get("command") if previous else None,
                    plan_id=plan_id, plan_task_id=target.task_id, status=TaskState.QUEUED, worktree=worktree,
                    cluster=cluster)
            for run in made.values():
                self.runs.announce(project, run)

            def change(p: Plan) -> None:
                for target in p.tasks:
                    run = made.get(target.task_id)
                    if run is None:
                        continue
                    history = (target.run_ids or []) + ([target.run_id] if target.run_id else [])
                    retry_task(target, run_id=run.run_id, run_ids=history, error=None,
                               **{name: None for name in WORK_FIELDS},
                               branch=run.branch, worktree_path=run.worktree_path, base_commit=run.base_commit)
                if p.status == PlanStatus.FAILED:
                    move_plan(p, PlanStatus.RUNNING, completed_at=None)
                p.completed_at = None

            plan = await self.changes.update(project, plan_id, change)
            numbers = ", ".join(f"#{layout.task_number(plan, t)}" for t in made)
            self.ctx.record(project, ActivityType.PLAN_TASK_RETRIED, f"retried task(s) {numbers} by the user's "
                            "action; the earlier runs are kept", plan_id=plan_id, task_id=task.task_id,
                            data={"runs": {t: r.run_id for t, r in made.items()}, "promptExtra": extra or None})
            self.scheduler.continue_plan(project, plan_id)
        return plan

    def _blocked_by(self, plan: Plan, failed: PlanTask) -> list[PlanTask]:
        """Tasks cancelled because ``failed`` (or one of these) did not complete, in plan order."""
        out: list[PlanTask] = []
        chain = {failed.task_id}
        for candidate in layout.integration_order(plan):
            blocked = candidate.status == TaskState.CANCELLED and (candidate.error or "").startswith(BLOCKED)
            if blocked and chain & set(candidate.dependencies):
                out.append(candidate)
                chain.add(candidate.task_id)
        return out
