"""What a ``system-backup`` RecurringJob's retention keeps and deletes.

Longhorn v1.12.1 (shared/longhorn/recurring-jobs.md §3, "Retention"; app/recurringjob/
systembackup.go) runs the cleanup after each run, whether the run succeeded or failed:

1. list the SystemBackups labelled ``recurring-job.longhorn.io/system-backup=<job>``
   (the caller passes only those: manual and other jobs' backups are never touched);
2. keep only the ``Ready`` and ``Error`` ones; backups in progress and ``Deleting`` ones are
   neither counted nor deleted;
3. sort by ``status.createdAt``, oldest first. An ``Error`` backup has no createdAt (it is
   set only when the upload succeeds), so it sorts as Go's zero time, before every real one;
4. delete all but the last ``retain``.

``forecast(records, retain)`` answers "what does a cleanup over exactly these records do".
``forecast(records, retain, including_new=True)`` answers "what will the next run delete":
the cleanup runs after the run's own backup has finished, so that new backup (assumed to
end ``Ready``, hence the newest) takes one of the ``retain`` places, and only ``retain - 1``
of the existing ones stay. If the new backup ends in ``Error`` instead it sorts first and is
itself the first to go, so the existing ones then fare as in ``forecast(records, retain)``.

This module is shared by the demo simulator, the workstation scheduler and the UI.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["COUNTED_STATES", "BackupRecord", "RetentionForecast", "forecast"]

COUNTED_STATES = frozenset({"Ready", "Error"})

_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class BackupRecord:
    """One SystemBackup as retention sees it.

    ``created`` is ``status.createdAt`` (aware), None when empty. For ``Error`` records it
    is ignored: Longhorn never sets it for them, and they sort first.
    """

    name: str
    state: str
    created: datetime | None = None


@dataclass(frozen=True)
class RetentionForecast:
    """Names, oldest first. ``keep`` and ``delete`` hold only Ready/Error records."""

    keep: tuple[str, ...]
    delete: tuple[str, ...]
    ignored: tuple[str, ...] = ()
    """Records in other states (in progress, Deleting, ...): not counted, not deleted."""


def _sort_key(record: BackupRecord) -> tuple[datetime, str]:
    if record.state == "Error" or record.created is None:
        moment = _ZERO_TIME
    elif record.created.tzinfo is None:
        raise ValueError(f"created of {record.name} must be an aware datetime")
    else:
        moment = record.created
    # Go's sort.Slice leaves equal times in no particular order; the name makes it stable here.
    return (moment, record.name)


def forecast(
    records: Iterable[BackupRecord], retain: int, *, including_new: bool = False
) -> RetentionForecast:
    """Which of this job's system backups the cleanup keeps and deletes.

    ``retain`` is the job's ``spec.retain`` (the server never stores less than 1 for
    system-backup; 0 here deletes everything counted). ``including_new``: see the module
    docstring.
    """
    if retain < 0:
        raise ValueError("retain must not be negative")
    counted: list[BackupRecord] = []
    ignored: list[str] = []
    for record in records:
        if record.state in COUNTED_STATES:
            counted.append(record)
        else:
            ignored.append(record.name)
    counted.sort(key=_sort_key)
    places = max(retain - 1, 0) if including_new else retain
    cut = max(len(counted) - places, 0)
    return RetentionForecast(
        keep=tuple(r.name for r in counted[cut:]),
        delete=tuple(r.name for r in counted[:cut]),
        ignored=tuple(ignored),
    )
