"""A run's log that follows it live: batched appends, bounded memory."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QPlainTextEdit, QWidget

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

    def show_run(self, run_id: str | None, events: list[Any]) -> None:
        self.run_id = run_id
        self.clear()
        self.append_events(events, force_follow=True)

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
