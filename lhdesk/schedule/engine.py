"""The scheduler engine: ticks, asks :func:`lhdesk.schedule.due.due_all`, runs what is due.

One engine serves both hosts:

- ``lhdesk scheduler run`` calls :meth:`Engine.serve` in its main thread;
- the window's QThread worker calls :meth:`Engine.tick` from a short QTimer in the worker thread,
  and its command slots call :meth:`Engine.run_now`, :meth:`Engine.pause`, :meth:`Engine.resume`
  and :meth:`Engine.reload` there. :meth:`Engine.stop` is the one method meant to be called from
  another thread: it sets an event that interrupts a run in progress within a watch window.

Only the process holding :func:`lhdesk.schedule.lock.acquire_lock` may run an engine.

Events (``listener`` is called in the engine's thread with one frozen dataclass):

- :class:`RunStarted`: a run of a workstation schedule began (or an in-cluster run was first seen);
- :class:`RunFinished`: a run record reached a final outcome: ``ready``, ``adopted``, ``error``, or a
  ``missed``/``skipped`` summary; also observed in-cluster runs (``kind == "recurring-job"``);
- :class:`ScheduleChanged`: a schedule was paused or resumed through the engine.

Clock jumps and sleep: each tick compares how far the wall clock and the monotonic clock moved
since the previous tick. When they disagree by more than ``jump_tolerance`` (the machine slept, or
the wall clock was set), the engine restarts its *running since* time, so the slots in the gap count
as missed and follow the catch-up policy instead of firing as if the engine had been there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from lhdesk.schedule import due as due_mod
from lhdesk.schedule.api import SystemBackupApi
from lhdesk.schedule.clock import Clock, SystemClock
from lhdesk.schedule.due import Decision, SlotSpan
from lhdesk.schedule.model import KIND_SCHEDULE, RunRecord, Schedule
from lhdesk.schedule.naming import backup_name
from lhdesk.schedule.runner import DEFAULT_RUN_TIMEOUT, WATCH_WINDOW_SECONDS, observe_cluster_runs, run_once
from lhdesk.schedule.store import SlotTaken, Store, UnknownSchedule

log = logging.getLogger(__name__)

DEFAULT_TICK_SECONDS = 1.0
DEFAULT_OBSERVE_INTERVAL = timedelta(minutes=1)
DEFAULT_JUMP_TOLERANCE = timedelta(seconds=20)


class ContextUnavailable(Exception):
    """The api factory cannot reach a context (gone from the kubeconfig, or unusable)."""


@dataclass(frozen=True)
class RunStarted:
    run: RunRecord


@dataclass(frozen=True)
class RunFinished:
    run: RunRecord


@dataclass(frozen=True)
class ScheduleChanged:
    schedule: Schedule


EngineEvent = RunStarted | RunFinished | ScheduleChanged
ApiFactory = Callable[[str], SystemBackupApi]


def _truncate(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


class Engine:
    """Runs workstation schedules from a :class:`Store` against clusters from ``api_factory``.

    ``api_factory(context)`` returns a :class:`SystemBackupApi` for a kubeconfig context, or raises
    (:class:`ContextUnavailable` or anything else) with a message for the history.
    ``observe_contexts()`` lists the contexts whose Longhorn ``system-backup`` RecurringJob runs are
    recorded too (default: the contexts of the schedules).
    """

    def __init__(
        self,
        store: Store,
        api_factory: ApiFactory,
        clock: Clock | None = None,
        *,
        listener: Callable[[EngineEvent], None] | None = None,
        run_timeout: timedelta = DEFAULT_RUN_TIMEOUT,
        observe_interval: timedelta | None = DEFAULT_OBSERVE_INTERVAL,
        observe_contexts: Callable[[], Iterable[str]] | None = None,
        jump_tolerance: timedelta = DEFAULT_JUMP_TOLERANCE,
        watch_window: int = WATCH_WINDOW_SECONDS,
    ) -> None:
        self.store = store
        self.api_factory = api_factory
        self.clock = clock or SystemClock()
        self.listener = listener
        self.run_timeout = run_timeout
        self.observe_interval = observe_interval
        self.observe_contexts = observe_contexts
        self.jump_tolerance = jump_tolerance
        self.watch_window = watch_window
        self.stop_event = threading.Event()
        self._running_since: datetime | None = None
        self._last_wall: datetime | None = None
        self._last_mono: float | None = None
        self._recovered = False
        self._next_observe: float | None = None
        self._decisions: dict[str, Decision] = {}

    # -- events ------------------------------------------------------------------------------

    def _emit(self, event: EngineEvent) -> None:
        if self.listener is None:
            return
        try:
            self.listener(event)
        except Exception:
            log.exception("scheduler event listener failed on %s", type(event).__name__)

    # -- state -------------------------------------------------------------------------------

    @property
    def running_since(self) -> datetime | None:
        """Start of the current uninterrupted stretch of ticking (None before the first tick)."""
        return self._running_since

    @property
    def stopping(self) -> bool:
        return self.stop_event.is_set()

    def stop(self) -> None:
        """Ask the engine to stop; thread-safe. A run in progress stays ``running`` in the history
        and is finished by adoption on the next start."""
        self.stop_event.set()

    def decisions(self) -> dict[str, Decision]:
        """The decisions of the last tick, by schedule id (``next_slot`` feeds the UI's next run)."""
        return dict(self._decisions)

    def reload(self) -> None:
        """Forget cached decisions; the next tick reads every schedule again (it always does)."""
        self._decisions = {}

    # -- clock -------------------------------------------------------------------------------

    def _observe_clock(self, now: datetime, mono: float) -> None:
        if self._last_wall is None or self._last_mono is None or self._running_since is None:
            self._running_since = now
        else:
            wall_step = (now - self._last_wall).total_seconds()
            mono_step = mono - self._last_mono
            drift = wall_step - mono_step
            if abs(drift) > self.jump_tolerance.total_seconds():
                log.warning(
                    "the wall clock moved %.0f s while %.0f s passed (sleep, resume or clock change): "
                    "slots in the gap follow the catch-up policy",
                    wall_step,
                    mono_step,
                )
                self._running_since = now
        self._last_wall = now
        self._last_mono = mono

    # -- ticking -----------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> list[RunRecord]:
        """Do everything that is due at ``now`` (default: the clock's now); return the records made.

        Runs go one after another; a stop request ends the tick between (or inside) runs.
        """
        moment = self.clock.now() if now is None else now
        self._observe_clock(moment, self.clock.monotonic())
        made: list[RunRecord] = []
        if not self._recovered:
            made.extend(self.recover(moment))
        schedules = [s for s in self.store.schedules() if s.enabled]
        decisions = due_mod.due_all(schedules, self.store.last_slots(), moment, self._running_since)
        self._decisions = {d.schedule_id: d for d in decisions}
        for schedule, decision in zip(schedules, decisions, strict=True):
            if self.stop_event.is_set():
                break
            if decision.has_work:
                made.extend(self._act(schedule, decision, moment))
        if not self.stop_event.is_set():
            self._maybe_observe()
        return made

    def next_wakeup(self, now: datetime | None = None, tick_seconds: float = DEFAULT_TICK_SECONDS) -> float:
        """Seconds until the next tick should happen: the tick interval, or sooner when a slot is
        due sooner (so a run starts within milliseconds of its slot, not up to a tick late)."""
        moment = self.clock.now() if now is None else now
        wait = tick_seconds
        for decision in self._decisions.values():
            if decision.next_slot is not None:
                wait = min(wait, (decision.next_slot - moment).total_seconds())
        return max(0.0, wait)

    def serve(self, *, duration: float | None = None, tick_seconds: float = DEFAULT_TICK_SECONDS) -> None:
        """Tick until :meth:`stop` (or for ``duration`` seconds): the headless scheduler's loop."""
        end = None if duration is None else self.clock.monotonic() + duration
        while not self.stop_event.is_set():
            self.tick()
            wait = self.next_wakeup(tick_seconds=tick_seconds)
            if end is not None:
                left = end - self.clock.monotonic()
                if left <= 0:
                    break
                wait = min(wait, left)
            self.stop_event.wait(wait)

    # -- acting on decisions -----------------------------------------------------------------

    def _record_span(
        self, schedule: Schedule, outcome: str, span: SlotSpan, message: str
    ) -> RunRecord | None:
        now = self.clock.now()
        record = RunRecord(
            schedule_id=schedule.id,
            slot=span.last,
            started=now,
            finished=now,
            outcome=outcome,
            message=message,
            context=schedule.context,
        )
        try:
            stored = self.store.record_run(record)
        except SlotTaken:
            return None
        self._emit(RunFinished(stored))
        return stored

    def _act(self, schedule: Schedule, decision: Decision, now: datetime) -> list[RunRecord]:
        made: list[RunRecord] = []
        if decision.missed is not None:
            span = decision.missed
            if decision.run is not None:
                why = "the newest missed slot runs now as a catch-up"
            elif schedule.catch_up == "skip":
                why = "catch-up policy is skip"
            else:
                why = (
                    f"the newest was more than {schedule.grace} ago "
                    f"(catch-up run-once within {schedule.grace})"
                )
            message = f"missed {span.describe()} while no scheduler was running; {why}"
            record = self._record_span(schedule, "missed", span, message)
            if record is not None:
                made.append(record)
        if decision.skipped is not None:
            span = decision.skipped
            message = (
                f"skipped {span.describe()}: they came while another run was in progress; "
                "only the newest runs"
            )
            record = self._record_span(schedule, "skipped", span, message)
            if record is not None:
                made.append(record)
        if decision.run is not None and not self.stop_event.is_set():
            note = "catch-up of a missed slot" if decision.catch_up else ""
            result = self._run(schedule, decision.run, note=note)
            if result is not None:
                made.append(result)
        return made

    def _run(
        self, schedule: Schedule, slot: datetime, *, note: str = "", resume: RunRecord | None = None
    ) -> RunRecord | None:
        """One run through the runner; the context's failure becomes an ``error`` record."""
        try:
            api = self.api_factory(schedule.context)
        except Exception as exc:
            return self._context_failed(schedule, slot, exc, resume)
        create_if_missing = resume is None or self.clock.now() - slot <= schedule.grace
        try:
            record = run_once(
                api,
                schedule,
                slot,
                self.store,
                self.run_timeout,
                self.stop_event,
                clock=self.clock,
                resume=resume,
                create_if_missing=create_if_missing,
                on_started=lambda started: self._emit(RunStarted(started)),
                watch_window=self.watch_window,
            )
        except SlotTaken:
            log.warning("schedule %s: slot %s is already recorded (another process?)", schedule.id, slot)
            return None
        if note and record.is_final:
            record = self.store.update_run(record.replace(message=f"{record.message} ({note})"))
        if record.is_final:
            self._emit(RunFinished(record))
        return record

    def _context_failed(
        self, schedule: Schedule, slot: datetime, exc: BaseException, resume: RunRecord | None
    ) -> RunRecord | None:
        now = self.clock.now()
        reason = str(exc) or type(exc).__name__
        message = f"context {schedule.context!r} cannot be used: {reason}"
        log.warning("schedule %s: %s", schedule.id, message)
        record = resume or RunRecord(
            schedule_id=schedule.id,
            slot=slot,
            started=now,
            backup="",
            context=schedule.context,
        )
        record = record.replace(outcome="error", finished=now, message=message)
        try:
            stored = self.store.update_run(record) if record.id is not None else self.store.record_run(record)
        except SlotTaken:
            return None
        self._emit(RunFinished(stored))
        return stored

    # -- recovery ----------------------------------------------------------------------------

    def recover(self, now: datetime | None = None) -> list[RunRecord]:
        """Finish runs an earlier process left ``running`` (killed, or stopped mid-run).

        Each is run again for its slot: the SystemBackup exists, so it is adopted and followed to
        its end. When it was never created, it is created only within the grace window.
        """
        self._recovered = True
        made: list[RunRecord] = []
        for record in self.store.unfinished_runs():
            if self.stop_event.is_set():
                break
            try:
                schedule = self.store.get_schedule(record.schedule_id)
            except UnknownSchedule:
                done = self.store.update_run(
                    record.replace(
                        outcome="error",
                        finished=self.clock.now(),
                        message="the run was interrupted and its schedule has since been removed",
                    )
                )
                self._emit(RunFinished(done))
                made.append(done)
                continue
            log.info(
                "schedule %s: finishing the run for slot %s left by an earlier process",
                schedule.id,
                record.slot,
            )
            result = self._run(schedule, record.slot, resume=record)
            if result is not None:
                made.append(result)
        return made

    # -- commands ----------------------------------------------------------------------------

    def run_now(self, schedule_id: str) -> RunRecord | None:
        """Run a schedule immediately (paused or not), for the current second as its slot.

        Returns None when that slot is already recorded (asked twice within a second).
        """
        schedule = self.store.get_schedule(schedule_id)
        slot = _truncate(self.clock.now())
        if self.store.run_for_slot(schedule.id, slot) is not None:
            return None
        return self._run(schedule, slot, note="started by Run now")

    def pause(self, schedule_id: str) -> Schedule:
        schedule = self.store.set_enabled(schedule_id, False, self.clock.now())
        self._emit(ScheduleChanged(schedule))
        return schedule

    def resume(self, schedule_id: str) -> Schedule:
        """Resume a schedule; the slots it was paused through are not caught up."""
        schedule = self.store.set_enabled(schedule_id, True, self.clock.now())
        self._emit(ScheduleChanged(schedule))
        return schedule

    # -- observing in-cluster runs -----------------------------------------------------------

    def _contexts_to_observe(self) -> list[str]:
        if self.observe_contexts is not None:
            return list(dict.fromkeys(self.observe_contexts()))
        return list(dict.fromkeys(s.context for s in self.store.schedules()))

    def _maybe_observe(self) -> None:
        if self.observe_interval is None:
            return
        mono = self.clock.monotonic()
        if self._next_observe is not None and mono < self._next_observe:
            return
        self._next_observe = mono + self.observe_interval.total_seconds()
        self.observe()

    def observe(self) -> list[RunRecord]:
        """Record the runs of Longhorn ``system-backup`` RecurringJobs in every observed context."""
        changed: list[RunRecord] = []
        for context in self._contexts_to_observe():
            if self.stop_event.is_set():
                break
            try:
                api = self.api_factory(context)
                records = observe_cluster_runs(api, self.store, context, clock=self.clock)
            except Exception as exc:
                log.info("cannot observe system backups in context %s: %s", context, exc)
                continue
            for record in records:
                self._emit(RunFinished(record) if record.is_final else RunStarted(record))
            changed.extend(records)
        return changed


def expected_backup_name(schedule: Schedule, slot: datetime) -> str:
    """The SystemBackup name a run of ``schedule`` at ``slot`` uses (for UIs and tests)."""
    return backup_name(schedule.id, slot)


__all__ = [
    "KIND_SCHEDULE",
    "ContextUnavailable",
    "Engine",
    "EngineEvent",
    "RunFinished",
    "RunStarted",
    "ScheduleChanged",
    "expected_backup_name",
]
