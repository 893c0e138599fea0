"""system-backup.zip: collecting the cluster's resources as Longhorn does, writing and reading the archive."""

from __future__ import annotations

import copy
import io
import logging
import zipfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import yaml
from kubernetes.client.exceptions import ApiException

from lhdesk.core import backupstore as bs
from lhdesk.demo.s3 import S3Config, client

from . import kube as k
from .kube import JSON, Kube, Resource

log = logging.getLogger(__name__)

LONGHORN_CSI_DRIVER = "driver.longhorn.io"

# (group, file stem) → the resource whose List the file holds. The two RBAC files are swapped on
# purpose: longhorn-manager writes the ClusterRoleBinding list to clusterroles.yaml and the ClusterRole
# list to clusterrolebindings.yaml.
ARCHIVE_LAYOUT: tuple[tuple[str, str, Resource], ...] = (
    ("apiextensions", "customresourcedefinitions", k.CRDS),
    ("kubernetes", "serviceaccounts", k.SERVICE_ACCOUNTS),
    ("kubernetes", "clusterroles", k.CLUSTER_ROLE_BINDINGS),
    ("kubernetes", "clusterrolebindings", k.CLUSTER_ROLES),
    ("kubernetes", "roles", k.ROLES),
    ("kubernetes", "rolebindings", k.ROLE_BINDINGS),
    ("kubernetes", "daemonsets", k.DAEMON_SETS),
    ("kubernetes", "deployments", k.DEPLOYMENTS),
    ("kubernetes", "configmaps", k.CONFIG_MAPS),
    ("kubernetes", "services", k.SERVICES),
    ("kubernetes", "storageclasses", k.STORAGE_CLASSES),
    ("kubernetes", "persistentvolumes", k.PERSISTENT_VOLUMES),
    ("kubernetes", "persistentvolumeclaims", k.PERSISTENT_VOLUME_CLAIMS),
    ("longhorn", "setting", k.SETTINGS),
    ("longhorn", "engineimages", k.ENGINE_IMAGES),
    ("longhorn", "volumes", k.VOLUMES),
    ("longhorn", "recurringjobs", k.RECURRING_JOBS),
    ("longhorn", "backingimages", k.BACKING_IMAGES),
    ("longhorn", "backuptargets", k.BACKUP_TARGETS),
)


def make_list(res: Resource, items: Sequence[JSON], resource_version: str = "") -> JSON:
    """A ``<Kind>List`` object as the YAML printer writes it."""
    return {
        "apiVersion": res.api_version,
        "kind": res.list_kind,
        "metadata": {"resourceVersion": resource_version},
        "items": [copy.deepcopy(item) for item in items],
    }


def _list_or_empty(kube: Kube, res: Resource, namespace: str | None) -> tuple[list[JSON], str]:
    try:
        listing = kube.list_object(res, namespace)
    except ApiException as exc:
        if exc.status == 404:
            # The server does not serve this resource: nothing of it exists to back up.
            return [], ""
        raise
    return list(listing["items"]), str(k.meta(listing).get("resourceVersion") or "")


