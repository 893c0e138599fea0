"""Durable schedules and run history in sqlite3.

The database lives at a path the caller passes (the app: ``QStandardPaths.AppDataLocation``;
the headless commands: :func:`lhdesk.schedule.paths.default_data_dir`; tests: a temp dir).

- WAL journal, so a reader (the window, ``lhdesk schedules history``) never waits for the writer.
- ``busy_timeout``, so two processes (the window and a headless ``lhdesk scheduler run``, or a
  script running ``lhdesk schedules add``) wait for each other's short transactions instead of
  failing.
- ``PRAGMA user_version`` holds the schema version; :data:`MIGRATIONS` lists the SQL steps that
  bring a database from version *i* to *i + 1*. A database newer than this code is refused.
- One connection per thread (sqlite3 connections must stay in their thread): the scheduler thread
  and the GUI thread each get their own.

Never stored: credentials of any kind. A schedule names a kubeconfig *context*; tokens stay in the
kubeconfig.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lhdesk.schedule.freshness import FreshnessRule
from lhdesk.schedule.model import (
    KIND_RECURRING_JOB,
    KIND_SCHEDULE,
    OUTCOMES,
    RunRecord,
    Schedule,
    as_utc,
    utcnow,
)

log = logging.getLogger(__name__)

DB_FILENAME = "schedules.sqlite3"
BUSY_TIMEOUT_MS = 10_000

#: ``MIGRATIONS[i]`` brings the schema from version ``i`` to ``i + 1``. Append, never edit.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE schedules (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            context TEXT NOT NULL,
            cron TEXT NOT NULL,
            retain INTEGER NOT NULL,
            volume_backup_policy TEXT NOT NULL,
            enabled INTEGER NOT NULL,
            catch_up TEXT NOT NULL,
            grace_seconds REAL NOT NULL,
            active_since TEXT NOT NULL,
            created TEXT NOT NULL,
            updated TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            schedule_id TEXT NOT NULL,
            context TEXT NOT NULL,
            slot TEXT NOT NULL,
            started TEXT,
            finished TEXT,
            outcome TEXT NOT NULL,
            backup TEXT NOT NULL DEFAULT '',
            message TEXT NOT NULL DEFAULT '',
            pruned TEXT NOT NULL DEFAULT '[]'
        )
        """,
        # One record per slot of a workstation schedule: a second process that tries to record the
        # same slot fails here, whatever happened to the lock.
        "CREATE UNIQUE INDEX runs_schedule_slot ON runs (schedule_id, slot) WHERE kind = 'schedule'",
        # One record per observed in-cluster SystemBackup, so observing is idempotent.
        "CREATE UNIQUE INDEX runs_observed ON runs (context, backup) WHERE kind = 'recurring-job'",
        "CREATE INDEX runs_by_slot ON runs (slot)",
        "CREATE INDEX runs_by_outcome ON runs (outcome)",
    ),
    (
        # Freshness rules: "alert if no Ready system backup of this context is newer than N".
        """
        CREATE TABLE freshness_rules (
            context TEXT PRIMARY KEY,
            max_age_seconds REAL NOT NULL,
            updated TEXT NOT NULL
        )
        """,
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(RuntimeError):
    """The history database cannot be used (newer schema, corrupt file, unwritable folder)."""


class SlotTaken(StoreError):
    """A record for this schedule and slot exists already (another process or an earlier attempt)."""


class UnknownSchedule(KeyError):
    """No schedule has this id."""


_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def _to_db(moment: datetime | None) -> str | None:
    """Fixed-width UTC text, so SQL string order is time order."""
    return None if moment is None else as_utc(moment).strftime(_TIME_FORMAT)


def _from_db(text: str | None) -> datetime | None:
    return None if text is None else datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)


def _req(text: str) -> datetime:
    moment = _from_db(text)
    assert moment is not None
    return moment


