"""Isolation (DESIGN §10): where a run works, made when it starts and saved when it ends.

A run with a ``worktreePath`` works in its own git worktree: made (from its start point plus
the branches it depends on) when the run starts, set up with the project's copy and set-up
lists, and, when the run ends, whatever the agent left uncommitted is committed on its branch.
git runs in worker threads, so the loop never waits on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pmdesk.engine.context import EngineContext
from pmdesk.engine.recorder import EventRecorder
from pmdesk.engine.worktrees import checkout, inventory, layout
from pmdesk.engine.worktrees.diff import Diff, section
from pmdesk.engine.worktrees.git import GitError, NotGitError, exclude_state_dir, git, is_repository
from pmdesk.errors import BadInputError, ErrorKind, PmdeskError
from pmdesk.models import ActivityType, Plan, PlanTask, Project, Run

NEEDS_GIT = ("isolation needs git: {path} is not a git repository. Make it one "
             "('pmdesk project git-init {name}' or the Dispatch dialog's button), or dispatch in place, "
             "one task at a time (--in-place)")
NEEDS_COMMIT = ("isolation needs a first commit: the repository at {path} has none yet. Commit your files "
                "('pmdesk project git-init {name}' does it), or dispatch in place (--in-place)")


class IsolationError(PmdeskError, RuntimeError):
    kind = ErrorKind.NOT_CONFIGURED
    code = "needs_git"


def base_of(project: Project) -> tuple[str, str]:
    """The project's branch and HEAD commit now: a dispatched plan's base."""
    path = Path(project.path)
    if not path.is_dir():
        raise IsolationError(f"the project folder {path} is missing", kind=ErrorKind.NOT_FOUND)
    if not is_repository(path):
        top = git(path, "rev-parse", "--show-toplevel", check=False) if path.is_dir() else None
        if top is not None and top.ok:
            raise IsolationError(f"isolation works on a repository's top folder: {path} is inside the repository "
                                 f"at {top.out.strip()}. Add that folder as the project, or dispatch in place, one "
                                 "task at a time (--in-place)")
        raise IsolationError(NEEDS_GIT.format(path=path, name=project.name))
    found = git(path, "rev-parse", "-q", "--verify", "HEAD^{commit}", check=False)
    if not found.ok:
        raise IsolationError(NEEDS_COMMIT.format(path=path, name=project.name))
    branch = git(path, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).out.strip() or "HEAD"
    return branch, found.out.strip()


def isolation_possible(project: Project) -> bool:
    return isolation_problem(project) is None


def isolation_problem(project: Project) -> str | None:
    """Why this project's plans cannot run isolated (None: they can)."""
    try:
        base_of(project)
    except (IsolationError, GitError, NotGitError) as exc:
        return str(exc)
    return None


def git_init(project: Project) -> str:
    """Make the project a repository with one commit of its files (pmdesk's state left out)."""
    path = Path(project.path)
    if not is_repository(path):
        git(path, "init", "--quiet")
    exclude_state_dir(path)
    if git(path, "rev-parse", "-q", "--verify", "HEAD", check=False).ok:
        return "the repository has commits already; nothing to do"
    git(path, "add", "-A")
    git(path, "commit", "--quiet", "--no-verify", "--allow-empty", "-m", "Initial commit (made by pmdesk)")
    return f"initialised a git repository with one commit ({checkout.head(path)[:10]})"


def plan_task_worktree(project: Project, plan: Plan, task: PlanTask, attempt: int = 1) -> dict[str, object] | None:
    """A task's branch and folder, decided at dispatch (or retry: ``attempt``) and made when the
    task starts; None for a plan dispatched in place."""
    if not plan.base_commit:
        return None
    return {"branch": layout.task_branch(plan, task.task_id, attempt),
            "worktree_path": str(layout.task_path(project.project_id, plan, task.task_id, attempt)),
            "base_commit": plan.base_commit,
            "merge_from": layout.dependency_branches(plan, task)}


