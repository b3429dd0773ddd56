"""Dispatch: a plan's tasks become runs, started as their dependencies complete, within a limit.

One "ready" rule (``ready_tasks``) decides what may start; ``follow`` lets any client wait
until the plan settles without polling the store or touching a job's internals.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from pmdesk.engine.budgets import BudgetError
from pmdesk.engine.cluster.connection import ClusterStatus
from pmdesk.engine.cluster.placement import placement, reachable, status_blocking
from pmdesk.engine.context import EngineContext
from pmdesk.engine.costs import left
from pmdesk.engine.executor_choice import chosen_model, default_kind
from pmdesk.engine.isolation import IsolationError, base_of, plan_task_worktree
from pmdesk.engine.plans.changes import PlanChanges, mirror_onto, mirror_runs, moving_to, queued
from pmdesk.engine.plans.estimate import DispatchEstimate, estimate
from pmdesk.engine.plans.jobs import JobKind, PlanJob, PlanJobs
from pmdesk.engine.plans.rules import PlanAction, require, verdict
from pmdesk.engine.runs import RunError, RunService
from pmdesk.errors import BadInputError, ErrorKind, WrongStateError
from pmdesk.executors.base import ExecutorError
from pmdesk.models import (
    ActivityType,
    Budget,
    DispatchedRun,
    DispatchResponse,
    ExecutorKind,
    Plan,
    PlanStatus,
    PlanTask,
    Project,
    Run,
    TaskState,
    utc_now,
)
from pmdesk.store import StateStore, StoreError
from pmdesk.store.atomic import synced_together

ACTIVE = (TaskState.RUNNING, TaskState.AWAITING_RESPONSE)
QUIET_S = 2.0  # a pass with nothing published for this long re-reads every run from disk
# The plan on disk trails its runs by at most this: one write carries every task that ended and
# started meanwhile (50 instant tasks cost a plan write each, and each held up the next's end).
PLAN_LAG_S = 0.05


def ready_tasks(plan: Plan) -> list[PlanTask]:
    """QUEUED tasks whose dependencies all completed, in priority order."""
    status = {t.task_id: t.status for t in plan.tasks}
    return sorted((t for t in plan.tasks if t.status == TaskState.QUEUED
                   and all(status.get(d) == TaskState.COMPLETE for d in t.dependencies)),
                  key=lambda t: t.priority)


def blocked_tasks(plan: Plan) -> list[tuple[PlanTask, PlanTask]]:
    """QUEUED tasks with a dependency that ended without completing, and that dependency."""
    by_id = {t.task_id: t for t in plan.tasks}
    out = []
    for task in plan.tasks:
        if task.status != TaskState.QUEUED:
            continue
        failed = [by_id[d] for d in task.dependencies
                  if d in by_id and by_id[d].status in (TaskState.ERROR, TaskState.CANCELLED)]
        if failed:
            out.append((task, failed[0]))
    return out


def fix_base(parent: Plan) -> dict[str, object]:
    """Where a fix plan's tasks start: its parent's integration head (so verifying the fix
    verifies the combined work, and merging it merges both) and the branch it merges into."""
    if parent.integration is None or not parent.integration.head_commit or not parent.base_branch:
        raise IsolationError(f"plan {parent.plan_id} has no integration branch to fix: verify it first",
                             kind=ErrorKind.WRONG_STATE)
    return {"base_branch": parent.base_branch, "base_commit": parent.integration.head_commit}


def _budget_stop(why: str | None) -> Callable[[Plan], None]:
    def change(plan: Plan) -> None:
        plan.budget_stop = why

    return change


def settled(plan: Plan) -> bool:
    """Every task has ended or waits for an answer (or for a budget): a foreground client may stop following."""
    if plan.status != PlanStatus.RUNNING:
        return True
    if plan.budget_stop and not any(t.status == TaskState.RUNNING for t in plan.tasks):
        return True
    if all(t.status.is_terminal or t.status == TaskState.AWAITING_RESPONSE for t in plan.tasks):
        return True
    return any(t.status == TaskState.AWAITING_RESPONSE for t in plan.tasks) and \
        not any(t.status == TaskState.RUNNING for t in plan.tasks)


class Scheduler:
    def __init__(self, ctx: EngineContext, changes: PlanChanges, runs: RunService, jobs: PlanJobs) -> None:
        self.ctx = ctx
        self.changes = changes
        self.runs = runs
        self.jobs = jobs

    # -- dispatch -------------------------------------------------------------------------

    def estimate(self, project: Project, plan_id: str, parallel: bool = True, max_parallel: int | None = None,
                 executor: ExecutorKind | None = None, model: str | None = None, budget: Budget | None = None,
                 on: str | None = None) -> DispatchEstimate:
        """What dispatching would take, from this project's runs like the ones it would start, and
        what the budgets leave; on a cluster, what it has free and takes at once (blocking: the run
        listing, the cluster's answer)."""
        cluster = placement(self.ctx, project, on)
        return self._estimate(project, plan_id, parallel, max_parallel, executor, model, budget,
                              status_blocking(cluster) if cluster else None)

    def _estimate(self, project: Project, plan_id: str, parallel: bool, max_parallel: int | None,
                  executor: ExecutorKind | None, model: str | None, budget: Budget | None,
                  capacity: ClusterStatus | None) -> DispatchEstimate:
        """The estimate, given what the plan's cluster (if any) said of itself."""
        store = self.ctx.store(project)
        plan = store.get_plan(plan_id)
        project = self.ctx.project_settings(project)
        limit = 1 if not parallel else (max_parallel or project.settings.concurrency or self.ctx.settings.concurrency)
        try:
            kind: ExecutorKind | None = executor or default_kind(self.ctx, project)
        except ExecutorError:  # no agent here yet: dispatch says so for each task; the estimate goes by any run
            kind = None
        chosen = chosen_model(self.ctx, project, kind, model) if kind is not None else model
        history = store.list_runs()
        if capacity is not None:  # the limit applies per cluster, and the cluster takes what its CPUs allow
            limit = max(1, min(limit, capacity.takes or 1))
        found = estimate(plan, parallel, limit, history, kind, chosen)
        found.cluster = capacity
        if budget is not None:
            plan = plan.model_copy(update={"budget": budget})
        plan_spent, month_spent = self.runs.budgets.spent(project, plan_id, history)
        lefts = [left(plan.budget, plan_spent), left(project.settings.monthly_budget, month_spent)]
        usd = [u for u, _t in lefts if u is not None]
        tokens = [t for _u, t in lefts if t is not None]
        found.budget_left_usd = min(usd) if usd else None
        found.budget_left_tokens = min(tokens) if tokens else None
        found.over_budget = self.runs.budgets.reason(project, plan, found.cost_usd, found.tokens, history)
        return found

    async def dispatch(self, project: Project, plan_id: str, parallel: bool = True,
                       max_parallel: int | None = None, executor: ExecutorKind | None = None,
                       model: str | None = None, command: str | None = None, in_place: bool = False,
                       budget: Budget | None = None, on: str | None = None) -> DispatchResponse:
        """Each task's run, in a worktree of its own on its own branch (DESIGN §10); ``in_place``
        (confirmed by the user) runs them one at a time in the project folder instead. A dispatch
        whose estimate would exceed a budget (``budget``: the plan's, from now on) starts nothing.
        ``on``: a Ray cluster's address, or "local" (DESIGN §13); by default the project's, then the
        app's choice. A cluster that cannot be reached is refused before anything is written."""
        store = self.ctx.store(project)
        plan = store.get_plan(plan_id)
        require(plan, PlanAction.DISPATCH)
        project = self.ctx.project_settings(project)
        cluster = placement(self.ctx, project, on)
        if cluster and in_place:
            raise BadInputError("a run on a cluster starts from a bundle of its task's branch: dispatch the plan "
                                "isolated (without --in-place), or here (--on local)")
        capacity = await reachable(cluster) if cluster else None  # refused here, before anything is written
        limit = 1 if not parallel or in_place else \
            (max_parallel or project.settings.concurrency or self.ctx.settings.concurrency)
        ahead = await asyncio.to_thread(self._estimate, project, plan_id, parallel, limit, executor, model, budget,
                                        capacity)
        if ahead.cluster is not None:  # what the cluster takes at once bounds the plan there
            limit = max(1, min(limit, ahead.cluster.takes or 1))
        if ahead.over_budget:
            basis = f"from {ahead.cost_basis} similar runs" if ahead.cost_basis else "with no similar run to go by"
            raise BudgetError(f"dispatching {len(plan.tasks)} tasks ({basis}) would exceed a budget: "
                              f"{ahead.over_budget}. Nothing was started; raise the budget or dispatch fewer tasks.")
        base: dict[str, object] = {"in_place": True}
        placed: dict[str, object] = {"cluster": cluster} if cluster else {}
        if not in_place:
            branch, commit = await asyncio.to_thread(base_of, project)  # IsolationError says what to do
            base = {"base_branch": branch, "base_commit": commit}
            if plan.parent_plan_id:  # a fix plan: on top of the failed plan's merged work
                base = fix_base(store.get_plan(plan.parent_plan_id))
        with self.ctx.owning(project):
            fields: dict[str, object] = {"budget": budget} if budget is not None else {}
            plan = await self.changes.transition(project, plan_id, PlanStatus.DISPATCHING, executed_at=utc_now(),
                                                 **base, **fields, **placed)
            where = "in place, one at a time" if in_place else \
                f"each in its own worktree from {base['base_branch']} at {str(base['base_commit'])[:10]}" \
                + (f", on the cluster {cluster}" if cluster else "")
            self.ctx.record(project, ActivityType.PLAN_DISPATCHED,
                            f"plan dispatched: {len(plan.tasks)} tasks, at most {limit} at once, {where}",
                            plan_id=plan_id, data={"parallel": parallel, "maxParallel": limit, **base, **placed})
            ordered = sorted(plan.tasks, key=lambda t: t.priority)
            made = await self.ctx.disk(self._write_task_runs, project, store, plan, ordered, executor, model, command)
            created = {task_id: run for task_id, run in made.items() if isinstance(run, Run)}
            self.runs.announce(project, *created.values())
            runs = [DispatchedRun(task_id=task_id, run_id=run.run_id) for task_id, run in created.items()]
            plan = await self.changes.update(project, plan_id, queued(made))
            job = self._start_job(project, plan_id, limit)  # the job holds the project from here on
            job.runs.update((run.run_id, run) for run in created.values())  # as announced: no read at each start
            job.per_run = (ahead.cost_per_run, ahead.tokens_per_run)  # its budgets go by this estimate
        return DispatchResponse(plan_id=plan_id, status=plan.status, runs=runs, executed_at=plan.executed_at)

    def _write_task_runs(self, project: Project, store: StateStore, plan: Plan, tasks: list[PlanTask],
                         executor: ExecutorKind | None, model: str | None, command: str | None) -> dict[str, Run | str]:
        """Each task's run, saved QUEUED, or why it could not be (on the store worker). The plan names
        them only after this returns, when all are on disk: they share their directories' syncs."""
        made: dict[str, Run | str] = {}
        with synced_together():
            for task in tasks:
                try:
                    made[task.task_id] = self.runs.write_new(
                        project, store, task.description, settings_read=True, executor=executor, model=model,
                        command=command, plan_id=plan.plan_id, plan_task_id=task.task_id, status=TaskState.QUEUED,
                        worktree=plan_task_worktree(project, plan, task), cluster=plan.cluster)
                except (ExecutorError, StoreError, ValueError) as exc:
                    made[task.task_id] = f"could not create a run: {exc}"
        return made

    def continue_plan(self, project: Project, plan_id: str, max_parallel: int | None = None) -> bool:
        """Resume scheduling a RUNNING plan (after a restart or a foreground CLI exit).

        True when the plan is being scheduled now (it was already, or starts again)."""
        if plan_id in self.jobs:
            return True
        if not verdict(self.ctx.store(project).get_plan(plan_id), PlanAction.CONTINUE).allowed:
            return False
        project = self.ctx.project_settings(project)
        self._start_job(project, plan_id, max_parallel or project.settings.concurrency)
        return True

    def _start_job(self, project: Project, plan_id: str, limit: int) -> PlanJob:
        job = PlanJob(project, plan_id, JobKind.SCHEDULE, self.ctx.owning(project), limit=max(1, limit))
        self.jobs[plan_id] = job
        job.task = asyncio.ensure_future(self._schedule(job))
        return job

    # -- the scheduling loop ----------------------------------------------------------------

    async def _schedule(self, job: PlanJob) -> None:
        project, plan_id = job.project, job.plan_id
        try:
            with job.lease:
                while not job.cancelled:
                    job.wake.clear()
                    # What may start is decided on the plan as it is on disk (a cancel by another
                    # process is seen) with its runs mirrored in memory; one write then carries
                    # the tasks that ended and the ones that started (a write less per task).
                    plan = await self._sync_tasks(job, write=False)
                    if plan.status != PlanStatus.RUNNING:
                        return
                    blocked = blocked_tasks(plan)
                    if blocked:
                        await self._catch_up(job)
                    for task, dep in blocked:
                        plan = await self._cancel_task(
                            project, plan_id, task, f"not started: dependency {dep.task_id} ended {dep.status.value}")
                    active = self._active(plan)
                    starting = [t for t in ready_tasks(plan) if t.task_id not in job.placing][
                        : max(0, job.limit - active)]
                    held = await self._held_at_budget(job, plan) if starting else None
                    job.starting = {t.run_id for t in starting if t.run_id and not held}
                    for task in [] if held else starting:
                        if plan.cluster:  # placing waits on a worker's start (~0.5 s): the loop goes on meanwhile
                            self._place(job, task)
                        else:
                            await self._start_task(project, plan_id, task, job)
                    plan = await self._sync_tasks(job, write=False)  # what ended, and what the starts wrote
                    if job.ahead and (job.cancelled or settled(plan) or
                                      asyncio.get_running_loop().time() - job.written_at >= PLAN_LAG_S):
                        plan = await self._sync_tasks(job)
                    job.starting = set()
                    if job.cancelled:
                        return  # cancel() ends the plan CANCELLED; it never "completes" (or FAILs) meanwhile
                    if all(t.status.is_terminal for t in plan.tasks):
                        if not plan.completed_at:  # its tasks ended without a run's change (not started, say)
                            job.plan = await self.changes.complete(project, plan)
                        return
                    await job.tell_followers()
                    if held and not any(t.status in ACTIVE for t in plan.tasks):
                        return  # nothing at work and nothing may start: Continue, once the budget is raised
                    if not any(t.status in ACTIVE for t in plan.tasks) and not ready_tasks(plan):
                        if not blocked_tasks(plan):  # nothing can ever start: say why, never spin
                            await self._catch_up(job)
                            await self._end_stuck(project, plan)
                        continue
                    due = job.written_at + PLAN_LAG_S - asyncio.get_running_loop().time() if job.ahead else QUIET_S
                    try:
                        await asyncio.wait_for(job.wake.wait(), max(0.0, due))
                    except TimeoutError:
                        if not job.ahead:  # quiet for a while: look at every run on disk, not only what was published
                            job.reread = True
        finally:
            for placing in list(job.placing.values()):  # a start under way finishes (or fails) on its own
                with contextlib.suppress(Exception):
                    await asyncio.shield(placing)
            self.jobs.pop(plan_id, None)
            await job.tell_followers()

    def _place(self, job: PlanJob, task: PlanTask) -> None:
        """Start a task's run on its cluster without holding up the loop: the task counts as at work
        until its run is RUNNING (or failed to start)."""
        async def place() -> None:
            try:
                await self._start_task(job.project, job.plan_id, task, job)
            except RunError:
                pass  # its run ended before it could start (the plan was cancelled meanwhile), and says so
            finally:
                job.placing.pop(task.task_id, None)
                job.wake.set()

        job.placing[task.task_id] = asyncio.ensure_future(place())

    def _active(self, plan: Plan) -> int:
        """Runs at work (or being placed) that count against the plan's limit: its own, and on a
        cluster every plan's there (the limit applies per cluster)."""
        def at_work(job: PlanJob | None, p: Plan) -> int:
            busy = {t.task_id for t in p.tasks if t.status in ACTIVE}
            return len(busy | set(job.placing) if job is not None else busy)

        others = [job for job in list(self.jobs.values()) if plan.cluster and job.plan_id != plan.plan_id
                  and job.plan is not None and job.plan.cluster == plan.cluster]
        return at_work(self.jobs.get(plan.plan_id), plan) + sum(at_work(job, job.plan) for job in others
                                                                if job.plan is not None)

    async def _held_at_budget(self, job: PlanJob, plan: Plan) -> str | None:
        """Why the next run may not start (its estimate would exceed a budget), said on the plan
        once; None clears what was said when the budget was raised."""
        project = job.project
        if job.per_run is None:  # once, at the plan's first start: a budget set later goes by it too
            ahead = await asyncio.to_thread(self._estimate, project, plan.plan_id, True, job.limit, None, None,
                                            None, None)  # a run's cost and tokens: the cluster need not be asked
            job.per_run = (ahead.cost_per_run, ahead.tokens_per_run)
        if plan.budget is None and not plan.budget_stop and \
                self.ctx.project_settings(project).settings.monthly_budget is None:
            return None  # no budget to hold at (one small read): no turn of a thread in every task's chain
        why = await asyncio.to_thread(self.runs.budgets.reason, project, plan, *job.per_run)
        if (why and why != plan.budget_stop) or (not why and plan.budget_stop):
            await self._catch_up(job)
            job.plan = await self.changes.update(project, plan.plan_id, _budget_stop(why))
            if why:
                self.ctx.record(project, ActivityType.BUDGET_REACHED, f"runs held: {why}", plan_id=plan.plan_id,
                                actor="system", data={"reason": why})
        return why

    async def _end_stuck(self, project: Project, plan: Plan) -> None:
        """Tasks that can never start (no run, or dependencies that will never complete) end ERROR."""
        for task in plan.tasks:
            if task.status.is_terminal:
                continue
            reason = ("cannot start: it has no run (its dispatch was interrupted)" if not task.run_id
                      else "cannot start: its dependencies can never complete")
            await self.changes.set_task(project, plan.plan_id, task.task_id, TaskState.ERROR, error=reason)

    async def _start_task(self, project: Project, plan_id: str, task: PlanTask, job: PlanJob) -> None:
        assert task.run_id is not None
        try:
            run = await self.runs.start(project, task.run_id, job.runs.get(task.run_id))
        except WrongStateError:  # its run is no longer new (ended by another process): the plan takes what it says
            job.reread = True
            return
        except (ExecutorError, StoreError, RuntimeError) as exc:
            await self._catch_up(job)
            await self.changes.set_task(project, plan_id, task.task_id, TaskState.ERROR, error=f"could not start: {exc}")
            return
        if run.status == TaskState.ERROR:
            await self._catch_up(job)
            await self.changes.set_task(project, plan_id, task.task_id, TaskState.ERROR, error=run.error)

    async def _cancel_task(self, project: Project, plan_id: str, task: PlanTask, reason: str) -> Plan:
        if task.run_id:
            with contextlib.suppress(Exception):
                await self.runs.cancel(project, task.run_id)
        return await self.changes.set_task(project, plan_id, task.task_id, TaskState.CANCELLED, error=reason)

    async def _catch_up(self, job: PlanJob) -> None:
        """Before any other write of the plan: the task changes this process knows of first (a
        write only if there are any), so the plan on disk never says "held" or "not started:
        dependency ended" beside a task still at work. Not only what the last pass mirrored: a run
        may have ended while the pass was starting another."""
        await self._sync_tasks(job)

    async def _sync_tasks(self, job: PlanJob, write: bool = True) -> Plan:
        """Mirror the task's runs onto the plan, on the store worker: the runs this process
        published, or every run when ``job.reread`` asks for a look at the disk. ``write=False``:
        in memory only (``mirror_runs``)."""
        known = None if job.reread else dict(job.runs)
        if known is not None:  # taken into account: the same status published again need not wake it
            job.seen.update((run_id, run.status) for run_id, run in known.items())
        store = self.ctx.store(job.project)
        if not write:  # here, rather than a turn of the store worker in every task's chain
            if known is None:
                mirrored = await self.ctx.disk(mirror_runs, store, job.plan_id, None, write=False)
            elif job.plan is not None and job.signed is not None and \
                    store.signature("plan", job.plan_id) == job.signed:  # a stat: the plan is as last seen
                mirrored = mirror_onto(job.plan, known)
            else:  # one small read
                mirrored = mirror_runs(store, job.plan_id, known, write=False)
            job.ahead = mirrored.changed
            return mirrored.plan
        job.reread = False
        job.ahead = False
        plan, changed, completed, job.signed = await self.ctx.disk(mirror_runs, store, job.plan_id, known,
                                                                   complete=not job.cancelled)
        job.written_at = asyncio.get_running_loop().time()
        if changed:
            self.ctx.publish_plan(job.project, plan)
        if completed is not None:
            kind, message = completed
            self.ctx.record(job.project, kind, message, plan_id=plan.plan_id, actor="system")
        job.plan = plan
        return plan

    # -- following and cancelling -------------------------------------------------------------

    def on_run_changed(self, run: Run) -> None:
        """A run's status its scheduler has not taken into account yet wakes it; its process id, its
        cost so far, or the start its own pass is making do not (a pass less per task)."""
        job = self.jobs.get(run.plan_id or "")
        if job is not None and job.kind == JobKind.SCHEDULE:
            job.runs[run.run_id] = run
            if job.seen.get(run.run_id) == run.status:
                return
            if run.status == TaskState.RUNNING and run.run_id in job.starting:
                return
            job.wake.set()

    async def follow(self, project: Project, plan_id: str) -> Plan:
        """Until the plan settles: every task ended, or the only ones left wait for an answer."""
        job = self.jobs.get(plan_id)
        if job is not None:
            async with job.changed:
                await job.changed.wait_for(
                    lambda: plan_id not in self.jobs or (job.plan is not None and settled(job.plan)))
        return self.ctx.store(project).get_plan(plan_id)

    async def wait(self, plan_id: str) -> None:
        """Until this process has stopped working on the plan (scheduling or verifying)."""
        job = self.jobs.get(plan_id)
        if job is not None and job.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(job.task)

    async def cancel(self, project: Project, plan_id: str) -> Plan:
        store = self.ctx.store(project)
        plan = store.get_plan(plan_id)
        require(plan, PlanAction.CANCEL)
        job = self.jobs.get(plan_id)
        if job is not None:
            job.cancelled = True
            job.wake.set()
            for gate in list(job.gates):
                await gate.cancel()
            if job.kind == JobKind.VERIFY:
                await self.wait(plan_id)  # verify ends the plan itself once its gate process has ended
                return store.get_plan(plan_id)
            await self._catch_up(job)  # a task that ended meanwhile is cancelled as what it ended, not as at work
            plan = store.get_plan(plan_id)
        for task in plan.tasks:
            if not task.status.is_terminal:
                await self._cancel_task(project, plan_id, task, "cancelled by the user")
        if job is not None and job.task is not None:
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(job.task), 10)
        current = store.get_plan(plan_id)
        if current.status not in (PlanStatus.CANCELLED, PlanStatus.VERIFIED, PlanStatus.FAILED):
            current = await self.changes.update(project, plan_id, moving_to(PlanStatus.CANCELLED))
            self.ctx.record(project, ActivityType.PLAN_CANCELLED, "plan cancelled", plan_id=plan_id)
        return current
