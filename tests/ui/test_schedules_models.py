"""The Schedules page's models (qtmodeltester on each), the cron field, and the alert rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QSystemTrayIcon

from lhdesk.schedule.engine import RunFinished
from lhdesk.schedule.freshness import FreshnessRule, check, unchecked
from lhdesk.schedule.model import RunRecord, Schedule
from lhdesk.ui.cronfield import CronField, format_run
from lhdesk.ui.notify import alert_for_run
from lhdesk.ui.schedules import (
    FreshnessTableModel,
    HistoryColumn,
    RunHistoryFilter,
    RunHistoryModel,
    ScheduleColumn,
    ScheduleRow,
    SchedulesTableModel,
    SortRole,
    UpcomingModel,
    slot_runs,
    upcoming_from_jobs,
    upcoming_from_schedules,
)

NOW = datetime(2026, 3, 2, 10, 0, 30, tzinfo=UTC)
SLOT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def schedule(ident: str = "nightly-aaaaaa", **changes: object) -> Schedule:
    base = Schedule(
        id=ident, name=ident.split("-")[0], context="lab", cron="0 2 * * *", retain=3, active_since=SLOT
    )
    return base.replace(**changes)


def record(outcome: str = "ready", rid: int = 1, **changes: object) -> RunRecord:
    base = RunRecord(
        "nightly-aaaaaa", SLOT, SLOT, SLOT + timedelta(seconds=75), outcome, "lhdesk-x", "msg", (), "lab"
    )
    return base.replace(id=rid, **changes)


def test_schedules_model_passes_the_model_tester_and_sorts_natively(qtmodeltester, qapp) -> None:
    model = SchedulesTableModel()
    qtmodeltester.check(model)
    rows = [
        ScheduleRow(schedule(), SLOT + timedelta(days=1), record()),
        ScheduleRow(schedule("paused-bbbbbb", enabled=False, retain=10), None, None),
        ScheduleRow(schedule("busy-cccccc", cron="@every 2h"), NOW, record("error", 2), running=True),
    ]
    model.set_rows(rows)
    qtmodeltester.check(model)
    assert model.index(0, ScheduleColumn.LAST_OUTCOME).data() == "ready · 2026-03-02 02:00:00 UTC"
    assert model.index(1, ScheduleColumn.NEXT_RUN).data() == "paused"
    assert model.index(1, ScheduleColumn.LAST_OUTCOME).data() == "never run"
    assert model.index(2, ScheduleColumn.NEXT_RUN).data() == "running now"
    assert model.index(2, ScheduleColumn.SCHEDULE).data() == "Every 2 hours"
    assert model.index(1, ScheduleColumn.RETAIN).data(SortRole) == 10
    assert model.index(1, ScheduleColumn.NEXT_RUN).data(SortRole) == float("inf")
    # The same schedules again: cells change, rows stay (a selection survives a refresh).
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))
    model.set_rows(rows[::-1][::-1])
    assert resets == []
    model.set_rows(rows[:1])
    assert resets == [1]
    assert model.find("nightly-aaaaaa") == 0
    assert model.find("gone") == -1


def test_history_model_and_filter_pass_the_model_tester(qtmodeltester, qapp) -> None:
    model = RunHistoryModel()
    proxy = RunHistoryFilter()
    proxy.setSourceModel(model)
    qtmodeltester.check(model)
    model.reset_rows([record(), record("error", 2, context="prod", pruned=("old-1", "old-2"))])
    model.set_names({"nightly-aaaaaa": "Nightly"})
    model.upsert(record("missed", 3, schedule_id="ghost-dddddd"))
    model.upsert(record("adopted", 1))
    qtmodeltester.check(model)
    qtmodeltester.check(proxy)
    assert model.rowCount() == 3
    assert model.index(0, HistoryColumn.SCHEDULE).data() == "ghost-dddddd (removed)"
    assert model.index(1, HistoryColumn.OUTCOME).data() == "adopted"
    assert model.index(1, HistoryColumn.DURATION).data() == "1 min 15 s"
    assert model.index(2, HistoryColumn.PRUNED).data() == "old-1, old-2"
    proxy.set_filters(None, "prod", None)
    assert proxy.rowCount() == 1
    proxy.set_filters("schedule:nightly-aaaaaa", None, "adopted")
    assert proxy.rowCount() == 1
    proxy.set_filters(None, None, "ready")
    assert proxy.rowCount() == 0
    qtmodeltester.check(proxy)


def test_upcoming_and_freshness_models_pass_the_model_tester(qtmodeltester, qapp) -> None:
    upcoming = UpcomingModel()
    qtmodeltester.check(upcoming)
    jobs = [
        {
            "metadata": {"name": "j"},
            "spec": {"name": "j", "task": "snapshot", "cron": "0 * * * *", "retain": 2},
        }
    ]
    upcoming.set_runs(
        upcoming_from_schedules([schedule(), schedule("off-eeeeee", enabled=False)], NOW, 3)
        + upcoming_from_jobs(jobs, "lab", NOW, 3)
    )
    qtmodeltester.check(upcoming)
    runs = upcoming.runs()
    assert len(runs) == 6
    assert runs[0].when == datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    assert runs[0].label == "j"

    fresh = FreshnessTableModel()
    qtmodeltester.check(fresh)
    rules = [FreshnessRule("lab", timedelta(hours=26)), FreshnessRule("prod", timedelta(hours=1))]
    fresh.set_rules(rules)
    fresh.set_statuses([check(rules[0], [], NOW), unchecked(rules[1], NOW, "connection refused")])
    qtmodeltester.check(fresh)
    assert fresh.index(0, 2).data() == "STALE"
    assert fresh.index(1, 2).data() == "cannot check"
    assert fresh.index(1, 1).data() == "1 hour"


def test_history_messages_drop_the_backup_name_the_next_column_shows(qapp) -> None:
    model = RunHistoryModel()
    model.reset_rows(
        [
            record(message="lhdesk-x is Ready (started by Run now)"),
            record(message="lhdesk-x failed: Upload: bucket gone", rid=2),
            record(message="adopted lhdesk-x, created by an earlier attempt; it is Ready", rid=3),
        ]
    )
    column = HistoryColumn.MESSAGE
    assert [model.index(row, column).data() for row in range(3)] == [
        "Ready (started by Run now)",
        "Failed: Upload: bucket gone",
        "adopted lhdesk-x, created by an earlier attempt; it is Ready",
    ]
    assert model.index(1, column).data(Qt.ItemDataRole.ToolTipRole) == "lhdesk-x failed: Upload: bucket gone"


def test_slot_runs_anchor_every_at_the_epoch_like_the_engine() -> None:
    assert slot_runs("@every 2h", NOW, 2) == [
        datetime(2026, 3, 2, 10, 0, tzinfo=UTC) + timedelta(hours=2),
        datetime(2026, 3, 2, 14, 0, tzinfo=UTC),
    ]
    assert slot_runs("0 2 * * *", NOW, 1) == [datetime(2026, 3, 3, 2, 0, tzinfo=UTC)]


def test_cron_field_describes_and_lists_next_runs(qtbot) -> None:
    field = CronField(now=lambda: NOW, next_runs=slot_runs)
    qtbot.addWidget(field)
    edit = field.findChild(QLineEdit, "cronEdit")
    qtbot.keyClicks(edit, "@daily")
    assert field.problem() is None
    assert field.findChild(QLabel, "cronDescription").text() == "Once a day, at 00:00"
    assert field.findChild(QLabel, "cronNextRuns").text().startswith("Next runs: Tue 03 Mar 00:00 UTC")
    edit.clear()
    assert field.problem() == "a schedule is required"
    qtbot.keyClicks(edit, "@every 500ms")
    assert field.problem() is None
    assert "note:" in field.findChild(QLabel, "cronDescription").text()
    assert format_run(datetime(2026, 3, 3, 0, 0, 5, tzinfo=UTC)).startswith("Tue 03 Mar 00:00:05 UTC")


def test_alerts_for_failed_runs_only_and_observed_ones_only_when_recent() -> None:
    assert alert_for_run(RunFinished(record("ready")), NOW) is None
    assert alert_for_run(RunFinished(record("missed")), NOW) is None
    failed = alert_for_run(RunFinished(record("error", message="boom")), NOW)
    assert failed is not None
    assert failed.title == "Scheduled system backup failed (lab)"
    assert failed.message == "Schedule nightly-aaaaaa: boom"
    observed = record("error", kind="recurring-job", schedule_id="sysbak", backup="sysbak-1", message="bad")
    alert = alert_for_run(RunFinished(observed), NOW)
    assert alert is not None
    assert alert.title == "System backup failed in lab"
    old = observed.replace(slot=NOW - timedelta(days=3))
    assert alert_for_run(RunFinished(old), NOW) is None


def test_tray_menu_shows_status_and_opens_the_window(qtbot, tmp_path) -> None:
    from lhdesk.schedule.store import Store
    from lhdesk.ui.notify import SchedulerTray
    from lhdesk.ui.scheduler import SchedulerHost

    store = Store.in_dir(tmp_path)
    try:
        host = SchedulerHost(tmp_path, store, lambda context: None)
        tray = SchedulerTray(host)
        assert tray.status_action.text() == "Scheduler: the scheduler has not started"
        assert isinstance(tray.icon, QSystemTrayIcon)
        asked: list[str] = []
        tray.open_requested.connect(asked.append)
        tray.open_action.trigger()
        tray.schedules_action.trigger()
        assert asked == ["", "schedules"]
        tray.set_unseen(3)
        assert tray.alerts_action.text() == "3 alerts to look at"
        tray.close()
        for obj in (tray, host):
            obj.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    finally:
        store.close()
