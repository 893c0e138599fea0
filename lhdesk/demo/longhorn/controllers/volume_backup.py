"""Volume backups: Backup and BackupVolume objects, and their files in the backupstore.

A Backup with ``spec.snapshotName`` is one to take: the controller writes a few small blocks, the
``backup_<name>.cfg`` and ``volume.cfg`` under ``backupstore/volumes/<xx>/<yy>/<volume>/``, then marks it
``Completed`` and points the volume's ``status.lastBackup`` at it. A Backup without a snapshot name was
pulled from the target by the sync: its status is read from the remote cfg. Deleting a Backup removes
its cfg and the blocks no other backup uses, unless it carries ``longhorn.io/delete-custom-resource-only``.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from kubernetes.client.exceptions import ApiException

from lhdesk.core import backupstore as bs

from . import kube as k
from .context import (
    DEFAULT_BACKUP_TARGET,
    FINALIZER,
    LABEL_BACKUP_TARGET,
    LABEL_BACKUP_VOLUME,
    LABEL_DELETE_CR_ONLY,
    Context,
)
from .kube import JSON
from .runtime import Controller, rfc3339
from .target import TargetAccess, TargetError, describe_error

log = logging.getLogger(__name__)

COMPONENT = "longhorn-backup-controller"
STEP_SECONDS = 1.0

STATE_NEW = ""
STATE_IN_PROGRESS = "InProgress"
STATE_COMPLETED = "Completed"
STATE_ERROR = "Error"


def new_backup_name() -> str:
    return f"backup-{uuid.uuid4().hex[:16]}"


def backup_volume_name(target: str, volume: str) -> str:
    """A stable BackupVolume name per (target, volume), shaped as Longhorn's ``bv-<uuid>`` names."""
    return f"bv-{uuid.uuid5(uuid.NAMESPACE_URL, f'longhorn-backup-volume/{target}/{volume}')}"


def volume_target_name(volume: JSON) -> str:
    return str(k.spec_of(volume).get("backupTargetName") or DEFAULT_BACKUP_TARGET)


def create_backup(
    ctx: Context,
    volume: JSON,
    name: str,
    snapshot_name: str,
    *,
    labels: dict[str, str] | None = None,
    backup_mode: str | None = None,
) -> JSON:
    """Create the Backup object for a snapshot of ``volume``; the BackupController takes it from there."""
    spec: dict[str, Any] = {"snapshotName": snapshot_name, "labels": dict(labels or {})}
    if backup_mode:
        spec["backupMode"] = backup_mode
    body: JSON = {
        "metadata": {
            "name": name,
            "labels": {
                LABEL_BACKUP_VOLUME: k.name_of(volume),
                LABEL_BACKUP_TARGET: volume_target_name(volume),
            },
            "finalizers": [FINALIZER],
        },
        "spec": spec,
    }
    return ctx.kube.create(k.BACKUPS, body, ctx.namespace)


def _blocks_for(volume: str, backup: str) -> list[tuple[int, bytes]]:
    """Three small blocks: one the same in every backup of the volume (deduplicated), two new."""
    base = f"lhdesk demo block of {volume}\n".encode() * 64
    fresh = [f"lhdesk demo data of {volume} in {backup} #{i}\n".encode() * 64 for i in (1, 2)]
    return [(0, base), (bs.DEFAULT_BLOCK_SIZE, fresh[0]), (2 * bs.DEFAULT_BLOCK_SIZE, fresh[1])]


