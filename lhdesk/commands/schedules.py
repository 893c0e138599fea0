"""``lhdesk scheduler run`` and ``lhdesk schedules …``: workstation schedules without a window.

- ``lhdesk scheduler run [--for DURATION]`` runs the scheduler engine in the foreground (for a
  systemd user service, see ``packaging/lhdesk-scheduler.service``) until SIGINT/SIGTERM or the
  duration ends. Only one process on the machine runs schedules: a second one exits with status 3
  and names the pid that holds the lock.
- ``lhdesk schedules list|add|remove|pause|resume|history [--json]`` manages the schedules and reads
  the run history from scripts.

The data folder is ``--data-dir``, else ``$LHDESK_DATA_DIR``, else the folder the window uses
(Qt's AppDataLocation for lhdesk, see :mod:`lhdesk.schedule.paths`). Contexts come from the
kubeconfig (``--kubeconfig``, else ``KUBECONFIG``, else ``~/.kube/config``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import re
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from lhdesk.core import cron as core_cron
from lhdesk.schedule import due as due_mod
from lhdesk.schedule.api import SYSTEM_BACKUPS
from lhdesk.schedule.engine import Engine, EngineEvent, RunStarted, ScheduleChanged
from lhdesk.schedule.freshness import FreshnessRule, FreshnessRuleError, FreshnessStatus
from lhdesk.schedule.freshness import check as freshness_check
from lhdesk.schedule.freshness import unchecked as freshness_unchecked
from lhdesk.schedule.lock import acquire_lock, lock_owner_pid
from lhdesk.schedule.model import (
    CATCH_UP_POLICIES,
    DEFAULT_CATCH_UP,
    DEFAULT_GRACE,
    DEFAULT_POLICY,
    OUTCOMES,
    RETAIN_MAX,
    RETAIN_MIN,
    VOLUME_BACKUP_POLICIES,
    RunRecord,
    Schedule,
    ScheduleError,
    utcnow,
)
from lhdesk.schedule.naming import new_schedule_id
from lhdesk.schedule.paths import default_data_dir
from lhdesk.schedule.runner import DEFAULT_RUN_TIMEOUT
from lhdesk.schedule.store import Store, StoreError, UnknownSchedule

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
#: ``scheduler run`` when another process holds the scheduler lock.
EXIT_LOCKED = 3
#: ``schedules freshness check`` when a context has no Ready system backup within its limit.
EXIT_STALE = 4

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h|d)")


def parse_duration(text: str) -> timedelta:
    """``90``, ``90s``, ``5m``, ``1h30m``, ``1.5h``, ``2d`` → timedelta (a bare number is seconds)."""
    value = text.strip()
    if re.fullmatch(r"\d+(?:\.\d*)?", value):
        return timedelta(seconds=float(value))
    position = 0
    total = timedelta(0)
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    for match in _DURATION_PART.finditer(value):
        if match.start() != position:
            break
        total += timedelta(seconds=float(match.group(1)) * units[match.group(2)])
        position = match.end()
    if position != len(value) or not value:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (examples: 90s, 5m, 1h30m)")
    return total


def _data_dir(args: argparse.Namespace) -> Path:
    given = getattr(args, "data_dir", None)
    return Path(given).expanduser() if given else default_data_dir()


def _kubeconfig(args: argparse.Namespace) -> Path | None:
    given = getattr(args, "kubeconfig", None)
    return Path(given).expanduser() if given else None


def _out(text: str = "", *, err: bool = False) -> None:
    """One line to stdout (or stderr), flushed: the output may be a journal read live."""
    stream = sys.stderr if err else sys.stdout
    stream.write(text + "\n")
    stream.flush()


def _fmt(moment: datetime | None) -> str:
    return "-" if moment is None else core_cron.format_utc(moment)


def _print_table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> None:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    for line in (headers, *rows):
        _out("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def _fail(message: str, status: int = EXIT_ERROR) -> int:
    _out(f"lhdesk: {message}", err=True)
    return status


# -- schedules list/add/remove/pause/resume/history ----------------------------------------------


def _schedule_json(schedule: Schedule, next_run: datetime | None, last: RunRecord | None) -> dict[str, Any]:
    try:
        sentence = core_cron.describe(schedule.cron)
    except core_cron.CronError:
        sentence = ""
    return {
        "id": schedule.id,
        "name": schedule.name,
        "context": schedule.context,
        "cron": schedule.cron,
        "description": sentence,
        "retain": schedule.retain,
        "volume_backup_policy": schedule.volume_backup_policy,
        "enabled": schedule.enabled,
        "catch_up": schedule.catch_up,
        "grace_seconds": schedule.grace.total_seconds(),
        "active_since": _fmt(schedule.active_since),
        "next_run": None if next_run is None else _fmt(next_run),
        "last_outcome": None if last is None else last.outcome,
        "last_slot": None if last is None else _fmt(last.slot),
    }


def _cmd_list(args: argparse.Namespace) -> int:
    with Store.in_dir(_data_dir(args)) as store:
        schedules = store.schedules()
        last_slots = store.last_slots()
        last_outcomes = store.last_outcomes()
    now = utcnow()
    decisions = {d.schedule_id: d for d in due_mod.due_all(schedules, last_slots, now)}
    if args.json:
        out = [_schedule_json(s, decisions[s.id].next_slot, last_outcomes.get(s.id)) for s in schedules]
        _out(json.dumps(out, indent=2))
        return EXIT_OK
    rows = []
    for s in schedules:
        last = last_outcomes.get(s.id)
        rows.append(
            [
                s.id,
                s.name,
                s.context,
                s.cron,
                _fmt(decisions[s.id].next_slot) if s.enabled else "paused",
                str(s.retain),
                s.volume_backup_policy,
                s.catch_up,
                "yes" if s.enabled else "no",
                last.outcome if last else "-",
            ]
        )
    headers = [
        "ID",
        "NAME",
        "CONTEXT",
        "CRON",
        "NEXT RUN (UTC)",
        "RETAIN",
        "POLICY",
        "CATCH-UP",
        "ENABLED",
        "LAST",
    ]
    _print_table(rows, headers)
    return EXIT_OK


def _check_context(args: argparse.Namespace, context: str) -> str | None:
    """A message when ``context`` is not in the kubeconfig, else None."""
    from lhdesk.kube.kubeconfig import load_contexts

    try:
        kset = load_contexts(_kubeconfig(args))
    except Exception as exc:
        return f"cannot read the kubeconfig: {exc}"
    if kset.context(context) is None:
        files = ", ".join(str(p) for p in kset.files) or "none found"
        known = ", ".join(kset.names) or "none"
        return (
            f"context {context!r} is not in the kubeconfig ({files}); known contexts: {known}. "
            "Use --skip-context-check to add it anyway."
        )
    return None


def _cmd_add(args: argparse.Namespace) -> int:
    context = args.context
    if not context:
        return _fail("--context is required: the kubeconfig context the schedule runs against", EXIT_USAGE)
    if not args.skip_context_check:
        problem = _check_context(args, context)
        if problem:
            return _fail(problem, EXIT_USAGE)
    with Store.in_dir(_data_dir(args)) as store:
        taken = {s.id for s in store.schedules()}
        schedule = Schedule(
            id=new_schedule_id(args.name, taken),
            name=args.name,
            context=context,
            cron=args.cron,
            retain=args.retain,
            volume_backup_policy=args.policy,
            enabled=not args.paused,
            catch_up=args.catch_up,
            grace=args.grace,
            active_since=utcnow(),
        )
        try:
            store.add_schedule(schedule)
        except ScheduleError as exc:
            for field, message in exc.problems.items():
                _out(f"lhdesk: {field}: {message}", err=True)
            return EXIT_USAGE
        next_run = due_mod.due(schedule, None, utcnow()).next_slot
    if args.json:
        _out(json.dumps(_schedule_json(schedule, next_run, None), indent=2))
    else:
        _out(f"added schedule {schedule.id} ({schedule.name}); next run {_fmt(next_run)}")
    return EXIT_OK


def _cmd_remove(args: argparse.Namespace) -> int:
    with Store.in_dir(_data_dir(args)) as store:
        try:
            schedule = store.find_schedule(args.schedule)
            store.remove_schedule(schedule.id)
        except UnknownSchedule as exc:
            return _fail(f"no such schedule: {exc.args[0]}")
    _out(f"removed schedule {schedule.id} ({schedule.name}); its run history is kept")
    return EXIT_OK


def _set_enabled(args: argparse.Namespace, enabled: bool) -> int:
    with Store.in_dir(_data_dir(args)) as store:
        try:
            schedule = store.set_enabled(store.find_schedule(args.schedule).id, enabled)
        except UnknownSchedule as exc:
            return _fail(f"no such schedule: {exc.args[0]}")
    _out(f"{'resumed' if enabled else 'paused'} schedule {schedule.id} ({schedule.name})")
    return EXIT_OK


def _cmd_pause(args: argparse.Namespace) -> int:
    return _set_enabled(args, False)


def _cmd_resume(args: argparse.Namespace) -> int:
    return _set_enabled(args, True)


def _cmd_history(args: argparse.Namespace) -> int:
    with Store.in_dir(_data_dir(args)) as store:
        schedule_id = args.schedule
        if schedule_id:
            # A removed schedule's id (or a RecurringJob's name) still filters the history.
            with contextlib.suppress(UnknownSchedule):
                schedule_id = store.find_schedule(schedule_id).id
        records = store.history(
            schedule_id=schedule_id,
            context=args.history_context,
            outcomes=args.outcome or None,
            limit=args.limit,
        )
    if args.json:
        _out(json.dumps([r.to_json() for r in records], indent=2))
        return EXIT_OK
    rows = [
        [
            _fmt(r.slot),
            r.schedule_id if r.kind == "schedule" else f"job/{r.schedule_id}",
            r.context,
            r.outcome,
            r.backup or "-",
            r.message + (f" [pruned: {', '.join(r.pruned)}]" if r.pruned else ""),
        ]
        for r in records
    ]
    _print_table(rows, ["SLOT (UTC)", "SCHEDULE", "CONTEXT", "OUTCOME", "BACKUP", "MESSAGE"])
    return EXIT_OK


# -- freshness rules ----------------------------------------------------------------------------


def _rule_json(rule: FreshnessRule) -> dict[str, Any]:
    return {"context": rule.context, "max_age_hours": rule.max_age.total_seconds() / 3600}


def _cmd_freshness_list(args: argparse.Namespace) -> int:
    with Store.in_dir(_data_dir(args)) as store:
        rules = store.freshness_rules()
    if args.json:
        _out(json.dumps([_rule_json(r) for r in rules], indent=2))
    else:
        _print_table(
            [[r.context, f"{r.max_age.total_seconds() / 3600:g} h"] for r in rules], ["CONTEXT", "MAX AGE"]
        )
    return EXIT_OK


def _cmd_freshness_set(args: argparse.Namespace) -> int:
    context = args.context
    if not context:
        return _fail("--context is required", EXIT_USAGE)
    rule = FreshnessRule(context, args.max_age)
    with Store.in_dir(_data_dir(args)) as store:
        try:
            store.set_freshness_rule(rule)
        except FreshnessRuleError as exc:
            for field, message in exc.problems.items():
                _out(f"lhdesk: {field}: {message}", err=True)
            return EXIT_USAGE
    _out(f"alert when {context} has no Ready system backup newer than {args.max_age}")
    return EXIT_OK


def _cmd_freshness_remove(args: argparse.Namespace) -> int:
    with Store.in_dir(_data_dir(args)) as store:
        if not store.remove_freshness_rule(args.rule_context):
            return _fail(f"no freshness rule for context {args.rule_context!r}")
    _out(f"removed the freshness rule of {args.rule_context}")
    return EXIT_OK


def _cmd_freshness_check(args: argparse.Namespace) -> int:
    """Check every rule now. Exit 0 when all are fresh, 4 when one is stale, 1 when one could not
    be checked (and none is stale)."""
    from lhdesk.schedule.contexts import KubeconfigApiFactory

    with Store.in_dir(_data_dir(args)) as store:
        rules = store.freshness_rules()
    factory = KubeconfigApiFactory(_kubeconfig(args))
    statuses: list[FreshnessStatus] = []
    try:
        for rule in rules:
            try:
                objects, _ = factory(rule.context).list(SYSTEM_BACKUPS)
            except Exception as exc:
                statuses.append(freshness_unchecked(rule, utcnow(), str(exc) or type(exc).__name__))
                continue
            statuses.append(freshness_check(rule, objects, utcnow()))
    finally:
        factory.close()
    if args.json:
        out = [
            {
                **_rule_json(FreshnessRule(s.context, s.max_age)),
                "breached": s.breached,
                "error": s.error,
                "newest_ready": s.newest_ready,
                "newest_ready_at": None if s.newest_ready_at is None else _fmt(s.newest_ready_at),
                "message": s.message,
            }
            for s in statuses
        ]
        _out(json.dumps(out, indent=2))
    else:
        for s in statuses:
            state = "NOT CHECKED" if s.error else "STALE" if s.breached else "fresh"
            _out(f"{s.context}: {state}: {s.message}")
    if any(s.breached for s in statuses):
        return EXIT_STALE
    return EXIT_ERROR if any(s.error for s in statuses) else EXIT_OK


# -- scheduler run ------------------------------------------------------------------------------


def _print_event(event: EngineEvent) -> None:
    if isinstance(event, ScheduleChanged):
        state = "resumed" if event.schedule.enabled else "paused"
        line = f"schedule {event.schedule.id} {state}"
    else:
        run = event.run
        who = run.schedule_id if run.kind == "schedule" else f"job/{run.schedule_id}"
        if isinstance(event, RunStarted):
            line = f"started  {who} [{run.context}] slot {_fmt(run.slot)} backup {run.backup or '-'}"
        else:
            line = f"{run.outcome:<8} {who} [{run.context}] slot {_fmt(run.slot)}: {run.message}"
            if run.pruned:
                line += f" (pruned {', '.join(run.pruned)})"
    _out(f"{_fmt(utcnow())} {line}")


def _cmd_scheduler_run(args: argparse.Namespace) -> int:
    from lhdesk.schedule.contexts import KubeconfigApiFactory

    data_dir = _data_dir(args)
    lock = acquire_lock(data_dir)
    if lock is None:
        pid = lock_owner_pid(data_dir)
        who = f"pid {pid}" if pid is not None else "pid unknown"
        return _fail(f"schedules are run by another lhdesk process ({who}); not starting", EXIT_LOCKED)
    factory = KubeconfigApiFactory(_kubeconfig(args))
    observe = list(args.observe or ())
    try:
        store = Store.in_dir(data_dir)
    except StoreError as exc:
        lock.release()
        return _fail(str(exc))
    engine = Engine(
        store,
        factory,
        listener=_print_event,
        run_timeout=args.run_timeout,
        observe_contexts=(lambda: [*dict.fromkeys([*observe, *(s.context for s in store.schedules())])]),
    )

    def on_signal(signum: int, frame: FrameType | None) -> None:
        engine.stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    duration = None if args.duration is None else args.duration.total_seconds()
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            engine.serve(duration=duration, tick_seconds=args.tick)
        except BaseException as exc:
            failure.append(exc)
            log.exception("the scheduler engine failed")

    count = len(store.schedules())
    _out(
        f"{_fmt(utcnow())} lhdesk scheduler: pid {lock_owner_pid(data_dir)}, data {data_dir}, "
        f"{count} schedule{'s' if count != 1 else ''}"
    )
    # The engine runs in its own thread; the main thread only waits, so signal handlers run promptly
    # and never while the engine holds a lock.
    worker = threading.Thread(target=serve, name="lhdesk-scheduler")
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.5)
    finally:
        engine.stop()
        worker.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        factory.close()
        store.close()
        lock.release()
    _out(f"{_fmt(utcnow())} lhdesk scheduler: stopped")
    return EXIT_ERROR if failure else EXIT_OK


# -- parsers ------------------------------------------------------------------------------------


def _common() -> argparse.ArgumentParser:
    """Options every sub-command takes, also after the sub-command name (defaults suppressed so a
    value given before the sub-command is kept)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="folder of the schedules database (default: $LHDESK_DATA_DIR or the app's data folder)",
    )
    common.add_argument(
        "--kubeconfig",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)",
    )
    return common


