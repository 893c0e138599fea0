"""SystemRestore controller: downloads the archive, checks it, and restores by longhorn-manager's rules.

States: ``""`` → ``Pending`` → ``Initializing`` → ``Downloading`` → ``Unpacking`` → ``Restoring`` →
``Completed`` (or ``Error``). The label ``longhorn.io/system-restore=InProgress`` is set at
``Initializing`` and removed at the end. Restore order and rules follow LM
``controller/system_rollout_controller.go``: create what is missing; update settings (except the ignored
ones), engine images, workloads, services, config maps, RBAC and recurring jobs when they differ; never
overwrite ServiceAccounts, StorageClasses, BackupTargets, BackingImages, Volumes, PVs or PVCs (marked
skipped). Restored and skipped objects get Longhorn's annotations.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import Any

from kubernetes.client.exceptions import ApiException

from lhdesk.core import backupstore as bs

from . import archive
from . import kube as k
from .context import Context, with_condition
from .kube import JSON, Resource
from .runtime import Controller, rfc3339
from .target import describe_error

log = logging.getLogger(__name__)

COMPONENT = "longhorn-system-rollout-controller"

NONE = ""
PENDING = "Pending"
INITIALIZING = "Initializing"
DOWNLOADING = "Downloading"
UNPACKING = "Unpacking"
RESTORING = "Restoring"
COMPLETED = "Completed"
ERROR = "Error"
DELETING = "Deleting"

LABEL_SYSTEM_RESTORE = "longhorn.io/system-restore"
IN_PROGRESS = "InProgress"
REASON_RESTORE = "Restore"
REASON_UNPACK = "Unpack"
MESSAGE_FAILED = "failed to restore Longhorn system"
MESSAGE_UNPACK_FAILED = "failed to unpack system backup from file"

ANNOTATION_RESTORED = "longhorn.io/last-system-restored"
ANNOTATION_RESTORED_AT = "longhorn.io/last-system-restored-at"
ANNOTATION_SKIPPED = "longhorn.io/last-skipped-system-restored"
ANNOTATION_SKIPPED_AT = "longhorn.io/last-skipped-system-restored-at"
ANNOTATION_RESTORED_BACKUP = "longhorn.io/last-system-restored-backup"

IGNORED_SETTINGS = frozenset(
    {
        "concurrent-volume-backup-restore-per-node-limit",
        "concurrent-replica-rebuild-per-node-limit",
        "concurrent-backing-image-replenish-per-node-limit",
        "backup-target",
        "backup-target-credential-secret",
    }
)
IGNORED_CONFIG_MAPS = frozenset({"longhorn-default-setting"})

STEP_SECONDS = 1.0

# What "different" means per kind, for the kinds that are updated: the fields compared and copied.
_UPDATE_FIELDS: dict[str, tuple[str, ...]] = {
    "Setting": ("value",),
    "EngineImage": ("spec",),
    "DaemonSet": ("spec",),
    "Deployment": ("spec",),
    "RecurringJob": ("spec",),
    "Service": ("spec",),
    "ConfigMap": ("data",),
    "ClusterRole": ("rules",),
    "Role": ("rules",),
    "ClusterRoleBinding": ("roleRef", "subjects"),
    "RoleBinding": ("roleRef", "subjects"),
}
_CREATE_ONLY = frozenset(
    {
        "ServiceAccount",
        "StorageClass",
        "BackupTarget",
        "BackingImage",
        "Volume",
        "PersistentVolume",
        "PersistentVolumeClaim",
    }
)
# Restore order: CRDs, DaemonSets, EngineImages, Settings, then the rest, then Volumes, PVs, PVCs.
_ORDER: tuple[tuple[str, ...], ...] = (
    ("CustomResourceDefinition",),
    ("DaemonSet",),
    ("EngineImage",),
    ("Setting",),
    (
        "Service",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "StorageClass",
        "ConfigMap",
        "Deployment",
        "BackupTarget",
        "BackingImage",
        "RecurringJob",
    ),
    ("Volume",),
    ("PersistentVolume",),
    ("PersistentVolumeClaim",),
)
_SERVER_FIELDS = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink")


class RestoreError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class SystemRestoreController(Controller):
    name = "system-restore"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx.clock)
        self.ctx = ctx
        self._entered: dict[str, tuple[str, float]] = {}
        self._archives: dict[str, tuple[str, bytes]] = {}  # restore → (system backup name, zip)
        self._objects: dict[str, dict[str, list[JSON]]] = {}  # restore → kind → objects

    def on_event(self, event_type: str, obj: JSON) -> None:
        name = k.name_of(obj)
        if event_type == "DELETED":
            self._forget(name)
            return
        if k.status_of(obj).get("state") in (COMPLETED, ERROR) and LABEL_SYSTEM_RESTORE not in k.labels_of(
            obj
        ):
            self._forget(name)
            return
        self.enqueue(name)

    def _forget(self, name: str) -> None:
        self._entered.pop(name, None)
        self._archives.pop(name, None)
        self._objects.pop(name, None)

    def reconcile(self, key: str) -> float | None:
        obj = self.ctx.informer(k.SYSTEM_RESTORES).get(key)
        if obj is None:
            self._forget(key)
            return None
        state = str(k.status_of(obj).get("state") or NONE)
        if k.meta(obj).get("deletionTimestamp"):
            self._forget(key)
            return None
        if state in (COMPLETED, ERROR):
            if LABEL_SYSTEM_RESTORE in k.labels_of(obj):
                self._set_label(key, None)
            self._forget(key)
            return None
        entered = self._entered.get(key)
        if entered is None or entered[0] != state:
            entered = (state, time.monotonic())
            self._entered[key] = entered
        if state != NONE:
            left = self.clock.scaled(STEP_SECONDS) - (time.monotonic() - entered[1])
            if left > 0:
                return left
        try:
            return self._step(obj, state)
        except RestoreError as exc:
            self._fail(obj, exc.reason, exc.message)
            return None

    def _step(self, obj: JSON, state: str) -> float | None:
        ctx = self.ctx
        name = k.name_of(obj)
        if state == NONE:
            backup = self._system_backup(obj)
            version = str(k.status_of(backup).get("version") or "")
            try:
                target = ctx.backup_target()
                if target is None:
                    raise RuntimeError("failed to get backup target default")
                ctx.target_access(target).read_system_backup_cfg(version, k.name_of(backup))
            except Exception as exc:
                raise RestoreError(REASON_RESTORE, f"{MESSAGE_FAILED}: {describe_error(exc)}") from exc
            # Longhorn starts Job longhorn-system-rollout-<name> here; the demo rolls out in-process.
            self._transition(obj, PENDING)
        elif state == PENDING:
            backup = self._system_backup(obj)
            target = ctx.backup_target()
            target_url = str(k.spec_of(target).get("backupTargetURL") or "") if target else ""
            source = bs.system_backup_url(
                target_url, str(k.status_of(backup).get("version") or ""), k.name_of(backup)
            )
            self._set_label(name, IN_PROGRESS)
            fresh = ctx.informer(k.SYSTEM_RESTORES).get(name) or obj
            self._transition(fresh, INITIALIZING, sourceURL=source)
        elif state == INITIALIZING:
            self._transition(obj, DOWNLOADING)
        elif state == DOWNLOADING:
            backup = self._system_backup(obj)
            version = str(k.status_of(backup).get("version") or "")
            try:
                target = ctx.backup_target()
                if target is None:
                    raise RuntimeError("failed to get backup target default")
                _, data = ctx.target_access(target).download_system_backup(version, k.name_of(backup))
            except Exception as exc:
                raise RestoreError(REASON_RESTORE, f"{MESSAGE_FAILED}: {describe_error(exc)}") from exc
            self._archives[name] = (k.name_of(backup), data)
            self._transition(obj, UNPACKING)
        elif state == UNPACKING:
            stored = self._archives.get(name)
            if stored is None:
                raise RestoreError(REASON_UNPACK, f"{MESSAGE_UNPACK_FAILED}: the downloaded file is gone")
            try:
                _, lists = archive.read_archive(stored[0], stored[1])
                self._objects[name] = _by_kind(lists)
            except ValueError as exc:
                raise RestoreError(REASON_UNPACK, f"{MESSAGE_UNPACK_FAILED}: {exc}") from exc
            self._archives.pop(name, None)
            self._transition(obj, RESTORING)
        elif state == RESTORING:
            objects = self._objects.get(name)
            if objects is None:
                raise RestoreError(REASON_RESTORE, f"{MESSAGE_FAILED}: the unpacked files are gone")
            source = str(k.status_of(obj).get("sourceURL") or "")
            errors = self._restore_all(obj, objects, source)
            if errors:
                raise RestoreError(REASON_RESTORE, f"{MESSAGE_FAILED}: {'; '.join(errors)}")
            self._objects.pop(name, None)
            self._transition(obj, COMPLETED)
            self._set_label(name, None)
            ctx.event(k.SYSTEM_RESTORES, obj, "Normal", "Completed", "Restored Longhorn system", COMPONENT)
        else:
            log.warning("system restore %s is in unknown state %r", name, state)
            return None
        return self.clock.scaled(STEP_SECONDS)

    # ---- helpers -------------------------------------------------------------------------------

    def _system_backup(self, obj: JSON) -> JSON:
        wanted = str(k.spec_of(obj).get("systemBackup") or "")
        backup = self.ctx.informer(k.SYSTEM_BACKUPS).get(wanted) if wanted else None
        if backup is None:
            raise RestoreError(REASON_RESTORE, f"{MESSAGE_FAILED}: failed to get SystemBackup {wanted!r}")
        return backup

    def _transition(self, obj: JSON, state: str, **fields: Any) -> None:
        status = dict(k.status_of(obj))
        status.update(fields)
        status["state"] = state
        status["ownerID"] = self.ctx.node_id
        obj["status"] = status
        self.ctx.write_status(k.SYSTEM_RESTORES, obj)
        self._entered[k.name_of(obj)] = (state, time.monotonic())

    def _fail(self, obj: JSON, reason: str, message: str) -> None:
        status = dict(k.status_of(obj))
        with_condition(status, "Error", "True", reason, message)
        obj["status"] = status
        self._transition(obj, ERROR)
        self._set_label(k.name_of(obj), None)
        self._forget(k.name_of(obj))
        self.ctx.event(k.SYSTEM_RESTORES, obj, "Warning", "Failed", message, COMPONENT)
        log.info("system restore %s failed (%s): %s", k.name_of(obj), reason, message)

    def _set_label(self, name: str, value: str | None) -> None:
        def change(fresh: JSON) -> bool:
            labels = dict(fresh["metadata"].get("labels") or {})
            if value is None:
                if LABEL_SYSTEM_RESTORE not in labels:
                    return False
                del labels[LABEL_SYSTEM_RESTORE]
            else:
                if labels.get(LABEL_SYSTEM_RESTORE) == value:
                    return False
                labels[LABEL_SYSTEM_RESTORE] = value
            fresh["metadata"]["labels"] = labels
            return True

        self.ctx.mutate(k.SYSTEM_RESTORES, name, change)

    # ---- restoring -----------------------------------------------------------------------------

    def _restore_all(self, restore: JSON, objects: dict[str, list[JSON]], source: str) -> list[str]:
        errors: list[str] = []
        failed_volumes: set[str] = set()
        skipped_pvs: set[str] = set()
        for kinds in _ORDER:
            for kind in kinds:
                for item in objects.get(kind, []):
                    name = k.name_of(item)
                    # The PV and PVC of a Volume that could not be created are skipped, with a warning.
                    volume = _pv_volume(item) if kind == "PersistentVolume" else ""
                    claimed = (
                        str(k.spec_of(item).get("volumeName") or "")
                        if kind == "PersistentVolumeClaim"
                        else ""
                    )
                    if volume in failed_volumes or claimed in skipped_pvs:
                        if kind == "PersistentVolume":
                            skipped_pvs.add(name)
                        message = f"Skipped restoring {kind} {name}: its Longhorn volume was not restored"
                        self.ctx.event(
                            k.SYSTEM_RESTORES, restore, "Warning", f"Skipped{kind}", message, COMPONENT
                        )
                        continue
                    try:
                        self._restore_one(restore, kind, item, source)
                    except Exception as exc:
                        errors.append(f"failed to restore {kind} {name}: {_short(exc)}")
                        if kind == "Volume":
                            failed_volumes.add(name)
        return errors

    def _restore_one(self, restore: JSON, kind: str, item: JSON, source: str) -> None:
        ctx = self.ctx
        res = k.resource_for_kind(kind)
        if res is None:
            raise RuntimeError(f"unknown kind {kind}")
        name = k.name_of(item)
        if kind == "Setting" and name in IGNORED_SETTINGS:
            return
        if kind == "ConfigMap" and name in IGNORED_CONFIG_MAPS:
            return
        namespace = str(k.meta(item).get("namespace") or ctx.namespace) if res.namespaced else None
        live = ctx.kube.get(res, name, namespace)
        now = rfc3339()
        if live is None:
            body = _clean(item, res)
            annotations = body["metadata"].setdefault("annotations", {}) or {}
            annotations[ANNOTATION_RESTORED] = source
            annotations[ANNOTATION_RESTORED_AT] = now
            if kind == "Volume":
                self._prepare_volume(body, item, annotations)
            elif kind == "PersistentVolume":
                k.spec_of(body).pop("claimRef", None)
            elif kind == "PersistentVolumeClaim":
                pv_name = str(k.spec_of(body).get("volumeName") or "")
                if pv_name and ctx.kube.get(k.PERSISTENT_VOLUMES, pv_name) is None:
                    raise RuntimeError(f"PersistentVolume {pv_name} does not exist")
            body["metadata"]["annotations"] = annotations
            ctx.kube.create(res, body, namespace)
            ctx.event(
                k.SYSTEM_RESTORES, restore, "Normal", f"Restored{kind}", f"Restored {kind} {name}", COMPONENT
            )
            return
        if kind in _CREATE_ONLY:
            self._annotate(res, live, namespace, ANNOTATION_SKIPPED, ANNOTATION_SKIPPED_AT, source, now)
            return
        if kind == "CustomResourceDefinition":
            changed = _merge_crd_versions(live, item)
        else:
            changed = False
            for field in _UPDATE_FIELDS.get(kind, ()):
                if field in item and live.get(field) != item.get(field):
                    live[field] = copy.deepcopy(item[field])
                    changed = True
        if not changed:
            return
        annotations = live["metadata"].setdefault("annotations", {}) or {}
        annotations[ANNOTATION_RESTORED] = source
        annotations[ANNOTATION_RESTORED_AT] = now
        live["metadata"]["annotations"] = annotations
        ctx.kube.replace(res, live, namespace)
        ctx.event(
            k.SYSTEM_RESTORES, restore, "Normal", f"Restored{kind}", f"Restored {kind} {name}", COMPONENT
        )

    def _prepare_volume(self, body: JSON, item: JSON, annotations: dict[str, str]) -> None:
        spec = body.setdefault("spec", {})
        spec["nodeID"] = ""
        backed_up_status = k.status_of(item)
        last_backup = str(backed_up_status.get("lastBackup") or "")
        if last_backup and not backed_up_status.get("isStandby"):
            target = self.ctx.backup_target()
            target_url = str(k.spec_of(target).get("backupTargetURL") or "") if target else ""
            url = bs.backup_url(target_url, last_backup, k.name_of(item))
            spec["fromBackup"] = url
            annotations[ANNOTATION_RESTORED_BACKUP] = url

    def _annotate(
        self, res: Resource, live: JSON, namespace: str | None, key: str, key_at: str, source: str, now: str
    ) -> None:
        patch = {"metadata": {"annotations": {key: source, key_at: now}}}
        try:
            self.ctx.kube.merge_patch(res, k.name_of(live), patch, namespace)
        except ApiException as exc:
            log.warning("could not mark %s %s as skipped: %s", res.kind, k.name_of(live), exc.reason)


def _by_kind(lists: dict[str, JSON]) -> dict[str, list[JSON]]:
    """Objects by kind, decoded from each List's kind (file names are not trusted: two are swapped)."""
    found: dict[str, list[JSON]] = {}
    for doc in lists.values():
        list_kind = str(doc.get("kind") or "")
        if not list_kind.endswith("List"):
            raise ValueError(f"{list_kind or 'a document'} is not a List")
        kind = list_kind[: -len("List")]
        for item in doc.get("items") or []:
            if isinstance(item, dict):
                found.setdefault(str(item.get("kind") or kind), []).append(item)
    return found


