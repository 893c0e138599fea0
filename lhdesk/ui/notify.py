"""Telling the admin when protection fails: desktop notifications, the in-app banner, the badge, the tray.

:class:`Notifier` turns scheduler events into :class:`Alert`\\ s: a failed workstation run, a failed
run of a Longhorn ``system-backup`` RecurringJob observed in a cluster, or a freshness rule that
became breached. Each alert is shown once, as a desktop notification through the tray icon when
the desktop has a system tray, else in the :class:`NotificationBanner` at the top of the main
window; unseen alerts are counted on the Schedules entry of the sidebar ("Schedules (2)") until the
user looks at that page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QPushButton,
    QSystemTrayIcon,
    QVBoxLayout,
    QWidget,
)

from lhdesk.schedule.engine import RunFinished
from lhdesk.schedule.model import KIND_RECURRING_JOB
from lhdesk.ui.scheduler import FreshnessChecked, HostStatus, SchedulerHost

log = logging.getLogger(__name__)

#: An observed in-cluster failure older than this is history, not news (first start, long absence).
OBSERVED_NEWS_WINDOW = timedelta(hours=24)
MESSAGE_TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class Alert:
    """Something the admin must know. ``key`` identifies it, so it is raised once."""

    key: str
    title: str
    message: str


def alert_for_run(event: RunFinished, now: datetime) -> Alert | None:
    """The alert a finished run deserves, or None."""
    run = event.run
    if not run.failed:
        return None
    if run.kind == KIND_RECURRING_JOB:
        if now - run.slot > OBSERVED_NEWS_WINDOW:
            return None
        return Alert(
            f"observed:{run.context}:{run.backup}",
            f"System backup failed in {run.context}",
            f"RecurringJob {run.schedule_id}: {run.message}",
        )
    return Alert(
        f"run:{run.schedule_id}:{run.slot.isoformat()}",
        f"Scheduled system backup failed ({run.context})",
        f"Schedule {run.schedule_id}: {run.message}",
    )


def app_icon(size: int = 32, alert: bool = False) -> QIcon:
    """lhdesk's tray icon, drawn (no resource file): a blue disk, with a red dot when alerts wait."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor("#1565c0"))
    painter.setPen(QColor("#0d47a1"))
    painter.drawEllipse(1, 1, size - 2, size - 2)
    painter.setPen(QColor("#ffffff"))
    font = painter.font()
    font.setBold(True)
    font.setPixelSize(int(size * 0.55))
    painter.setFont(font)
    painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, "L")
    if alert:
        dot = size // 3
        painter.setBrush(QColor("#c62828"))
        painter.setPen(QColor("#ffffff"))
        painter.drawEllipse(size - dot - 1, 1, dot, dot)
    painter.end()
    return QIcon(pixmap)


class NotificationBanner(QFrame):
    """The in-app notice at the top of the main window, for desktops without a system tray.

    Signals:
        show_requested(): the user wants to see the details (the Schedules page).
        dismissed(): the user closed the banner.
    """

    show_requested = Signal()
    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notificationBanner")
        self.setAccessibleName("Notification")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#notificationBanner { background: #fdecea; border: 1px solid #c62828; border-radius: 4px; }"
        )
        self.title_label = QLabel(self)
        self.title_label.setObjectName("notificationTitle")
        font = self.title_label.font()
        font.setBold(True)
        self.title_label.setFont(font)
        self.text_label = QLabel(self)
        self.text_label.setObjectName("notificationText")
        self.text_label.setWordWrap(True)
        self.text_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.show_button = QPushButton("Show", self)
        self.show_button.setObjectName("notificationShowButton")
        self.dismiss_button = QPushButton("Dismiss", self)
        self.dismiss_button.setObjectName("notificationDismissButton")
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.title_label)
        text.addWidget(self.text_label)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addLayout(text, 1)
        layout.addWidget(self.show_button)
        layout.addWidget(self.dismiss_button)
        self.show_button.clicked.connect(self._on_show)
        self.dismiss_button.clicked.connect(self._on_dismiss)
        self._count = 0
        self.hide()

    def show_alert(self, alert: Alert) -> None:
        self._count += 1
        more = f" (+{self._count - 1} earlier)" if self._count > 1 else ""
        self.title_label.setText(alert.title + more)
        self.text_label.setText(alert.message)
        self.show()

    def clear(self) -> None:
        self._count = 0
        self.hide()

    @Slot()
    def _on_show(self) -> None:
        self.show_requested.emit()
        self.clear()

    @Slot()
    def _on_dismiss(self) -> None:
        self.clear()
        self.dismissed.emit()


def install_banner(window: QMainWindow) -> NotificationBanner:
    """Put a banner above the window's central widget (the sidebar and pages)."""
    central = window.takeCentralWidget()
    wrapper = QWidget(window)
    wrapper.setObjectName("centralWithBanner")
    layout = QVBoxLayout(wrapper)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    banner = NotificationBanner(wrapper)
    holder = QWidget(wrapper)
    holder_layout = QVBoxLayout(holder)
    holder_layout.setContentsMargins(8, 6, 8, 0)
    holder_layout.addWidget(banner)
    layout.addWidget(holder)
    if central is not None:
        layout.addWidget(central, 1)
    window.setCentralWidget(wrapper)
    return banner


