"""What every feature controller shares: the engine, the window and its pages, how to tell the user."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialog, QMessageBox

from pmdesk.engine.engine import Engine
from pmdesk.models import Project
from pmdesk.ui.async_slots import spawn
from pmdesk.ui.bridge import EngineBridge
from pmdesk.ui.dashboard import DashboardPage
from pmdesk.ui.main_window import MainWindow
from pmdesk.ui.project_page import ProjectPage


class Shell(QObject):
    """Signals:
        contextChanged: something the actions' rules read has changed; they are worked out again.
    """

    contextChanged = Signal()

    def __init__(self, engine: Engine, window: MainWindow, bridge: EngineBridge) -> None:
        super().__init__(window)
        self.engine = engine
        self.window = window
        self.bridge = bridge
        self.dashboard: DashboardPage = window.dashboard
        self.page: ProjectPage = window.project_page
        self.dialog: QDialog | None = None  # the dialog open now (kept alive while it is)
        self._boxes: list[QMessageBox] = []

    @property
    def project(self) -> Project | None:
        """The project whose page is open (or was last)."""
        return self.page.project

    def run(self, coro: Coroutine[Any, Any, Any], what: str, on_done: Callable[[Any], None] | None = None) -> None:
        """Start engine work on the loop; a failure is shown to the user as ``what`` failing."""
        spawn(coro, what, on_done)

    def open_dialog(self, dialog: QDialog) -> None:
        self.dialog = dialog
        dialog.open()

    def status(self, text: str, ms: int = 6000) -> None:
        self.window.statusBar().showMessage(text, ms)

    def guard(self, what: str, action: Callable[[], Any]) -> None:
        try:
            action()
        except Exception as exc:
            self.show_error(what, exc)

    def confirm(self, title: str, text: str, on_yes: Callable[[], Any]) -> QMessageBox:
        """A non-blocking Yes/No question; ``on_yes`` runs only on Yes."""
        box = QMessageBox(QMessageBox.Icon.Question, title, text,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self.window)
        box.setDefaultButton(QMessageBox.StandardButton.No)

        def finished(_result: int) -> None:
            self._boxes.remove(box)
            if box.standardButton(box.clickedButton()) == QMessageBox.StandardButton.Yes:
                on_yes()

        box.finished.connect(finished)
        self._boxes.append(box)
        box.open()
        return box

    def show_error(self, what: str, exc: BaseException) -> None:
        if not shiboken6.isValid(self.window):
            return  # a task that outlived its window
        message = str(exc) or exc.__class__.__name__
        self.status(f"{what}: {message}", 15000)
        self.inform(what, message, QMessageBox.Icon.Warning)

    def inform(self, title: str, text: str, icon: QMessageBox.Icon = QMessageBox.Icon.Information) -> None:
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self.window)
        box.finished.connect(lambda _r: self._boxes.remove(box) if box in self._boxes else None)
        self._boxes.append(box)
        box.open()
