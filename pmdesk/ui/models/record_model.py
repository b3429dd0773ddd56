"""One table model for every list of records: columns are data, updates are diffs."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

RecordRole = Qt.ItemDataRole.UserRole + 1
SortRole = Qt.ItemDataRole.UserRole + 2
BadgeRole = Qt.ItemDataRole.UserRole + 3  # True where the NEEDS RESPONSE badge is painted

Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class Column:
    title: str
    text: Callable[[Any], str]
    sort: Callable[[Any], Any] | None = None
    badge: Callable[[Any], bool] | None = None
    tooltip: Callable[[Any], str] | None = None
    align_right: bool = False
    look: Callable[[Any], Any] | None = None  # the record's status: an icon and a text colour (``ui.models.look``)


class RecordTableModel(QAbstractTableModel):
    def __init__(self, columns: list[Column], key: Callable[[Any], Hashable], parent: Any = None) -> None:
        super().__init__(parent)
        self.columns = columns
        self.key = key
        self._rows: list[Any] = []
        self._where: dict[Hashable, int] = {}

    # -- Qt API ---------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].title
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        record = self._rows[index.row()]
        column = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(record)
        if role == SortRole:
            return column.sort(record) if column.sort else column.text(record)
        if role == RecordRole:
            return record
        if role == BadgeRole:
            return bool(column.badge and column.badge(record))
        if role == Qt.ItemDataRole.ToolTipRole and column.tooltip:
            return column.tooltip(record)
        if role == Qt.ItemDataRole.TextAlignmentRole and column.align_right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if column.look is not None and role in (Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ForegroundRole):
            from pmdesk.ui.models.look import status_color, status_icon

            status = column.look(record)
            return status_icon(status) if role == Qt.ItemDataRole.DecorationRole else status_color(status)
        return None

    # -- updates ------------------------------------------------------------------------

    def records(self) -> list[Any]:
        return list(self._rows)

    def record(self, row: int) -> Any:
        return self._rows[row]

    def row_of(self, key: Hashable) -> int | None:
        return self._where.get(key)

    def reveal(self, key: Hashable) -> int | None:
        """The row of ``key`` (a paged model fetches until it is shown)."""
        return self._where.get(key)

    def set_records(self, records: Iterable[Any]) -> None:
        self.beginResetModel()
        self._rows = list(records)
        self._where = {self.key(r): i for i, r in enumerate(self._rows)}
        self.endResetModel()

    def upsert(self, records: Iterable[Any]) -> None:
        """Replace known records in place (dataChanged), append new ones (one insert)."""
        fresh: list[Any] = []
        for record in records:
            row = self._where.get(self.key(record))
            if row is None:
                fresh.append(record)
                continue
            if self._rows[row] == record:
                continue
            self._rows[row] = record
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.columns) - 1))
        if fresh:
            start = len(self._rows)
            self.beginInsertRows(QModelIndex(), start, start + len(fresh) - 1)
            for offset, record in enumerate(fresh):
                self._rows.append(record)
                self._where[self.key(record)] = start + offset
            self.endInsertRows()

    def refresh_columns(self, columns: Iterable[int], rows: Callable[[Any], bool] | None = None) -> None:
        """Texts that depend on the clock (durations, "2 min ago") are asked for again: one
        dataChanged per run of matching rows."""
        wanted = sorted(columns)
        if not wanted or not self._rows:
            return
        first = last = None
        for row, record in enumerate(self._rows):
            if rows is None or rows(record):
                first = row if first is None else first
                last = row
        if first is not None and last is not None:
            self.dataChanged.emit(self.index(first, wanted[0]), self.index(last, wanted[-1]),
                                  [Qt.ItemDataRole.DisplayRole])

    def remove(self, key: Hashable) -> None:
        row = self._where.get(key)
        if row is None:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._rows[row]
        self._where = {self.key(r): i for i, r in enumerate(self._rows)}
        self.endRemoveRows()


class PagedRecordModel(RecordTableModel):
    """A list that can be 100,000 long (a year of runs): rows are shown a page at a time as the
    view scrolls (``canFetchMore``/``fetchMore``), and a header click sorts every record here, not
    only the rows shown. The rows shown are always the first of the sorted records, so a row's
    place among them is its place in the whole."""

    def __init__(self, columns: list[Column], key: Callable[[Any], Hashable], parent: Any = None,
                 page: int = 500) -> None:
        super().__init__(columns, key, parent)
        self.page = page
        self._all: list[Any] = []
        self._order: tuple[int, bool] | None = None  # (column, descending)

    def _sort_key(self, column: int) -> Callable[[Any], Any]:
        spec = self.columns[column]
        return spec.sort or spec.text

    def _arrange(self) -> None:
        if self._order is not None:
            column, descending = self._order
            self._all.sort(key=self._sort_key(column), reverse=descending)

    def _show(self, count: int) -> None:
        self._rows = self._all[:count]
        self._where = {self.key(r): i for i, r in enumerate(self._rows)}

    def records(self) -> list[Any]:
        return list(self._all)

    def total(self) -> int:
        return len(self._all)

    def set_records(self, records: Iterable[Any]) -> None:
        self.beginResetModel()
        self._all = list(records)
        self._arrange()
        self._show(max(self.page, len(self._rows)))  # as many rows as were shown, at least a page
        self.endResetModel()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if column < 0:
            return
        self.layoutAboutToBeChanged.emit()
        self._order = (column, order == Qt.SortOrder.DescendingOrder)
        self._arrange()
        self._show(len(self._rows))
        self.layoutChanged.emit()

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:
        return not parent.isValid() and len(self._rows) < len(self._all)

    def fetchMore(self, parent: Index = QModelIndex()) -> None:
        if parent.isValid():
            return
        start = len(self._rows)
        more = self._all[start:start + self.page]
        if not more:
            return
        self.beginInsertRows(QModelIndex(), start, start + len(more) - 1)
        for offset, record in enumerate(more):
            self._rows.append(record)
            self._where[self.key(record)] = start + offset
        self.endInsertRows()

    def reveal(self, key: Hashable) -> int | None:
        """The row of ``key``, fetching pages until it is shown (None: no such record)."""
        while key not in self._where and self.canFetchMore():
            self.fetchMore()
        return self._where.get(key)

    def upsert(self, records: Iterable[Any]) -> None:
        """Known records change in place; a new one goes where the order puts it (shown if it
        falls among the rows shown)."""
        at_of = {self.key(r): i for i, r in enumerate(self._all)} if len(self._all) < 5000 else None
        for record in records:
            key = self.key(record)
            row = self._where.get(key)
            if row is not None:
                if self._rows[row] != record:
                    self._rows[row] = self._all[row] = record
                    self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.columns) - 1))
                continue
            known = at_of.get(key) if at_of is not None else \
                next((i for i, r in enumerate(self._all) if self.key(r) == key), None)
            if known is not None:  # not shown yet: it changes where it waits
                self._all[known] = record
                continue
            place = self._place(record)
            self._all.insert(place, record)
            if place <= len(self._rows):
                self.beginInsertRows(QModelIndex(), place, place)
                self._show(len(self._rows) + 1)
                self.endInsertRows()
            if at_of is not None:
                at_of = {self.key(r): i for i, r in enumerate(self._all)}

    def _place(self, record: Any) -> int:
        if self._order is None:
            return len(self._all)
        column, descending = self._order
        key = self._sort_key(column)
        value = key(record)
        for i, other in enumerate(self._all):
            if (key(other) < value) if descending else (key(other) > value):
                return i
        return len(self._all)

    def remove(self, key: Hashable) -> None:
        self._all = [r for r in self._all if self.key(r) != key]
        row = self._where.get(key)
        if row is None:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        self._show(len(self._rows) - 1)
        self.endRemoveRows()
