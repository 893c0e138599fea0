"""The Clusters page, the toolbar's context picker, and the colours that tell clusters apart."""

from __future__ import annotations

import enum
import html
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QSignalBlocker,
    QSortFilterProxyModel,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QComboBox,
    QHeaderView,
    QLabel,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from lhdesk.core.clusters import ContextState
from lhdesk.ui.pages import Page
from lhdesk.ui.rowmodel import Index, RowTableModel
from lhdesk.ui.session import ClusterSession, ContextStatus
from lhdesk.ui.settings import Settings

SortRole = Qt.ItemDataRole.UserRole + 1

STATE_COLOURS = {
    ContextState.CONNECTED: "#2e7d32",
    ContextState.NO_LONGHORN: "#6d4c41",
    ContextState.AUTH_REQUIRED: "#ef6c00",
    ContextState.FORBIDDEN: "#ef6c00",
    ContextState.UNREACHABLE: "#c62828",
    ContextState.TLS_ERROR: "#c62828",
    ContextState.INVALID: "#c62828",
    ContextState.UNKNOWN: "#757575",
}


def state_text(status: ContextStatus) -> str:
    return "checking…" if status.checking else status.probe.state.value


def chip_icon(colour: str | None, size: int = 12) -> QIcon:
    """A small filled square in the context's colour (transparent when it has none)."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    if colour:
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(QColor(colour))
        painter.setPen(QColor(colour).darker(130))
        painter.drawRoundedRect(0, 0, size - 1, size - 1, 3, 3)
        painter.end()
    return QIcon(pixmap)


class Column(enum.IntEnum):
    CONTEXT = 0
    CLUSTER = 1
    SERVER = 2
    USER = 3
    NAMESPACE = 4
    STATE = 5
    KUBERNETES = 6
    LONGHORN = 7
    MESSAGE = 8


HEADERS = {
    Column.CONTEXT: "Context",
    Column.CLUSTER: "Cluster",
    Column.SERVER: "Server",
    Column.USER: "User",
    Column.NAMESPACE: "Namespace",
    Column.STATE: "State",
    Column.KUBERNETES: "Kubernetes",
    Column.LONGHORN: "Longhorn",
    Column.MESSAGE: "Message",
}


class ClustersTableModel(RowTableModel[ContextStatus]):
    """One row per kubeconfig context, in kubeconfig order."""

    def __init__(self, colours: dict[str, str] | None = None, parent: QObject | None = None) -> None:
        super().__init__([HEADERS[c] for c in Column], parent)
        self._colours = dict(colours or {})
        self.current: str | None = None

    def update_status(self, status: ContextStatus) -> None:
        for row, old in enumerate(self._rows):
            if old.info.name == status.info.name:
                self.replace_row(row, status)
                return

    def set_colours(self, colours: dict[str, str]) -> None:
        self._colours = dict(colours)
        self.rows_changed(column=0)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        status = self._rows[index.row()]
        info, probe = status.info, status.probe
        column = Column(index.column())
        if role in (Qt.ItemDataRole.DisplayRole, SortRole):
            values = {
                Column.CONTEXT: info.name + (" (current)" if info.name == self.current else ""),
                Column.CLUSTER: info.cluster,
                Column.SERVER: info.server + ("  ⚠ TLS not verified" if info.insecure else ""),
                Column.USER: info.user,
                Column.NAMESPACE: info.namespace,
                Column.STATE: state_text(status),
                Column.KUBERNETES: probe.kubernetes_version or "",
                Column.LONGHORN: probe.longhorn_version or "",
                Column.MESSAGE: probe.message,
            }
            if role == SortRole and column is Column.CONTEXT:
                return info.name
            return values[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            if column is Column.SERVER and info.insecure:
                return "insecure-skip-tls-verify is set: lhdesk cannot tell this server from an impostor."
            if column in (Column.MESSAGE, Column.STATE):
                return probe.message
            if column is Column.CONTEXT and info.source_file is not None:
                return f"From {info.source_file}"
        if role == Qt.ItemDataRole.ForegroundRole and column is Column.STATE and not status.checking:
            return QBrush(QColor(STATE_COLOURS[probe.state]))
        if role == Qt.ItemDataRole.DecorationRole and column is Column.CONTEXT:
            return chip_icon(self._colours.get(info.name))
        return None


class ContextPicker(QComboBox):
    """The toolbar's context chooser: colour chip, name and state of every context."""

    def __init__(self, session: ClusterSession, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("contextPicker")
        self.setAccessibleName("Kubeconfig context")
        self.setToolTip("The cluster every page shows (kubeconfig context)")
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.setMinimumContentsLength(24)
        self._session = session
        self._settings = settings
        session.contexts_changed.connect(self._rebuild)
        session.status_changed.connect(self._on_status_changed)
        session.current_changed.connect(self._on_current_changed)
        self.activated.connect(self._on_activated)
        self._rebuild(session.statuses())

    def _label(self, status: ContextStatus) -> str:
        return f"{status.info.name} — {state_text(status)}"

    @Slot()
    def refresh(self) -> None:
        self._rebuild(self._session.statuses())

    @Slot(object)
    def _rebuild(self, statuses: tuple[ContextStatus, ...]) -> None:
        colours = self._settings.context_colours
        with QSignalBlocker(self):
            self.clear()
            for status in statuses:
                self.addItem(chip_icon(colours.get(status.info.name)), self._label(status), status.info.name)
            self.setEnabled(bool(statuses))
            if not statuses:
                self.addItem("No cluster configured", None)
            current = self._session.current
            if current is not None:
                self.setCurrentIndex(self.findData(current.info.name))

    @Slot(object)
    def _on_status_changed(self, status: ContextStatus) -> None:
        row = self.findData(status.info.name)
        if row >= 0:
            self.setItemText(row, self._label(status))

    @Slot(object)
    def _on_current_changed(self, status: ContextStatus | None) -> None:
        if status is not None:
            with QSignalBlocker(self):
                self.setCurrentIndex(self.findData(status.info.name))

    @Slot(int)
    def _on_activated(self, row: int) -> None:
        name = self.itemData(row)
        if isinstance(name, str):
            self._settings.last_context = name
            self._session.set_current(name)


class ClustersPage(Page):
    """Every kubeconfig context with its honest state; check, switch, colour.

    Signals:
        colours_changed(): the user gave a context another colour (the picker repaints).
    """

    colours_changed = Signal()
    name = "clusters"
    title = "Clusters"

    def __init__(self, session: ClusterSession, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._settings = settings
        self._check_all_when_listed = False
        self.model = ClustersTableModel(settings.context_colours, self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SortRole)
        self.table = QTableView(self)
        self.table.setObjectName("clustersTable")
        self.table.setAccessibleName("Kubeconfig contexts")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(Column.MESSAGE, QHeaderView.ResizeMode.Stretch)
        self.table.activated.connect(self._on_activated)

        self.check_all_action = self.make_action(
            "Check &all", "checkAllContextsAction", "Probe every context in parallel", session.check_all
        )
        self.reload_action = self.make_action(
            "&Reload kubeconfig", "reloadKubeconfigAction", "Read the kubeconfig files again", session.reload
        )
        self.check_action = self.make_action(
            "&Check", "checkContextAction", "Probe the selected context", self._on_check_selected
        )
        self.use_action = self.make_action(
            "&Use this context",
            "useContextAction",
            "Make the selected context the current one (Enter, or a double click)",
            self._on_use_selected,
        )
        self.colour_action = self.make_action(
            "C&olour…",
            "contextColourAction",
            "Give the selected context a colour, e.g. red for production",
            self._on_colour_selected,
        )
        toolbar = QToolBar(self)
        toolbar.setObjectName("clustersToolBar")
        for action in (
            self.check_all_action,
            self.reload_action,
            self.check_action,
            self.use_action,
            self.colour_action,
        ):
            toolbar.addAction(action)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.table.addActions([self.check_action, self.use_action, self.colour_action])
        self.details = QLabel(self)
        self.details.setObjectName("contextDetails")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice = QLabel(self)
        self.notice.setObjectName("clustersNotice")
        self.notice.setWordWrap(True)
        self.notice.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(toolbar)
        layout.addWidget(self.notice)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)

        session.contexts_changed.connect(self._on_contexts_changed)
        session.status_changed.connect(self.model.update_status)
        session.status_changed.connect(self._maybe_loaded)
        session.current_changed.connect(self._on_current_changed)
        session.load_failed.connect(self._on_load_failed)
        self.table.selectionModel().selectionChanged.connect(self._update_actions)
        session.status_changed.connect(self._update_actions)
        self._update_actions()
        if session.loaded:
            self._on_contexts_changed(session.statuses())

    def refresh(self) -> None:
        self._session.reload()

    def selected(self) -> ContextStatus | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.model.row_at(self.proxy.mapToSource(rows[0]).row())

    @Slot(object)
    def _on_contexts_changed(self, statuses: tuple[ContextStatus, ...]) -> None:
        self.model.reset_rows(statuses)
        if self._check_all_when_listed:
            self._check_all_when_listed = False
            self._session.check_all()
        if not statuses:
            self.notice.setText("No kubeconfig context found. Use --kubeconfig PATH or set KUBECONFIG.")
            self.notice.show()
        problems = self._session.kubeconfig.problems if self._session.kubeconfig else ()
        if statuses and problems:
            self.notice.setText("Kubeconfig problems: " + "; ".join(problems))
            self.notice.show()
        elif statuses:
            self.notice.hide()
        self._update_actions()
        self._maybe_loaded()

    @Slot()
    def _maybe_loaded(self) -> None:
        """Loaded once the contexts are listed and no probe is still running."""
        if self._session.loaded and not any(s.checking for s in self._session.statuses()):
            self.mark_loaded()
        else:
            self._loaded = False

    def before_screenshot(self) -> None:
        """A picture of this page shows every context's state, so probe them all."""
        self._check_all_when_listed = True
        if self._session.loaded:
            self._session.check_all()
            self._maybe_loaded()

    @Slot(str)
    def _on_load_failed(self, message: str) -> None:
        self.notice.setText(f"Could not read the kubeconfig: {message}")
        self.notice.show()

    @Slot(object)
    def _on_current_changed(self, status: ContextStatus | None) -> None:
        self.model.current = status.info.name if status else None
        if status is not None:
            self.model.update_status(status)

    @Slot()
    def _update_actions(self) -> None:
        status = self.selected()
        for action in (self.check_action, self.use_action, self.colour_action):
            action.setEnabled(status is not None)
        status = status or self._session.current
        if status is None:
            self.details.clear()
            return
        where = f" (from {status.info.source_file})" if status.info.source_file else ""
        self.details.setText(
            f"<b>{html.escape(status.info.name)}</b>{html.escape(where)}: "
            f"{html.escape(state_text(status))}. {html.escape(status.probe.message)}"
        )

    @Slot()
    def _on_check_selected(self) -> None:
        status = self.selected()
        if status is not None:
            self._session.check(status.info.name)

    @Slot()
    def _on_use_selected(self) -> None:
        status = self.selected()
        if status is not None:
            self._settings.last_context = status.info.name
            self._session.set_current(status.info.name)

    @Slot(QModelIndex)
    def _on_activated(self, index: QModelIndex) -> None:
        self._on_use_selected()

    @Slot()
    def _on_colour_selected(self) -> None:
        status = self.selected()
        if status is None:
            return
        colours = self._settings.context_colours
        initial = QColor(colours.get(status.info.name, "#1565c0"))
        colour = QColorDialog.getColor(initial, self, f"Colour for {status.info.name}")
        if colour.isValid():
            self.set_colour(status.info.name, colour.name())

    def set_colour(self, context: str, colour: str | None) -> None:
        colours = self._settings.context_colours
        if colour:
            colours[context] = colour
        else:
            colours.pop(context, None)
        self._settings.context_colours = colours
        self.model.set_colours(colours)
        self.colours_changed.emit()