def collect_resources(kube: Kube, namespace: str) -> dict[str, JSON]:
    """``"<group>/<stem>"`` → List object, with longhorn-manager's filters (LM datastore/uncached.go)."""
    lists: dict[str, JSON] = {}

    def put(group: str, stem: str, res: Resource, items: Sequence[JSON], rv: str) -> None:
        lists[f"{group}/{stem}"] = make_list(res, items, rv)

    crds, rv = _list_or_empty(kube, k.CRDS, None)
    put(
        "apiextensions",
        "customresourcedefinitions",
        k.CRDS,
        [c for c in crds if _crd_group(c) == "longhorn.io"],
        rv,
    )

    accounts, rv = _list_or_empty(kube, k.SERVICE_ACCOUNTS, namespace)
    put("kubernetes", "serviceaccounts", k.SERVICE_ACCOUNTS, accounts, rv)
    account_keys = {(k.name_of(a), str(k.meta(a).get("namespace") or namespace)) for a in accounts}
    bindings, rv_b = _list_or_empty(kube, k.CLUSTER_ROLE_BINDINGS, None)
    chosen = [b for b in bindings if _binds_service_account(b, account_keys)]
    role_names = {str((b.get("roleRef") or {}).get("name") or "") for b in chosen}
    roles, rv_r = _list_or_empty(kube, k.CLUSTER_ROLES, None)
    put("kubernetes", "clusterroles", k.CLUSTER_ROLE_BINDINGS, chosen, rv_b)
    put(
        "kubernetes",
        "clusterrolebindings",
        k.CLUSTER_ROLES,
        [r for r in roles if k.name_of(r) in role_names],
        rv_r,
    )

    for stem, res in (
        ("roles", k.ROLES),
        ("rolebindings", k.ROLE_BINDINGS),
        ("daemonsets", k.DAEMON_SETS),
        ("deployments", k.DEPLOYMENTS),
        ("configmaps", k.CONFIG_MAPS),
    ):
        items, rv = _list_or_empty(kube, res, namespace)
        put("kubernetes", stem, res, items, rv)

    services, rv = _list_or_empty(kube, k.SERVICES, namespace)
    for service in services:
        spec = service.get("spec")
        if isinstance(spec, dict):
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
    put("kubernetes", "services", k.SERVICES, services, rv)

    classes, rv = _list_or_empty(kube, k.STORAGE_CLASSES, None)
    put(
        "kubernetes",
        "storageclasses",
        k.STORAGE_CLASSES,
        [c for c in classes if c.get("provisioner") == LONGHORN_CSI_DRIVER],
        rv,
    )
    volumes, rv = _list_or_empty(kube, k.PERSISTENT_VOLUMES, None)
    longhorn_pvs = [
        pv for pv in volumes if ((k.spec_of(pv).get("csi") or {}).get("driver")) == LONGHORN_CSI_DRIVER
    ]
    put("kubernetes", "persistentvolumes", k.PERSISTENT_VOLUMES, longhorn_pvs, rv)
    class_names = {str(k.spec_of(pv).get("storageClassName") or "") for pv in longhorn_pvs} - {""}
    claims, rv = _list_or_empty(kube, k.PERSISTENT_VOLUME_CLAIMS, None)
    put(
        "kubernetes",
        "persistentvolumeclaims",
        k.PERSISTENT_VOLUME_CLAIMS,
        [c for c in claims if k.spec_of(c).get("storageClassName") in class_names],
        rv,
    )

    for stem, res in (
        ("setting", k.SETTINGS),
        ("engineimages", k.ENGINE_IMAGES),
        ("volumes", k.VOLUMES),
        ("recurringjobs", k.RECURRING_JOBS),
        ("backingimages", k.BACKING_IMAGES),
        ("backuptargets", k.BACKUP_TARGETS),
    ):
        items, rv = _list_or_empty(kube, res, namespace)
        put("longhorn", stem, res, items, rv)
    return lists


def _crd_group(crd: Mapping[str, Any]) -> str:
    return str(k.spec_of(crd).get("group") or "")


def _binds_service_account(binding: Mapping[str, Any], accounts: set[tuple[str, str]]) -> bool:
    for subject in binding.get("subjects") or []:
        if (
            subject.get("kind") == "ServiceAccount"
            and (subject.get("name"), subject.get("namespace")) in accounts
        ):
            return True
    return False


def lists_from_objects(resources: Mapping[str, Sequence[JSON]] | None) -> dict[str, JSON]:
    """Archive lists from objects keyed by kind (``{"Volume": [...], "Setting": [...]}``); the rest empty."""
    given = dict(resources or {})
    lists: dict[str, JSON] = {}
    for group, stem, res in ARCHIVE_LAYOUT:
        items = given.pop(res.kind, [])
        lists[f"{group}/{stem}"] = make_list(res, items)
    if given:
        raise ValueError(f"kinds a system backup does not hold: {', '.join(sorted(given))}")
    return lists


def dump_yaml(obj: Any) -> bytes:
    return yaml.safe_dump(obj, default_flow_style=False, sort_keys=True, allow_unicode=True).encode()


def build_archive(name: str, meta: bs.SystemBackupMeta, lists: Mapping[str, JSON]) -> bytes:
    """The zip ``zip -r <name>.zip <name>`` makes: folder entries, metadata.yaml, one List per file."""
    files = {key: dump_yaml(doc) for key, doc in lists.items()}
    return pack_archive(name, dump_yaml(meta.to_dict()), files, datetime.now(UTC))


