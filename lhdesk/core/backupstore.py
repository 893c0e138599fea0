"""Longhorn's backupstore layout and file formats, as longhorn/backupstore writes them.

Pure: paths, names and (de)serialisation only. The S3 browser, the demo simulator and tests share it.
Every path returned here is relative to the backup target's root; ``BackupTargetURL.key()`` puts the
target's own path (``s3://bucket@region/<path>/``) in front of it.

Formats (Longhorn v1.12.1, longhorn/backupstore):
- system backups: ``backupstore/system-backups/<version>/<name>/{system-backup.zip,system-backup.cfg}``;
  the cfg is JSON with Go field names as keys and ``Checksum`` = SHA-256 hex of the zip.
- volume backups: ``backupstore/volumes/<xx>/<yy>/<volume>/`` where xx/yy are characters [0:2] and [2:4]
  of the SHA-512 hex of the volume name (truncated to 64 characters), holding ``volume.cfg``,
  ``backups/backup_<backup>.cfg``, ``blocks/<c0c1>/<c2c3>/<checksum>.blk`` and ``locks/<lock>.lck``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

BACKUPSTORE_BASE = "backupstore"
SYSTEM_BACKUPS_DIR = "system-backups"
VOLUMES_DIR = "volumes"
SYSTEM_BACKUP_ZIP = "system-backup.zip"
SYSTEM_BACKUP_CFG = "system-backup.cfg"
VOLUME_CFG = "volume.cfg"
BACKUPS_DIR = "backups"
BLOCKS_DIR = "blocks"
LOCKS_DIR = "locks"
BACKUP_FILES_DIR = "BackupFiles"
BACKUP_CFG_PREFIX = "backup_"
CFG_SUFFIX = ".cfg"
BLOCK_SUFFIX = ".blk"
LOCK_SUFFIX = ".lck"
DEFAULT_BLOCK_SIZE = 2 * 1024 * 1024
# util.GetChecksum keeps this many hex characters of the SHA-512 digest.
PRESERVED_CHECKSUM_LENGTH = 64

# Inside system-backup.zip: <name>/metadata.yaml and <name>/yamls/<group>/<file>.yaml.
ARCHIVE_METADATA_FILE = "metadata.yaml"
ARCHIVE_YAMLS_DIR = "yamls"
ARCHIVE_GROUPS = ("apiextensions", "kubernetes", "longhorn")

SCHEMES_REQUIRING_CREDENTIAL = ("s3", "cifs", "azblob")


class BackupstoreError(ValueError):
    """A path, URL or file does not follow Longhorn's backupstore format."""


class BackupTargetURLError(BackupstoreError):
    """A backup-target URL Longhorn would not accept."""


# --------------------------------------------------------------------------------------------------
# Backup-target URLs


@dataclass(frozen=True)
class BackupTargetURL:
    """A parsed backup-target URL (``s3://bucket@region/path/``, ``nfs://host:/export`` …).

    For ``s3`` and ``azblob`` ``bucket`` is the bucket/container and ``region`` the part after ``@``
    (empty for ``s3://bucket/path``). For ``nfs``/``cifs`` ``bucket`` holds the host. ``path`` is the
    target's folder without leading or trailing slashes ("" at the bucket root).
    """

    scheme: str
    bucket: str
    region: str
    path: str
    raw: str

    @property
    def prefix(self) -> str:
        """The object-key prefix of the target root: "" or ``"<path>/"``."""
        return f"{self.path}/" if self.path else ""

    def key(self, relative: str) -> str:
        """The full object key of a path relative to the target root."""
        return self.prefix + relative.lstrip("/")

    @property
    def needs_credential(self) -> bool:
        return self.scheme in SCHEMES_REQUIRING_CREDENTIAL


_S3_FORMS = "Must be either s3://bucket@region/path/, or s3://bucket/path"


