"""Projects: the dashboard's overviews (read off the Qt thread, debounced), add, open, remove."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QFileDialog

from pmdesk.engine.overview import ProjectOverview, write_cached
from pmdesk.errors import PmdeskError
from pmdesk.models import ActivityEvent, Plan, Project, Run
from pmdesk.store import PacketSummary, PlanSummary, RunSummary, StateProblem
from pmdesk.ui.controllers.shell import Shell
from pmdesk.ui.dashboard_cache import cached_dashboard_path

OVERVIEW_DEBOUNCE_MS = 250
CACHE_EVERY_MS = 2000  # the dashboard kept for the next start at most this often


class ProjectsController(QObject):
    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        self.shell = shell
        self.engine = shell.engine
        self._stale: set[str] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(OVERVIEW_DEBOUNCE_MS)
        self._timer.timeout.connect(self._refresh_stale)
        self._cache_timer = QTimer(self)
        self._cache_timer.setSingleShot(True)
        self._cache_timer.setInterval(CACHE_EVERY_MS)
        self._cache_timer.timeout.connect(self._write_cache)
        bridge, dashboard = shell.bridge, shell.dashboard
        bridge.runsChanged.connect(self._runs_changed)
        bridge.plansChanged.connect(self._plans_changed)
        bridge.projectsChanged.connect(lambda: shell.run(self.load_overviews(), self.tr("Refresh projects")))
        dashboard.openProject.connect(self.open_project)
        dashboard.addProjectRequested.connect(self.add_project_dialog)
        dashboard.folderDropped.connect(self.add_project)
        dashboard.judge_drop = self.engine.where_would_land
        shell.window.closing.connect(self._stop)

    def _stop(self) -> None:
        """The window is closing: no timer may start engine work any more."""
        self._timer.stop()
        self._cache_timer.stop()
        self._stale.clear()

    async def start(self) -> None:
        engine = self.engine
        await asyncio.to_thread(lambda: engine.redactor.secrets)  # the keyring lookup, off the Qt thread
        notes = engine.recover()
        if notes:
            self.shell.status(self.tr("Recovered after a crash: %n item(s); see the activity feed").replace(
                "%n", str(len(notes))), 10000)
        await self.load_overviews()
        events: list[ActivityEvent] = []
        try:
            known = engine.projects()
        except PmdeskError:
            known = []  # a damaged registry is on the dashboard already
        for project in known:
            if Path(project.path).is_dir():
                events.extend(await asyncio.to_thread(engine.store(project).list_activity, 50))
        events.sort(key=lambda e: e.ts)
        self.shell.dashboard.add_activity(events)

    # -- overviews -------------------------------------------------------------------------

    async def load_overviews(self) -> None:
        problems: list[str] = []
        try:
            projects = self.engine.projects()
        except PmdeskError as exc:  # a damaged registry: say so, keep it, and go on with no projects
            projects, problems = [], [str(exc)]
        self.shell.dashboard.set_problems(problems + self.engine.problems())
        overviews = await asyncio.to_thread(lambda: [self.engine.overview(p) for p in projects])
        if not shiboken6.isValid(self.shell.dashboard.model):
            return  # the window closed while the overviews were read
        self.shell.dashboard.set_overviews(overviews)
        self._show_on_page(overviews)
        self._keep_for_next_start()

    def _keep_for_next_start(self) -> None:
        """The dashboard as shown, written (off the Qt thread, at most every few seconds) for the
        next start to list before the engine has loaded."""
        if not self._cache_timer.isActive():
            self._cache_timer.start()

    def _write_cache(self) -> None:
        if not shiboken6.isValid(self.shell.dashboard.model):
            return
        shown = list(self.shell.dashboard.model.records())
        self.shell.run(asyncio.to_thread(write_cached, cached_dashboard_path(), shown), self.tr("Keep the dashboard"))

    def refresh(self) -> None:
        self.shell.run(self.load_overviews(), self.tr("Refresh"))
        project = self.shell.project
        if project is not None and self.shell.window.on_project_page():
            self.shell.run(self.load_project(project), self.tr("Refresh project"))

    def _runs_changed(self, project_id: str, _runs: list[Run]) -> None:
        self._mark_stale(project_id)

    def _plans_changed(self, project_id: str, _plans: list[Plan]) -> None:
        self._mark_stale(project_id)

    def _mark_stale(self, project_id: str) -> None:
        self._stale.add(project_id)
        if not self._timer.isActive():
            self._timer.start()

    def _refresh_stale(self) -> None:
        stale, self._stale = self._stale, set()
        try:
            projects = [p for p in self.engine.projects() if p.project_id in stale]
        except PmdeskError:
            return  # the registry became unreadable: the next full refresh says so
        self.shell.run(self._apply_overviews(projects), self.tr("Refresh status"))

    async def _apply_overviews(self, projects: list[Project]) -> None:
        overviews = await asyncio.to_thread(lambda: [self.engine.overview(p) for p in projects])
        if not shiboken6.isValid(self.shell.dashboard.model):
            return
        for overview in overviews:
            self.shell.dashboard.update_overview(overview)
        self._show_on_page(overviews)
        self._keep_for_next_start()

    def _show_on_page(self, overviews: list[ProjectOverview]) -> None:
        project = self.shell.project
        for overview in overviews:
            if project is not None and overview.project_id == project.project_id:
                self.shell.page.set_overview(overview)
        self.shell.contextChanged.emit()

    # -- adding, opening, removing ----------------------------------------------------------------

    def add_project_dialog(self) -> None:
        dialog = QFileDialog(self.shell.window, self.tr("Add a project folder"))
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.fileSelected.connect(self.add_project)
        self.shell.open_dialog(dialog)

    def add_project(self, path: str) -> None:
        try:
            project = self.engine.add_project(path)
        except PmdeskError as exc:
            self.shell.show_error(self.tr("Add project"), exc)
            return
        self.shell.status(self.tr("Added %1").replace("%1", project.name))
        self.open_project(project.project_id)

    def remove_project(self) -> None:
        shell = self.shell
        current = shell.project
        project_id = current.project_id if shell.window.on_project_page() and current else \
            shell.dashboard.selected_project_id()
        if not project_id:
            return
        project = self.engine.project(project_id)

        def remove() -> None:
            self.engine.remove_project(project_id)
            shell.dashboard.remove_project(project_id)
            shell.window.show_dashboard()
            shell.status(self.tr("Removed %1 from pmdesk; its files are untouched").replace("%1", project.name))
            shell.contextChanged.emit()

        shell.confirm(self.tr("Remove project"), self.tr(
            "Remove %1 from pmdesk? Its folder and its .claude/state stay on disk.").replace("%1", project.name), remove)

    def open_project(self, project_id: str, then: Callable[[], object] | None = None) -> None:
        """Show the project's page; ``then`` runs once its lists are loaded."""
        if not project_id:
            return
        try:
            project = self.engine.project_settings(self.engine.project(project_id))
        except PmdeskError as exc:
            self.shell.show_error(self.tr("Open project"), exc)
            return
        self.shell.page.show_project(project)
        self.shell.window.show_project_page(project.name)
        self.shell.contextChanged.emit()
        def loaded(_: object) -> None:
            if then is not None:
                then()

        self.shell.run(self.load_project(project), self.tr("Load project"), loaded)

    def open_run(self, project_id: str, run_id: str | None) -> None:
        """The project's page with the run selected; a run that waits has its answer focused."""
        page = self.shell.page
        self.open_project(project_id, then=(lambda: page.show_run(run_id)) if run_id else None)

    def next_waiting(self) -> None:
        """The next run that waits for the user: on this page after the selected one, else in the
        next project (in the dashboard's order) that has one; its card takes the keyboard."""
        page = self.shell.page
        if self.shell.window.on_project_page() and page.select_next_waiting():
            return
        waiting = [o.project_id for o in self.shell.dashboard.model.records() if o.awaiting]
        if not waiting:
            self.shell.status(self.tr("No run needs a response"))
            return
        current = page.project.project_id if page.project is not None and self.shell.window.on_project_page() else None
        later = waiting[waiting.index(current) + 1:] if current in waiting else []
        self.open_project((later or waiting)[0], then=page.select_next_waiting)

    def open_selected(self) -> None:
        self.open_project(self.shell.dashboard.selected_project_id() or "")

    async def load_project(self, project: Project) -> None:
        page = self.shell.page
        if not Path(project.path).is_dir():
            page.set_problems([])
            self.shell.show_error(self.tr("Open project"), FileNotFoundError(
                self.tr("the folder %1 no longer exists").replace("%1", project.path)))
            return
        store = self.engine.store(project)

        def read() -> tuple[list[RunSummary], list[PlanSummary], list[PacketSummary], list[StateProblem],
                            ProjectOverview]:
            return store.list_runs(), store.list_plans(), store.list_packets(), store.problems(), \
                self.engine.overview(project)

        runs, plans, packets, problems, overview = await asyncio.to_thread(read)
        if page.project is None or page.project.project_id != project.project_id:
            return
        page.set_lists(runs, plans, packets)
        page.set_problems(problems)
        page.set_overview(overview)
        if problems:
            self.shell.status(self.tr("Some state files could not be read; they were moved aside"), 10000)
