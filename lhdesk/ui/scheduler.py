"""The scheduler's Qt host: the engine on its own QThread, driven by a short timer in that thread.

:class:`SchedulerHost` lives on the GUI thread. It owns a :class:`SchedulerWorker` moved to a plain
QThread (the worker receives commands, so QThread is not subclassed). In its thread the worker:

- takes the one-scheduler-per-machine lock (:mod:`lhdesk.schedule.lock`, the same file and call
  as ``lhdesk scheduler run``, so the window and the headless scheduler exclude each other). When
  another process holds it, the worker runs no schedule, reports who holds it, and tries again now
  and then, so it takes over when that process ends;
- ticks :meth:`lhdesk.schedule.engine.Engine.tick` from a single-shot QTimer re-armed after each
  tick, never further ahead than ``tick_seconds`` (default 1 s). What is due, catch-up and clock
  jumps are the engine's business; the timer only says "look again";
- checks the freshness rules every ``freshness_interval``.

Commands reach the worker as queued signals (run now, pause, resume, reload, check freshness, the
contexts to watch, stop). :meth:`SchedulerHost.stop` also sets the engine's stop event directly
(thread-safe), so a run in progress ends within one watch window; the record of that run stays
``running`` and the next start finishes it by adoption (:meth:`Engine.recover`).

Everything the worker reports arrives on the host's signals, on the GUI thread, as frozen
dataclasses.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot

from lhdesk.schedule import api as sb
from lhdesk.schedule import freshness
from lhdesk.schedule.clock import Clock, SystemClock
from lhdesk.schedule.engine import (
    DEFAULT_OBSERVE_INTERVAL,
    ApiFactory,
    Engine,
    EngineEvent,
    RunFinished,
    RunStarted,
    ScheduleChanged,
)
from lhdesk.schedule.lock import SchedulerLock, acquire_lock, lock_owner_pid
from lhdesk.schedule.runner import DEFAULT_RUN_TIMEOUT, WATCH_WINDOW_SECONDS
from lhdesk.schedule.store import Store, UnknownSchedule

log = logging.getLogger(__name__)

RUNNING = "running"
LOCKED = "locked"
STOPPED = "stopped"

DEFAULT_TICK_SECONDS = 1.0
DEFAULT_FRESHNESS_INTERVAL = timedelta(minutes=5)
DEFAULT_LOCK_RETRY = timedelta(seconds=30)
#: The shortest re-arm of the tick timer: never a busy loop, whatever the engine answers.
_MIN_WAIT_MS = 5

FreshnessRules = Callable[[], Sequence[freshness.FreshnessRule]]


@dataclass(frozen=True)
class SchedulerConfig:
    """Timings of the scheduler thread (tests shorten them)."""

    tick_seconds: float = DEFAULT_TICK_SECONDS
    observe_interval: timedelta | None = DEFAULT_OBSERVE_INTERVAL
    freshness_interval: timedelta | None = DEFAULT_FRESHNESS_INTERVAL
    lock_retry: timedelta = DEFAULT_LOCK_RETRY
    run_timeout: timedelta = DEFAULT_RUN_TIMEOUT
    watch_window: int = WATCH_WINDOW_SECONDS


@dataclass(frozen=True)
class HostStatus:
    """What the scheduler of this window is doing.

    ``state``: ``running`` (this window runs the schedules), ``locked`` (another process does;
    ``owner_pid`` says which, when it could be read) or ``stopped``.
    """

    state: str
    message: str
    owner_pid: int | None = None

    @property
    def runs_schedules(self) -> bool:
        return self.state == RUNNING


def locked_message(pid: int | None) -> str:
    who = f"pid {pid}" if pid is not None else "pid unknown"
    return f"schedules are run by another lhdesk process ({who})"


@dataclass(frozen=True)
class CommandFailed:
    """A command (run now, pause, resume) could not be carried out; ``message`` says why."""

    command: str
    schedule_id: str
    message: str


@dataclass(frozen=True)
class FreshnessChecked:
    """The result of one round of freshness checks, one status per rule."""

    statuses: tuple[freshness.FreshnessStatus, ...]


class SchedulerWorker(QObject):
    """The part of the scheduler that lives in the scheduler thread. Only the host talks to it.

    Signals (emitted in the scheduler thread, received queued on the GUI thread):
        run_started(RunStarted), run_finished(RunFinished), schedule_changed(ScheduleChanged),
        status_changed(HostStatus), freshness_checked(FreshnessChecked),
        command_failed(CommandFailed), stopped().
    """

    run_started = Signal(object)
    run_finished = Signal(object)
    schedule_changed = Signal(object)
    status_changed = Signal(object)
    freshness_checked = Signal(object)
    command_failed = Signal(object)
    stopped = Signal()

    def __init__(
        self,
        data_dir: Path,
        store: Store,
        api_factory: ApiFactory,
        config: SchedulerConfig,
        clock: Clock,
        freshness_rules: FreshnessRules | None,
    ) -> None:
        super().__init__()
        self._data_dir = data_dir
        self._store = store
        self._api_factory = api_factory
        self._config = config
        self._clock = clock
        self._freshness_rules = freshness_rules
        # Set from the GUI thread by request_stop(); read here. A plain Event, no Qt.
        self._stop_event = threading.Event()
        self._engine: Engine | None = None
        self._lock: SchedulerLock | None = None
        self._timer: QTimer | None = None
        self._next_lock_try = 0.0
        self._next_freshness = 0.0
        self._extra_contexts: tuple[str, ...] = ()

    # -- called from the GUI thread ----------------------------------------------------------

    def request_stop(self) -> None:
        """Thread-safe: interrupt a run in progress (the engine's stop event) and stop ticking."""
        self._stop_event.set()
        engine = self._engine
        if engine is not None:
            engine.stop()

    # -- life cycle (scheduler thread) -------------------------------------------------------

    @Slot()
    def start(self) -> None:
        """First slot run in the scheduler thread: create the timer here, take the lock, tick."""
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._on_tick)
        self._try_lock()
        self._arm(0)

    @Slot()
    def stop(self) -> None:
        """Stop ticking, give the lock back and end the thread's event loop."""
        self._stop_event.set()
        if self._timer is not None:
            self._timer.stop()
        if self._engine is not None:
            self._engine.stop()
            self._engine = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        self.status_changed.emit(HostStatus(STOPPED, "the scheduler is stopped"))
        self.stopped.emit()
        thread = self.thread()
        if thread is not None:
            thread.quit()

    def _try_lock(self) -> None:
        self._next_lock_try = time.monotonic() + self._config.lock_retry.total_seconds()
        lock = acquire_lock(self._data_dir)
        if lock is None:
            pid = lock_owner_pid(self._data_dir)
            log.info("not running schedules: %s", locked_message(pid))
            self.status_changed.emit(HostStatus(LOCKED, locked_message(pid), pid))
            return
        self._lock = lock
        self._engine = Engine(
            self._store,
            self._api_factory,
            self._clock,
            listener=self._on_engine_event,
            run_timeout=self._config.run_timeout,
            observe_interval=self._config.observe_interval,
            observe_contexts=self._observed_contexts,
            watch_window=self._config.watch_window,
        )
        if self._stop_event.is_set():
            self._engine.stop()
        log.info("this window runs the workstation schedules (lock %s)", lock.path)
        self.status_changed.emit(HostStatus(RUNNING, "schedules run in this window"))

    def _arm(self, wait_ms: int) -> None:
        if self._timer is not None and not self._stop_event.is_set():
            self._timer.start(max(_MIN_WAIT_MS, wait_ms))

    @Slot()
    def _on_tick(self) -> None:
        if self._stop_event.is_set():
            return
        try:
            if self._engine is None and time.monotonic() >= self._next_lock_try:
                self._try_lock()
            if self._engine is not None:
                self._engine.tick()
            if self._config.freshness_interval is not None and time.monotonic() >= self._next_freshness:
                self._check_freshness()
        except Exception:
            log.exception("the scheduler tick failed; trying again at the next tick")
        wait = self._config.tick_seconds
        if self._engine is not None:
            try:
                wait = self._engine.next_wakeup(tick_seconds=self._config.tick_seconds)
            except Exception:
                log.exception("could not compute the next wake-up")
        # One millisecond late rather than early: a timer that fires before the slot finds nothing due.
        self._arm(int(wait * 1000) + 1)

    def _on_engine_event(self, event: EngineEvent) -> None:
        """The engine's listener (called in this thread): forward the frozen dataclass."""
        if isinstance(event, RunStarted):
            self.run_started.emit(event)
        elif isinstance(event, RunFinished):
            self.run_finished.emit(event)
        elif isinstance(event, ScheduleChanged):
            self.schedule_changed.emit(event)

    def _observed_contexts(self) -> list[str]:
        """Contexts whose Longhorn system-backup RecurringJob runs are recorded."""
        names = [s.context for s in self._store.schedules()]
        if self._freshness_rules is not None:
            names += [rule.context for rule in self._freshness_rules()]
        names += self._extra_contexts
        return list(dict.fromkeys(n for n in names if n))

    # -- commands (queued from the GUI thread) -----------------------------------------------

    def _command(self, command: str, schedule_id: str, action: Callable[[Engine], object]) -> None:
        if self._engine is None:
            self.command_failed.emit(
                CommandFailed(command, schedule_id, "this window does not run the schedules")
            )
            return
        try:
            action(self._engine)
        except UnknownSchedule:
            self.command_failed.emit(CommandFailed(command, schedule_id, "the schedule no longer exists"))
        except Exception as exc:
            log.exception("%s %s failed", command, schedule_id)
            self.command_failed.emit(CommandFailed(command, schedule_id, str(exc) or type(exc).__name__))
        self._arm(0)

    @Slot(str)
    def run_now(self, schedule_id: str) -> None:
        self._command("run now", schedule_id, lambda engine: engine.run_now(schedule_id))

    @Slot(str)
    def pause(self, schedule_id: str) -> None:
        self._command("pause", schedule_id, lambda engine: engine.pause(schedule_id))

    @Slot(str)
    def resume(self, schedule_id: str) -> None:
        self._command("resume", schedule_id, lambda engine: engine.resume(schedule_id))

    @Slot()
    def reload(self) -> None:
        if self._engine is not None:
            self._engine.reload()
        self._arm(0)

    @Slot(object)
    def set_contexts(self, names: tuple[str, ...]) -> None:
        self._extra_contexts = tuple(names)

    @Slot()
    def check_freshness(self) -> None:
        self._next_freshness = 0.0
        self._arm(0)

    # -- freshness ---------------------------------------------------------------------------

    def _check_freshness(self) -> None:
        interval = self._config.freshness_interval
        assert interval is not None
        self._next_freshness = time.monotonic() + interval.total_seconds()
        if self._freshness_rules is None:
            return
        statuses: list[freshness.FreshnessStatus] = []
        for rule in self._freshness_rules():
            if self._stop_event.is_set():
                return
            try:
                objects, _ = self._api_factory(rule.context).list(sb.SYSTEM_BACKUPS)
            except Exception as exc:
                log.info("freshness of %s not checked: %s", rule.context, exc)
                statuses.append(freshness.unchecked(rule, self._clock.now(), str(exc) or type(exc).__name__))
                continue
            statuses.append(freshness.check(rule, objects, self._clock.now()))
        self.freshness_checked.emit(FreshnessChecked(tuple(statuses)))


