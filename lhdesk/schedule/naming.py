"""Names and labels of the SystemBackups that workstation schedules create.

A run is exactly-once per slot because the SystemBackup's name is a pure function of the schedule
id and the slot time: a retry after a crash, or a second process, asks for the same name and meets
409 AlreadyExists instead of making a twin.

Name shape: ``lhdesk-<schedule id>-<yyyymmddhhmmss>`` (slot in UTC). Seconds are part of the name
because ``@every`` slots can be seconds apart. A schedule id is a DNS-1123 label of at most
:data:`MAX_SCHEDULE_ID_LENGTH` characters, so the name always fits in 63 characters; should a longer
id reach this module anyway, it is shortened with a hash so the name stays unique and valid.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from datetime import UTC, datetime

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "lhdesk"
SCHEDULE_LABEL = "lhdesk.io/schedule"
# Set by Longhorn's own `system-backup` RecurringJobs on the SystemBackups they create
# (shared/longhorn/recurring-jobs.md §3): value is the RecurringJob's name.
RECURRING_JOB_LABEL = "recurring-job.longhorn.io/system-backup"

NAME_PREFIX = "lhdesk-"
SLOT_FORMAT = "%Y%m%d%H%M%S"
MAX_NAME_LENGTH = 63
# 63 - len("lhdesk-") - len("-") - len("yyyymmddhhmmss") = 41; 40 keeps the id usable elsewhere
# (e.g. as a RecurringJob-like name, whose limit is 40).
MAX_SCHEDULE_ID_LENGTH = 40

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_ID_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits


def is_dns1123_label(value: str, max_length: int = 63) -> bool:
    """True when ``value`` is a lowercase DNS-1123 label no longer than ``max_length``."""
    return 0 < len(value) <= max_length and _DNS1123_LABEL.match(value) is not None


def slugify(text: str, max_length: int) -> str:
    """Lowercase ``text`` and keep runs of ``[a-z0-9]`` joined by ``-``; may return ``""``."""
    slug = _NOT_SLUG.sub("-", text.lower()).strip("-")
    return slug[:max_length].rstrip("-")


def new_schedule_id(name: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """A fresh schedule id: a slug of ``name`` plus 6 random characters, e.g. ``nightly-prod-k3x9qa``.

    The random part keeps ids (and so backup names) apart across workstations that share a cluster.
    """
    base = slugify(name, 24) or "schedule"
    while True:
        suffix = "".join(secrets.choice(_ID_SUFFIX_ALPHABET) for _ in range(6))
        candidate = f"{base}-{suffix}"
        if candidate not in taken:
            return candidate


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("slot times must be timezone-aware (UTC)")
    return moment.astimezone(UTC)


def backup_name(schedule_id: str, slot: datetime) -> str:
    """The SystemBackup name for ``schedule_id`` at ``slot``: deterministic, DNS-1123, <= 63 chars."""
    stamp = _as_utc(slot).strftime(SLOT_FORMAT)
    room = MAX_NAME_LENGTH - len(NAME_PREFIX) - 1 - len(stamp)
    part = slugify(schedule_id, 253) or "schedule"
    if len(part) > room or part != schedule_id:
        digest = hashlib.sha256(schedule_id.encode()).hexdigest()[:8]
        part = f"{part[: room - 9].rstrip('-')}-{digest}"
    return f"{NAME_PREFIX}{part}-{stamp}"


def slot_from_backup_name(schedule_id: str, name: str) -> datetime | None:
    """The slot encoded in a backup name made by :func:`backup_name` for this schedule, else None."""
    stamp = name.rsplit("-", 1)[-1]
    try:
        slot = datetime.strptime(stamp, SLOT_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None
    return slot if backup_name(schedule_id, slot) == name else None


def schedule_labels(schedule_id: str) -> dict[str, str]:
    """Labels every SystemBackup of a workstation schedule carries."""
    return {MANAGED_BY_LABEL: MANAGED_BY_VALUE, SCHEDULE_LABEL: schedule_id}


def schedule_selector(schedule_id: str) -> str:
    """Label selector matching exactly the SystemBackups of one workstation schedule."""
    return f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{SCHEDULE_LABEL}={schedule_id}"


def is_label_value(value: str) -> bool:
    """True when ``value`` is a valid Kubernetes label value (<= 63, alphanumeric at both ends)."""
    return len(value) <= 63 and (
        value == "" or re.match(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$", value) is not None
    )
