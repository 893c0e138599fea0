"""The RecurringJob table: one row per job, kept up to date from watch events without resets.

Everything a cell shows is computed once per change of its job (``JobRow``), so painting,
sorting and filtering read precomputed values. The rules (cron sentences, run times, which
volumes a job covers) come from ``lhdesk.core``; this module only arranges them in columns.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QSortFilterProxyModel,
    Qt,
)

from lhdesk.core import cron
from lhdesk.core.coverage import covered_volumes
from lhdesk.core.recurringjob import TASKS, ManifestError, RecurringJobSpec
from lhdesk.ui.jobs.watch import DELETED, WatchEvent, object_name
from lhdesk.ui.rowmodel import Index, RowTableModel

log = logging.getLogger(__name__)

SortRole = Qt.ItemDataRole.UserRole + 1
NameRole = Qt.ItemDataRole.UserRole + 2

#: Tasks whose runs move data (snapshots + backups, or a whole-system backup): drawn as heavy.
HEAVY_TASKS = frozenset({"backup", "backup-force-create", "system-backup"})
_NEVER = float("inf")


class Column(enum.IntEnum):
    NAME = 0
    TASK = 1
    SCHEDULE = 2
    NEXT_RUN = 3
    RETAIN = 4
    CONCURRENCY = 5
    GROUPS = 6
    LABELS = 7
    PARAMETERS = 8
    VOLUMES = 9
    EXECUTIONS = 10


_COLUMNS = len(Column)

HEADERS = {
    Column.NAME: "Name",
    Column.TASK: "Task",
    Column.SCHEDULE: "Schedule",
    Column.NEXT_RUN: "Next run",
    Column.RETAIN: "Retain",
    Column.CONCURRENCY: "Concurrency",
    Column.GROUPS: "Groups",
    Column.LABELS: "Labels",
    Column.PARAMETERS: "Parameters",
    Column.VOLUMES: "Volumes",
    Column.EXECUTIONS: "Executions",
}

HEADER_TIPS = {
    Column.SCHEDULE: "In the cluster's time zone (Longhorn sets none on its CronJobs: normally UTC)",
    Column.NEXT_RUN: "The next run in UTC, and in this computer's time zone",
    Column.VOLUMES: "How many volumes the job runs on (through its own label, its groups, or 'default')",
    Column.EXECUTIONS: "status.executionCount: how many times the job has fired",
}


# -- presentation helpers (pure) -------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleInfo:
    """A cron expression as the table shows it; ``schedule`` is None when it is invalid."""

    schedule: cron.CronSchedule | None
    sentence: str
    error: str = ""


_schedule_cache: dict[str, ScheduleInfo] = {}
_SCHEDULE_CACHE_MAX = 4096


def schedule_info(expr: str) -> ScheduleInfo:
    """Parse and describe a cron expression once per distinct text."""
    cached = _schedule_cache.get(expr)
    if cached is not None:
        return cached
    try:
        parsed = cron.parse(expr)
        info = ScheduleInfo(parsed, cron.describe(expr))
    except cron.CronError as exc:
        info = ScheduleInfo(None, "invalid schedule", str(exc))
    if len(_schedule_cache) >= _SCHEDULE_CACHE_MAX:
        _schedule_cache.clear()
    _schedule_cache[expr] = info
    return info


def parse_time(text: object) -> datetime | None:
    """A Kubernetes timestamp (``2026-12-04T21:00:00Z``) as an aware datetime, or None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def format_run(moment: datetime, now: datetime | None = None) -> str:
    """``2026-12-05 00:00 UTC · 01:00 CET`` (the local date too when it differs)."""
    utc = moment.astimezone(UTC)
    local = moment.astimezone()
    text = utc.strftime("%Y-%m-%d %H:%M UTC")
    local_zone = local.tzname() or "local"
    if local.utcoffset() == utc.utcoffset():
        return text
    if local.date() != utc.date():
        return f"{text} · {local.strftime('%a %d %b %H:%M')} {local_zone}"
    return f"{text} · {local.strftime('%H:%M')} {local_zone}"