def parse_backup_target_url(url: str) -> BackupTargetURL:
    """Parse a backup-target URL; raises BackupTargetURLError for an unusable one.

    The empty URL means "no target" and is an error here: callers check for it first.
    """
    text = url.strip()
    if not text:
        raise BackupTargetURLError("backup target URL is empty")
    scheme, sep, rest = text.partition("://")
    if not sep or not scheme:
        raise BackupTargetURLError(f"invalid backup target URL {url!r}: no scheme")
    scheme = scheme.lower()
    if scheme in ("s3", "azblob"):
        authority, _, path = rest.partition("/")
        bucket, at, region = authority.partition("@")
        if not bucket or (at and not region):
            detail = _S3_FORMS if scheme == "s3" else "Must be azblob://container@endpoint/path/"
            raise BackupTargetURLError(f"invalid URL {url!r}. {detail}")
        path = path.split("?", 1)[0]
        return BackupTargetURL(scheme, bucket, region, path.strip("/"), text)
    if scheme == "nfs":
        host, colon, path = rest.partition(":")
        if not host or not colon:
            raise BackupTargetURLError(f"invalid NFS URL {url!r}, expected nfs://<host>:/<export path>")
        return BackupTargetURL(scheme, host, "", path.split("?", 1)[0].strip("/"), text)
    if scheme == "cifs":
        host, _, path = rest.partition("/")
        if not host:
            raise BackupTargetURLError(f"invalid CIFS URL {url!r}, expected cifs://<host>/<share>")
        return BackupTargetURL(scheme, host, "", path.split("?", 1)[0].strip("/"), text)
    raise BackupTargetURLError(f"unsupported backup target type {scheme!r}")


def _join_url(target_url: str, relative: str) -> str:
    return target_url.rstrip("/") + "/" + relative.strip("/")


# --------------------------------------------------------------------------------------------------
# Checksums


def sha256_hex(data: bytes) -> str:
    """SHA-256 hex digest, as system-backup.cfg's ``Checksum`` holds it."""
    return hashlib.sha256(data).hexdigest()


def longhorn_checksum(data: bytes | str) -> str:
    """``util.GetChecksum``: SHA-512 hex truncated to 64 characters (volume folders, block names)."""
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha512(raw).hexdigest()[:PRESERVED_CHECKSUM_LENGTH]


# --------------------------------------------------------------------------------------------------
# System backups


def system_backups_root() -> str:
    return f"{BACKUPSTORE_BASE}/{SYSTEM_BACKUPS_DIR}/"


def system_backup_version_dir(version: str) -> str:
    _check_segment(version, "version")
    return f"{system_backups_root()}{version}/"


def system_backup_dir(version: str, name: str) -> str:
    """``backupstore/system-backups/<version>/<name>/``."""
    _check_segment(name, "name")
    return f"{system_backup_version_dir(version)}{name}/"


def system_backup_zip_path(version: str, name: str) -> str:
    return system_backup_dir(version, name) + SYSTEM_BACKUP_ZIP


def system_backup_cfg_path(version: str, name: str) -> str:
    return system_backup_dir(version, name) + SYSTEM_BACKUP_CFG


def system_backup_url(target_url: str, version: str, name: str) -> str:
    """``GetSystemBackupURL``: ``<target>/backupstore/system-backups/<version>/<name>``.

    This is also what a SystemRestore's ``status.sourceURL`` holds.
    """
    return _join_url(target_url, system_backup_dir(version, name))


def parse_system_backup_path(relative: str) -> tuple[str, str] | None:
    """(version, name) of a path at or below ``backupstore/system-backups/<version>/<name>``, else None."""
    root = system_backups_root()
    if not relative.startswith(root):
        return None
    parts = relative[len(root) :].split("/")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


@dataclass(frozen=True)
class SystemBackupCfg:
    """``system-backup.cfg`` (Go struct ``Config``, no json tags: the keys are the field names)."""

    name: str
    longhorn_version: str
    longhorn_git_commit: str
    backup_target_url: str
    manager_image: str
    engine_image: str
    created_at: datetime
    checksum: str

    def to_dict(self) -> dict[str, str]:
        return {
            "Name": self.name,
            "LonghornVersion": self.longhorn_version,
            "LonghornGitCommit": self.longhorn_git_commit,
            "BackupTargetURL": self.backup_target_url,
            "ManagerImage": self.manager_image,
            "EngineImage": self.engine_image,
            "CreatedAt": format_time(self.created_at),
            "Checksum": self.checksum,
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict()).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> SystemBackupCfg:
        obj = _load_json_object(data, SYSTEM_BACKUP_CFG)
        try:
            return cls(
                name=_str(obj, "Name"),
                longhorn_version=_str(obj, "LonghornVersion"),
                longhorn_git_commit=_str(obj, "LonghornGitCommit"),
                backup_target_url=_str(obj, "BackupTargetURL"),
                manager_image=_str(obj, "ManagerImage"),
                engine_image=_str(obj, "EngineImage"),
                created_at=parse_time(_str(obj, "CreatedAt")),
                checksum=_str(obj, "Checksum"),
            )
        except ValueError as exc:
            raise BackupstoreError(f"invalid {SYSTEM_BACKUP_CFG}: {exc}") from exc

    def verify(self, archive: bytes) -> bool:
        """True when the archive's SHA-256 is the recorded Checksum."""
        return sha256_hex(archive) == self.checksum.lower()


