"""A backup target as the simulator reaches it: the BackupTarget's URL and credential Secret, over boto3."""

from __future__ import annotations

import base64
import binascii
import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lhdesk.core import backupstore as bs
from lhdesk.demo.s3 import S3Config, client

from .kube import JSON, SECRETS, Kube, spec_of

log = logging.getLogger(__name__)


class TargetError(Exception):
    """The backup target cannot be used; the message is what Longhorn would put in a condition."""


_clients: dict[S3Config, Any] = {}
_clients_lock = threading.Lock()


def _client_for(cfg: S3Config) -> Any:
    with _clients_lock:
        s3 = _clients.get(cfg)
        if s3 is None:
            s3 = client(cfg, connect_timeout=3.0, read_timeout=20.0)
            _clients[cfg] = s3
        return s3


def _decode_secret(secret: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    data = secret.get("data") or {}
    for key, value in data.items():
        try:
            out[key] = base64.b64decode(str(value), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            out[key] = ""
    for key, value in (secret.get("stringData") or {}).items():
        out[key] = str(value)
    return out


@dataclass(frozen=True)
class TargetAccess:
    """One backup target's bucket, with Longhorn's layout."""

    name: str
    url: bs.BackupTargetURL
    s3: Any

    @property
    def bucket(self) -> str:
        return self.url.bucket

    def key(self, relative: str) -> str:
        return self.url.key(relative)

    # ---- generic -------------------------------------------------------------------------------

    def probe(self) -> None:
        """What Longhorn's availability check amounts to: list the system backups."""
        self.list_system_backups()

    def get(self, relative: str) -> bytes:
        body = self.s3.get_object(Bucket=self.bucket, Key=self.key(relative))["Body"]
        try:
            data: bytes = body.read()
        finally:
            body.close()
        return data

    def put(self, relative: str, data: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=self.key(relative), Body=data)

    def exists(self, relative: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=self.key(relative))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def folders(self, relative: str) -> list[str]:
        """The names of the "folders" one level below ``relative`` (which ends with '/')."""
        prefix = self.key(relative)
        names: list[str] = []
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
            for common in page.get("CommonPrefixes") or []:
                names.append(str(common["Prefix"])[len(prefix) :].rstrip("/"))
        return [n for n in names if n]

    def files(self, relative: str) -> Iterator[str]:
        """Keys (relative to the target root) of every object under ``relative``."""
        prefix = self.key(relative)
        root = len(self.url.prefix)
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents") or []:
                yield str(item["Key"])[root:]

    def delete_tree(self, relative: str) -> int:
        keys = [self.key(k) for k in self.files(relative)]
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            self.s3.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
            )
        return len(keys)

    def delete(self, relative: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=self.key(relative))

    # ---- system backups ------------------------------------------------------------------------

    def list_system_backups(self) -> dict[str, str]:
        """name → version, as ``system-backup list`` maps them (a later version wins a name clash)."""
        found: dict[str, str] = {}
        for version in sorted(self.folders(bs.system_backups_root())):
            for name in self.folders(bs.system_backup_version_dir(version)):
                found[name] = version
        return found

    def read_system_backup_cfg(self, version: str, name: str) -> bs.SystemBackupCfg:
        return bs.SystemBackupCfg.from_json(self.get(bs.system_backup_cfg_path(version, name)))

    def upload_system_backup(self, version: str, name: str, archive: bytes, cfg: bs.SystemBackupCfg) -> None:
        """Zip first, cfg second: an existing cfg means the upload finished."""
        self.put(bs.system_backup_zip_path(version, name), archive)
        self.put(bs.system_backup_cfg_path(version, name), cfg.to_json())

    def download_system_backup(self, version: str, name: str) -> tuple[bs.SystemBackupCfg, bytes]:
        """The cfg and the archive, checked against the cfg's SHA-256 (``system-backup download``)."""
        cfg = self.read_system_backup_cfg(version, name)
        archive = self.get(bs.system_backup_zip_path(version, name))
        if not cfg.verify(archive):
            raise TargetError(
                f"failed to verify checksum of system backup {name}: expected {cfg.checksum}, "
                f"got {bs.sha256_hex(archive)}"
            )
        return cfg, archive

    def delete_system_backup(self, version: str, name: str) -> None:
        self.delete_tree(bs.system_backup_dir(version, name))

    # ---- volume backups ------------------------------------------------------------------------

    def list_volumes(self) -> list[str]:
        names: list[str] = []
        root = bs.volumes_root()
        for xx in self.folders(root):
            for yy in self.folders(f"{root}{xx}/"):
                names.extend(self.folders(f"{root}{xx}/{yy}/"))
        return sorted(names)

    def list_volume_backups(self, volume: str) -> list[str]:
        names: list[str] = []
        for relative in self.files(bs.backups_dir(volume)):
            parsed = bs.parse_backup_cfg_path(relative)
            if parsed is not None:
                names.append(parsed[1])
        return sorted(names)

    def read_volume_cfg(self, volume: str) -> bs.VolumeCfg | None:
        try:
            return bs.VolumeCfg.from_json(self.get(bs.volume_cfg_path(volume)))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def read_backup_cfg(self, volume: str, backup: str) -> bs.BackupCfg:
        return bs.BackupCfg.from_json(self.get(bs.backup_cfg_path(volume, backup)))


def resolve_target(kube: Kube, namespace: str, target: JSON, fallback: S3Config | None) -> TargetAccess:
    """TargetAccess for a BackupTarget object, from its URL and credential Secret; TargetError if unusable."""
    spec = spec_of(target)
    name = str((target.get("metadata") or {}).get("name") or "")
    raw_url = str(spec.get("backupTargetURL") or "")
    if not raw_url.strip():
        raise TargetError("backup target URL is empty")
    try:
        url = bs.parse_backup_target_url(raw_url)
    except bs.BackupTargetURLError as exc:
        raise TargetError(str(exc)) from exc
    if url.scheme != "s3":
        raise TargetError(f"backup target type {url.scheme} is not available in the lhdesk demo (only s3)")
    values: dict[str, str] = {}
    secret_name = str(spec.get("credentialSecret") or "")
    if secret_name:
        secret = kube.get(SECRETS, secret_name, namespace)
        if secret is None:
            raise TargetError(f"failed to get secret {secret_name} in namespace {namespace}: not found")
        values = _decode_secret(secret)
    endpoint = values.get("AWS_ENDPOINTS", "").strip() or (fallback.endpoint_url if fallback else "")
    if not endpoint:
        raise TargetError("no S3 endpoint: set AWS_ENDPOINTS in the credential secret")
    cfg = S3Config(
        endpoint_url=endpoint.split(",")[0].strip(),
        bucket=url.bucket,
        region=url.region or "us-east-1",
        access_key=values.get("AWS_ACCESS_KEY_ID", ""),
        secret_key=values.get("AWS_SECRET_ACCESS_KEY", ""),
    )
    return TargetAccess(name=name, url=url, s3=_client_for(cfg))


def describe_error(exc: BaseException) -> str:
    """A short message for an S3 failure, without credentials."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip().rstrip(":")
    if isinstance(exc, BotoCoreError):
        return str(exc)
    return str(exc) or type(exc).__name__