def register(subparsers: Any) -> None:
    common = _common()

    scheduler = subparsers.add_parser(
        "scheduler", parents=[common], help="run workstation schedules without a window"
    )
    scheduler_sub = scheduler.add_subparsers(dest="scheduler_command", metavar="COMMAND", required=True)
    run = scheduler_sub.add_parser(
        "run",
        parents=[common],
        help="run the scheduler in the foreground until SIGINT/SIGTERM",
        description="Run workstation schedules in the foreground (e.g. as a systemd user service). "
        "Exits with status 3 when another lhdesk process already runs the schedules.",
    )
    run.add_argument(
        "--for",
        dest="duration",
        type=parse_duration,
        metavar="DURATION",
        help="stop after this long (e.g. 90s, 10m, 2h); default: until stopped",
    )
    run.add_argument("--tick", type=float, default=1.0, metavar="SECONDS", help=argparse.SUPPRESS)
    run.add_argument(
        "--run-timeout",
        type=parse_duration,
        default=DEFAULT_RUN_TIMEOUT,
        metavar="DURATION",
        help="give up following one SystemBackup after this long (default: 6h)",
    )
    run.add_argument(
        "--observe",
        action="append",
        metavar="CONTEXT",
        help="also record runs of Longhorn system-backup RecurringJobs in this context (repeatable; "
        "the contexts of the schedules are always observed)",
    )
    run.set_defaults(func=_cmd_scheduler_run)

    schedules = subparsers.add_parser("schedules", parents=[common], help="manage workstation schedules")
    sub = schedules.add_subparsers(dest="schedules_command", metavar="COMMAND", required=True)

    lst = sub.add_parser("list", parents=[common], help="list the schedules")
    lst.add_argument("--json", action="store_true", help="print JSON")
    lst.set_defaults(func=_cmd_list)

    add = sub.add_parser("add", parents=[common], help="add a schedule")
    add.add_argument("--context", default=argparse.SUPPRESS, help="kubeconfig context to back up")
    add.add_argument("--name", required=True, help="a name for people")
    add.add_argument(
        "--cron", required=True, help="Longhorn cron, evaluated in UTC (e.g. '0 2 * * *', '@every 6h')"
    )
    add.add_argument(
        "--retain",
        type=int,
        default=7,
        help=f"how many of this schedule's system backups to keep ({RETAIN_MIN}-{RETAIN_MAX}, default 7)",
    )
    add.add_argument(
        "--policy",
        choices=VOLUME_BACKUP_POLICIES,
        default=DEFAULT_POLICY,
        help=f"volume-backup-policy of each SystemBackup (default {DEFAULT_POLICY})",
    )
    add.add_argument(
        "--catch-up",
        choices=CATCH_UP_POLICIES,
        default=DEFAULT_CATCH_UP,
        help="slots missed while no scheduler ran: skip them, or run the newest once if within the grace "
        f"window (default {DEFAULT_CATCH_UP})",
    )
    add.add_argument(
        "--grace",
        type=parse_duration,
        default=DEFAULT_GRACE,
        metavar="DURATION",
        help="grace window of --catch-up run-once (default 1h)",
    )
    add.add_argument("--paused", action="store_true", help="add it paused")
    add.add_argument(
        "--skip-context-check", action="store_true", help="do not check that the context is in the kubeconfig"
    )
    add.add_argument("--json", action="store_true", help="print the new schedule as JSON")
    add.set_defaults(func=_cmd_add)

    for name, func, text in (
        ("remove", _cmd_remove, "remove a schedule (its history stays)"),
        ("pause", _cmd_pause, "pause a schedule"),
        ("resume", _cmd_resume, "resume a schedule (slots missed while paused are not caught up)"),
    ):
        parser = sub.add_parser(name, parents=[common], help=text)
        parser.add_argument("schedule", help="schedule id (or its name, when unique)")
        parser.set_defaults(func=func)

    history = sub.add_parser("history", parents=[common], help="show the run history, newest first")
    history.add_argument("--schedule", help="only this schedule (id or name) or RecurringJob name")
    history.add_argument("--context", dest="history_context", help="only runs against this context")
    history.add_argument(
        "--outcome", action="append", choices=OUTCOMES, help="only these outcomes (repeatable)"
    )
    history.add_argument("--limit", type=int, default=None, help="at most this many runs")
    history.add_argument("--json", action="store_true", help="print JSON")
    history.set_defaults(func=_cmd_history)

    fresh = sub.add_parser(
        "freshness",
        parents=[common],
        help="alerts when a context has no recent Ready system backup",
        description="Freshness rules: alert when a context has no Ready system backup newer than a limit. "
        "'check' exits 0 when every context is fresh, 4 when one is stale, 1 when one cannot be checked.",
    )
    fresh_sub = fresh.add_subparsers(dest="freshness_command", metavar="COMMAND", required=True)
    fresh_list = fresh_sub.add_parser("list", parents=[common], help="list the rules")
    fresh_list.add_argument("--json", action="store_true", help="print JSON")
    fresh_list.set_defaults(func=_cmd_freshness_list)
    fresh_set = fresh_sub.add_parser("set", parents=[common], help="add or change the rule of a context")
    fresh_set.add_argument("--context", default=argparse.SUPPRESS, help="kubeconfig context")
    fresh_set.add_argument(
        "--max-age", type=parse_duration, required=True, metavar="DURATION", help="e.g. 26h"
    )
    fresh_set.set_defaults(func=_cmd_freshness_set)
    fresh_remove = fresh_sub.add_parser("remove", parents=[common], help="remove the rule of a context")
    fresh_remove.add_argument("rule_context", metavar="CONTEXT")
    fresh_remove.set_defaults(func=_cmd_freshness_remove)
    fresh_check = fresh_sub.add_parser(
        "check", parents=[common], help="check every rule against its cluster now"
    )
    fresh_check.add_argument("--json", action="store_true", help="print JSON")
    fresh_check.set_defaults(func=_cmd_freshness_check)
