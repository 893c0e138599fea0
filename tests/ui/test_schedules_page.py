"""The Schedules page driven like a user: create, pause, run now and delete; history, upcoming, alerts.

The scheduler thread is real (:class:`SchedulerHost` over a store in tmp); the cluster is a small
in-memory SystemBackup API at the engine's port, whose backups finish the moment they are created.
The same page against the demo cluster is tested in tests/integration/test_schedules_demo.py.
"""

from __future__ import annotations

import copy
import gc
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QListView,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTableView,
    QToolBar,
    QWidget,
)

from lhdesk.core.clusters import ContextInfo, ContextState, KubeconfigSet, ProbeResult
from lhdesk.core.errors import AlreadyExists, NotFound
from lhdesk.logbuffer import RingBufferHandler
from lhdesk.schedule.freshness import FreshnessRule
from lhdesk.schedule.model import RunRecord, Schedule, utcnow
from lhdesk.schedule.store import Store
from lhdesk.ui.activity import LogBridge
from lhdesk.ui.mainwindow import MainWindow
from lhdesk.ui.notify import Notifier, install_banner
from lhdesk.ui.scheduler import LOCKED, RUNNING, SchedulerConfig, SchedulerHost
from lhdesk.ui.schedules import HistoryColumn, ScheduleColumn, ScheduleEditor, SchedulesPage
from lhdesk.ui.session import ClusterSession
from lhdesk.ui.settings import Settings

CONFIG = SchedulerConfig(
    tick_seconds=0.2, observe_interval=None, freshness_interval=timedelta(hours=1), watch_window=1
)


