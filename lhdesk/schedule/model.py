"""Workstation schedules and their run records (frozen dataclasses, no I/O).

A *workstation schedule* is a system-backup schedule that lhdesk runs itself against one kubeconfig
context: a cron in the Longhorn dialect evaluated in UTC, a retain count, a volume-backup policy,
enabled or paused, and a catch-up policy for slots missed while no scheduler was running.

A *run record* is one line of the durable run history: a run of a workstation schedule (or a summary
of slots it missed or skipped), or a SystemBackup observed in a cluster that a Longhorn
``system-backup`` RecurringJob created.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from lhdesk.core import recurringjob as core_job
from lhdesk.schedule.naming import MAX_SCHEDULE_ID_LENGTH, is_dns1123_label

CatchUp = Literal["skip", "run-once"]
CATCH_UP_POLICIES: Final[tuple[str, ...]] = ("skip", "run-once")
DEFAULT_CATCH_UP: Final = "run-once"
DEFAULT_GRACE: Final = timedelta(hours=1)
SYSTEM_BACKUP_TASK: Final = "system-backup"
POLICY_PARAMETER: Final = "volume-backup-policy"
DEFAULT_POLICY: Final = core_job.PARAMETERS[POLICY_PARAMETER].default
VOLUME_BACKUP_POLICIES: Final[tuple[str, ...]] = tuple(
    choice.value for choice in core_job.PARAMETERS[POLICY_PARAMETER].choices
)
#: Workstation schedules keep 1-100 backups, the bounds of a Longhorn system-backup job on a cluster
#: with the default ``recurring-job-max-retention``.
_FACTS: Final = core_job.ClusterFacts(max_retention=core_job.DEFAULT_MAX_RETENTION)
RETAIN_MIN: Final = core_job.retain_bounds(SYSTEM_BACKUP_TASK, _FACTS)[0]
RETAIN_MAX: Final = core_job.retain_bounds(SYSTEM_BACKUP_TASK, _FACTS)[1]
#: Where core.recurringjob reports a problem → the Schedule field it belongs to.
_FIELD_OF: Final[dict[str, str]] = {
    "spec.cron": "cron",
    "spec.retain": "retain",
    "spec.parameters": "volume_backup_policy",
}
MAX_NAME_LENGTH: Final = 100

Outcome = Literal["ready", "error", "missed", "skipped", "adopted", "running"]
OUTCOMES: Final[tuple[str, ...]] = ("ready", "error", "missed", "skipped", "adopted", "running")
#: Outcomes of a run that is over; ``running`` is the only unfinished one.
FINAL_OUTCOMES: Final[frozenset[str]] = frozenset(OUTCOMES) - {"running"}
#: Outcomes a user should be told about (desktop notification, badge).
FAILED_OUTCOMES: Final[frozenset[str]] = frozenset({"error"})

RunKind = Literal["schedule", "recurring-job"]
#: A run of a workstation schedule, triggered by lhdesk.
KIND_SCHEDULE: Final = "schedule"
#: A SystemBackup made in the cluster by a Longhorn ``system-backup`` RecurringJob, observed by lhdesk.
KIND_RECURRING_JOB: Final = "recurring-job"
RUN_KINDS: Final[tuple[str, ...]] = (KIND_SCHEDULE, KIND_RECURRING_JOB)


def _field_for(path: str) -> str | None:
    for prefix, key in _FIELD_OF.items():
        if path == prefix or path.startswith(prefix + "."):
            return key
    return None


class ScheduleError(ValueError):
    """A schedule failed validation; ``problems`` maps a field name to a message."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"{key}: {message}" for key, message in self.problems.items()))


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; refuses naive datetimes, whose meaning depends on the machine."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment.isoformat()} (times must be timezone-aware)")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Schedule:
    """A workstation schedule.

    ``active_since`` is the moment from which slots count: the creation time, moved to the resume
    time on resume and to the edit time when the cron changes. Slots at or before it are never run,
    so a paused schedule does not catch up what it was paused through.
    """

    id: str
    name: str
    context: str
    cron: str
    retain: int
    volume_backup_policy: str = DEFAULT_POLICY
    enabled: bool = True
    catch_up: str = DEFAULT_CATCH_UP
    grace: timedelta = DEFAULT_GRACE
    active_since: datetime = field(default_factory=utcnow)

    def problems(self) -> dict[str, str]:
        """Field name → message for everything wrong with this schedule (empty when valid)."""
        found: dict[str, str] = {}
        if not is_dns1123_label(self.id, MAX_SCHEDULE_ID_LENGTH):
            found["id"] = (
                f"must be a lowercase DNS-1123 label of at most {MAX_SCHEDULE_ID_LENGTH} characters"
                " (letters, digits and '-', starting and ending with a letter or digit)"
            )
        if not self.name.strip():
            found["name"] = "must not be empty"
        elif len(self.name) > MAX_NAME_LENGTH:
            found["name"] = f"must be at most {MAX_NAME_LENGTH} characters"
        if not self.context.strip():
            found["context"] = "must name a kubeconfig context"
        if isinstance(self.retain, bool) or not isinstance(self.retain, int):
            found["retain"] = "must be a whole number"
        else:
            # Longhorn's rules for a system-backup RecurringJob (cron dialect, retain bounds,
            # volume-backup-policy values) apply unchanged: reuse them rather than restate them.
            spec = core_job.RecurringJobSpec(
                name=self.id,
                task=SYSTEM_BACKUP_TASK,
                cron=self.cron,
                retain=self.retain,
                parameters=((POLICY_PARAMETER, self.volume_backup_policy),),
            )
            for problem in core_job.validate(spec, _FACTS):
                key = _field_for(problem.field)
                if key is not None and key not in found:
                    found[key] = problem.message
        if self.catch_up not in CATCH_UP_POLICIES:
            found["catch_up"] = f"must be one of {', '.join(CATCH_UP_POLICIES)}"
        if self.grace <= timedelta(0):
            found["grace"] = "must be longer than zero"
        if self.active_since.tzinfo is None:
            found["active_since"] = "must be timezone-aware"
        return found

    def validate(self) -> Schedule:
        """Return self, or raise :class:`ScheduleError` listing every problem."""
        found = self.problems()
        if found:
            raise ScheduleError(found)
        return self

    def replace(self, **changes: object) -> Schedule:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RunRecord:
    """One line of the run history.

    For ``kind == "schedule"``: ``schedule_id`` is the workstation schedule's id and ``slot`` the
    cron slot the run belongs to. A ``missed`` or ``skipped`` record summarises one or more slots
    that did not run; its ``slot`` is the latest of them and ``message`` says how many.

    For ``kind == "recurring-job"``: ``schedule_id`` is the Longhorn RecurringJob's name and ``slot``
    the SystemBackup's creation time.

    ``pruned`` names the SystemBackups this run's retention deleted.
    """

    schedule_id: str
    slot: datetime
    started: datetime | None = None
    finished: datetime | None = None
    outcome: str = "running"
    backup: str = ""
    message: str = ""
    pruned: tuple[str, ...] = ()
    context: str = ""
    kind: str = KIND_SCHEDULE
    id: int | None = None

    @property
    def is_final(self) -> bool:
        return self.outcome in FINAL_OUTCOMES

    @property
    def failed(self) -> bool:
        return self.outcome in FAILED_OUTCOMES

    def replace(self, **changes: object) -> RunRecord:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (``lhdesk schedules history --json`` prints a list of these)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "schedule": self.schedule_id,
            "context": self.context,
            "slot": _iso(self.slot),
            "started": _iso(self.started),
            "finished": _iso(self.finished),
            "outcome": self.outcome,
            "backup": self.backup,
            "message": self.message,
            "pruned": list(self.pruned),
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else as_utc(moment).isoformat().replace("+00:00", "Z")