def archive_root(name: str) -> str:
    """The zip's single top folder: ``<name>/`` (``zip -r <name>.zip <name>`` run in /tmp)."""
    return f"{name}/"


def archive_metadata_path(name: str) -> str:
    return f"{name}/{ARCHIVE_METADATA_FILE}"


def archive_yaml_path(name: str, group: str, stem: str) -> str:
    """``<name>/yamls/<group>/<stem>.yaml`` (group: apiextensions, kubernetes or longhorn)."""
    if group not in ARCHIVE_GROUPS:
        raise BackupstoreError(f"unknown archive group {group!r}")
    return f"{name}/{ARCHIVE_YAMLS_DIR}/{group}/{stem}.yaml"


# The files GenerateSystemBackup writes, by group. Quirk kept from longhorn-manager: the
# ClusterRoleBinding list goes to clusterroles.yaml and the ClusterRole list to clusterrolebindings.yaml;
# readers must decode by kind.
ARCHIVE_FILES: Mapping[str, tuple[str, ...]] = {
    "apiextensions": ("customresourcedefinitions",),
    "kubernetes": (
        "serviceaccounts",
        "clusterroles",
        "clusterrolebindings",
        "roles",
        "rolebindings",
        "daemonsets",
        "deployments",
        "configmaps",
        "services",
        "storageclasses",
        "persistentvolumes",
        "persistentvolumeclaims",
    ),
    "longhorn": ("setting", "engineimages", "volumes", "recurringjobs", "backingimages", "backuptargets"),
}


@dataclass(frozen=True)
class SystemBackupMeta:
    """``<name>/metadata.yaml`` in the archive (keys exact, typo ``longhornNamspaceUUID`` included)."""

    longhorn_version: str
    longhorn_git_commit: str
    kubernetes_version: str
    longhorn_namespace_uuid: str
    system_backup_created_at: datetime | None
    manager_image: str

    def to_dict(self) -> dict[str, str | None]:
        created = self.system_backup_created_at
        return {
            "longhornVersion": self.longhorn_version,
            "longhornGitCommit": self.longhorn_git_commit,
            "kubernetesVersion": self.kubernetes_version,
            "longhornNamspaceUUID": self.longhorn_namespace_uuid,
            "systemBackupCreatedAt": format_time(created) if created is not None else None,
            "managerImage": self.manager_image,
        }

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> SystemBackupMeta:
        created = obj.get("systemBackupCreatedAt")
        try:
            created_at = parse_time(str(created)) if created else None
        except ValueError as exc:
            raise BackupstoreError(f"invalid {ARCHIVE_METADATA_FILE}: {exc}") from exc
        return cls(
            longhorn_version=str(obj.get("longhornVersion") or ""),
            longhorn_git_commit=str(obj.get("longhornGitCommit") or ""),
            kubernetes_version=str(obj.get("kubernetesVersion") or ""),
            longhorn_namespace_uuid=str(obj.get("longhornNamspaceUUID") or ""),
            system_backup_created_at=created_at,
            manager_image=str(obj.get("managerImage") or ""),
        )


# --------------------------------------------------------------------------------------------------
# Volume backups


def volumes_root() -> str:
    return f"{BACKUPSTORE_BASE}/{VOLUMES_DIR}/"


def volume_dir(volume: str) -> str:
    """``backupstore/volumes/<xx>/<yy>/<volume>/`` with xx/yy from the name's Longhorn checksum."""
    _check_segment(volume, "volume name")
    checksum = longhorn_checksum(volume)
    return f"{volumes_root()}{checksum[0:2]}/{checksum[2:4]}/{volume}/"


def volume_cfg_path(volume: str) -> str:
    return volume_dir(volume) + VOLUME_CFG


def backups_dir(volume: str) -> str:
    return f"{volume_dir(volume)}{BACKUPS_DIR}/"


def backup_cfg_path(volume: str, backup: str) -> str:
    """``…/<volume>/backups/backup_<backup>.cfg``."""
    _check_segment(backup, "backup name")
    return f"{backups_dir(volume)}{BACKUP_CFG_PREFIX}{backup}{CFG_SUFFIX}"


def block_path(volume: str, block_checksum: str) -> str:
    """``…/<volume>/blocks/<c0c1>/<c2c3>/<checksum>.blk``."""
    if len(block_checksum) < 4 or not re.fullmatch(r"[0-9a-f]+", block_checksum):
        raise BackupstoreError(f"invalid block checksum {block_checksum!r}")
    sub = f"{block_checksum[0:2]}/{block_checksum[2:4]}"
    return f"{volume_dir(volume)}{BLOCKS_DIR}/{sub}/{block_checksum}{BLOCK_SUFFIX}"