def _pv_volume(pv: JSON) -> str:
    """The Longhorn volume behind a PV (its CSI volume handle)."""
    csi = k.spec_of(pv).get("csi") or {}
    return str(csi.get("volumeHandle") or "") if isinstance(csi, dict) else ""


def _clean(item: JSON, res: Resource) -> JSON:
    body = copy.deepcopy(item)
    body["apiVersion"] = res.api_version
    body["kind"] = res.kind
    metadata = body.setdefault("metadata", {})
    for field in _SERVER_FIELDS:
        metadata.pop(field, None)
    metadata.pop("ownerReferences", None)
    metadata.pop("deletionTimestamp", None)
    metadata.pop("deletionGracePeriodSeconds", None)
    body.pop("status", None)
    return body


def _merge_crd_versions(live: JSON, backed_up: JSON) -> bool:
    """Add versions the live CRD lacks and update differing ones; never remove a live version."""
    live_versions = k.spec_of(live).get("versions") or []
    by_name = {v.get("name"): i for i, v in enumerate(live_versions)}
    changed = False
    for version in k.spec_of(backed_up).get("versions") or []:
        index = by_name.get(version.get("name"))
        if index is None:
            live_versions.append(copy.deepcopy(version))
            changed = True
        elif live_versions[index] != version:
            live_versions[index] = copy.deepcopy(version)
            changed = True
    if changed:
        live["spec"]["versions"] = live_versions
    return changed


def _short(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        return f"{exc.status} {exc.reason}"
    return str(exc) or type(exc).__name__
