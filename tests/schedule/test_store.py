"""The sqlite3 store: schema and migrations, WAL, two connections and two processes, CRUD, history."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lhdesk.schedule import store as store_mod
from lhdesk.schedule.model import KIND_RECURRING_JOB, RunRecord, Schedule, ScheduleError
from lhdesk.schedule.store import SCHEMA_VERSION, SlotTaken, Store, StoreError, UnknownSchedule


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def make(id_: str = "nightly-abc123", **kw: object) -> Schedule:
    fields: dict[str, object] = {
        "name": "Nightly",
        "context": "prod",
        "cron": "0 2 * * *",
        "retain": 3,
        "active_since": t("2026-03-01T00:00:00"),
    }
    fields.update(kw)
    return Schedule(id=id_, **fields)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.in_dir(tmp_path)
    yield s
    s.close()


def test_new_database_has_the_current_schema_and_wal(store: Store) -> None:
    assert store.schema_version() == SCHEMA_VERSION
    assert store.journal_mode().lower() == "wal"
    conn = sqlite3.connect(store.path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"schedules", "runs"} <= tables
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()


def test_migrations_run_forward_from_any_older_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "h.sqlite3"
    Store(path).close()
    # A future step: the store applies only what the file lacks, once.
    extra = ("ALTER TABLE schedules ADD COLUMN note TEXT NOT NULL DEFAULT ''",)
    monkeypatch.setattr(store_mod, "MIGRATIONS", (*store_mod.MIGRATIONS, extra))
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with Store(path) as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION + 1
        upgraded.add_schedule(make())
    with Store(path) as again:  # nothing left to do: opening twice is harmless
        assert again.schema_version() == SCHEMA_VERSION + 1
        assert [s.id for s in again.schedules()] == ["nightly-abc123"]
    conn = sqlite3.connect(path)
    try:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(schedules)")]
    finally:
        conn.close()
    assert "note" in columns


def test_a_database_from_a_newer_lhdesk_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(StoreError, match="newer lhdesk"):
        Store(path)


def test_schedule_crud_round_trips(store: Store) -> None:
    s = make(grace=timedelta(minutes=90), catch_up="skip", volume_backup_policy="always")
    store.add_schedule(s)
    assert store.get_schedule(s.id) == s
    with pytest.raises(StoreError, match="exists already"):
        store.add_schedule(s)
    store.update_schedule(s.replace(retain=5, name="Nightly prod"))
    assert store.get_schedule(s.id).retain == 5
    assert store.find_schedule("Nightly prod").id == s.id
    store.remove_schedule(s.id)
    with pytest.raises(UnknownSchedule):
        store.get_schedule(s.id)
    with pytest.raises(UnknownSchedule):
        store.remove_schedule(s.id)


def test_invalid_schedules_are_refused_with_every_problem(store: Store) -> None:
    bad = make("Bad_ID", retain=0, cron="0 0 * * 7", volume_backup_policy="sometimes", catch_up="later")
    with pytest.raises(ScheduleError) as info:
        store.add_schedule(bad)
    assert set(info.value.problems) == {"id", "retain", "cron", "volume_backup_policy", "catch_up"}
    assert "Sunday is 0" in info.value.problems["cron"]
    assert store.schedules() == []


def test_resume_and_cron_change_move_active_since(store: Store) -> None:
    s = store.add_schedule(make())
    paused = store.set_enabled(s.id, False, now=t("2026-03-05T00:00:00"))
    assert paused.active_since == s.active_since
    resumed = store.set_enabled(s.id, True, now=t("2026-03-07T12:00:00"))
    assert resumed.active_since == t("2026-03-07T12:00:00")
    assert store.get_schedule(s.id).active_since == t("2026-03-07T12:00:00")
    edited = store.update_schedule(resumed.replace(cron="0 3 * * *"), now=t("2026-03-08T00:00:00"))
    assert edited.active_since == t("2026-03-08T00:00:00")
    same = store.update_schedule(edited.replace(retain=9), now=t("2026-03-09T00:00:00"))
    assert same.active_since == t("2026-03-08T00:00:00")


def test_runs_record_update_and_last_slot(store: Store) -> None:
    s = store.add_schedule(make())
    assert store.last_slot(s.id) is None
    r = store.record_run(
        RunRecord(s.id, t("2026-03-02T02:00:00"), started=t("2026-03-02T02:00:00.2"), context="prod")
    )
    assert r.id is not None
    assert r.outcome == "running"
    with pytest.raises(SlotTaken):
        store.record_run(RunRecord(s.id, t("2026-03-02T02:00:00"), context="prod"))
    done = store.update_run(r.replace(outcome="ready", finished=t("2026-03-02T02:03:00"), pruned=("a", "b")))
    assert store.get_run(r.id) == done
    store.record_run(RunRecord(s.id, t("2026-03-03T02:00:00"), outcome="missed", message="m", context="prod"))
    assert store.last_slot(s.id) == t("2026-03-03T02:00:00")
    assert store.last_slots() == {s.id: t("2026-03-03T02:00:00")}
    assert store.last_outcomes()[s.id].outcome == "ready"
    assert store.unfinished_runs() == []


def test_history_filters_and_order(store: Store) -> None:
    for i, (sid, ctx, outcome) in enumerate(
        [
            ("a-1", "prod", "ready"),
            ("a-1", "prod", "error"),
            ("b-2", "lab", "ready"),
            ("b-2", "lab", "missed"),
        ]
    ):
        store.record_run(
            RunRecord(sid, t("2026-03-02T00:00:00") + timedelta(hours=i), outcome=outcome, context=ctx)
        )
    store.upsert_observed(
        RunRecord(
            "nightly",
            t("2026-03-02T09:00:00"),
            outcome="error",
            backup="nightly--x",
            context="prod",
            kind=KIND_RECURRING_JOB,
        )
    )
    assert [r.outcome for r in store.history()] == ["error", "missed", "ready", "error", "ready"]
    assert len(store.history(schedule_id="a-1")) == 2
    assert {r.schedule_id for r in store.history(context="prod")} == {"a-1", "nightly"}
    assert [r.schedule_id for r in store.history(outcomes=["error"])] == ["nightly", "a-1"]
    assert [r.kind for r in store.history(kind=KIND_RECURRING_JOB)] == [KIND_RECURRING_JOB]
    assert len(store.history(since=t("2026-03-02T02:00:00"), until=t("2026-03-02T03:00:00"))) == 2
    assert len(store.history(limit=1)) == 1
    assert store.history(outcomes=[]) == []


def test_observed_runs_are_idempotent_and_final_outcomes_stick(store: Store) -> None:
    base = RunRecord(
        "nightly",
        t("2026-03-02T09:00:00"),
        outcome="running",
        backup="nightly--1",
        context="prod",
        kind=KIND_RECURRING_JOB,
    )
    first, changed = store.upsert_observed(base)
    assert changed
    assert first.id is not None
    assert store.upsert_observed(base) == (first, False)
    ready, changed = store.upsert_observed(base.replace(outcome="ready", message="Ready"))
    assert changed
    assert ready.id == first.id
    assert ready.outcome == "ready"
    stale, changed = store.upsert_observed(base)
    assert not changed
    assert stale.outcome == "ready"
    assert len(store.history()) == 1


def test_two_connections_see_each_other_and_data_version_changes(tmp_path: Path) -> None:
    a = Store.in_dir(tmp_path)
    b = Store.in_dir(tmp_path)
    try:
        before = b.data_version()
        a.add_schedule(make())
        assert b.data_version() != before
        assert [s.id for s in b.schedules()] == ["nightly-abc123"]
        # A reader in the middle of a read transaction does not block the writer (WAL).
        reader = sqlite3.connect(b.path)
        reader.execute("BEGIN")
        reader.execute("SELECT * FROM runs").fetchall()
        a.record_run(RunRecord("nightly-abc123", t("2026-03-02T02:00:00"), context="prod"))
        reader.execute("COMMIT")
        reader.close()
        assert len(b.history()) == 1
    finally:
        a.close()
        b.close()


def test_one_connection_per_thread(store: Store) -> None:
    store.add_schedule(make())
    seen: list[int] = []

    def work() -> None:
        seen.append(len(store.schedules()))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [1]


def test_two_processes_writing_at_once_wait_for_each_other(tmp_path: Path) -> None:
    """busy_timeout: two processes each record 200 runs at the same time; none is lost."""
    script = textwrap.dedent(
        """
        import sys
        from datetime import UTC, datetime, timedelta
        from lhdesk.schedule.model import RunRecord
        from lhdesk.schedule.store import Store
        store = Store.in_dir(sys.argv[1])
        base = datetime(2026, 3, 2, tzinfo=UTC)
        sid = sys.argv[2]
        print("ready", flush=True)
        sys.stdin.readline()
        for i in range(200):
            store.record_run(RunRecord(sid, base + timedelta(seconds=i), outcome="ready", context="c"))
        store.close()
        """
    )
    Store.in_dir(tmp_path).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path), sid],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for sid in ("p-1", "p-2")
    ]
    for p in procs:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        assert p.wait(timeout=60) == 0
        assert p.stdin is not None
        assert p.stdout is not None
        p.stdin.close()
        p.stdout.close()
    with Store.in_dir(tmp_path) as s:
        assert len(s.history(schedule_id="p-1")) == 200
        assert len(s.history(schedule_id="p-2")) == 200


def test_no_credentials_column_exists(store: Store) -> None:
    conn = sqlite3.connect(store.path)
    try:
        columns = {
            r[1].lower()
            for table in ("schedules", "runs")
            for r in conn.execute(f"PRAGMA table_info({table})")
        }
    finally:
        conn.close()
    assert not {c for c in columns if any(w in c for w in ("token", "password", "secret", "key", "cert"))}


def test_closed_store_refuses_use(tmp_path: Path) -> None:
    s = Store.in_dir(tmp_path)
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.schedules()