class InstantApi:
    """SystemBackups that are Ready (or Error, ``fail_next``) as soon as they are created."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.objects: dict[str, dict[str, Any]] = {}
        self.fail_next = 0

    def list(self, plural: str, label_selector: str | None = None) -> tuple[list[dict[str, Any]], str]:
        with self.lock:
            wanted = dict(t.split("=", 1) for t in (label_selector or "").split(",") if "=" in t)
            items = [
                copy.deepcopy(o)
                for o in self.objects.values()
                if all(o["metadata"]["labels"].get(k) == v for k, v in wanted.items())
            ]
            return items, "1"

    def get(self, plural: str, name: str) -> dict[str, Any]:
        with self.lock:
            if name not in self.objects:
                raise NotFound(f"systembackups {name!r} not found", name=name)
            return copy.deepcopy(self.objects[name])

    def create(self, plural: str, body: Mapping[str, Any], dry_run: bool = False) -> dict[str, Any]:
        with self.lock:
            name = body["metadata"]["name"]
            if name in self.objects:
                raise AlreadyExists(f"systembackups {name!r} already exists", name=name)
            now = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
            obj = copy.deepcopy(dict(body))
            obj["metadata"]["creationTimestamp"] = now
            obj["metadata"]["resourceVersion"] = "1"
            if self.fail_next:
                self.fail_next -= 1
                obj["status"] = {
                    "state": "Error",
                    "conditions": [
                        {"type": "Error", "reason": "Upload", "message": "backup target unavailable"}
                    ],
                }
            else:
                obj["status"] = {"state": "Ready", "createdAt": now}
            self.objects[name] = obj
            return copy.deepcopy(obj)

    def delete(self, plural: str, name: str, missing_ok: bool = False) -> dict[str, Any] | None:
        with self.lock:
            return self.objects.pop(name, None)

    def watch(
        self, plural: str, resource_version: str, timeout_seconds: int, label_selector: str | None = None
    ):
        return iter(())


def ctx(name: str) -> ContextInfo:
    return ContextInfo(name, f"{name}-cluster", f"https://{name}.example:6443", "admin", "", Path("/tmp/kc"))


KSET = KubeconfigSet(contexts=(ctx("lab"), ctx("prod")), current="lab", files=())


def probe(kset: KubeconfigSet, name: str) -> ProbeResult:
    return ProbeResult(name, ContextState.CONNECTED, "Longhorn v1.12.1 is ready.", "v1.31.0", "v1.12.1")


JOBS = [
    {
        "metadata": {"name": "backup-daily", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"name": "backup-daily", "task": "backup", "cron": "0 3 * * *", "retain": 7},
    },
    {
        "metadata": {"name": "sysbak", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"name": "sysbak", "task": "system-backup", "cron": "30 4 * * *", "retain": 3},
    },
]


class Built:
    def __init__(
        self,
        window: MainWindow,
        page: SchedulesPage,
        host: SchedulerHost,
        notifier: Notifier,
        session: ClusterSession,
    ) -> None:
        self.window = window
        self.page = page
        self.host = host
        self.notifier = notifier
        self.session = session


def dispose(*objects: QObject) -> None:
    """Delete Qt objects now, on the GUI thread.

    Left to Python, an object caught in a reference cycle is freed by whichever thread runs the
    cyclic GC next (a pool or the scheduler thread), and a QObject destroyed off its thread (the
    session's file watcher) corrupts the event dispatcher.
    """
    for obj in objects:
        if shiboken6.isValid(obj):  # qtbot may have deleted the window already
            obj.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


@pytest.fixture
def api() -> InstantApi:
    return InstantApi()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.in_dir(tmp_path / "data")
    yield s
    s.close()


@pytest.fixture
def build(qtbot, qsettings, task_runner, tmp_path, store, api) -> Iterator[Any]:
    hosts: list[SchedulerHost] = []
    keep: list[Built] = []  # qtbot holds windows weakly; the test may only keep the page

    def make(state: str = RUNNING, jobs: Any = None) -> Built:
        settings = Settings(qsettings)
        session = ClusterSession(task_runner, lambda: KSET, probe)
        host = SchedulerHost(
            tmp_path / "data",
            store,
            lambda context: api,
            config=CONFIG,
            freshness_rules=store.freshness_rules,
        )
        hosts.append(host)
        page = SchedulesPage(
            store,
            host,
            task_runner,
            session,
            recurring_jobs=jobs or (lambda context: JOBS if context == "lab" else []),
        )
        window = MainWindow(settings, task_runner, LogBridge(RingBufferHandler()), [page], session=session)
        qtbot.addWidget(window)
        banner = install_banner(window)
        notifier = Notifier(host, tray=None, banner=banner, parent=window)
        notifier.unseen_changed.connect(partial(window.set_page_badge, page.name))
        window.show()
        session.reload()
        qtbot.waitUntil(lambda: session.current is not None)
        with qtbot.waitSignal(host.status_changed, timeout=5000, check_params_cb=lambda s: s.state == state):
            host.start()
        qtbot.waitUntil(page.is_loaded)
        keep.append(Built(window, page, host, notifier, session))
        return keep[-1]

    yield make
    for host in hosts:
        assert host.stop(10_000)
    # Join the pool before the store fixture closes the database a task may still be reading.
    assert task_runner.shutdown(10_000)
    for built in keep:
        dispose(built.window, built.session, built.host)
    keep.clear()


def toolbar_click(qtbot, page: SchedulesPage, name: str) -> None:
    """Click the toolbar button of the action called ``name``, as a user does."""
    action = page.findChild(QAction, name)
    assert action.isEnabled(), f"{name} is disabled: {action.toolTip()}"
    button = page.findChild(QToolBar, "schedulesToolBar").widgetForAction(action)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def editor_of(qtbot, page: SchedulesPage) -> ScheduleEditor:
    qtbot.waitUntil(lambda: isinstance(page.current_dialog(), ScheduleEditor))
    editor = page.current_dialog()
    assert isinstance(editor, ScheduleEditor)
    return editor


def retype(qtbot, edit: QLineEdit, text: str) -> None:
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(edit, text)


def set_spin(qtbot, spin: QSpinBox, value: int) -> None:
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), str(value))


def activate(qtbot, window: QWidget, focus: QWidget) -> None:
    """Make ``window`` the active one with the focus on ``focus`` (page shortcuts need both);
    offscreen, nothing re-activates the window when a dialog closes."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    focus.setFocus()


def cell(table: QTableView, row: int, column: int) -> str:
    return table.model().index(row, column).data()


def create_schedule(qtbot, page: SchedulesPage, name: str = "Nightly lab", cron: str = "0 2 * * *") -> None:
    toolbar_click(qtbot, page, "newScheduleAction")
    editor = editor_of(qtbot, page)
    retype(qtbot, editor.findChild(QLineEdit, "scheduleNameEdit"), name)
    retype(qtbot, editor.findChild(QLineEdit, "cronEdit"), cron)
    set_spin(qtbot, editor.findChild(QSpinBox, "scheduleRetainSpin"), 3)
    save = editor.findChild(QPushButton, "scheduleSaveButton")
    assert save.isEnabled(), editor.findChild(QLabel, "scheduleSaveReason").text()
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(r.schedule.name == name for r in page.model.rows()), timeout=5000)