class Notifier(QObject):
    """Raises an alert for each failed run and each freshness rule that became breached.

    Alerts go to ``tray`` (a desktop notification) when it is given and visible, else to
    ``banner``. ``unseen`` counts them until :meth:`acknowledge`.

    Signals:
        alert_raised(Alert): an alert was shown.
        unseen_changed(int): the number of alerts not looked at yet.
    """

    alert_raised = Signal(object)
    unseen_changed = Signal(int)

    def __init__(
        self,
        host: SchedulerHost,
        *,
        tray: QSystemTrayIcon | None = None,
        banner: NotificationBanner | None = None,
        now: Callable[[], datetime] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._tray = tray
        self._banner = banner
        self._now = now or (lambda: datetime.now(UTC))
        self._seen_keys: set[str] = set()
        self._breached: set[str] = set()
        self._unseen = 0
        self.alerts: list[Alert] = []
        host.run_finished.connect(self._on_run_finished)
        host.freshness_checked.connect(self._on_freshness_checked)
        if banner is not None:
            banner.show_requested.connect(self.acknowledge)
            banner.dismissed.connect(self.acknowledge)

    @property
    def unseen(self) -> int:
        return self._unseen

    @Slot()
    def acknowledge(self) -> None:
        """The user has looked: clear the count (and the banner)."""
        if self._banner is not None:
            self._banner.clear()
        if self._unseen:
            self._unseen = 0
            self.unseen_changed.emit(0)

    def raise_alert(self, alert: Alert) -> None:
        if alert.key in self._seen_keys:
            return
        self._seen_keys.add(alert.key)
        self.alerts.append(alert)
        log.warning("%s: %s", alert.title, alert.message)
        if self._tray is not None and self._tray.isVisible():
            self._tray.showMessage(
                alert.title, alert.message, QSystemTrayIcon.MessageIcon.Warning, MESSAGE_TIMEOUT_MS
            )
        elif self._banner is not None:
            self._banner.show_alert(alert)
        self._unseen += 1
        self.unseen_changed.emit(self._unseen)
        self.alert_raised.emit(alert)

    @Slot(object)
    def _on_run_finished(self, event: RunFinished) -> None:
        alert = alert_for_run(event, self._now())
        if alert is not None:
            self.raise_alert(alert)

    @Slot(object)
    def _on_freshness_checked(self, report: FreshnessChecked) -> None:
        """Alert when a context's rule becomes breached (once, until it is fresh again)."""
        for status in report.statuses:
            if status.error:
                continue
            if not status.breached:
                self._breached.discard(status.context)
                continue
            if status.context in self._breached:
                continue
            self._breached.add(status.context)
            self.raise_alert(
                Alert(
                    f"fresh:{status.context}:{status.checked.isoformat()}",
                    f"System backups of {status.context} are stale",
                    status.message,
                )
            )


class SchedulerTray(QObject):
    """The tray icon: its menu shows the scheduler's status and opens the window.

    Signals:
        open_requested(str): open the window on this page ("" = as it was).
        quit_requested(): the user chose Quit in the tray menu.
    """

    open_requested = Signal(str)
    quit_requested = Signal()

    def __init__(self, host: SchedulerHost, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.icon = QSystemTrayIcon(app_icon(), self)
        self.icon.setObjectName("schedulerTrayIcon")
        self.icon.setToolTip("lhdesk")
        self.menu = QMenu()
        self.menu.setObjectName("trayMenu")
        self.status_action = QAction("Scheduler: starting", self.menu)
        self.status_action.setObjectName("trayStatusAction")
        self.status_action.setEnabled(False)
        self.alerts_action = QAction("No alerts", self.menu)
        self.alerts_action.setObjectName("trayAlertsAction")
        self.alerts_action.setEnabled(False)
        self.open_action = QAction("Open lhdesk", self.menu)
        self.open_action.setObjectName("trayOpenAction")
        self.schedules_action = QAction("Schedules…", self.menu)
        self.schedules_action.setObjectName("trayShowSchedulesAction")
        self.quit_action = QAction("Quit lhdesk", self.menu)
        self.quit_action.setObjectName("trayQuitAction")
        self.menu.addAction(self.status_action)
        self.menu.addAction(self.alerts_action)
        self.menu.addSeparator()
        self.menu.addAction(self.open_action)
        self.menu.addAction(self.schedules_action)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        self.icon.setContextMenu(self.menu)
        self.open_action.triggered.connect(self._on_open)
        self.schedules_action.triggered.connect(self._on_schedules)
        self.quit_action.triggered.connect(self.quit_requested)
        self.icon.activated.connect(self._on_activated)
        self.icon.messageClicked.connect(self._on_schedules)
        host.status_changed.connect(self._on_status_changed)
        self._on_status_changed(host.status)

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def close(self) -> None:
        self.icon.hide()
        self.menu.deleteLater()

    @Slot(object)
    def _on_status_changed(self, status: HostStatus) -> None:
        self.status_action.setText(f"Scheduler: {status.message}")
        self.icon.setToolTip(f"lhdesk — {status.message}")

    @Slot(int)
    def set_unseen(self, count: int) -> None:
        plural = "s" if count != 1 else ""
        self.alerts_action.setText(f"{count} alert{plural} to look at" if count else "No alerts")
        self.icon.setIcon(app_icon(alert=bool(count)))

    @Slot()
    def _on_open(self) -> None:
        self.open_requested.emit("")

    @Slot()
    def _on_schedules(self) -> None:
        self.open_requested.emit("schedules")

    @Slot(QSystemTrayIcon.ActivationReason)
    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.open_requested.emit("")
