"""The main window: a dashboard page and a project page, menus with shortcuts, a status bar.

The window paints before the engine exists: its frame, menus and a "Loading…" page come
first, then ``attach`` builds the pages on the engine. Importing the engine (pydantic
models, the store) is most of start-up time, and the user sees the window meanwhile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QStackedWidget, QWidget

from pmdesk.resources import path as resource

if TYPE_CHECKING:
    from pmdesk.engine.engine import Engine
    from pmdesk.ui.controller import Controller
    from pmdesk.ui.dashboard import DashboardPage
    from pmdesk.ui.project_page import ProjectPage


class MainWindow(QMainWindow):
    closing = Signal()
    engine: Engine
    controller: Controller
    dashboard: DashboardPage
    project_page: ProjectPage

    def __init__(self, engine: Engine | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("pmdesk")
        self.setWindowIcon(QIcon(str(resource("pmdesk.svg"))))
        self.setMinimumSize(900, 560)
        self.resize(1280, 780)
        self.pages = QStackedWidget()
        self.loading = QLabel(self.tr("Loading projects…"))
        self.loading.setObjectName("loading")
        self.loading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pages.addWidget(self.loading)
        self.setCentralWidget(self.pages)
        self.engine_status = QLabel()
        self.statusBar().addPermanentWidget(self.engine_status)
        self.actions_by_name: dict[str, QAction] = {}
        self._build_menus()
        self.allow_close = False
        self.attached = False
        geometry = QSettings().value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if engine is not None:
            self.attach(engine)

    def attach(self, engine: Engine) -> None:
        """Build the pages and the controller on ``engine``; the menus come alive."""
        from pmdesk.ui.controller import Controller
        from pmdesk.ui.dashboard import DashboardPage
        from pmdesk.ui.project_page import ProjectPage

        self.engine = engine
        self.dashboard = DashboardPage()
        self.project_page = ProjectPage()
        self.pages.addWidget(self.dashboard)
        self.pages.addWidget(self.project_page)
        self.pages.setCurrentWidget(self.dashboard)
        self.pages.removeWidget(self.loading)
        self.loading.deleteLater()
        self.controller = Controller(engine, self)
        self._restore_splitters()
        for action in self.actions_by_name.values():
            action.setEnabled(True)
        self.attached = True

    def _action(self, menu_name: str, name: str, text: str, shortcut: str | QKeySequence.StandardKey | None) -> QAction:
        menu = self._menus[menu_name]
        action = QAction(text, self)
        action.setEnabled(False)  # until attach()
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        menu.addAction(action)
        self.actions_by_name[name] = action
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self._menus = {name: bar.addMenu(title) for name, title in (
            ("file", self.tr("&File")), ("project", self.tr("&Project")), ("view", self.tr("&View")),
            ("help", self.tr("&Help")))}
        self._action("file", "add_project", self.tr("&Add project…"), "Ctrl+O")
        self._action("file", "settings", self.tr("&Settings…"), "Ctrl+,")
        self._menus["file"].addSeparator()
        self._action("file", "quit", self.tr("&Quit"), "Ctrl+Q")
        self._action("project", "open_project", self.tr("&Open selected project"), None)
        self._action("project", "new_run", self.tr("&New run…"), "Ctrl+N")
        self._action("project", "inspect", self.tr("&Inspect selected run"), "Ctrl+I")
        self._action("project", "plan", self.tr("&Plan…"), "Ctrl+P")
        self._action("project", "dispatch", self.tr("&Dispatch plan…"), "Ctrl+D")
        self._action("project", "verify", self.tr("&Verify plan…"), "Ctrl+Shift+V")
        self._menus["project"].addSeparator()
        self._action("project", "cancel_run", self.tr("Cancel selected &run…"), "Ctrl+.")
        self._action("project", "remove_project", self.tr("&Remove project from pmdesk…"), None)
        self._action("view", "dashboard", self.tr("&Dashboard"), "Alt+Left")
        self._action("view", "refresh", self.tr("&Refresh"), "F5")
        self._action("help", "about", self.tr("&About pmdesk"), None)

    def show_dashboard(self) -> None:
        self.pages.setCurrentWidget(self.dashboard)
        self.setWindowTitle("pmdesk")

    def show_project_page(self) -> None:
        self.pages.setCurrentWidget(self.project_page)
        if self.project_page.project:
            self.setWindowTitle(f"{self.project_page.project.name} — pmdesk")

    def on_project_page(self) -> bool:
        return self.pages.currentWidget() is self.project_page

    def _restore_splitters(self) -> None:
        settings = QSettings()
        for splitter, key in ((self.dashboard.splitter, "dashboard/split"), (self.project_page.splitter, "project/split")):
            value = settings.value(key)
            if value is not None:
                splitter.restoreState(value)

    def save_state(self) -> None:
        settings = QSettings()
        settings.setValue("window/geometry", self.saveGeometry())
        if not self.attached:
            return
        settings.setValue("dashboard/split", self.dashboard.splitter.saveState())
        settings.setValue("project/split", self.project_page.splitter.saveState())

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.attached and not self.allow_close and self.controller.confirm_quit():
            event.ignore()
            return
        self.save_state()
        self.closing.emit()
        super().closeEvent(event)

    async def start(self) -> None:
        await self.controller.start()
