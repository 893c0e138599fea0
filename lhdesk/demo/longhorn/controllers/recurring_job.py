"""RecurringJob runner: fires each job on its cron (UTC), as the CronJob Longhorn makes for it would.

A run does what LM ``app/recurring_job.go`` does: add 1 to ``status.executionCount``, then

- ``system-backup``: create SystemBackup ``<first 8 chars of "<job>-c">-<uuid4>`` labelled
  ``recurring-job.longhorn.io/system-backup=<job>`` (policy from ``parameters["volume-backup-policy"]``),
  wait every 5 s (scaled) until it is ``Ready`` or ``Error``, then apply retention to this job's
  ``Ready``/``Error`` backups (``lhdesk.core.retention``: oldest first, failed ones first), also after a
  failed run;
- ``backup`` / ``backup-force-create``: a labelled Backup (``RecurringJob=<job>``) of every covered
  volume, ``concurrency`` at a time, then keep the newest ``retain`` of this job's backups per volume;
- the snapshot and trim tasks: the demo serves no Snapshot CRD, so a run only counts.

The CronJob's ``concurrencyPolicy: Forbid`` holds: a slot that comes while the previous run of the
same job is still going is skipped.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from kubernetes.client.exceptions import ApiException

from lhdesk.core import backupstore as bs
from lhdesk.core import coverage, cron, retention

from . import kube as k
from .context import LABEL_BACKUP_VOLUME, Context
from .kube import JSON
from .volume_backup import STATE_COMPLETED, STATE_ERROR, create_backup, new_backup_name

log = logging.getLogger(__name__)

LABEL_SYSTEM_BACKUP_JOB = "recurring-job.longhorn.io/system-backup"
LABEL_RECURRING_JOB = "RecurringJob"
PARAM_VOLUME_BACKUP_POLICY = "volume-backup-policy"
PARAM_FULL_BACKUP_INTERVAL = "full-backup-interval"
SYSTEM_BACKUP_WAIT_SECONDS = 5.0
VOLUME_BACKUP_WAIT_SECONDS = 1.0
DEFAULT_CONCURRENCY = 10
BACKUP_TASKS = ("backup", "backup-force-create")


def job_object_name(job: str) -> str:
    """Name of an object a job creates: the first 8 characters of ``<job>-c``, ``-``, a UUIDv4."""
    return f"{(job + '-c')[:8]}-{uuid.uuid4()}"


@dataclass
class _Schedule:
    cron_expr: str
    schedule: cron.CronSchedule | None
    anchor: datetime
    next_at: datetime | None


class RecurringJobRunner:
    """One scheduler thread plus one thread per running job."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._cond = threading.Condition()
        self._jobs: dict[str, _Schedule] = {}
        self._running: dict[str, threading.Thread] = {}
        self._thread: threading.Thread | None = None

    # ---- events --------------------------------------------------------------------------------

    def on_event(self, event_type: str, obj: JSON) -> None:
        name = k.name_of(obj)
        with self._cond:
            if event_type == "DELETED":
                self._jobs.pop(name, None)
                self._cond.notify()
                return
            expr = str(k.spec_of(obj).get("cron") or "")
            known = self._jobs.get(name)
            if known is not None and known.cron_expr == expr:
                return
            now = self.ctx.clock.cron_now()
            try:
                schedule: cron.CronSchedule | None = cron.parse(expr)
            except cron.CronError as exc:
                log.warning("recurring job %s has an invalid cron %r: %s", name, expr, exc)
                schedule = None
            entry = _Schedule(expr, schedule, now, None)
            entry.next_at = self._next(entry, now)
            self._jobs[name] = entry
            self._cond.notify()

    @staticmethod
    def _next(entry: _Schedule, after: datetime) -> datetime | None:
        if entry.schedule is None:
            return None
        try:
            return entry.schedule.next_after(after, entry.anchor if entry.schedule.is_every else None)
        except cron.CronError:
            return None

    # ---- scheduler thread ----------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="recurring-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
        with self._cond:
            running = list(self._running.values())
        for thread in running:
            thread.join(timeout)

    def is_alive(self) -> bool:
        with self._cond:
            running = [t for t in self._running.values() if t.is_alive()]
        return bool(running) or (self._thread is not None and self._thread.is_alive())

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait for the runs going now to end (a deleted job starts no new one); True if they did."""
        with self._cond:
            running = list(self._running.values())
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in running:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in running)

    def _loop(self) -> None:
        clock = self.ctx.clock
        while not self.ctx.stop.is_set():
            due: list[str] = []
            with self._cond:
                now = clock.cron_now()
                earliest: datetime | None = None
                for name, entry in self._jobs.items():
                    if entry.next_at is None:
                        continue
                    if entry.next_at <= now:
                        due.append(name)
                        # Slots missed while a run was going are not caught up (startingDeadline unset,
                        # Forbid): the next slot is the first one after now.
                        entry.next_at = self._next(entry, now)
                    if entry.next_at is not None and (earliest is None or entry.next_at < earliest):
                        earliest = entry.next_at
                for name in due:
                    self._fire(name)
                if not due:
                    wait = clock.cron_delay(earliest) if earliest is not None else 5.0
                    self._cond.wait(min(max(wait, 0.005), 5.0))

    def _fire(self, name: str) -> None:
        """Start a run unless the previous one is still going (called with the lock held)."""
        running = self._running.get(name)
        if running is not None and running.is_alive():
            log.info("recurring job %s: previous run still going, slot skipped", name)
            return
        thread = threading.Thread(target=self._execute, args=(name,), name=f"job-{name}", daemon=True)
        self._running[name] = thread
        thread.start()

    # ---- one run -------------------------------------------------------------------------------

    def _execute(self, name: str) -> None:
        try:
            job = self._count(name)
            if job is None or self.ctx.stop.is_set():
                return
            task = str(k.spec_of(job).get("task") or "")
            count = int(k.status_of(job).get("executionCount") or 0)
            if task == "system-backup":
                self._system_backup(job)
            elif task in BACKUP_TASKS:
                self._volume_backups(job, count)
            else:
                log.debug(
                    "recurring job %s (%s) ran: no Snapshot CRD in the demo, nothing to create", name, task
                )
        except Exception:
            log.exception("recurring job %s failed", name)

    def _count(self, name: str) -> JSON | None:
        def bump(fresh: JSON) -> bool:
            status = fresh.get("status") or {}
            status["executionCount"] = int(status.get("executionCount") or 0) + 1
            fresh["status"] = status
            return True

        return self.ctx.mutate(k.RECURRING_JOBS, name, bump, status=True)

    def _wait(self, seconds: float) -> bool:
        """Sleep a scaled Longhorn delay; False when the simulator stops meanwhile."""
        return not self.ctx.stop.wait(self.ctx.clock.scaled(seconds))

    # system-backup ------------------------------------------------------------------------------

    def _system_backup(self, job: JSON) -> None:
        ctx = self.ctx
        job_name = k.name_of(job)
        spec = k.spec_of(job)
        policy = str((spec.get("parameters") or {}).get(PARAM_VOLUME_BACKUP_POLICY) or "")
        name = job_object_name(job_name)
        body: JSON = {
            "metadata": {"name": name, "labels": {LABEL_SYSTEM_BACKUP_JOB: job_name}},
            "spec": {"volumeBackupPolicy": policy} if policy else {},
        }
        try:
            ctx.kube.create(k.SYSTEM_BACKUPS, body, ctx.namespace)
            log.info("recurring job %s created system backup %s", job_name, name)
            while self._wait(SYSTEM_BACKUP_WAIT_SECONDS):
                current = ctx.kube.get(k.SYSTEM_BACKUPS, name, ctx.namespace)
                if current is None or k.status_of(current).get("state") in ("Ready", "Error"):
                    break
        except ApiException as exc:
            log.warning(
                "recurring job %s could not create system backup %s: %s", job_name, name, _message(exc)
            )
        finally:
            if not ctx.stop.is_set():
                self._system_backup_retention(job_name, int(spec.get("retain") or 0))

    def _system_backup_retention(self, job_name: str, retain: int) -> None:
        ctx = self.ctx
        items = ctx.kube.items(
            k.SYSTEM_BACKUPS, ctx.namespace, label_selector=f"{LABEL_SYSTEM_BACKUP_JOB}={job_name}"
        )
        records = []
        for item in items:
            status = k.status_of(item)
            created = str(status.get("createdAt") or "")
            records.append(
                retention.BackupRecord(
                    name=k.name_of(item),
                    state=str(status.get("state") or ""),
                    created=bs.parse_time(created) if created else None,
                )
            )
        for name in retention.forecast(records, max(retain, 0)).delete:
            log.info("recurring job %s: retention deletes system backup %s", job_name, name)
            ctx.kube.delete(k.SYSTEM_BACKUPS, name, ctx.namespace)

    # backup -------------------------------------------------------------------------------------

    def _covered(self, job: JSON) -> list[JSON]:
        ctx = self.ctx
        spec = k.spec_of(job)
        volumes = {k.name_of(v): v for v in ctx.informer(k.VOLUMES).objects()}
        names = coverage.covered_volumes(
            k.name_of(job),
            [str(g) for g in spec.get("groups") or []],
            {name: k.labels_of(v) for name, v in volumes.items()},
            str(spec.get("task") or ""),
        )
        allow_detached = ctx.setting("allow-recurring-job-while-volume-detached", "false").lower() == "true"
        chosen = []
        for name in names:
            status = k.status_of(volumes[name])
            if status.get("robustness") == "faulted" or status.get("restoreRequired"):
                continue
            state = status.get("state")
            if state == "attached" or (state == "detached" and allow_detached):
                chosen.append(volumes[name])
        return chosen

    def _volume_backups(self, job: JSON, execution_count: int) -> None:
        spec = k.spec_of(job)
        volumes = self._covered(job)
        if not volumes:
            log.info("recurring job %s: no volume to back up", k.name_of(job))
            return
        workers = int(spec.get("concurrency") or DEFAULT_CONCURRENCY)
        with ThreadPoolExecutor(
            max_workers=max(1, workers), thread_name_prefix=f"job-{k.name_of(job)}"
        ) as pool:
            for volume in volumes:
                pool.submit(self._back_up_volume, job, volume, execution_count)

    def _back_up_volume(self, job: JSON, volume: JSON, execution_count: int) -> None:
        ctx = self.ctx
        job_name = k.name_of(job)
        spec = k.spec_of(job)
        params = spec.get("parameters") or {}
        try:
            interval = int(str(params.get(PARAM_FULL_BACKUP_INTERVAL) or "0"))
        except ValueError:
            interval = 0
        mode = "full" if interval > 0 and execution_count % interval == 0 else "incremental"
        labels = {str(a): str(b) for a, b in (spec.get("labels") or {}).items()}
        labels[LABEL_RECURRING_JOB] = job_name
        name = new_backup_name()
        try:
            create_backup(ctx, volume, name, job_object_name(job_name), labels=labels, backup_mode=mode)
            while self._wait(VOLUME_BACKUP_WAIT_SECONDS):
                current = ctx.kube.get(k.BACKUPS, name, ctx.namespace)
                if current is None or k.status_of(current).get("state") in (STATE_COMPLETED, STATE_ERROR):
                    break
        except ApiException as exc:
            log.warning(
                "recurring job %s could not back up %s: %s", job_name, k.name_of(volume), _message(exc)
            )
            return
        if ctx.stop.is_set():
            return
        mine = []
        selector = f"{LABEL_BACKUP_VOLUME}={k.name_of(volume)}"
        for backup in ctx.kube.items(k.BACKUPS, ctx.namespace, label_selector=selector):
            status = k.status_of(backup)
            backup_labels = status.get("labels") or k.spec_of(backup).get("labels") or {}
            if backup_labels.get(LABEL_RECURRING_JOB) == job_name and status.get("state") == STATE_COMPLETED:
                mine.append((str(status.get("backupCreatedAt") or ""), k.name_of(backup)))
        mine.sort()
        retain = max(int(spec.get("retain") or 0), 0)
        for _, doomed in mine[: max(len(mine) - retain, 0)]:
            log.info("recurring job %s: retention deletes backup %s", job_name, doomed)
            ctx.kube.delete(k.BACKUPS, doomed, ctx.namespace)


def _message(exc: ApiException) -> str:
    """The Status message of a refusal (a webhook's words), else the HTTP reason."""
    try:
        body = json.loads(exc.body or "{}")
    except ValueError:
        body = {}
    return str(body.get("message") or exc.reason or exc.status)
