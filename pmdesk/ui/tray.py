"""The tray icon: a notification when a run needs a response or a plan ends; a click opens it."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QSystemTrayIcon, QWidget

from pmdesk.models import ActivityEvent, ActivityType
from pmdesk.ui.bridge import EngineBridge
from pmdesk.ui.resources import path as resource

NOTIFY_MS = 8000


class Tray(QObject):
    def __init__(self, window: QWidget, bridge: EngineBridge, project_name: Callable[[str], str],
                 open_run: Callable[[str, str | None], None]) -> None:
        super().__init__(window)
        self.window = window
        self.project_name = project_name
        self.open_run = open_run  # the project's page, with the run (if any) selected and its answer focused
        self.notified_project: str | None = None
        self.notified_run: str | None = None
        self.icon: QSystemTrayIcon | None = None
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return
        self.icon = QSystemTrayIcon(QIcon(str(resource("pmdesk.svg"))), self)
        self.icon.setToolTip("pmdesk")
        self.icon.messageClicked.connect(self._message_clicked)
        self.icon.activated.connect(lambda _reason: self._raise())
        self.icon.show()
        bridge.activityAdded.connect(self.notify)

    def hide(self) -> None:
        """The window is gone (its runs go on without it): a tray icon would open nothing."""
        if self.icon is not None:
            self.icon.hide()

    def _raise(self) -> None:
        self.window.showNormal()
        self.window.activateWindow()

    def _message_clicked(self) -> None:
        if self.notified_project:
            self._raise()
            self.open_run(self.notified_project, self.notified_run)

    def notify(self, events: list[ActivityEvent]) -> None:
        titles = {ActivityType.RUN_AWAITING_RESPONSE: self.tr("%1 needs a response"),
                  ActivityType.RUN_PERMISSION_ASKED: self.tr("%1 needs a response"),
                  ActivityType.PLAN_VERIFIED: self.tr("%1: plan verified"),
                  ActivityType.PLAN_FAILED: self.tr("%1: plan failed")}
        for event in events:
            if event.type not in titles or self.icon is None:
                continue
            self.notified_project = event.project_id
            self.notified_run = event.run_id
            icon = QSystemTrayIcon.MessageIcon.Warning if event.type != ActivityType.PLAN_VERIFIED else \
                QSystemTrayIcon.MessageIcon.Information
            self.icon.showMessage(titles[event.type].replace("%1", self.project_name(event.project_id)),
                                  event.message, icon, NOTIFY_MS)
