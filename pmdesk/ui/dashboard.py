"""The dashboard: every project at a glance, what needs a response, and what just happened."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDropEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from pmdesk.engine.overview import ProjectOverview
from pmdesk.models import ActivityEvent
from pmdesk.ui.actions import ActionId, keys
from pmdesk.ui.bridge import EngineBridge
from pmdesk.ui.models.tables import activity_text, projects_model
from pmdesk.ui.widgets.badge import AwaitingBadge
from pmdesk.ui.widgets.tables import RecordTable

ACTIVITY_ROWS = 300


class Banner(QFrame):
    """A notice across the page with an optional action."""

    def __init__(self, text: str = "", action: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Banner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        layout.addWidget(self.label, 1)
        self.button = QPushButton(action or "")
        self.button.setAccessibleName(action or self.tr("Notice action"))
        self.button.setVisible(action is not None)
        layout.addWidget(self.button)


class DashboardPage(QWidget):
    """Every project at a glance.

    Signals:
        openProject(project_id) · addProjectRequested · folderDropped(path) · settingsRequested ·
        selectionChanged: the selected project changed (the actions' rules read it).
    """

    openProject = Signal(str)
    selectionChanged = Signal()
    addProjectRequested = Signal()
    folderDropped = Signal(str)
    settingsRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)

        head = QHBoxLayout()
        title = QLabel(self.tr("Projects"))
        title.setObjectName("PageTitle")
        head.addWidget(title)
        self.badge = AwaitingBadge()
        self.badge.setVisible(False)
        head.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignVCenter)
        head.addStretch(1)
        self.add_button = QPushButton(self.tr("Add project…"))
        self.add_button.setProperty("primary", True)
        self.add_button.clicked.connect(self.addProjectRequested)
        head.addWidget(self.add_button)
        layout.addLayout(head)

        self.agent_banner = Banner(
            self.tr("No agent is configured: install Claude Code (npm install -g @anthropic-ai/claude-code) "
                    "or save an Anthropic API key in Settings."), self.tr("Open Settings"))
        self.agent_banner.button.clicked.connect(self.settingsRequested)
        self.agent_banner.hide()
        layout.addWidget(self.agent_banner)
        self.problems_banner = Banner()
        self.problems_banner.setObjectName("ProblemBanner")
        self.problems_banner.hide()
        layout.addWidget(self.problems_banner)
        self.drop_hint = QLabel()  # while a folder is dragged over: what dropping it does
        self.drop_hint.setObjectName("DropHint")
        self.drop_hint.setWordWrap(True)
        self.drop_hint.hide()
        layout.addWidget(self.drop_hint)
        self.judge_drop: Callable[[str], tuple[bool, str]] | None = None  # set by the projects controller

        self.model = projects_model(self)
        self.table = RecordTable(self.model, badge_column=1, stretch=9,
                                 widths={0: 170, 2: 75, 3: 80, 4: 70, 5: 60, 6: 150, 7: 150, 8: 110})
        self.table.sort_by(1, Qt.SortOrder.AscendingOrder)  # most urgent first
        self.table.opened.connect(lambda _record: self._open_selected())
        self.table.setAccessibleName(self.tr("Projects"))
        self.table.selectionModel().selectionChanged.connect(self.selectionChanged)
        self.table.setColumnWidth(0, 160)

        self.empty = QLabel(self.tr(
            "<h3>Welcome to pmdesk</h3>"
            "<p>Add a project folder to start: click <b>Add project…</b> (%1) or drop a folder here.</p>"
            "<p>Then start a run in it, inspect the result, let the AI plan the follow-up, dispatch the plan "
            "as parallel runs and verify it with the project's own gates.</p>").replace("%1", keys(ActionId.ADD_PROJECT)))
        self.empty.setObjectName("EmptyState")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.table)

        feed_box = QWidget()
        feed_layout = QVBoxLayout(feed_box)
        feed_layout.setContentsMargins(0, 0, 0, 0)
        feed_title = QLabel(self.tr("Activity"))
        feed_title.setObjectName("SectionTitle")
        feed_layout.addWidget(feed_title)
        self.feed = QListWidget()
        self.feed.setAccessibleName(self.tr("Activity"))
        self.feed.setUniformItemSizes(True)
        feed_layout.addWidget(self.feed)

        split = QSplitter(Qt.Orientation.Vertical)
        split.setObjectName("DashboardSplit")
        split.addWidget(self.stack)
        split.addWidget(feed_box)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        self.splitter = split
        layout.addWidget(split, 1)
        self._names: dict[str, str] = {}
        self.clock = QTimer(self)  # "Last activity: 3 min ago" moves on by itself
        self.clock.setInterval(10_000)
        self.clock.timeout.connect(lambda: self.model.refresh_columns((6,)) if self.isVisible() else None)
        self.clock.start()

    def bind(self, bridge: EngineBridge) -> None:
        """Listen to the engine: what just happened goes into the activity feed."""
        bridge.activityAdded.connect(self.add_activity)

    def set_problems(self, problems: list[str]) -> None:
        """pmdesk's own files that are damaged (kept as they are), and what to do about them."""
        self.problems_banner.label.setText("\n".join(problems))
        self.problems_banner.setVisible(bool(problems))

    def set_overviews(self, overviews: list[ProjectOverview]) -> None:
        self.model.set_records(overviews)
        self._names = {o.project_id: o.name for o in overviews}
        self._after_change()

    def update_overview(self, overview: ProjectOverview) -> None:
        self.model.upsert([overview])
        self._names[overview.project_id] = overview.name
        self._after_change()

    def remove_project(self, project_id: str) -> None:
        self.model.remove(project_id)
        self._after_change()

    def _after_change(self) -> None:
        records = self.model.records()
        self.stack.setCurrentWidget(self.table if records else self.empty)
        self.badge.setVisible(any(o.awaiting for o in records))

    def add_activity(self, events: list[ActivityEvent], newest_first: bool = True) -> None:
        texts = [activity_text(e, self._names) for e in events]
        for text in texts:
            self.feed.insertItem(0, text) if newest_first else self.feed.addItem(text)
        while self.feed.count() > ACTIVITY_ROWS:
            self.feed.takeItem(self.feed.count() - 1)

    def selected_project_id(self) -> str | None:
        record: Any = self.table.selected_record()
        return record.project_id if record is not None else None

    def _open_selected(self) -> None:
        project_id = self.selected_project_id()
        if project_id:
            self.openProject.emit(project_id)

    # drag and drop of a folder: where it will land is said before the drop, a refusal too
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if not urls or not all(u.isLocalFile() for u in urls):
            return
        verdicts = [self.judge_drop(u.toLocalFile()) if self.judge_drop else (True, u.toLocalFile())
                    for u in urls]
        self.drop_hint.setText("; ".join(text for _ok, text in verdicts))
        refused = [text for ok, text in verdicts if not ok]
        self.drop_hint.setProperty("refused", bool(refused))
        self.drop_hint.style().unpolish(self.drop_hint)
        self.drop_hint.style().polish(self.drop_hint)
        self.drop_hint.show()
        if refused:
            event.ignore()
        else:
            event.acceptProposedAction()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.drop_hint.hide()
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self.drop_hint.hide()
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.folderDropped.emit(url.toLocalFile())
        event.acceptProposedAction()
