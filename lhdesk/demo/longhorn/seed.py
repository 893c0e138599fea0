"""A believable Longhorn cluster for the demo: volumes and their claims, jobs, and a history.

Everything is created through the Kubernetes API (so the admission webhooks run on it) and, for
the backupstore, through S3. The seed has three parts:

- ``seed_static``: namespaces, StorageClasses, 12 Volumes with PVs and PVCs bound to them,
  RecurringJobs of several tasks (only the tasks the Longhorn version has). Every volume starts
  detached, as right after a restore.
- ``seed_history``: what the cluster has lived through, made by the controllers themselves: a
  system backup of another cluster written straight into the target and synced back by the
  BackupTarget controller; system backups taken manually and by the ``system-backup`` job (these go
  through every state to ``Ready``); one that fails while uploading (the simulator's fault knob); a
  SystemRestore run to ``Completed``. Then the workloads start: the volumes that are in use attach.
- ``seed_large`` (``--seed large``, for benchmarks): 10,000 ``Ready`` SystemBackups, each with its
  archive and cfg in the target, and volume backups, 100,000 backupstore objects in all. It runs
  before the controllers start, so none of them races the two-step create-then-status write.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from lhdesk.core import backupstore as bs
from lhdesk.core.versions import Capabilities
from lhdesk.demo.longhorn.admission import LONGHORN_GROUP, LONGHORN_VERSION
from lhdesk.demo.longhorn.controllers import archive
from lhdesk.demo.longhorn.controllers import kube as k
from lhdesk.demo.longhorn.controllers.kube import Kube, Resource
from lhdesk.demo.longhorn.install import DEMO_LABELS
from lhdesk.demo.s3 import S3Config
from lhdesk.demo.s3 import client as s3_client

logger = logging.getLogger(__name__)

GIB = 1024**3
NODE = "lhdesk-demo-node"
CSI_DRIVER = "driver.longhorn.io"
LABEL_RECURRING_JOB_SYSTEM_BACKUP = "recurring-job.longhorn.io/system-backup"
LABEL_VERSION = "longhorn.io/version"
DEFAULT_GROUP_LABEL = "recurring-job-group.longhorn.io/default"
SYSTEM_BACKUP_JOB = "system-backup-nightly"
_KINDS = {
    "volumes": "Volume",
    "recurringjobs": "RecurringJob",
    "systembackups": "SystemBackup",
    "systemrestores": "SystemRestore",
}
_SEED_UUID_NS = uuid.UUID("6f0c1a52-8a8e-4a5e-9d3c-2b7f5e4c1d90")


class SeedError(RuntimeError):
    """Seeding failed; the message says which step."""


@dataclass(frozen=True)
class VolumeSeed:
    """One PVC-backed Longhorn volume of the seed."""

    namespace: str
    pvc: str
    size_gib: int
    replicas: int
    storage_class: str
    attached: bool
    robustness: str = "healthy"
    access_mode: str = "rwo"
    workload: tuple[str, str] = ("StatefulSet", "")
    jobs: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """``pvc-<uuid>``, as the CSI driver names dynamically provisioned volumes (stable per claim)."""
        return f"pvc-{uuid.uuid5(_SEED_UUID_NS, f'{self.namespace}/{self.pvc}')}"

    @property
    def labels(self) -> dict[str, str]:
        """Job and group labels; a volume without any gets Longhorn's default-group label."""
        out = {f"recurring-job.longhorn.io/{job}": "enabled" for job in self.jobs}
        out.update({f"recurring-job-group.longhorn.io/{group}": "enabled" for group in self.groups})
        return out or {DEFAULT_GROUP_LABEL: "enabled"}