class Store:
    """Schedules and run history in one sqlite3 file. Thread-safe: one connection per thread."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._migrate()

    @classmethod
    def in_dir(cls, data_dir: Path | str) -> Store:
        """The store in ``data_dir`` (created when missing)."""
        return cls(Path(data_dir) / DB_FILENAME)

    # -- connections -------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError("the schedule store is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                # Each connection is used by its own thread only; check_same_thread=False lets close()
                # shut them all from the thread that owns the store.
                conn = sqlite3.connect(
                    self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
                )
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    log.warning("sqlite refused WAL for %s (journal mode %s)", self.path, mode)
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA foreign_keys = ON")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open the schedule database {self.path}: {exc}") from exc
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken up front (BEGIN IMMEDIATE), so it never deadlocks on upgrade."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"the schedule database is busy or unwritable: {exc}") from exc
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def close(self) -> None:
        """Close every connection this store opened (in any thread)."""
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ------------------------------------------------------------------------------

    def _migrate(self) -> None:
        version = self.schema_version()
        if version == SCHEMA_VERSION:
            return
        with self._write() as conn:
            # Read again inside the write transaction: another process may have migrated meanwhile.
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} was written by a newer lhdesk (schema {version}, this one knows "
                    f"{SCHEMA_VERSION}); upgrade lhdesk or point it at another data folder"
                )
            for index in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[index]:
                    conn.execute(statement)
                log.info("schedule database %s migrated to schema %d", self.path, index + 1)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def schema_version(self) -> int:
        return int(self._conn().execute("PRAGMA user_version").fetchone()[0])

    def journal_mode(self) -> str:
        return str(self._conn().execute("PRAGMA journal_mode").fetchone()[0])

    def data_version(self) -> int:
        """Changes whenever *another* connection commits (cheap change detection for polling)."""
        return int(self._conn().execute("PRAGMA data_version").fetchone()[0])

    # -- schedules ---------------------------------------------------------------------------

    @staticmethod
    def _schedule_from_row(row: sqlite3.Row) -> Schedule:
        return Schedule(
            id=row["id"],
            name=row["name"],
            context=row["context"],
            cron=row["cron"],
            retain=int(row["retain"]),
            volume_backup_policy=row["volume_backup_policy"],
            enabled=bool(row["enabled"]),
            catch_up=row["catch_up"],
            grace=timedelta(seconds=float(row["grace_seconds"])),
            active_since=_req(row["active_since"]),
        )

    def add_schedule(self, schedule: Schedule) -> Schedule:
        """Insert a validated schedule; :class:`StoreError` if the id is taken."""
        schedule.validate()
        now = _to_db(utcnow())
        try:
            with self._write() as conn:
                conn.execute(
                    "INSERT INTO schedules (id, name, context, cron, retain, volume_backup_policy, enabled,"
                    " catch_up, grace_seconds, active_since, created, updated)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        schedule.id,
                        schedule.name,
                        schedule.context,
                        schedule.cron,
                        schedule.retain,
                        schedule.volume_backup_policy,
                        int(schedule.enabled),
                        schedule.catch_up,
                        schedule.grace.total_seconds(),
                        _to_db(schedule.active_since),
                        now,
                        now,
                    ),
                )
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"a schedule with id {schedule.id!r} exists already") from exc
        return schedule

    def update_schedule(self, schedule: Schedule, now: datetime | None = None) -> Schedule:
        """Save an edited schedule and return it as stored.

        ``active_since`` moves to ``now`` when the schedule is resumed or its cron changes, so
        neither the paused time nor the old cron's slots are caught up.
        """
        schedule.validate()
        moment = utcnow() if now is None else as_utc(now)
        with self._write() as conn:
            row = conn.execute("SELECT * FROM schedules WHERE id = ?", (schedule.id,)).fetchone()
            if row is None:
                raise UnknownSchedule(schedule.id)
            old = self._schedule_from_row(row)
            if (schedule.enabled and not old.enabled) or schedule.cron != old.cron:
                schedule = schedule.replace(active_since=max(moment, schedule.active_since))
            conn.execute(
                "UPDATE schedules SET name = ?, context = ?, cron = ?, retain = ?, volume_backup_policy = ?,"
                " enabled = ?, catch_up = ?, grace_seconds = ?, active_since = ?, updated = ? WHERE id = ?",
                (
                    schedule.name,
                    schedule.context,
                    schedule.cron,
                    schedule.retain,
                    schedule.volume_backup_policy,
                    int(schedule.enabled),
                    schedule.catch_up,
                    schedule.grace.total_seconds(),
                    _to_db(schedule.active_since),
                    _to_db(moment),
                    schedule.id,
                ),
            )
        return schedule

    def set_enabled(self, schedule_id: str, enabled: bool, now: datetime | None = None) -> Schedule:
        """Pause (False) or resume (True) a schedule; returns it as stored."""
        return self.update_schedule(self.get_schedule(schedule_id).replace(enabled=enabled), now)

    def remove_schedule(self, schedule_id: str) -> None:
        """Delete a schedule. Its run history stays (it is the record of what happened)."""
        with self._write() as conn:
            cursor = conn.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,))
            if cursor.rowcount == 0:
                raise UnknownSchedule(schedule_id)

    def get_schedule(self, schedule_id: str) -> Schedule:
        row = self._conn().execute("SELECT * FROM schedules WHERE id = ?", (schedule_id,)).fetchone()
        if row is None:
            raise UnknownSchedule(schedule_id)
        return self._schedule_from_row(row)

    def schedules(self) -> list[Schedule]:
        """Every schedule, by name."""
        rows = self._conn().execute("SELECT * FROM schedules ORDER BY name, id").fetchall()
        return [self._schedule_from_row(row) for row in rows]

    def find_schedule(self, id_or_name: str) -> Schedule:
        """The schedule with this id, or else the only one with this name."""
        try:
            return self.get_schedule(id_or_name)
        except UnknownSchedule:
            pass
        matches = [s for s in self.schedules() if s.name == id_or_name]
        if len(matches) == 1:
            return matches[0]
        if matches:
            ids = ", ".join(s.id for s in matches)
            raise UnknownSchedule(f"{id_or_name!r} names several schedules ({ids}); use the id")
        raise UnknownSchedule(id_or_name)

    # -- run history -------------------------------------------------------------------------

    @staticmethod
    def _run_from_row(row: sqlite3.Row) -> RunRecord:
        return RunRecord(
            id=int(row["id"]),
            kind=row["kind"],
            schedule_id=row["schedule_id"],
            context=row["context"],
            slot=_req(row["slot"]),
            started=_from_db(row["started"]),
            finished=_from_db(row["finished"]),
            outcome=row["outcome"],
            backup=row["backup"],
            message=row["message"],
            pruned=tuple(json.loads(row["pruned"])),
        )

    @staticmethod
    def _check(record: RunRecord) -> None:
        if record.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {record.outcome!r}")

    def record_run(self, record: RunRecord) -> RunRecord:
        """Insert a run record; returns it with its ``id``.

        Raises :class:`SlotTaken` when the schedule already has a record for this slot.
        """
        self._check(record)
        try:
            with self._write() as conn:
                cursor = conn.execute(
                    "INSERT INTO runs (kind, schedule_id, context, slot, started, finished, outcome, backup,"
                    " message, pruned) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        record.kind,
                        record.schedule_id,
                        record.context,
                        _to_db(record.slot),
                        _to_db(record.started),
                        _to_db(record.finished),
                        record.outcome,
                        record.backup,
                        record.message,
                        json.dumps(list(record.pruned)),
                    ),
                )
        except sqlite3.IntegrityError as exc:
            raise SlotTaken(
                f"schedule {record.schedule_id} already has a record for slot {_to_db(record.slot)}"
            ) from exc
        return record.replace(id=cursor.lastrowid)

    def update_run(self, record: RunRecord) -> RunRecord:
        """Overwrite the stored record with ``record.id``."""
        if record.id is None:
            raise ValueError("update_run needs a record read from the store (id is None)")
        self._check(record)
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE runs SET started = ?, finished = ?, outcome = ?, backup = ?, message = ?, pruned = ?"
                " WHERE id = ?",
                (
                    _to_db(record.started),
                    _to_db(record.finished),
                    record.outcome,
                    record.backup,
                    record.message,
                    json.dumps(list(record.pruned)),
                    record.id,
                ),
            )
            if cursor.rowcount == 0:
                raise StoreError(f"no run record with id {record.id}")
        return record

    def upsert_observed(self, record: RunRecord) -> tuple[RunRecord, bool]:
        """Insert or update an observed in-cluster run, keyed by (context, backup).

        Returns the stored record and whether anything changed (new, or outcome/message changed).
        """
        if record.kind != KIND_RECURRING_JOB:
            raise ValueError("upsert_observed takes recurring-job records only")
        self._check(record)
        with self._write() as conn:
            row = conn.execute(
                "SELECT * FROM runs WHERE kind = ? AND context = ? AND backup = ?",
                (KIND_RECURRING_JOB, record.context, record.backup),
            ).fetchone()
            if row is None:
                cursor = conn.execute(
                    "INSERT INTO runs (kind, schedule_id, context, slot, started, finished, outcome, backup,"
                    " message, pruned) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '[]')",
                    (
                        KIND_RECURRING_JOB,
                        record.schedule_id,
                        record.context,
                        _to_db(record.slot),
                        _to_db(record.started),
                        _to_db(record.finished),
                        record.outcome,
                        record.backup,
                        record.message,
                    ),
                )
                return record.replace(id=cursor.lastrowid), True
            old = self._run_from_row(row)
            if old.outcome == record.outcome and old.message == record.message:
                return old, False
            if old.is_final and not record.is_final:
                # A final outcome is history; a later in-progress reading cannot undo it.
                return old, False
            new = old.replace(
                outcome=record.outcome,
                message=record.message,
                finished=record.finished or old.finished,
            )
            conn.execute(
                "UPDATE runs SET outcome = ?, message = ?, finished = ? WHERE id = ?",
                (new.outcome, new.message, _to_db(new.finished), new.id),
            )
            return new, True

    def get_run(self, run_id: int) -> RunRecord:
        row = self._conn().execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"no run record with id {run_id}")
        return self._run_from_row(row)

    def run_for_slot(self, schedule_id: str, slot: datetime) -> RunRecord | None:
        row = (
            self._conn()
            .execute(
                "SELECT * FROM runs WHERE kind = ? AND schedule_id = ? AND slot = ?",
                (KIND_SCHEDULE, schedule_id, _to_db(slot)),
            )
            .fetchone()
        )
        return None if row is None else self._run_from_row(row)

    def last_slot(self, schedule_id: str) -> datetime | None:
        """The latest slot with any record (run, running, missed or skipped) for this schedule."""
        row = (
            self._conn()
            .execute(
                "SELECT MAX(slot) FROM runs WHERE kind = ? AND schedule_id = ?", (KIND_SCHEDULE, schedule_id)
            )
            .fetchone()
        )
        return _from_db(row[0])

    def last_slots(self) -> dict[str, datetime]:
        """Schedule id → latest recorded slot, for every schedule with history.

        Asked on every tick: one indexed search per schedule, whatever the size of the history.
        """
        rows = (
            self._conn()
            .execute(
                "SELECT s.id, (SELECT MAX(r.slot) FROM runs r"
                " WHERE r.kind = 'schedule' AND r.schedule_id = s.id) FROM schedules s"
            )
            .fetchall()
        )
        return {row[0]: _req(row[1]) for row in rows if row[1] is not None}

    def last_outcomes(self) -> dict[str, RunRecord]:
        """Schedule id → its latest run record that is not a missed/skipped summary."""
        rows = (
            self._conn()
            .execute(
                "SELECT r.* FROM schedules s JOIN runs r ON r.id = (SELECT r2.id FROM runs r2"
                " WHERE r2.kind = 'schedule' AND r2.schedule_id = s.id"
                " AND r2.outcome NOT IN ('missed', 'skipped') ORDER BY r2.slot DESC LIMIT 1)"
            )
            .fetchall()
        )
        return {row["schedule_id"]: self._run_from_row(row) for row in rows}

    def unfinished_runs(self) -> list[RunRecord]:
        """Runs of workstation schedules still marked ``running`` (interrupted, or in progress now)."""
        rows = (
            self._conn()
            .execute(
                "SELECT * FROM runs WHERE kind = ? AND outcome = 'running' ORDER BY slot", (KIND_SCHEDULE,)
            )
            .fetchall()
        )
        return [self._run_from_row(row) for row in rows]

    def history(
        self,
        *,
        schedule_id: str | None = None,
        context: str | None = None,
        outcomes: Iterable[str] | None = None,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[RunRecord]:
        """Run records, newest slot first, filtered by every argument given."""
        where: list[str] = []
        params: list[object] = []
        if schedule_id is not None:
            where.append("schedule_id = ?")
            params.append(schedule_id)
        if context is not None:
            where.append("context = ?")
            params.append(context)
        if outcomes is not None:
            wanted: Sequence[str] = tuple(outcomes)
            where.append(f"outcome IN ({', '.join('?' * len(wanted)) or 'NULL'})")
            params.extend(wanted)
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        if since is not None:
            where.append("slot >= ?")
            params.append(_to_db(since))
        if until is not None:
            where.append("slot <= ?")
            params.append(_to_db(until))
        sql = "SELECT * FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY slot DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [self._run_from_row(row) for row in self._conn().execute(sql, params).fetchall()]

    # -- freshness rules ---------------------------------------------------------------------

    def freshness_rules(self) -> list[FreshnessRule]:
        """Every freshness rule, by context."""
        rows = self._conn().execute("SELECT * FROM freshness_rules ORDER BY context").fetchall()
        return [
            FreshnessRule(row["context"], timedelta(seconds=float(row["max_age_seconds"]))) for row in rows
        ]

    def set_freshness_rule(self, rule: FreshnessRule) -> FreshnessRule:
        """Add or replace the rule of ``rule.context`` (one rule per context)."""
        rule.validate()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO freshness_rules (context, max_age_seconds, updated) VALUES (?, ?, ?)"
                " ON CONFLICT (context) DO UPDATE SET max_age_seconds = excluded.max_age_seconds,"
                " updated = excluded.updated",
                (rule.context, rule.max_age.total_seconds(), _to_db(utcnow())),
            )
        return rule

    def remove_freshness_rule(self, context: str) -> bool:
        """Remove the rule of ``context``; False when there was none."""
        with self._write() as conn:
            cursor = conn.execute("DELETE FROM freshness_rules WHERE context = ?", (context,))
        return cursor.rowcount > 0
