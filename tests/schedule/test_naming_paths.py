"""Backup names and labels of workstation schedules, and the default data folder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lhdesk.schedule.naming import (
    MAX_SCHEDULE_ID_LENGTH,
    backup_name,
    is_dns1123_label,
    is_label_value,
    new_schedule_id,
    schedule_labels,
    schedule_selector,
    slot_from_backup_name,
)
from lhdesk.schedule.paths import default_data_dir


def test_backup_name_is_deterministic_and_in_utc() -> None:
    slot = datetime(2026, 3, 2, 10, 5, 2, tzinfo=UTC)
    assert backup_name("nightly-k3x9qa", slot) == "lhdesk-nightly-k3x9qa-20260302100502"
    cet = slot.astimezone(timezone(timedelta(hours=1)))
    assert backup_name("nightly-k3x9qa", cet) == "lhdesk-nightly-k3x9qa-20260302100502"
    assert slot_from_backup_name("nightly-k3x9qa", "lhdesk-nightly-k3x9qa-20260302100502") == slot
    assert slot_from_backup_name("other-k3x9qa", "lhdesk-nightly-k3x9qa-20260302100502") is None
    with pytest.raises(ValueError, match="aware"):
        backup_name("x1", datetime(2026, 3, 2))


@given(st.text(min_size=1, max_size=80), st.datetimes(timezones=st.just(UTC)))
def test_backup_names_are_always_valid(schedule_id: str, slot: datetime) -> None:
    name = backup_name(schedule_id, slot)
    assert is_dns1123_label(name), name
    assert backup_name(schedule_id, slot) == name


def test_distinct_long_ids_keep_distinct_names() -> None:
    slot = datetime(2026, 3, 2, tzinfo=UTC)
    a = backup_name("x" * 60 + "a", slot)
    b = backup_name("x" * 60 + "b", slot)
    assert a != b
    assert len(a) <= 63
    assert len(b) <= 63


def test_new_ids_are_labels_and_unique() -> None:
    made = {new_schedule_id("Nightly backup of PROD!!") for _ in range(50)}
    assert len(made) == 50
    for sid in made:
        assert sid.startswith("nightly-backup-of-prod-")
        assert is_dns1123_label(sid, MAX_SCHEDULE_ID_LENGTH)
        assert is_label_value(sid)
    assert new_schedule_id("!!!").startswith("schedule-")
    assert len(new_schedule_id("a" * 200)) <= MAX_SCHEDULE_ID_LENGTH


def test_labels_and_selector() -> None:
    assert schedule_labels("n-1") == {"app.kubernetes.io/managed-by": "lhdesk", "lhdesk.io/schedule": "n-1"}
    assert schedule_selector("n-1") == "app.kubernetes.io/managed-by=lhdesk,lhdesk.io/schedule=n-1"


def test_default_data_dir_matches_qt_app_data_location() -> None:
    home = {"HOME": "/home/ann"}
    assert default_data_dir(home, "linux") == Path("/home/ann/.local/share/lhdesk/lhdesk")
    assert default_data_dir({**home, "XDG_DATA_HOME": "/data"}, "linux") == Path("/data/lhdesk/lhdesk")
    assert default_data_dir({**home, "XDG_DATA_HOME": "rel"}, "linux") == Path(
        "/home/ann/.local/share/lhdesk/lhdesk"
    )
    assert default_data_dir(home, "darwin") == Path("/home/ann/Library/Application Support/lhdesk/lhdesk")
    assert default_data_dir({**home, "APPDATA": "C:/Users/ann/AppData/Roaming"}, "win32") == Path(
        "C:/Users/ann/AppData/Roaming/lhdesk/lhdesk"
    )
    assert default_data_dir({**home, "LHDESK_DATA_DIR": "/tmp/x"}, "linux") == Path("/tmp/x")


def test_default_data_dir_is_what_qt_says_here(qapp: object) -> None:
    """Cross-check against the real QStandardPaths on this platform (the window's own answer)."""
    import os

    from PySide6.QtCore import QCoreApplication, QStandardPaths

    old = QCoreApplication.organizationName(), QCoreApplication.applicationName()
    QCoreApplication.setOrganizationName("lhdesk")
    QCoreApplication.setApplicationName("lhdesk")
    try:
        qt_dir = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    finally:
        QCoreApplication.setOrganizationName(old[0])
        QCoreApplication.setApplicationName(old[1])
    env = {k: v for k, v in os.environ.items() if k != "LHDESK_DATA_DIR"}
    assert default_data_dir(env) == Path(qt_dir)