def run_worktree(project: Project, run_id: str) -> dict[str, object]:
    _branch, commit = base_of(project)
    return {"branch": layout.run_branch(run_id), "worktree_path": str(layout.run_path(project.project_id, run_id)),
            "base_commit": commit}


def saved_work(run: Run) -> dict[str, object]:
    """Commit what a run left in its worktree and count its change: fields for the run.
    Raises ``GitError`` when git cannot; the files then stay where they are, uncommitted."""
    if not run.worktree_path or not run.branch or run.branch.endswith("/" + layout.INTEGRATION):
        return {}  # an integration worktree's merge is concluded by verify, never here
    path = Path(run.worktree_path)
    start = run.start_commit or run.base_commit
    if start is None or not checkout.is_worktree(path):
        return {}
    captured = checkout.capture(path, start, checkout.commit_message(run.prompt, run.run_id))
    return {"head_commit": captured.head_commit, "changes": captured.changes, "no_changes": captured.no_changes}


async def run_set_up(path: Path, commands: list[str], env: dict[str, str],
                     say: Callable[[str, list[str], dict[str, Any] | None], None]) -> None:
    """The project's set-up commands in a worktree (or a cluster worker's clone), one after another,
    their output said as ``setup`` lines; a failing one raises ``SetupError`` with its output's tail."""
    for command in commands:
        say("setup", [f"$ {command}"], {"setup": command})
        code, lines = await asyncio.to_thread(checkout.run_setup, path, command, env)
        if lines:
            say("setup", lines, {"setup": command})
        if code != 0:
            tail = "\n".join(lines[-10:])
            raise checkout.SetupError(f"set-up command {command!r} exited with code {code}"
                                      + (f":\n{tail}" if tail else ""))


