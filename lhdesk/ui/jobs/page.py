"""The Recurring jobs page: every RecurringJob of the current context, live, with its actions.

The table follows a watch (``WatchFeed``) of the current context's RecurringJobs, and a second
one of its volumes for the "Volumes" column. Switching context closes both feeds (their late
news is dropped) and cancels pending tasks before the new context is opened. Write actions
follow the access the context's probe found: on a read-only context a banner says so and New,
Edit, Duplicate and Delete are disabled (a double-click still shows a job, read-only).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, QTimer, Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from lhdesk.core import cron
from lhdesk.core.clusters import ContextState
from lhdesk.core.recurringjob import NAME_MAX_LENGTH, ClusterFacts, RecurringJobSpec
from lhdesk.core.versions import parse_version
from lhdesk.ui.jobs.copyjobs import CopyJobsDialog, CopyResult
from lhdesk.ui.jobs.editor import EditorTarget, JobEditor
from lhdesk.ui.jobs.model import HEAVY_TASKS, Column, JobRow, JobsFilterProxy, JobsTableModel, parse_time
from lhdesk.ui.jobs.pending import PendingTasks
from lhdesk.ui.jobs.ports import RECURRING_JOBS, VOLUMES, JobsApi, JobsApiFactory, cluster_facts
from lhdesk.ui.jobs.watch import DELETED, WatchEvent, WatchFeed, object_name
from lhdesk.ui.pages import Page
from lhdesk.ui.session import ClusterSession, ContextStatus
from lhdesk.ui.tasks import Outcome, TaskRunner
from lhdesk.ui.weekview import ScheduleWeekView, WeekRow

log = logging.getLogger(__name__)

WRITE_PERMISSIONS = {
    "create": "create recurringjobs.longhorn.io",
    "update": "update recurringjobs.longhorn.io",
    "delete": "delete recurringjobs.longhorn.io",
}
READ_PERMISSIONS = ("list recurringjobs.longhorn.io", "watch recurringjobs.longhorn.io")
WEEK_ROWS_MAX = 60
"""The week view draws at most this many jobs (the first ones the table shows)."""
WEEK_RUNS_MAX = 700
"""Runs drawn per job and week: every 15 minutes is 672."""
NEXT_RUN_REFRESH_MS = 30_000


@dataclass(frozen=True)
class Access:
    """What the current context lets the user do with RecurringJobs."""

    read: bool = True
    create: bool = True
    update: bool = True
    delete: bool = True

    @property
    def read_only(self) -> bool:
        return not (self.create and self.update and self.delete)

    @classmethod
    def from_status(cls, status: ContextStatus) -> Access:
        """From the probe: missing permissions name the verbs; "forbidden" alone means read-only."""
        probe = status.probe
        missing = set(probe.missing_permissions)
        read = not any(check in missing for check in READ_PERMISSIONS)
        if probe.state is ContextState.FORBIDDEN and not missing:
            return cls(read=True, create=False, update=False, delete=False)
        return cls(
            read=read,
            create=WRITE_PERMISSIONS["create"] not in missing,
            update=WRITE_PERMISSIONS["update"] not in missing,
            delete=WRITE_PERMISSIONS["delete"] not in missing,
        )

    def banner(self, context: str) -> str:
        if not self.read_only:
            return ""
        verbs = [verb for verb in ("create", "update", "delete") if not getattr(self, verb)]
        listed = ", ".join(verbs[:-1]) + (" or " if len(verbs) > 1 else "") + verbs[-1]
        return (
            f"Read-only: on {context} you cannot {listed} RecurringJobs, so those actions are disabled. "
            "Use a context with more rights to change jobs."
        )


@dataclass
class _Context:
    """The open context: its gateway once made, its feeds and pending tasks."""

    name: str
    api: JobsApi | None = None
    facts: ClusterFacts = field(default_factory=ClusterFacts)
    jobs_feed: WatchFeed | None = None
    volumes_feed: WatchFeed | None = None
    tasks: PendingTasks | None = None
    started: bool = False
    listed: bool = False


def week_rows(jobs: Sequence[tuple[str, str, str, datetime | None]], start: datetime) -> list[WeekRow]:
    """The week view's rows for (name, task, cron, created) tuples: runs in the 7 days from ``start``."""
    end = start + timedelta(days=7)
    rows = []
    for name, task, expr, created in jobs:
        try:
            schedule = cron.parse(expr)
        except cron.CronError:
            rows.append(WeekRow(f"{name} (invalid schedule)", (), task in HEAVY_TASKS))
            continue
        runs: list[datetime] = []
        if schedule.can_run:
            anchor = created if schedule.is_every else None
            try:
                for run in schedule.next_runs(start - timedelta(seconds=1), WEEK_RUNS_MAX, anchor=anchor):
                    if run >= end:
                        break
                    runs.append(run)
            except (cron.CronError, ValueError):
                runs = []
        rows.append(WeekRow(name, tuple(runs), task in HEAVY_TASKS))
    return rows


