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
from PySide6.QtGui import QFontDatabase
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

from pmdesk.engine.permissions import headline
from pmdesk.models import RequestKind, ToolRequest
from pmdesk.ui.widgets.diff_view import DiffHighlighter, _dark


def _questions(request: ToolRequest) -> list[dict[str, Any]]:
    raw = request.input.get("questions")
    return [q for q in raw if isinstance(q, dict)] if isinstance(raw, list) else []


class RequestCard(QFrame):
    """decided(allow, choices): choices are ``Engine.decide``'s keyword arguments."""

    decided = Signal(bool, dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("RequestCard")
        self.request: ToolRequest | None = None
        self.run_id: str | None = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(10, 8, 10, 8)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setObjectName("RequestTitle")
        self._layout.addWidget(self.title)
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        self.preview.setObjectName("RequestPreview")
        self.preview.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.preview.setMaximumHeight(180)
        self._highlighter = DiffHighlighter(self.preview.document(), _dark(self.palette()))
        self._layout.addWidget(self.preview)
        self._body = QWidget()
        self._body_layout = QVBoxLayout(self._body)
        self._body_layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(self._body)
        self.option_buttons: list[QPushButton] = []
        self.allow_button: QPushButton | None = None
        self.deny_button: QPushButton | None = None
        self.always_button: QToolButton | None = None
        self.rule: QLineEdit | None = None
        self.message: QLineEdit | None = None
        self.free_text: QLineEdit | None = None
        self.hide()

    # -- showing --------------------------------------------------------------------------

    def show_request(self, run_id: str, request: ToolRequest | None) -> None:
        if request is None:
            self.clear()
            return
        if self.request is not None and self.request.request_id == request.request_id and self.run_id == run_id:
            return  # the same request again (a run update): keep what the user typed
        self.run_id, self.request = run_id, request
        self._reset_body()
        self.preview.setPlainText(request.preview or "")
        self.preview.setVisible(bool(request.preview) and request.kind != RequestKind.QUESTION)
        if request.kind == RequestKind.QUESTION:
            self._question(request)
        elif request.kind == RequestKind.PLAN_APPROVAL:
            self._plan()
        else:
            self._permission(request)
        self.show()

    def clear(self) -> None:
        self.request = None
        self.run_id = None
        self.hide()

    def _reset_body(self) -> None:
        while self._body_layout.count():
            item = self._body_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
            elif item is not None and item.layout() is not None:
                _drop_layout(item.layout())
        self.option_buttons = []
        self.allow_button = self.deny_button = None
        self.always_button = None
        self.rule = self.message = self.free_text = None

    def _row(self, *widgets: QWidget, stretch_first: bool = False) -> QHBoxLayout:
        row = QHBoxLayout()
        for i, widget in enumerate(widgets):
            row.addWidget(widget, 1 if stretch_first and i == 0 else 0)
        if not stretch_first:
            row.addStretch(1)
        self._body_layout.addLayout(row)
        return row

    def _permission(self, request: ToolRequest) -> None:
        said = f"<br><i>{_escape(request.description)}</i>" if request.description else ""
        self.title.setText(f"<b>{_escape(headline(request))}</b>{said}")
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
        self._row(self.allow_button, self.always_button, self.deny_button)
        self.rule = QLineEdit(request.suggested_rule or request.tool_name)
        self.rule.setToolTip(self.tr("What Allow always keeps: a tool, or a tool with a pattern such as "
                                     "Bash(npm test:*)"))
        self.message = QLineEdit()
        self.message.setPlaceholderText(self.tr("Message to the agent with a denial (optional)"))
        self.message.returnPressed.connect(self._deny)
        rule_label = QLabel(self.tr("Pattern:"))
        self._row(rule_label, self.rule)
        self._row(self.message, stretch_first=True)

    def _question(self, request: ToolRequest) -> None:
        questions = _questions(request)
        self.title.setText(self.tr("<b>The agent asks</b>"))
        for question in questions:
            header = str(question.get("header") or "")
            text = str(question.get("question") or "")
            label = QLabel((f"<b>{_escape(header)}</b> · " if header else "") + _escape(text))
            label.setWordWrap(True)
            self._body_layout.addWidget(label)
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
                self._row(*buttons)
        if any(b.isCheckable() for b in self.option_buttons):
            send = QPushButton(self.tr("Send choices"))
            send.setProperty("primary", True)
            send.clicked.connect(self._send_choices)
            self._row(send)
        self.free_text = QLineEdit()
        self.free_text.setPlaceholderText(self.tr("Or write your own answer and press Enter"))
        self.free_text.returnPressed.connect(self._send_text)
        self._row(self.free_text, stretch_first=True)

    def _plan(self) -> None:
        self.title.setText(self.tr("<b>The agent proposes a plan</b> and waits for your approval"))
        self.preview.setMaximumHeight(260)
        self.allow_button = QPushButton(self.tr("&Approve"))
        self.allow_button.setProperty("primary", True)
        self.allow_button.clicked.connect(lambda: self.decided.emit(True, {}))
        edits = QPushButton(self.tr("Approve and accept &edits"))
        edits.setToolTip(self.tr("From now on, file edits in this run do not ask"))
        edits.clicked.connect(lambda: self.decided.emit(True, {"accept_edits": True}))
        self.deny_button = QPushButton(self.tr("&Keep planning"))
        self.deny_button.clicked.connect(self._deny)
        self._row(self.allow_button, edits, self.deny_button)
        self.message = QLineEdit()
        self.message.setPlaceholderText(self.tr("Feedback on the plan (with Keep planning)"))
        self.message.returnPressed.connect(self._deny)
        self._row(self.message, stretch_first=True)

    # -- answering ----------------------------------------------------------------------------

    def _always(self, scope: str) -> None:
        rule = self.rule.text().strip() if self.rule is not None else ""
        self.decided.emit(True, {"always": scope, "rule": rule or None})

    def _deny(self) -> None:
        message = self.message.text().strip() if self.message is not None else ""
        self.decided.emit(False, {"message": message or None})

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


def _drop_layout(layout: Any) -> None:
    while layout.count():
        item = layout.takeAt(0)
        if item.widget() is not None:
            item.widget().deleteLater()
        elif item.layout() is not None:
            _drop_layout(item.layout())