def select_row(qtbot, page: SchedulesPage, name: str) -> None:
    table = page.findChild(QTableView, "schedulesTable")
    for row in range(table.model().rowCount()):
        if cell(table, row, ScheduleColumn.NAME) == name:
            rect = table.visualRect(table.model().index(row, ScheduleColumn.NAME))
            qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
            selected = page.selected()
            assert selected is not None
            assert selected.name == name
            return
    raise AssertionError(f"no row {name}")


def test_create_pause_resume_run_now_and_delete_through_the_page(qtbot, build, store, api) -> None:
    built = build()
    page = built.page
    create_schedule(qtbot, page)
    (saved,) = store.schedules()
    assert (saved.name, saved.context, saved.cron, saved.retain) == ("Nightly lab", "lab", "0 2 * * *", 3)
    table = page.findChild(QTableView, "schedulesTable")
    assert cell(table, 0, ScheduleColumn.CONTEXT) == "lab"
    assert cell(table, 0, ScheduleColumn.SCHEDULE) == "At 02:00"
    assert "UTC" in cell(table, 0, ScheduleColumn.NEXT_RUN)
    assert cell(table, 0, ScheduleColumn.LAST_OUTCOME) == "never run"
    assert cell(table, 0, ScheduleColumn.ENABLED) == "enabled"

    select_row(qtbot, page, "Nightly lab")
    assert page.pause_action.text() == "&Pause"
    toolbar_click(qtbot, page, "pauseScheduleAction")
    qtbot.waitUntil(lambda: cell(table, 0, ScheduleColumn.ENABLED) == "paused", timeout=5000)
    assert cell(table, 0, ScheduleColumn.NEXT_RUN) == "paused"
    assert store.get_schedule(saved.id).enabled is False
    assert page.pause_action.text() == "&Resume"
    toolbar_click(qtbot, page, "pauseScheduleAction")
    qtbot.waitUntil(lambda: cell(table, 0, ScheduleColumn.ENABLED) == "enabled", timeout=5000)

    toolbar_click(qtbot, page, "runNowAction")
    qtbot.waitUntil(lambda: cell(table, 0, ScheduleColumn.LAST_OUTCOME).startswith("ready"), timeout=5000)
    history = page.findChild(QTableView, "runHistoryTable")
    assert cell(history, 0, HistoryColumn.OUTCOME) == "ready"
    assert cell(history, 0, HistoryColumn.SCHEDULE) == "Nightly lab"
    assert cell(history, 0, HistoryColumn.BACKUP) in api.objects
    assert "Run now" in cell(history, 0, HistoryColumn.MESSAGE)

    select_row(qtbot, page, "Nightly lab")
    toolbar_click(qtbot, page, "deleteScheduleAction")
    qtbot.waitUntil(lambda: isinstance(page.current_dialog(), QMessageBox))
    box = page.current_dialog()
    assert box.text() == "Delete the schedule “Nightly lab” of context lab?"
    qtbot.mouseClick(box.findChild(QPushButton, "confirmDeleteButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.model.rowCount() == 0, timeout=5000)
    assert store.schedules() == []
    assert len(store.history()) == 1  # the history outlives the schedule
    assert cell(history, 0, HistoryColumn.SCHEDULE).endswith("(removed)")


def test_cancelling_the_delete_keeps_the_schedule(qtbot, build, store) -> None:
    page = build().page
    create_schedule(qtbot, page)
    select_row(qtbot, page, "Nightly lab")
    toolbar_click(qtbot, page, "deleteScheduleAction")
    qtbot.waitUntil(lambda: isinstance(page.current_dialog(), QMessageBox))
    box = page.current_dialog()
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Cancel), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.current_dialog() is None)
    assert len(store.schedules()) == 1


