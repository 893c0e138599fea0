"""The simulator's SystemBackup controller against a real API server and real S3."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from lhdesk.core import backupstore as bs

pytestmark = pytest.mark.integration

# The fixtures ``lh`` and ``make_longhorn`` (tests/demo/conftest.py) give a running simulator over a
# real API server and moto S3, in a namespace and bucket of its own.
Longhorn = Any


def _states_seen(lh: Longhorn, name: str) -> list[str]:
    seen: list[str] = []

    def record(obj: dict) -> bool:
        state = (obj.get("status") or {}).get("state") or ""
        if not seen or seen[-1] != state:
            seen.append(state)
        return state in ("Ready", "Error")

    lh.wait_for("systembackups", name, record)
    return seen


def test_system_backup_reaches_ready_with_archive_and_cfg_in_s3(lh: Longhorn) -> None:
    lh.add_volume("vol-a", last_backup="")
    lh.create("systembackups", {"metadata": {"name": "sb-1"}, "spec": {"volumeBackupPolicy": "disabled"}})
    seen = _states_seen(lh, "sb-1")
    assert seen[-1] == "Ready"
    order = ["", "CreatingVolumeBackups", "CreatingBackingImageBackups", "Generating", "Uploading", "Ready"]
    assert [s for s in order if s in seen] == [s for s in seen if s in order]
    assert {"Generating", "Uploading"} <= set(seen)

    sb = lh.get("systembackups", "sb-1")
    assert sb is not None
    status = sb["status"]
    assert status["version"] == "v1.12.1"
    assert status["managerImage"] == "longhornio/longhorn-manager:v1.12.1"
    assert status["createdAt"]
    assert status["lastSyncedAt"]
    assert status["ownerID"]
    assert len(status["gitCommit"]) == 40

    folder = bs.system_backup_dir("v1.12.1", "sb-1")
    assert lh.keys(folder) == [folder + "system-backup.cfg", folder + "system-backup.zip"]
    archive = lh.read(folder + "system-backup.zip")
    cfg = json.loads(lh.read(folder + "system-backup.cfg"))
    assert cfg["Checksum"] == hashlib.sha256(archive).hexdigest()
    assert cfg["Name"] == "sb-1"
    assert cfg["LonghornVersion"] == "v1.12.1"
    assert cfg["BackupTargetURL"] == lh.s3cfg.backup_target_url
    assert cfg["ManagerImage"] == "longhornio/longhorn-manager:v1.12.1"
    assert cfg["EngineImage"] == "longhornio/longhorn-engine:v1.12.1"

    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        names = set(zf.namelist())
        assert "sb-1/metadata.yaml" in names
        meta = yaml.safe_load(zf.read("sb-1/metadata.yaml"))
        assert meta["longhornVersion"] == "v1.12.1"
        assert meta["kubernetesVersion"].startswith("v1.")
        assert meta["longhornNamspaceUUID"]
        for group, stems in bs.ARCHIVE_FILES.items():
            for stem in stems:
                assert f"sb-1/yamls/{group}/{stem}.yaml" in names
        volumes = yaml.safe_load(zf.read("sb-1/yamls/longhorn/volumes.yaml"))
        settings = yaml.safe_load(zf.read("sb-1/yamls/longhorn/setting.yaml"))
        targets = yaml.safe_load(zf.read("sb-1/yamls/longhorn/backuptargets.yaml"))
        crds = yaml.safe_load(zf.read("sb-1/yamls/apiextensions/customresourcedefinitions.yaml"))
    assert volumes["kind"] == "VolumeList"
    assert volumes["apiVersion"] == "longhorn.io/v1beta2"
    assert [v["metadata"]["name"] for v in volumes["items"]] == ["vol-a"]
    assert {s["metadata"]["name"] for s in settings["items"]} >= {"current-longhorn-version", "backup-target"}
    assert settings["kind"] == "SettingList"
    assert [t["metadata"]["name"] for t in targets["items"]] == ["default"]
    assert crds["kind"] == "CustomResourceDefinitionList"
    assert {c["spec"]["group"] for c in crds["items"]} == {"longhorn.io"}
    assert len(crds["items"]) == 8
    # Nothing of the policy "disabled": no volume backups.
    assert lh.items("backups") == []


def test_policy_always_backs_up_every_volume_first(lh: Longhorn) -> None:
    lh.add_volume("vol-a")
    lh.add_volume("vol-b")
    lh.create("systembackups", {"metadata": {"name": "sb-always"}, "spec": {"volumeBackupPolicy": "always"}})
    lh.wait_state("systembackups", "sb-always", "Ready", "Error", timeout=30)
    assert lh.get("systembackups", "sb-always")["status"]["state"] == "Ready"
    backups = lh.items("backups")
    assert sorted(b["metadata"]["labels"]["backup-volume"] for b in backups) == ["vol-a", "vol-b"]
    for backup in backups:
        assert backup["metadata"]["name"].startswith("system-backup-")
        assert backup["metadata"]["labels"]["backup-target"] == "default"
        assert backup["status"]["state"] == "Completed"
        assert backup["status"]["url"].startswith(lh.s3cfg.backup_target_url + "?backup=")
        volume = lh.get("volumes", backup["metadata"]["labels"]["backup-volume"])
        assert volume["status"]["lastBackup"] == backup["metadata"]["name"]
        folder = bs.volume_dir(backup["status"]["volumeName"])
        keys = lh.keys(folder)
        assert folder + "volume.cfg" in keys
        assert folder + f"backups/backup_{backup['metadata']['name']}.cfg" in keys
        assert any(k.endswith(".blk") for k in keys)
    volume_backups = lh.items("backupvolumes")
    assert sorted(bv["spec"]["volumeName"] for bv in volume_backups) == ["vol-a", "vol-b"]


def test_policy_if_not_present_skips_volumes_with_a_backup(lh: Longhorn) -> None:
    lh.add_volume("vol-new")
    lh.add_volume("vol-done", last_backup="backup-old")
    lh.create(
        "systembackups", {"metadata": {"name": "sb-inp"}, "spec": {"volumeBackupPolicy": "if-not-present"}}
    )
    lh.wait_state("systembackups", "sb-inp", "Ready", "Error", timeout=30)
    assert [b["metadata"]["labels"]["backup-volume"] for b in lh.items("backups")] == ["vol-new"]


@pytest.mark.parametrize(
    ("state", "reason", "message"),
    [
        ("Generating", "Generate", "failed to generate system backup file"),
        ("Uploading", "Upload", "failed to upload system backup"),
        ("CreatingVolumeBackups", "Start", "failed creating Volume backups"),
    ],
)
def test_injected_failure_ends_in_error_with_longhorns_reason(
    make_longhorn: Callable[..., Longhorn], state: str, reason: str, message: str
) -> None:
    lh = make_longhorn()
    lh.faults.fail_system_backup("sb-bad", state)
    lh.create("systembackups", {"metadata": {"name": "sb-bad"}, "spec": {"volumeBackupPolicy": "disabled"}})
    seen = _states_seen(lh, "sb-bad")
    assert seen[-2:] == [state, "Error"]
    sb = lh.get("systembackups", "sb-bad")
    (condition,) = sb["status"]["conditions"]
    assert condition["type"] == "Error"
    assert condition["status"] == "True"
    assert condition["reason"] == reason
    assert condition["message"].startswith(message)
    assert not sb["status"].get("createdAt")
    assert lh.keys(bs.system_backups_root()) == []


def test_deletion_removes_the_remote_copy_then_the_finalizer(lh: Longhorn) -> None:
    lh.create(
        "systembackups",
        {
            "metadata": {"name": "sb-del", "finalizers": ["longhorn.io"]},
            "spec": {"volumeBackupPolicy": "disabled"},
        },
    )
    lh.wait_state("systembackups", "sb-del", "Ready")
    folder = bs.system_backup_dir("v1.12.1", "sb-del")
    assert len(lh.keys(folder)) == 2
    lh.delete("systembackups", "sb-del")
    lh.wait_gone("systembackups", "sb-del")
    assert lh.keys(folder) == []


def test_target_only_backup_is_synced_with_version_label(make_longhorn: Callable[..., Longhorn]) -> None:
    from lhdesk.demo.longhorn.controllers import write_system_backup_to_target

    lh = make_longhorn(poll_interval="10s")
    cfg = write_system_backup_to_target(
        lh.s3cfg,
        "from-elsewhere",
        "v1.11.3",
        resources={
            "Volume": [{"apiVersion": "longhorn.io/v1beta2", "kind": "Volume", "metadata": {"name": "x"}}]
        },
    )
    seen: list[str] = []

    def record(obj: dict) -> bool:
        state = (obj.get("status") or {}).get("state") or ""
        if not seen or seen[-1] != state:
            seen.append(state)
        return state in ("Ready", "Error")

    lh.wait_for("systembackups", "from-elsewhere", record, timeout=30)
    assert "Syncing" in seen
    assert seen[-1] == "Ready"
    sb = lh.get("systembackups", "from-elsewhere")
    assert sb["metadata"]["labels"]["longhorn.io/version"] == "v1.11.3"
    assert sb["status"]["version"] == "v1.11.3"
    assert sb["status"]["managerImage"] == cfg.manager_image
    assert sb["status"]["createdAt"] == bs.format_time(cfg.created_at)
    assert sb["metadata"]["ownerReferences"][0]["kind"] == "BackupTarget"


def test_ready_backup_missing_remotely_is_deleted_cr_only(make_longhorn: Callable[..., Longhorn]) -> None:
    lh = make_longhorn(poll_interval="10s")
    lh.create("systembackups", {"metadata": {"name": "sb-gone"}, "spec": {"volumeBackupPolicy": "disabled"}})
    lh.wait_state("systembackups", "sb-gone", "Ready")
    folder = bs.system_backup_dir("v1.12.1", "sb-gone")
    for key in lh.keys(folder):
        lh.s3.delete_object(Bucket=lh.s3cfg.bucket, Key=key)
    lh.wait_gone("systembackups", "sb-gone", timeout=30)


def test_unavailable_target_is_reported_and_recovers(lh: Longhorn) -> None:
    lh.wait_for("backuptargets", "default", lambda o: (o.get("status") or {}).get("available") is True)
    lh.faults.backup_target_unavailable = True
    target = lh.wait_for(
        "backuptargets", "default", lambda o: (o.get("status") or {}).get("available") is False
    )
    condition = next(c for c in target["status"]["conditions"] if c["type"] == "Unavailable")
    assert condition["status"] == "True"
    assert condition["reason"] == "Unavailable"
    assert condition["message"].startswith(f"failed to list system backups in {lh.s3cfg.backup_target_url}")
    lh.faults.backup_target_unavailable = False
    lh.wait_for("backuptargets", "default", lambda o: (o.get("status") or {}).get("available") is True)


def test_second_cluster_on_the_same_target_sees_system_and_volume_backups(
    make_longhorn: Callable[..., Longhorn],
) -> None:
    first = make_longhorn()
    first.add_volume("vol-x", state="attached")
    first.create("systembackups", {"metadata": {"name": "shared"}, "spec": {"volumeBackupPolicy": "always"}})
    first.wait_state("systembackups", "shared", "Ready")
    (taken,) = first.items("backups")

    second = make_longhorn(bucket=first.s3cfg.bucket)
    synced = second.wait_state("systembackups", "shared", "Ready", "Error", timeout=30)
    assert synced["status"]["state"] == "Ready"
    assert synced["metadata"]["labels"]["longhorn.io/version"] == "v1.12.1"
    pulled = second.wait_list(
        "backups",
        lambda bs_: any((b.get("status") or {}).get("state") == "Completed" for b in bs_),
        timeout=30,
    )
    (backup,) = pulled
    assert backup["metadata"]["name"] == taken["metadata"]["name"]
    assert backup["metadata"]["labels"] == {"backup-volume": "vol-x", "backup-target": "default"}
    assert backup["status"]["url"] == taken["status"]["url"]
    assert backup["status"]["snapshotName"] == taken["status"]["snapshotName"]
    (volume_backup,) = second.wait_list(
        "backupvolumes", lambda bvs: any((b.get("status") or {}).get("lastBackupName") for b in bvs)
    )
    assert volume_backup["spec"] == {"backupTargetName": "default", "volumeName": "vol-x"}
    assert volume_backup["status"]["lastBackupName"] == taken["metadata"]["name"]
