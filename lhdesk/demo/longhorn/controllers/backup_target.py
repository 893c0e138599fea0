"""BackupTarget controller: availability from a real S3 probe, and the periodic sync with the target.

Every ``pollInterval`` (scaled; "0" turns polling off), on a new ``spec.syncRequestedAt`` and on any spec
change, it lists the system backups in the target, as Longhorn's probe does. A failure makes the target
unavailable (condition ``Unavailable``). A target that turns available only flips ``available`` in that
pass; the sync follows in the next one. The sync of ``default`` creates SystemBackups for remote-only
backups and deletes (CR only) ``Ready`` ones gone from the target; every target's sync does the same for
BackupVolumes and Backups.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

from kubernetes.client.exceptions import ApiException

from . import kube as k
from .context import (
    DEFAULT_BACKUP_TARGET,
    FINALIZER,
    LABEL_BACKUP_TARGET,
    LABEL_BACKUP_VOLUME,
    LABEL_VERSION,
    Context,
    with_condition,
)
from .kube import JSON
from .runtime import Controller, rfc3339
from .target import TargetAccess, describe_error
from .volume_backup import STATE_COMPLETED, ensure_backup_volume

log = logging.getLogger(__name__)

DEFAULT_POLL_SECONDS = 300.0
CONDITION_UNAVAILABLE = "Unavailable"
READY = "Ready"

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string ("5m0s", "300s", "0"); ValueError when it is not one."""
    value = text.strip()
    if value in ("", "0"):
        return 0.0
    pos = 0
    total = 0.0
    for match in _DURATION_PART.finditer(value):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(value):
        raise ValueError(f"invalid duration {text!r}")
    return total


def _spec_key(obj: JSON) -> tuple[str, str, str, bool]:
    spec = k.spec_of(obj)
    return (
        str(spec.get("backupTargetURL") or ""),
        str(spec.get("credentialSecret") or ""),
        str(spec.get("pollInterval") or ""),
        bool(k.meta(obj).get("deletionTimestamp")),
    )


