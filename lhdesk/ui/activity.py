"""The Activity panel: an in-app view of lhdesk's log, filtered by level."""

from __future__ import annotations

import enum
import logging
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QSortFilterProxyModel,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from lhdesk.logbuffer import LogEntry, RingBufferHandler
from lhdesk.ui.rowmodel import Index, RowTableModel

LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR}
LevelRole = Qt.ItemDataRole.UserRole + 1


class Column(enum.IntEnum):
    TIME = 0
    LEVEL = 1
    SOURCE = 2
    MESSAGE = 3


HEADERS = {Column.TIME: "Time", Column.LEVEL: "Level", Column.SOURCE: "Source", Column.MESSAGE: "Message"}


class LogBridge(QObject):
    """Carries log entries from any thread to the GUI thread.

    Signals:
        entry_added(LogEntry): a record was logged (delivered queued to GUI-thread receivers).
    """

    entry_added = Signal(object)

    def __init__(self, handler: RingBufferHandler, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.handler = handler
        handler.add_listener(self.entry_added.emit)

    def detach(self) -> None:
        self.handler.remove_listener(self.entry_added.emit)


class ActivityModel(RowTableModel[LogEntry]):
    """The newest log entries, oldest first, capped like the ring buffer behind it."""

    def __init__(self, entries: list[LogEntry], capacity: int, parent: QObject | None = None) -> None:
        super().__init__([HEADERS[c] for c in Column], parent)
        self._rows = list(entries)[-capacity:]
        self._capacity = capacity

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        entry = self._rows[index.row()]
        column = Column(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            if column is Column.TIME:
                return entry.time.astimezone().strftime("%H:%M:%S")
            if column is Column.LEVEL:
                return entry.level_name
            if column is Column.SOURCE:
                return entry.logger
            return entry.message
        if role == Qt.ItemDataRole.ToolTipRole and column is Column.MESSAGE:
            return entry.message
        if role == LevelRole:
            return entry.level
        return None

    @Slot(object)
    def append(self, entry: LogEntry) -> None:
        if len(self._rows) >= self._capacity:
            self.beginRemoveRows(QModelIndex(), 0, 0)
            del self._rows[0]
            self.endRemoveRows()
        row = len(self._rows)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.append(entry)
        self.endInsertRows()

    def clear(self) -> None:
        self.reset_rows([])


class LevelFilterProxy(QSortFilterProxyModel):
    """Shows entries at or above a minimum level."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._minimum = logging.INFO

    def set_minimum_level(self, level: int) -> None:
        self.beginFilterChange()
        self._minimum = level
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        level = self.sourceModel().index(source_row, 0, source_parent).data(LevelRole)
        return bool(level is not None and level >= self._minimum)


class ActivityPanel(QWidget):
    """Log view with a level filter and a Clear button; sits in a dock of the main window.

    Signals:
        level_changed(str): the user picked another minimum level (the window remembers it).
    """

    level_changed = Signal(str)

    def __init__(self, bridge: LogBridge, level: str = "INFO", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("activityPanel")
        self.model = ActivityModel(bridge.handler.entries(), bridge.handler.capacity, self)
        bridge.entry_added.connect(self.model.append)
        self.proxy = LevelFilterProxy(self)
        self.proxy.setSourceModel(self.model)

        self.level_combo = QComboBox(self)
        self.level_combo.setObjectName("activityLevelCombo")
        self.level_combo.setAccessibleName("Minimum log level")
        self.level_combo.addItems(list(LEVELS))
        self.level_combo.currentTextChanged.connect(self._on_level_changed)
        clear = QPushButton("&Clear", self)
        clear.setObjectName("activityClearButton")
        clear.clicked.connect(self.model.clear)

        self.view = QTableView(self)
        self.view.setObjectName("activityView")
        self.view.setModel(self.proxy)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        self.view.verticalHeader().hide()
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.view.horizontalHeader().setSectionResizeMode(Column.MESSAGE, QHeaderView.ResizeMode.Stretch)
        self.view.horizontalHeader().setSectionResizeMode(
            Column.SOURCE, QHeaderView.ResizeMode.ResizeToContents
        )
        self.model.rowsInserted.connect(self._follow_tail)

        bar = QHBoxLayout()
        label = QLabel("Show &level:", self)
        label.setBuddy(self.level_combo)
        bar.addWidget(label)
        bar.addWidget(self.level_combo)
        bar.addStretch(1)
        bar.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.view)
        self.level_combo.setCurrentText(level if level in LEVELS else "INFO")
        self._on_level_changed(self.level_combo.currentText())

    @Slot(str)
    def _on_level_changed(self, name: str) -> None:
        self.proxy.set_minimum_level(LEVELS.get(name, logging.INFO))
        self.level_changed.emit(name)

    @Slot()
    def _follow_tail(self) -> None:
        self.view.scrollToBottom()