class SchedulerHost(QObject):
    """Runs workstation schedules on a background thread for the window.

    Signals (on the GUI thread):
        run_started(RunStarted): a run began (or an in-cluster run was first seen).
        run_finished(RunFinished): a run record reached its outcome.
        schedule_changed(ScheduleChanged): a schedule was paused or resumed.
        status_changed(HostStatus): this window started or stopped running schedules, or found
            that another process runs them.
        freshness_checked(FreshnessChecked): the freshness rules were checked.
        command_failed(CommandFailed): a command could not be carried out.
    """

    run_started = Signal(object)
    run_finished = Signal(object)
    schedule_changed = Signal(object)
    status_changed = Signal(object)
    freshness_checked = Signal(object)
    command_failed = Signal(object)

    # Commands to the worker, delivered queued into the scheduler thread.
    _run_now_requested = Signal(str)
    _pause_requested = Signal(str)
    _resume_requested = Signal(str)
    _reload_requested = Signal()
    _contexts_requested = Signal(object)
    _freshness_requested = Signal()
    _stop_requested = Signal()

    def __init__(
        self,
        data_dir: Path,
        store: Store,
        api_factory: ApiFactory,
        *,
        freshness_rules: FreshnessRules | None = None,
        config: SchedulerConfig | None = None,
        clock: Clock | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.data_dir = Path(data_dir)
        self.store = store
        self.config = config or SchedulerConfig()
        self._clock = clock or SystemClock()
        self._freshness_rules = freshness_rules
        self._api_factory = api_factory
        self._thread: QThread | None = None
        self._worker: SchedulerWorker | None = None
        self._status = HostStatus(STOPPED, "the scheduler has not started")
        self._running_ids: dict[int, str] = {}

    # -- state -------------------------------------------------------------------------------

    @property
    def status(self) -> HostStatus:
        return self._status

    @property
    def started(self) -> bool:
        """True between :meth:`start` and :meth:`stop` (whether or not this window holds the lock)."""
        return self._thread is not None

    def runs_in_progress(self) -> tuple[str, ...]:
        """Schedule ids with a run in progress, as the events told."""
        return tuple(dict.fromkeys(self._running_ids.values()))

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the scheduler thread (it reports what it found through ``status_changed``)."""
        if self._thread is not None:
            return
        thread = QThread()
        thread.setObjectName("lhdesk-scheduler")
        worker = SchedulerWorker(
            self.data_dir, self.store, self._api_factory, self.config, self._clock, self._freshness_rules
        )
        worker.moveToThread(thread)
        queued = Qt.ConnectionType.QueuedConnection
        thread.started.connect(worker.start)
        thread.finished.connect(worker.deleteLater)
        worker.run_started.connect(self._on_run_started, queued)
        worker.run_finished.connect(self._on_run_finished, queued)
        worker.schedule_changed.connect(self._on_schedule_changed, queued)
        worker.status_changed.connect(self._on_status_changed, queued)
        worker.freshness_checked.connect(self._on_freshness_checked, queued)
        worker.command_failed.connect(self._on_command_failed, queued)
        self._run_now_requested.connect(worker.run_now, queued)
        self._pause_requested.connect(worker.pause, queued)
        self._resume_requested.connect(worker.resume, queued)
        self._reload_requested.connect(worker.reload, queued)
        self._contexts_requested.connect(worker.set_contexts, queued)
        self._freshness_requested.connect(worker.check_freshness, queued)
        self._stop_requested.connect(worker.stop, queued)
        self._thread = thread
        self._worker = worker
        thread.start()

    def stop(self, timeout_ms: int = 30_000) -> bool:
        """Stop the scheduler and join its thread, even in the middle of a run. True when joined.

        The run in progress is interrupted within one watch window; its record stays ``running``
        and the next start finishes it by adoption.
        """
        thread, worker = self._thread, self._worker
        if thread is None or worker is None:
            return True
        worker.request_stop()
        self._stop_requested.emit()
        joined = thread.wait(timeout_ms)
        if not joined:
            log.error("the scheduler thread did not stop within %d ms", timeout_ms)
            return False
        self._thread = None
        self._worker = None
        self._running_ids.clear()
        self._set_status(HostStatus(STOPPED, "the scheduler is stopped"))
        return True

    # -- commands ----------------------------------------------------------------------------

    def run_now(self, schedule_id: str) -> None:
        self._run_now_requested.emit(schedule_id)

    def pause(self, schedule_id: str) -> None:
        self._pause_requested.emit(schedule_id)

    def resume(self, schedule_id: str) -> None:
        self._resume_requested.emit(schedule_id)

    def reload(self) -> None:
        """Schedules changed in the store: look at them again now."""
        self._reload_requested.emit()

    def watch_contexts(self, names: Iterable[str]) -> None:
        """Also record in-cluster RecurringJob runs of these contexts (e.g. the current one)."""
        self._contexts_requested.emit(tuple(names))

    def check_freshness(self) -> None:
        """Check the freshness rules now (e.g. after one was changed)."""
        self._freshness_requested.emit()

    # -- from the worker ---------------------------------------------------------------------

    def _set_status(self, status: HostStatus) -> None:
        if status != self._status:
            self._status = status
            self.status_changed.emit(status)

    @Slot(object)
    def _on_status_changed(self, status: HostStatus) -> None:
        if self._thread is None:
            return  # a late report from a stopped worker
        self._set_status(status)

    @Slot(object)
    def _on_run_started(self, event: RunStarted) -> None:
        if event.run.id is not None and event.run.kind == "schedule":
            self._running_ids[event.run.id] = event.run.schedule_id
        self.run_started.emit(event)

    @Slot(object)
    def _on_run_finished(self, event: RunFinished) -> None:
        if event.run.id is not None:
            self._running_ids.pop(event.run.id, None)
        self.run_finished.emit(event)

    @Slot(object)
    def _on_schedule_changed(self, event: ScheduleChanged) -> None:
        self.schedule_changed.emit(event)

    @Slot(object)
    def _on_freshness_checked(self, report: FreshnessChecked) -> None:
        self.freshness_checked.emit(report)

    @Slot(object)
    def _on_command_failed(self, failure: CommandFailed) -> None:
        self.command_failed.emit(failure)