def test_save_is_disabled_with_the_reason_until_the_schedule_is_valid(qtbot, build) -> None:
    page = build().page
    toolbar_click(qtbot, page, "newScheduleAction")
    editor = editor_of(qtbot, page)
    save = editor.findChild(QPushButton, "scheduleSaveButton")
    reason = editor.findChild(QLabel, "scheduleSaveReason")
    name_error = editor.findChild(QLabel, "scheduleNameError")
    assert not save.isEnabled()
    assert reason.text() == "Save is disabled: name must not be empty"
    assert name_error.text() == "must not be empty"
    retype(qtbot, editor.findChild(QLineEdit, "scheduleNameEdit"), "Hourly")
    assert save.isEnabled()
    assert not name_error.isVisible()
    retype(qtbot, editor.findChild(QLineEdit, "cronEdit"), "0 2 30 2 *")
    assert not save.isEnabled()
    assert reason.text().startswith("Save is disabled: schedule ")
    assert editor.findChild(QLabel, "cronError").isVisible()
    retype(qtbot, editor.findChild(QLineEdit, "cronEdit"), "61 * * * *")
    assert "End of range (61) above maximum (59)" in editor.findChild(QLabel, "cronError").text()
    preset = editor.findChild(QComboBox, "cronPresetCombo")
    preset.setCurrentIndex(preset.findData("0 */6 * * *"))
    preset.activated.emit(preset.currentIndex())
    assert editor.findChild(QLineEdit, "cronEdit").text() == "0 */6 * * *"
    assert save.isEnabled()
    assert "Next runs:" in editor.findChild(QLabel, "cronNextRuns").text()
    # Grace only matters for run-once.
    catch_up = editor.findChild(QComboBox, "scheduleCatchUpCombo")
    catch_up.setCurrentIndex(catch_up.findData("skip"))
    assert not editor.findChild(QSpinBox, "scheduleGraceSpin").isEnabled()
    editor.reject()


def test_the_keyboard_and_the_context_menu_reach_the_schedule_actions(qtbot, build, store) -> None:
    built = build()
    page = built.page
    table = page.findChild(QTableView, "schedulesTable")
    activate(qtbot, built.window, table)
    qtbot.keyClick(table, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(editor_of(qtbot, page), Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: page.current_dialog() is None)
    create_schedule(qtbot, page)
    select_row(qtbot, page, "Nightly lab")
    # Enter opens the selected schedule, as a double click does.
    qtbot.keyClick(table, Qt.Key.Key_Return)
    editor = editor_of(qtbot, page)
    assert editor.findChild(QLineEdit, "scheduleNameEdit").text() == "Nightly lab"
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: page.current_dialog() is None)
    # Delete asks first.
    activate(qtbot, built.window, table)
    qtbot.keyClick(table, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: isinstance(page.current_dialog(), QMessageBox))
    box = page.current_dialog()
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Cancel), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.current_dialog() is None)
    assert len(store.schedules()) == 1
    # A right click on a row offers what applies to a schedule.
    assert table.contextMenuPolicy() == Qt.ContextMenuPolicy.ActionsContextMenu
    assert [a.objectName() for a in table.actions()] == [
        "editScheduleAction",
        "runNowAction",
        "pauseScheduleAction",
        "deleteScheduleAction",
    ]


