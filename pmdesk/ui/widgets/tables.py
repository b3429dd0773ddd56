"""A sortable, read-only table view with the conventions every pmdesk table shares."""

from __future__ import annotations

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from pmdesk.ui.models.record_model import RecordRole, RecordTableModel, SortRole
from pmdesk.ui.widgets.badge import BadgeDelegate


class RecordTable(QTableView):
    def __init__(self, model: RecordTableModel, badge_column: int | None = None, stretch: int | None = None,
                 widths: dict[int, int] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = model
        self.proxy = QSortFilterProxyModel(self)
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

    def selected_record(self) -> object | None:
        rows = self.selectionModel().selectedRows() if self.selectionModel() else []
        if not rows:
            return None
        record: object = rows[0].data(RecordRole)
        return record

    def select_key(self, key: object) -> None:
        row = self.source.row_of(key)
        if row is None:
            return
        index = self.proxy.mapFromSource(self.source.index(row, 0))
        self.selectRow(index.row())

    def sort_by(self, column: int, order: Qt.SortOrder = Qt.SortOrder.DescendingOrder) -> None:
        self.sortByColumn(column, order)