class Isolation:
    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx

    async def prepare(self, project: Project, run: Run, recorder: EventRecorder, set_up: bool = True) -> str:
        """Make the run's worktree (or find it again) and set it up (``set_up``: here; a run placed on a
        cluster is set up on its worker); returns its start commit."""
        assert run.worktree_path and run.branch and run.base_commit
        path = Path(run.worktree_path)
        existed = checkout.is_worktree(path)
        merge_from = run.merge_from or []
        start = await asyncio.to_thread(checkout.create, Path(project.path), path, run.branch, run.base_commit,
                                        merge_from)
        if existed:
            recorder.emit("system", f"worktree found again: {path} on {run.branch}", {"worktree": str(path)})
            return run.start_commit or start
        recorder.emit("system", f"worktree {path} on {run.branch}"
                      + (f", from {', '.join(merge_from)}" if merge_from else f", from {run.base_commit[:10]}"),
                      {"worktree": str(path), "branch": run.branch, "start": start})
        if set_up:
            await self.set_up(project, path, recorder)
        return start

    async def set_up(self, project: Project, path: Path, recorder: EventRecorder) -> None:
        """The project's copy list and set-up commands in a new worktree; output as events of the run.
        A failing command raises ``SetupError`` with its output."""
        settings = self.ctx.project_settings(project).settings
        if settings.worktree_copy:
            said = await asyncio.to_thread(checkout.copy_in, Path(project.path), path, settings.worktree_copy)
            recorder.emit_many("setup", said, None)
        await run_set_up(path, settings.worktree_setup, self.ctx.child_env(with_key=False), recorder.emit_many)
        recorder.flush()

    async def capture(self, run: Run) -> dict[str, object]:
        return await asyncio.to_thread(saved_work, run)

    # -- the project's worktrees ---------------------------------------------------------------

    def starts(self, project: Project) -> tuple[dict[str, str], set[str]]:
        """branch → the commit its worktree started at, from the plans and runs that made them, and
        the plans merged squashed (files only: for the store worker)."""
        store = self.ctx.store(project)
        found: dict[str, str] = {}
        squashed: set[str] = set()
        for plan_summary in store.list_plans():
            if not (layout.root(project.project_id) / layout.short(plan_summary.plan_id)).is_dir():
                continue
            plan = store.get_plan(plan_summary.plan_id)
            for task in plan.tasks:
                if task.branch and task.start_commit:
                    found[task.branch] = task.start_commit
            if plan.integration and plan.base_commit:
                found[plan.integration.branch] = plan.base_commit
            if plan.merge is not None and plan.merge.mode == "squash":
                squashed.add(layout.short(plan.plan_id))
        runs_root = layout.root(project.project_id) / "runs"
        shorts = {p.name for p in runs_root.iterdir()} if runs_root.is_dir() else set()
        for run_summary in store.list_runs():
            if layout.short(run_summary.run_id) in shorts:
                run = store.get_run(run_summary.run_id)
                if run.branch and run.start_commit:
                    found[run.branch] = run.start_commit
        return found, squashed

    async def listing(self, project: Project, sizes: bool = True) -> list[inventory.WorktreeInfo]:
        starts, squashed = await self.ctx.disk(self.starts, project)

        def read() -> list[inventory.WorktreeInfo]:  # git, off the loop (the window's)
            if not is_repository(Path(project.path)):
                return []
            return inventory.listing(Path(project.path), project.project_id, starts, sizes, squashed)

        return await asyncio.to_thread(read)

    async def clean(self, project: Project, plan_id: str | None = None, merged: bool = False,
                    force: bool = False) -> inventory.Cleaned:
        """Remove a plan's worktrees (or every merged one), then their branches: see ``inventory.clean``.
        Whether the plan may be cleaned now is the facade's to check (``PlanAction.CLEAN``)."""
        found = await self.listing(project, sizes=False)
        if plan_id:
            targets = [w for w in found if w.plan_short == layout.short(plan_id)]
        elif merged:
            targets = [w for w in found if w.state in (inventory.WorktreeState.MERGED, inventory.WorktreeState.CLEAN,
                                                       inventory.WorktreeState.MISSING)]
        else:
            raise BadInputError("say what to clean: a plan, or --merged")
        done = await asyncio.to_thread(inventory.clean, Path(project.path), targets, force)
        if done.removed or done.pruned or done.branches_deleted:
            self.ctx.record(project, ActivityType.WORKTREES_CLEANED,
                            f"worktrees cleaned: {len(done.removed)} removed, {len(done.branches_deleted)} branches "
                            f"deleted" + (f", {len(done.backups)} saved to backup refs" if done.backups else ""),
                            plan_id=plan_id, data={"removed": done.removed, "backups": done.backups})
        return done

    async def run_diff(self, project: Project, run: Run, stat_only: bool) -> Diff:
        """What a run changed: its start..head once it ended, its worktree's files while it works."""
        found = Diff(target=run.run_id)
        start = run.start_commit or run.base_commit
        if not run.worktree_path or not start:
            found.note = "this run worked in the project folder, not in a worktree: there is no branch to compare"
            return found
        where = Path(run.worktree_path) if not run.head_commit else Path(project.path)
        if not where.is_dir():
            found.note = f"its worktree {where} is gone"
            return found
        found.sections.append(await asyncio.to_thread(section, where, f"run {run.run_id}", start, run.head_commit,
                                                      stat_only))
        return found

    async def disk_used(self, project: Project) -> int:
        found = layout.root(project.project_id)
        return await asyncio.to_thread(inventory.disk_usage, found) if found.is_dir() else 0

    def reconcile(self, project: Project) -> list[str]:
        """At start: forget worktrees whose folders vanished (said), find left-behind ones again."""
        path = Path(project.path)
        try:
            if not layout.root(project.project_id).is_dir() or not is_repository(path):
                return []
            gone = inventory.prune_vanished(path, project.project_id)
        except (GitError, NotGitError, OSError) as exc:
            return [f"{project.name}: worktrees could not be checked: {exc}"]
        return [f"{project.name}: worktree {p} had vanished; git forgot it (its branch and commits remain)"
                for p in gone]
