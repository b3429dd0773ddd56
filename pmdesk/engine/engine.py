"""The engine: one per process, Qt-free, on one asyncio loop. Every client calls it."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

from pmdesk import config
from pmdesk.engine.notifications import ActivityRecorded, ChangeBus, ProjectsChanged
from pmdesk.engine.overview import ProjectOverview, overview
from pmdesk.engine.redact import Redactor
from pmdesk.engine.runs import RunService
from pmdesk.engine.store_worker import StoreWorker
from pmdesk.executors.base import Executor, ExecutorError
from pmdesk.executors.claude_code import ClaudeCodeExecutor
from pmdesk.executors.command import CommandExecutor
from pmdesk.executors.discovery import default_executor, require_claude
from pmdesk.models import ActivityEvent, ActivityType, ExecutorKind, Project, Run, new_id, validate_id
from pmdesk.store import NotFoundError, StateStore
from pmdesk.store.registry import ProjectRegistry

SECRET_ENV = ("ANTHROPIC_API_KEY",)


class Engine:
    def __init__(self, registry: ProjectRegistry | None = None, role: str = "engine") -> None:
        self.registry = registry or ProjectRegistry()
        self.settings = config.load_settings()
        self.role = role
        self.bus = ChangeBus()
        self.redactor = Redactor()
        self.disk = StoreWorker()  # run and plan writes from async code go through it
        self.runs = RunService(self)
        from pmdesk.engine.loop import PlanLoop

        self.loop = PlanLoop(self)
        self._stores: dict[str, StateStore] = {}
        self._holds: Counter[str] = Counter()

    # -- projects ----------------------------------------------------------------------

    def project(self, ref: str) -> Project:
        return self.registry.resolve(ref)

    def projects(self) -> list[Project]:
        return self.registry.list()

    def add_project(self, path: str, name: str | None = None) -> Project:
        project = self.registry.add(path, name)
        self.record(project, ActivityType.PROJECT_ADDED, f"project added: {project.path}")
        self.bus.publish(ProjectsChanged())
        return project

    def remove_project(self, ref: str) -> Project:
        project = self.registry.remove(ref)
        self._stores.pop(project.project_id, None)
        self.bus.publish(ProjectsChanged())
        return project

    def locate(self, kind: str, item_id: str) -> Project:
        """The registered project whose state directory holds this run, plan or packet."""
        prefix = {"run": "run", "plan": "plan", "packet": "pkt"}[kind]
        validate_id(item_id, prefix)
        for project in self.projects():
            if Path(project.path).is_dir() and self.store(project).contains(kind, item_id):
                return project
        raise NotFoundError(kind, item_id)

    def save_project(self, project: Project) -> None:
        self.store(project).put_project(project)
        self.registry.update(project)
        self.bus.publish(ProjectsChanged())

    def store(self, project: Project) -> StateStore:
        store = self._stores.get(project.project_id)
        if store is None:
            store = StateStore.for_project(project.path, project.project_id)
            store.owner_lock.role = self.role
            self._stores[project.project_id] = store
        return store

    def overview(self, project: Project) -> ProjectOverview:
        return overview(project, self.store(project) if Path(project.path).is_dir() else None)

    def project_settings(self, project: Project) -> Project:
        """The project with its settings as saved in its state directory."""
        try:
            saved = self.store(project).get_project()
            project.settings = saved.settings
        except Exception:
            pass
        return project

    # -- ownership: one engine owns a project's runs at a time ----------------------------

    def hold(self, project: Project) -> None:
        if self._holds[project.project_id] == 0:
            self.store(project).owner_lock.acquire()
        self._holds[project.project_id] += 1

    def release(self, project: Project) -> None:
        self._holds[project.project_id] -= 1
        if self._holds[project.project_id] <= 0:
            del self._holds[project.project_id]
            self.store(project).owner_lock.release()

    # -- executors --------------------------------------------------------------------------

    def default_executor(self, project: Project) -> ExecutorKind:
        project = self.project_settings(project)
        if project.settings.default_executor:
            return project.settings.default_executor
        if project.settings.command_template and not self.settings.default_executor:
            return ExecutorKind.COMMAND
        return default_executor(self.settings)

    def run_settings(self, project: Project, kind: ExecutorKind, model: str | None, command: str | None) -> dict[str, Any]:
        project = self.project_settings(project)
        chosen_model = model or project.settings.default_model or self.settings.default_model
        out: dict[str, Any] = {
            "executor": kind.value,
            "model": chosen_model if kind in (ExecutorKind.CLAUDE_CODE, ExecutorKind.ANTHROPIC_AGENT) else None,
            "max_turns": self.settings.max_turns,
            "max_tokens_per_run": self.settings.max_tokens_per_run,
            "command_timeout_s": self.settings.command_timeout_s,
        }
        if kind == ExecutorKind.COMMAND:
            template = command or project.settings.command_template
            if not template:
                raise ExecutorError("the command executor needs a command template (--command 'tool {prompt}')")
            out["command"] = template
        if kind == ExecutorKind.CLAUDE_CODE and model is None and project.settings.default_model is None:
            out["model"] = None  # let Claude Code use its own default unless one was chosen
        return {k: v for k, v in out.items() if v is not None}

    def executor_for(self, run: Run) -> Executor:
        if run.executor == ExecutorKind.CLAUDE_CODE:
            return ClaudeCodeExecutor(require_claude(self.settings))
        if run.executor == ExecutorKind.ANTHROPIC_AGENT:
            from pmdesk.executors.anthropic_agent import AnthropicAgentExecutor  # the SDK loads slowly

            return AnthropicAgentExecutor()
        if run.executor == ExecutorKind.COMMAND:
            return CommandExecutor()
        raise ExecutorError(f"runs of kind {run.executor.value} are not started by an executor")

    def child_env(self) -> dict[str, str]:
        """The agent's environment: the user's, plus the saved key for agents that need it."""
        env = dict(os.environ)
        key = config.saved_api_key()
        if key:
            env["ANTHROPIC_API_KEY"] = key
        return env

    # -- the evidence trail --------------------------------------------------------------------

    def record(self, project: Project, kind: ActivityType, message: str, *, actor: str = "user",
               plan_id: str | None = None, run_id: str | None = None, task_id: str | None = None,
               packet_id: str | None = None, data: dict[str, Any] | None = None) -> ActivityEvent:
        event = ActivityEvent(
            activity_id=new_id("act"), type=kind, project_id=project.project_id, actor=actor,
            plan_id=plan_id, run_id=run_id, task_id=task_id, packet_id=packet_id,
            message=self.redactor.text(message), data=data,
        )
        self.store(project).append_activity([event])
        self.bus.publish(ActivityRecorded(project.project_id, event))
        return event

    # -- lifecycle ----------------------------------------------------------------------------

    def recover(self) -> list[str]:
        """Runs and plans left mid-flight by a dead process; returns what was done."""
        from pmdesk.engine.recovery import recover_project

        notes: list[str] = []
        for project in self.projects():
            if Path(project.path).is_dir():
                notes.extend(recover_project(self, project))
        return notes

    async def shutdown(self) -> None:
        for job in list(self.loop.jobs.values()):
            if job.task is not None:
                job.task.cancel()
        await self.runs.cancel_all()
        self.disk.close()
        for store in self._stores.values():
            store.owner_lock.release()
