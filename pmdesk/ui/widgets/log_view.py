"""A run's log that follows it live: batched appends, a bounded window of lines read back from
disk as the user scrolls past either end."""

from __future__ import annotations

from collections import deque
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QFont, QTextCursor, QTextFormat
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QWidget

from pmdesk.engine.search.query import Query
from pmdesk.ui.theme import colors

MAX_BLOCKS = 4_000  # the window: a block costs Qt ~4.4 KiB, so ~17 MiB whatever the run's length
PAGE = 1_000  # lines read back at a time when the user scrolls past an end of the window
PREFIX = {"stderr": "! ", "system": "· ", "assistant": "» ", "tool_use": "→ ", "tool_result": "← ",
          "question": "? ", "answer": "> ", "result": "= ", "gate": ""}


def _seq(event: Any) -> int:
    return int(event["seq"] if isinstance(event, dict) else event.seq)


def _line(event: Any) -> str:
    kind = event["kind"] if isinstance(event, dict) else event.kind
    text = event["text"] if isinstance(event, dict) else event.text
    return PREFIX.get(kind, "") + str(text)


class LogView(QPlainTextEdit):
    """A window of at most ``MAX_BLOCKS`` lines of one run. Scrolled to the top, it asks for the
    lines before (``olderWanted``); scrolled to the bottom of a window that does not reach the
    newest line, for the lines after (``newerWanted``); live lines are appended while it does."""

    olderWanted = Signal(str, int)  # run id, the first seq shown
    newerWanted = Signal(str, int)  # run id, the last seq shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("LogView")
        self.setAccessibleName(self.tr("Run log"))
        self.setReadOnly(True)
        # No undo: the document kept every line appended and every line dropped off the top
        # (~0.2 KiB a line, for as long as the window streams).
        self.setUndoRedoEnabled(False)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setFont(QFont("DejaVu Sans Mono", 9))
        self.run_id: str | None = None
        self.setPlaceholderText(self.tr("Select a run to see its log."))
        self._shown: deque[tuple[int, int]] = deque()  # (seq, lines) of each event in the window, in order
        self._blocks = 0
        self.at_end = True  # the window reaches the newest line: live lines are appended
        self._held: deque[Any] = deque(maxlen=PAGE)  # live lines that came while the window was elsewhere
        self._asked: tuple[str, int] | None = None  # the read-back under way, not asked again meanwhile
        self._editing = False
        self.verticalScrollBar().valueChanged.connect(self._scrolled)

    @property
    def first_seq(self) -> int | None:
        return self._shown[0][0] if self._shown else None

    @property
    def last_seq(self) -> int | None:
        return self._shown[-1][0] if self._shown else None

    def show_run(self, run_id: str | None, events: list[Any], focus_seq: int | None = None,
                 query: Query | None = None, at_end: bool = True) -> None:
        """The run's lines; with ``focus_seq``, scrolled to that event with ``query``'s words marked.
        ``at_end``: these are the newest lines (not a window in the middle, as a search hit's is)."""
        self.run_id = run_id
        self.clear()
        self._shown.clear()
        self._held.clear()
        self._blocks = 0
        self._asked = None
        self.at_end = at_end
        self.setExtraSelections([])
        self._append(events, follow=True if focus_seq is None else None)
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
        """Live lines: appended while the window reaches the newest, held otherwise."""
        if not self.at_end:
            self._held.extend(events)
            return
        self._append(events, follow=True if force_follow else None)

    def older_events(self, run_id: str, events: list[Any]) -> None:
        """The lines before the window (asked by ``olderWanted``), put on top; the lines the user
        was reading stay where they were on the screen. The window drops lines at its bottom."""
        self._asked = None
        first = self.first_seq
        events = [e for e in events if first is None or _seq(e) < first]
        if run_id != self.run_id or not events:
            return
        self._editing = True
        try:
            self._prepend(events)
        finally:
            self._editing = False

    def _prepend(self, events: list[Any]) -> None:
        bar = self.verticalScrollBar()
        kept_at = bar.value()
        text = "\n".join(_line(e) for e in events)
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.Start)
        cursor.insertText(text + "\n")
        added = 0
        for event in reversed(events):
            lines = _line(event).count("\n") + 1
            self._shown.appendleft((_seq(event), lines))
            added += lines
        self._blocks += added
        bar.setValue(kept_at + added)
        if self._blocks > MAX_BLOCKS:
            self._trim(from_top=False)

    def newer_events(self, run_id: str, events: list[Any], reached_end: bool) -> None:
        """The lines after the window (asked by ``newerWanted``); at the newest, live lines follow again."""
        self._asked = None
        if run_id != self.run_id:
            return
        self._append(events, follow=False)  # the user reads on from where they were
        if reached_end:
            self.at_end = True
            held, self._held = list(self._held), deque(maxlen=PAGE)
            self._append(held, follow=False)

    def _append(self, events: list[Any], follow: bool | None) -> None:
        """``follow``: scroll to the new end (True), stay (False), or follow if at the end (None)."""
        self._editing = True
        try:
            self._append_now(events, follow)
        finally:
            self._editing = False

    def _append_now(self, events: list[Any], follow: bool | None) -> None:
        last = self.last_seq
        events = [e for e in events if last is None or _seq(e) > last]  # never a line twice
        if not events:
            return
        bar = self.verticalScrollBar()
        following = follow if follow is not None else bar.value() >= bar.maximum() - 4
        kept_at = bar.value()
        lines = [_line(e) for e in events]
        self.appendPlainText("\n".join(lines))  # one append per batch, not per line
        for event, line in zip(events, lines, strict=True):
            count = line.count("\n") + 1
            self._shown.append((_seq(event), count))
            self._blocks += count
        if self._blocks > MAX_BLOCKS:
            kept_at -= self._trim(from_top=True)
        bar.setValue(bar.maximum() if following else max(0, kept_at))

    def _trim(self, from_top: bool) -> int:
        """Whole events off one end until the window fits (read back from disk if scrolled to
        again); returns the lines dropped."""
        drop = 0
        while self._blocks - drop > MAX_BLOCKS and len(self._shown) > 1:
            drop += (self._shown.popleft() if from_top else self._shown.pop())[1]
        if not drop:
            return 0
        self._blocks -= drop
        document = self.document()
        cursor = QTextCursor(document)
        if from_top:
            cursor.movePosition(QTextCursor.MoveOperation.Start)
            cursor.movePosition(QTextCursor.MoveOperation.NextBlock, QTextCursor.MoveMode.KeepAnchor, drop)
            cursor.removeSelectedText()
        else:  # from the end of the last block kept (its line break goes too) to the end
            kept = document.findBlockByNumber(document.blockCount() - drop - 1)
            cursor.setPosition(kept.position() + kept.length() - 1)
            cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
            cursor.removeSelectedText()
            self.at_end = False  # the newest lines are on disk now, not in the window
        return drop

    def _scrolled(self, value: int) -> None:
        if self.run_id is None or not self._shown or self._asked is not None or self._editing:
            return  # a move made by an edit of the window is not the user scrolling
        bar = self.verticalScrollBar()
        if value <= bar.minimum() and bar.maximum() > bar.minimum() and (self.first_seq or 0) > 1:
            self._asked = (self.run_id, self.first_seq or 0)
            self.olderWanted.emit(self.run_id, self.first_seq or 0)
        elif value >= bar.maximum() and not self.at_end:
            self._asked = (self.run_id, self.last_seq or 0)
            self.newerWanted.emit(self.run_id, self.last_seq or 0)
