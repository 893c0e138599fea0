"""The Schedules page: workstation schedules, their run history, what runs next, and freshness rules.

Schedules are read from and written to the schedule store on the task runner (sqlite never runs
on the GUI thread); run now, pause and resume go to the scheduler thread through
:class:`lhdesk.ui.scheduler.SchedulerHost` when this window runs the schedules, and straight to
the store when another lhdesk process does (it reads the store at every tick). Due times, names,
validation and retention are :mod:`lhdesk.schedule`'s; this module only shows them.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QBrush, QColor, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListView,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from lhdesk.core import cron as core_cron
from lhdesk.schedule import due as due_mod
from lhdesk.schedule import freshness
from lhdesk.schedule.engine import RunFinished, RunStarted, ScheduleChanged
from lhdesk.schedule.model import (
    CATCH_UP_POLICIES,
    DEFAULT_CATCH_UP,
    DEFAULT_GRACE,
    DEFAULT_POLICY,
    KIND_RECURRING_JOB,
    OUTCOMES,
    RETAIN_MAX,
    RETAIN_MIN,
    VOLUME_BACKUP_POLICIES,
    RunRecord,
    Schedule,
    utcnow,
)
from lhdesk.schedule.naming import new_schedule_id
from lhdesk.schedule.store import Store
from lhdesk.ui.cronfield import CronField, format_run
from lhdesk.ui.pages import Page
from lhdesk.ui.rowmodel import Index, RowTableModel
from lhdesk.ui.scheduler import CommandFailed, FreshnessChecked, HostStatus, SchedulerHost
from lhdesk.ui.session import ClusterSession, ContextStatus
from lhdesk.ui.tasks import Outcome, TaskRunner

log = logging.getLogger(__name__)

SortRole = Qt.ItemDataRole.UserRole + 1
#: Returns the RecurringJob objects (dicts as the API gives them) of a context; called off the GUI thread.
RecurringJobsFn = Callable[[str], Sequence[Mapping[str, Any]]]

HISTORY_LIMIT = 5000
UPCOMING_PER_SOURCE = 5
UPCOMING_LIMIT = 40
_NEVER = float("inf")

OUTCOME_COLOURS = {
    "ready": "#2e7d32",
    "adopted": "#2e7d32",
    "error": "#c62828",
    "missed": "#ef6c00",
    "skipped": "#ef6c00",
    "running": "#1565c0",
}
CATCH_UP_LABELS = {
    "skip": "Skip missed slots",
    "run-once": "Run the newest missed slot once, within the grace window",
}


def slot_runs(expr: str, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` slots of a workstation schedule's cron (``@every`` anchored as the engine does)."""
    runs: list[datetime] = []
    current = after
    for _ in range(count):
        following = due_mod.next_slot_after(expr, current)
        if following is None:
            break
        runs.append(following)
        current = following
    return runs


def describe_cron(expr: str) -> str:
    try:
        return core_cron.describe(expr)
    except core_cron.CronError as exc:
        return f"invalid: {exc}"


def _stamp(moment: datetime | None) -> float:
    return _NEVER if moment is None else moment.timestamp()


