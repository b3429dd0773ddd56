"""A sortable, read-only table view with the conventions every pmdesk table shares.

Every row can be opened (double-click or Enter: ``opened``) and has a context menu: the
table's ``Open`` item, then the window's actions that concern the row (their enabled state
and reasons are the action table's), then extras such as copying the row's id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, QSortFilterProxyModel, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTableView, QWidget

from pmdesk.ui.models.record_model import PagedRecordModel, RecordRole, RecordTableModel, SortRole
from pmdesk.ui.widgets.badge import BadgeDelegate

MenuExtra = tuple[str, Callable[[Any], None]]  # a menu item's text, and what it does with the record


class RecordProxy(QSortFilterProxyModel):
    """Sorts by SortRole; ``accept`` (None: every row) decides which records are shown."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.accept: Callable[[Any], bool] | None = None

    def set_filter(self, accept: Callable[[Any], bool] | None) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.10+, where invalidateFilter is deprecated
            self.beginFilterChange()
            self.accept = accept
            self.endFilterChange()
        else:  # pragma: no cover - older Qt
            self.accept = accept
            self.invalidateFilter()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """A paged model sorts every record itself; the proxy keeps its order."""
        source = self.sourceModel()
        if isinstance(source, PagedRecordModel):
            source.sort(column, order)
            return
        super().sort(column, order)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        if self.accept is None:
            return True
        model = self.sourceModel()
        return bool(self.accept(model.index(source_row, 0, source_parent).data(RecordRole)))


FIT_ROWS, MIN_WIDTH, MAX_WIDTH = 100, 40, 240


class RecordTable(QTableView):
    """Signals:
        opened(record): the user double-clicked a row or pressed Enter on it.
    """

    opened = Signal(object)

    def __init__(self, model: RecordTableModel, badge_column: int | None = None, stretch: int | None = None,
                 widths: dict[int, int] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = model
        self.proxy = RecordProxy(self)
        self.proxy.setSourceModel(model)
        self.proxy.setSortRole(SortRole)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(26)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(stretch is None)
        if stretch is not None:
            header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
        if badge_column is not None:
            self.setItemDelegateForColumn(badge_column, BadgeDelegate(self, badge_column))
            self.setColumnWidth(badge_column, 150)
        for column, width in (widths or {}).items():
            self.setColumnWidth(column, width)
        self._designed = dict(widths or {})
        self._badge = badge_column
        self._stretch = stretch if stretch is not None else model.columnCount() - 1
        self._fitted = False
        model.modelReset.connect(self._fit_once)
        self._kept_key: object | None = None
        model.modelAboutToBeReset.connect(self._keep_selection)
        model.modelReset.connect(self._restore_selection)
        model.rowsInserted.connect(self._fit_once)
        self.activated.connect(self._activated)  # a double-click, or Enter, by the platform's convention
        self.open_text: str | None = None
        self.menu_actions: Sequence[QAction | None] = ()
        self.menu_extras: Sequence[MenuExtra] = ()
        self.menu: QMenu | None = None  # the context menu open now
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._show_menu)

    def _fit_once(self, *_args: object) -> None:
        if not self._fitted and self.source.rowCount():
            self._fitted = True
            QTimer.singleShot(0, self, self.fit_columns)  # with the table as context: never after it is gone

    def fit_columns(self) -> None:
        """Columns as wide as their content (the first rows measured), up to their designed width;
        once, when the first rows arrive, so a width the user set is kept. The stretching column
        takes the rest, and elides with a tooltip where it is short."""
        header = self.horizontalHeader()
        header.setResizeContentsPrecision(FIT_ROWS)
        for column in range(self.source.columnCount()):
            if column == self._stretch or self.isColumnHidden(column) or column == self._badge \
                    or self.source.columns[column].look is not None:  # a status changes: its designed width stays
                continue
            fit = max(self.sizeHintForColumn(column), header.sectionSizeHint(column), MIN_WIDTH)
            designed = self._designed.get(column)
            # A designed width is the most a column takes (narrower content gives the room to the
            # stretching column); a column without one grows to its content, within bounds.
            self.setColumnWidth(column, min(fit, designed) if designed else min(fit, MAX_WIDTH))

    def set_menu(self, open_text: str | None, actions: Sequence[QAction | None] = (),
                 extras: Sequence[MenuExtra] = ()) -> None:
        """What a row's context menu offers (None among the actions: a separator)."""
        self.open_text, self.menu_actions, self.menu_extras = open_text, actions, extras

    def _activated(self, index: QModelIndex) -> None:
        record = index.data(RecordRole)
        if record is not None:
            self.opened.emit(record)

    def context_menu(self, record: object) -> QMenu:
        """The menu for ``record`` (selected already, so the actions' rules look at it)."""
        menu = QMenu(self)
        menu.setToolTipsVisible(True)  # a disabled item says why
        if self.open_text:
            item = menu.addAction(self.open_text)
            item.setShortcut(Qt.Key.Key_Return)
            item.triggered.connect(lambda: self.opened.emit(record))
            menu.setDefaultAction(item)
        if self.menu_actions:
            menu.addSeparator()
        for action in self.menu_actions:
            menu.addSeparator() if action is None else menu.addAction(action)
        if self.menu_extras:
            menu.addSeparator()
        for text, do in self.menu_extras:
            menu.addAction(text).triggered.connect(lambda _c=False, do=do: do(record))
        return menu

    def _show_menu(self, at: QPoint) -> None:
        index = self.indexAt(at)
        if not index.isValid():
            return
        self.selectRow(index.row())  # the actions apply to the row the menu is for
        record = index.data(RecordRole)
        if record is None:
            return
        self.menu = self.context_menu(record)
        self.menu.popup(self.viewport().mapToGlobal(at))


    def selected_record(self) -> object | None:
        rows = self.selectionModel().selectedRows() if self.selectionModel() else []
        if not rows:
            return None
        record: object = rows[0].data(RecordRole)
        return record

    def _keep_selection(self) -> None:
        record = self.selected_record()
        self._kept_key = self.source.key(record) if record is not None else None

    def _restore_selection(self) -> None:
        """A listing read again (a refresh) keeps the row the user had selected, if it is still there."""
        key, self._kept_key = self._kept_key, None
        selection = self.selectionModel()
        if key is None or selection is None or self.selected_record() is not None:
            return
        quiet = selection.blockSignals(True)  # the same record: nothing new to show or load for it
        try:
            self.select_key(key)
        finally:
            selection.blockSignals(quiet)
        self.viewport().update()

    def select_key(self, key: object) -> None:
        row = self.source.reveal(key)
        if row is None:
            return
        index = self.proxy.mapFromSource(self.source.index(row, 0))
        self.selectRow(index.row())
        self.scrollTo(index)

    def sort_by(self, column: int, order: Qt.SortOrder = Qt.SortOrder.DescendingOrder) -> None:
        self.sortByColumn(column, order)


def copy_text(text: str) -> None:
    QGuiApplication.clipboard().setText(text)