class BackupTargetController(Controller):
    name = "backup-target"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx.clock)
        self.ctx = ctx
        self._lock = threading.Lock()
        self._next_poll: dict[str, float] = {}
        self._spec_seen: dict[str, tuple[str, str, str, bool]] = {}
        self._sync_handled: dict[str, str] = {}
        self.default_probed = threading.Event()

    def on_event(self, event_type: str, obj: JSON) -> None:
        name = k.name_of(obj)
        with self._lock:
            if event_type == "DELETED":
                self._next_poll.pop(name, None)
                self._spec_seen.pop(name, None)
                return
            key = _spec_key(obj)
            if self._spec_seen.get(name) != key:
                self._spec_seen[name] = key
                self._next_poll[name] = 0.0
        self.enqueue(name)

    def poll_all_now(self) -> None:
        """Probe every target at once (a fault knob changed)."""
        with self._lock:
            names = list(self._spec_seen)
            for name in names:
                self._next_poll[name] = 0.0
        for name in names:
            self.enqueue(name)

    def reconcile(self, key: str) -> float | None:
        ctx = self.ctx
        obj = ctx.informer(k.BACKUP_TARGETS).get(key)
        if obj is None:
            return None
        if k.meta(obj).get("deletionTimestamp"):
            self._remove(obj)
            return None
        spec = k.spec_of(obj)
        requested = str(spec.get("syncRequestedAt") or "")
        sync_requested = bool(requested) and self._sync_handled.get(key) != requested
        now = time.monotonic()
        with self._lock:
            due = self._next_poll.get(key, 0.0)
        if now < due and not sync_requested:
            return due - now
        try:
            interval = (
                parse_go_duration(str(spec.get("pollInterval") or "")) if spec.get("pollInterval") else None
            )
        except ValueError:
            interval = None
        if interval is None:
            interval = DEFAULT_POLL_SECONDS
        flipped = self._poll(obj)
        self._sync_handled[key] = requested
        if flipped:
            delay = 0.05  # the sync comes in the next pass
        elif interval > 0:
            delay = self.clock.scaled(interval)
        else:
            delay = float("inf")
        with self._lock:
            self._next_poll[key] = time.monotonic() + delay
        if key == DEFAULT_BACKUP_TARGET:
            self.default_probed.set()
        return None if delay == float("inf") else delay

    # ---- one poll ------------------------------------------------------------------------------

    def _poll(self, obj: JSON) -> bool:
        """Probe and, when the target was already available, sync. True when it just became available."""
        ctx = self.ctx
        name = k.name_of(obj)
        url = str(k.spec_of(obj).get("backupTargetURL") or "")
        if not url.strip():
            self._set_unavailable(obj, "backup target URL is empty")
            if name == DEFAULT_BACKUP_TARGET:
                self._clear_system_backups()
            return False
        cluster_backups = ctx.informer(k.SYSTEM_BACKUPS).objects()
        cluster_volume_backups = ctx.informer(k.BACKUPS).objects()
        if ctx.faults.backup_target_unavailable:
            self._set_unavailable(
                obj, f"failed to list system backups in {url}: connection refused ({_FAULT})"
            )
            return False
        try:
            access = ctx.target_access(obj)
            remote = access.list_system_backups()
        except Exception as exc:
            self._set_unavailable(obj, f"failed to list system backups in {url}: {describe_error(exc)}")
            return False
        if not k.status_of(obj).get("available"):
            self._set_available(obj)
            return True
        if name == DEFAULT_BACKUP_TARGET:
            self._sync_system_backups(obj, remote, cluster_backups)
        try:
            self._sync_volume_backups(name, access, cluster_volume_backups)
        except Exception as exc:
            log.warning("syncing volume backups of target %s failed: %s", name, describe_error(exc))
        self._set_available(obj)
        return False

    def _write(self, obj: JSON, change: Any) -> None:
        def apply(fresh: JSON) -> bool:
            status = dict(k.status_of(fresh))
            change(status)
            status["ownerID"] = self.ctx.node_id
            status["lastSyncedAt"] = rfc3339()
            fresh["status"] = status
            return True

        self.ctx.mutate(k.BACKUP_TARGETS, k.name_of(obj), apply, status=True)

    def _set_unavailable(self, obj: JSON, message: str) -> None:
        log.info("backup target %s unavailable: %s", k.name_of(obj), message)

        def change(status: JSON) -> None:
            status["available"] = False
            with_condition(status, CONDITION_UNAVAILABLE, "True", CONDITION_UNAVAILABLE, message)

        self._write(obj, change)

    def _set_available(self, obj: JSON) -> None:
        def change(status: JSON) -> None:
            status["available"] = True
            with_condition(status, CONDITION_UNAVAILABLE, "False", "", "")

        self._write(obj, change)

    # ---- system backups ------------------------------------------------------------------------

    def _sync_system_backups(self, target: JSON, remote: dict[str, str], cluster: list[JSON]) -> None:
        ctx = self.ctx
        ready = {k.name_of(sb) for sb in cluster if k.status_of(sb).get("state") == READY}
        owner = {
            "apiVersion": k.BACKUP_TARGETS.api_version,
            "kind": k.BACKUP_TARGETS.kind,
            "name": k.name_of(target),
            "uid": k.meta(target).get("uid", ""),
        }
        for name in sorted(set(remote) - ready):
            body: JSON = {
                "metadata": {
                    "name": name,
                    "labels": {LABEL_VERSION: remote[name]},
                    "ownerReferences": [owner],
                },
                "spec": {},
            }
            try:
                ctx.kube.create(k.SYSTEM_BACKUPS, body, ctx.namespace)
                log.info("system backup %s found in the backup target; created it", name)
            except ApiException as exc:
                if exc.status != 409:
                    log.warning("creating system backup %s from the target failed: %s", name, exc.reason)
        for sb in cluster:
            if k.status_of(sb).get("state") == READY and k.name_of(sb) not in remote:
                log.info("system backup %s is gone from the backup target; deleting the CR", k.name_of(sb))
                ctx.delete_cr_only(k.SYSTEM_BACKUPS, sb)

    def _clear_system_backups(self) -> None:
        for sb in self.ctx.informer(k.SYSTEM_BACKUPS).objects():
            if not k.meta(sb).get("deletionTimestamp"):
                self.ctx.delete_cr_only(k.SYSTEM_BACKUPS, sb)

    # ---- volume backups ------------------------------------------------------------------------

    def _sync_volume_backups(
        self, target_name: str, access: TargetAccess, cluster_backups: list[JSON]
    ) -> None:
        ctx = self.ctx
        remote_volumes = access.list_volumes()
        mine = [b for b in cluster_backups if k.labels_of(b).get(LABEL_BACKUP_TARGET) == target_name]
        for volume in remote_volumes:
            vcfg = access.read_volume_cfg(volume)
            ensure_backup_volume(ctx, target_name, volume, vcfg)
            remote_backups = set(access.list_volume_backups(volume))
            in_cluster = {k.name_of(b): b for b in mine if k.labels_of(b).get(LABEL_BACKUP_VOLUME) == volume}
            for backup_name in sorted(remote_backups - set(in_cluster)):
                body: JSON = {
                    "metadata": {
                        "name": backup_name,
                        "labels": {LABEL_BACKUP_VOLUME: volume, LABEL_BACKUP_TARGET: target_name},
                        "finalizers": [FINALIZER],
                    },
                    "spec": {"snapshotName": "", "labels": {}},
                }
                try:
                    ctx.kube.create(k.BACKUPS, body, ctx.namespace)
                except ApiException as exc:
                    if exc.status != 409:
                        log.warning("creating backup %s from the target failed: %s", backup_name, exc.reason)
            for known_name, known in in_cluster.items():
                if known_name not in remote_backups and k.status_of(known).get("state") == STATE_COMPLETED:
                    ctx.delete_cr_only(k.BACKUPS, known)
        present = set(remote_volumes)
        for bv in ctx.informer(k.BACKUP_VOLUMES).objects():
            labels = k.labels_of(bv)
            if labels.get(LABEL_BACKUP_TARGET) != target_name or labels.get(LABEL_BACKUP_VOLUME) in present:
                continue
            ctx.delete_cr_only(k.BACKUP_VOLUMES, bv)
            for orphan in mine:
                if k.labels_of(orphan).get(LABEL_BACKUP_VOLUME) == labels.get(LABEL_BACKUP_VOLUME):
                    ctx.delete_cr_only(k.BACKUPS, orphan)

    # ---- deletion ------------------------------------------------------------------------------

    def _remove(self, obj: JSON) -> None:
        """A BackupTarget being deleted: drop its BackupVolumes and Backups (CRs only), then the finalizer."""
        ctx = self.ctx
        name = k.name_of(obj)
        for res in (k.BACKUPS, k.BACKUP_VOLUMES):
            for item in ctx.informer(res).objects():
                if k.labels_of(item).get(LABEL_BACKUP_TARGET) == name:
                    ctx.delete_cr_only(res, item)
        if FINALIZER in (k.meta(obj).get("finalizers") or []):
            ctx.remove_finalizer(k.BACKUP_TARGETS, obj)


_FAULT = "fault injected by the lhdesk demo"
