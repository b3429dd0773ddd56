"""A plan's branches brought together: integration before verify, the three ways past a
conflict, review (diff) and the merge into the user's branch, on the user's word.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum
from pathlib import Path

from pmdesk.engine.context import EngineContext
from pmdesk.engine.plans.changes import PlanChanges
from pmdesk.engine.plans.rules import PlanAction, require
from pmdesk.engine.runs import RunService
from pmdesk.engine.worktrees import diff, integration, layout
from pmdesk.engine.worktrees import merge as merging
from pmdesk.engine.worktrees.git import git
from pmdesk.errors import BadInputError
from pmdesk.models import ActivityType, Integration, Plan, Project, Run
from pmdesk.store import StoreError


class Resolution(StrEnum):
    AGENT = "agent"  # a new run in the integration worktree, the conflict as its prompt
    BY_HAND = "by-hand"  # the user edits the folder, then verifies again
    LEAVE_OUT = "leave-out"  # that task is not merged


class Integrator:
    def __init__(self, ctx: EngineContext, changes: PlanChanges, runs: RunService) -> None:
        self.ctx = ctx
        self.changes = changes
        self.runs = runs

    async def integrate(self, project: Project, plan: Plan) -> Integration:
        """Build (or continue) the integration branch; the plan records how far it got."""
        built = await asyncio.to_thread(integration.build, Path(project.path), plan)

        def change(p: Plan) -> None:
            p.integration = built

        await self.changes.update(project, plan.plan_id, change)
        if built.conflict is not None:
            self.ctx.record(project, ActivityType.PLAN_CONFLICT, conflict_text(plan, built), plan_id=plan.plan_id,
                            task_id=built.conflict.task_id, actor="system",
                            data={"files": built.conflict.files, "with": built.conflict.with_task_ids})
        return built

    def check_resolved(self, plan: Plan) -> None:
        """Before verifying again: a conflict left open is refused, saying which files still have markers."""
        found = plan.integration
        if found is None or found.conflict is None:
            return
        path = Path(found.worktree_path)
        if integration.merging(path):
            left = integration.files_with_markers(path, found.conflict.files)
            if left:
                raise integration.ConflictOpenError(
                    f"plan {plan.plan_id}: conflict markers remain in {', '.join(left)} (in {path}); resolve "
                    f"them, run 'pmdesk resolve {plan.plan_id} --agent', or leave the task out")

    async def resolve(self, project: Project, plan_id: str, way: Resolution, task_id: str | None = None) -> Plan | Run:
        plan = self.ctx.store(project).get_plan(plan_id)
        require(plan, PlanAction.RESOLVE)
        assert plan.integration is not None and plan.integration.conflict is not None
        conflict = plan.integration.conflict
        if way == Resolution.AGENT:
            return await self._resolve_with_agent(project, plan)
        if way == Resolution.BY_HAND:
            return plan  # the folder is the integration worktree: the user edits there, then verifies
        target = task_id or conflict.task_id
        if target not in {t.task_id for t in plan.tasks}:
            raise BadInputError(f"plan {plan_id} has no task {target}")
        path = Path(plan.integration.worktree_path)
        left = await asyncio.to_thread(integration.leave_out, path, plan.integration.model_copy(deep=True), target)

        def change(p: Plan) -> None:
            p.integration = left

        plan = await self.changes.update(project, plan_id, change)
        self.ctx.record(project, ActivityType.PLAN_CONFLICT, f"task #{layout.task_number(plan, target)} left out "
                        "of the integration", plan_id=plan_id, task_id=target)
        return plan

    async def _resolve_with_agent(self, project: Project, plan: Plan) -> Run:
        found = plan.integration
        assert found is not None and found.conflict is not None
        run = await self.ctx.disk(
            self.runs.write_new, project, self.ctx.store(project), integration.conflict_prompt(plan, found.conflict),
            plan_id=plan.plan_id, task_run_id=f"resolve_{plan.plan_id}",
            worktree={"branch": found.branch, "worktree_path": found.worktree_path, "base_commit": plan.base_commit})
        self.runs.announce(project, run)

        def change(p: Plan) -> None:
            if p.integration is not None and p.integration.conflict is not None:
                p.integration.conflict.resolve_run_id = run.run_id

        await self.changes.update(project, plan.plan_id, change)
        with self.ctx.owning(project):
            return await self.runs.start(project, run.run_id)

    # -- review and merge ----------------------------------------------------------------------

    async def diff(self, project: Project, plan: Plan, stat_only: bool) -> diff.Diff:
        return await asyncio.to_thread(plan_diff, Path(project.path), plan, stat_only)

    async def merge(self, project: Project, plan_id: str, squash: bool = False, force: bool = False) -> Plan:
        plan = self.ctx.store(project).get_plan(plan_id)
        require(plan, PlanAction.MERGE, confirmed=force)
        assert plan.integration is not None and plan.integration.head_commit and plan.base_commit
        message = f"pmdesk: plan {plan.plan_id}" + (f": {plan.summary}" if plan.summary else "")
        chain = self.ancestors(project, plan)
        base = next((p.base_commit for p in reversed(chain) if p.base_commit), plan.base_commit)
        record = await asyncio.to_thread(merging.merge, Path(project.path), base,
                                         plan.integration.head_commit, message, squash, force)

        def change(p: Plan) -> None:
            p.merge = record

        plan = await self.changes.update(project, plan_id, change)
        self.ctx.record(project, ActivityType.PLAN_MERGED,
                        f"plan merged into {record.into_branch} ({record.mode}, {record.commit[:10]})"
                        + (" without a passing verify (forced)" if force else ""),
                        plan_id=plan_id, data={"mode": record.mode, "commit": record.commit, "forced": force})
        for parent in chain:  # a fix plan's integration holds its parents' work: they are merged with it
            await self.changes.update(project, parent.plan_id, change)
            self.ctx.record(project, ActivityType.PLAN_MERGED, f"plan merged with its fix plan {plan_id} into "
                            f"{record.into_branch} ({record.commit[:10]})", plan_id=parent.plan_id,
                            data={"mode": record.mode, "commit": record.commit, "byFixPlan": plan_id})
        return plan

    def ancestors(self, project: Project, plan: Plan) -> list[Plan]:
        """The plans a fix plan fixes, nearest first (a fix of a fix has two)."""
        out: list[Plan] = []
        seen = {plan.plan_id}
        parent_id = plan.parent_plan_id
        store = self.ctx.store(project)
        while parent_id and parent_id not in seen:
            seen.add(parent_id)
            try:
                parent = store.get_plan(parent_id)
            except StoreError:
                break  # deleted: the chain ends where the record does
            out.append(parent)
            parent_id = parent.parent_plan_id
        return out

    async def preview_merge(self, project: Project, plan: Plan) -> merging.MergePreview:
        require(plan, PlanAction.MERGE, confirmed=True)
        assert plan.integration is not None and plan.integration.head_commit and plan.base_commit
        chain = self.ancestors(project, plan)
        base = next((p.base_commit for p in reversed(chain) if p.base_commit), plan.base_commit)
        return await asyncio.to_thread(merging.preview, Path(project.path), base, plan.integration.head_commit)

    async def rebase(self, project: Project, plan: Plan) -> Plan:
        """Forget the integration (its head saved under a backup ref) and take the branch's HEAD as the
        new base: the next verify merges every task again, onto what the user has now."""
        repo = Path(project.path)
        found = plan.integration

        def drop() -> str:
            head = git(repo, "rev-parse", "HEAD").out.strip()
            if found is not None:
                if git(repo, "rev-parse", "-q", "--verify", f"refs/heads/{found.branch}", check=False).ok:
                    git(repo, "update-ref", layout.backup_ref(found.branch) + "-before-rebase", found.branch)
                git(repo, "worktree", "remove", "--force", found.worktree_path, check=False)
                git(repo, "branch", "-D", found.branch, check=False)
            return head

        head = await asyncio.to_thread(drop)

        def change(p: Plan) -> None:
            p.base_commit = head
            p.integration = None
            p.merge = None

        return await self.changes.update(project, plan.plan_id, change)


def conflict_text(plan: Plan, built: Integration) -> str:
    assert built.conflict is not None
    number = layout.task_number(plan, built.conflict.task_id)
    others = ", ".join(f"#{layout.task_number(plan, t)}" for t in built.conflict.with_task_ids)
    return (f"task #{number} conflicts" + (f" with task {others}" if others else "")
            + f" in {', '.join(built.conflict.files)}")


def plan_diff(repo: Path, plan: Plan, stat_only: bool) -> diff.Diff:
    """base..integration once it is built; before that, base..each task branch."""
    found = diff.Diff(target=plan.plan_id)
    if not plan.base_commit:
        found.note = "this plan was dispatched in place: its changes are in the project folder, not on branches"
        return found
    if plan.integration is not None and plan.integration.head_commit:
        found.sections.append(diff.section(repo, f"plan {plan.plan_id[:13]} ({plan.base_branch}..integration)",
                                           plan.base_commit, plan.integration.head_commit, stat_only))
        return found
    for task in layout.integration_order(plan):
        if not task.branch or not task.start_commit:
            continue
        number = layout.task_number(plan, task.task_id)
        end = task.head_commit
        where = Path(task.worktree_path) if not end and task.worktree_path else repo
        if not end and not where.is_dir():
            continue
        found.sections.append(diff.section(where, f"task #{number}: {task.description.strip()[:60]}",
                                           task.start_commit, end, stat_only))
    if not found.sections:
        found.note = "no task has started yet"
    return found
