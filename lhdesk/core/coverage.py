"""Which volumes a RecurringJob covers, from the volumes' labels.

A volume-task job runs on (shared/longhorn/recurring-jobs.md §3, "Which volumes"):

* volumes labelled ``recurring-job.longhorn.io/<job>: enabled``;
* for each of the job's groups, volumes labelled ``recurring-job-group.longhorn.io/<group>: enabled``;
* through the group ``default``: volumes that have no label whose key starts with
  ``recurring-job.longhorn.io`` or ``recurring-job-group.longhorn.io`` at all (whatever the
  value, ``recurring-job.longhorn.io/source`` included). Longhorn stores the label
  ``recurring-job-group.longhorn.io/default: enabled`` on such volumes; this module applies the
  rule itself so that a volume not yet updated by Longhorn is counted the same way.

Only the value ``enabled`` selects (the job lists volumes with a ``key=enabled`` selector).
A ``system-backup`` job covers no volumes; pass ``task`` to get that answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = [
    "DEFAULT_GROUP",
    "ENABLED",
    "GROUP_LABEL_PREFIX",
    "JOB_LABEL_PREFIX",
    "covered_volumes",
    "group_label_key",
    "has_recurring_job_labels",
    "job_label_key",
]

JOB_LABEL_PREFIX = "recurring-job.longhorn.io"
GROUP_LABEL_PREFIX = "recurring-job-group.longhorn.io"
ENABLED = "enabled"
DEFAULT_GROUP = "default"


def job_label_key(job_name: str) -> str:
    """``recurring-job.longhorn.io/<job>``: put on a volume (value ``enabled``) to add it to the job."""
    return f"{JOB_LABEL_PREFIX}/{job_name}"


def group_label_key(group: str) -> str:
    """``recurring-job-group.longhorn.io/<group>``: put on a volume to add it to a group."""
    return f"{GROUP_LABEL_PREFIX}/{group}"


def has_recurring_job_labels(labels: Mapping[str, str]) -> bool:
    """Whether any label key starts with either prefix (Longhorn's test, without the '/')."""
    return any(key.startswith((JOB_LABEL_PREFIX, GROUP_LABEL_PREFIX)) for key in labels)


def covered_volumes(
    job_name: str,
    job_groups: Sequence[str],
    volumes: Mapping[str, Mapping[str, str]],
    task: str | None = None,
) -> list[str]:
    """Names of the volumes the job runs on, sorted. ``volumes`` maps name -> labels."""
    if task == "system-backup":
        return []
    wanted = {job_label_key(job_name)} | {group_label_key(group) for group in job_groups}
    in_default = DEFAULT_GROUP in job_groups
    covered = []
    for name, labels in volumes.items():
        if any(labels.get(key) == ENABLED for key in wanted) or (
            in_default and not has_recurring_job_labels(labels)
        ):
            covered.append(name)
    return sorted(covered)
