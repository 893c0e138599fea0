"""Freshness rules: their verdicts (pure) and their storage."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lhdesk.schedule import freshness
from lhdesk.schedule.freshness import FreshnessRule, FreshnessRuleError
from lhdesk.schedule.model import Schedule
from lhdesk.schedule.store import MIGRATIONS, SCHEMA_VERSION, Store

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RULE = FreshnessRule("prod", timedelta(hours=26))


def backup(name: str, state: str, created_at: str | None = None, **meta: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"state": state}
    if created_at:
        status["createdAt"] = created_at
    return {"metadata": {"name": name, **meta}, "status": status}


def test_fresh_when_a_ready_backup_is_newer_than_the_limit() -> None:
    status = freshness.check(
        RULE,
        [
            backup("old", "Ready", "2026-02-20T00:00:00Z"),
            backup("new", "Ready", "2026-03-02T02:00:00Z"),
            backup("failed", "Error"),
            backup("busy", "Uploading"),
        ],
        NOW,
    )
    assert not status.breached
    assert status.error is None
    assert (status.context, status.max_age, status.newest_ready) == ("prod", RULE.max_age, "new")
    assert status.newest_ready_at == datetime(2026, 3, 2, 2, tzinfo=UTC)
    assert status.describe() == "newest Ready system backup new is 10 h old (limit 26 h)"


def test_breached_when_the_newest_ready_backup_is_too_old() -> None:
    status = freshness.check(RULE, [backup("old", "Ready", "2026-02-28T00:00:00Z")], NOW)
    assert status.breached
    assert "no Ready system backup for 60 h (limit 26 h)" in status.message
    assert "old from 2026-02-28T00:00:00Z" in status.message


def test_breached_when_there_is_none_and_failed_or_deleting_ones_do_not_count() -> None:
    status = freshness.check(
        RULE,
        [
            backup("failed", "Error"),
            backup("going", "Ready", "2026-03-02T11:00:00Z", deletionTimestamp="2026-03-02T11:30:00Z"),
        ],
        NOW,
    )
    assert status.breached
    assert status.newest_ready is None
    assert "no Ready system backup at all" in status.message


def test_ready_without_created_at_falls_back_to_creation_time() -> None:
    obj = backup("synced", "Ready", creationTimestamp="2026-03-02T11:00:00Z")
    status = freshness.check(RULE, [obj], NOW)
    assert not status.breached
    assert status.newest_ready == "synced"


def test_unchecked_is_an_error_not_a_breach() -> None:
    status = freshness.unchecked(RULE, NOW, "Cannot reach 127.0.0.1:9: connection refused.")
    assert not status.breached
    assert status.error == "Cannot reach 127.0.0.1:9: connection refused."
    assert status.describe().startswith("not checked:")


def test_rules_are_validated() -> None:
    with pytest.raises(FreshnessRuleError) as info:
        FreshnessRule(" ", timedelta(minutes=10)).validate()
    assert set(info.value.problems) == {"context", "max_age"}
    assert RULE.validate() is RULE


def test_rules_are_stored_one_per_context(tmp_path: Path) -> None:
    with Store.in_dir(tmp_path) as store:
        assert store.freshness_rules() == []
        store.set_freshness_rule(RULE)
        store.set_freshness_rule(FreshnessRule("lab", timedelta(hours=48)))
        store.set_freshness_rule(FreshnessRule("prod", timedelta(hours=12)))
        assert store.freshness_rules() == [
            FreshnessRule("lab", timedelta(hours=48)),
            FreshnessRule("prod", timedelta(hours=12)),
        ]
        assert store.remove_freshness_rule("lab")
        assert not store.remove_freshness_rule("lab")
        with pytest.raises(FreshnessRuleError):
            store.set_freshness_rule(FreshnessRule("x", timedelta(0)))
        assert [r.context for r in store.freshness_rules()] == ["prod"]


def test_a_version_1_database_migrates_forward_keeping_its_data(tmp_path: Path) -> None:
    """The schema as the first release wrote it gains the rules table, and keeps its schedules."""
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO schedules VALUES ('n-abc123', 'N', 'prod', '@daily', 3, 'always', 1, 'skip', 3600,"
        " '2026-03-01T00:00:00.000000Z', '2026-03-01T00:00:00.000000Z', '2026-03-01T00:00:00.000000Z')"
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION >= 2
        (schedule,) = store.schedules()
        assert schedule == Schedule(
            id="n-abc123",
            name="N",
            context="prod",
            cron="@daily",
            retain=3,
            volume_backup_policy="always",
            enabled=True,
            catch_up="skip",
            grace=timedelta(hours=1),
            active_since=datetime(2026, 3, 1, tzinfo=UTC),
        )
        store.set_freshness_rule(RULE)
        assert store.freshness_rules() == [RULE]
