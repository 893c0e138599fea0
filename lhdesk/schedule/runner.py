"""One run of a workstation schedule against a cluster, and observing Longhorn's own runs.

:func:`run_once` is plain blocking Python: the headless engine and the window's QThread host both
call it through :class:`lhdesk.schedule.engine.Engine`. A run:

1. records itself as ``running`` for its slot (a second process meets the unique slot and stops);
2. creates the SystemBackup named after the schedule and the slot, labelled as lhdesk's; a 409
   means an earlier attempt created it: the run *adopts* it instead of making a twin;
3. follows it with a watch, a few seconds at a time (so a stop request is honoured quickly) and
   resumed on expiry, until ``Ready`` or ``Error`` or the run's timeout;
4. applies retention to this schedule's own ``Ready``/``Error`` backups with Longhorn's ordering
   (:mod:`lhdesk.core.retention`), as Longhorn's job does, whether the run succeeded or failed;
5. records the outcome and the names it pruned.

A stop request leaves the record ``running``; the next start finishes it by adoption.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lhdesk.core import errors as core_errors
from lhdesk.core import retention as core_retention
from lhdesk.schedule import api as sb
from lhdesk.schedule.api import SystemBackupApi
from lhdesk.schedule.clock import Clock, SystemClock
from lhdesk.schedule.model import KIND_RECURRING_JOB, RunRecord, Schedule
from lhdesk.schedule.naming import (
    RECURRING_JOB_LABEL,
    SCHEDULE_LABEL,
    backup_name,
    schedule_labels,
    schedule_selector,
)
from lhdesk.schedule.store import SlotTaken, Store

log = logging.getLogger(__name__)

DEFAULT_RUN_TIMEOUT = timedelta(hours=6)
#: Seconds one watch request lasts before it is resumed; also the longest a stop request waits.
WATCH_WINDOW_SECONDS = 2
_RETRY_BACKOFF_SECONDS = (0.5, 1.0, 2.0, 5.0)


class RunInterrupted(Exception):
    """The stop event was set while the run was in progress."""


class _RunFailed(Exception):
    """The run cannot go on; the message is what the history says."""


@dataclass(frozen=True)
class RetentionResult:
    pruned: tuple[str, ...]
    problems: tuple[str, ...]


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


def _wait(stop_event: threading.Event, seconds: float) -> None:
    if stop_event.wait(seconds):
        raise RunInterrupted


def follow_until_final(
    api: SystemBackupApi,
    name: str,
    *,
    timeout: timedelta,
    stop_event: threading.Event,
    clock: Clock,
    label_selector: str | None = None,
    watch_window: int = WATCH_WINDOW_SECONDS,
) -> sb.Obj:
    """Watch SystemBackup ``name`` until its state is ``Ready`` or ``Error``; return it then.

    Raises :class:`RunInterrupted` on stop, :class:`_RunFailed` when it vanishes or time runs out.
    Transient API failures (an unreachable server, an expired watch) are retried until the timeout.
    """
    deadline = clock.monotonic() + timeout.total_seconds()
    failures = 0
    last: sb.Obj | None = None
    resource_version: str | None = None
    while True:
        if stop_event.is_set():
            raise RunInterrupted
        remaining = deadline - clock.monotonic()
        if remaining <= 0:
            state = sb.state_of(last) if last is not None else "unknown"
            raise _RunFailed(
                f"gave up after {timeout} waiting for SystemBackup {name}; it is still in state "
                f"{state or 'None'} and may yet finish (see the cluster)"
            )
        try:
            if resource_version is None:
                last = api.get(sb.SYSTEM_BACKUPS, name)
                if sb.state_of(last) in sb.FINAL_STATES:
                    return last
                if sb.is_deleting(last):
                    raise _RunFailed(f"SystemBackup {name} is being deleted before it finished")
                resource_version = sb.resource_version_of(last)
            window = max(1, min(watch_window, int(remaining) + 1))
            for event_type, obj in api.watch(
                sb.SYSTEM_BACKUPS, resource_version or "", window, label_selector=label_selector
            ):
                if stop_event.is_set():
                    raise RunInterrupted
                if sb.name_of(obj) != name:
                    continue
                if event_type == "DELETED":
                    raise _RunFailed(f"SystemBackup {name} was deleted before it finished")
                if event_type == "BOOKMARK":
                    resource_version = sb.resource_version_of(obj) or resource_version
                    continue
                last = obj
                resource_version = sb.resource_version_of(obj) or resource_version
                if sb.state_of(obj) in sb.FINAL_STATES:
                    return obj
                if sb.is_deleting(obj):
                    raise _RunFailed(f"SystemBackup {name} is being deleted before it finished")
            failures = 0
        except core_errors.NotFound as exc:
            raise _RunFailed(f"SystemBackup {name} disappeared before it finished") from exc
        except (RunInterrupted, _RunFailed):
            raise
        except Exception as exc:  # a dropped watch, 410 Gone, an unreachable server: read again
            log.debug("following %s: %s; reading it again", name, _describe(exc))
            resource_version = None
            _wait(stop_event, _RETRY_BACKOFF_SECONDS[min(failures, len(_RETRY_BACKOFF_SECONDS) - 1)])
            failures += 1


def apply_retention(api: SystemBackupApi, schedule: Schedule) -> RetentionResult:
    """Delete this schedule's ``Ready``/``Error`` backups beyond ``retain``, Longhorn's way.

    Only SystemBackups labelled with this schedule's id count; in-progress ones are neither counted
    nor deleted; failed ones go first, then the oldest (:func:`lhdesk.core.retention.forecast`).
    """
    try:
        objects, _ = api.list(sb.SYSTEM_BACKUPS, label_selector=schedule_selector(schedule.id))
    except Exception as exc:
        return RetentionResult((), (f"retention skipped: listing backups failed: {_describe(exc)}",))
    records = [
        core_retention.BackupRecord(name=sb.name_of(o), state=sb.state_of(o), created=sb.created_at_of(o))
        for o in objects
        if not sb.is_deleting(o)
    ]
    plan = core_retention.forecast(records, schedule.retain)
    pruned: list[str] = []
    problems: list[str] = []
    for name in plan.delete:
        try:
            api.delete(sb.SYSTEM_BACKUPS, name, missing_ok=True)
        except Exception as exc:
            problems.append(f"retention could not delete {name}: {_describe(exc)}")
            continue
        pruned.append(name)
    if pruned:
        log.info("schedule %s: retention deleted %s", schedule.id, ", ".join(pruned))
    return RetentionResult(tuple(pruned), tuple(problems))


def _start_record(store: Store, schedule: Schedule, slot: datetime, name: str, clock: Clock) -> RunRecord:
    record = RunRecord(
        schedule_id=schedule.id,
        slot=slot,
        started=clock.now(),
        outcome="running",
        backup=name,
        context=schedule.context,
    )
    return store.record_run(record)


def run_once(
    api: SystemBackupApi,
    schedule: Schedule,
    slot: datetime,
    store: Store,
    timeout: timedelta = DEFAULT_RUN_TIMEOUT,
    stop_event: threading.Event | None = None,
    *,
    clock: Clock | None = None,
    resume: RunRecord | None = None,
    create_if_missing: bool = True,
    on_started: Callable[[RunRecord], None] | None = None,
    watch_window: int = WATCH_WINDOW_SECONDS,
) -> RunRecord:
    """Run ``schedule`` for ``slot`` and return the stored record.

    ``resume`` is a ``running`` record left by an interrupted run of the same slot: the run goes on
    from it (adopting the SystemBackup when it exists). With ``create_if_missing=False`` a resumed
    run whose SystemBackup was never created ends as ``missed`` instead of creating it late.

    Returns a record whose outcome is ``running`` only when ``stop_event`` interrupted the run.
    Raises :class:`SlotTaken` when another process has already recorded this slot.
    """
    clock = clock or SystemClock()
    stop_event = stop_event or threading.Event()
    name = backup_name(schedule.id, slot)
    record = resume if resume is not None else _start_record(store, schedule, slot, name, clock)
    if on_started is not None:
        on_started(record)
    log.info("schedule %s (%s): run for slot %s, SystemBackup %s", schedule.id, schedule.name, slot, name)

    adopted = False
    message = ""
    outcome = "error"
    try:
        if stop_event.is_set():
            raise RunInterrupted
        if resume is not None and not create_if_missing:
            try:
                api.get(sb.SYSTEM_BACKUPS, name)
            except core_errors.NotFound:
                finished = record.replace(
                    outcome="missed",
                    finished=clock.now(),
                    message="the run was interrupted before its SystemBackup was created, and its slot "
                    "is now older than the grace window",
                )
                return store.update_run(finished)
        try:
            api.create(
                sb.SYSTEM_BACKUPS,
                sb.system_backup_body(name, schedule.volume_backup_policy, schedule_labels(schedule.id)),
            )
        except core_errors.AlreadyExists:
            existing = api.get(sb.SYSTEM_BACKUPS, name)
            owner = sb.labels_of(existing).get(SCHEDULE_LABEL)
            if owner != schedule.id:
                raise _RunFailed(
                    f"a SystemBackup named {name} exists already and was not made by this schedule "
                    f"(its {SCHEDULE_LABEL} label is {owner!r}); lhdesk leaves it alone"
                ) from None
            adopted = True
            log.info(
                "schedule %s: adopted existing SystemBackup %s from an earlier attempt", schedule.id, name
            )
        final = follow_until_final(
            api,
            name,
            timeout=timeout,
            stop_event=stop_event,
            clock=clock,
            label_selector=schedule_selector(schedule.id),
            watch_window=watch_window,
        )
        state = sb.state_of(final)
        if state == "Ready":
            outcome = "adopted" if adopted else "ready"
            message = (
                f"adopted {name}, created by an earlier attempt; it is Ready"
                if adopted
                else f"{name} is Ready"
            )
        else:
            outcome = "error"
            detail = sb.error_of(final) or "no error condition given"
            message = f"{name} failed: {detail}"
            if adopted:
                message = f"adopted {name} from an earlier attempt; it failed: {detail}"
    except RunInterrupted:
        log.info("schedule %s: run for slot %s interrupted; the next start finishes it", schedule.id, slot)
        return record
    except _RunFailed as exc:
        message = str(exc)
    except Exception as exc:
        message = f"creating SystemBackup {name} failed: {_describe(exc)}"
    result = apply_retention(api, schedule)
    if result.problems:
        message = "; ".join((message, *result.problems))
    finished = record.replace(
        outcome=outcome, finished=clock.now(), message=message, pruned=result.pruned, backup=name
    )
    store.update_run(finished)
    log.info("schedule %s: slot %s ended %s: %s", schedule.id, slot, outcome, message)
    return finished


# -- runs of Longhorn's own system-backup RecurringJobs ------------------------------------------


def _observed_record(context: str, obj: Mapping[str, Any], now: datetime) -> RunRecord | None:
    job = sb.labels_of(obj).get(RECURRING_JOB_LABEL)
    created = sb.creation_timestamp_of(obj)
    if not job or created is None:
        return None
    state = sb.state_of(obj)
    name = sb.name_of(obj)
    if state == "Ready":
        outcome, message, finished = "ready", f"{name} is Ready", sb.created_at_of(obj) or now
    elif state == "Error":
        detail = sb.error_of(obj) or "no error condition given"
        outcome, message, finished = "error", f"{name} failed: {detail}", now
    else:
        outcome, message, finished = "running", f"{name} is {state or 'starting'}", None
    return RunRecord(
        schedule_id=job,
        slot=created,
        started=created,
        finished=finished,
        outcome=outcome,
        backup=name,
        message=message,
        context=context,
        kind=KIND_RECURRING_JOB,
    )


def observe_cluster_runs(
    api: SystemBackupApi, store: Store, context: str, *, clock: Clock | None = None
) -> list[RunRecord]:
    """Record the SystemBackups made by Longhorn ``system-backup`` RecurringJobs in ``context``.

    Idempotent: each backup is one history line, updated when its outcome changes; a backup that
    Longhorn's retention deleted keeps its line (the history outlives the cluster's). Returns the
    records that are new or changed, so the caller can notify about failures.
    """
    now = (clock or SystemClock()).now()
    changed: list[RunRecord] = []
    objects, _ = api.list(sb.SYSTEM_BACKUPS, label_selector=RECURRING_JOB_LABEL)
    for obj in objects:
        record = _observed_record(context, obj, now)
        if record is None:
            continue
        stored, was_changed = store.upsert_observed(record)
        if was_changed:
            changed.append(stored)
    return changed


__all__ = [
    "DEFAULT_RUN_TIMEOUT",
    "RetentionResult",
    "RunInterrupted",
    "SlotTaken",
    "apply_retention",
    "follow_until_final",
    "observe_cluster_runs",
    "run_once",
]