VOLUMES: tuple[VolumeSeed, ...] = (
    VolumeSeed("databases", "data-postgres-0", 20, 3, "longhorn", True, workload=("StatefulSet", "postgres")),
    VolumeSeed("databases", "data-postgres-1", 20, 3, "longhorn", True, workload=("StatefulSet", "postgres")),
    VolumeSeed(
        "databases",
        "redis-data-redis-master-0",
        8,
        3,
        "longhorn",
        True,
        "degraded",
        workload=("StatefulSet", "redis"),
    ),
    VolumeSeed(
        "monitoring",
        "prometheus-server",
        50,
        3,
        "longhorn",
        True,
        workload=("Deployment", "prometheus-server"),
        jobs=("snapshot-hourly",),
        groups=("critical",),
    ),
    VolumeSeed("monitoring", "grafana", 2, 2, "longhorn", True, workload=("Deployment", "grafana")),
    VolumeSeed("monitoring", "alertmanager-data", 1, 2, "longhorn", False, "unknown"),
    VolumeSeed(
        "gitlab",
        "repo-data-gitlab-gitaly-0",
        100,
        3,
        "longhorn",
        True,
        workload=("StatefulSet", "gitlab-gitaly"),
        groups=("critical", "default"),
    ),
    VolumeSeed("gitlab", "gitlab-minio", 30, 3, "longhorn", True, workload=("Deployment", "gitlab-minio")),
    VolumeSeed(
        "web",
        "wordpress-content",
        10,
        1,
        "longhorn-single-replica",
        True,
        workload=("Deployment", "wordpress"),
    ),
    VolumeSeed("web", "data-mariadb-0", 8, 3, "longhorn", False, "unknown"),
    VolumeSeed("ci", "runner-cache", 25, 2, "longhorn", False, "unknown", access_mode="rwx"),
    VolumeSeed("archive", "legacy-reports", 40, 2, "longhorn-archive", False, "unknown", groups=("archive",)),
)

STORAGE_CLASSES: tuple[tuple[str, dict[str, str], bool], ...] = (
    ("longhorn", {"numberOfReplicas": "3", "staleReplicaTimeout": "30", "dataLocality": "disabled"}, True),
    ("longhorn-single-replica", {"numberOfReplicas": "1", "staleReplicaTimeout": "30"}, False),
    (
        "longhorn-archive",
        {
            "numberOfReplicas": "2",
            "staleReplicaTimeout": "30",
            "recurringJobSelector": '[{"name":"archive","isGroup":true}]',
        },
        False,
    ),
)


def recurring_jobs(longhorn_version: str) -> list[dict[str, Any]]:
    """RecurringJob specs of the seed: several tasks, only those ``longhorn_version`` knows."""
    jobs: list[dict[str, Any]] = [
        {
            "name": "snapshot-hourly",
            "task": "snapshot",
            "cron": "0 * * * *",
            "retain": 24,
            "concurrency": 4,
            "groups": ["default"],
            "labels": {"schedule": "hourly"},
        },
        {
            "name": "backup-daily",
            "task": "backup",
            "cron": "0 2 * * *",
            "retain": 14,
            "concurrency": 2,
            "groups": ["default", "critical"],
            "parameters": {"full-backup-interval": "7"},
        },
        {
            "name": "backup-critical-6h",
            "task": "backup-force-create",
            "cron": "0 */6 * * *",
            "retain": 8,
            "concurrency": 1,
            "groups": ["critical"],
        },
        {
            "name": "snapshot-cleanup-daily",
            "task": "snapshot-cleanup",
            "cron": "15 3 * * *",
            "retain": 0,
            "concurrency": 2,
            "groups": ["default"],
        },
        {
            "name": "snapshot-delete-monthly",
            "task": "snapshot-delete",
            "cron": "0 5 1 * *",
            "retain": 5,
            "concurrency": 1,
            "groups": ["archive"],
        },
        {
            "name": "fs-trim-weekly",
            "task": "filesystem-trim",
            "cron": "0 4 * * 0",
            "retain": 0,
            "concurrency": 2,
            "groups": ["default"],
        },
    ]
    if Capabilities.for_version(longhorn_version).system_backup_job:
        jobs.append(
            {
                "name": SYSTEM_BACKUP_JOB,
                "task": "system-backup",
                "cron": "30 1 * * *",
                "retain": 7,
                "concurrency": 1,
                "parameters": {"volume-backup-policy": "if-not-present"},
            }
        )
    return jobs