def next_runs(
    schedule: cron.CronSchedule | None, now: datetime, count: int, anchor: datetime | None = None
) -> list[datetime]:
    """Up to ``count`` runs after ``now``; none for an invalid or never-running schedule."""
    if schedule is None or not schedule.can_run:
        return []
    try:
        return schedule.next_runs(now, count, anchor=anchor if schedule.is_every else None)
    except (cron.CronError, ValueError):
        return []


def _pairs(pairs: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"{key}={value}" for key, value in pairs)


@dataclass(frozen=True)
class JobRow:
    """One job, with the text and sort value of every column already worked out."""

    name: str
    obj: dict[str, Any]
    spec: RecurringJobSpec | None
    display: tuple[str, ...]
    sort: tuple[Any, ...]
    tips: tuple[str, ...]
    search: str
    next_run: datetime | None
    covered: tuple[str, ...]

    @property
    def task(self) -> str:
        return (
            self.spec.task if self.spec is not None else str((self.obj.get("spec") or {}).get("task") or "")
        )

    @property
    def cron(self) -> str:
        return self.spec.cron if self.spec is not None else ""


def build_row(obj: dict[str, Any], now: datetime, volumes: Mapping[str, Mapping[str, str]] | None) -> JobRow:
    """Everything the table shows for one RecurringJob object.

    ``volumes`` maps volume name -> labels; None when the volumes are not known (yet).
    """
    name = object_name(obj)
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    assert isinstance(status, dict)
    executions_raw = status.get("executionCount")
    executions = executions_raw if isinstance(executions_raw, int) else 0
    try:
        spec: RecurringJobSpec | None = RecurringJobSpec.from_manifest(obj)
    except ManifestError as exc:
        spec = None
        problem = str(exc)
    else:
        problem = ""
    if spec is None:
        text = ("", "", "", "", "", "", "", "", "", "", str(executions))
        display = (name, *text[1:])
        tips = (f"This object cannot be read: {problem}",) + ("",) * (len(Column) - 1)
        sort = (name, "", "", _NEVER, -1, -1, "", "", "", -1, executions)
        return JobRow(name, obj, None, display, sort, tips, name.lower(), None, ())

    info = TASKS.get(spec.task)
    sched = schedule_info(spec.cron)
    created = parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
    runs = next_runs(sched.schedule, now, 1, anchor=created)
    next_run = runs[0] if runs else None
    if sched.schedule is None:
        schedule_text = f"invalid: {spec.cron}"
        schedule_tip = sched.error
    else:
        schedule_text = f"{sched.sentence} ({spec.cron})"
        schedule_tip = "In the cluster's time zone, normally UTC."
        if sched.schedule.is_every:
            schedule_tip += " @every counts from when the job was created; the next run shown is approximate."
    if next_run is None:
        next_text = "never" if sched.schedule is not None else ""
    else:
        next_text = format_run(next_run, now)
    uses_volumes = info is None or info.uses_groups
    uses_concurrency = info is None or info.uses_concurrency
    if not uses_volumes:
        covered: tuple[str, ...] = ()
        volumes_text = "—"
        volumes_tip = "A system backup covers the whole Longhorn system, not chosen volumes."
        volumes_sort = -1
    elif volumes is None:
        covered = ()
        volumes_text = "…"
        volumes_tip = "Volumes not loaded yet."
        volumes_sort = -1
    else:
        covered = tuple(covered_volumes(spec.name, spec.groups, volumes, spec.task))
        volumes_text = str(len(covered))
        volumes_tip = "\n".join(covered) if covered else "No volume is covered by this job."
        volumes_sort = len(covered)
    task_tip = f"{info.title}: {info.description}" if info is not None else f"Unknown task {spec.task!r}"
    display = (
        spec.name,
        spec.task,
        schedule_text,
        next_text,
        str(spec.retain),
        str(spec.concurrency) if uses_concurrency else "—",
        ", ".join(spec.groups),
        _pairs(spec.labels),
        _pairs(spec.parameters),
        volumes_text,
        str(executions),
    )
    sort = (
        spec.name,
        spec.task,
        spec.cron,
        next_run.timestamp() if next_run is not None else _NEVER,
        spec.retain,
        spec.concurrency if uses_concurrency else -1,
        ", ".join(spec.groups),
        display[Column.LABELS],
        display[Column.PARAMETERS],
        volumes_sort,
        executions,
    )
    tips = (
        "",
        task_tip,
        schedule_tip,
        "Next run in UTC (the cluster's time) and in this computer's time zone" if next_run else "",
        "",
        "" if uses_concurrency else "A system backup ignores concurrency.",
        "",
        "Put on every snapshot and backup this job makes" if spec.labels else "",
        "",
        volumes_tip,
        "",
    )
    search = "\n".join(display).lower()
    return JobRow(spec.name or name, obj, spec, display, sort, tips, search, next_run, covered)


