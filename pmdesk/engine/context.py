"""EngineContext: what the engine's services need from the process, and nothing else.

A service (runs, plans, inspect, recovery) receives this instead of the ``Engine`` facade,
so it can be built and tested with a context alone and never calls back up. Ownership of a
project's live work is a ``Lease`` from ``owning()``: one ``with`` per use, released once
however often it is asked to be, so no call site counts holds by hand.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from pmdesk import config
from pmdesk.engine.notifications import ActivityRecorded, ChangeBus, PlanChanged, RunChanged
from pmdesk.engine.redact import Redactor
from pmdesk.engine.store_worker import StoreWorker
from pmdesk.models import ActivityEvent, ActivityType, Plan, Project, Run, new_id
from pmdesk.store import StateStore, scrub
from pmdesk.store.registry import ProjectRegistry

SECRET_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")  # what only the agent itself needs
PMDESK_ONLY_ENV = ("RAY_AUTH_TOKEN", "RAY_AUTH_MODE")  # pmdesk's own link to a cluster: never an agent's


class Lease:
    """This process's hold on one project's live work (the owner lock in its state dir)."""

    def __init__(self, context: EngineContext, project_id: str) -> None:
        self._context = context
        self._project_id = project_id
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._context._let_go(self._project_id)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


class EngineContext:
    def __init__(self, registry: ProjectRegistry, settings: config.AppSettings, role: str) -> None:
        self.registry = registry
        self.settings = settings
        self.role = role
        self.bus = ChangeBus()
        self.redactor = Redactor()
        scrub.install(self.redactor.text)  # every record and line the store writes passes through it
        self.disk = StoreWorker()  # run and plan writes from async code go through it
        self._stores: dict[str, StateStore] = {}
        self._holds: Counter[str] = Counter()

    # -- state directories --------------------------------------------------------------

    def store(self, project: Project) -> StateStore:
        store = self._stores.get(project.project_id)
        if store is None:
            store = StateStore.for_project(project.path, project.project_id)
            store.owner_lock.role = self.role
            self._stores[project.project_id] = store
        return store

    def forget(self, project_id: str) -> None:
        """A project left the registry: drop its store (its lock, if held, goes with the holds)."""
        if not self._holds.get(project_id):
            self._stores.pop(project_id, None)

    def project_settings(self, project: Project) -> Project:
        """The project with its settings as saved in its state directory."""
        try:
            project.settings = self.store(project).get_project().settings
        except Exception:  # a missing or unreadable project file: the registry's copy stands
            pass
        return project

    # -- ownership ---------------------------------------------------------------------

    def owning(self, project: Project) -> Lease:
        """Hold the project for this process; raises ProjectBusyError when another owns it."""
        if self._holds[project.project_id] == 0:
            self.store(project).owner_lock.acquire()
        self._holds[project.project_id] += 1
        return Lease(self, project.project_id)

    def _let_go(self, project_id: str) -> None:
        self._holds[project_id] -= 1
        if self._holds[project_id] <= 0:
            del self._holds[project_id]
            store = self._stores.get(project_id)
            if store is not None:
                store.owner_lock.release()

    # -- telling the listeners -----------------------------------------------------------

    def publish_run(self, project: Project, run: Run) -> None:
        self.bus.publish(RunChanged(project.project_id, run))

    def publish_plan(self, project: Project, plan: Plan) -> None:
        self.bus.publish(PlanChanged(project.project_id, plan))

    def record(self, project: Project, kind: ActivityType, message: str, *, actor: str = "user",
               plan_id: str | None = None, run_id: str | None = None, task_id: str | None = None,
               packet_id: str | None = None, data: dict[str, Any] | None = None) -> ActivityEvent:
        """One entry of the evidence trail, written and published."""
        event = self.activity(project, kind, message, actor=actor, plan_id=plan_id, run_id=run_id,
                              task_id=task_id, packet_id=packet_id, data=data)
        self.record_all(project, [event])
        return event

    def activity(self, project: Project, kind: ActivityType, message: str, *, actor: str = "user",
                 plan_id: str | None = None, run_id: str | None = None, task_id: str | None = None,
                 packet_id: str | None = None, data: dict[str, Any] | None = None) -> ActivityEvent:
        """An entry of the evidence trail, not yet written (``record_all`` writes a batch at once)."""
        return ActivityEvent(
            activity_id=new_id("act"), type=kind, project_id=project.project_id, actor=actor,
            plan_id=plan_id, run_id=run_id, task_id=task_id, packet_id=packet_id,
            message=self.redactor.text(message), data=data,
        )

    def record_all(self, project: Project, events: list[ActivityEvent]) -> None:
        """Entries written in one append (a dispatch's 50 "run created"), then published."""
        if not events:
            return
        self.store(project).append_activity(events)
        for event in events:
            self.bus.publish(ActivityRecorded(project.project_id, event))

    # -- what agents and gates are handed --------------------------------------------------

    def child_env(self, with_key: bool = True) -> dict[str, str]:
        """An agent's environment: the user's, plus the saved key for agents that need it.

        ``with_key=False`` (gates): the key is left out, the environment's one too."""
        env = {name: value for name, value in os.environ.items() if name not in PMDESK_ONLY_ENV}
        if not with_key:
            for name in SECRET_ENV:
                env.pop(name, None)
            return env
        key = config.saved_api_key()
        if key:
            env["ANTHROPIC_API_KEY"] = key
        return env

    def close(self) -> None:
        self.disk.close()
        for store in self._stores.values():
            store.owner_lock.release()
