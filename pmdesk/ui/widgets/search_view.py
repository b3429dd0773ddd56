"""The search window (Ctrl+K): what the user types, the hits newest first with the words
marked, and Enter to open one. It asks nothing itself: the controller runs the engine's search."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAbstractTextDocumentLayout, QKeyEvent, QPainter, QPalette, QTextDocument
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from pmdesk.engine.search import KINDS, SearchHit
from pmdesk.ui.models.record_model import Column, RecordRole, RecordTableModel
from pmdesk.ui.models.tables import ago
from pmdesk.ui.theme import colors
from pmdesk.ui.widgets.tables import RecordTable

DEBOUNCE_MS = 150
KIND_NAMES = {"prompt": "Prompt", "question": "Question", "answer": "Answer", "assistant": "Agent", "tool": "Tool call",
              "output": "Output", "gate": "Gate", "task": "Plan task"}


def marked_html(text: str, spans: list[tuple[int, int]]) -> str:
    """The text with its hits marked, escaped: an agent's text is never read as markup."""
    mark = colors()
    out, at = [], 0
    for a, b in spans:
        out.append(html.escape(text[at:a]))
        out.append(f'<span style="background-color:{mark["mark"]};color:{mark["mark_text"]}">'
                   f"{html.escape(text[a:b])}</span>")
        at = b
    out.append(html.escape(text[at:]))
    return "".join(out)