# -- the model -----------------------------------------------------------------------------------


class JobsTableModel(RowTableModel[JobRow]):
    """RecurringJobs of one context, in the order they arrived; sort and filter in the proxy.

    ``apply_snapshot`` and ``apply_events`` change only the rows that changed (insert, remove,
    dataChanged), so selection and scroll position survive a live update.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__([HEADERS[c] for c in Column], parent)
        self._index: dict[str, int] = {}
        self._volumes: dict[str, dict[str, str]] | None = None
        self._sort_column = -1
        self._sort_order = Qt.SortOrder.AscendingOrder

    # -- reading -------------------------------------------------------------------------------

    def row_of(self, name: str) -> int:
        """The row of a job, or -1."""
        return self._index.get(name, -1)

    def job(self, name: str) -> JobRow | None:
        row = self._index.get(name)
        return self._rows[row] if row is not None else None

    def search_text(self, row: int) -> str:
        return self._rows[row].search

    # -- Qt ------------------------------------------------------------------------------------

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Order the rows by a column's ``SortRole`` value (ties by name); new rows keep that order.

        The model sorts itself (a layout change, so selections follow their rows) because
        sorting in the proxy asks Python for two values per comparison: with 2,000 jobs that
        made every filter keystroke that brings rows back cost well over 100 ms.
        """
        self._sort_column = column if 0 <= column < _COLUMNS else -1
        self._sort_order = order
        self._resort()

    @property
    def sort_column(self) -> int:
        return self._sort_column

    @property
    def sort_order(self) -> Qt.SortOrder:
        return self._sort_order

    def _resort(self) -> None:
        column = self._sort_column
        if column < 0 or len(self._rows) < 2:
            return
        rows = self._rows
        descending = self._sort_order == Qt.SortOrder.DescendingOrder
        order = sorted(range(len(rows)), key=lambda r: _sort_key(rows[r], column), reverse=descending)
        if order == list(range(len(rows))):
            return
        self.layoutAboutToBeChanged.emit()
        new_row_of = {old: new for new, old in enumerate(order)}
        old_persistent = self.persistentIndexList()
        new_persistent = [
            self.index(new_row_of[index.row()], index.column()) if index.isValid() else QModelIndex()
            for index in old_persistent
        ]
        self._rows = [rows[r] for r in order]
        self._index = {job.name: row for row, job in enumerate(self._rows)}
        self.changePersistentIndexList(old_persistent, new_persistent)
        self.layoutChanged.emit()

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS.get(Column(section)) if 0 <= section < _COLUMNS else None
        return super().headerData(section, orientation, role)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row, column = index.row(), index.column()
        if not (0 <= row < len(self._rows) and 0 <= column < _COLUMNS):
            return None
        job = self._rows[row]
        if role == Qt.ItemDataRole.DisplayRole:
            return job.display[column]
        if role == SortRole:
            return job.sort[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return job.tips[column] or None
        if role == NameRole:
            return job.name
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (
            Column.RETAIN,
            Column.CONCURRENCY,
            Column.VOLUMES,
            Column.EXECUTIONS,
        ):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    # -- changing ------------------------------------------------------------------------------

    def clear(self) -> None:
        if not self._rows:
            return
        self.beginRemoveRows(QModelIndex(), 0, len(self._rows) - 1)
        self._rows = []
        self._index = {}
        self.endRemoveRows()

    def apply_snapshot(self, items: Sequence[dict[str, Any]], now: datetime | None = None) -> None:
        """Make the table hold exactly ``items`` (a fresh list), changing only what differs."""
        wanted = {object_name(obj): obj for obj in items if object_name(obj)}
        removals = set(self._index) - set(wanted)
        self._apply(wanted, removals, now)

    def apply_events(self, events: Sequence[WatchEvent], now: datetime | None = None) -> None:
        """Apply a batch of watch events; for each job only its last event counts."""
        upserts: dict[str, dict[str, Any]] = {}
        removals: set[str] = set()
        for event in events:
            name = event.name
            if not name:
                continue
            if event.type == DELETED:
                upserts.pop(name, None)
                removals.add(name)
            else:
                removals.discard(name)
                upserts[name] = event.object
        self._apply(upserts, removals, now)

    def set_volumes(
        self, volumes: Mapping[str, Mapping[str, str]] | None, now: datetime | None = None
    ) -> None:
        """The volumes (name -> labels) coverage is computed from; None when unknown."""
        self._volumes = None if volumes is None else {k: dict(v) for k, v in volumes.items()}
        if not self._rows:
            return
        moment = now or datetime.now(UTC)
        self._rows = [build_row(row.obj, moment, self._volumes) for row in self._rows]
        self.dataChanged.emit(self.index(0, Column.VOLUMES), self.index(len(self._rows) - 1, Column.VOLUMES))
        if self._sort_column == Column.VOLUMES:
            self._resort()

    def refresh_times(self, now: datetime | None = None) -> int:
        """Recompute the next run of jobs whose next run has passed; returns how many changed."""
        moment = now or datetime.now(UTC)
        changed = 0
        for row, job in enumerate(self._rows):
            if job.next_run is not None and job.next_run <= moment:
                self._rows[row] = build_row(job.obj, moment, self._volumes)
                self.dataChanged.emit(self.index(row, Column.NEXT_RUN), self.index(row, Column.NEXT_RUN))
                changed += 1
        if changed and self._sort_column == Column.NEXT_RUN:
            self._resort()
        return changed

    def _apply(
        self, upserts: Mapping[str, dict[str, Any]], removals: Iterable[str], now: datetime | None
    ) -> None:
        moment = now or datetime.now(UTC)
        doomed = sorted((self._index[name] for name in removals if name in self._index), reverse=True)
        # Remove contiguous runs of rows, bottom up, so earlier row numbers stay valid.
        start = 0
        while start < len(doomed):
            end = start
            while end + 1 < len(doomed) and doomed[end + 1] == doomed[end] - 1:
                end += 1
            last, first = doomed[start], doomed[end]
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._rows[first : last + 1]
            self.endRemoveRows()
            start = end + 1
        if doomed:
            self._index = {job.name: row for row, job in enumerate(self._rows)}
        added: list[JobRow] = []
        changed_rows: list[int] = []
        for name, obj in upserts.items():
            row = self._index.get(name)
            if row is None:
                added.append(build_row(obj, moment, self._volumes))
                continue
            if self._rows[row].obj == obj:
                continue
            self._rows[row] = build_row(obj, moment, self._volumes)
            changed_rows.append(row)
        for first, last in _runs(sorted(changed_rows)):
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(Column) - 1))
        if added:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
            for offset, job in enumerate(added):
                self._rows.append(job)
                self._index[job.name] = first + offset
            self.endInsertRows()
        if added or changed_rows:
            self._resort()


