"""The jobs table model and its filter proxy: columns, native sort values, incremental updates."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

from lhdesk.ui.jobs.model import Column, JobsFilterProxy, JobsTableModel, SortRole, format_run
from lhdesk.ui.jobs.watch import WatchEvent

NOW = datetime(2026, 12, 4, 21, 30, tzinfo=UTC)
VOLUMES = {
    "pvc-a": {"recurring-job-group.longhorn.io/gold": "enabled"},
    "pvc-b": {"recurring-job.longhorn.io/nightly": "enabled"},
    "pvc-c": {},
    "pvc-d": {"recurring-job-group.longhorn.io/silver": "enabled"},
}


def cell(model, row: int, column: Column, role: int = Qt.ItemDataRole.DisplayRole):
    return model.index(row, column).data(role)


def loaded(make_job, qtmodeltester=None) -> JobsTableModel:
    model = JobsTableModel()
    if qtmodeltester is not None:
        qtmodeltester.check(model)
    model.set_volumes(VOLUMES, NOW)
    model.apply_snapshot(
        [
            make_job("nightly", "backup", "0 2 * * *", groups=["gold"], labels={"team": "db"}),
            make_job("sys", "system-backup", "@daily", retain=5),
            make_job("trim", "filesystem-trim", "30 3 * * 0", groups=["default"]),
        ],
        NOW,
    )
    return model


def test_every_column_shows_what_the_issue_asks(make_job) -> None:
    model = loaded(make_job)
    row = model.row_of("nightly")
    assert cell(model, row, Column.NAME) == "nightly"
    assert cell(model, row, Column.TASK) == "backup"
    schedule = cell(model, row, Column.SCHEDULE)
    assert "02:00" in schedule
    assert "(0 2 * * *)" in schedule
    assert cell(model, row, Column.NEXT_RUN).startswith("2026-12-05 02:00 UTC")
    assert cell(model, row, Column.NEXT_RUN) == format_run(datetime(2026, 12, 5, 2, 0, tzinfo=UTC))
    assert cell(model, row, Column.RETAIN) == "3"
    assert cell(model, row, Column.CONCURRENCY) == "2"
    assert cell(model, row, Column.GROUPS) == "gold"
    assert cell(model, row, Column.LABELS) == "team=db"
    assert cell(model, row, Column.EXECUTIONS) == "4"
    # Through its own label (pvc-b) and its group (pvc-a).
    assert cell(model, row, Column.VOLUMES) == "2"
    assert cell(model, row, Column.VOLUMES, Qt.ItemDataRole.ToolTipRole) == "pvc-a\npvc-b"
    assert "Backup" in cell(model, row, Column.TASK, Qt.ItemDataRole.ToolTipRole)


def test_default_group_covers_volumes_without_job_labels(make_job) -> None:
    model = loaded(make_job)
    row = model.row_of("trim")
    assert cell(model, row, Column.VOLUMES) == "1"
    assert cell(model, row, Column.VOLUMES, Qt.ItemDataRole.ToolTipRole) == "pvc-c"
    assert cell(model, row, Column.RETAIN) == "0"


def test_system_backup_covers_no_volumes_and_ignores_concurrency(make_job) -> None:
    model = loaded(make_job)
    row = model.row_of("sys")
    assert cell(model, row, Column.VOLUMES) == "—"
    assert cell(model, row, Column.CONCURRENCY) == "—"
    assert cell(model, row, Column.PARAMETERS) == "volume-backup-policy=if-not-present"
    assert cell(model, row, Column.NEXT_RUN).startswith("2026-12-05 00:00 UTC")


def test_sort_role_gives_native_values(make_job) -> None:
    model = loaded(make_job)
    row = model.row_of("nightly")
    assert cell(model, row, Column.RETAIN, SortRole) == 3
    assert cell(model, row, Column.VOLUMES, SortRole) == 2
    assert cell(model, row, Column.NEXT_RUN, SortRole) == datetime(2026, 12, 5, 2, tzinfo=UTC).timestamp()


def test_proxy_sorts_every_column_by_native_value(make_job, qtmodeltester) -> None:
    model = JobsTableModel()
    model.apply_snapshot([make_job(f"j{n}", "snapshot", retain=n) for n in (9, 10, 1, 100)], NOW)
    proxy = JobsFilterProxy()
    proxy.setSourceModel(model)
    qtmodeltester.check(proxy)
    proxy.sort(Column.RETAIN, Qt.SortOrder.AscendingOrder)
    assert [proxy.index(r, Column.RETAIN).data() for r in range(4)] == ["1", "9", "10", "100"]
    proxy.sort(Column.RETAIN, Qt.SortOrder.DescendingOrder)
    assert [proxy.index(r, Column.RETAIN).data() for r in range(4)] == ["100", "10", "9", "1"]
    for column in Column:
        proxy.sort(column, Qt.SortOrder.AscendingOrder)
        assert proxy.rowCount() == 4


def test_filter_matches_any_column_and_every_word(make_job, qtmodeltester) -> None:
    model = loaded(make_job)
    proxy = JobsFilterProxy()
    proxy.setSourceModel(model)
    qtmodeltester.check(proxy)

    def names() -> list[str]:
        return sorted(proxy.index(r, Column.NAME).data() for r in range(proxy.rowCount()))

    proxy.set_filter_text("gold")
    assert names() == ["nightly"]
    proxy.set_filter_text("TEAM=DB")
    assert names() == ["nightly"]
    proxy.set_filter_text("if-not-present")
    assert names() == ["sys"]
    proxy.set_filter_text("backup")
    assert names() == ["nightly", "sys"]
    proxy.set_filter_text("backup daily")
    assert names() == ["sys"]
    proxy.set_filter_text("")
    assert names() == ["nightly", "sys", "trim"]


def test_events_change_rows_in_place_without_reset(make_job, qtmodeltester, qtbot) -> None:
    model = loaded(make_job, qtmodeltester)
    proxy = JobsFilterProxy()
    proxy.setSourceModel(model)
    proxy.sort(Column.NAME, Qt.SortOrder.AscendingOrder)
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))
    changed = make_job("nightly", "backup", "0 4 * * *", groups=["gold"])
    with qtbot.waitSignals([model.rowsInserted, model.rowsRemoved, model.dataChanged], timeout=1000):
        model.apply_events(
            [
                WatchEvent("ADDED", make_job("weekly", "snapshot", "@weekly")),
                WatchEvent("DELETED", make_job("trim", "filesystem-trim")),
                WatchEvent("MODIFIED", changed),
            ],
            NOW,
        )
    assert not resets
    assert sorted(job.name for job in model.rows()) == ["nightly", "sys", "weekly"]
    assert "(0 4 * * *)" in cell(model, model.row_of("nightly"), Column.SCHEDULE)
    assert [proxy.index(r, 0).data() for r in range(proxy.rowCount())] == ["nightly", "sys", "weekly"]


def test_last_event_per_job_wins_within_a_batch(make_job) -> None:
    model = loaded(make_job)
    model.apply_events(
        [
            WatchEvent("ADDED", make_job("flip", "snapshot")),
            WatchEvent("DELETED", make_job("flip", "snapshot")),
            WatchEvent("DELETED", make_job("sys", "system-backup")),
            WatchEvent("ADDED", make_job("sys", "system-backup", retain=9)),
        ],
        NOW,
    )
    assert model.row_of("flip") == -1
    assert cell(model, model.row_of("sys"), Column.RETAIN) == "9"


def test_a_fresh_list_keeps_unchanged_rows_and_selection(make_job, qtbot) -> None:
    model = loaded(make_job)
    kept = QPersistentModelIndex(model.index(model.row_of("sys"), 0))
    model.apply_snapshot(
        [make_job("sys", "system-backup", "@daily", retain=5), make_job("new", "snapshot")], NOW
    )
    assert kept.isValid()
    assert kept.data() == "sys"
    assert sorted(job.name for job in model.rows()) == ["new", "sys"]


def test_next_runs_move_on_as_time_passes(make_job) -> None:
    model = loaded(make_job)
    later = datetime(2026, 12, 5, 2, 0, 30, tzinfo=UTC)
    assert model.refresh_times(later) >= 1
    assert cell(model, model.row_of("nightly"), Column.NEXT_RUN).startswith("2026-12-06 02:00 UTC")


def test_volumes_unknown_then_known(make_job) -> None:
    model = JobsTableModel()
    model.apply_snapshot([make_job("nightly", "backup", groups=["gold"])], NOW)
    assert cell(model, 0, Column.VOLUMES) == "…"
    model.set_volumes(VOLUMES, NOW)
    assert cell(model, 0, Column.VOLUMES) == "2"


def test_malformed_object_is_listed_not_fatal(make_job, qtmodeltester) -> None:
    model = JobsTableModel()
    qtmodeltester.check(model)
    bad = make_job("broken", "backup")
    bad["spec"]["retain"] = "three"
    model.apply_snapshot([bad, make_job("fine", "snapshot")], NOW)
    row = model.row_of("broken")
    assert cell(model, row, Column.NAME) == "broken"
    assert "cannot be read" in cell(model, row, Column.NAME, Qt.ItemDataRole.ToolTipRole)
    assert model.index(0, 0, model.index(0, 0)) == QModelIndex()


def test_invalid_schedule_is_shown_as_such(make_job) -> None:
    model = JobsTableModel()
    model.apply_snapshot([make_job("odd", "snapshot", "0 0 * * 7")], NOW)
    assert cell(model, 0, Column.SCHEDULE) == "invalid: 0 0 * * 7"
    assert cell(model, 0, Column.NEXT_RUN) == ""
    assert "0-6" in cell(model, 0, Column.SCHEDULE, Qt.ItemDataRole.ToolTipRole)
