"""Longhorn backupstore paths, URLs and cfg formats (lhdesk.core.backupstore)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lhdesk.core import backupstore as bs


def test_system_backup_paths_follow_longhorn_layout() -> None:
    assert bs.system_backup_dir("v1.12.1", "demo") == "backupstore/system-backups/v1.12.1/demo/"
    assert (
        bs.system_backup_zip_path("v1.12.1", "demo")
        == "backupstore/system-backups/v1.12.1/demo/system-backup.zip"
    )
    assert (
        bs.system_backup_cfg_path("v1.12.1", "demo")
        == "backupstore/system-backups/v1.12.1/demo/system-backup.cfg"
    )
    assert bs.parse_system_backup_path("backupstore/system-backups/v1.4.0/sb/system-backup.cfg") == (
        "v1.4.0",
        "sb",
    )
    assert bs.parse_system_backup_path("backupstore/system-backups/v1.4.0/") is None
    assert bs.parse_system_backup_path("backupstore/volumes/ab/cd/x/volume.cfg") is None


def test_system_backup_url_matches_the_source_comment_example() -> None:
    url = bs.system_backup_url("s3://bucket@region/path/", "v1.4.0", "sample-system-backup")
    assert url == "s3://bucket@region/path/backupstore/system-backups/v1.4.0/sample-system-backup"
    assert (
        bs.system_backup_url("s3://backupbucket@us-east-1/", "v1.12.1", "demo")
        == "s3://backupbucket@us-east-1/backupstore/system-backups/v1.12.1/demo"
    )


@pytest.mark.parametrize("bad", ["", "a/b", "..", "."])
def test_path_segments_are_checked(bad: str) -> None:
    with pytest.raises(bs.BackupstoreError):
        bs.system_backup_dir("v1.12.1", bad)
    with pytest.raises(bs.BackupstoreError):
        bs.volume_dir(bad)


def test_volume_folders_come_from_sha512_of_the_name() -> None:
    digest = hashlib.sha512(b"pvc-1").hexdigest()
    assert bs.longhorn_checksum("pvc-1") == digest[:64]
    assert bs.volume_dir("pvc-1") == f"backupstore/volumes/{digest[0:2]}/{digest[2:4]}/pvc-1/"
    assert bs.volume_cfg_path("pvc-1").endswith("/pvc-1/volume.cfg")
    assert bs.backup_cfg_path("pvc-1", "backup-0a1b").endswith("/pvc-1/backups/backup_backup-0a1b.cfg")
    block = bs.longhorn_checksum(b"\0" * 16)
    assert (
        bs.block_path("pvc-1", block)
        == f"{bs.volume_dir('pvc-1')}blocks/{block[:2]}/{block[2:4]}/{block}.blk"
    )
    assert bs.lock_path("pvc-1", "lock-0123456789abcdef").endswith("/locks/lock-0123456789abcdef.lck")
    assert bs.single_file_backup_path("pvc-1", "b1").endswith("/pvc-1/BackupFiles/b1.bak")


def test_volume_paths_parse_back() -> None:
    key = bs.backup_cfg_path("vol-a", "backup-1")
    assert bs.parse_backup_cfg_path(key) == ("vol-a", "backup-1")
    assert bs.parse_volume_path(bs.volume_cfg_path("vol-a")) == ("vol-a", "volume.cfg")
    assert bs.parse_backup_cfg_path(bs.volume_cfg_path("vol-a")) is None
    # xx/yy that do not belong to the name are not Longhorn's layout.
    assert bs.parse_volume_path("backupstore/volumes/00/00/vol-a/volume.cfg") is None


@given(st.from_regex(r"[a-z0-9][a-z0-9.-]{0,40}", fullmatch=True))
def test_any_volume_name_round_trips(name: str) -> None:
    assert bs.parse_volume_path(bs.volume_cfg_path(name)) == (name, "volume.cfg")


def test_backup_url() -> None:
    assert (
        bs.backup_url("s3://b@us-east-1/", "backup-1", "pvc-1")
        == "s3://b@us-east-1/?backup=backup-1&volume=pvc-1"
    )


@pytest.mark.parametrize(
    ("url", "scheme", "bucket", "region", "path"),
    [
        ("s3://bucket@us-east-1/", "s3", "bucket", "us-east-1", ""),
        ("s3://bucket@us-east-1", "s3", "bucket", "us-east-1", ""),
        ("s3://bucket@region/path/", "s3", "bucket", "region", "path"),
        ("s3://bucket@region/a/b/", "s3", "bucket", "region", "a/b"),
        ("s3://bucket/path", "s3", "bucket", "", "path"),
        ("azblob://demo@core.windows.net/", "azblob", "demo", "core.windows.net", ""),
        (
            "nfs://longhorn-test-nfs-svc.default:/opt/backupstore",
            "nfs",
            "longhorn-test-nfs-svc.default",
            "",
            "opt/backupstore",
        ),
        ("cifs://host/share?cifsOptions=x", "cifs", "host", "", "share"),
    ],
)
def test_parse_backup_target_url(url: str, scheme: str, bucket: str, region: str, path: str) -> None:
    parsed = bs.parse_backup_target_url(url)
    assert (parsed.scheme, parsed.bucket, parsed.region, parsed.path) == (scheme, bucket, region, path)
    assert parsed.raw == url


def test_target_key_prefixes_its_path() -> None:
    assert bs.parse_backup_target_url("s3://b@r/").key("backupstore/x") == "backupstore/x"
    assert bs.parse_backup_target_url("s3://b@r/p/q/").key("backupstore/x") == "p/q/backupstore/x"
    assert bs.parse_backup_target_url("s3://b@r/").needs_credential
    assert not bs.parse_backup_target_url("nfs://h:/e").needs_credential


@pytest.mark.parametrize(
    "url", ["", "   ", "bucket", "s3://", "s3://@region/", "s3://b@/", "ftp://x/", "nfs://host/x"]
)
def test_bad_backup_target_urls(url: str) -> None:
    with pytest.raises(bs.BackupTargetURLError):
        bs.parse_backup_target_url(url)


def test_s3_message_names_both_forms() -> None:
    with pytest.raises(bs.BackupTargetURLError, match=r"s3://bucket@region/path/, or s3://bucket/path"):
        bs.parse_backup_target_url("s3://@x/")


def test_system_backup_cfg_round_trip_and_exact_keys() -> None:
    archive = b"PK\x05\x06" + b"\0" * 18
    cfg = bs.SystemBackupCfg(
        name="demo",
        longhorn_version="v1.12.1",
        longhorn_git_commit="abc",
        backup_target_url="s3://b@us-east-1/",
        manager_image="longhornio/longhorn-manager:v1.12.1",
        engine_image="longhornio/longhorn-engine:v1.12.1",
        created_at=datetime(2026, 8, 20, 2, 7, 41, tzinfo=UTC),
        checksum=bs.sha256_hex(archive),
    )
    raw = json.loads(cfg.to_json())
    assert list(raw) == [
        "Name",
        "LonghornVersion",
        "LonghornGitCommit",
        "BackupTargetURL",
        "ManagerImage",
        "EngineImage",
        "CreatedAt",
        "Checksum",
    ]
    assert raw["CreatedAt"] == "2026-08-20T02:07:41Z"
    assert raw["Checksum"] == hashlib.sha256(archive).hexdigest()
    assert bs.SystemBackupCfg.from_json(cfg.to_json()) == cfg
    assert cfg.verify(archive)
    assert not cfg.verify(archive + b"x")


def test_cfg_reads_go_nanosecond_times_and_offsets() -> None:
    doc = {
        "Name": "n",
        "LonghornVersion": "v1.9.0",
        "LonghornGitCommit": "",
        "BackupTargetURL": "",
        "ManagerImage": "",
        "EngineImage": "",
        "CreatedAt": "2025-01-02T03:04:05.123456789+02:00",
        "Checksum": "00",
    }
    cfg = bs.SystemBackupCfg.from_json(json.dumps(doc))
    assert cfg.created_at == datetime(2025, 1, 2, 1, 4, 5, 123456, tzinfo=UTC)


@pytest.mark.parametrize("data", [b"", b"[]", b"{}", b'{"Name": 1}', b"\xff"])
def test_broken_cfg_is_a_backupstore_error(data: bytes) -> None:
    with pytest.raises(bs.BackupstoreError):
        bs.SystemBackupCfg.from_json(data)


def test_volume_and_backup_cfg_formats() -> None:
    vol = bs.VolumeCfg(name="pvc-1", size=2 * 1024**3, created_time="2026-01-01T00:00:00Z", block_count=3)
    raw = json.loads(vol.to_json())
    assert raw["Size"] == str(2 * 1024**3)
    assert raw["BlockCount"] == "3"
    assert bs.VolumeCfg.from_json(vol.to_json()) == vol

    blocks = (bs.BlockMapping(0, "ab" * 32), bs.BlockMapping(2097152, "cd" * 32))
    backup = bs.BackupCfg(
        name="backup-1",
        volume_name="pvc-1",
        snapshot_name="snap",
        snapshot_created_at="2026-01-01T00:00:00Z",
        created_time="2026-01-01T00:00:01Z",
        size=4194304,
        labels={"RecurringJob": "daily"},
        parameters={"backup-mode": "incremental"},
        blocks=blocks,
    )
    raw = json.loads(backup.to_json())
    assert raw["Blocks"] == [
        {"Offset": 0, "BlockChecksum": "ab" * 32},
        {"Offset": 2097152, "BlockChecksum": "cd" * 32},
    ]
    assert "ObjectBlocks" not in raw
    assert raw["Size"] == "4194304"
    assert bs.BackupCfg.from_json(backup.to_json()) == backup
    empty = bs.BackupCfg(
        name="b", volume_name="v", snapshot_name="", snapshot_created_at="", created_time="", size=0
    )
    assert "Blocks" not in json.loads(empty.to_json())
    assert empty.in_progress


def test_metadata_keys_keep_longhorns_typo() -> None:
    meta = bs.SystemBackupMeta("v1.12.1", "c", "v1.31.0", "uid-1", None, "img")
    data = meta.to_dict()
    assert "longhornNamspaceUUID" in data
    assert data["systemBackupCreatedAt"] is None
    assert bs.SystemBackupMeta.from_dict(data) == meta


def test_archive_paths() -> None:
    assert bs.archive_metadata_path("sb") == "sb/metadata.yaml"
    assert bs.archive_yaml_path("sb", "longhorn", "setting") == "sb/yamls/longhorn/setting.yaml"
    with pytest.raises(bs.BackupstoreError):
        bs.archive_yaml_path("sb", "other", "x")
    assert "setting" in bs.ARCHIVE_FILES["longhorn"]


def test_times() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=1)))
    assert bs.format_time(moment) == "2026-01-02T02:04:05Z"
    with pytest.raises(bs.BackupstoreError):
        bs.format_time(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="RFC 3339"):
        bs.parse_time("yesterday")
