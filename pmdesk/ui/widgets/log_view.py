"""A run's log that follows it live: batched appends, bounded memory."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QColor, QFont, QTextCursor, QTextFormat
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QWidget

from pmdesk.engine.search.query import Query
from pmdesk.ui.theme import colors

MAX_BLOCKS = 20_000
PREFIX = {"stderr": "! ", "system": "· ", "assistant": "» ", "tool_use": "→ ", "tool_result": "← ",
          "question": "? ", "answer": "> ", "result": "= ", "gate": ""}


class LogView(QPlainTextEdit):
    """Keeps the last 20,000 lines; a million-line run costs the same memory as a small one."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("LogView")
        self.setAccessibleName(self.tr("Run log"))
        self.setReadOnly(True)
        self.setMaximumBlockCount(MAX_BLOCKS)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setFont(QFont("DejaVu Sans Mono", 9))
        self.run_id: str | None = None
        self.setPlaceholderText(self.tr("Select a run to see its log."))

    def show_run(self, run_id: str | None, events: list[Any], focus_seq: int | None = None,
                 query: Query | None = None) -> None:
        """The run's lines; with ``focus_seq``, scrolled to that event with ``query``'s words marked."""
        self.run_id = run_id
        self.clear()
        self.setExtraSelections([])
        self.append_events(events, force_follow=focus_seq is None)
        if focus_seq is not None:
            self.focus_event(events, focus_seq, query)

    def focus_event(self, events: list[Any], seq: int, query: Query | None) -> bool:
        """Put the event numbered ``seq`` (one of ``events``, as shown) in the middle, marked."""
        line = 0
        for event in events:
            number = event["seq"] if isinstance(event, dict) else event.seq
            if number == seq:
                break
            line += str(event["text"] if isinstance(event, dict) else event.text).count("\n") + 1
        else:
            return False
        block = self.document().findBlockByNumber(line)
        if not block.isValid():
            return False
        cursor = QTextCursor(block)
        self.setTextCursor(cursor)
        self.centerCursor()
        palette = colors()
        whole = QTextEdit.ExtraSelection()
        whole.cursor = cursor
        whole.format.setBackground(QColor(palette["select"]).darker(160))
        whole.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
        marks = [whole]
        for a, b in query.spans(block.text()) if query is not None else []:
            span = QTextCursor(block)
            span.setPosition(block.position() + a)
            span.setPosition(block.position() + b, QTextCursor.MoveMode.KeepAnchor)
            mark = QTextEdit.ExtraSelection()
            mark.cursor = span
            mark.format.setBackground(QColor(palette["mark"]))
            mark.format.setForeground(QColor(palette["mark_text"]))
            marks.append(mark)
        self.setExtraSelections(marks)
        return True

    def append_events(self, events: list[Any], force_follow: bool = False) -> None:
        if not events:
            return
        bar = self.verticalScrollBar()
        following = force_follow or bar.value() >= bar.maximum() - 4
        lines = []
        for event in events:
            kind = event["kind"] if isinstance(event, dict) else event.kind
            text = event["text"] if isinstance(event, dict) else event.text
            lines.append(PREFIX.get(kind, "") + text)
        self.appendPlainText("\n".join(lines))  # one append per batch, not per line
        if following:
            bar.setValue(bar.maximum())
