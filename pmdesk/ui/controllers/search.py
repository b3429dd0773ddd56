"""Search (Ctrl+K): ask the engine as the user types, open a hit where it was said."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QObject

from pmdesk.engine.search import SearchHit, SearchResult, parse_query
from pmdesk.errors import PmdeskError
from pmdesk.ui.controllers.projects import ProjectsController
from pmdesk.ui.controllers.runs import RunsController
from pmdesk.ui.controllers.shell import Shell
from pmdesk.ui.widgets.search_view import SearchDialog


class SearchController(QObject):
    def __init__(self, shell: Shell, projects: ProjectsController, runs: RunsController) -> None:
        super().__init__(shell)
        self.shell = shell
        self.engine = shell.engine
        self.projects = projects
        self.runs = runs
        self.dialog: SearchDialog | None = None
        self._asked = 0  # the newest query's number: an older answer that comes late is dropped

    def open_search(self) -> None:
        if self.dialog is None or not shiboken6.isValid(self.dialog):
            self.dialog = SearchDialog(self.shell.window)
            self.dialog.searchWanted.connect(self.search)
            self.dialog.moreWanted.connect(self.more)
            self.dialog.hitOpened.connect(self.open_hit)
        current = self.shell.project.project_id if self.shell.window.on_project_page() and self.shell.project else ""
        self.dialog.set_projects([(p.project_id, p.name) for p in self.engine.projects()], current)
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
        self.dialog.begin()

    def search(self, text: str, kind: str, project_id: str) -> None:
        self._asked += 1
        asked, dialog = self._asked, self.dialog

        async def ask() -> None:
            try:
                project = self.engine.project(project_id) if project_id else None
                result: SearchResult | None = await self.engine.search(text, project, [kind] if kind else None)
                error = None
            except PmdeskError as exc:
                result, error = None, str(exc)
            if asked != self._asked or dialog is None or not shiboken6.isValid(dialog):
                return
            if result is None:
                dialog.show_error(error or "")
            else:
                dialog.show_hits(result.hits, result.took_ms, result.notes, result.next)

        self.shell.run(ask(), self.tr("Search"))

    def more(self, text: str, kind: str, project_id: str, after: str) -> None:
        """The page of hits after ``after``, for the query shown (dropped if it changed meanwhile)."""
        asked, dialog = self._asked, self.dialog

        async def ask() -> None:
            error = ""
            try:
                project = self.engine.project(project_id) if project_id else None
                result = await self.engine.search(text, project, [kind] if kind else None, after=after)
            except PmdeskError as exc:
                result, error = None, str(exc)
            if asked != self._asked or dialog is None or not shiboken6.isValid(dialog):
                return
            if result is None:
                dialog.show_error(error)
            else:
                dialog.add_hits(result.hits, result.next)

        self.shell.run(ask(), self.tr("Search"))

    def open_hit(self, hit: SearchHit) -> None:
        """The run at the event, its words marked in the log; a plan task on its plan."""
        query = parse_query(self.dialog.query.text()) if self.dialog is not None else None
        page = self.shell.page

        def then() -> None:
            if hit.run_id:
                page.show_run(hit.run_id)
                if hit.seq is not None:
                    self.runs.show_log_at(hit.run_id, hit.seq, query)
            elif hit.plan_id:
                page.show_plan(hit.plan_id, hit.task_id)

        self.projects.open_project(hit.project_id, then=then)
        self.shell.status(self.tr("Opened the hit in %1").replace("%1", hit.project_name))