class MarkedTextDelegate(QStyledItemDelegate):
    """Paints a hit's text with its words marked, on one line."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        hit = index.data(RecordRole)
        if not isinstance(hit, SearchHit):
            super().paint(painter, option, index)
            return
        self.initStyleOption(option, index)
        style = option.widget.style() if option.widget else None
        option.text = ""
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, option.widget)
        document = QTextDocument()
        document.setDocumentMargin(0)
        document.setDefaultFont(option.font)
        document.setHtml(marked_html(hit.text, hit.spans))
        painter.save()
        rect = option.rect.adjusted(4, 0, -4, 0)
        painter.translate(rect.left(), rect.top() + (rect.height() - document.size().height()) / 2)
        painter.setClipRect(QRectF(0, 0, rect.width(), rect.height()))
        context = QAbstractTextDocumentLayout.PaintContext()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        context.palette.setColor(QPalette.ColorRole.Text, option.palette.color(role))
        document.documentLayout().draw(painter, context)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(400, 26)


def _where(hit: SearchHit) -> str:
    if hit.run_id:
        return hit.run_id[4:12] + (f" #{hit.seq}" if hit.seq else "")
    return f"{(hit.plan_id or '')[5:13]} task"


COLUMNS = [
    Column("When", lambda h: ago(h.ts), sort=lambda h: h.ts, tooltip=lambda h: h.ts),
    Column("Project", lambda h: h.project_name),
    Column("Kind", lambda h: KIND_NAMES.get(h.kind, h.kind)),
    Column("Where", _where, tooltip=lambda h: h.run_id or f"{h.plan_id} {h.task_id}"),
    Column("Text", lambda h: h.text, tooltip=lambda h: h.text),
]


class HitsModel(RecordTableModel):
    """The hits, a page at a time: scrolled to the end, the view asks for the next page (``wanted``
    with the engine's cursor), which comes back through ``add_page``."""

    def __init__(self, wanted: Callable[[str], None], parent: Any = None) -> None:
        super().__init__(COLUMNS, key=lambda h: (h.project_id, h.run_id, h.plan_id, h.task_id, h.seq, h.kind),
                         parent=parent)
        self.wanted = wanted
        self.next: str | None = None  # the cursor of the page after the last shown
        self.asking = False

    def set_page(self, hits: list[SearchHit], next_cursor: str | None) -> None:
        self.next, self.asking = next_cursor, False
        self.set_records(hits)

    def add_page(self, hits: list[SearchHit], next_cursor: str | None) -> None:
        self.next, self.asking = next_cursor, False
        self.upsert(hits)

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:
        return not parent.isValid() and self.next is not None and not self.asking

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> None:
        if self.canFetchMore(parent) and self.next is not None:
            self.asking = True
            self.wanted(self.next)


class SearchDialog(QDialog):
    """Signals:
        searchWanted(text, kind, project_id): the query changed (debounced); kind and project may be "".
        moreWanted(text, kind, project_id, after): scrolled to the last hit shown; the next page after it.
        hitOpened(hit): Enter or a double-click on a hit.
    """

    searchWanted = Signal(str, str, str)
    moreWanted = Signal(str, str, str, str)
    hitOpened = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("SearchDialog")
        self.setWindowTitle(self.tr("Search"))
        self.setAccessibleName(self.tr("Search every run and plan"))
        self.resize(900, 520)
        self.query = QLineEdit(self)
        self.query.setObjectName("SearchQuery")
        self.query.setAccessibleName(self.tr("Search for"))
        self.query.setPlaceholderText(self.tr('Words (all must match), a "phrase", a prefix*'))
        self.query.setClearButtonEnabled(True)
        self.kind = QComboBox(self)
        self.kind.setAccessibleName(self.tr("Kind of text"))
        self.kind.addItem(self.tr("Everything"), "")
        for kind in KINDS:
            self.kind.addItem(self.tr(KIND_NAMES[kind]), kind)
        self.scope = QComboBox(self)
        self.scope.setAccessibleName(self.tr("Projects searched"))
        self.scope.addItem(self.tr("All projects"), "")
        self.model = HitsModel(self._more, parent=self)
        self._took_ms = 0.0
        self._notes: list[str] = []
        self.table = RecordTable(self.model, stretch=4, widths={0: 90, 1: 120, 2: 90, 3: 110}, parent=self)
        self.table.setAccessibleName(self.tr("Search results"))
        self.table.setSortingEnabled(False)  # newest first, as the engine orders them
        self.table.setItemDelegateForColumn(4, MarkedTextDelegate(self.table))
        self.table.opened.connect(self.hitOpened.emit)
        self.status = QLabel(self.tr("Type to search every project's prompts, questions, answers, agent text, "
                                     "tool calls, output, gate output and plan tasks."), self)
        self.status.setObjectName("SearchStatus")
        self.status.setWordWrap(True)
        self.status.setAccessibleName(self.tr("Search status"))
        top = QHBoxLayout()
        top.addWidget(self.query, 1)
        top.addWidget(self.kind)
        top.addWidget(self.scope)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._ask)
        self.query.textChanged.connect(lambda _t: self._timer.start())
        self.kind.currentIndexChanged.connect(lambda _i: self._timer.start(0))
        self.scope.currentIndexChanged.connect(lambda _i: self._timer.start(0))
        self.query.installEventFilter(self)

    def set_projects(self, projects: list[tuple[str, str]], current: str | None) -> None:
        """The scope's choices, (project id, name); ``current`` is chosen when given."""
        chosen = current if current is not None else self.scope.currentData()
        self.scope.blockSignals(True)
        while self.scope.count() > 1:
            self.scope.removeItem(1)
        for project_id, name in projects:
            self.scope.addItem(name, project_id)
        at = self.scope.findData(chosen) if chosen else 0
        self.scope.setCurrentIndex(max(0, at))
        self.scope.blockSignals(False)

    def begin(self) -> None:
        """Shown again: the query is selected, so typing replaces it."""
        self.query.setFocus()
        self.query.selectAll()
        if self.query.text().strip():
            self._timer.start(0)

    def _ask(self) -> None:
        text = self.query.text()
        if not text.strip():
            self.model.set_page([], None)
            self.status.setText(self.tr("Type to search."))
            return
        self.status.setText(self.tr("Searching…"))
        self.searchWanted.emit(text, str(self.kind.currentData() or ""), str(self.scope.currentData() or ""))

    def _more(self, after: str) -> None:
        self.status.setText(self.tr("Searching for more…"))
        self.moreWanted.emit(self.query.text(), str(self.kind.currentData() or ""),
                             str(self.scope.currentData() or ""), after)

    def show_hits(self, hits: list[SearchHit], took_ms: float, notes: list[str], next_cursor: str | None = None) -> None:
        self.model.set_page(hits, next_cursor)
        if hits:
            self.table.selectRow(0)
        self._took_ms, self._notes = took_ms, notes
        self._say()

    def add_hits(self, hits: list[SearchHit], next_cursor: str | None) -> None:
        """The next page, below the hits shown (the selection stays where it was)."""
        self.model.add_page(hits, next_cursor)
        self._say()

    def _say(self) -> None:
        n = self.model.rowCount()
        count = self.tr("No hits") if not n else self.tr("1 hit") if n == 1 else self.tr("%1 hits").replace("%1", str(n))
        if self.model.next is not None:
            count = self.tr("%1 hits so far, more as you scroll").replace("%1", str(n))
        text = f"{count} · {self._took_ms:.0f} ms" + (" · Enter opens the selected one" if n else "")
        self.status.setText("\n".join([text, *self._notes]))

    def show_error(self, message: str) -> None:
        self.model.set_page([], None)
        self.status.setText(message)

    def eventFilter(self, watched: object, event: object) -> bool:
        """Up and Down in the query move through the hits; Enter opens the selected one."""
        if watched is self.query and isinstance(event, QKeyEvent) and event.type() == QKeyEvent.Type.KeyPress:
            key = event.key()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up) and self.model.rowCount():
                row = self.table.currentIndex().row()
                row = min(self.model.rowCount() - 1, row + 1) if key == Qt.Key.Key_Down else max(0, row - 1)
                self.table.selectRow(row)
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                hit = self.table.selected_record()
                if hit is not None:
                    self.hitOpened.emit(hit)
                return True
        return super().eventFilter(watched, event)  # type: ignore[arg-type]
