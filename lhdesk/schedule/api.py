"""What the scheduler needs from a cluster: SystemBackups, and nothing else.

:class:`SystemBackupApi` is the port the runner talks to. Its methods are the subset of
:class:`lhdesk.kube.gateway.LonghornGateway` the scheduler uses, with the same signatures, so the
real gateway satisfies it as it is; tests of pure logic may pass an in-memory fake, integration
tests pass the real gateway over HTTPS to the demo cluster.

Objects are plain dicts shaped as the Kubernetes API returns them (``metadata``, ``spec``,
``status``). Errors are the :mod:`lhdesk.core.errors` classes: ``AlreadyExists`` on a name taken,
``NotFound`` on a missing object, ``Expired`` on a watch too old; anything else is a failure to
report.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

SYSTEM_BACKUPS = "systembackups"
FINAL_STATES = frozenset({"Ready", "Error"})

Obj = dict[str, Any]


class SystemBackupApi(Protocol):
    """Longhorn custom resources in one namespace of one cluster (``plural`` is ``systembackups``)."""

    def list(self, plural: str, label_selector: str | None = None) -> tuple[builtins.list[Obj], str]:
        """Every object matching the selector, and the list's resourceVersion."""
        ...

    def get(self, plural: str, name: str) -> Obj:
        """One object; raises ``NotFound`` when it does not exist."""
        ...

    def create(self, plural: str, body: Mapping[str, Any], dry_run: bool = False) -> Obj:
        """Create an object; raises ``AlreadyExists`` when the name is taken."""
        ...

    def delete(self, plural: str, name: str, missing_ok: bool = False) -> Obj | None:
        """Delete an object (for a SystemBackup, Longhorn then removes its copy in the target)."""
        ...

    def watch(
        self,
        plural: str,
        resource_version: str,
        timeout_seconds: int,
        label_selector: str | None = None,
    ) -> Iterator[tuple[str, Obj]]:
        """Yield ``(event type, object)`` until the server ends the watch after ``timeout_seconds``;
        raises ``Expired`` when ``resource_version`` is too old."""
        ...


def system_backup_body(name: str, volume_backup_policy: str, labels: Mapping[str, str]) -> Obj:
    """The SystemBackup to create (Longhorn's only spec field is ``volumeBackupPolicy``)."""
    return {
        "apiVersion": "longhorn.io/v1beta2",
        "kind": "SystemBackup",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {"volumeBackupPolicy": volume_backup_policy},
    }


# -- reading SystemBackup dicts -------------------------------------------------------------------


def name_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def resource_version_of(obj: Mapping[str, Any]) -> str | None:
    value = (obj.get("metadata") or {}).get("resourceVersion")
    return None if value in (None, "") else str(value)


def state_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("status") or {}).get("state") or "")


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 timestamp as the API writes it (``2024-01-02T03:04:05Z``), or None."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def created_at_of(obj: Mapping[str, Any]) -> datetime | None:
    """``status.createdAt``: set when the upload succeeded; None for Error and unfinished backups."""
    return parse_time((obj.get("status") or {}).get("createdAt"))


def creation_timestamp_of(obj: Mapping[str, Any]) -> datetime | None:
    return parse_time((obj.get("metadata") or {}).get("creationTimestamp"))


def error_of(obj: Mapping[str, Any]) -> str:
    """``"<reason>: <message>"`` of the Error condition, as Longhorn's API shows it; "" when none."""
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Error":
            reason = str(condition.get("reason") or "")
            message = str(condition.get("message") or "")
            return f"{reason}: {message}" if reason and message else reason or message
    return ""


def is_deleting(obj: Mapping[str, Any]) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp")) or state_of(obj) == "Deleting"