def lock_path(volume: str, lock_name: str) -> str:
    _check_segment(lock_name, "lock name")
    return f"{volume_dir(volume)}{LOCKS_DIR}/{lock_name}{LOCK_SUFFIX}"


def single_file_backup_path(volume: str, backup: str) -> str:
    _check_segment(backup, "backup name")
    return f"{volume_dir(volume)}{BACKUP_FILES_DIR}/{backup}.bak"


def backup_url(target_url: str, backup: str, volume: str) -> str:
    """``EncodeBackupURL``: ``<target>?backup=<backup>&volume=<volume>``."""
    return f"{target_url}?backup={quote(backup, safe='')}&volume={quote(volume, safe='')}"


_VOLUME_PATH_RE = re.compile(r"^backupstore/volumes/([0-9a-f]{2})/([0-9a-f]{2})/([^/]+)/(.*)$")


def parse_volume_path(relative: str) -> tuple[str, str] | None:
    """(volume, rest) for a path below ``backupstore/volumes/<xx>/<yy>/<volume>/``, else None.

    The xx/yy folders must match the volume name's checksum, as Longhorn only ever writes them so.
    """
    match = _VOLUME_PATH_RE.match(relative)
    if match is None:
        return None
    volume = match.group(3)
    checksum = longhorn_checksum(volume)
    if (match.group(1), match.group(2)) != (checksum[0:2], checksum[2:4]):
        return None
    return volume, match.group(4)


def parse_backup_cfg_path(relative: str) -> tuple[str, str] | None:
    """(volume, backup) for ``…/<volume>/backups/backup_<backup>.cfg``, else None."""
    parsed = parse_volume_path(relative)
    if parsed is None:
        return None
    volume, rest = parsed
    prefix = f"{BACKUPS_DIR}/{BACKUP_CFG_PREFIX}"
    if not rest.startswith(prefix) or not rest.endswith(CFG_SUFFIX) or "/" in rest[len(prefix) :]:
        return None
    backup = rest[len(prefix) : -len(CFG_SUFFIX)]
    return (volume, backup) if backup else None


@dataclass(frozen=True)
class VolumeCfg:
    """``volume.cfg`` (Go struct ``Volume``; int64 fields are JSON strings)."""

    name: str
    size: int
    created_time: str
    labels: Mapping[str, str] = field(default_factory=dict)
    last_backup_name: str = ""
    last_backup_at: str = ""
    block_count: int = 0
    backing_image_name: str = ""
    backing_image_checksum: str = ""
    compression_method: str = "lz4"
    storage_class_name: str = ""
    data_engine: str = "v1"

    def to_dict(self) -> dict[str, Any]:
        return {
            "Name": self.name,
            "Size": str(self.size),
            "Labels": dict(self.labels),
            "CreatedTime": self.created_time,
            "LastBackupName": self.last_backup_name,
            "LastBackupAt": self.last_backup_at,
            "BlockCount": str(self.block_count),
            "BackingImageName": self.backing_image_name,
            "BackingImageChecksum": self.backing_image_checksum,
            "CompressionMethod": self.compression_method,
            "StorageClassName": self.storage_class_name,
            "DataEngine": self.data_engine,
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict()).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> VolumeCfg:
        obj = _load_json_object(data, VOLUME_CFG)
        try:
            return cls(
                name=_str(obj, "Name"),
                size=_int_str(obj, "Size"),
                created_time=_opt_str(obj, "CreatedTime"),
                labels=_labels(obj, "Labels"),
                last_backup_name=_opt_str(obj, "LastBackupName"),
                last_backup_at=_opt_str(obj, "LastBackupAt"),
                block_count=_int_str(obj, "BlockCount"),
                backing_image_name=_opt_str(obj, "BackingImageName"),
                backing_image_checksum=_opt_str(obj, "BackingImageChecksum"),
                compression_method=_opt_str(obj, "CompressionMethod"),
                storage_class_name=_opt_str(obj, "StorageClassName"),
                data_engine=_opt_str(obj, "DataEngine"),
            )
        except ValueError as exc:
            raise BackupstoreError(f"invalid {VOLUME_CFG}: {exc}") from exc


@dataclass(frozen=True)
class BlockMapping:
    """One entry of a backup's ``Blocks``: the block at ``offset`` has content ``block_checksum``."""

    offset: int
    block_checksum: str


