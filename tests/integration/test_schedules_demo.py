"""The Schedules page and its scheduler thread against the demo cluster, over HTTPS, like a user.

One demo cluster (built-in API server, no seed, speed 4: a SystemBackup is Ready about 1.5 s after
it is created) serves the module; each test has its own data folder, store and schedules.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton, QSpinBox, QTableView, QToolBar

from lhdesk.demo.cluster import ADMIN_CONTEXT, DemoCluster
from lhdesk.kube.kubeconfig import load_contexts
from lhdesk.kube.probe import probe
from lhdesk.logbuffer import RingBufferHandler
from lhdesk.schedule.contexts import KubeconfigApiFactory
from lhdesk.schedule.naming import schedule_selector
from lhdesk.schedule.store import Store
from lhdesk.ui.activity import LogBridge
from lhdesk.ui.mainwindow import MainWindow
from lhdesk.ui.notify import Notifier, install_banner
from lhdesk.ui.scheduler import RUNNING, SchedulerConfig, SchedulerHost
from lhdesk.ui.schedules import ScheduleColumn, ScheduleEditor, SchedulesPage
from lhdesk.ui.session import ClusterSession
from lhdesk.ui.settings import Settings

pytestmark = pytest.mark.integration

CONFIG = SchedulerConfig(tick_seconds=0.5, observe_interval=None)


@pytest.fixture(scope="module")
def demo(demo_cluster_factory: Callable[..., DemoCluster]) -> DemoCluster:
    """An empty cluster (no seed, speed 4), on each API-server backend."""
    return demo_cluster_factory(seed="none", speed=4)


@pytest.fixture
def factory(demo: DemoCluster) -> Iterator[KubeconfigApiFactory]:
    made = KubeconfigApiFactory(demo.kubeconfig_path)
    yield made
    made.close()


class Stack:
    """The pieces app.py puts together, over one data folder."""

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

    def dispose(self) -> None:
        """Delete the Qt objects now, on the GUI thread (not whenever a cyclic GC in another thread
        frees them: a QObject destroyed off its thread corrupts the event dispatcher)."""
        for obj in (self.window, self.session, self.host):
            if shiboken6.isValid(obj):  # qtbot may have deleted the window already
                obj.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        gc.collect()


@pytest.fixture
def stack(qtbot, qsettings, task_runner, tmp_path, demo, factory) -> Iterator[Any]:
    made: list[Stack] = []
    stores: list[Store] = []

    def build(data_dir: Path | None = None) -> Stack:
        folder = data_dir or tmp_path / "data"
        store = Store.in_dir(folder)
        stores.append(store)
        session = ClusterSession(
            task_runner, lambda: load_contexts(demo.kubeconfig_path), lambda k, n: probe(k, n, timeout=5.0)
        )
        host = SchedulerHost(folder, store, factory, config=CONFIG, freshness_rules=store.freshness_rules)
        page = SchedulesPage(
            store, host, task_runner, session, recurring_jobs=lambda c: factory(c).list("recurringjobs")[0]
        )
        window = MainWindow(
            Settings(qsettings), task_runner, LogBridge(RingBufferHandler()), [page], session=session
        )
        qtbot.addWidget(window)
        notifier = Notifier(host, banner=install_banner(window), parent=window)
        notifier.unseen_changed.connect(partial(window.set_page_badge, page.name))
        window.show()
        session.reload()
        qtbot.waitUntil(lambda: session.current is not None, timeout=10_000)
        with qtbot.waitSignal(
            host.status_changed, timeout=5000, check_params_cb=lambda s: s.state == RUNNING
        ):
            host.start()
        qtbot.waitUntil(page.is_loaded, timeout=10_000)
        made.append(Stack(window, page, host, notifier, session))
        return made[-1]

    yield build
    for built in made:
        assert built.host.stop(15_000)
    # Join the pool before closing the databases a task may still be reading.
    assert task_runner.shutdown(10_000)
    for built in made:
        built.dispose()
    made.clear()
    for store in stores:
        store.close()


def click_action(qtbot, page: SchedulesPage, name: str) -> None:
    action = page.findChild(QAction, name)
    assert action.isEnabled(), action.toolTip()
    qtbot.mouseClick(
        page.findChild(QToolBar, "schedulesToolBar").widgetForAction(action), Qt.MouseButton.LeftButton
    )


def retype(qtbot, edit: QLineEdit, text: str) -> None:
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(edit, text)


def create(qtbot, page: SchedulesPage, name: str, cron: str, retain: int) -> str:
    click_action(qtbot, page, "newScheduleAction")
    qtbot.waitUntil(lambda: isinstance(page.current_dialog(), ScheduleEditor))
    editor = page.current_dialog()
    retype(qtbot, editor.findChild(QLineEdit, "scheduleNameEdit"), name)
    retype(qtbot, editor.findChild(QLineEdit, "cronEdit"), cron)
    spin = editor.findChild(QSpinBox, "scheduleRetainSpin")
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), str(retain))
    save = editor.findChild(QPushButton, "scheduleSaveButton")
    assert save.isEnabled(), editor.findChild(QLabel, "scheduleSaveReason").text()
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(r.schedule.name == name for r in page.model.rows()), timeout=5000)
    (row,) = [r for r in page.model.rows() if r.schedule.name == name]
    assert row.schedule.context == ADMIN_CONTEXT
    return row.schedule.id


def select(qtbot, page: SchedulesPage, schedule_id: str) -> None:
    table = page.findChild(QTableView, "schedulesTable")
    row = page.proxy.mapFromSource(page.model.index(page.model.find(schedule_id), 0)).row()
    rect = table.visualRect(table.model().index(row, ScheduleColumn.NAME))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def live(factory: KubeconfigApiFactory, schedule_id: str) -> list[str]:
    items, _ = factory(ADMIN_CONTEXT).list("systembackups", label_selector=schedule_selector(schedule_id))
    return sorted(i["metadata"]["name"] for i in items if not i["metadata"].get("deletionTimestamp"))


def test_every_2s_with_retain_2_runs_repeatedly_and_keeps_two(qtbot, stack, factory) -> None:
    built = stack()
    page = built.page
    schedule_id = create(qtbot, page, "every two seconds", "@every 2s", 2)

    def ready() -> list[Any]:
        mine = [r for r in page.history_model.rows() if r.schedule_id == schedule_id]
        return [r for r in mine if r.outcome == "ready"]

    qtbot.waitUntil(lambda: len(ready()) >= 4, timeout=60_000)
    # Pause so the count settles, then check what retention left.
    select(qtbot, page, schedule_id)
    click_action(qtbot, page, "pauseScheduleAction")
    qtbot.waitUntil(lambda: not page.model.rows()[0].schedule.enabled, timeout=10_000)
    qtbot.waitUntil(lambda: len(live(factory, schedule_id)) == 2, timeout=30_000)
    records = page.store.history(schedule_id=schedule_id)
    assert all(r.outcome in ("ready", "skipped", "missed") for r in records)
    runs = [r for r in records if r.outcome == "ready"]
    assert len(runs) >= 4
    # Every ready run is in the page's history with its backup; the newest two are what remains.
    assert {r.id for r in runs} <= {r.id for r in page.history_model.rows()}
    assert live(factory, schedule_id) == sorted(r.backup for r in runs[:2])
    assert any(r.pruned for r in runs)
    assert all(r.outcome != "error" for r in page.history_model.rows())


def test_a_failing_system_backup_raises_a_notification(qtbot, stack, demo) -> None:
    built = stack()
    page = built.page
    schedule_id = create(qtbot, page, "nightly", "0 2 * * *", 3)
    select(qtbot, page, schedule_id)
    demo.faults.fail_system_backup_in = "Generating"
    try:
        with qtbot.waitSignal(built.notifier.alert_raised, timeout=30_000) as raised:
            click_action(qtbot, page, "runNowAction")
    finally:
        demo.faults.fail_system_backup_in = None
    alert = raised.args[0]
    assert alert.title == f"Scheduled system backup failed ({ADMIN_CONTEXT})"
    assert built.window.findChild(QLabel, "notificationText").text() == alert.message
    assert built.window.navigation.item(0).text() == "Schedules (1)"
    (record,) = page.store.history(schedule_id=schedule_id)
    assert record.outcome == "error"
    assert "failed" in record.message


def test_quit_mid_run_joins_and_the_next_start_adopts_the_backup(qtbot, stack, factory, tmp_path) -> None:
    first = stack(tmp_path / "shared")
    schedule_id = create(qtbot, first.page, "long one", "0 3 * * *", 5)
    select(qtbot, first.page, schedule_id)
    with qtbot.waitSignal(first.host.run_started, timeout=10_000) as started:
        click_action(qtbot, first.page, "runNowAction")
    run = started.args[0].run
    qtbot.waitUntil(lambda: live(factory, schedule_id) == [run.backup], timeout=10_000)
    assert first.host.stop(15_000)
    assert first.page.store.get_run(run.id).outcome == "running"

    second = stack(tmp_path / "shared")
    qtbot.waitUntil(lambda: second.page.store.get_run(run.id).outcome != "running", timeout=30_000)
    assert second.page.store.get_run(run.id).outcome == "adopted"
    assert live(factory, schedule_id) == [run.backup]  # one backup for the slot, no twin


def test_upcoming_shows_the_clusters_recurring_jobs(qtbot, stack, factory) -> None:
    job = {
        "apiVersion": "longhorn.io/v1beta2",
        "kind": "RecurringJob",
        "metadata": {"name": "sysbak-nightly"},
        "spec": {
            "name": "sysbak-nightly",
            "task": "system-backup",
            "cron": "0 4 * * *",
            "retain": 2,
            "concurrency": 1,
            "groups": [],
            "labels": {},
            "parameters": {"volume-backup-policy": "if-not-present"},
        },
    }
    factory(ADMIN_CONTEXT).create("recurringjobs", job)
    try:
        page = stack().page
        qtbot.waitUntil(
            lambda: any(r.label == "sysbak-nightly" for r in page.upcoming_model.runs()), timeout=10_000
        )
        (first,) = [r for r in page.upcoming_model.runs() if r.label == "sysbak-nightly"][:1]
        assert first.when.hour == 4
        assert "system-backup" in first.detail
    finally:
        factory(ADMIN_CONTEXT).delete("recurringjobs", "sysbak-nightly", missing_ok=True)