class JobsPage(Page):
    """Recurring jobs of the current context: live table, filter, week view, and the job actions."""

    name = "jobs"
    title = "Recurring jobs"

    def __init__(
        self,
        session: ClusterSession,
        tasks: TaskRunner,
        api_for: JobsApiFactory,
        *,
        watch_timeout: int = 5,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._tasks = tasks
        self._api_for = api_for
        self._watch_timeout = watch_timeout
        self._ctx: _Context | None = None
        self._status: ContextStatus | None = None
        self._access = Access()
        self._retired: list[WatchFeed] = []
        self._volume_labels: dict[str, dict[str, str]] = {}
        self._week_tasks = PendingTasks(tasks)
        self._select_when_listed: str | None = None
        self.editor: JobEditor | None = None
        self.copy_dialog: CopyJobsDialog | None = None

        self.model = JobsTableModel(self)
        self.proxy = JobsFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self._build()
        session.current_changed.connect(self._on_current_changed)
        session.contexts_changed.connect(self._on_contexts_changed)
        session.load_failed.connect(self._on_load_failed)
        self._on_current_changed(session.current)

    # -- building -------------------------------------------------------------------------------

    def _build(self) -> None:
        self.table = QTableView(self)
        self.table.setObjectName("jobsTable")
        self.table.setAccessibleName("Recurring jobs")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(Column.NAME, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setResizeContentsPrecision(200)
        header.setStretchLastSection(True)
        self.table.activated.connect(self._on_activated)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

        self.new_action = self.make_action(
            "&New…",
            "newJobAction",
            "Create a recurring job",
            self._on_new,
            QKeySequence.StandardKey.New,
        )
        self.edit_action = self.make_action("&Edit…", "editJobAction", "Edit the selected job", self._on_edit)
        self.duplicate_action = self.make_action(
            "&Duplicate…",
            "duplicateJobAction",
            "A new job with the selected job's settings",
            self._on_duplicate,
        )
        self.delete_action = self.make_action(
            "De&lete…",
            "deleteJobAction",
            "Delete the selected jobs",
            self._on_delete,
            QKeySequence.StandardKey.Delete,
        )
        self.copy_action = self.make_action(
            "&Copy to cluster…",
            "copyJobsAction",
            "Copy the selected jobs into another context, after checking them there",
            self._on_copy,
        )
        toolbar = QToolBar(self)
        toolbar.setObjectName("jobsToolBar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for act in (
            self.new_action,
            self.edit_action,
            self.duplicate_action,
            self.delete_action,
            self.copy_action,
        ):
            toolbar.addAction(act)
            self.table.addAction(act)

        self.filter_edit = QLineEdit(self)
        self.filter_edit.setObjectName("jobsFilterEdit")
        self.filter_edit.setPlaceholderText("Filter: name, task, schedule, group, label…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setAccessibleName("Filter jobs")
        self.filter_edit.setMinimumWidth(300)
        self.filter_edit.textChanged.connect(self._on_filter_changed)
        self.count_label = QLabel("", self)
        self.count_label.setObjectName("jobsCountLabel")
        top = QHBoxLayout()
        top.addWidget(toolbar, 1)
        top.addWidget(self.filter_edit)
        top.addWidget(self.count_label)

        self.banner = QLabel("", self)
        self.banner.setObjectName("jobsReadOnlyBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background: #fff3e0; color: #e65100; padding: 6px; border-radius: 3px;")
        self.banner.hide()
        self.watch_status = QLabel("", self)
        self.watch_status.setObjectName("jobsWatchStatus")
        self.watch_status.setWordWrap(True)
        self.watch_status.setStyleSheet("color: #c62828;")
        self.watch_status.hide()
        self.status_label = QLabel("", self)
        self.status_label.setObjectName("jobsStatus")
        self.status_label.setWordWrap(True)
        self.status_label.hide()

        self.empty_state = QLabel("", self)
        self.empty_state.setObjectName("jobsEmptyState")
        self.empty_state.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_state.setWordWrap(True)

        self.week_view = ScheduleWeekView(self)
        self.week_note = QLabel("", self)
        self.week_note.setObjectName("weekViewNote")
        self.week_note.setWordWrap(True)
        week_scroll = QScrollArea(self)
        week_scroll.setObjectName("weekViewScroll")
        week_scroll.setWidgetResizable(True)
        week_scroll.setWidget(self.week_view)
        week_box = QWidget(self)
        week_layout = QVBoxLayout(week_box)
        week_layout.setContentsMargins(0, 0, 0, 0)
        week_layout.addWidget(
            QLabel("<b>Next 7 days</b> (UTC; backup jobs in red, shaded hours have colliding backups)", self)
        )
        week_layout.addWidget(week_scroll, 1)
        week_layout.addWidget(self.week_note)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setObjectName("jobsSplitter")
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(week_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        week_box.setMinimumHeight(180)

        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.empty_state)
        self.stack.addWidget(self.splitter)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        layout.addWidget(self.watch_status)
        layout.addWidget(self.status_label)
        layout.addWidget(self.stack, 1)

        self._week_timer = QTimer(self)
        self._week_timer.setSingleShot(True)
        self._week_timer.setInterval(300)
        self._week_timer.timeout.connect(self._recompute_week)
        self._clock = QTimer(self)
        self._clock.setInterval(NEXT_RUN_REFRESH_MS)
        self._clock.timeout.connect(self._on_clock)
        self._clock.start()

        self.table.selectionModel().selectionChanged.connect(self._update_actions)
        self.proxy.rowsInserted.connect(self._on_rows_changed)
        self.proxy.rowsRemoved.connect(self._on_rows_changed)
        self.proxy.layoutChanged.connect(self._on_rows_changed)
        self.proxy.modelReset.connect(self._on_rows_changed)
        self._update_actions()

    # -- reading --------------------------------------------------------------------------------

    @property
    def context(self) -> str | None:
        return self._ctx.name if self._ctx is not None else None

    @property
    def access(self) -> Access:
        return self._access

    @property
    def facts(self) -> ClusterFacts:
        return self._ctx.facts if self._ctx is not None else ClusterFacts()

    def api(self) -> JobsApi | None:
        return self._ctx.api if self._ctx is not None else None

    def selected_rows(self) -> list[JobRow]:
        rows = self.table.selectionModel().selectedRows()
        out = []
        for index in sorted(rows, key=lambda i: i.row()):
            source = self.proxy.mapToSource(index)
            if source.isValid():
                out.append(self.model.row_at(source.row()))
        return out

    def select(self, name: str) -> bool:
        """Select a job's row (clearing the filter if it hides it); False when there is none."""
        row = self.model.row_of(name)
        if row < 0:
            return False
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            self.filter_edit.clear()
            index = self.proxy.mapFromSource(self.model.index(row, 0))
        self.table.selectRow(index.row())
        self.table.scrollTo(index)
        return True

    # -- context switching --------------------------------------------------------------------------

    @Slot(object)
    def _on_current_changed(self, status: ContextStatus | None) -> None:
        if status is None:
            self._switch(None)
            self._status = None
            self._access = Access()
            self._update_access()
            if not self._session.loaded:
                self._show_empty("Reading the kubeconfig…")
                return
            self._show_empty(
                "No cluster is configured. Add a kubeconfig context, or start lhdesk with --demo."
            )
            self.mark_loaded()
            return
        if self._ctx is None or self._ctx.name != status.info.name:
            self._switch(status.info.name)
        self._status = status
        self._access = Access.from_status(status)
        self._update_access()
        self._maybe_start()

    @Slot(object)
    def _on_contexts_changed(self, _statuses: object) -> None:
        self._update_actions()

    @Slot(str)
    def _on_load_failed(self, message: str) -> None:
        """A kubeconfig that cannot be read sends no current_changed: say so here."""
        if self._ctx is None:
            self._show_empty(f"Could not read the kubeconfig: {message}")
            self.mark_loaded()

    def _switch(self, name: str | None) -> None:
        """Leave the open context: close its feeds, drop its pending answers, empty the table."""
        old = self._ctx
        if old is not None and old.tasks is not None:
            old.tasks.cancel_all()
        if old is not None:
            for feed in (old.jobs_feed, old.volumes_feed):
                if feed is not None:
                    feed.close()
                    self._retired.append(feed)
        self._retired = [feed for feed in self._retired if not _disposed_if_finished(feed)]
        self._week_tasks.cancel_all()
        self._ctx = _Context(name, tasks=PendingTasks(self._tasks)) if name is not None else None
        self._loaded = False
        self._volume_labels = {}
        self.model.clear()
        self.model.set_volumes(None)
        self.week_view.set_rows([], datetime.now(UTC))
        self.watch_status.hide()
        self.status_label.hide()
        self._update_actions()

    def _maybe_start(self) -> None:
        ctx, status = self._ctx, self._status
        if ctx is None or status is None or ctx.started:
            return
        probe = status.probe
        name = ctx.name
        if status.checking or probe.state is ContextState.UNKNOWN:
            self._show_empty(f"Checking {name}…")
            return
        if probe.state is ContextState.NO_LONGHORN:
            self._show_empty(
                f"Longhorn is not installed on {name}, so it has no recurring jobs.\n{probe.message}"
            )
            self.mark_loaded()
            return
        if probe.state not in (ContextState.CONNECTED, ContextState.FORBIDDEN):
            self._show_empty(f"Not connected to {name} ({probe.state.value}).\n{probe.message}")
            self.mark_loaded()
            return
        if not self._access.read:
            self._show_empty(f"You are not allowed to list RecurringJobs on {name}.\n{probe.message}")
            self.mark_loaded()
            return
        ctx.started = True
        self._show_empty(f"Loading the recurring jobs of {name}…")
        api_for, hint = self._api_for, probe.longhorn_version

        def open_context() -> tuple[JobsApi, ClusterFacts]:
            api = api_for(name)
            return api, cluster_facts(api, hint)

        assert ctx.tasks is not None
        ctx.tasks.submit(
            open_context,
            lambda result: self._on_context_opened(ctx, result),
            lambda outcome: self._on_context_failed(ctx, outcome),
            f"Opening {name}",
        )

    def _on_context_opened(self, ctx: _Context, result: tuple[JobsApi, ClusterFacts]) -> None:
        if ctx is not self._ctx:
            return
        ctx.api, ctx.facts = result
        if ctx.facts.longhorn_version is None and self._status is not None:
            ctx.facts = replace(
                ctx.facts, longhorn_version=parse_version(self._status.probe.longhorn_version)
            )
        ctx.jobs_feed = WatchFeed(ctx.api, RECURRING_JOBS, timeout_seconds=self._watch_timeout)
        ctx.jobs_feed.listed.connect(self._on_jobs_listed)
        ctx.jobs_feed.changed.connect(self._on_jobs_changed)
        ctx.jobs_feed.failed.connect(self._on_jobs_failed)
        ctx.volumes_feed = WatchFeed(ctx.api, VOLUMES, timeout_seconds=self._watch_timeout)
        ctx.volumes_feed.listed.connect(self._on_volumes_listed)
        ctx.volumes_feed.changed.connect(self._on_volumes_changed)
        ctx.volumes_feed.failed.connect(self._on_volumes_failed)
        ctx.jobs_feed.start()
        ctx.volumes_feed.start()
        self._update_actions()

    def _on_context_failed(self, ctx: _Context, outcome: Outcome) -> None:
        if ctx is not self._ctx:
            return
        ctx.started = False
        self._show_empty(f"Cannot open {ctx.name}: {outcome.error}\nPress F5 to try again.")
        self.mark_loaded()

    def refresh(self) -> None:
        """F5: open the current context again (new list, new watch, fresh cluster facts)."""
        status = self._status
        if status is None:
            self.mark_loaded()
            return
        self._switch(status.info.name)
        self._maybe_start()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Stop every watch and join its thread; call before the application quits."""
        self._clock.stop()
        self._week_timer.stop()
        self._switch(None)
        ok = True
        for feed in self._retired:
            ok = feed.join(timeout_ms) and ok
        self._retired = []
        return ok

    # -- live data ------------------------------------------------------------------------------

    @Slot(object)
    def _on_jobs_listed(self, items: tuple[dict[str, Any], ...]) -> None:
        ctx = self._ctx
        if ctx is None:
            return
        first = not ctx.listed
        ctx.listed = True
        self.model.apply_snapshot(items)
        self.watch_status.hide()
        self.stack.setCurrentWidget(self.splitter)
        if first:
            self._fit_columns()
        self._select_pending()
        self._update_actions()
        if first:
            # "Loaded" (what --screenshot waits for) once the week view is drawn too.
            self._week_timer.stop()
            self._recompute_week()
        else:
            self._schedule_week()

    def _fit_columns(self) -> None:
        """Widths from the contents, but no column wider than a third of the view."""
        self.table.resizeColumnsToContents()
        widest = max(160, self.table.viewport().width() // 3)
        header = self.table.horizontalHeader()
        for column in Column:
            if header.sectionSize(column) > widest:
                header.resizeSection(column, widest)
        for column in (Column.SCHEDULE, Column.PARAMETERS, Column.LABELS, Column.GROUPS):
            header.resizeSection(column, min(header.sectionSize(column), 200))

    @Slot(object)
    def _on_jobs_changed(self, events: tuple[WatchEvent, ...]) -> None:
        self.model.apply_events(events)
        self._select_pending()
        self._schedule_week()
        self._update_actions()

    @Slot(str)
    def _on_jobs_failed(self, message: str) -> None:
        ctx = self._ctx
        name = ctx.name if ctx else ""
        text = f"Live updates from {name} stopped: {message} Retrying…"
        if ctx is not None and not ctx.listed:
            self._show_empty(f"Cannot list the recurring jobs of {name}: {message}\nRetrying…")
            self.mark_loaded()
            return
        self.watch_status.setText(text)
        self.watch_status.show()

    @Slot(object)
    def _on_volumes_listed(self, items: tuple[dict[str, Any], ...]) -> None:
        self._volume_labels = {object_name(obj): _labels(obj) for obj in items if object_name(obj)}
        self.model.set_volumes(self._volume_labels)

    @Slot(object)
    def _on_volumes_changed(self, events: tuple[WatchEvent, ...]) -> None:
        labels = dict(self._volume_labels)
        for event in events:
            if event.type == DELETED:
                labels.pop(event.name, None)
            elif event.name:
                labels[event.name] = _labels(event.object)
        if labels != self._volume_labels:
            self._volume_labels = labels
            self.model.set_volumes(labels)

    @Slot(str)
    def _on_volumes_failed(self, message: str) -> None:
        log.info("volumes of %s unavailable: %s", self.context, message)
        self.model.set_volumes(None)

    def _select_pending(self) -> None:
        if self._select_when_listed and self.select(self._select_when_listed):
            self._select_when_listed = None

    # -- presentation -----------------------------------------------------------------------------

    def _show_empty(self, text: str) -> None:
        self.empty_state.setText(text)
        self.stack.setCurrentWidget(self.empty_state)

    def _update_access(self) -> None:
        text = self._access.banner(self.context or "") if self._ctx is not None else ""
        self.banner.setText(text)
        self.banner.setVisible(bool(text))
        self._update_actions()

    @Slot()
    def _update_actions(self) -> None:
        ctx = self._ctx
        ready = ctx is not None and ctx.api is not None
        selected = self.selected_rows() if ready else []
        access = self._access
        one = len(selected) == 1
        self.new_action.setEnabled(ready and access.create)
        self.edit_action.setEnabled(ready and one and access.update)
        self.duplicate_action.setEnabled(ready and one and access.create)
        self.delete_action.setEnabled(ready and bool(selected) and access.delete)
        others = [s for s in self._session.statuses() if ctx is None or s.info.name != ctx.name]
        self.copy_action.setEnabled(ready and bool(selected) and bool(others))
        if self._access.read_only:
            why = "Read-only context"
            for act in (self.new_action, self.edit_action, self.duplicate_action, self.delete_action):
                if not act.isEnabled():
                    act.setToolTip(why)

    @Slot()
    def _on_rows_changed(self) -> None:
        total = self.model.rowCount()
        shown = self.proxy.rowCount()
        word = "job" if total == 1 else "jobs"
        self.count_label.setText(f"{total} {word}" if shown == total else f"{shown} of {total} {word}")
        self._schedule_week()

    @Slot(str)
    def _on_filter_changed(self, text: str) -> None:
        self.proxy.set_filter_text(text)
        self._on_rows_changed()

    @Slot()
    def _on_clock(self) -> None:
        if self.model.refresh_times():
            self._schedule_week()

    def _schedule_week(self) -> None:
        self._week_timer.start()

    @Slot()
    def _recompute_week(self) -> None:
        """Compute the week's runs off the GUI thread for the first jobs the table shows."""
        ctx = self._ctx
        if ctx is None:
            return
        jobs: list[tuple[str, str, str, datetime | None]] = []
        shown = self.proxy.rowCount()
        for row in range(min(shown, WEEK_ROWS_MAX)):
            job = self.model.row_at(self.proxy.mapToSource(self.proxy.index(row, 0)).row())
            created = parse_time((job.obj.get("metadata") or {}).get("creationTimestamp"))
            jobs.append((job.name, job.task, job.cron, created))
        if shown > WEEK_ROWS_MAX:
            self.week_note.setText(
                f"Showing the first {WEEK_ROWS_MAX} of {shown} jobs; filter to see others."
            )
        else:
            self.week_note.setText("")
        self.week_note.setVisible(bool(self.week_note.text()))
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        self._week_tasks.cancel_all()
        self._week_tasks.submit(
            lambda: week_rows(jobs, start),
            lambda rows: self._on_week_ready(ctx, rows, start),
            lambda outcome: self._on_week_failed(ctx, outcome),
            "Laying out the week",
        )

    def _on_week_ready(self, ctx: _Context, rows: list[WeekRow], start: datetime) -> None:
        if ctx is self._ctx:
            self.week_view.set_rows(rows, start)
            if ctx.listed and not self.is_loaded():
                self.mark_loaded()

    def _on_week_failed(self, ctx: _Context, outcome: Outcome) -> None:
        log.warning("could not lay out the week: %s", outcome.error)
        if ctx is self._ctx and ctx.listed and not self.is_loaded():
            self.mark_loaded()

    # -- actions --------------------------------------------------------------------------------

    def _target(self) -> EditorTarget | None:
        ctx = self._ctx
        if ctx is None or ctx.api is None:
            return None
        return EditorTarget(ctx.name, ctx.api, ctx.facts)

    def _open_editor(
        self,
        existing: dict[str, Any] | None = None,
        template: RecurringJobSpec | None = None,
        read_only: bool = False,
    ) -> JobEditor | None:
        target = self._target()
        if target is None:
            return None
        if self.editor is not None:
            self.editor.close()
        reason = self._access.banner(target.context) if read_only else ""
        editor = JobEditor(
            self._tasks,
            target,
            existing=existing,
            template=template,
            read_only=read_only,
            read_only_reason=reason,
            parent=self,
        )
        editor.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        editor.saved.connect(self._on_job_saved)
        editor.finished.connect(self._on_editor_finished)
        self.editor = editor
        editor.open()
        return editor

    @Slot()
    def _on_new(self) -> None:
        if self.new_action.isEnabled():
            self._open_editor()

    @Slot()
    def _on_edit(self) -> None:
        rows = self.selected_rows()
        if len(rows) == 1 and self.edit_action.isEnabled():
            self._open_editor(existing=rows[0].obj)

    @Slot(QModelIndex)
    def _on_activated(self, index: QModelIndex) -> None:
        source = self.proxy.mapToSource(index)
        if not source.isValid() or self._target() is None:
            return
        job = self.model.row_at(source.row())
        self._open_editor(existing=job.obj, read_only=not self._access.update)

    @Slot()
    def _on_duplicate(self) -> None:
        rows = self.selected_rows()
        if len(rows) != 1 or not self.duplicate_action.isEnabled() or rows[0].spec is None:
            return
        spec = rows[0].spec
        self._open_editor(template=replace(spec, name=_copy_name(spec.name, set(self._names()))))

    def _names(self) -> list[str]:
        return [job.name for job in self.model.rows()]

    @Slot(object)
    def _on_job_saved(self, stored: dict[str, Any]) -> None:
        name = object_name(stored)
        self._show_status(f"Saved {name} on {self.context}.")
        self._select_when_listed = name
        self._select_pending()

    @Slot(int)
    def _on_editor_finished(self, _result: int) -> None:
        if self.sender() is self.editor:
            self.editor = None

    @staticmethod
    def confirm(box: QMessageBox) -> bool:
        """Ask a yes/no question modally; tests replace this to answer without a human."""
        return box.exec() == QMessageBox.StandardButton.Yes

    def delete_confirmation(self, names: Sequence[str]) -> QMessageBox:
        """The question Delete asks: it names the jobs and the context."""
        context = self.context or ""
        if len(names) == 1:
            text = f"Delete the recurring job “{names[0]}” from context “{context}”?"
        else:
            listed = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
            text = f"Delete {len(names)} recurring jobs from context “{context}”: {listed}?"
        box = QMessageBox(QMessageBox.Icon.Warning, "Delete recurring jobs", text, parent=self)
        box.setObjectName("deleteJobsConfirmation")
        box.setInformativeText(
            "Their schedules stop at once. Snapshots and backups they made are kept. This cannot be undone."
        )
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        return box

    @Slot()
    def _on_delete(self) -> None:
        rows = self.selected_rows()
        ctx = self._ctx
        if not rows or ctx is None or ctx.api is None or not self.delete_action.isEnabled():
            return
        names = [job.name for job in rows]
        box = self.delete_confirmation(names)
        answer = self.confirm(box)
        box.deleteLater()
        if not answer:
            return
        api = ctx.api

        def delete_all() -> list[tuple[str, str]]:
            failures = []
            for name in names:
                try:
                    api.delete(RECURRING_JOBS, name, missing_ok=True)
                except Exception as exc:  # each job is reported; one failure does not stop the rest
                    failures.append((name, str(exc)))
            return failures

        self._show_status(f"Deleting {', '.join(names)} from {ctx.name}…")
        assert ctx.tasks is not None
        ctx.tasks.submit(
            delete_all,
            lambda failures: self._on_deleted(ctx, names, failures),
            lambda outcome: self._on_deleted(ctx, names, [("", str(outcome.error))]),
            f"Deleting recurring jobs from {ctx.name}",
        )

    def _on_deleted(self, ctx: _Context, names: list[str], failures: list[tuple[str, str]]) -> None:
        if ctx is not self._ctx:
            return
        if not failures:
            self._show_status(f"Deleted {', '.join(names)} from {ctx.name}.")
            return
        lines = "; ".join(f"{name}: {message}" if name else message for name, message in failures)
        self._show_status(f"Not deleted — {lines}", error=True)

    @Slot()
    def _on_copy(self) -> None:
        rows = self.selected_rows()
        ctx = self._ctx
        if not rows or ctx is None or not self.copy_action.isEnabled():
            return
        dialog = CopyJobsDialog(
            self._session, self._tasks, self._api_for, [job.obj for job in rows], ctx.name, self
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.copied.connect(self._on_copied)
        dialog.finished.connect(self._on_copy_finished)
        self.copy_dialog = dialog
        dialog.open()

    @Slot(object)
    def _on_copied(self, results: tuple[CopyResult, ...]) -> None:
        created = sum(1 for r in results if r.ok)
        self._show_status(f"Copied {created} of {len(results)} job(s); see the copy dialog for each job.")

    @Slot(int)
    def _on_copy_finished(self, _result: int) -> None:
        if self.sender() is self.copy_dialog:
            self.copy_dialog = None

    def _show_status(self, text: str, error: bool = False) -> None:
        self.status_label.setStyleSheet("color: #c62828;" if error else "")
        self.status_label.setText(text)
        self.status_label.setVisible(bool(text))


def _disposed_if_finished(feed: WatchFeed) -> bool:
    if feed.is_finished():
        feed.dispose()
        return True
    return False


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    metadata = obj.get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    if not isinstance(labels, dict):
        return {}
    return {str(k): str(v) for k, v in labels.items()}


def _copy_name(name: str, taken: set[str]) -> str:
    """``<name>-copy`` (then -copy-2, …), cut to Longhorn's 40 characters."""
    for index in range(1, 100):
        suffix = "-copy" if index == 1 else f"-copy-{index}"
        candidate = name[: NAME_MAX_LENGTH - len(suffix)].rstrip("-.") + suffix
        if candidate not in taken:
            return candidate
    return name
