"""The engine: one per process, Qt-free, on one asyncio loop. Every client calls it.

The facade composes the services (runs, plans) on one ``EngineContext`` and owns what spans
them: the registry of projects, locating a record's project, the use cases that cross a
service (answer a run *and* continue its plan), recovery and shutdown.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import Field

from pmdesk import config
from pmdesk.engine import inbox
from pmdesk.engine.context import EngineContext
from pmdesk.engine.costs import CostReport, budget_text, report
from pmdesk.engine.decisions import NotHeldHereError
from pmdesk.engine.inspect import create_packet
from pmdesk.engine.isolation import Isolation, git_init
from pmdesk.engine.lazy_imports import load
from pmdesk.engine.notifications import ChangeBus, ProjectsChanged
from pmdesk.engine.overview import Overviews, ProjectOverview
from pmdesk.engine.permissions import parse_mode, parse_rules
from pmdesk.engine.plans import PlanService
from pmdesk.engine.plans.jobs import JobKind
from pmdesk.engine.plans.rules import PlanAction, require
from pmdesk.engine.plans.scheduler import settled
from pmdesk.engine.recovery import recover_runs
from pmdesk.engine.redact import Redactor
from pmdesk.engine.runs import RunService
from pmdesk.engine.search import BackgroundIndexer, Reindexed, SearchResult, SearchService
from pmdesk.engine.search.service import parse_since
from pmdesk.engine.watch import StateWatcher
from pmdesk.engine.worktrees.diff import Diff
from pmdesk.engine.worktrees.git import exclude_state_dir
from pmdesk.engine.worktrees.inventory import Cleaned
from pmdesk.errors import BadInputError, PmdeskError
from pmdesk.executors.process import pid_alive
from pmdesk.models import (
    ActivityType,
    Budget,
    DispatchResponse,
    ExecutorKind,
    InspectionPacket,
    Model,
    PermissionMode,
    Plan,
    PlanStatus,
    Project,
    Run,
    TaskState,
    jsonable,
    validate_id,
)
from pmdesk.store import NotFoundError, StateStore
from pmdesk.store.atomic import remove_stale_temp_files
from pmdesk.store.locks import ProjectBusyError
from pmdesk.store.registry import ProjectRegistry

KINDS = {"run": "run", "plan": "plan", "packet": "pkt"}
LETTER_OPTIONS = {
    "launch": {"prompt", "executor", "model", "command", "in_worktree", "permission_mode"},
    "dispatch": {"parallel", "max_parallel", "executor", "model", "command", "in_place", "budget", "on"},
    "verify": {"force", "rebase", "on"},
}


class BudgetSet(Model):
    budget: Budget | None = None
    continued: list[str] = Field(default_factory=list)  # plans held at a budget that go on now
    held: list[str] = Field(default_factory=list)  # plans still held (continue them with dispatch or Continue)


class Engine:
    def __init__(self, registry: ProjectRegistry | None = None, role: str = "engine") -> None:
        self.registry = registry or ProjectRegistry(config.config_dir())
        self._overviews = Overviews()
        self.ctx = EngineContext(self.registry, config.load_settings(), role)
        self.watcher: StateWatcher | None = None
        self.isolation = Isolation(self.ctx)
        self.runs = RunService(self.ctx, self.isolation)
        self.plans = PlanService(self.ctx, self.runs, self.isolation)
        self.runs.on_letter = self._carry_out
        self.searching = SearchService(self.ctx)
        self.indexer: BackgroundIndexer | None = None

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

    def where_would_land(self, path: str) -> tuple[bool, str]:
        """Whether ``path`` can be added, and in words what adding it does (for a drop target)."""
        if not Path(path).is_dir():
            return False, f"{Path(path).name or path} is not a folder"
        what, project = self.registry.where_would_land(path)
        name = Path(path).name or path
        if what == "new":
            return True, f"add {name} as a project"
        assert project is not None
        if what == "registered":
            return False, f"{name} is already the project {project.name!r}"
        if what == "inside":
            return False, f"{name} is inside the project {project.name!r}; open that project instead"
        return False, f"{name} holds the project {project.name!r}; two projects cannot share files"

    def remove_project(self, ref: str) -> Project:
        project = self.registry.remove(ref)
        self.searching.forget(project.project_id)
        self.ctx.forget(project.project_id)
        self.bus.publish(ProjectsChanged())
        return project

    def save_project(self, project: Project) -> None:
        self.store(project).put_project(project)
        self.registry.update(project)
        self.bus.publish(ProjectsChanged())

    def set_permissions(self, project: Project, mode: str | None = None, allow: list[str] | None = None,
                        deny: list[str] | None = None, confirm_bypass: bool = False) -> Project:
        """The project's permission policy for new runs. Bypass needs its one-time confirmation,
        which is recorded; an invalid mode or rule is refused with what is valid."""
        project = self.project_settings(project)
        settings = project.settings.model_copy()
        changed: list[str] = []
        if mode is not None:
            chosen = parse_mode(mode)
            if chosen == PermissionMode.BYPASS and not (settings.bypass_confirmed or confirm_bypass):
                raise BadInputError("bypass lets agents run every tool unasked (in their own worktrees only); "
                                    "confirm it once with --confirm-bypass, or in Settings")
            if chosen != settings.permission_mode:
                changed.append(f"mode {settings.permission_mode.value} → {chosen.value}")
            settings.permission_mode = chosen
        if confirm_bypass and not settings.bypass_confirmed:
            settings.bypass_confirmed = True
            changed.append("bypass confirmed for runs in isolated worktrees")
        if allow is not None:
            settings.allow_rules = parse_rules(allow)
            changed.append(f"allow {settings.allow_rules or '—'}")
        if deny is not None:
            settings.deny_rules = parse_rules(deny)
            changed.append(f"deny {settings.deny_rules or '—'}")
        project.settings = settings
        self.save_project(project)
        if changed:
            self.ctx.record(project, ActivityType.PERMISSION_MODE_CHANGED, "permissions: " + "; ".join(changed),
                            data={"mode": settings.permission_mode.value, "allow": settings.allow_rules,
                                  "deny": settings.deny_rules, "bypassConfirmed": settings.bypass_confirmed})
        return project

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
        return self._overviews.of(project, self.store(project), self._folder_is_there)

    def overviews_json(self) -> bytes:
        """Every project's overview as one JSON array, from the kept ones (``GET /api/projects``)."""
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        parts = [self._overviews.json(p, self.store(p), self._folder_is_there, today) for p in self.projects()]
        return b"[" + b",".join(parts) + b"]"

    @staticmethod
    def _folder_is_there(project: Project) -> bool:
        return os.path.isdir(project.path)

    # -- use cases that span services --------------------------------------------------------

    async def inspect(self, project: Project, run_id: str) -> InspectionPacket:
        return await create_packet(self.ctx, project, run_id)

    def packet(self, project: Project, packet_id: str) -> InspectionPacket:
        """A packet of this project, read once (the store refuses a bad id and names an unknown one)."""
        return self.store(project).get_packet(packet_id)

    async def answer(self, project: Project, run_id: str, text: str) -> Run:
        """Answer a run that waits (or message one at work), and let its plan (if any) schedule
        again: the slot it held frees when the run ends, and a plan no process schedules continues here."""
        run = await self._here_or_holder(project, run_id, "respond", {"text": text},
                                         lambda: self.runs.respond(project, run_id, text))
        if run.plan_id and run.owner_pid in (None, os.getpid()):
            self.plans.continue_plan(project, run.plan_id)
        return run

    async def decide(self, project: Project, run_id: str, allow: bool, **choices: Any) -> Run:
        """Allow or deny the tool, question or plan the run waits on (see ``Decisions.decide``)."""
        return await self._here_or_holder(project, run_id, "decide", {"allow": allow, **choices},
                                          lambda: self.runs.decisions.decide(project, run_id, allow, **choices))

    async def interrupt(self, project: Project, run_id: str) -> Run:
        return await self._here_or_holder(project, run_id, "interrupt", {},
                                          lambda: self.runs.decisions.interrupt(project, run_id))

    async def _here_or_holder(self, project: Project, run_id: str, action: inbox.Action, args: dict[str, Any],
                              here: Callable[[], Awaitable[Run]]) -> Run:
        """Carried out here; or, when another pmdesk process holds the run (its agent, its pending
        request), posted to that process, which carries it out in the same turn."""
        try:
            return await here()
        except (ProjectBusyError, NotHeldHereError):
            run = self.store(project).get_run(run_id)
            if not run.owner_pid or run.owner_pid == os.getpid() or not pid_alive(run.owner_pid):
                raise
            await inbox.post(self.store(project).state_dir, run_id, action, args, f"pmdesk pid {run.owner_pid}")
            return self.store(project).get_run(run_id)

    async def launch(self, project: Project, prompt: str, **options: Any) -> Run:
        """Create and start a run here (``runs.launch``); when another pmdesk process owns the
        project (the window with runs at work), that process does, and its agent works there."""
        async def here() -> Run:
            return await self.runs.launch(project, prompt, **options)

        answered = await self._routed(project, project.project_id, "launch", {"prompt": prompt, **options}, here)
        if isinstance(answered, Run):
            return answered
        return self.store(project).get_run(str((answered or {}).get("runId")))

    async def dispatch(self, project: Project, plan_id: str, **options: Any) -> DispatchResponse:
        """``plans.dispatch`` here, or by the process that owns the project."""
        async def here() -> DispatchResponse:
            return await self.plans.dispatch(project, plan_id, **options)

        answered = await self._routed(project, plan_id, "dispatch", options, here)
        return answered if isinstance(answered, DispatchResponse) else DispatchResponse.model_validate(answered)

    async def start_verify(self, project: Project, plan_id: str, force: bool = False, rebase: bool = False,
                           on: str | None = None) -> Plan:
        """Mark the plan VERIFYING and start its gates, here or in the process that owns the project."""
        async def here() -> Plan:
            return await self.plans.start_verify(project, plan_id, force=force, rebase=rebase, on=on)

        await self._routed(project, plan_id, "verify", {"force": force, "rebase": rebase, "on": on}, here)
        return self.store(project).get_plan(plan_id)

    async def _routed(self, project: Project, item_id: str, action: inbox.Action, args: dict[str, Any],
                      here: Callable[[], Awaitable[Any]]) -> Any:
        """Carried out here; or, when another live pmdesk process owns the project, by that one."""
        try:
            return await here()
        except ProjectBusyError:
            owner = self.store(project).owner_lock.owner() or {}
            pid = owner.get("pid")
            if not isinstance(pid, int) or pid == os.getpid() or not pid_alive(pid):
                raise
            holder = f"pmdesk {owner.get('role') or 'process'} (pid {pid})"
            return await inbox.post(self.store(project).state_dir, item_id, action, jsonable(args), holder)

    async def _carry_out(self, letter: inbox.Letter) -> dict[str, Any] | None:
        if letter.action in ("launch", "dispatch", "verify"):
            return await self._carry_out_for_project(letter)
        live = self.runs.live.get(letter.run_id)
        if live is None:
            raise NotHeldHereError(f"run {letter.run_id} is no longer held by pmdesk pid {os.getpid()}")
        if letter.action == "decide":
            args = dict(letter.args)
            await self.decide(live.project, letter.run_id, bool(args.pop("allow", False)), **args)
        elif letter.action == "interrupt":
            await self.interrupt(live.project, letter.run_id)
        else:
            await self.answer(live.project, letter.run_id, str(letter.args.get("text") or ""))
        return None

    async def _carry_out_for_project(self, letter: inbox.Letter) -> dict[str, Any] | None:
        """Work another process asked this one (the project's owner) to do; only the options the
        command line gives are taken."""
        args = dict(letter.args)
        unknown = set(args) - LETTER_OPTIONS[letter.action]
        if unknown:
            raise BadInputError(f"a {letter.action} letter with options pmdesk does not send: {sorted(unknown)}")
        if letter.action == "launch":
            project = self.project(letter.run_id)
            prompt = str(args.pop("prompt", ""))
            if args.get("executor"):
                args["executor"] = ExecutorKind(args["executor"])
            if args.get("permission_mode"):
                args["permission_mode"] = PermissionMode(args["permission_mode"])
            launched = await self.runs.launch(project, prompt, **args)
            return {"runId": launched.run_id}
        project = self.locate("plan", letter.run_id)
        if letter.action == "dispatch":
            if args.get("executor"):
                args["executor"] = ExecutorKind(args["executor"])
            if args.get("budget") is not None:
                args["budget"] = Budget.model_validate(args["budget"])
            return (await self.plans.dispatch(project, letter.run_id, **args)).to_json_dict()
        await self.plans.start_verify(project, letter.run_id, force=bool(args.get("force")),
                                      rebase=bool(args.get("rebase")), on=str(args["on"]) if args.get("on") else None)
        return None

    async def search(self, text: str, project: Project | None = None, kinds: list[str] | None = None,
                     since: str | None = None, limit: int = 50, after: str | None = None) -> SearchResult:
        """Every registered project's prompts, questions, answers, agent text, tool calls, output, gate
        output and plan tasks, newest first, a page at a time (``after``: the last page's ``next``). A process with no indexer of its own (the command line)
        catches the index up first; the window and ``serve`` keep theirs current as runs write."""
        projects = [project] if project is not None else self.projects()
        indexer = self.indexer

        def ask() -> SearchResult:
            if indexer is not None:
                indexer.catch_up_now()  # what runs wrote in the last second is found too
            return self.searching.search(projects, text, kinds, since, limit, catch_up=indexer is None,
                                         building=indexer is not None and not indexer.ready.is_set(), after=after)

        return await self.searching.in_thread(ask)

    async def reindex(self, project: Project | None = None) -> list[Reindexed]:
        """Build the search index again from the JSONL (the record), for one project or all."""
        projects = [project] if project is not None else self.projects()
        return await self.searching.in_thread(lambda: self.searching.reindex(projects))

    def index_in_background(self) -> BackgroundIndexer:
        """From now on the search indexes follow what runs write, in a thread of their own."""
        if self.indexer is None:
            self.indexer = BackgroundIndexer(self.ctx, self.searching, self.projects)
            self.indexer.start()
        return self.indexer

    async def cost(self, project: Project, plan_id: str | None = None, since: str | None = None) -> CostReport:
        """What the project's runs (or the plan's and its fix plans') cost: per day, today, this month,
        in all, by plan or by task, and against the budget."""
        if since is not None:
            parse_since(since)  # a date the user can fix, said before anything is read
        store = self.store(project)
        project = self.project_settings(project)

        def read() -> CostReport:
            plan = store.get_plan(plan_id) if plan_id else None
            return report(project, store.list_runs(), store.list_plans(), plan, since)

        return await asyncio.to_thread(read)

    async def set_budget(self, project: Project, budget: Budget | None, plan_id: str | None = None,
                         go_on: bool = True) -> BudgetSet:
        """The project's monthly budget, or a plan's (None clears it). Plans held at a budget go on
        here when ``go_on`` (the window, ``serve``) and the new budget allows their next run; a
        short-lived client (the command line) names them instead."""
        shown = "none" if budget is None or not budget.is_set() else budget_text(budget)
        budget = budget if budget is not None and budget.is_set() else None
        data = {"budget": budget.to_json_dict() if budget else None}
        if plan_id is not None:
            await self.plans.changes.update(project, plan_id, lambda p: setattr(p, "budget", budget))
            self.ctx.record(project, ActivityType.BUDGET_SET, f"plan budget: {shown}", plan_id=plan_id, data=data)
        else:
            project = self.project_settings(project)
            project.settings = project.settings.model_copy(update={"monthly_budget": budget})
            self.save_project(project)
            self.ctx.record(project, ActivityType.BUDGET_SET, f"monthly budget: {shown}", data=data)
        done = BudgetSet(budget=budget)
        store = self.store(project)
        for summary in store.list_plans():
            if plan_id not in (None, summary.plan_id) or summary.status != PlanStatus.RUNNING:
                continue
            plan = store.get_plan(summary.plan_id)
            if not plan.budget_stop:
                continue
            ahead = await asyncio.to_thread(self.plans.estimate, project, plan.plan_id, True, None, None, None, None,
                                            "local")  # a run's cost and tokens only: no cluster is asked
            still = await asyncio.to_thread(self.runs.budgets.reason, project, plan, ahead.cost_per_run,
                                            ahead.tokens_per_run)
            if still:
                done.held.append(plan.plan_id)
                continue
            await self.plans.changes.update(project, plan.plan_id, lambda p: setattr(p, "budget_stop", None))
            try:
                going = go_on and self.plans.continue_plan(project, plan.plan_id)
            except ProjectBusyError:  # the process that owns the project continues it when asked (Continue)
                going = False
            (done.continued if going else done.held).append(plan.plan_id)
        return done

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
        """Import the anthropic SDK ahead of the first Generate. Its import holds the GIL in C code
        for ~0.2 s even in a worker thread, so a window does this when the plan dialog opens,
        while the user writes, rather than when the user clicks; not at start, since the SDK
        takes ~50 MiB that a window which never generates need not hold."""
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

    def work_in_hand(self) -> tuple[int, int]:
        """(runs working here, plans with work still to start here): what quitting would end.
        A run or plan that only waits for an answer is not counted: it stays answerable."""
        working = sum(live.snapshot is None or live.snapshot.status == TaskState.RUNNING
                      for live in self.runs.live.values())
        plans = sum(job.kind == JobKind.VERIFY or job.plan is None or not settled(job.plan)
                    for job in self.plans.jobs.values())
        return working, plans

    def watch_others(self) -> StateWatcher:
        """From now on, what other pmdesk processes write in the projects is published here too."""
        if self.watcher is None:
            self.watcher = StateWatcher(self.ctx, self.projects)
            self.watcher.start()
        return self.watcher

    async def shutdown(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        if self.indexer is not None:
            self.indexer.stop()
            self.indexer = None
        self.plans.stop()
        await self.runs.cancel_all()
        self.runs.stop_letters()
        self.searching.close()
        self.ctx.close()

