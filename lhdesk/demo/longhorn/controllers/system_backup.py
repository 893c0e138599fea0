"""SystemBackup controller: longhorn-manager's state machine, with real files in the backup target.

Local backups go ``""`` → ``CreatingVolumeBackups`` → ``CreatingBackingImageBackups`` → ``Generating`` →
``Uploading`` → ``Ready``; ones found only in the target (label ``longhorn.io/version``) go ``""`` →
``Syncing`` → ``Ready``. Each state lasts at least one scaled second so that watchers see it. Failures
end in ``Error`` with an ``Error`` condition whose reason is Longhorn's (FailedStarting, Start, Generate,
Upload, Sync). Deletion goes through ``Deleting``: the remote folder is removed (best effort, and only
when Longhorn would), then the ``longhorn.io`` finalizer.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from lhdesk.core import backupstore as bs

from . import archive
from . import kube as k
from .context import (
    FINALIZER,
    LABEL_DELETE_CR_ONLY,
    LABEL_VERSION,
    Context,
    with_condition,
)
from .faults import FAILURE_REASONS
from .kube import JSON
from .runtime import Controller, rfc3339
from .target import TargetAccess, describe_error
from .volume_backup import STATE_COMPLETED, STATE_ERROR, create_backup

log = logging.getLogger(__name__)

COMPONENT = "longhorn-system-backup-controller"

NONE = ""
SYNCING = "Syncing"
CREATING_VOLUME_BACKUPS = "CreatingVolumeBackups"
CREATING_BACKING_IMAGE_BACKUPS = "CreatingBackingImageBackups"
GENERATING = "Generating"
UPLOADING = "Uploading"
READY = "Ready"
ERROR = "Error"
DELETING = "Deleting"
FINAL_STATES = (READY, ERROR, DELETING)

REASON_FAILED_STARTING = "FailedStarting"
REASON_START = "Start"
REASON_GENERATE = "Generate"
REASON_UPLOAD = "Upload"
REASON_SYNC = "Sync"

POLICY_ALWAYS = "always"
POLICY_IF_NOT_PRESENT = "if-not-present"
POLICY_DISABLED = "disabled"

STEP_SECONDS = 1.0  # how long each state lasts at speed 1
VOLUME_BACKUP_POLL_SECONDS = 5.0  # Longhorn's polling of the volume backups
INJECTED = "fault injected by the lhdesk demo"

_FAULT_MESSAGES = {
    CREATING_VOLUME_BACKUPS: "failed creating Volume backups",
    CREATING_BACKING_IMAGE_BACKUPS: "failed creating BackingImage backups",
    GENERATING: "failed to generate system backup file",
    UPLOADING: "failed to upload system backup",
    SYNCING: "failed to sync from backup target",
}


class SystemBackupController(Controller):
    name = "system-backup"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx.clock)
        self.ctx = ctx
        self._entered: dict[str, tuple[str, float]] = {}
        self._volume_backups: dict[str, list[str]] = {}
        self._archives: dict[str, bytes] = {}  # stands for /tmp/<name>.zip
        self._lock = threading.Lock()  # the informer thread cleans up while the worker reconciles

    # ---- events --------------------------------------------------------------------------------

    def on_event(self, event_type: str, obj: JSON) -> None:
        name = k.name_of(obj)
        if event_type == "DELETED":
            self._cleanup_local(name)
            return
        state = k.status_of(obj).get("state") or NONE
        if state in (READY, ERROR) and not k.meta(obj).get("deletionTimestamp"):
            self._cleanup_local(name)
            return
        self.enqueue(name)

    def waiting_for_volume_backups(self) -> list[str]:
        """Names of the SystemBackups whose volume backups are being waited for."""
        with self._lock:
            return list(self._volume_backups)

    def _cleanup_local(self, name: str) -> None:
        with self._lock:
            self._entered.pop(name, None)
            self._volume_backups.pop(name, None)
            self._archives.pop(name, None)

    # ---- reconcile -----------------------------------------------------------------------------

    def reconcile(self, key: str) -> float | None:
        ctx = self.ctx
        obj = ctx.informer(k.SYSTEM_BACKUPS).get(key)
        if obj is None:
            self._cleanup_local(key)
            return None
        state = str(k.status_of(obj).get("state") or NONE)
        if k.meta(obj).get("deletionTimestamp") and state != DELETING:
            self._transition(obj, DELETING)
            return 0.0
        if state not in FINAL_STATES and ctx.backup_target() is None:
            self._fail(obj, REASON_FAILED_STARTING, "failed to get backup target")
            return None
        if state == NONE:
            return self._start(obj)
        if state in (READY, ERROR):
            self._cleanup_local(key)
            return None
        if state == DELETING:
            return self._delete(obj)
        wait = self._step_left(key, state)
        if wait > 0:
            return wait
        if state in FAILURE_REASONS and ctx.faults.system_backup_fails_in(key, state):
            self._fail(obj, FAILURE_REASONS[state], f"{_FAULT_MESSAGES[state]}: {INJECTED}")
            return None
        handler = {
            SYNCING: self._sync,
            CREATING_VOLUME_BACKUPS: self._volume_backups_step,
            CREATING_BACKING_IMAGE_BACKUPS: self._backing_image_step,
            GENERATING: self._generate,
            UPLOADING: self._upload,
        }.get(state)
        if handler is None:
            log.warning("system backup %s is in unknown state %r", key, state)
            return None
        return handler(obj)

    def _step_left(self, name: str, state: str) -> float:
        entered = self._entered.get(name)
        if entered is None or entered[0] != state:
            entered = (state, time.monotonic())
            self._entered[name] = entered
        return self.clock.scaled(STEP_SECONDS) - (time.monotonic() - entered[1])

    def _transition(self, obj: JSON, state: str, **fields: Any) -> JSON:
        status = dict(k.status_of(obj))
        status.update(fields)
        status["state"] = state
        status["ownerID"] = self.ctx.node_id
        status["lastSyncedAt"] = rfc3339()
        obj["status"] = status
        updated = self.ctx.write_status(k.SYSTEM_BACKUPS, obj)
        self._entered[k.name_of(obj)] = (state, time.monotonic())
        return updated

    def _fail(self, obj: JSON, reason: str, message: str) -> None:
        status = dict(k.status_of(obj))
        with_condition(status, "Error", "True", reason, message)
        obj["status"] = status
        self._transition(obj, ERROR)
        self._cleanup_local(k.name_of(obj))
        self.ctx.event(k.SYSTEM_BACKUPS, obj, "Warning", "Failed", message, COMPONENT)
        log.info("system backup %s failed (%s): %s", k.name_of(obj), reason, message)

    def _default_access(self) -> TargetAccess:
        target = self.ctx.backup_target()
        if target is None:
            raise RuntimeError("failed to get backup target")
        return self.ctx.target_access(target)

    # ---- states --------------------------------------------------------------------------------

    def _start(self, obj: JSON) -> float | None:
        name = k.name_of(obj)
        if LABEL_VERSION in k.labels_of(obj):
            self._transition(obj, SYNCING)
            return self.clock.scaled(STEP_SECONDS)
        try:
            remote = self._default_access().list_system_backups()
        except Exception as exc:
            self._fail(
                obj, REASON_START, f"failed to list system backups in backup target: {describe_error(exc)}"
            )
            return None
        if name in remote:
            # The name exists in the target: this object becomes the synced copy of that backup.
            def label(fresh: JSON) -> bool:
                labels = fresh["metadata"].get("labels") or {}
                labels[LABEL_VERSION] = remote[name]
                fresh["metadata"]["labels"] = labels
                return True

            self.ctx.mutate(k.SYSTEM_BACKUPS, name, label)
            return 0.0
        self._transition(
            obj,
            CREATING_VOLUME_BACKUPS,
            version=self.ctx.longhorn_version(),
            gitCommit=self.ctx.git_commit(),
        )
        self.ctx.event(k.SYSTEM_BACKUPS, obj, "Normal", "Start", "Starting system backup", COMPONENT)
        return self.clock.scaled(STEP_SECONDS)

    def _sync(self, obj: JSON) -> float | None:
        name = k.name_of(obj)
        version = k.labels_of(obj).get(LABEL_VERSION, "")
        try:
            cfg = self._default_access().read_system_backup_cfg(version, name)
        except Exception as exc:
            self._fail(obj, REASON_SYNC, f"failed to sync from backup target: {describe_error(exc)}")
            return None
        self._transition(
            obj,
            READY,
            version=cfg.longhorn_version,
            gitCommit=cfg.longhorn_git_commit,
            managerImage=cfg.manager_image,
            createdAt=bs.format_time(cfg.created_at),
        )
        self.ctx.event(
            k.SYSTEM_BACKUPS, obj, "Normal", "Synced", "Synced system backup from backup target", COMPONENT
        )
        return None

    def _policy(self, obj: JSON) -> str:
        policy = str(k.spec_of(obj).get("volumeBackupPolicy") or "")
        # The mutating webhook turns an empty policy into if-not-present before anything sees it.
        return policy or POLICY_IF_NOT_PRESENT

    def _volumes_to_back_up(self, policy: str) -> list[JSON]:
        chosen: list[JSON] = []
        for volume in self.ctx.informer(k.VOLUMES).objects():
            if k.status_of(volume).get("isStandby") or k.spec_of(volume).get("Standby"):
                continue
            if k.spec_of(volume).get("cloneMode") == "linked-clone":
                continue
            if policy == POLICY_ALWAYS or (
                policy == POLICY_IF_NOT_PRESENT and not self._backup_up_to_date(volume)
            ):
                chosen.append(volume)
            # disabled, or a value Longhorn has no case for: no volume backups.
        return chosen

    def _backup_up_to_date(self, volume: JSON) -> bool:
        """The volume's last backup exists and nothing was written since (the demo's volumes never change)."""
        last = str(k.status_of(volume).get("lastBackup") or "")
        if not last:
            return False
        backup = self.ctx.informer(k.BACKUPS).get(last)
        return backup is None or k.status_of(backup).get("state") == STATE_COMPLETED

    def _volume_backups_step(self, obj: JSON) -> float | None:
        name = k.name_of(obj)
        backups = self._volume_backups.get(name)
        if backups is None:
            backups = []
            try:
                for volume in self._volumes_to_back_up(self._policy(obj)):
                    backup_name = f"system-backup-{uuid.uuid4().hex[:16]}"
                    create_backup(self.ctx, volume, backup_name, backup_name)
                    backups.append(backup_name)
            except Exception as exc:
                self._fail(obj, REASON_START, f"failed creating Volume backups: {describe_error(exc)}")
                return None
            with self._lock:
                self._volume_backups[name] = backups
            if backups:
                return self.clock.scaled(min(STEP_SECONDS, VOLUME_BACKUP_POLL_SECONDS))
        for backup_name in backups:
            backup = self.ctx.informer(k.BACKUPS).get(backup_name)
            if backup is None:
                return self.clock.scaled(STEP_SECONDS)
            status = k.status_of(backup)
            if status.get("state") == STATE_ERROR:
                self._fail(
                    obj,
                    REASON_START,
                    f"failed creating Volume backup {backup_name}: {status.get('error', '')}",
                )
                return None
            owner = self.ctx.informer(k.VOLUMES).get(str(status.get("volumeName") or ""))
            done = status.get("state") == STATE_COMPLETED and (
                owner is None or k.status_of(owner).get("lastBackup") == backup_name
            )
            if not done:
                return self.clock.scaled(VOLUME_BACKUP_POLL_SECONDS)
        with self._lock:
            self._volume_backups.pop(name, None)
        self._transition(obj, CREATING_BACKING_IMAGE_BACKUPS)
        return self.clock.scaled(STEP_SECONDS)

    def _backing_image_step(self, obj: JSON) -> float | None:
        # No BackupBackingImage CRD is served by the demo: there is nothing to back up, as on a cluster
        # without BackingImages. Longhorn only logs backing-image backup failures anyway.
        self._transition(obj, GENERATING)
        return self.clock.scaled(STEP_SECONDS)

    def _generate(self, obj: JSON) -> float | None:
        name = k.name_of(obj)
        try:
            self._archives[name] = self._build(obj)
        except Exception as exc:
            log.exception("generating system backup %s", name)
            self._fail(obj, REASON_GENERATE, f"failed to generate system backup file: {describe_error(exc)}")
            return None
        self._transition(obj, UPLOADING)
        return self.clock.scaled(STEP_SECONDS)

    def _build(self, obj: JSON) -> bytes:
        ctx = self.ctx
        status = k.status_of(obj)
        version = str(status.get("version") or ctx.longhorn_version())
        namespace = ctx.kube.get(k.NAMESPACES, ctx.namespace)
        server = ctx.kube.request("GET", "/version") or {}
        created = status.get("createdAt")
        meta = bs.SystemBackupMeta(
            longhorn_version=version,
            longhorn_git_commit=str(status.get("gitCommit") or ctx.git_commit()),
            kubernetes_version=str(server.get("gitVersion") or ""),
            longhorn_namespace_uuid=str(k.meta(namespace).get("uid") or "") if namespace else "",
            system_backup_created_at=bs.parse_time(str(created)) if created else None,
            manager_image=ctx.manager_image(),
        )
        lists = archive.collect_resources(ctx.kube, ctx.namespace)
        return archive.build_archive(k.name_of(obj), meta, lists)

    def _upload(self, obj: JSON) -> float | None:
        name = k.name_of(obj)
        status = k.status_of(obj)
        version = str(status.get("version") or self.ctx.longhorn_version())
        try:
            access = self._default_access()
            if not access.exists(bs.system_backup_cfg_path(version, name)):
                data = self._archives.get(name)
                if data is None:  # the manager restarted: /tmp is gone, generate again
                    data = self._build(obj)
                now = datetime.now(UTC).replace(microsecond=0)
                cfg = bs.SystemBackupCfg(
                    name=name,
                    longhorn_version=version,
                    longhorn_git_commit=str(status.get("gitCommit") or self.ctx.git_commit()),
                    backup_target_url=access.url.raw,
                    manager_image=self.ctx.manager_image(),
                    engine_image=self.ctx.engine_image(),
                    created_at=now,
                    checksum=bs.sha256_hex(data),
                )
                access.upload_system_backup(version, name, data, cfg)
        except Exception as exc:
            self._fail(obj, REASON_UPLOAD, f"failed to upload system backup: {describe_error(exc)}")
            return None
        self._archives.pop(name, None)
        self._transition(obj, READY, managerImage=self.ctx.manager_image(), createdAt=rfc3339())
        self.ctx.event(
            k.SYSTEM_BACKUPS, obj, "Normal", "Uploaded", "Uploaded system backup to backup target", COMPONENT
        )
        return None

    def _delete(self, obj: JSON) -> float | None:
        ctx = self.ctx
        name = k.name_of(obj)
        version = str(k.status_of(obj).get("version") or "")
        _, usable = ctx.default_target_ready()
        if version and usable and k.labels_of(obj).get(LABEL_DELETE_CR_ONLY) is None:
            try:
                access = self._default_access()
                remote = access.list_system_backups()
                if name in remote:
                    access.delete_system_backup(remote[name], name)
                    log.info("deleted system backup %s from the backup target", name)
            except Exception as exc:
                # Best effort, as in Longhorn: the next sync brings the CR back if the copy survived.
                log.warning(
                    "failed to delete system backup %s from the backup target: %s", name, describe_error(exc)
                )
        self._cleanup_local(name)
        if FINALIZER in (k.meta(obj).get("finalizers") or []):
            ctx.remove_finalizer(k.SYSTEM_BACKUPS, obj)
        return None
