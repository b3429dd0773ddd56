"""Keeping the search indexes current in a thread of their own, out of every run's way.

The recorder is not touched: the indexer learns which runs are at work from the bus, and
once a second reads what their day files gained since (``SearchIndex.catch_up``). A slow
disk or a long index write delays the index, never a run's lines. At start it catches up
every project, so what was written while no window was open is found too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from pmdesk.engine.context import EngineContext
from pmdesk.engine.notifications import Change, PlanChanged, ProjectsChanged, RunChanged
from pmdesk.engine.search.service import SearchService
from pmdesk.errors import PmdeskError
from pmdesk.models import Plan, Project

log = logging.getLogger(__name__)
INTERVAL_S = 1.0
LIVE_LINES = 2000  # lines a pass indexes at most: a run streaming 100,000 lines is indexed after, not during
BACKLOG_LINES = 5000  # a step of the start's catch-up while no run works (~0.2 s)
JOIN_S = 5.0


class BackgroundIndexer:
    def __init__(self, ctx: EngineContext, search: SearchService, projects: Callable[[], list[Project]]) -> None:
        self.ctx = ctx
        self.search = search
        self.projects = projects
        self._lock = threading.Lock()
        self._runs: dict[str, dict[str, bool]] = {}  # project → run → ended (caught up once more, then dropped)
        self._plans: dict[str, dict[str, Plan]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self.passes = 0  # catch-up passes made (for tests)
        self.ready = threading.Event()  # the first full catch-up is done
        self._registry_changed = False

    def start(self) -> None:
        self._unsubscribe = self.ctx.bus.subscribe(self._note, only=(RunChanged, PlanChanged, ProjectsChanged))
        self._thread = threading.Thread(target=self._work, name="pmdesk-search-index", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._stop.set()
        self.search.stopping.set()
        if self._thread is not None:
            self._thread.join(JOIN_S)
            self._thread = None

    def _note(self, change: Change) -> None:
        with self._lock:
            if isinstance(change, RunChanged):
                self._runs.setdefault(change.project_id, {})[change.run.run_id] = change.run.status.is_terminal
            elif isinstance(change, PlanChanged):
                self._plans.setdefault(change.project_id, {})[change.plan.plan_id] = change.plan
            elif isinstance(change, ProjectsChanged):
                self._registry_changed = True  # a project added (or back) has a record of its own to index

    def _work(self) -> None:
        try:
            self._backlog()
        finally:
            self.ready.set()
        while not self._stop.wait(INTERVAL_S):
            if self._registry_changed:
                self._registry_changed = False
                self._backlog()
            self.catch_up_now(LIVE_LINES)

    def _backlog(self) -> None:
        """What was written while no indexer ran, in steps: quick ones while nothing works, and
        LIVE_LINES a second while a run of this process does (its own lines followed between)."""
        pending = self._projects()
        while pending and not self._stop.is_set():
            busy = self._busy()
            left: list[Project] = []
            for project in pending:
                def step(p: Project, busy: bool = busy, left: list[Project] = left) -> None:
                    index = self.search.index(p)
                    if index.catch_up_some(None, LIVE_LINES if busy else BACKLOG_LINES):
                        left.append(p)
                    elif self._quiet(p.project_id):
                        index.release()  # caught up and quiet: 50 projects' connections are not kept
                self._guard(project, step)
            pending = left
            if busy:
                self.catch_up_now(LIVE_LINES)  # the runs at work are followed meanwhile, as after
                if pending and self._stop.wait(INTERVAL_S):
                    return

    def _quiet(self, project_id: str) -> bool:
        """No run of the project is at work here, nor left to catch up."""
        with self._lock:
            return not self._runs.get(project_id)

    def _busy(self) -> bool:
        with self._lock:
            return any(not ended for by in self._runs.values() for ended in by.values())

    def catch_up_now(self, max_lines: int | None = None) -> None:
        """One pass over what changed since the last: at most ``max_lines`` lines a project (the
        thread's steps, so a flood of output is indexed as the run calms), all of it when a search asks."""
        with self._lock:
            runs, plans = self._runs, self._plans
            self._runs = {pid: {r: False for r, ended in by.items() if not ended} for pid, by in runs.items()}
            self._plans = {}
        if not runs and not plans:
            return
        by_id = {p.project_id: p for p in self._projects()}
        for project_id in set(runs) | set(plans):
            project = by_id.get(project_id)
            if project is None:
                continue
            index_runs, index_plans = list(runs.get(project_id, {})), list(plans.get(project_id, {}).values())

            def work(p: Project, run_ids: list[str] = index_runs, changed: list[Plan] = index_plans) -> None:
                index = self.search.index(p)
                behind: list[str] = []
                if run_ids and max_lines is None:
                    index.catch_up(run_ids)
                elif run_ids and max_lines is not None:
                    behind = index.catch_up_some(run_ids, max_lines)
                    if behind:  # the rest on the next pass
                        ended = runs.get(p.project_id, {})
                        with self._lock:
                            later = self._runs.setdefault(p.project_id, {})
                            for run_id in behind:
                                later.setdefault(run_id, ended.get(run_id, False))
                for plan in changed:
                    index.guarded(lambda conn, plan=plan: index.index_plan(plan, conn))
                if not behind and self._quiet(p.project_id):
                    index.release()  # its runs ended and are indexed to their end
            self._guard(project, work)
        self.passes += 1

    def _projects(self) -> list[Project]:
        try:
            return self.projects()
        except PmdeskError:
            return []

    def _guard(self, project: Project, work: Callable[[Project], object]) -> None:
        """An index that cannot be written now (a locked or full disk) is caught up on a later pass."""
        try:
            work(project)
        except Exception:  # the indexer must outlive any one project's trouble
            log.warning("search index of %s not caught up", project.name, exc_info=True)
