"""A flat table model over a list of row objects: what every page's table has in common."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

Index = QModelIndex | QPersistentModelIndex
RowT = TypeVar("RowT")


class RowTableModel(QAbstractTableModel, Generic[RowT]):
    """One object per row, columns named by ``headers``; subclasses implement ``data``.

    Rows are replaced whole (``reset_rows``), changed in place (``replace_row``, ``rows_changed``)
    or added on top (``prepend_row``), each with the signal that lets views keep their selection.
    """

    def __init__(self, headers: Sequence[str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._headers = tuple(headers)
        self._rows: list[RowT] = []

    def rows(self) -> tuple[RowT, ...]:
        return tuple(self._rows)

    def row_at(self, row: int) -> RowT:
        return self._rows[row]

    def reset_rows(self, rows: Iterable[RowT]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def replace_row(self, row: int, item: RowT) -> None:
        self._rows[row] = item
        self.rows_changed(row, row)

    def prepend_row(self, item: RowT) -> None:
        self.beginInsertRows(QModelIndex(), 0, 0)
        self._rows.insert(0, item)
        self.endInsertRows()

    def rows_changed(self, first: int = 0, last: int | None = None, column: int | None = None) -> None:
        """Tell views that rows ``first..last`` (default: to the end) changed, in one column or all."""
        last = len(self._rows) - 1 if last is None else last
        if last < first:
            return
        left, right = (0, len(self._headers) - 1) if column is None else (column, column)
        self.dataChanged.emit(self.index(first, left), self.index(last, right))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's own signature)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._headers)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self._headers[section] if 0 <= section < len(self._headers) else None
        return None