def test_edit_keeps_the_id_and_changes_the_schedule(qtbot, build, store) -> None:
    page = build().page
    create_schedule(qtbot, page)
    (before,) = store.schedules()
    select_row(qtbot, page, "Nightly lab")
    toolbar_click(qtbot, page, "editScheduleAction")
    editor = editor_of(qtbot, page)
    assert editor.findChild(QLineEdit, "scheduleNameEdit").text() == "Nightly lab"
    retype(qtbot, editor.findChild(QLineEdit, "cronEdit"), "@every 6h")
    context = editor.findChild(QComboBox, "scheduleContextCombo")
    context.setCurrentIndex(context.findData("prod"))
    qtbot.mouseClick(editor.findChild(QPushButton, "scheduleSaveButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: store.schedules()[0].cron == "@every 6h", timeout=5000)
    (after,) = store.schedules()
    assert after.id == before.id
    assert after.context == "prod"
    table = page.findChild(QTableView, "schedulesTable")
    qtbot.waitUntil(lambda: cell(table, 0, ScheduleColumn.SCHEDULE) == "Every 6 hours", timeout=5000)


def test_a_failed_run_raises_a_notification_and_a_badge(qtbot, build, api) -> None:
    built = build()
    page = built.page
    create_schedule(qtbot, page)
    api.fail_next = 1
    select_row(qtbot, page, "Nightly lab")
    with qtbot.waitSignal(built.notifier.alert_raised, timeout=5000) as raised:
        toolbar_click(qtbot, page, "runNowAction")
    alert = raised.args[0]
    assert alert.title == "Scheduled system backup failed (lab)"
    assert "backup target unavailable" in alert.message
    banner = built.window.findChild(QLabel, "notificationTitle").parent()
    assert banner.objectName() == "notificationBanner"
    assert banner.isVisible()
    assert "backup target unavailable" in built.window.findChild(QLabel, "notificationText").text()
    nav = built.window.navigation
    assert nav.item(0).text() == "Schedules (1)"
    table = page.findChild(QTableView, "schedulesTable")
    qtbot.waitUntil(lambda: cell(table, 0, ScheduleColumn.LAST_OUTCOME).startswith("error"), timeout=5000)
    # Looking at it clears the badge and the banner.
    qtbot.mouseClick(built.window.findChild(QPushButton, "notificationShowButton"), Qt.MouseButton.LeftButton)
    assert nav.item(0).text() == "Schedules"
    assert not banner.isVisible()


def test_a_breached_freshness_rule_raises_a_notification(qtbot, build, store) -> None:
    store.set_freshness_rule(FreshnessRule("prod", timedelta(hours=26)))
    built = build()
    qtbot.waitUntil(lambda: bool(built.notifier.alerts), timeout=5000)
    (alert,) = built.notifier.alerts
    assert alert.title == "System backups of prod are stale"
    assert "no Ready system backup at all" in alert.message
    freshness = built.page.findChild(QTableView, "freshnessTable")
    qtbot.waitUntil(lambda: cell(freshness, 0, 2) == "STALE", timeout=5000)
    assert built.window.navigation.item(0).text() == "Schedules (1)"
    # A second check of the same stale context does not nag again.
    with qtbot.waitSignal(built.host.freshness_checked, timeout=5000):
        built.host.check_freshness()
    assert len(built.notifier.alerts) == 1


def test_freshness_rule_set_and_removed_through_the_page(qtbot, build, store) -> None:
    page = build().page
    toolbar_click(qtbot, page, "setFreshnessRuleAction")
    qtbot.waitUntil(lambda: page.current_dialog() is not None)
    dialog = page.current_dialog()
    combo = dialog.findChild(QComboBox, "freshnessContextCombo")
    assert combo.currentData() == "lab"
    set_spin(qtbot, dialog.findChild(QSpinBox, "freshnessHoursSpin"), 12)
    qtbot.mouseClick(dialog.findChild(QPushButton, "freshnessSaveButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.freshness_model.rowCount() == 1, timeout=5000)
    assert store.freshness_rules() == [FreshnessRule("lab", timedelta(hours=12))]
    table = page.findChild(QTableView, "freshnessTable")
    assert cell(table, 0, 1) == "12 hours"
    table.selectRow(0)
    assert page.remove_rule_action.isEnabled()
    page.remove_rule_action.trigger()
    qtbot.waitUntil(lambda: page.freshness_model.rowCount() == 0, timeout=5000)
    assert store.freshness_rules() == []


def test_history_filters_by_schedule_context_and_outcome(qtbot, build, store) -> None:
    slot = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    for name, context in (("alpha", "lab"), ("beta", "prod")):
        store.add_schedule(
            Schedule(id=f"{name}-aaaaaa", name=name, context=context, cron="0 2 * * *", retain=2)
        )

    store.record_run(RunRecord("alpha-aaaaaa", slot, slot, slot, "ready", "lhdesk-a-1", "ok", context="lab"))
    store.record_run(
        RunRecord(
            "beta-aaaaaa", slot, slot, slot, "error", "lhdesk-b-1", "boom", ("lhdesk-b-0",), context="prod"
        )
    )
    store.upsert_observed(
        RunRecord(
            "sysbak", slot, slot, slot, "ready", "sysbak-abc", "ok", context="lab", kind="recurring-job"
        )
    )
    page = build().page
    history = page.findChild(QTableView, "runHistoryTable")
    qtbot.waitUntil(lambda: history.model().rowCount() == 3)
    outcome = page.findChild(QComboBox, "historyOutcomeFilter")
    outcome.setCurrentIndex(outcome.findData("error"))
    assert history.model().rowCount() == 1
    assert cell(history, 0, HistoryColumn.PRUNED) == "lhdesk-b-0"
    assert cell(history, 0, HistoryColumn.MESSAGE) == "boom"
    rect = history.visualRect(history.model().index(0, HistoryColumn.MESSAGE))
    qtbot.mouseClick(history.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    details = page.findChild(QLabel, "runDetails").text()
    assert "boom" in details
    assert "Retention deleted: lhdesk-b-0" in details
    outcome.setCurrentIndex(0)
    context = page.findChild(QComboBox, "historyContextFilter")
    context.setCurrentIndex(context.findData("lab"))
    assert history.model().rowCount() == 2
    schedule = page.findChild(QComboBox, "historyScheduleFilter")
    schedule.setCurrentIndex(schedule.findData("job:sysbak"))
    assert history.model().rowCount() == 1
    assert cell(history, 0, HistoryColumn.SCHEDULE) == "RecurringJob sysbak"


def test_upcoming_lists_schedules_and_the_clusters_recurring_jobs(qtbot, build, store) -> None:
    store.add_schedule(Schedule(id="hourly-aaaaaa", name="hourly", context="lab", cron="0 * * * *", retain=2))
    store.add_schedule(
        Schedule(id="off-aaaaaa", name="paused one", context="lab", cron="0 * * * *", retain=2, enabled=False)
    )
    page = build().page
    view = page.findChild(QListView, "upcomingList")
    model = view.model()
    qtbot.waitUntil(lambda: any(r.source == "cluster" for r in page.upcoming_model.runs()), timeout=5000)
    runs = page.upcoming_model.runs()
    assert [r.when for r in runs] == sorted(r.when for r in runs)
    labels = {r.label for r in runs}
    assert {"hourly", "backup-daily", "sysbak"} <= labels
    assert "paused one" not in labels
    text = [model.index(i, 0).data() for i in range(model.rowCount())]
    assert any("RecurringJob · system-backup in lab" in t for t in text)
    assert any("workstation schedule · system backup of lab" in t for t in text)
    assert "RecurringJobs of lab" in page.findChild(QLabel, "upcomingNotice").text()


def test_a_second_window_shows_who_runs_the_schedules(qtbot, build, tmp_path, store, api) -> None:
    from lhdesk.schedule.lock import acquire_lock

    lock = acquire_lock(tmp_path / "data")
    assert lock is not None
    try:
        built = build(LOCKED)
        page = built.page
        label = page.findChild(QLabel, "schedulerStatusLabel")
        assert "schedules are run by another lhdesk process (pid " in label.text()
        create_schedule(qtbot, page)
        select_row(qtbot, page, "Nightly lab")
        assert not page.run_now_action.isEnabled()
        assert "another lhdesk process" in page.run_now_action.toolTip()
        # Pause still works: it goes to the store, which the other process reads at every tick.
        toolbar_click(qtbot, page, "pauseScheduleAction")
        qtbot.waitUntil(lambda: not store.schedules()[0].enabled, timeout=5000)
        assert api.objects == {}
    finally:
        lock.release()