def _sort_key(job: JobRow, column: int) -> tuple[Any, str]:
    value = job.sort[column]
    return (value.casefold() if isinstance(value, str) else value, job.name)


def _runs(rows: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted row numbers as (first, last) runs of consecutive rows."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and runs[-1][1] == row - 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs


class JobsFilterProxy(QSortFilterProxyModel):
    """Keeps the rows whose text contains every filter word; sorting is passed to the source.

    ``sort`` asks ``JobsTableModel`` to order itself by ``SortRole`` values, so the proxy keeps
    the source order and a filter keystroke never sorts (see ``JobsTableModel.sort``). With
    another source model the proxy sorts on ``SortRole`` itself.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SortRole)
        self._words: tuple[str, ...] = ()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        model = self.sourceModel()
        if isinstance(model, JobsTableModel):
            model.sort(column, order)
        else:
            super().sort(column, order)

    @property
    def filter_text(self) -> str:
        return " ".join(self._words)

    def set_filter_text(self, text: str) -> None:
        words = tuple(text.lower().split())
        if words == self._words:
            return
        self.beginFilterChange()
        self._words = words
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        if not self._words:
            return True
        model = self.sourceModel()
        if not isinstance(model, JobsTableModel):
            return True
        text = model.search_text(source_row)
        return all(word in text for word in self._words)