def recurring_job_backup_name(job: str, seed: str) -> str:
    """A system-backup job's backup name: first 8 characters of ``<job>-c``, ``-``, a UUIDv4.

    The UUID is derived from ``seed`` so that the seeded cluster is the same on every start.
    """
    digest = hashlib.sha256(f"{job}/{seed}".encode()).digest()[:16]
    return f"{f'{job}-c'[:8]}-{uuid.UUID(bytes=digest, version=4)}"


@dataclass
class LargeSeedReport:
    """What ``seed_large`` made and how long each part took (seconds)."""

    system_backups: int = 0
    s3_objects: int = 0
    s3_seconds: float = 0.0
    api_seconds: float = 0.0
    s3_method: str = ""
    timings: dict[str, float] = field(default_factory=dict)


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Seeder:
    """Seeds one cluster; ``stop_event`` interrupts the waits of ``seed_history``."""

    def __init__(
        self,
        api_client: ApiClient,
        s3: S3Config,
        *,
        longhorn_version: str,
        namespace: str = "longhorn-system",
        stop_event: threading.Event | None = None,
        in_process_s3: bool = False,
        history_timeout: float = 300.0,
    ) -> None:
        self._api = api_client
        self._kube = Kube(api_client)
        self._s3 = s3
        self.version = longhorn_version
        self.namespace = namespace
        self._stop = stop_event or threading.Event()
        self._in_process_s3 = in_process_s3
        self._history_timeout = history_timeout
        self.now = datetime.now(UTC).replace(microsecond=0)

    # --- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _res(plural: str) -> Resource:
        return Resource(LONGHORN_GROUP, LONGHORN_VERSION, plural, _KINDS[plural])

    def _lh_create(self, plural: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._kube.create(self._res(plural), dict(body), self.namespace)

    def _lh_status(self, plural: str, name: str, status: Mapping[str, Any]) -> None:
        self._kube.merge_patch(
            self._res(plural), name, {"status": dict(status)}, self.namespace, sub="status"
        )

    def _lh_list(self, plural: str, label_selector: str = "") -> list[dict[str, Any]]:
        return self._kube.items(self._res(plural), self.namespace, label_selector=label_selector)

    @staticmethod
    def _ignore_conflict(call: Callable[[], Any]) -> None:
        try:
            call()
        except ApiException as exc:
            if exc.status != 409:
                raise

    @staticmethod
    def _parallel(work: Iterable[Callable[[], Any]], workers: int = 8) -> None:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="demo-seed") as pool:
            for future in [pool.submit(job) for job in work]:
                future.result()

    # --- static part -----------------------------------------------------------------------------

    def seed_static(self) -> None:
        """Namespaces, StorageClasses, Volumes + PVs + PVCs, RecurringJobs."""
        began = time.monotonic()
        namespaces = sorted({v.namespace for v in VOLUMES})
        self._parallel(
            [partial(self._ignore_conflict, partial(self._create_namespace, ns)) for ns in namespaces]
            + [
                partial(self._ignore_conflict, partial(self._create_storage_class, *sc))
                for sc in STORAGE_CLASSES
            ]
        )
        self._parallel([partial(self._create_volume, v) for v in VOLUMES])
        self._parallel(
            [
                partial(self._ignore_conflict, partial(self._create_job, spec))
                for spec in recurring_jobs(self.version)
            ]
        )
        logger.info("seeded volumes, claims and recurring jobs in %.2f s", time.monotonic() - began)

    def _create_namespace(self, name: str) -> None:
        self._kube.create(
            k.NAMESPACES,
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": DEMO_LABELS}},
        )

    def _create_storage_class(self, name: str, parameters: dict[str, str], default: bool) -> None:
        annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
        self._kube.create(
            k.STORAGE_CLASSES,
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {"name": name, "labels": DEMO_LABELS, "annotations": annotations},
                "provisioner": CSI_DRIVER,
                "parameters": {"fromBackup": "", "fsType": "ext4", **parameters},
                "reclaimPolicy": "Delete",
                "allowVolumeExpansion": True,
                "volumeBindingMode": "Immediate",
            },
        )

    def _create_volume(self, seed: VolumeSeed) -> None:
        created = self.now - timedelta(days=40 + (VOLUMES.index(seed) * 3))
        size = seed.size_gib * GIB
        body = {
            "apiVersion": f"{LONGHORN_GROUP}/{LONGHORN_VERSION}",
            "kind": "Volume",
            "metadata": {"name": seed.name, "labels": {**seed.labels, "longhornvolume": seed.name}},
            "spec": {
                "size": str(size),
                "numberOfReplicas": seed.replicas,
                "frontend": "blockdev",
                "dataEngine": "v1",
                "accessMode": seed.access_mode,
                "migratable": False,
                "encrypted": False,
                "dataLocality": "disabled",
                "staleReplicaTimeout": 30,
                "revisionCounterDisabled": True,
                "backupTargetName": "default",
                "backupCompressionMethod": "lz4",
                "backupBlockSize": "2097152",
                "image": f"longhornio/longhorn-engine:{self.version}",
                "nodeID": "",
                "replicaAutoBalance": "ignored",
                "replicaSoftAntiAffinity": "ignored",
                "replicaZoneSoftAntiAffinity": "ignored",
                "replicaDiskSoftAntiAffinity": "ignored",
                "snapshotDataIntegrity": "ignored",
                "unmapMarkSnapChainRemoved": "ignored",
                "restoreVolumeRecurringJob": "ignored",
                "offlineRebuilding": "ignored",
                "freezeFilesystemForSnapshot": "ignored",
                "snapshotMaxCount": 250,
                "snapshotMaxSize": "0",
            },
        }
        self._ignore_conflict(lambda: self._lh_create("volumes", body))
        self._lh_status("volumes", seed.name, self._volume_status(seed, attached=False, created=created))
        self._create_pv(seed)
        self._create_pvc(seed)

    def _volume_status(
        self, seed: VolumeSeed, *, attached: bool, created: datetime | None = None
    ) -> dict[str, Any]:
        workloads: list[dict[str, str]] = []
        if attached and seed.workload[1]:
            kind, workload = seed.workload
            pod = (
                f"{workload}-0"
                if kind == "StatefulSet"
                else f"{workload}-{hashlib.sha1(seed.pvc.encode()).hexdigest()[:10]}"
            )
            workloads = [
                {"podName": pod, "podStatus": "Running", "workloadName": workload, "workloadType": kind}
            ]
        status: dict[str, Any] = {
            "state": "attached" if attached else "detached",
            "robustness": seed.robustness if attached else "unknown",
            "currentNodeID": NODE if attached else "",
            "currentImage": f"longhornio/longhorn-engine:{self.version}",
            "ownerID": NODE,
            "frontendDisabled": False,
            "actualSize": int(seed.size_gib * GIB * 0.37),
            "isStandby": False,
            "restoreRequired": False,
            "kubernetesStatus": {
                "namespace": seed.namespace,
                "pvcName": seed.pvc,
                "pvName": seed.name,
                "pvStatus": "Bound",
                "lastPVCRefAt": "",
                "lastPodRefAt": "" if attached else _ts(self.now - timedelta(hours=2)),
                "workloadsStatus": workloads or None,
            },
            "conditions": [
                {
                    "type": "Scheduled",
                    "status": "True",
                    "reason": "",
                    "message": "",
                    "lastProbeTime": "",
                    "lastTransitionTime": _ts(created or self.now),
                },
                {
                    "type": "Restore",
                    "status": "False",
                    "reason": "",
                    "message": "",
                    "lastProbeTime": "",
                    "lastTransitionTime": _ts(created or self.now),
                },
            ],
        }
        return status

    def _create_pv(self, seed: VolumeSeed) -> None:
        access = {"rwo": "ReadWriteOnce", "rwop": "ReadWriteOncePod", "rwx": "ReadWriteMany"}[
            seed.access_mode
        ]
        body = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {
                "name": seed.name,
                "labels": DEMO_LABELS,
                "annotations": {"pv.kubernetes.io/provisioned-by": CSI_DRIVER},
            },
            "spec": {
                "capacity": {"storage": f"{seed.size_gib}Gi"},
                "accessModes": [access],
                "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": seed.storage_class,
                "volumeMode": "Filesystem",
                "claimRef": {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "namespace": seed.namespace,
                    "name": seed.pvc,
                },
                "csi": {
                    "driver": CSI_DRIVER,
                    "volumeHandle": seed.name,
                    "fsType": "ext4",
                    "volumeAttributes": {
                        "numberOfReplicas": str(seed.replicas),
                        "staleReplicaTimeout": "30",
                        "fsType": "ext4",
                        "storage.kubernetes.io/csiProvisionerIdentity": f"1700000000000-8081-{CSI_DRIVER}",
                    },
                },
            },
        }
        self._ignore_conflict(lambda: self._kube.create(k.PERSISTENT_VOLUMES, body))
        self._kube.merge_patch(k.PERSISTENT_VOLUMES, seed.name, {"status": {"phase": "Bound"}}, sub="status")

    def _create_pvc(self, seed: VolumeSeed) -> None:
        access = {"rwo": "ReadWriteOnce", "rwop": "ReadWriteOncePod", "rwx": "ReadWriteMany"}[
            seed.access_mode
        ]
        body = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {
                "name": seed.pvc,
                "namespace": seed.namespace,
                "labels": DEMO_LABELS,
                "annotations": {
                    "pv.kubernetes.io/bind-completed": "yes",
                    "pv.kubernetes.io/bound-by-controller": "yes",
                    "volume.beta.kubernetes.io/storage-provisioner": CSI_DRIVER,
                    "volume.kubernetes.io/storage-provisioner": CSI_DRIVER,
                },
            },
            "spec": {
                "accessModes": [access],
                "resources": {"requests": {"storage": f"{seed.size_gib}Gi"}},
                "storageClassName": seed.storage_class,
                "volumeMode": "Filesystem",
                "volumeName": seed.name,
            },
        }
        self._ignore_conflict(lambda: self._kube.create(k.PERSISTENT_VOLUME_CLAIMS, body, seed.namespace))
        self._kube.merge_patch(
            k.PERSISTENT_VOLUME_CLAIMS,
            seed.pvc,
            {
                "status": {
                    "phase": "Bound",
                    "accessModes": [access],
                    "capacity": {"storage": f"{seed.size_gib}Gi"},
                }
            },
            seed.namespace,
            sub="status",
        )

    def _create_job(self, spec: Mapping[str, Any]) -> None:
        body = {
            "apiVersion": f"{LONGHORN_GROUP}/{LONGHORN_VERSION}",
            "kind": "RecurringJob",
            "metadata": {"name": spec["name"]},
            "spec": dict(spec),
        }
        self._lh_create("recurringjobs", body)

    # --- history ---------------------------------------------------------------------------------

    def seed_history(self, faults: Any) -> None:
        """System backups through the controllers, a failed one, one from the target, a restore."""
        began = time.monotonic()
        migrated = self._write_migrated_backup()
        self._request_target_sync()
        manual = "demo-before-upgrade"
        weekly = "demo-weekly"
        failed = "demo-failed-upload"
        backups: list[tuple[str, str, dict[str, str]]] = [
            (manual, "always", {}),
            (weekly, "if-not-present", {}),
        ]
        if Capabilities.for_version(self.version).system_backup_job:
            label = {LABEL_RECURRING_JOB_SYSTEM_BACKUP: SYSTEM_BACKUP_JOB}
            backups += [
                (recurring_job_backup_name(SYSTEM_BACKUP_JOB, "1"), "if-not-present", label),
                (recurring_job_backup_name(SYSTEM_BACKUP_JOB, "2"), "if-not-present", label),
            ]
        faults.fail_system_backup(failed, "Uploading")
        backups.append((failed, "disabled", {}))
        # One after the other, as they happened: Longhorn waits for each volume's lastBackup to be *its*
        # backup, so system backups that back up the same volumes at the same moment can wait for ever.
        for name, policy, labels in backups:
            self._create_system_backup(name, policy, labels)
            self._wait_states("systembackups", {name: ("Error",) if name == failed else ("Ready",)})
        faults.clear_system_backup_failure(failed)
        self._wait_states("systembackups", {migrated: ("Ready",)})
        restore = f"restore-{manual}"
        self._ignore_conflict(
            lambda: self._lh_create(
                "systemrestores",
                {
                    "apiVersion": f"{LONGHORN_GROUP}/{LONGHORN_VERSION}",
                    "kind": "SystemRestore",
                    "metadata": {"name": restore},
                    "spec": {"systemBackup": manual},
                },
            )
        )
        self._wait_states("systemrestores", {restore: ("Completed",)})
        self._attach_volumes()
        logger.info("seeded the cluster's history in %.2f s", time.monotonic() - began)

    def _write_migrated_backup(self) -> str:
        """A system backup taken by an older cluster on the same target, present only there."""
        name = "migrated-from-staging"
        older = "v1.11.3" if Capabilities.for_version(self.version).system_backup_job else "v1.8.1"
        settings = [
            {
                "apiVersion": f"{LONGHORN_GROUP}/{LONGHORN_VERSION}",
                "kind": "Setting",
                "metadata": {"name": "recurring-job-max-retention", "namespace": self.namespace},
                "value": "100",
            }
        ]
        archive.write_system_backup_to_target(
            self._s3, name, older, resources={"Setting": settings}, created_at=self.now - timedelta(days=21)
        )
        return name

    def _request_target_sync(self) -> None:
        self._kube.merge_patch(
            k.BACKUP_TARGETS, "default", {"spec": {"syncRequestedAt": _ts(datetime.now(UTC))}}, self.namespace
        )

    def _create_system_backup(self, name: str, policy: str, labels: Mapping[str, str]) -> None:
        body = {
            "apiVersion": f"{LONGHORN_GROUP}/{LONGHORN_VERSION}",
            "kind": "SystemBackup",
            "metadata": {"name": name, "labels": dict(labels)},
            "spec": {"volumeBackupPolicy": policy},
        }
        self._ignore_conflict(lambda: self._lh_create("systembackups", body))

    def _wait_states(self, plural: str, wanted: Mapping[str, Sequence[str]]) -> None:
        """Wait until every named object is in one of its wanted states (or a final one: then fail)."""
        deadline = time.monotonic() + self._history_timeout
        pending = dict(wanted)
        while pending:
            if self._stop.is_set():
                raise SeedError("stopped")
            states = {
                str(item["metadata"]["name"]): str((item.get("status") or {}).get("state") or "")
                for item in self._lh_list(plural)
            }
            for name, accept in list(pending.items()):
                state = states.get(name)
                if state in accept:
                    del pending[name]
                elif state in ("Ready", "Error", "Completed"):
                    raise SeedError(f"{plural} {name} ended {state}, expected {'/'.join(accept)}")
            if not pending:
                return
            if time.monotonic() > deadline:
                raise SeedError(
                    f"{plural} not done after {self._history_timeout:.0f} s: {', '.join(sorted(pending))}"
                )
            self._stop.wait(0.2)

    def _attach_volumes(self) -> None:
        def attach(seed: VolumeSeed) -> None:
            self._lh_status("volumes", seed.name, self._volume_status(seed, attached=True))

        self._parallel([partial(attach, v) for v in VOLUMES if v.attached])

    # --- large -----------------------------------------------------------------------------------

    def seed_large(self, system_backups: int = 10_000, s3_objects: int = 100_000) -> LargeSeedReport:
        """10,000 ``Ready`` SystemBackups with their archives, and volume backups: 100,000 S3 objects."""
        report = LargeSeedReport(system_backups=system_backups)
        began = time.monotonic()
        version = self.version
        commit = archive.git_commit_for(version)
        manager = archive.manager_image_for(version)
        names = [f"bench-{i:05d}" for i in range(system_backups)]
        created = [self.now - timedelta(hours=system_backups - i) for i in range(system_backups)]
        meta = bs.SystemBackupMeta(
            longhorn_version=version,
            longhorn_git_commit=commit,
            kubernetes_version="v1.31.0",
            longhorn_namespace_uuid="",
            system_backup_created_at=None,
            manager_image=manager,
        )
        builder = _ArchiveBuilder(meta, archive.lists_from_objects(None))
        items: list[tuple[str, bytes]] = []
        for name, when in zip(names, created, strict=True):
            zipped = builder.build(name)
            cfg = bs.SystemBackupCfg(
                name=name,
                longhorn_version=version,
                longhorn_git_commit=commit,
                backup_target_url=self._s3.backup_target_url,
                manager_image=manager,
                engine_image=archive.engine_image_for(version),
                created_at=when,
                checksum=bs.sha256_hex(zipped),
            )
            items.append((bs.system_backup_zip_path(version, name), zipped))
            items.append((bs.system_backup_cfg_path(version, name), cfg.to_json()))
        items.extend(self._volume_backup_objects(max(0, s3_objects - len(items))))
        report.timings["build"] = time.monotonic() - began
        put_began = time.monotonic()
        report.s3_method = self._bulk_put(items)
        report.s3_objects = len(items)
        report.s3_seconds = time.monotonic() - put_began

        api_began = time.monotonic()
        # The controllers are not running yet, so nobody has probed the target: the SystemBackup
        # webhook would refuse every create. The bucket was just written to, so it is available.
        self._kube.merge_patch(
            k.BACKUP_TARGETS,
            "default",
            {"status": {"available": True, "lastSyncedAt": _ts(datetime.now(UTC)), "ownerID": NODE}},
            self.namespace,
            sub="status",
        )

        def one(index: int) -> None:
            if self._stop.is_set():
                return
            name = names[index]
            body = {
                "apiVersion": f"{LONGHORN_GROUP}/{LONGHORN_VERSION}",
                "kind": "SystemBackup",
                "metadata": {"name": name},
                "spec": {"volumeBackupPolicy": "disabled"},
            }
            self._ignore_conflict(lambda: self._lh_create("systembackups", body))
            when = _ts(created[index])
            self._lh_status(
                "systembackups",
                name,
                {
                    "state": "Ready",
                    "version": version,
                    "gitCommit": commit,
                    "managerImage": manager,
                    "createdAt": when,
                    "lastSyncedAt": when,
                    "ownerID": NODE,
                },
            )

        self._parallel([partial(one, i) for i in range(system_backups)], workers=8)
        # Back to "not probed yet": the BackupTarget controller's first pass then only flips it to
        # available, and the sync comes on a later pass, once its SystemBackup cache holds all of these.
        self._kube.merge_patch(
            k.BACKUP_TARGETS, "default", {"status": {"available": False}}, self.namespace, sub="status"
        )
        report.api_seconds = time.monotonic() - api_began
        report.timings["total"] = time.monotonic() - began
        logger.info(
            "large seed: %d SystemBackups through the API in %.1f s; %d S3 objects (%s) in %.1f s",
            system_backups,
            report.api_seconds,
            report.s3_objects,
            report.s3_method,
            report.s3_seconds,
        )
        return report

    def _volume_backup_objects(self, count: int) -> list[tuple[str, bytes]]:
        """``count`` backupstore objects of volume backups: volume.cfg, backup cfgs and blocks."""
        out: list[tuple[str, bytes]] = []
        if count <= 0:
            return out
        per_volume = max(1, count // len(VOLUMES))
        backups_per_volume = max(1, per_volume // 60)
        for seed in VOLUMES:
            budget = per_volume if seed is not VOLUMES[-1] else count - len(out)
            blocks_budget = budget - 1 - backups_per_volume
            block_sums: list[str] = []
            for b in range(max(0, blocks_budget)):
                data = f"{seed.name}/{b}".encode() * 4
                checksum = bs.longhorn_checksum(data)
                block_sums.append(checksum)
                out.append((bs.block_path(seed.name, checksum), data))
            last_name = ""
            last_at = ""
            per_backup = max(1, len(block_sums) // backups_per_volume)
            for b in range(backups_per_volume):
                name = f"backup-{hashlib.sha256(f'{seed.name}/{b}'.encode()).hexdigest()[:16]}"
                when = _ts(self.now - timedelta(hours=6 * (backups_per_volume - b)))
                blocks = tuple(
                    bs.BlockMapping(offset=i * bs.DEFAULT_BLOCK_SIZE, block_checksum=c)
                    for i, c in enumerate(block_sums[: per_backup * (b + 1)][-per_backup:])
                )
                cfg = bs.BackupCfg(
                    name=name,
                    volume_name=seed.name,
                    snapshot_name=f"snap-{name[7:]}",
                    snapshot_created_at=when,
                    created_time=when,
                    size=seed.size_gib * GIB,
                    labels={"longhorn.io/volume-access-mode": seed.access_mode},
                    is_incremental=b > 0,
                    blocks=blocks,
                )
                out.append((bs.backup_cfg_path(seed.name, name), cfg.to_json()))
                last_name, last_at = name, when
            vcfg = bs.VolumeCfg(
                name=seed.name,
                size=seed.size_gib * GIB,
                created_time=_ts(self.now - timedelta(days=60)),
                last_backup_name=last_name,
                last_backup_at=last_at,
                block_count=len(block_sums),
                storage_class_name=seed.storage_class,
            )
            out.append((bs.volume_cfg_path(seed.name), vcfg.to_json()))
        return out[:count]

    def _bulk_put(self, items: Sequence[tuple[str, bytes]]) -> str:
        """Put objects into the bucket; straight into moto's store when it runs in this process."""
        if self._in_process_s3:
            backend = _moto_backend()
            if backend is not None:
                for key, data in items:
                    backend.put_object(self._s3.bucket, key, data)
                return "moto in-process store"
        s3 = s3_client(self._s3)

        def put(item: tuple[str, bytes]) -> None:
            s3.put_object(Bucket=self._s3.bucket, Key=item[0], Body=item[1])

        with ThreadPoolExecutor(max_workers=16, thread_name_prefix="demo-seed-s3") as pool:
            list(pool.map(put, items))
        return "S3 PutObject"


class _ArchiveBuilder:
    """Many archives that differ only in name, fast: every YAML document is dumped once, not per
    archive (dumping is 95 % of the 6 ms a ``build_archive`` call takes; 10,000 of them would take a
    minute)."""

    def __init__(self, meta: bs.SystemBackupMeta, lists: Mapping[str, Any]) -> None:
        self._meta = archive.dump_yaml(meta.to_dict())
        self._files = {key: archive.dump_yaml(doc) for key, doc in lists.items()}
        self._stamp = datetime.now(UTC)

    def build(self, name: str) -> bytes:
        return archive.pack_archive(name, self._meta, self._files, self._stamp)


def _moto_backend() -> Any:
    """moto's S3 backend of its default account, when moto is loaded in this process."""
    try:
        from moto.core.models import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends
    except ImportError:
        return None
    return s3_backends[DEFAULT_ACCOUNT_ID]["global"]