@dataclass(frozen=True)
class BackupCfg:
    """``backup_<name>.cfg`` (Go struct ``Backup``). An empty ``created_time`` means in progress."""

    name: str
    volume_name: str
    snapshot_name: str
    snapshot_created_at: str
    created_time: str
    size: int
    labels: Mapping[str, str] = field(default_factory=dict)
    parameters: Mapping[str, str] = field(default_factory=dict)
    is_incremental: bool = False
    compression_method: str = "lz4"
    newly_uploaded_data_size: int = 0
    re_uploaded_data_size: int = 0
    processing_blocks: Mapping[str, Any] | None = None
    blocks: tuple[BlockMapping, ...] = ()
    single_file_path: str = ""

    @property
    def in_progress(self) -> bool:
        return not self.created_time

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Name": self.name,
            "VolumeName": self.volume_name,
            "SnapshotName": self.snapshot_name,
            "SnapshotCreatedAt": self.snapshot_created_at,
            "CreatedTime": self.created_time,
            "Size": str(self.size),
            "Labels": dict(self.labels),
            "Parameters": dict(self.parameters),
            "IsIncremental": self.is_incremental,
            "CompressionMethod": self.compression_method,
            "NewlyUploadedDataSize": str(self.newly_uploaded_data_size),
            "ReUploadedDataSize": str(self.re_uploaded_data_size),
            "ProcessingBlocks": dict(self.processing_blocks) if self.processing_blocks is not None else None,
        }
        if self.blocks:
            out["Blocks"] = [{"Offset": b.offset, "BlockChecksum": b.block_checksum} for b in self.blocks]
        out["SingleFile"] = {"FilePath": self.single_file_path}
        return out

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict()).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> BackupCfg:
        obj = _load_json_object(data, "backup cfg")
        try:
            raw_blocks = obj.get("Blocks") or []
            if not isinstance(raw_blocks, list):
                raise ValueError("Blocks is not a list")
            blocks = tuple(
                BlockMapping(int(b["Offset"]), str(b["BlockChecksum"]))
                for b in raw_blocks
                if isinstance(b, dict)
            )
            single = obj.get("SingleFile")
            processing = obj.get("ProcessingBlocks")
            return cls(
                name=_str(obj, "Name"),
                volume_name=_opt_str(obj, "VolumeName"),
                snapshot_name=_opt_str(obj, "SnapshotName"),
                snapshot_created_at=_opt_str(obj, "SnapshotCreatedAt"),
                created_time=_opt_str(obj, "CreatedTime"),
                size=_int_str(obj, "Size"),
                labels=_labels(obj, "Labels"),
                parameters=_labels(obj, "Parameters"),
                is_incremental=bool(obj.get("IsIncremental", False)),
                compression_method=_opt_str(obj, "CompressionMethod"),
                newly_uploaded_data_size=_int_str(obj, "NewlyUploadedDataSize"),
                re_uploaded_data_size=_int_str(obj, "ReUploadedDataSize"),
                processing_blocks=processing if isinstance(processing, dict) else None,
                blocks=blocks,
                single_file_path=str(single.get("FilePath") or "") if isinstance(single, dict) else "",
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BackupstoreError(f"invalid backup cfg: {exc}") from exc


# --------------------------------------------------------------------------------------------------
# Helpers


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` suffix, as Go marshals a UTC ``time.Time`` (whole seconds)."""
    if moment.tzinfo is None:
        raise BackupstoreError("naive datetime: backupstore times are UTC")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 time (``Z`` or offset, optional fraction up to nanoseconds) to aware UTC."""
    value = text.strip()
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})", value)
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    fraction = (match.group(2) or "")[:7].ljust(7, "0") if match.group(2) else ""
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    return datetime.fromisoformat(match.group(1) + fraction + zone).astimezone(UTC)


def _check_segment(value: str, what: str) -> None:
    if not value or "/" in value or value in (".", ".."):
        raise BackupstoreError(f"invalid {what} {value!r} for a backupstore path")


def _load_json_object(data: bytes | str, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BackupstoreError(f"{what} is not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise BackupstoreError(f"{what} is not a JSON object")
    return obj


def _str(obj: Mapping[str, Any], key: str) -> str:
    if key not in obj:
        raise ValueError(f"missing {key}")
    value = obj[key]
    if not isinstance(value, str):
        raise ValueError(f"{key} is not a string")
    return value


def _opt_str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _int_str(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    if value is None or value == "":
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"{key} is not an integer")
    return int(value)


def _labels(obj: Mapping[str, Any], key: str) -> dict[str, str]:
    value = obj.get(key)
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}
