"""Fixtures for the UI tests: an in-memory Longhorn namespace behind the jobs page's port.

``MemoryLonghorn`` implements ``lhdesk.ui.jobs.ports.JobsApi`` the way the gateway behaves
against a cluster: resourceVersions, 409 on a stale replace, AlreadyExists, NotFound, dry runs
that store nothing, list + watch with a server timeout and 410 Expired, and the RecurringJob
webhook's refusals (core's validation over the mutator's defaults, with the cluster's
``recurring-job-max-retention``). It fakes the port, never the kubernetes client; the same
page against the demo cluster is tested in tests/integration.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from lhdesk.core.errors import AlreadyExists, Conflict, Expired, GatewayError, Invalid, NotFound
from lhdesk.core.recurringjob import (
    ClusterFacts,
    ManifestError,
    RecurringJobSpec,
    mutate_like_server,
    validate,
)
from lhdesk.core.versions import parse_version


@dataclass
class Call:
    method: str
    plural: str
    name: str = ""
    dry_run: bool = False
    body: dict[str, Any] | None = None


@dataclass
class MemoryLonghorn:
    """One Longhorn namespace in memory; thread-safe (the watch runs on its own thread)."""

    settings: dict[str, str] = field(
        default_factory=lambda: {"current-longhorn-version": "v1.12.1", "recurring-job-max-retention": "100"}
    )
    calls: list[Call] = field(default_factory=list)
    #: Raised by the next create/replace (dry run or not) instead of doing it, when set.
    refuse_next: GatewayError | None = None
    #: Raised by list() while set (e.g. Forbidden, Unreachable).
    list_error: GatewayError | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Condition()
        self._objects: dict[str, dict[str, dict[str, Any]]] = {}
        self._events: list[tuple[int, str, str, dict[str, Any]]] = []
        self._version = 100
        self._oldest_watchable = 0

    # -- helpers for tests ----------------------------------------------------------------------

    def put(self, plural: str, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Store an object as an admin with kubectl would (no webhook), and tell the watchers."""
        with self._lock:
            stored = copy.deepcopy(dict(obj))
            metadata = stored.setdefault("metadata", {})
            name = metadata["name"]
            existed = name in self._objects.setdefault(plural, {})
            metadata.setdefault("namespace", "longhorn-system")
            metadata.setdefault("creationTimestamp", "2026-11-01T00:00:00Z")
            self._store(plural, stored, "MODIFIED" if existed else "ADDED")
            return copy.deepcopy(stored)

    def remove(self, plural: str, name: str) -> None:
        with self._lock:
            obj = self._objects.get(plural, {}).pop(name)
            self._record(plural, "DELETED", obj)

    def expire_watches(self) -> None:
        """Make every resourceVersion handed out so far too old to watch from (410)."""
        with self._lock:
            self._oldest_watchable = self._version + 1
            self._lock.notify_all()

    def stored(self, plural: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            obj = self._objects.get(plural, {}).get(name)
            return copy.deepcopy(obj) if obj is not None else None

    def names(self, plural: str) -> list[str]:
        with self._lock:
            return sorted(self._objects.get(plural, {}))

    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.method in ("create", "replace", "delete")]

    # -- JobsApi ----------------------------------------------------------------------------------

    def list(self, plural: str, label_selector: str | None = None) -> tuple[list[dict[str, Any]], str]:
        with self._lock:
            self.calls.append(Call("list", plural))
            if self.list_error is not None:
                raise self.list_error
            items = [
                copy.deepcopy(o)
                for o in self._objects.get(plural, {}).values()
                if _selects(label_selector, o)
            ]
            return items, str(self._version)

    def watch(
        self, plural: str, resource_version: str, timeout_seconds: int, label_selector: str | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        with self._lock:
            self.calls.append(Call("watch", plural))
            since = int(resource_version or self._version)
            if since < self._oldest_watchable - 1:
                raise Expired("The watch is too old (410 Gone): list again and watch from there.", status=410)
        return self._events_after(plural, since, timeout_seconds, label_selector)

    def _events_after(
        self, plural: str, since: int, timeout_seconds: int, label_selector: str | None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        end = time.monotonic() + timeout_seconds
        while True:
            with self._lock:
                if since < self._oldest_watchable - 1:
                    raise Expired(
                        "The watch is too old (410 Gone): list again and watch from there.", status=410
                    )
                ready = [e for e in self._events if e[0] > since and e[1] == plural]
                if not ready:
                    remaining = end - time.monotonic()
                    if remaining <= 0:
                        return
                    self._lock.wait(min(remaining, 0.2))
                    continue
            for version, _plural, kind, obj in ready:
                since = version
                if _selects(label_selector, obj):
                    yield kind, copy.deepcopy(obj)

    def get(self, plural: str, name: str) -> dict[str, Any]:
        with self._lock:
            self.calls.append(Call("get", plural, name))
            obj = self._objects.get(plural, {}).get(name)
            if obj is None:
                raise NotFound(
                    f"{plural} '{name}' was not found; it may have been deleted. Refresh the list."
                )
            return copy.deepcopy(obj)

    def create(self, plural: str, body: Mapping[str, Any], dry_run: bool = False) -> dict[str, Any]:
        with self._lock:
            name = str((body.get("metadata") or {}).get("name") or "")
            self.calls.append(Call("create", plural, name, dry_run, copy.deepcopy(dict(body))))
            self._maybe_refuse()
            if name in self._objects.get(plural, {}):
                raise AlreadyExists(
                    f"RecurringJob '{name}' already exists. Pick another name, or open the existing one."
                )
            stored = self._admit(plural, body)
            stored["metadata"]["creationTimestamp"] = "2026-12-04T12:00:00Z"
            stored.setdefault("status", {})
            if dry_run:
                return stored
            self._store(plural, stored, "ADDED")
            return copy.deepcopy(stored)

    def replace(
        self, plural: str, name: str, body: Mapping[str, Any], dry_run: bool = False
    ) -> dict[str, Any]:
        with self._lock:
            self.calls.append(Call("replace", plural, name, dry_run, copy.deepcopy(dict(body))))
            self._maybe_refuse()
            current = self._objects.get(plural, {}).get(name)
            if current is None:
                raise NotFound(
                    f"RecurringJob '{name}' was not found; it may have been deleted. Refresh the list."
                )
            sent = str((body.get("metadata") or {}).get("resourceVersion") or "")
            if sent and sent != current["metadata"]["resourceVersion"]:
                raise Conflict(
                    f"RecurringJob '{name}' was changed by someone else since it was loaded (409 Conflict). "
                    "Reload it and apply your change again."
                )
            stored = self._admit(plural, body)
            stored["metadata"]["creationTimestamp"] = current["metadata"].get("creationTimestamp")
            stored["status"] = copy.deepcopy(current.get("status") or {})
            if dry_run:
                return stored
            self._store(plural, stored, "MODIFIED")
            return copy.deepcopy(stored)

    def delete(self, plural: str, name: str, missing_ok: bool = False) -> dict[str, Any] | None:
        with self._lock:
            self.calls.append(Call("delete", plural, name))
            obj = self._objects.get(plural, {}).pop(name, None)
            if obj is None:
                if missing_ok:
                    return None
                raise NotFound(f"{plural} '{name}' was not found")
            self._record(plural, "DELETED", obj)
            return {"kind": "Status", "status": "Success"}

    def setting(self, name: str) -> str | None:
        with self._lock:
            self.calls.append(Call("setting", "settings", name))
            return self.settings.get(name)

    def list_volumes(self) -> list[dict[str, Any]]:
        return self.list("volumes")[0]

    # -- internals --------------------------------------------------------------------------------

    def _maybe_refuse(self) -> None:
        if self.refuse_next is not None:
            error, self.refuse_next = self.refuse_next, None
            raise error

    def _admit(self, plural: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """The webhook: mutate like Longhorn, then refuse what Longhorn would refuse."""
        stored = copy.deepcopy(dict(body))
        stored.setdefault("metadata", {}).setdefault("namespace", "longhorn-system")
        if plural != "recurringjobs":
            return stored
        try:
            spec = mutate_like_server(RecurringJobSpec.from_manifest(stored))
        except ManifestError as exc:
            raise Invalid(str(exc), causes=(("", str(exc)),)) from exc
        facts = ClusterFacts(
            longhorn_version=parse_version(self.settings.get("current-longhorn-version")),
            max_retention=int(self.settings.get("recurring-job-max-retention", "100")),
        )
        problems = validate(spec, facts)
        if problems:
            message = problems[0].message
            if problems[0].field == "spec.retain" and "less than or equal" in message:
                message = f"retain value should be less than or equal to {facts.max_retention}"
            text = f'admission webhook "validator.longhorn.io" denied the request: {message}'
            raise Invalid(f"The server rejected RecurringJob: {text}", causes=(("", text),))
        stored["spec"] = spec.to_manifest()["spec"]
        return stored

    def _store(self, plural: str, obj: dict[str, Any], kind: str) -> None:
        self._version += 1
        obj["metadata"]["resourceVersion"] = str(self._version)
        obj["metadata"].setdefault("uid", f"uid-{obj['metadata']['name']}")
        self._objects.setdefault(plural, {})[obj["metadata"]["name"]] = obj
        self._events.append((self._version, plural, kind, copy.deepcopy(obj)))
        self._lock.notify_all()

    def _record(self, plural: str, kind: str, obj: dict[str, Any]) -> None:
        self._version += 1
        self._events.append((self._version, plural, kind, copy.deepcopy(obj)))
        self._lock.notify_all()


def _selects(selector: str | None, obj: Mapping[str, Any]) -> bool:
    if not selector:
        return True
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if labels.get(key.strip()) != value.strip():
            return False
    return True


def recurring_job(name: str, task: str = "backup", cron: str = "0 2 * * *", **spec: Any) -> dict[str, Any]:
    """A RecurringJob manifest as the cluster would store it."""
    body: dict[str, Any] = {
        "name": name,
        "task": task,
        "cron": cron,
        "retain": 0 if task in ("snapshot-cleanup", "filesystem-trim") else 3,
        "concurrency": 2,
        "groups": ["default"] if task != "system-backup" else [],
        "labels": {},
        "parameters": {"volume-backup-policy": "if-not-present"} if task == "system-backup" else {},
    }
    body.update(spec)
    return {
        "apiVersion": "longhorn.io/v1beta2",
        "kind": "RecurringJob",
        "metadata": {"name": name, "namespace": "longhorn-system"},
        "spec": body,
        "status": {"executionCount": 4},
    }


@pytest.fixture
def memory_longhorn() -> MemoryLonghorn:
    return MemoryLonghorn()


@pytest.fixture
def make_job() -> Any:
    """``make_job(name, task="backup", cron="0 2 * * *", **spec)``: a stored RecurringJob manifest."""
    return recurring_job
