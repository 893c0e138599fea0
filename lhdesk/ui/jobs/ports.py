"""What the jobs page needs from a cluster, as a protocol the UI owns.

The UI never imports the kubernetes client. The composition root passes a factory
``Callable[[str], JobsApi]`` (kubeconfig context name -> gateway); ``lhdesk.kube.gateway.
LonghornGateway`` satisfies this protocol. Every method blocks, so the UI only calls them
through the task runner or from a watch thread. Failures are ``lhdesk.core.errors`` classes.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from lhdesk.core.recurringjob import DEFAULT_MAX_RETENTION, SETTING_MAX_RETENTION, ClusterFacts
from lhdesk.core.versions import parse_version

RECURRING_JOBS = "recurringjobs"
SYSTEM_BACKUPS = "systembackups"
VOLUMES = "volumes"
VERSION_SETTING = "current-longhorn-version"


class WatchApi(Protocol):
    """List-then-watch over one kind of object (what ``WatchWorker`` needs)."""

    def list(
        self, plural: str, label_selector: str | None = None
    ) -> tuple[builtins.list[dict[str, Any]], str]: ...

    def watch(
        self,
        plural: str,
        resource_version: str,
        timeout_seconds: int,
        label_selector: str | None = None,
    ) -> Iterator[tuple[str, dict[str, Any]]]: ...


class JobsApi(WatchApi, Protocol):
    """RecurringJobs and the few other objects the jobs page reads, in one namespace."""

    def get(self, plural: str, name: str) -> dict[str, Any]: ...

    def create(self, plural: str, body: Mapping[str, Any], dry_run: bool = False) -> dict[str, Any]: ...

    def replace(
        self, plural: str, name: str, body: Mapping[str, Any], dry_run: bool = False
    ) -> dict[str, Any]: ...

    def delete(self, plural: str, name: str, missing_ok: bool = False) -> dict[str, Any] | None: ...

    def setting(self, name: str) -> str | None: ...

    def list_volumes(self) -> builtins.list[dict[str, Any]]: ...


JobsApiFactory = Callable[[str], JobsApi]
"""Context name -> a gateway for that context. Blocking (it may run a login plugin)."""


def cluster_facts(api: JobsApi, version_hint: str | None = None) -> ClusterFacts:
    """What validation needs to know about a cluster, read through its gateway (blocking).

    The version comes from the ``current-longhorn-version`` setting, else from ``version_hint``
    (e.g. what the context's probe found); the retention limit from
    ``recurring-job-max-retention`` (Longhorn's default, 100, when unset or unreadable).
    """
    version = parse_version(api.setting(VERSION_SETTING)) or parse_version(version_hint)
    raw = api.setting(SETTING_MAX_RETENTION)
    try:
        max_retention = int(raw) if raw is not None else DEFAULT_MAX_RETENTION
    except ValueError:
        max_retention = DEFAULT_MAX_RETENTION
    return ClusterFacts(longhorn_version=version, max_retention=max_retention)