def _short(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# -- data read on the task runner ---------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What the page shows, read from the store in one go (off the GUI thread)."""

    schedules: tuple[Schedule, ...]
    last_slots: Mapping[str, datetime]
    last_outcomes: Mapping[str, RunRecord]
    history: tuple[RunRecord, ...]
    rules: tuple[freshness.FreshnessRule, ...] = ()


def read_snapshot(store: Store, history_limit: int = HISTORY_LIMIT) -> Snapshot:
    return Snapshot(
        schedules=tuple(store.schedules()),
        last_slots=store.last_slots(),
        last_outcomes=store.last_outcomes(),
        history=tuple(store.history(limit=history_limit)),
        rules=tuple(store.freshness_rules()),
    )


# -- the schedules table ------------------------------------------------------------------------


class ScheduleColumn(enum.IntEnum):
    NAME = 0
    CONTEXT = 1
    SCHEDULE = 2
    NEXT_RUN = 3
    RETAIN = 4
    POLICY = 5
    LAST_OUTCOME = 6
    ENABLED = 7


SCHEDULE_HEADERS = {
    ScheduleColumn.NAME: "Name",
    ScheduleColumn.CONTEXT: "Context",
    ScheduleColumn.SCHEDULE: "Schedule (UTC)",
    ScheduleColumn.NEXT_RUN: "Next run",
    ScheduleColumn.RETAIN: "Retain",
    ScheduleColumn.POLICY: "Volume backups",
    ScheduleColumn.LAST_OUTCOME: "Last outcome",
    ScheduleColumn.ENABLED: "Enabled",
}


@dataclass(frozen=True)
class ScheduleRow:
    schedule: Schedule
    next_run: datetime | None = None
    last: RunRecord | None = None
    running: bool = False


class SchedulesTableModel(RowTableModel[ScheduleRow]):
    """One row per workstation schedule."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__([SCHEDULE_HEADERS[c] for c in ScheduleColumn], parent)

    def set_rows(self, rows: Sequence[ScheduleRow]) -> None:
        """Replace the rows; when the same schedules are listed, only their cells change."""
        new = list(rows)
        if [r.schedule.id for r in new] == [r.schedule.id for r in self._rows]:
            self._rows = new
            self.rows_changed()
        else:
            self.reset_rows(new)

    def find(self, schedule_id: str) -> int:
        for row, item in enumerate(self._rows):
            if item.schedule.id == schedule_id:
                return row
        return -1

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self._rows[index.row()]
        s = item.schedule
        column = ScheduleColumn(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            if column is ScheduleColumn.NAME:
                return s.name
            if column is ScheduleColumn.CONTEXT:
                return s.context
            if column is ScheduleColumn.SCHEDULE:
                return describe_cron(s.cron)
            if column is ScheduleColumn.NEXT_RUN:
                if item.running:
                    return "running now"
                if not s.enabled:
                    return "paused"
                return format_run(item.next_run) if item.next_run else "never"
            if column is ScheduleColumn.RETAIN:
                return s.retain
            if column is ScheduleColumn.POLICY:
                return s.volume_backup_policy
            if column is ScheduleColumn.LAST_OUTCOME:
                if item.last is None:
                    return "never run"
                return f"{item.last.outcome} · {_short(item.last.slot)}"
            if column is ScheduleColumn.ENABLED:
                return "enabled" if s.enabled else "paused"
        if role == SortRole:
            values: dict[ScheduleColumn, Any] = {
                ScheduleColumn.NAME: s.name.lower(),
                ScheduleColumn.CONTEXT: s.context,
                ScheduleColumn.SCHEDULE: s.cron,
                ScheduleColumn.NEXT_RUN: _stamp(item.next_run) if s.enabled else _NEVER,
                ScheduleColumn.RETAIN: s.retain,
                ScheduleColumn.POLICY: s.volume_backup_policy,
                ScheduleColumn.LAST_OUTCOME: item.last.outcome if item.last else "",
                ScheduleColumn.ENABLED: int(s.enabled),
            }
            return values[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            if column is ScheduleColumn.NAME:
                return f"Schedule id {s.id}"
            if column is ScheduleColumn.SCHEDULE:
                grace = f" within {s.grace}" if s.catch_up == "run-once" else ""
                return f"cron {s.cron} (UTC); missed slots: {s.catch_up}{grace}"
            if column is ScheduleColumn.LAST_OUTCOME and item.last is not None:
                return item.last.message
            if column is ScheduleColumn.NEXT_RUN and item.next_run is not None and s.enabled:
                return core_cron.format_utc(item.next_run)
        if role == Qt.ItemDataRole.ForegroundRole:
            if column is ScheduleColumn.LAST_OUTCOME and item.last is not None:
                return QBrush(QColor(OUTCOME_COLOURS.get(item.last.outcome, "#757575")))
            if column is ScheduleColumn.ENABLED and not s.enabled:
                return QBrush(QColor("#757575"))
        if role == Qt.ItemDataRole.TextAlignmentRole and column is ScheduleColumn.RETAIN:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


# -- the run history ----------------------------------------------------------------------------


class HistoryColumn(enum.IntEnum):
    SLOT = 0
    SCHEDULE = 1
    CONTEXT = 2
    OUTCOME = 3
    MESSAGE = 4
    BACKUP = 5
    DURATION = 6
    PRUNED = 7


HISTORY_HEADERS = {
    HistoryColumn.SLOT: "Slot (UTC)",
    HistoryColumn.SCHEDULE: "Schedule",
    HistoryColumn.CONTEXT: "Context",
    HistoryColumn.OUTCOME: "Outcome",
    HistoryColumn.BACKUP: "System backup",
    HistoryColumn.DURATION: "Took",
    HistoryColumn.PRUNED: "Pruned",
    HistoryColumn.MESSAGE: "Message",
}
#: The role that gives a row's schedule filter key ("schedule:<id>" or "job:<name>").
ScheduleKeyRole = Qt.ItemDataRole.UserRole + 2


def schedule_key(record: RunRecord) -> str:
    prefix = "job" if record.kind == KIND_RECURRING_JOB else "schedule"
    return f"{prefix}:{record.schedule_id}"


def _took(record: RunRecord) -> timedelta | None:
    if record.started is None or record.finished is None:
        return None
    return max(timedelta(0), record.finished - record.started)


def short_message(record: RunRecord) -> str:
    """The message without the backup name it usually starts with (the next column shows it)."""
    text = record.message
    if record.backup and text.startswith(record.backup + " "):
        text = text[len(record.backup) + 1 :]
        text = text[3:] if text.startswith("is ") else text
        text = text[:1].upper() + text[1:]
    return text


def _format_span(span: timedelta | None) -> str:
    if span is None:
        return ""
    seconds = int(span.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


class RunHistoryModel(RowTableModel[RunRecord]):
    """Run records, newest first; live updates replace a record by id or add it on top."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__([HISTORY_HEADERS[c] for c in HistoryColumn], parent)
        self._names: dict[str, str] = {}

    def set_names(self, names: Mapping[str, str]) -> None:
        """Schedule id -> name, for the Schedule column."""
        self._names = dict(names)
        self.rows_changed(column=HistoryColumn.SCHEDULE)

    def upsert(self, record: RunRecord) -> None:
        if record.id is not None:
            for row, old in enumerate(self._rows):
                if old.id == record.id:
                    self.replace_row(row, record)
                    return
        self.prepend_row(record)

    def schedule_label(self, record: RunRecord) -> str:
        if record.kind == KIND_RECURRING_JOB:
            return f"RecurringJob {record.schedule_id}"
        name = self._names.get(record.schedule_id)
        return name if name is not None else f"{record.schedule_id} (removed)"

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r = self._rows[index.row()]
        column = HistoryColumn(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            values: dict[HistoryColumn, str] = {
                HistoryColumn.SLOT: _short(r.slot),
                HistoryColumn.SCHEDULE: self.schedule_label(r),
                HistoryColumn.CONTEXT: r.context,
                HistoryColumn.OUTCOME: r.outcome,
                HistoryColumn.BACKUP: r.backup,
                HistoryColumn.DURATION: _format_span(_took(r)),
                HistoryColumn.PRUNED: ", ".join(r.pruned),
                HistoryColumn.MESSAGE: short_message(r),
            }
            return values[column]
        if role == SortRole:
            sort_values: dict[HistoryColumn, Any] = {
                HistoryColumn.SLOT: r.slot.timestamp(),
                HistoryColumn.SCHEDULE: self.schedule_label(r).lower(),
                HistoryColumn.CONTEXT: r.context,
                HistoryColumn.OUTCOME: r.outcome,
                HistoryColumn.BACKUP: r.backup,
                HistoryColumn.DURATION: (_took(r) or timedelta(0)).total_seconds(),
                HistoryColumn.PRUNED: len(r.pruned),
                HistoryColumn.MESSAGE: r.message,
            }
            return sort_values[column]
        if role == ScheduleKeyRole:
            return schedule_key(r)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column in (HistoryColumn.MESSAGE, HistoryColumn.OUTCOME):
                return r.message
            if column in (HistoryColumn.BACKUP, HistoryColumn.SCHEDULE):
                return r.backup if column is HistoryColumn.BACKUP else self.schedule_label(r)
            if column is HistoryColumn.PRUNED and r.pruned:
                return "Deleted by this run's retention:\n" + "\n".join(r.pruned)
        if role == Qt.ItemDataRole.ForegroundRole and column is HistoryColumn.OUTCOME:
            return QBrush(QColor(OUTCOME_COLOURS.get(r.outcome, "#757575")))
        return None


class RunHistoryFilter(QSortFilterProxyModel):
    """Filters the run history by schedule key, context and outcome (None = all)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._schedule: str | None = None
        self._context: str | None = None
        self._outcome: str | None = None
        self.setSortRole(SortRole)

    def set_filters(self, schedule: str | None, context: str | None, outcome: str | None) -> None:
        self.beginFilterChange()
        self._schedule, self._context, self._outcome = schedule, context, outcome
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        if not isinstance(model, RunHistoryModel):
            return True
        record = model.row_at(source_row)
        if self._schedule is not None and schedule_key(record) != self._schedule:
            return False
        if self._context is not None and record.context != self._context:
            return False
        return self._outcome is None or record.outcome == self._outcome


# -- upcoming runs ------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class UpcomingRun:
    """One future run: of a workstation schedule, or of a RecurringJob in the current cluster."""

    when: datetime
    label: str = field(compare=False)
    detail: str = field(compare=False)
    source: str = field(compare=False)  # "workstation" or "cluster"


def upcoming_from_schedules(schedules: Sequence[Schedule], now: datetime, per: int) -> list[UpcomingRun]:
    runs: list[UpcomingRun] = []
    for s in schedules:
        if not s.enabled:
            continue
        for when in slot_runs(s.cron, now, per):
            runs.append(
                UpcomingRun(
                    when,
                    s.name,
                    f"workstation schedule · system backup of {s.context} · retain {s.retain}",
                    "workstation",
                )
            )
    return runs


def upcoming_from_jobs(
    jobs: Sequence[Mapping[str, Any]], context: str, now: datetime, per: int
) -> list[UpcomingRun]:
    runs: list[UpcomingRun] = []
    for job in jobs:
        spec = job.get("spec") or {}
        meta = job.get("metadata") or {}
        name = str(spec.get("name") or meta.get("name") or "")
        cron = str(spec.get("cron") or "")
        task = str(spec.get("task") or "")
        try:
            parsed = core_cron.parse(cron)
            anchor = None
            if parsed.every is not None:
                created = meta.get("creationTimestamp")
                anchor = datetime.fromisoformat(str(created).replace("Z", "+00:00")) if created else None
            times = parsed.next_runs(now, per, anchor)
        except (core_cron.CronError, ValueError):
            continue
        detail = f"RecurringJob · {task or 'task?'} in {context} · retain {spec.get('retain', '?')}"
        runs.extend(UpcomingRun(when, name, detail, "cluster") for when in times)
    return runs


class UpcomingModel(QAbstractListModel):
    """The next runs, soonest first."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[UpcomingRun] = []

    def set_runs(self, runs: Sequence[UpcomingRun]) -> None:
        self.beginResetModel()
        self._rows = sorted(runs)[:UPCOMING_LIMIT]
        self.endResetModel()

    def runs(self) -> tuple[UpcomingRun, ...]:
        return tuple(self._rows)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        run = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{format_run(run.when)}   {run.label}   —   {run.detail}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return core_cron.format_utc(run.when)
        if role == SortRole:
            return run.when.timestamp()
        if role == Qt.ItemDataRole.ForegroundRole and run.source == "cluster":
            return QBrush(QColor("#6d4c41"))
        return None


# -- freshness ----------------------------------------------------------------------------------


class FreshnessColumn(enum.IntEnum):
    CONTEXT = 0
    RULE = 1
    STATE = 2
    DETAIL = 3


FRESHNESS_HEADERS = {
    FreshnessColumn.CONTEXT: "Context",
    FreshnessColumn.RULE: "Alert when no Ready system backup is newer than",
    FreshnessColumn.STATE: "State",
    FreshnessColumn.DETAIL: "Last check",
}


def _rule_hours(rule: freshness.FreshnessRule) -> int:
    return round(rule.max_age.total_seconds() / 3600)


class FreshnessTableModel(RowTableModel[freshness.FreshnessRule]):
    """One row per freshness rule, with the latest check of it."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__([FRESHNESS_HEADERS[c] for c in FreshnessColumn], parent)
        self._statuses: dict[str, freshness.FreshnessStatus] = {}

    def set_rules(self, rules: Sequence[freshness.FreshnessRule]) -> None:
        self.reset_rows(sorted(rules, key=lambda r: r.context))

    def set_statuses(self, statuses: Sequence[freshness.FreshnessStatus]) -> None:
        self._statuses.update({s.context: s for s in statuses})
        self.rows_changed()

    def status(self, context: str) -> freshness.FreshnessStatus | None:
        return self._statuses.get(context)

    def _state(self, status: freshness.FreshnessStatus | None) -> str:
        if status is None:
            return "not checked yet"
        if status.error:
            return "cannot check"
        return "STALE" if status.breached else "fresh"

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        rule = self._rows[index.row()]
        status = self._statuses.get(rule.context)
        if status is not None and status.max_age != rule.max_age:
            status = None  # checked under the old rule
        column = FreshnessColumn(index.column())
        if role in (Qt.ItemDataRole.DisplayRole, SortRole):
            if column is FreshnessColumn.CONTEXT:
                return rule.context
            if column is FreshnessColumn.RULE:
                hours = _rule_hours(rule)
                return hours if role == SortRole else f"{hours} hour{'s' if hours != 1 else ''}"
            if column is FreshnessColumn.STATE:
                return self._state(status)
            if column is FreshnessColumn.DETAIL:
                return "" if status is None else status.describe()
        if role == Qt.ItemDataRole.ForegroundRole and column is FreshnessColumn.STATE and status is not None:
            colour = "#ef6c00" if status.error else "#c62828" if status.breached else "#2e7d32"
            return QBrush(QColor(colour))
        return None


# -- dialogs ------------------------------------------------------------------------------------


def _error_label(name: str, parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setStyleSheet("color: #c62828;")
    label.hide()
    return label


FIELD_LABELS = {
    "name": "Name",
    "context": "Context",
    "cron": "Schedule",
    "retain": "Retain",
    "volume_backup_policy": "Volume backups",
    "catch_up": "Missed slots",
    "grace": "Grace window",
}


class ScheduleEditor(QDialog):
    """Create or edit a workstation schedule; Save stays disabled, saying why, until it is valid.

    The rules are :meth:`lhdesk.schedule.model.Schedule.problems`, shown beside each field.
    """

    def __init__(
        self,
        contexts: Sequence[str],
        schedule: Schedule | None = None,
        *,
        taken_ids: frozenset[str] = frozenset(),
        default_context: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("scheduleEditor")
        self.setWindowTitle("Edit schedule" if schedule else "New schedule")
        self.setMinimumWidth(560)
        self._original = schedule
        self._taken = taken_ids

        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("scheduleNameEdit")
        self.name_edit.setAccessibleName("Schedule name")
        self.name_edit.setPlaceholderText("e.g. Nightly system backup")
        self.context_combo = QComboBox(self)
        self.context_combo.setObjectName("scheduleContextCombo")
        self.context_combo.setAccessibleName("Kubeconfig context")
        for name in contexts:
            self.context_combo.addItem(name, name)
        self.cron_field = CronField(self, next_runs=slot_runs)
        self.retain_spin = QSpinBox(self)
        self.retain_spin.setObjectName("scheduleRetainSpin")
        self.retain_spin.setAccessibleName("Backups to retain")
        self.retain_spin.setRange(RETAIN_MIN, RETAIN_MAX)
        self.retain_spin.setToolTip(
            f"How many of this schedule's Ready/Error system backups to keep ({RETAIN_MIN}-{RETAIN_MAX}); "
            "failed ones are pruned first, then the oldest"
        )
        self.policy_combo = QComboBox(self)
        self.policy_combo.setObjectName("schedulePolicyCombo")
        self.policy_combo.setAccessibleName("Volume backup policy")
        for policy in VOLUME_BACKUP_POLICIES:
            self.policy_combo.addItem(policy, policy)
        self.policy_combo.setToolTip(
            "if-not-present: back up volumes without a recent backup; always: back up every volume; "
            "disabled: no volume backups"
        )
        self.catch_up_combo = QComboBox(self)
        self.catch_up_combo.setObjectName("scheduleCatchUpCombo")
        self.catch_up_combo.setAccessibleName("Missed slots policy")
        for policy in CATCH_UP_POLICIES:
            self.catch_up_combo.addItem(CATCH_UP_LABELS.get(policy, policy), policy)
        self.grace_spin = QSpinBox(self)
        self.grace_spin.setObjectName("scheduleGraceSpin")
        self.grace_spin.setAccessibleName("Grace window in minutes")
        self.grace_spin.setRange(1, 7 * 24 * 60)
        self.grace_spin.setSuffix(" min")
        self.enabled_check = QCheckBox("Enabled (uncheck to create it paused)", self)
        self.enabled_check.setObjectName("scheduleEnabledCheck")

        self.errors = {
            key: _error_label(f"schedule{key.title().replace('_', '')}Error", self) for key in FIELD_LABELS
        }
        form = QFormLayout()
        form.addRow("&Name", self._with_error(self.name_edit, "name"))
        form.addRow("&Context", self._with_error(self.context_combo, "context"))
        form.addRow("&Schedule", self._with_error(self.cron_field, "cron"))
        form.addRow("&Retain", self._with_error(self.retain_spin, "retain"))
        form.addRow("&Volume backups", self._with_error(self.policy_combo, "volume_backup_policy"))
        form.addRow("&Missed slots", self._with_error(self.catch_up_combo, "catch_up"))
        form.addRow("&Grace window", self._with_error(self.grace_spin, "grace"))
        form.addRow("", self.enabled_check)

        self.reason_label = QLabel(self)
        self.reason_label.setObjectName("scheduleSaveReason")
        self.reason_label.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        save.setObjectName("scheduleSaveButton")
        self.save_button: QPushButton = save
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.reason_label)
        layout.addWidget(self.buttons)

        if schedule is not None:
            self.name_edit.setText(schedule.name)
            if self.context_combo.findData(schedule.context) < 0:
                self.context_combo.addItem(f"{schedule.context} (not in the kubeconfig)", schedule.context)
            self.context_combo.setCurrentIndex(self.context_combo.findData(schedule.context))
            self.cron_field.set_expression(schedule.cron)
            self.retain_spin.setValue(schedule.retain)
            self.policy_combo.setCurrentIndex(self.policy_combo.findData(schedule.volume_backup_policy))
            self.catch_up_combo.setCurrentIndex(self.catch_up_combo.findData(schedule.catch_up))
            self.grace_spin.setValue(max(1, round(schedule.grace.total_seconds() / 60)))
            self.enabled_check.setChecked(schedule.enabled)
            self.enabled_check.setText("Enabled")
        else:
            if default_context and self.context_combo.findData(default_context) >= 0:
                self.context_combo.setCurrentIndex(self.context_combo.findData(default_context))
            self.cron_field.set_expression("0 2 * * *")
            self.retain_spin.setValue(7)
            self.policy_combo.setCurrentIndex(self.policy_combo.findData(DEFAULT_POLICY))
            self.catch_up_combo.setCurrentIndex(self.catch_up_combo.findData(DEFAULT_CATCH_UP))
            self.grace_spin.setValue(round(DEFAULT_GRACE.total_seconds() / 60))
            self.enabled_check.setChecked(True)

        self.name_edit.textChanged.connect(self._validate)
        self.context_combo.currentIndexChanged.connect(self._validate)
        self.cron_field.changed.connect(self._validate)
        self.retain_spin.valueChanged.connect(self._validate)
        self.policy_combo.currentIndexChanged.connect(self._validate)
        self.catch_up_combo.currentIndexChanged.connect(self._validate)
        self.grace_spin.valueChanged.connect(self._validate)
        self._validate()

    def _with_error(self, widget: QWidget, key: str) -> QWidget:
        box = QWidget(self)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(widget)
        layout.addWidget(self.errors[key])
        return box

    def schedule(self) -> Schedule:
        """The schedule as filled in (a new one gets a fresh id from its name)."""
        name = self.name_edit.text().strip()
        context = self.context_combo.currentData()
        if self._original is not None:
            ident = self._original.id
            active_since = self._original.active_since
        else:
            ident = new_schedule_id(name, set(self._taken))
            active_since = utcnow()
        return Schedule(
            id=ident,
            name=name,
            context=context if isinstance(context, str) else "",
            cron=self.cron_field.expression(),
            retain=self.retain_spin.value(),
            volume_backup_policy=str(self.policy_combo.currentData()),
            enabled=self.enabled_check.isChecked(),
            catch_up=str(self.catch_up_combo.currentData()),
            grace=timedelta(minutes=self.grace_spin.value()),
            active_since=active_since,
        )

    def problems(self) -> dict[str, str]:
        found = self.schedule().problems()
        found.pop("id", None)  # made from the name; never the user's mistake
        if self.cron_field.problem() and "cron" not in found:
            found["cron"] = self.cron_field.problem() or ""
        if self.context_combo.count() == 0:
            found["context"] = "no kubeconfig context to run against (add one to your kubeconfig)"
        return found

    @Slot()
    def _validate(self) -> None:
        found = self.problems()
        self.grace_spin.setEnabled(self.catch_up_combo.currentData() == "run-once")
        for key, label in self.errors.items():
            message = found.get(key, "")
            if key == "cron":
                message = ""  # the cron field shows its own error in place
            label.setText(message)
            label.setVisible(bool(message))
        self.save_button.setEnabled(not found)
        if found:
            first_key = next(iter(found))
            reason = f"Save is disabled: {FIELD_LABELS.get(first_key, first_key).lower()} {found[first_key]}"
            if len(found) > 1:
                reason += f" (and {len(found) - 1} more)"
            self.reason_label.setText(reason)
            self.save_button.setToolTip(reason)
        else:
            self.reason_label.setText("")
            self.save_button.setToolTip("Save the schedule")
        self.reason_label.setVisible(bool(found))


class FreshnessRuleDialog(QDialog):
    """Set the freshness rule of one context."""

    def __init__(
        self,
        contexts: Sequence[str],
        rule: freshness.FreshnessRule | None = None,
        default_context: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("freshnessRuleDialog")
        self.setWindowTitle("Freshness alert")
        self.context_combo = QComboBox(self)
        self.context_combo.setObjectName("freshnessContextCombo")
        for name in contexts:
            self.context_combo.addItem(name, name)
        self.hours_spin = QSpinBox(self)
        self.hours_spin.setObjectName("freshnessHoursSpin")
        self.hours_spin.setRange(freshness.MIN_HOURS, freshness.MAX_HOURS)
        self.hours_spin.setSuffix(" hours")
        self.hours_spin.setValue(freshness.DEFAULT_HOURS)
        wanted = rule.context if rule is not None else default_context
        if wanted:
            if self.context_combo.findData(wanted) < 0:
                self.context_combo.addItem(wanted, wanted)
            self.context_combo.setCurrentIndex(self.context_combo.findData(wanted))
        if rule is not None:
            self.hours_spin.setValue(_rule_hours(rule))
        form = QFormLayout()
        form.addRow("&Context", self.context_combo)
        form.addRow("Alert when no &Ready system backup is newer than", self.hours_spin)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setObjectName("freshnessSaveButton")
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(self.context_combo.count() > 0)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)

    def rule(self) -> freshness.FreshnessRule:
        return freshness.FreshnessRule(
            str(self.context_combo.currentData()), timedelta(hours=self.hours_spin.value())
        )


# -- the page -----------------------------------------------------------------------------------


class SchedulesPage(Page):
    """Workstation schedules: the table, actions, run history, upcoming runs and freshness rules.

    Signals:
        changed(): the page saved a change to the store (the scheduler was told to reload).
    """

    changed = Signal()
    name = "schedules"
    title = "Schedules"

    def __init__(
        self,
        store: Store,
        host: SchedulerHost,
        tasks: TaskRunner,
        session: ClusterSession | None = None,
        recurring_jobs: RecurringJobsFn | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.host = host
        self._tasks = tasks
        self._session = session
        self._recurring_jobs = recurring_jobs
        self._snapshot: Snapshot | None = None
        self._jobs: list[UpcomingRun] = []
        self._jobs_context: str | None = None
        self._snapshot_pending = False
        self._jobs_pending = False
        self._dialog: QDialog | None = None
        self._pending_select: str | None = None
        self._complete_picture = False

        # models and views
        self.model = SchedulesTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SortRole)
        self.table = QTableView(self)
        self.table.setObjectName("schedulesTable")
        self.table.setAccessibleName("Workstation schedules")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(ScheduleColumn.NAME, Qt.SortOrder.AscendingOrder)
        self._setup_table(self.table, ScheduleColumn.SCHEDULE)
        self.table.activated.connect(self._on_edit)

        self.history_model = RunHistoryModel(self)
        self.history_proxy = RunHistoryFilter(self)
        self.history_proxy.setSourceModel(self.history_model)
        self.history_table = QTableView(self)
        self.history_table.setObjectName("runHistoryTable")
        self.history_table.setAccessibleName("Run history")
        self.history_table.setModel(self.history_proxy)
        self.history_table.setSortingEnabled(True)
        self.history_table.sortByColumn(HistoryColumn.SLOT, Qt.SortOrder.DescendingOrder)
        self._setup_table(self.history_table, HistoryColumn.MESSAGE)
        # Names are long; the message is what a reader wants: give it the room.
        history_header = self.history_table.horizontalHeader()
        for column, width in ((HistoryColumn.SCHEDULE, 170), (HistoryColumn.BACKUP, 150)):
            history_header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            history_header.resizeSection(column, width)
        self.history_table.setWordWrap(False)
        self.run_details = QLabel(self)
        self.run_details.setObjectName("runDetails")
        self.run_details.setWordWrap(True)
        self.run_details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.history_schedule_filter = self._filter_combo("historyScheduleFilter", "Filter by schedule")
        self.history_context_filter = self._filter_combo("historyContextFilter", "Filter by context")
        self.history_outcome_filter = self._filter_combo("historyOutcomeFilter", "Filter by outcome")
        self.history_outcome_filter.addItem("All outcomes", None)
        for outcome in OUTCOMES:
            self.history_outcome_filter.addItem(outcome, outcome)

        self.upcoming_model = UpcomingModel(self)
        self.upcoming_list = QListView(self)
        self.upcoming_list.setObjectName("upcomingList")
        self.upcoming_list.setAccessibleName("Upcoming runs")
        self.upcoming_list.setModel(self.upcoming_model)
        self.upcoming_list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.upcoming_notice = QLabel(self)
        self.upcoming_notice.setObjectName("upcomingNotice")
        self.upcoming_notice.setWordWrap(True)

        self.freshness_model = FreshnessTableModel(self)
        self.freshness_table = QTableView(self)
        self.freshness_table.setObjectName("freshnessTable")
        self.freshness_table.setAccessibleName("Freshness alerts")
        self.freshness_table.setModel(self.freshness_model)
        self._setup_table(self.freshness_table, FreshnessColumn.DETAIL)

        # actions
        self.new_action = self.make_action(
            "&New…",
            "newScheduleAction",
            "Create a workstation schedule",
            self._on_new,
            QKeySequence.StandardKey.New,
        )
        self.edit_action = self.make_action(
            "&Edit…", "editScheduleAction", "Edit the selected schedule", self._on_edit
        )
        self.delete_action = self.make_action(
            "&Delete…",
            "deleteScheduleAction",
            "Delete the selected schedule (its history stays)",
            self._on_delete,
            QKeySequence.StandardKey.Delete,
        )
        self.run_now_action = self.make_action(
            "&Run now", "runNowAction", "Take a system backup for the selected schedule now", self._on_run_now
        )
        self.pause_action = self.make_action(
            "&Pause", "pauseScheduleAction", "Pause or resume the selected schedule", self._on_pause_resume
        )
        self.set_rule_action = self.make_action(
            "Freshness &alert…",
            "setFreshnessRuleAction",
            "Alert when a context has no recent Ready system backup",
            self._on_set_rule,
        )
        self.remove_rule_action = self.make_action(
            "Remove alert",
            "removeFreshnessRuleAction",
            "Remove the selected freshness alert",
            self._on_remove_rule,
        )
        toolbar = QToolBar(self)
        toolbar.setObjectName("schedulesToolBar")
        for action in (self.new_action, self.edit_action, self.delete_action):
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addAction(self.run_now_action)
        toolbar.addAction(self.pause_action)
        toolbar.addSeparator()
        toolbar.addAction(self.set_rule_action)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.table.addActions([self.edit_action, self.run_now_action, self.pause_action, self.delete_action])

        self.status_label = QLabel(self)
        self.status_label.setObjectName("schedulerStatusLabel")
        self.status_label.setWordWrap(True)
        self.message_label = QLabel(self)
        self.message_label.setObjectName("schedulesMessage")
        self.message_label.setWordWrap(True)
        self.message_label.hide()

        # layout
        history_tab = QWidget(self)
        history_layout = QVBoxLayout(history_tab)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Show:", history_tab))
        filters.addWidget(self.history_schedule_filter)
        filters.addWidget(self.history_context_filter)
        filters.addWidget(self.history_outcome_filter)
        filters.addStretch(1)
        history_layout.addLayout(filters)
        history_layout.addWidget(self.history_table)
        history_layout.addWidget(self.run_details)
        upcoming_tab = QWidget(self)
        upcoming_layout = QVBoxLayout(upcoming_tab)
        upcoming_layout.addWidget(self.upcoming_notice)
        upcoming_layout.addWidget(self.upcoming_list)
        freshness_tab = QWidget(self)
        freshness_layout = QVBoxLayout(freshness_tab)
        rule_bar = QToolBar(freshness_tab)
        rule_bar.setObjectName("freshnessToolBar")
        rule_bar.addAction(self.set_rule_action)
        rule_bar.addAction(self.remove_rule_action)
        freshness_layout.addWidget(rule_bar)
        freshness_layout.addWidget(self.freshness_table)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("schedulesTabs")
        self.tabs.addTab(history_tab, "Run history")
        self.tabs.addTab(upcoming_tab, "Upcoming")
        self.tabs.addTab(freshness_tab, "Freshness")
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.setObjectName("schedulesSplitter")
        splitter.addWidget(self.table)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(toolbar)
        layout.addWidget(self.status_label)
        layout.addWidget(self.message_label)
        layout.addWidget(splitter, 1)

        # wiring
        self.table.selectionModel().selectionChanged.connect(self._update_actions)
        self.freshness_table.selectionModel().selectionChanged.connect(self._update_actions)
        self.history_table.selectionModel().selectionChanged.connect(self._show_run_details)
        self.history_proxy.modelReset.connect(self._show_run_details)
        for combo in (self.history_schedule_filter, self.history_context_filter, self.history_outcome_filter):
            combo.currentIndexChanged.connect(self._apply_history_filter)
        host.run_started.connect(self._on_run_started)
        host.run_finished.connect(self._on_run_finished)
        host.schedule_changed.connect(self._on_schedule_changed)
        host.status_changed.connect(self._on_host_status)
        host.freshness_checked.connect(self._on_freshness_checked)
        host.command_failed.connect(self._on_command_failed)
        if session is not None:
            session.current_changed.connect(self._on_current_context_changed)
            session.contexts_changed.connect(self._on_contexts_changed)
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(300)
        self._reload_timer.timeout.connect(self._load_snapshot)
        # Next runs and the upcoming list move on with the clock, not with events.
        self._clock_timer = QTimer(self)
        self._clock_timer.setInterval(30_000)
        self._clock_timer.timeout.connect(self._recompute)
        self._clock_timer.start()
        self._on_host_status(host.status)
        self._update_actions()
        self._show_run_details()
        self._load_snapshot()
        self._load_jobs()

    # -- construction helpers ----------------------------------------------------------------

    def _setup_table(self, table: QTableView, stretch: int) -> None:
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.verticalHeader().hide()
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)

    def _filter_combo(self, name: str, accessible: str) -> QComboBox:
        combo = QComboBox(self)
        combo.setObjectName(name)
        combo.setAccessibleName(accessible)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        return combo

    # -- loading -----------------------------------------------------------------------------

    def refresh(self) -> None:
        self._load_snapshot()
        self._load_jobs(force=True)

    def schedule_reload(self) -> None:
        """Read the store again soon (events come in bursts; one read serves them all)."""
        self._reload_timer.start()

    @Slot()
    def _load_snapshot(self) -> None:
        if self._snapshot_pending:
            self._reload_timer.start()
            return
        self._snapshot_pending = True
        store = self.store
        self._tasks.submit(
            lambda: read_snapshot(store),
            self._on_snapshot,
            self._on_snapshot_failed,
            description="Reading schedules",
        )

    def _on_snapshot(self, snapshot: Snapshot) -> None:
        self._snapshot_pending = False
        self._snapshot = snapshot
        self.history_model.set_names({s.id: s.name for s in snapshot.schedules})
        self.history_model.reset_rows(snapshot.history)
        self.freshness_model.set_rules(snapshot.rules)
        self._fill_history_filters()
        self._recompute()
        if self._pending_select is not None:
            self.select(self._pending_select)
            self._pending_select = None
            self._update_actions()
        self._maybe_loaded()

    def _on_snapshot_failed(self, outcome: Outcome) -> None:
        self._snapshot_pending = False
        self._show_message(f"Could not read the schedules: {outcome.error}")
        self._maybe_loaded()

    def _current_context(self) -> str | None:
        current = self._session.current if self._session is not None else None
        return current.info.name if current is not None else None

    def _load_jobs(self, force: bool = False) -> None:
        context = self._current_context()
        if self._recurring_jobs is None or context is None:
            self._jobs = []
            self._jobs_context = context
            self.upcoming_notice.setText(
                "Workstation schedules only (no cluster selected)." if context is None else ""
            )
            self._recompute()
            return
        if self._jobs_pending or (context == self._jobs_context and not force):
            return
        self._jobs_pending = True
        fetch = self._recurring_jobs
        self.upcoming_notice.setText(f"Reading the RecurringJobs of {context}…")
        self._tasks.submit(
            lambda: list(fetch(context)),
            lambda jobs: self._on_jobs(context, jobs),
            lambda outcome: self._on_jobs_failed(context, outcome),
            description=f"Reading RecurringJobs of {context}",
        )

    def _on_jobs(self, context: str, jobs: list[Mapping[str, Any]]) -> None:
        self._jobs_pending = False
        self._jobs_context = context
        self._jobs = upcoming_from_jobs(jobs, context, utcnow(), UPCOMING_PER_SOURCE)
        self.upcoming_notice.setText(
            f"Workstation schedules and the {len(jobs)} RecurringJob{'s' if len(jobs) != 1 else ''}"
            f" of {context}."
        )
        self._recompute()
        if context != self._current_context():
            self._load_jobs()
        self._maybe_loaded()

    def _on_jobs_failed(self, context: str, outcome: Outcome) -> None:
        self._jobs_pending = False
        self._jobs_context = context
        self._jobs = []
        self.upcoming_notice.setText(f"Could not read the RecurringJobs of {context}: {outcome.error}")
        self._recompute()
        self._maybe_loaded()

    def _maybe_loaded(self) -> None:
        ready = self._snapshot is not None and not self._snapshot_pending and not self._jobs_pending
        if ready and self._complete_picture and self._session is not None:
            # A picture shows the current cluster's RecurringJobs too, once the session knows it.
            context = self._current_context()
            ready = self._session.loaded and (
                self._recurring_jobs is None or context is None or self._jobs_context == context
            )
        if ready and not self.is_loaded():
            self.mark_loaded()

    def before_screenshot(self) -> None:
        """Wait for the current cluster's RecurringJobs as well (they arrive after the contexts)."""
        self._complete_picture = True
        self._loaded = False
        self._maybe_loaded()

    @Slot()
    def _recompute(self) -> None:
        """Next runs, last outcomes and upcoming runs from the snapshot and the clock."""
        snapshot = self._snapshot
        if snapshot is None:
            return
        now = utcnow()
        running = set(self.host.runs_in_progress())
        rows = []
        for s in snapshot.schedules:
            next_run = due_mod.due(s, snapshot.last_slots.get(s.id), now).next_slot if s.enabled else None
            rows.append(ScheduleRow(s, next_run, snapshot.last_outcomes.get(s.id), s.id in running))
        selected = self.selected()
        self.model.set_rows(rows)
        if selected is not None:
            self.select(selected.id)
        self.upcoming_model.set_runs(
            [*upcoming_from_schedules(snapshot.schedules, now, UPCOMING_PER_SOURCE), *self._jobs]
        )
        self._update_actions()

    def _fill_history_filters(self) -> None:
        snapshot = self._snapshot
        if snapshot is None:
            return
        keys: dict[str, str] = {f"schedule:{s.id}": s.name for s in snapshot.schedules}
        contexts = {s.context for s in snapshot.schedules}
        for record in self.history_model.rows():
            keys.setdefault(schedule_key(record), self.history_model.schedule_label(record))
            if record.context:
                contexts.add(record.context)
        self._refill(
            self.history_schedule_filter, "All schedules", sorted(keys.items(), key=lambda kv: kv[1].lower())
        )
        self._refill(self.history_context_filter, "All contexts", [(c, c) for c in sorted(contexts)])

    @staticmethod
    def _refill(combo: QComboBox, everything: str, items: Sequence[tuple[str, str]]) -> None:
        chosen = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(everything, None)
        for key, label in items:
            combo.addItem(label, key)
        index = combo.findData(chosen) if chosen is not None else 0
        combo.setCurrentIndex(max(0, index))
        combo.blockSignals(False)

    @Slot()
    def _apply_history_filter(self) -> None:
        self.history_proxy.set_filters(
            self.history_schedule_filter.currentData(),
            self.history_context_filter.currentData(),
            self.history_outcome_filter.currentData(),
        )

    @Slot()
    def _show_run_details(self) -> None:
        record = self.selected_run()
        if record is None:
            self.run_details.setText("Select a run to read its whole message and what its retention deleted.")
            return
        parts = [
            f"{record.outcome} · {self.history_model.schedule_label(record)} · {record.context} · "
            f"slot {_short(record.slot)}",
            record.message or "(no message)",
        ]
        if record.backup:
            parts.append(f"System backup: {record.backup}")
        if record.pruned:
            parts.append("Retention deleted: " + ", ".join(record.pruned))
        self.run_details.setText("\n".join(parts))

    def selected_run(self) -> RunRecord | None:
        rows = self.history_table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.history_model.row_at(self.history_proxy.mapToSource(rows[0]).row())

    # -- selection and actions ---------------------------------------------------------------

    def selected(self) -> Schedule | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.model.row_at(self.proxy.mapToSource(rows[0]).row()).schedule

    def select(self, schedule_id: str) -> None:
        row = self.model.find(schedule_id)
        if row < 0:
            return
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        self.table.selectionModel().blockSignals(True)
        self.table.selectRow(index.row())
        self.table.selectionModel().blockSignals(False)

    @Slot()
    def _update_actions(self) -> None:
        schedule = self.selected()
        has = schedule is not None
        for action in (self.edit_action, self.delete_action, self.pause_action):
            action.setEnabled(has)
        runs_here = self.host.status.runs_schedules
        self.run_now_action.setEnabled(has and runs_here)
        self.run_now_action.setToolTip(
            "Take a system backup for the selected schedule now"
            if runs_here
            else f"Run now needs the scheduler, and {self.host.status.message}"
        )
        if schedule is not None and not schedule.enabled:
            self.pause_action.setText("&Resume")
            self.pause_action.setToolTip(
                f"Resume {schedule.name}; the slots it was paused through are not caught up"
            )
        else:
            self.pause_action.setText("&Pause")
            self.pause_action.setToolTip("Pause the selected schedule")
        self.remove_rule_action.setEnabled(bool(self.freshness_table.selectionModel().selectedRows()))

    def _contexts(self) -> list[str]:
        if self._session is None:
            return sorted({s.context for s in (self._snapshot.schedules if self._snapshot else ())})
        return [status.info.name for status in self._session.statuses()]

    def _open(self, dialog: QDialog, on_accept: Callable[[], None]) -> None:
        """Open a dialog window-modally without blocking (tests drive it like a user)."""
        self._dialog = dialog
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(on_accept)
        dialog.finished.connect(self._on_dialog_finished)
        dialog.open()

    @Slot()
    def _on_dialog_finished(self) -> None:
        self._dialog = None

    def current_dialog(self) -> QDialog | None:
        return self._dialog

    @Slot()
    def _on_new(self) -> None:
        taken = frozenset(s.id for s in (self._snapshot.schedules if self._snapshot else ()))
        editor = ScheduleEditor(
            self._contexts(), None, taken_ids=taken, default_context=self._current_context(), parent=self
        )
        self._open(editor, lambda: self._save(editor.schedule(), new=True))

    @Slot()
    def _on_edit(self) -> None:
        schedule = self.selected()
        if schedule is None:
            return
        editor = ScheduleEditor(self._contexts(), schedule, parent=self)
        self._open(editor, lambda: self._save(editor.schedule(), new=False))

    def _save(self, schedule: Schedule, *, new: bool) -> None:
        store = self.store

        def write() -> Schedule:
            return store.add_schedule(schedule) if new else store.update_schedule(schedule)

        verb = "Creating" if new else "Saving"
        self._tasks.submit(
            write,
            lambda saved: self._after_change(
                f"{'Created' if new else 'Saved'} schedule {saved.name}.", saved.id
            ),
            lambda outcome: self._show_message(f"Could not save {schedule.name}: {outcome.error}"),
            description=f"{verb} schedule {schedule.name}",
        )

    def _after_change(self, message: str, select: str | None = None) -> None:
        self._show_message(message, error=False)
        self.host.reload()
        if select is not None:
            self._pending_select = select
        self._load_snapshot()
        self.changed.emit()

    @Slot()
    def _on_delete(self) -> None:
        schedule = self.selected()
        if schedule is None:
            return
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Delete schedule",
            f"Delete the schedule “{schedule.name}” of context {schedule.context}?",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("deleteScheduleConfirm")
        box.setInformativeText(
            "lhdesk stops taking system backups for it. Its run history is kept, and the system backups "
            "it made stay in the cluster."
        )
        delete = box.addButton("Delete schedule", QMessageBox.ButtonRole.DestructiveRole)
        delete.setObjectName("confirmDeleteButton")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        self._dialog = box
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(lambda button: self._on_delete_answer(schedule, button is delete))
        box.finished.connect(self._on_dialog_finished)
        box.open()

    def _on_delete_answer(self, schedule: Schedule, confirmed: bool) -> None:
        if not confirmed:
            return
        store = self.store
        self._tasks.submit(
            lambda: store.remove_schedule(schedule.id),
            lambda _: self._after_change(f"Deleted schedule {schedule.name}; its run history is kept."),
            lambda outcome: self._show_message(f"Could not delete {schedule.name}: {outcome.error}"),
            description=f"Deleting schedule {schedule.name}",
        )

    @Slot()
    def _on_run_now(self) -> None:
        schedule = self.selected()
        if schedule is None or not self.host.status.runs_schedules:
            return
        self.host.run_now(schedule.id)
        busy = self.host.runs_in_progress()
        queued = " It starts when the run in progress ends." if busy else ""
        self._show_message(f"Run now: {schedule.name} against {schedule.context}.{queued}", error=False)

    @Slot()
    def _on_pause_resume(self) -> None:
        schedule = self.selected()
        if schedule is None:
            return
        resume = not schedule.enabled
        if self.host.status.runs_schedules:
            (self.host.resume if resume else self.host.pause)(schedule.id)
            return
        # Another process runs the schedules: it reads the store at every tick.
        store = self.store
        self._tasks.submit(
            lambda: store.set_enabled(schedule.id, resume),
            lambda saved: self._after_change(f"{'Resumed' if resume else 'Paused'} {saved.name}."),
            lambda outcome: self._show_message(f"Could not change {schedule.name}: {outcome.error}"),
            description=f"{'Resuming' if resume else 'Pausing'} {schedule.name}",
        )

    @Slot()
    def _on_set_rule(self) -> None:
        rows = self.freshness_table.selectionModel().selectedRows()
        rule = self.freshness_model.row_at(rows[0].row()) if rows else None
        dialog = FreshnessRuleDialog(self._contexts(), rule, self._current_context(), self)
        self.tabs.setCurrentIndex(2)
        self._open(dialog, lambda: self._save_rule(dialog.rule()))

    def _save_rule(self, rule: freshness.FreshnessRule) -> None:
        store = self.store
        self._tasks.submit(
            lambda: store.set_freshness_rule(rule),
            lambda _: self._after_rule_change(f"Freshness alert for {rule.context} saved."),
            lambda outcome: self._show_message(f"Could not save the alert: {outcome.error}"),
            description=f"Saving the freshness alert of {rule.context}",
        )

    @Slot()
    def _on_remove_rule(self) -> None:
        rows = self.freshness_table.selectionModel().selectedRows()
        if not rows:
            return
        rule = self.freshness_model.row_at(rows[0].row())
        store = self.store
        self._tasks.submit(
            lambda: store.remove_freshness_rule(rule.context),
            lambda _: self._after_rule_change(f"Freshness alert for {rule.context} removed."),
            lambda outcome: self._show_message(f"Could not remove the alert: {outcome.error}"),
            description=f"Removing the freshness alert of {rule.context}",
        )

    def _after_rule_change(self, message: str) -> None:
        self._after_change(message)
        self.host.check_freshness()

    # -- scheduler events --------------------------------------------------------------------

    @Slot(object)
    def _on_run_started(self, event: RunStarted) -> None:
        self.history_model.upsert(event.run)
        self._recompute()

    @Slot(object)
    def _on_run_finished(self, event: RunFinished) -> None:
        self.history_model.upsert(event.run)
        self.schedule_reload()

    @Slot(object)
    def _on_schedule_changed(self, event: ScheduleChanged) -> None:
        state = "resumed" if event.schedule.enabled else "paused"
        self._show_message(f"Schedule {event.schedule.name} {state}.", error=False)
        self.schedule_reload()

    @Slot(object)
    def _on_host_status(self, status: HostStatus) -> None:
        self.status_label.setText(f"Scheduler: {status.message}.")
        self.status_label.setStyleSheet("" if status.runs_schedules else "color: #ef6c00;")
        self._update_actions()

    @Slot(object)
    def _on_freshness_checked(self, report: FreshnessChecked) -> None:
        self.freshness_model.set_statuses(report.statuses)

    @Slot(object)
    def _on_command_failed(self, failure: CommandFailed) -> None:
        self._show_message(f"Could not {failure.command} {failure.schedule_id}: {failure.message}")

    @Slot(object)
    def _on_current_context_changed(self, status: ContextStatus | None) -> None:
        context = status.info.name if status is not None else None
        if context != self._jobs_context:
            self._load_jobs()
        self._maybe_loaded()
        if context is not None:
            self.host.watch_contexts([context])

    @Slot(object)
    def _on_contexts_changed(self, statuses: tuple[ContextStatus, ...]) -> None:
        self._update_actions()

    def _show_message(self, text: str, *, error: bool = True) -> None:
        self.message_label.setText(text)
        self.message_label.setStyleSheet("color: #c62828;" if error else "")
        self.message_label.setVisible(bool(text))
