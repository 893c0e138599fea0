"""The main window: sidebar of pages, toolbar, status bar and the Activity dock."""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QProgressBar,
    QStackedWidget,
    QToolBar,
    QWidget,
)

from lhdesk.ui.about import AboutDialog
from lhdesk.ui.activity import ActivityPanel, LogBridge
from lhdesk.ui.clusters import ClustersPage, ContextPicker, state_text
from lhdesk.ui.errors import ErrorDialog, ErrorReport
from lhdesk.ui.pages import Page
from lhdesk.ui.session import ClusterSession, ContextStatus
from lhdesk.ui.settings import Settings
from lhdesk.ui.tasks import Outcome, TaskRunner

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    """Hosts the pages the composition root gives it; knows nothing of clusters or HTTP."""

    def __init__(
        self,
        settings: Settings,
        tasks: TaskRunner,
        log_bridge: LogBridge,
        pages: Sequence[Page],
        session: ClusterSession | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("lhdesk")
        self.settings = settings
        self.tasks = tasks
        self.pages: dict[str, Page] = {}

        self.navigation = QListWidget(self)
        self.navigation.setObjectName("navigation")
        self.navigation.setAccessibleName("Pages")
        self.navigation.setFixedWidth(160)
        self.navigation.setIconSize(QSize(20, 20))
        self.stack = QStackedWidget(self)
        self.stack.setObjectName("pageStack")
        for page in pages:
            self.pages[page.name] = page
            self.stack.addWidget(page)
            item = QListWidgetItem(page.title, self.navigation)
            item.setData(Qt.ItemDataRole.UserRole, page.name)
        self.navigation.currentRowChanged.connect(self._on_navigation_changed)

        central = QWidget(self)
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.navigation)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.activity = ActivityPanel(log_bridge, settings.activity_level, self)
        self.activity.level_changed.connect(self._on_activity_level_changed)
        self.activity_dock = QDockWidget("Activity", self)
        self.activity_dock.setObjectName("activityDock")
        self.activity_dock.setWidget(self.activity)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.activity_dock)

        self._build_actions()
        self._build_status_bar()
        self.context_picker: ContextPicker | None = None
        if session is not None:
            self.context_picker = ContextPicker(session, settings, self)
            self.toolbar.insertWidget(self.refresh_action, self.context_picker)
            self.toolbar.insertSeparator(self.refresh_action)
            session.current_changed.connect(self._on_current_context_changed)
            clusters = self.pages.get("clusters")
            if isinstance(clusters, ClustersPage):
                clusters.colours_changed.connect(self.context_picker.refresh)
                clusters.colours_changed.connect(lambda: self._on_current_context_changed(session.current))
        tasks.busy_changed.connect(self._on_busy_changed)
        tasks.task_failed.connect(self._on_task_failed)

        self.resize(1200, 780)
        self.resizeDocks([self.activity_dock], [170], Qt.Orientation.Vertical)
        self.restoreGeometry(settings.window_geometry)
        self.restoreState(settings.window_state)
        self.show_page(settings.last_page or (pages[0].name if pages else ""))

    def _build_actions(self) -> None:
        self.refresh_action = QAction("&Refresh", self)
        self.refresh_action.setObjectName("refreshAction")
        self.refresh_action.setShortcut(QKeySequence.StandardKey.Refresh)
        self.refresh_action.setToolTip("Reload the data of the current page (F5)")
        self.refresh_action.triggered.connect(self._on_refresh)

        self.about_action = QAction("&About lhdesk", self)
        self.about_action.setObjectName("aboutAction")
        self.about_action.triggered.connect(self.show_about)

        self.quit_action = QAction("&Quit", self)
        self.quit_action.setObjectName("quitAction")
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.triggered.connect(self.close)

        self.activity_action = self.activity_dock.toggleViewAction()
        self.activity_action.setObjectName("activityAction")
        self.activity_action.setText("&Activity")
        self.activity_action.setShortcut(QKeySequence("Ctrl+L"))

        self.toolbar = QToolBar("Main", self)
        self.toolbar.setObjectName("mainToolBar")
        self.toolbar.setMovable(False)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.toolbar.addAction(self.refresh_action)
        self.toolbar.addAction(self.activity_action)
        self.addToolBar(self.toolbar)

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self.quit_action)
        view_menu = menu.addMenu("&View")
        view_menu.addAction(self.refresh_action)
        view_menu.addAction(self.activity_action)
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.about_action)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.context_label = QLabel("No cluster configured", self)
        self.context_label.setObjectName("contextStatusLabel")
        self.busy_bar = QProgressBar(self)
        self.busy_bar.setObjectName("busyIndicator")
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setMaximumWidth(90)
        self.busy_bar.setVisible(False)
        self.activity_label = QLabel("Idle", self)
        self.activity_label.setObjectName("activityStatusLabel")
        bar.addWidget(self.context_label, 1)
        bar.addPermanentWidget(self.busy_bar)
        bar.addPermanentWidget(self.activity_label)

    # -- pages -------------------------------------------------------------------------------

    def current_page(self) -> Page | None:
        widget = self.stack.currentWidget()
        return widget if isinstance(widget, Page) else None

    def show_page(self, name: str) -> Page | None:
        names = list(self.pages)
        if name not in self.pages:
            if not names:
                return None
            name = names[0]
        self.navigation.setCurrentRow(names.index(name))
        return self.pages[name]

    def set_page_badge(self, name: str, count: int) -> None:
        """Show a count of things to look at on a page's sidebar entry: "Schedules (2)"."""
        for row in range(self.navigation.count()):
            item = self.navigation.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == name:
                title = self.pages[name].title
                item.setText(f"{title} ({count})" if count else title)
                item.setToolTip(f"{count} alert{'s' if count != 1 else ''} not looked at" if count else "")
                return

    @Slot(int)
    def _on_navigation_changed(self, row: int) -> None:
        if row < 0:
            return
        self.stack.setCurrentIndex(row)
        page = self.current_page()
        if page is not None:
            self.settings.last_page = page.name

    @Slot()
    def _on_refresh(self) -> None:
        page = self.current_page()
        if page is not None:
            page.refresh()

    @Slot(object)
    def _on_current_context_changed(self, status: ContextStatus | None) -> None:
        if status is None:
            self.context_label.setText("No cluster configured")
            self.setWindowTitle("lhdesk")
            return
        probe = status.probe
        parts = [f"Context: {status.info.name}", state_text(status)]
        if probe.longhorn_version:
            parts.append(f"Longhorn {probe.longhorn_version}")
        colour = self.settings.context_colours.get(status.info.name)
        chip = f'<span style="color:{colour}">■</span> ' if colour else ""
        self.context_label.setText(chip + html.escape(" · ".join(parts)))
        self.context_label.setToolTip(probe.message)
        self.setWindowTitle(f"{status.info.name} — lhdesk")

    # -- activity and errors ------------------------------------------------------------------

    @Slot(object)
    def _on_busy_changed(self, running: list[str]) -> None:
        self.busy_bar.setVisible(bool(running))
        if not running:
            self.activity_label.setText("Idle")
        elif len(running) == 1:
            self.activity_label.setText(running[0])
        else:
            self.activity_label.setText(f"{running[0]} (+{len(running) - 1} more)")

    @Slot(object)
    def _on_task_failed(self, outcome: Outcome) -> None:
        error = outcome.error
        ErrorDialog(ErrorReport("A background task failed", str(error), outcome.details), self).show()

    @Slot(str)
    def _on_activity_level_changed(self, level: str) -> None:
        self.settings.activity_level = level

    @Slot()
    def show_about(self) -> None:
        dialog = AboutDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.window_geometry = self.saveGeometry()
        self.settings.window_state = self.saveState()
        self.settings.sync()
        super().closeEvent(event)