def write_backup_files(
    access: TargetAccess,
    volume: JSON,
    backup: str,
    snapshot: str,
    labels: dict[str, str],
    backup_mode: str,
    storage_class: str = "",
) -> tuple[bs.BackupCfg, bs.VolumeCfg]:
    """Upload blocks, ``backup_<name>.cfg`` and ``volume.cfg`` for one backup of ``volume``."""
    volume_name = k.name_of(volume)
    spec = k.spec_of(volume)
    now = rfc3339()
    previous = access.read_volume_cfg(volume_name)
    mappings: list[bs.BlockMapping] = []
    new_bytes = 0
    new_blocks = 0
    for offset, data in _blocks_for(volume_name, backup):
        checksum = bs.longhorn_checksum(data)
        path = bs.block_path(volume_name, checksum)
        if not access.exists(path):
            access.put(path, data)
            new_bytes += len(data)
            new_blocks += 1
        mappings.append(bs.BlockMapping(offset, checksum))
    compression = str(spec.get("backupCompressionMethod") or "lz4")
    incremental = backup_mode != "full" and previous is not None and bool(previous.last_backup_name)
    cfg = bs.BackupCfg(
        name=backup,
        volume_name=volume_name,
        snapshot_name=snapshot,
        snapshot_created_at=now,
        created_time=now,
        size=len(mappings) * bs.DEFAULT_BLOCK_SIZE,
        labels=labels,
        parameters={"backup-mode": backup_mode, "backup-block-size": str(bs.DEFAULT_BLOCK_SIZE)},
        is_incremental=incremental,
        compression_method=compression,
        newly_uploaded_data_size=new_bytes,
        blocks=tuple(mappings),
    )
    access.put(bs.backup_cfg_path(volume_name, backup), cfg.to_json())
    vcfg = bs.VolumeCfg(
        name=volume_name,
        size=int(str(spec.get("size") or "0") or 0),
        created_time=previous.created_time if previous else now,
        labels=dict(previous.labels) if previous else {},
        last_backup_name=backup,
        last_backup_at=now,
        block_count=(previous.block_count if previous else 0) + new_blocks,
        backing_image_name=str(spec.get("backingImage") or ""),
        compression_method=compression,
        storage_class_name=storage_class or (previous.storage_class_name if previous else ""),
        data_engine=str(spec.get("dataEngine") or "v1"),
    )
    access.put(bs.volume_cfg_path(volume_name), vcfg.to_json())
    return cfg, vcfg


def delete_backup_files(access: TargetAccess, volume: str, backup: str) -> bs.VolumeCfg | None:
    """Remove one backup's cfg and its unshared blocks; rewrite volume.cfg's last backup."""
    doomed = (
        access.read_backup_cfg(volume, backup) if access.exists(bs.backup_cfg_path(volume, backup)) else None
    )
    access.delete(bs.backup_cfg_path(volume, backup))
    remaining: list[bs.BackupCfg] = []
    for other in access.list_volume_backups(volume):
        try:
            remaining.append(access.read_backup_cfg(volume, other))
        except Exception as exc:
            log.debug("unreadable backup cfg %s/%s: %s", volume, other, exc)
    if doomed is not None:
        used = {b.block_checksum for cfg in remaining for b in cfg.blocks}
        for block in doomed.blocks:
            if block.block_checksum not in used:
                access.delete(bs.block_path(volume, block.block_checksum))
    vcfg = access.read_volume_cfg(volume)
    if vcfg is None:
        return None
    done = sorted((c for c in remaining if c.created_time), key=lambda c: c.created_time)
    last = done[-1] if done else None
    blocks = len({b.block_checksum for cfg in remaining for b in cfg.blocks})
    updated = bs.VolumeCfg(
        name=vcfg.name,
        size=vcfg.size,
        created_time=vcfg.created_time,
        labels=vcfg.labels,
        last_backup_name=last.name if last else "",
        last_backup_at=last.created_time if last else "",
        block_count=blocks,
        backing_image_name=vcfg.backing_image_name,
        backing_image_checksum=vcfg.backing_image_checksum,
        compression_method=vcfg.compression_method,
        storage_class_name=vcfg.storage_class_name,
        data_engine=vcfg.data_engine,
    )
    access.put(bs.volume_cfg_path(volume), updated.to_json())
    return updated


