"""The engine: one per process, Qt-free, on one asyncio loop. Every client calls it.

The facade composes the services (runs, plans) on one ``EngineContext`` and owns what spans
them: the registry of projects, locating a record's project, the use cases that cross a
service (answer a run *and* continue its plan), recovery and shutdown.
"""

from __future__ import annotations

from pathlib import Path

from pmdesk import config
from pmdesk.engine.context import EngineContext
from pmdesk.engine.inspect import create_packet
from pmdesk.engine.isolation import Isolation, git_init
from pmdesk.engine.lazy_imports import load
from pmdesk.engine.notifications import ChangeBus, ProjectsChanged
from pmdesk.engine.overview import ProjectOverview, overview
from pmdesk.engine.plans import PlanService
from pmdesk.engine.plans.rules import PlanAction, require
from pmdesk.engine.recovery import recover_runs
from pmdesk.engine.redact import Redactor
from pmdesk.engine.runs import RunService
from pmdesk.engine.worktrees.diff import Diff
from pmdesk.engine.worktrees.git import exclude_state_dir
from pmdesk.engine.worktrees.inventory import Cleaned
from pmdesk.errors import PmdeskError
from pmdesk.models import ActivityType, InspectionPacket, Project, Run, validate_id
from pmdesk.store import NotFoundError, StateStore
from pmdesk.store.atomic import remove_stale_temp_files
from pmdesk.store.registry import ProjectRegistry

KINDS = {"run": "run", "plan": "plan", "packet": "pkt"}


class Engine:
    def __init__(self, registry: ProjectRegistry | None = None, role: str = "engine") -> None:
        self.registry = registry or ProjectRegistry(config.config_dir())
        self.ctx = EngineContext(self.registry, config.load_settings(), role)
        self.isolation = Isolation(self.ctx)
        self.runs = RunService(self.ctx, self.isolation)
        self.plans = PlanService(self.ctx, self.runs, self.isolation)

    # -- what every client reads through the facade ------------------------------------------

    @property
    def settings(self) -> config.AppSettings:
        return self.ctx.settings

    @settings.setter
    def settings(self, value: config.AppSettings) -> None:
        self.ctx.settings = value

    @property
    def bus(self) -> ChangeBus:
        return self.ctx.bus

    @property
    def redactor(self) -> Redactor:
        return self.ctx.redactor

    def store(self, project: Project) -> StateStore:
        return self.ctx.store(project)

    def project_settings(self, project: Project) -> Project:
        return self.ctx.project_settings(project)

    # -- projects ----------------------------------------------------------------------

    def project(self, ref: str) -> Project:
        return self.registry.resolve(ref)

    def projects(self) -> list[Project]:
        return self.registry.list()

    def add_project(self, path: str, name: str | None = None) -> Project:
        project = self.registry.add(path, name)
        self.ctx.record(project, ActivityType.PROJECT_ADDED, f"project added: {project.path}")
        exclude_state_dir(Path(project.path))  # pmdesk's state is never committed into the user's branches
        self.bus.publish(ProjectsChanged())
        return project

    def remove_project(self, ref: str) -> Project:
        project = self.registry.remove(ref)
        self.ctx.forget(project.project_id)
        self.bus.publish(ProjectsChanged())
        return project

    def save_project(self, project: Project) -> None:
        self.store(project).put_project(project)
        self.registry.update(project)
        self.bus.publish(ProjectsChanged())

    def locate(self, kind: str, item_id: str) -> Project:
        """The registered project whose state directory holds this run, plan or packet."""
        validate_id(item_id, KINDS[kind])
        for project in self.projects():
            if Path(project.path).is_dir() and self.store(project).contains(kind, item_id):
                return project
        raise NotFoundError(kind, item_id)

    def problems(self) -> list[str]:
        """What is wrong with pmdesk's own files (the registry, the settings), with what to do."""
        found = [self.registry.problem, config.settings_problem()]
        return [p for p in found if p]

    def overview(self, project: Project) -> ProjectOverview:
        return overview(project, self.store(project) if Path(project.path).is_dir() else None)

    # -- use cases that span services --------------------------------------------------------

    def inspect(self, project: Project, run_id: str) -> InspectionPacket:
        return create_packet(self.ctx, project, run_id)

    async def answer(self, project: Project, run_id: str, text: str) -> Run:
        """Answer a run that waits, and let its plan (if any) schedule again: the slot it held
        frees when the run ends, and a plan no process schedules continues here."""
        run = await self.runs.respond(project, run_id, text)
        if run.plan_id:
            self.plans.continue_plan(project, run.plan_id)
        return run

    async def follow_run(self, project: Project, run_id: str) -> Run:
        """Until the run ends or waits for an answer; a plan task's plan is followed on as long
        as this process schedules it, since an answered task frees a slot for the next one."""
        await self.runs.wait(run_id)
        run = self.store(project).get_run(run_id)
        if run.plan_id and self.plans.is_live(run.plan_id):
            await self.plans.follow(project, run.plan_id)
        return self.store(project).get_run(run_id)

    async def diff(self, target_id: str, stat_only: bool = False) -> Diff:
        """Review a plan (base..integration, or each task's branch while it runs) or a run."""
        kind = "plan" if target_id.startswith("plan_") else "run"
        project = self.locate(kind, target_id)
        store = self.store(project)
        if kind == "plan":
            return await self.plans.diff(project, store.get_plan(target_id), stat_only)
        run = store.get_run(target_id)
        if run.plan_id and (run.task_run_id or "").startswith("verify_"):  # verify's run shows what it verified
            found = await self.plans.diff(project, store.get_plan(run.plan_id), stat_only)
            found.target = target_id
            return found
        return await self.isolation.run_diff(project, run, stat_only)

    async def clean(self, project: Project, plan_id: str | None = None, merged: bool = False,
                    force: bool = False) -> Cleaned:
        """Remove a plan's worktrees (or every merged one) and their branches, never losing work."""
        if plan_id is not None:
            require(self.store(project).get_plan(plan_id), PlanAction.CLEAN, live=self.plans.is_live(plan_id))
        return await self.isolation.clean(project, plan_id, merged, force)

    def git_init(self, project: Project) -> str:
        """Make a folder a git repository with a first commit, so its plans can be isolated."""
        return git_init(project)

    # -- lifecycle ----------------------------------------------------------------------------

    async def warm_up(self) -> None:
        """Import the anthropic SDK ahead of the first Generate or embedded-agent run. Its import
        holds the GIL in C code for ~0.2 s even in a worker thread, so a window does this once,
        after its first paint and listing, rather than when the user clicks."""
        await load("pmdesk.executors.anthropic_client")

    def recover(self) -> list[str]:
        """Runs and plans left mid-flight by a dead process; returns what was done."""
        notes: list[str] = []
        try:
            projects = self.projects()
        except PmdeskError:
            return notes  # a damaged registry names no project to recover; it is reported where it is read
        for project in projects:
            if not Path(project.path).is_dir():
                continue
            if not self.store(project).owner_lock.is_free():
                continue  # another live engine owns these runs and plans
            notes.extend(self.isolation.reconcile(project))
            notes.extend(recover_runs(self.ctx, project, self.runs.live))
            notes.extend(self.plans.recover(project))
            remove_stale_temp_files(self.store(project).state_dir)
        remove_stale_temp_files(self.registry.directory, depth=0)
        return notes

    async def shutdown(self) -> None:
        self.plans.stop()
        await self.runs.cancel_all()
        self.ctx.close()

