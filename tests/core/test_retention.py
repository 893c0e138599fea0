"""core.retention: the system-backup RecurringJob's cleanup, as Longhorn v1.12.1 does it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lhdesk.core.retention import BackupRecord, RetentionForecast, forecast

DAY = timedelta(days=1)
T = datetime(2026, 8, 20, 2, 7, 41, tzinfo=UTC)


def ready(name: str, days_ago: int) -> BackupRecord:
    return BackupRecord(name, "Ready", T - days_ago * DAY)


def test_keeps_the_newest_and_deletes_the_oldest() -> None:
    records = [ready("c", 1), ready("a", 3), ready("b", 2), ready("d", 0)]
    assert forecast(records, 2) == RetentionForecast(keep=("c", "d"), delete=("a", "b"))


def test_nothing_to_delete_within_retain() -> None:
    assert forecast([ready("a", 1), ready("b", 0)], 3) == RetentionForecast(keep=("a", "b"), delete=())
    assert forecast([], 1) == RetentionForecast(keep=(), delete=())


def test_error_backups_sort_first_and_go_first() -> None:
    records = [
        ready("old-ready", 5),
        BackupRecord("failed", "Error", None),
        ready("new-ready", 0),
        BackupRecord("failed-with-time", "Error", T),  # createdAt is never set for Error; treated as zero
    ]
    result = forecast(records, 2)
    assert result.delete == ("failed", "failed-with-time")
    assert result.keep == ("old-ready", "new-ready")
    assert forecast(records, 1).delete == ("failed", "failed-with-time", "old-ready")


def test_only_ready_and_error_count() -> None:
    records = [
        ready("a", 3),
        ready("b", 2),
        BackupRecord("uploading", "Uploading", None),
        BackupRecord("going", "Deleting", T - 9 * DAY),
        BackupRecord("fresh", "", None),
        BackupRecord("volumes", "CreatingVolumeBackups", None),
    ]
    result = forecast(records, 1)
    assert result.keep == ("b",)
    assert result.delete == ("a",)
    assert result.ignored == ("uploading", "going", "fresh", "volumes")


def test_including_new_leaves_room_for_the_next_runs_backup() -> None:
    records = [ready("a", 3), ready("b", 2), ready("c", 1)]
    assert forecast(records, 3) == RetentionForecast(keep=("a", "b", "c"), delete=())
    assert forecast(records, 3, including_new=True) == RetentionForecast(keep=("b", "c"), delete=("a",))
    assert forecast(records, 1, including_new=True).keep == ()
    assert forecast(records, 0).delete == ("a", "b", "c")


def test_negative_retain_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        forecast([], -1)


def test_naive_created_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        forecast([BackupRecord("a", "Ready", datetime(2026, 1, 1)), ready("b", 1)], 1)  # naive on purpose


_records = st.lists(
    st.builds(
        BackupRecord,
        name=st.text(min_size=1, max_size=6),
        state=st.sampled_from(["Ready", "Error", "Uploading", "Deleting", ""]),
        created=st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))),
    ),
    max_size=12,
    unique_by=lambda r: r.name,
)


@settings(max_examples=200, deadline=None)
@given(_records, st.integers(0, 15), st.booleans())
def test_partition(records: list[BackupRecord], retain: int, including_new: bool) -> None:
    result = forecast(records, retain, including_new=including_new)
    counted = [r.name for r in records if r.state in ("Ready", "Error")]
    assert sorted(result.keep + result.delete) == sorted(counted)
    assert sorted(result.ignored) == sorted(r.name for r in records if r.name not in counted)
    places = max(retain - 1, 0) if including_new else retain
    assert len(result.keep) == min(len(counted), places)
    by_name = {r.name: r for r in records}
    ready_kept = [by_name[n] for n in result.keep if by_name[n].state == "Ready" and by_name[n].created]
    for name in result.delete:
        victim = by_name[name]
        if victim.state == "Ready" and victim.created:
            assert all(victim.created <= kept.created for kept in ready_kept if kept.created)