def pack_archive(name: str, metadata: bytes, files: Mapping[str, bytes], stamp: datetime) -> bytes:
    """``build_archive`` from YAML already dumped (``files``: ``"<group>/<stem>"`` → bytes), so that
    many archives differing only in name cost one dump (the demo's seed)."""
    date_time = (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:

        def add(path: str, data: bytes | None) -> None:
            info = zipfile.ZipInfo(path, date_time=date_time)
            if data is None:
                info.external_attr = (0o40755 << 16) | 0x10
                archive.writestr(info, b"")
            else:
                info.external_attr = 0o100644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data)

        add(bs.archive_root(name), None)
        add(bs.archive_metadata_path(name), metadata)
        add(f"{name}/{bs.ARCHIVE_YAMLS_DIR}/", None)
        for group in bs.ARCHIVE_GROUPS:
            add(f"{name}/{bs.ARCHIVE_YAMLS_DIR}/{group}/", None)
            for stem in bs.ARCHIVE_FILES[group]:
                data = files.get(f"{group}/{stem}")
                if data is not None:
                    add(bs.archive_yaml_path(name, group, stem), data)
    return buffer.getvalue()


def read_archive(name: str, data: bytes) -> tuple[bs.SystemBackupMeta, dict[str, JSON]]:
    """metadata and ``"<group>/<stem>"`` → List object; ValueError when the archive is not one."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            meta_doc = yaml.safe_load(archive.read(bs.archive_metadata_path(name))) or {}
            lists: dict[str, JSON] = {}
            prefix = f"{name}/{bs.ARCHIVE_YAMLS_DIR}/"
            for entry in archive.namelist():
                if not entry.startswith(prefix) or not entry.endswith(".yaml"):
                    continue
                doc = yaml.safe_load(archive.read(entry))
                if not isinstance(doc, dict):
                    raise ValueError(f"{entry} is not a Kubernetes List")
                lists[entry[len(prefix) : -len(".yaml")]] = doc
    except (zipfile.BadZipFile, KeyError, yaml.YAMLError) as exc:
        raise ValueError(f"not a system backup archive of {name}: {exc}") from exc
    if not isinstance(meta_doc, dict):
        raise ValueError("metadata.yaml is not a mapping")
    return bs.SystemBackupMeta.from_dict(meta_doc), lists


def manager_image_for(version: str) -> str:
    return f"longhornio/longhorn-manager:{version}"


def engine_image_for(version: str) -> str:
    return f"longhornio/longhorn-engine:{version}"


def git_commit_for(version: str) -> str:
    """An illustrative, stable 40-hex commit per version (the demo has no build)."""
    return bs.sha256_hex(f"lhdesk-demo longhorn-manager {version}".encode())[:40]


def write_system_backup_to_target(
    s3cfg: S3Config,
    name: str,
    version: str,
    *,
    resources: Mapping[str, Sequence[JSON]] | None = None,
    created_at: datetime | None = None,
    manager_image: str | None = None,
    git_commit: str | None = None,
    engine_image: str | None = None,
    namespace_uid: str = "",
    kubernetes_version: str = "v1.31.0",
    target_url: str | None = None,
) -> bs.SystemBackupCfg:
    """Put a system backup straight into the target (zip, then cfg), as another cluster would have.

    ``resources`` maps a kind (``"Volume"``, ``"Setting"``, ``"StorageClass"`` …) to the objects the
    archive holds; every other file is an empty List. The objects go under the bucket root's
    ``backupstore/system-backups/<version>/<name>/``.
    """
    created = created_at or datetime.now(UTC)
    manager = manager_image or manager_image_for(version)
    commit = git_commit if git_commit is not None else git_commit_for(version)
    meta = bs.SystemBackupMeta(
        longhorn_version=version,
        longhorn_git_commit=commit,
        kubernetes_version=kubernetes_version,
        longhorn_namespace_uuid=namespace_uid,
        system_backup_created_at=None,
        manager_image=manager,
    )
    archive = build_archive(name, meta, lists_from_objects(resources))
    cfg = bs.SystemBackupCfg(
        name=name,
        longhorn_version=version,
        longhorn_git_commit=commit,
        backup_target_url=target_url or s3cfg.backup_target_url,
        manager_image=manager,
        engine_image=engine_image or engine_image_for(version),
        created_at=created,
        checksum=bs.sha256_hex(archive),
    )
    s3 = client(s3cfg)
    s3.put_object(Bucket=s3cfg.bucket, Key=bs.system_backup_zip_path(version, name), Body=archive)
    s3.put_object(Bucket=s3cfg.bucket, Key=bs.system_backup_cfg_path(version, name), Body=cfg.to_json())
    log.info("wrote system backup %s (%s) to %s", name, version, s3cfg.bucket)
    return cfg