def ensure_backup_volume(ctx: Context, target: str, volume: str, vcfg: bs.VolumeCfg | None) -> JSON | None:
    """Get or create the BackupVolume of (target, volume) and refresh its status from ``volume.cfg``."""
    name = backup_volume_name(target, volume)
    informer = ctx.informer(k.BACKUP_VOLUMES)
    obj = informer.get(name)
    if obj is None:
        body: JSON = {
            "metadata": {"name": name, "labels": {LABEL_BACKUP_TARGET: target, LABEL_BACKUP_VOLUME: volume}},
            "spec": {"backupTargetName": target, "volumeName": volume},
        }
        try:
            obj = ctx.kube.create(k.BACKUP_VOLUMES, body, ctx.namespace)
        except ApiException as exc:
            if exc.status != 409:
                raise
            obj = ctx.kube.get(k.BACKUP_VOLUMES, name, ctx.namespace)
            if obj is None:
                return None
        informer.observe(obj)
    if vcfg is None:
        return obj
    wanted = {
        "ownerID": ctx.node_id,
        "createdAt": vcfg.created_time,
        "lastBackupName": vcfg.last_backup_name,
        "lastBackupAt": vcfg.last_backup_at,
        "size": str(vcfg.size),
        "labels": dict(vcfg.labels),
        "backingImageName": vcfg.backing_image_name,
        "backingImageChecksum": vcfg.backing_image_checksum,
        "storageClassName": vcfg.storage_class_name,
        "dataStored": str(vcfg.block_count * bs.DEFAULT_BLOCK_SIZE),
        "lastModificationTime": vcfg.last_backup_at,
    }
    status = k.status_of(obj)
    if all(status.get(key) == value for key, value in wanted.items()):
        return obj

    def refresh(fresh: JSON) -> bool:
        fresh_status = fresh.setdefault("status", {}) or {}
        fresh_status.update(wanted)
        fresh_status["lastSyncedAt"] = rfc3339()
        fresh["status"] = fresh_status
        return True

    return ctx.mutate(k.BACKUP_VOLUMES, name, refresh, status=True)


