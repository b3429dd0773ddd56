"""The main window: a dashboard page and a project page, menus from the action table, a status bar.

The window paints before the engine exists: its frame, menus and a "Loading…" page come
first, then the composition root (``ui.app.attach``) builds the pages on the engine. The
window knows no controller: closing asks ``quit_guard`` (set by the root) and emits
``closing``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QIcon
from PySide6.QtWidgets import QLabel, QMainWindow, QMenu, QStackedWidget, QWidget

from pmdesk.ui.actions import ActionId, build_actions
from pmdesk.ui.resources import path as resource

if TYPE_CHECKING:  # the pages load the engine's models: only after the first paint
    from pmdesk.ui.dashboard import DashboardPage
    from pmdesk.ui.project_page import ProjectPage


class MainWindow(QMainWindow):
    """Signals:
        closing: the window is about to close (after ``quit_guard`` let it).
    """

    closing = Signal()
    dashboard: DashboardPage  # set by set_pages(), after the first paint
    project_page: ProjectPage

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("pmdesk")
        self.setWindowIcon(QIcon(str(resource("pmdesk.svg"))))
        self.setMinimumSize(760, 480)
        self.resize(1280, 780)
        self.pages = QStackedWidget()
        self.loading: QWidget = QLabel(self.tr("Loading projects…"))
        self.loading.setObjectName("loading")
        self.loading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pages.addWidget(self.loading)
        self.setCentralWidget(self.pages)
        self.engine_status = QLabel()
        self.statusBar().addPermanentWidget(self.engine_status)
        bar = self.menuBar()
        self.menus: dict[str, QMenu] = {name: bar.addMenu(title) for name, title in (
            ("file", self.tr("&File")), ("project", self.tr("&Project")), ("view", self.tr("&View")),
            ("help", self.tr("&Help")))}
        self.actions_by_id: dict[ActionId, QAction] = build_actions(self, self.menus)
        self.quit_guard: Callable[[], bool] | None = None  # True: the guard asks first; close later
        self.allow_close = False
        self.leave_working = False  # closed with "Leave them working": pmdesk goes on until its runs end
        self.attached = False
        self.cached_rows = 0  # projects listed from the cache before the engine loaded
        geometry = QSettings().value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)

    def show_cached(self, rows: list[Any]) -> int:
        """The projects as last seen (the cache's JSON), on the loading page; how many were shown."""
        from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem

        shown = [r for r in rows if isinstance(r, dict) and isinstance(r.get("name"), str)]
        if not shown or self.attached or not isinstance(self.loading, QLabel):
            return 0
        table = QTableWidget(len(shown), 4)
        table.setObjectName("CachedProjects")
        table.setHorizontalHeaderLabels([self.tr("Project"), self.tr("Status"), self.tr("Runs"), self.tr("Waiting")])
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)  # a picture until the engine is there
        table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        table.verticalHeader().hide()
        for row, item in enumerate(shown):
            cells = (item["name"], str(item.get("status", "")).replace("_", " "), str(item.get("total", "")),
                     str(item.get("awaiting", "") or ""))
            for column, text in enumerate(cells):
                table.setItem(row, column, QTableWidgetItem(text))
        table.resizeColumnsToContents()
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.pages.addWidget(table)
        self.pages.setCurrentWidget(table)
        self.pages.removeWidget(self.loading)
        self.loading.deleteLater()
        self.loading = table
        self.cached_rows = len(shown)
        return len(shown)

    def set_pages(self, dashboard: DashboardPage, project_page: ProjectPage) -> None:
        """The pages replace the loading page."""
        self.dashboard, self.project_page = dashboard, project_page
        self.attached = True
        self.pages.addWidget(dashboard)
        self.pages.addWidget(project_page)
        self.pages.setCurrentWidget(dashboard)
        self.pages.removeWidget(self.loading)
        self.loading.deleteLater()

    def show_dashboard(self) -> None:
        if self.attached:
            self.pages.setCurrentWidget(self.dashboard)
        self.setWindowTitle("pmdesk")

    def show_project_page(self, title: str) -> None:
        if self.attached:
            self.pages.setCurrentWidget(self.project_page)
        self.setWindowTitle(f"{title} — pmdesk")

    def on_project_page(self) -> bool:
        return self.attached and self.pages.currentWidget() is self.project_page

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.allow_close and self.quit_guard is not None and self.quit_guard():
            event.ignore()
            return
        QSettings().setValue("window/geometry", self.saveGeometry())
        self.closing.emit()
        super().closeEvent(event)
