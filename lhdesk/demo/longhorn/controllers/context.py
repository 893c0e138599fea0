"""What every controller shares: API access, caches, clock, faults, settings and events."""

from __future__ import annotations

import copy
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from kubernetes.client.exceptions import ApiException

from lhdesk.demo.s3 import S3Config

from . import archive
from . import kube as k
from .faults import SimulatorFaults
from .kube import JSON, Informer, Kube, Resource
from .runtime import Clock, rfc3339
from .target import TargetAccess, resolve_target

log = logging.getLogger(__name__)

DEFAULT_BACKUP_TARGET = "default"
DEFAULT_LONGHORN_VERSION = "v1.12.1"
FINALIZER = "longhorn.io"
LABEL_VERSION = "longhorn.io/version"
LABEL_DELETE_CR_ONLY = "longhorn.io/delete-custom-resource-only"
LABEL_BACKUP_TARGET = "backup-target"
LABEL_BACKUP_VOLUME = "backup-volume"


class Context:
    """Shared state of one Simulator."""

    def __init__(
        self,
        kube: Kube,
        namespace: str,
        clock: Clock,
        faults: SimulatorFaults,
        s3: S3Config | None,
        node_id: str,
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.clock = clock
        self.faults = faults
        self.s3 = s3
        self.node_id = node_id
        self.stop = threading.Event()
        self.informers: dict[str, Informer] = {}

    def informer(self, res: Resource) -> Informer:
        return self.informers[res.plural]

    # ---- settings and identity -----------------------------------------------------------------

    def setting(self, name: str, default: str = "") -> str:
        obj = self.informer(k.SETTINGS).get(name) if k.SETTINGS.plural in self.informers else None
        if obj is None:
            return default
        value = obj.get("value")
        return default if value is None else str(value)

    def longhorn_version(self) -> str:
        return self.setting("current-longhorn-version", "") or DEFAULT_LONGHORN_VERSION

    def manager_image(self) -> str:
        return archive.manager_image_for(self.longhorn_version())

    def engine_image(self) -> str:
        return self.setting("default-engine-image", "") or archive.engine_image_for(self.longhorn_version())

    def git_commit(self) -> str:
        return archive.git_commit_for(self.longhorn_version())

    # ---- backup targets ------------------------------------------------------------------------

    def backup_target(self, name: str = DEFAULT_BACKUP_TARGET) -> JSON | None:
        return self.informer(k.BACKUP_TARGETS).get(name)

    def target_access(self, target: JSON) -> TargetAccess:
        return resolve_target(self.kube, self.namespace, target, self.s3)

    def default_target_ready(self) -> tuple[JSON | None, bool]:
        """(default BackupTarget, whether remote data can be touched): Longhorn's cleanup precondition."""
        target = self.backup_target()
        if target is None:
            return None, False
        usable = (
            not k.meta(target).get("deletionTimestamp")
            and bool(str(k.spec_of(target).get("backupTargetURL") or "").strip())
            and bool(k.status_of(target).get("available"))
        )
        return target, usable

    # ---- writes --------------------------------------------------------------------------------

    def write_status(self, res: Resource, obj: JSON) -> JSON:
        """PUT /status with the cached resourceVersion; the result goes into the cache at once."""
        updated = self.kube.replace_status(res, obj, self.namespace)
        if res.plural in self.informers:
            self.informers[res.plural].observe(updated)
        return updated

    def write(self, res: Resource, obj: JSON) -> JSON:
        updated = self.kube.replace(res, obj, self.namespace)
        if res.plural in self.informers:
            self.informers[res.plural].observe(updated)
        return updated

    def mutate(
        self, res: Resource, name: str, change: Callable[[JSON], bool], *, status: bool = False
    ) -> JSON | None:
        """GET, apply ``change`` (returns False for "nothing to do"), PUT; retried on 409. None if gone."""
        for _ in range(8):
            obj = self.kube.get(res, name, self.namespace)
            if obj is None:
                return None
            if not change(obj):
                return obj
            try:
                return self.write_status(res, obj) if status else self.write(res, obj)
            except ApiException as exc:
                if exc.status != 409:
                    raise
        raise RuntimeError(f"could not update {res.plural}/{name}: conflicts kept coming")

    def remove_finalizer(self, res: Resource, obj: JSON) -> None:
        def drop(fresh: JSON) -> bool:
            finalizers = list(k.meta(fresh).get("finalizers") or [])
            if FINALIZER not in finalizers:
                return False
            finalizers.remove(FINALIZER)
            fresh["metadata"]["finalizers"] = finalizers
            return True

        self.mutate(res, k.name_of(obj), drop)

    def delete_cr_only(self, res: Resource, obj: JSON) -> None:
        """Label ``longhorn.io/delete-custom-resource-only`` then delete: the remote copy stays."""

        def label(fresh: JSON) -> bool:
            labels = fresh["metadata"].setdefault("labels", {}) or {}
            if labels.get(LABEL_DELETE_CR_ONLY) == "true":
                return False
            labels[LABEL_DELETE_CR_ONLY] = "true"
            fresh["metadata"]["labels"] = labels
            return True

        if self.mutate(res, k.name_of(obj), label) is not None:
            self.kube.delete(res, k.name_of(obj), self.namespace)

    # ---- events --------------------------------------------------------------------------------

    def event(
        self, res: Resource, obj: JSON, event_type: str, reason: str, message: str, component: str
    ) -> None:
        """Record a core/v1 Event on ``obj`` (best effort, as event recorders are)."""
        now = rfc3339()
        name = k.name_of(obj)
        event: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{name}.{uuid.uuid4().hex[:16]}", "namespace": self.namespace},
            "involvedObject": {
                "apiVersion": res.api_version,
                "kind": res.kind,
                "name": name,
                "namespace": self.namespace,
                "uid": k.meta(obj).get("uid", ""),
                "resourceVersion": k.meta(obj).get("resourceVersion", ""),
            },
            "reason": reason,
            "message": message,
            "type": event_type,
            "source": {"component": component, "host": self.node_id},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "reportingComponent": component,
            "reportingInstance": self.node_id,
        }
        try:
            self.kube.create(k.EVENTS, event, self.namespace)
        except Exception as exc:
            log.debug("event %s on %s not recorded: %s", reason, name, exc)


def with_condition(status: JSON, cond_type: str, cond_status: str, reason: str, message: str) -> None:
    """Set one condition in ``status.conditions`` the way Longhorn's SetCondition does."""
    now = rfc3339()
    conditions = [c for c in (status.get("conditions") or []) if isinstance(c, dict)]
    for cond in conditions:
        if cond.get("type") == cond_type:
            if cond.get("status") != cond_status:
                cond["lastTransitionTime"] = now
            cond.update({"status": cond_status, "reason": reason, "message": message})
            break
    else:
        conditions.append(
            {
                "type": cond_type,
                "status": cond_status,
                "reason": reason,
                "message": message,
                "lastProbeTime": "",
                "lastTransitionTime": now,
            }
        )
    status["conditions"] = conditions


def deep(obj: JSON) -> JSON:
    return copy.deepcopy(obj)
