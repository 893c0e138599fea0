"""Freshness rules: "alert if no ``Ready`` system backup is newer than N hours", per context.

A rule is checked against every SystemBackup of its context, whatever made it (a workstation
schedule, a Longhorn RecurringJob, a person, a sync from the backup target): what matters is that a
restorable system backup exists. A backup's time is its ``status.createdAt`` (Longhorn sets it when
the upload succeeded, or copies it from the target's cfg for a synced backup); a ``Ready`` backup
without it falls back to ``metadata.creationTimestamp``. Backups being deleted do not count.

:func:`check` and :func:`unchecked` are pure. The rules are stored with the schedules
(:meth:`lhdesk.schedule.store.Store.freshness_rules`); the window's scheduler thread and
``lhdesk schedules freshness check`` evaluate them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from lhdesk.core import cron as core_cron
from lhdesk.schedule import api as sb
from lhdesk.schedule.model import as_utc

#: Bounds of a rule's age limit, in hours (the editor's spin box uses them).
MIN_HOURS: Final = 1
MAX_HOURS: Final = 24 * 365
DEFAULT_HOURS: Final = 26


class FreshnessRuleError(ValueError):
    """A rule failed validation; ``problems`` maps a field name to a message."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"{key}: {message}" for key, message in self.problems.items()))


@dataclass(frozen=True)
class FreshnessRule:
    """Alert when ``context`` has no Ready system backup newer than ``max_age``."""

    context: str
    max_age: timedelta

    def problems(self) -> dict[str, str]:
        found: dict[str, str] = {}
        if not self.context.strip():
            found["context"] = "must name a kubeconfig context"
        hours = self.max_age.total_seconds() / 3600
        if not MIN_HOURS <= hours <= MAX_HOURS:
            found["max_age"] = f"must be between {MIN_HOURS} and {MAX_HOURS} hours"
        return found

    def validate(self) -> FreshnessRule:
        found = self.problems()
        if found:
            raise FreshnessRuleError(found)
        return self


@dataclass(frozen=True)
class FreshnessStatus:
    """The verdict of one rule at ``checked``.

    ``breached``: no Ready system backup is newer than ``max_age`` (notify). ``error``: the check
    could not be made (the context is unreachable...); then ``breached`` is False, nothing is known.
    ``max_age`` is the rule's limit at the time of the check, so a view can tell a verdict reached
    under an older rule.
    """

    context: str
    max_age: timedelta
    checked: datetime
    breached: bool
    message: str
    newest_ready: str | None = None
    newest_ready_at: datetime | None = None
    error: str | None = None

    def describe(self) -> str:
        return self.message


def _hours(span: timedelta) -> str:
    hours = max(span.total_seconds(), 0.0) / 3600
    if hours < 1:
        return f"{round(hours * 60)} min"
    return f"{hours:.0f} h" if hours >= 10 else f"{hours:.1f} h".replace(".0 h", " h")


def ready_time(obj: Mapping[str, Any]) -> datetime | None:
    """When a Ready SystemBackup became restorable (see the module docstring), else None."""
    if sb.state_of(obj) != "Ready" or sb.is_deleting(obj):
        return None
    return sb.created_at_of(obj) or sb.creation_timestamp_of(obj)


def check(rule: FreshnessRule, backups: Iterable[Mapping[str, Any]], now: datetime) -> FreshnessStatus:
    """Check ``rule`` against all SystemBackups of its context at ``now``."""
    moment = as_utc(now)
    newest: tuple[datetime, str] | None = None
    for obj in backups:
        at = ready_time(obj)
        if at is not None and (newest is None or at > newest[0]):
            newest = (at, sb.name_of(obj))
    limit = _hours(rule.max_age)
    if newest is None:
        return FreshnessStatus(
            rule.context,
            rule.max_age,
            moment,
            True,
            f"no Ready system backup at all (alert when none is newer than {limit})",
        )
    at, name = newest
    age = moment - at
    if age > rule.max_age:
        message = (
            f"no Ready system backup for {_hours(age)} (limit {limit}); "
            f"the newest is {name} from {core_cron.format_utc(at)}"
        )
        return FreshnessStatus(rule.context, rule.max_age, moment, True, message, name, at)
    message = f"newest Ready system backup {name} is {_hours(age)} old (limit {limit})"
    return FreshnessStatus(rule.context, rule.max_age, moment, False, message, name, at)


def unchecked(rule: FreshnessRule, now: datetime, error: str) -> FreshnessStatus:
    """The status of a rule whose context could not be read at ``now``."""
    return FreshnessStatus(
        rule.context,
        rule.max_age,
        as_utc(now),
        False,
        f"not checked: {error}",
        error=error,
    )
