"""What a waiting agent asks, shown exactly, with the ways to answer it.

A tool: its command, or the path and the diff it would write, with Allow, Allow always (the
suggested pattern, editable; for this run or this project) and Deny with a message. A question:
its header, text and options as buttons (checkable where several may be chosen) and a free
answer. A plan: its text, with Approve (optionally accepting edits from then on) or Keep planning
with feedback. The card only shows and emits ``decided``; the controller carries it out.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from pmdesk.engine.permissions import headline, questions_of
from pmdesk.models import RequestKind, ToolRequest
from pmdesk.ui.widgets.diff_view import DiffHighlighter, _dark


class RequestCard(QFrame):
    """decided(allow, choices): choices are ``Engine.decide``'s keyword arguments."""

    decided = Signal(bool, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("RequestCard")
        self.request: ToolRequest | None = None
        self.run_id: str | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setObjectName("RequestTitle")
        layout.addWidget(self.title)
        self.preview = QPlainTextEdit()
        self.preview.setAccessibleName(self.tr("What the agent wants to do"))
        self.preview.setReadOnly(True)
        self.preview.setObjectName("RequestPreview")
        self.preview.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.preview.setMaximumHeight(180)
        self._highlighter = DiffHighlighter(self.preview.document(), _dark(self.palette()))
        layout.addWidget(self.preview)
        # The tool and plan panels are built once and refilled: a request shows within a frame.
        self._tool_panel = self._build_tool_panel()
        self._plan_panel = self._build_plan_panel()
        self._question_panel = QWidget()
        self._question_layout = QVBoxLayout(self._question_panel)
        self._question_layout.setContentsMargins(0, 0, 0, 0)
        for panel in (self._tool_panel, self._plan_panel, self._question_panel):
            layout.addWidget(panel)
            panel.hide()
        self.option_buttons: list[QPushButton] = []
        self.free_text: QLineEdit | None = None
        self.hide()

    def _build_tool_panel(self) -> QWidget:
        panel = QWidget()
        rows = QVBoxLayout(panel)
        rows.setContentsMargins(0, 0, 0, 0)
        self.allow_button = QPushButton(self.tr("&Allow"))
        self.allow_button.setProperty("primary", True)
        self.allow_button.setToolTip(self.tr("Run it now, in the agent's turn (Ctrl+Return)"))
        self.allow_button.setShortcut("Ctrl+Return")
        self.allow_button.clicked.connect(lambda: self.decided.emit(True, {}))
        self.always_button = QToolButton()
        self.always_button.setText(self.tr("Allow al&ways"))
        self.always_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.always_button)
        menu.addAction(self.tr("For this run"), lambda: self._always("run"))
        menu.addAction(self.tr("For this project (kept in Settings)"), lambda: self._always("project"))
        self.always_button.setMenu(menu)
        self.deny_button = QPushButton(self.tr("&Deny"))
        self.deny_button.clicked.connect(self._deny)
        rows.addLayout(_row(self.allow_button, self.always_button, self.deny_button))
        self.rule = QLineEdit()
        self.rule.setAccessibleName(self.tr("Pattern that Allow always keeps"))
        self.rule.setToolTip(self.tr("What Allow always keeps: a tool, or a tool with a pattern such as "
                                     "Bash(npm test:*)"))
        rows.addLayout(_row(QLabel(self.tr("Pattern:")), self.rule, stretch=1))
        self.message = QLineEdit()
        self.message.setAccessibleName(self.tr("Message to the agent with Deny"))
        self.message.setPlaceholderText(self.tr("Message to the agent with a denial (optional)"))
        self.message.returnPressed.connect(self._deny)
        rows.addLayout(_row(self.message, stretch=0))
        return panel

    def _build_plan_panel(self) -> QWidget:
        panel = QWidget()
        rows = QVBoxLayout(panel)
        rows.setContentsMargins(0, 0, 0, 0)
        approve = QPushButton(self.tr("&Approve"))
        approve.setProperty("primary", True)
        approve.clicked.connect(lambda: self.decided.emit(True, {}))
        edits = QPushButton(self.tr("Approve and accept &edits"))
        edits.setToolTip(self.tr("From now on, file edits in this run do not ask"))
        edits.clicked.connect(lambda: self.decided.emit(True, {"accept_edits": True}))
        self.keep_planning = QPushButton(self.tr("&Keep planning"))
        self.keep_planning.clicked.connect(self._deny_plan)
        self.approve_plan = approve
        rows.addLayout(_row(approve, edits, self.keep_planning))
        self.feedback = QLineEdit()
        self.feedback.setAccessibleName(self.tr("Feedback on the plan"))
        self.feedback.setPlaceholderText(self.tr("Feedback on the plan (with Keep planning)"))
        self.feedback.returnPressed.connect(self._deny_plan)
        rows.addLayout(_row(self.feedback, stretch=0))
        return panel

    # -- showing --------------------------------------------------------------------------

    def show_request(self, run_id: str, request: ToolRequest | None) -> None:
        if request is None:
            self.clear()
            return
        if self.request is not None and self.request.request_id == request.request_id and self.run_id == run_id:
            return  # the same request again (a run update): keep what the user typed
        self.run_id, self.request = run_id, request
        self.preview.setPlainText(request.preview or "")
        self.preview.setVisible(bool(request.preview) and request.kind != RequestKind.QUESTION)
        self._tool_panel.setVisible(request.kind == RequestKind.PERMISSION)
        self._plan_panel.setVisible(request.kind == RequestKind.PLAN_APPROVAL)
        self._question_panel.setVisible(request.kind == RequestKind.QUESTION)
        if request.kind == RequestKind.QUESTION:
            self._question(request)
        elif request.kind == RequestKind.PLAN_APPROVAL:
            self.title.setText(self.tr("<b>The agent proposes a plan</b> and waits for your approval"))
            self.preview.setMaximumHeight(260)
            self.feedback.clear()
        else:
            said = f"<br><i>{_escape(request.description)}</i>" if request.description else ""
            self.title.setText(f"<b>{_escape(headline(request))}</b>{said}")
            self.preview.setMaximumHeight(180)
            self.rule.setText(request.suggested_rule or request.tool_name)
            self.message.clear()
        self.show()
        self._keep_readable()
        self._paint_now()

    def _paint_now(self) -> None:
        """The agent waits on this card: laid out and painted now, not a frame or two later."""
        holder = self.parentWidget()
        layout = holder.layout() if holder is not None else None
        if layout is not None:
            layout.activate()
        if self.isVisible():
            self.repaint()

    def take_keyboard(self) -> None:
        """The keyboard goes to the first answer: Allow, the first option, or Approve."""
        target: QWidget | None = self.allow_button
        if self.request is not None and self.request.kind == RequestKind.QUESTION:
            target = self.option_buttons[0] if self.option_buttons else self.free_text
        elif self.request is not None and self.request.kind == RequestKind.PLAN_APPROVAL:
            target = self.approve_plan
        if target is not None:
            target.setFocus()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._keep_readable()

    def _keep_readable(self) -> None:
        """Tall enough for its wrapped text at this width: a small window squeezes the log, not the question."""
        layout = self.layout()
        if layout is None:
            return
        width = max(self.width(), 320)
        needed = layout.heightForWidth(width) if layout.hasHeightForWidth() else layout.sizeHint().height()
        self.setMinimumHeight(min(max(needed, 0), 380))

    def clear(self) -> None:
        self.request = None
        self.run_id = None
        self.hide()

    def _question(self, request: ToolRequest) -> None:
        _drop_layout(self._question_layout)
        self.option_buttons = []
        questions = questions_of(request)
        self.title.setText(self.tr("<b>The agent asks</b>"))
        for question in questions:
            header = str(question.get("header") or "")
            text = str(question.get("question") or "")
            label = QLabel((f"<b>{_escape(header)}</b> · " if header else "") + _escape(text))
            label.setWordWrap(True)
            self._question_layout.addWidget(label)
            multi = bool(question.get("multiSelect"))
            buttons: list[QPushButton] = []
            for option in question.get("options") or []:
                if not isinstance(option, dict):
                    continue
                button = QPushButton(str(option.get("label") or "?"))
                button.setToolTip(str(option.get("description") or ""))
                button.setCheckable(multi or len(questions) > 1)
                button.setProperty("question", text)
                if not button.isCheckable():
                    button.clicked.connect(lambda _c=False, q=text, b=button: self.decided.emit(
                        True, {"answers": {q: b.text()}}))
                buttons.append(button)
            self.option_buttons += buttons
            if buttons:
                self._question_layout.addLayout(_row(*buttons))
        if any(b.isCheckable() for b in self.option_buttons):
            send = QPushButton(self.tr("Send choices"))
            send.setProperty("primary", True)
            send.clicked.connect(self._send_choices)
            self._question_layout.addLayout(_row(send))
        self.free_text = QLineEdit()
        self.free_text.setAccessibleName(self.tr("Your own answer"))
        self.free_text.setPlaceholderText(self.tr("Or write your own answer and press Enter"))
        self.free_text.returnPressed.connect(self._send_text)
        self._question_layout.addLayout(_row(self.free_text, stretch=0))

    # -- answering ----------------------------------------------------------------------------

    def _always(self, scope: str) -> None:
        rule = self.rule.text().strip()
        self.decided.emit(True, {"always": scope, "rule": rule or None})

    def _deny(self) -> None:
        message = self.message.text().strip()
        self.decided.emit(False, {"message": message or None})

    def _deny_plan(self) -> None:
        feedback = self.feedback.text().strip()
        self.decided.emit(False, {"message": feedback or None})

    def _send_choices(self) -> None:
        answers: dict[str, list[str]] = {}
        for button in self.option_buttons:
            if button.isChecked():
                answers.setdefault(str(button.property("question")), []).append(button.text())
        if answers:
            self.decided.emit(True, {"answers": {q: ", ".join(labels) for q, labels in answers.items()}})

    def _send_text(self) -> None:
        text = self.free_text.text().strip() if self.free_text is not None else ""
        if text:
            self.decided.emit(True, {"free_text": text})


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;")


def _row(*widgets: QWidget, stretch: int | None = None) -> QHBoxLayout:
    """Widgets side by side; ``stretch`` is the index of the one that takes the room (else a spring)."""
    row = QHBoxLayout()
    for i, widget in enumerate(widgets):
        row.addWidget(widget, 1 if i == stretch else 0)
    if stretch is None:
        row.addStretch(1)
    return row


def _drop_layout(layout: Any) -> None:
    while layout.count():
        item = layout.takeAt(0)
        if item.widget() is not None:
            item.widget().deleteLater()
        elif item.layout() is not None:
            _drop_layout(item.layout())