class BackupController(Controller):
    name = "backup"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx.clock)
        self.ctx = ctx
        self._started: dict[str, float] = {}

    def on_event(self, event_type: str, obj: JSON) -> None:
        name = k.name_of(obj)
        if event_type == "DELETED":
            self._started.pop(name, None)
            return
        state = k.status_of(obj).get("state") or ""
        settled = state in (STATE_COMPLETED, STATE_ERROR) and not k.meta(obj).get("deletionTimestamp")
        if settled and FINALIZER in (k.meta(obj).get("finalizers") or []):
            return
        self.enqueue(name)

    def reconcile(self, key: str) -> float | None:
        ctx = self.ctx
        obj = ctx.informer(k.BACKUPS).get(key)
        if obj is None:
            return None
        metadata = k.meta(obj)
        if metadata.get("deletionTimestamp"):
            return self._delete(obj)
        if FINALIZER not in (metadata.get("finalizers") or []):
            # Longhorn keeps a finalizer on Backups so that deleting one also cleans the backupstore.
            def add(fresh: JSON) -> bool:
                finalizers = list(k.meta(fresh).get("finalizers") or [])
                if FINALIZER in finalizers or k.meta(fresh).get("deletionTimestamp"):
                    return False
                fresh["metadata"]["finalizers"] = [*finalizers, FINALIZER]
                return True

            ctx.mutate(k.BACKUPS, key, add)
            return 0.0
        status = k.status_of(obj)
        state = status.get("state") or STATE_NEW
        if state in (STATE_COMPLETED, STATE_ERROR):
            return None
        if not k.spec_of(obj).get("snapshotName"):
            return self._pull(obj)
        return self._take(obj, state)

    # ---- taking a backup ---------------------------------------------------------------------

    def _take(self, obj: JSON, state: str) -> float | None:
        ctx = self.ctx
        name = k.name_of(obj)
        labels = k.labels_of(obj)
        volume_name = labels.get(LABEL_BACKUP_VOLUME, "")
        volume = ctx.informer(k.VOLUMES).get(volume_name) if volume_name else None
        if volume is None:
            self._fail(obj, f"failed to get volume {volume_name!r} of backup {name}")
            return None
        target_name = labels.get(LABEL_BACKUP_TARGET) or volume_target_name(volume)
        if state != STATE_IN_PROGRESS:
            status = dict(k.status_of(obj))
            status.update(
                {
                    "state": STATE_IN_PROGRESS,
                    "progress": 0,
                    "ownerID": ctx.node_id,
                    "snapshotName": k.spec_of(obj).get("snapshotName"),
                    "volumeName": volume_name,
                    "backupTargetName": target_name,
                    "lastSyncedAt": rfc3339(),
                }
            )
            obj["status"] = status
            ctx.write_status(k.BACKUPS, obj)
            self._started[name] = time.monotonic()
            return ctx.clock.scaled(STEP_SECONDS)
        started = self._started.setdefault(name, time.monotonic())
        left = ctx.clock.scaled(STEP_SECONDS) - (time.monotonic() - started)
        if left > 0:
            return left
        target = ctx.backup_target(target_name)
        if target is None:
            self._fail(obj, f"failed to get backup target {target_name}")
            return None
        try:
            access = ctx.target_access(target)
            spec = k.spec_of(obj)
            mode = str(spec.get("backupMode") or "incremental")
            cfg, vcfg = write_backup_files(
                access,
                volume,
                name,
                str(spec.get("snapshotName")),
                {str(a): str(b) for a, b in (spec.get("labels") or {}).items()},
                mode,
                self._storage_class(volume),
            )
        except (TargetError, Exception) as exc:
            self._fail(obj, f"failed to back up snapshot: {describe_error(exc)}")
            return None
        status = dict(k.status_of(obj))
        status.update(self._status_from_cfg(access, cfg, vcfg, target_name))
        obj["status"] = status
        ctx.write_status(k.BACKUPS, obj)
        self._started.pop(name, None)
        ensure_backup_volume(ctx, target_name, volume_name, vcfg)

        def point(fresh: JSON) -> bool:
            vstatus = fresh.setdefault("status", {}) or {}
            vstatus["lastBackup"] = name
            vstatus["lastBackupAt"] = cfg.created_time
            fresh["status"] = vstatus
            return True

        ctx.mutate(k.VOLUMES, volume_name, point, status=True)
        ctx.event(
            k.BACKUPS,
            obj,
            "Normal",
            "Completed",
            f"Backup {name} of volume {volume_name} completed",
            COMPONENT,
        )
        return None

    def _storage_class(self, volume: JSON) -> str:
        """The StorageClass of the volume's PV, which Longhorn records in volume.cfg."""
        kube_status = k.status_of(volume).get("kubernetesStatus") or {}
        pv_name = str(kube_status.get("pvName") or "")
        if not pv_name:
            return ""
        try:
            pv = self.ctx.kube.get(k.PERSISTENT_VOLUMES, pv_name)
        except ApiException:
            return ""
        return str(k.spec_of(pv).get("storageClassName") or "") if pv else ""

    def _status_from_cfg(
        self, access: TargetAccess, cfg: bs.BackupCfg, vcfg: bs.VolumeCfg | None, target_name: str
    ) -> JSON:
        return {
            "state": STATE_COMPLETED,
            "progress": 100,
            "ownerID": self.ctx.node_id,
            "url": bs.backup_url(access.url.raw, cfg.name, cfg.volume_name),
            "snapshotName": cfg.snapshot_name,
            "snapshotCreatedAt": cfg.snapshot_created_at,
            "backupCreatedAt": cfg.created_time,
            "size": str(cfg.size),
            "labels": dict(cfg.labels),
            "volumeName": cfg.volume_name,
            "volumeSize": str(vcfg.size) if vcfg else "0",
            "volumeCreated": vcfg.created_time if vcfg else "",
            "volumeBackingImageName": vcfg.backing_image_name if vcfg else "",
            "compressionMethod": cfg.compression_method,
            "newlyUploadDataSize": str(cfg.newly_uploaded_data_size),
            "reUploadedDataSize": str(cfg.re_uploaded_data_size),
            "backupTargetName": target_name,
            "error": "",
            "messages": None,
            "lastSyncedAt": rfc3339(),
        }

    def _pull(self, obj: JSON) -> float | None:
        """A Backup the sync created from the target: fill its status from the remote cfg."""
        ctx = self.ctx
        labels = k.labels_of(obj)
        volume_name = labels.get(LABEL_BACKUP_VOLUME, "")
        target_name = labels.get(LABEL_BACKUP_TARGET, DEFAULT_BACKUP_TARGET)
        target = ctx.backup_target(target_name)
        if target is None or not volume_name:
            self._fail(
                obj, f"failed to find backup target {target_name} or volume of backup {k.name_of(obj)}"
            )
            return None
        try:
            access = ctx.target_access(target)
            cfg = access.read_backup_cfg(volume_name, k.name_of(obj))
            vcfg = access.read_volume_cfg(volume_name)
        except Exception as exc:
            self._fail(obj, f"failed to get backup config from backup target: {describe_error(exc)}")
            return None
        if cfg.in_progress:
            return ctx.clock.scaled(5.0)
        status = dict(k.status_of(obj))
        status.update(self._status_from_cfg(access, cfg, vcfg, target_name))
        obj["status"] = status
        ctx.write_status(k.BACKUPS, obj)
        return None

    def _fail(self, obj: JSON, message: str) -> None:
        status = dict(k.status_of(obj))
        status.update(
            {"state": STATE_ERROR, "error": message, "ownerID": self.ctx.node_id, "lastSyncedAt": rfc3339()}
        )
        obj["status"] = status
        self.ctx.write_status(k.BACKUPS, obj)
        self._started.pop(k.name_of(obj), None)
        self.ctx.event(k.BACKUPS, obj, "Warning", "Failed", message, COMPONENT)

    # ---- deletion ------------------------------------------------------------------------------

    def _delete(self, obj: JSON) -> float | None:
        ctx = self.ctx
        metadata = k.meta(obj)
        if FINALIZER not in (metadata.get("finalizers") or []):
            return None
        labels = k.labels_of(obj)
        volume_name = labels.get(LABEL_BACKUP_VOLUME, "")
        target_name = labels.get(LABEL_BACKUP_TARGET) or str(
            k.status_of(obj).get("backupTargetName") or DEFAULT_BACKUP_TARGET
        )
        target = ctx.backup_target(target_name)
        wanted = (
            labels.get(LABEL_DELETE_CR_ONLY) != "true"
            and volume_name
            and target is not None
            and bool(k.status_of(target).get("available"))
            and k.status_of(obj).get("state") == STATE_COMPLETED
        )
        if wanted and target is not None:
            try:
                access = ctx.target_access(target)
                vcfg = delete_backup_files(access, volume_name, k.name_of(obj))
                ensure_backup_volume(ctx, target_name, volume_name, vcfg)
                if vcfg is not None:

                    def point(fresh: JSON) -> bool:
                        vstatus = fresh.setdefault("status", {}) or {}
                        if vstatus.get("lastBackup") != k.name_of(obj):
                            return False
                        vstatus["lastBackup"] = vcfg.last_backup_name
                        vstatus["lastBackupAt"] = vcfg.last_backup_at
                        fresh["status"] = vstatus
                        return True

                    ctx.mutate(k.VOLUMES, volume_name, point, status=True)
            except Exception as exc:
                log.warning(
                    "failed to delete backup %s from the backup target: %s",
                    k.name_of(obj),
                    describe_error(exc),
                )
        ctx.remove_finalizer(k.BACKUPS, obj)
        return None
