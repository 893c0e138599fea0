"""The simulator's SystemRestore controller: download, checksum, unpack, restore by Longhorn's rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lhdesk.core import backupstore as bs

pytestmark = pytest.mark.integration

# ``lh`` / ``make_longhorn`` (tests/demo/conftest.py): a running simulator over an API server and moto S3.
Longhorn = Any
ORDER = ["", "Pending", "Initializing", "Downloading", "Unpacking", "Restoring", "Completed"]


def _setting(lh: Longhorn, name: str) -> dict[str, Any]:
    obj = lh.get("settings", name)
    assert obj is not None
    return obj


def _set_value(lh: Longhorn, name: str, value: str) -> None:
    obj = _setting(lh, name)
    obj["value"] = value
    lh.stack.custom.replace_namespaced_custom_object(
        "longhorn.io", "v1beta2", lh.namespace, "settings", name, obj
    )


def _backup_ready(lh: Longhorn, name: str) -> None:
    lh.create("systembackups", {"metadata": {"name": name}, "spec": {"volumeBackupPolicy": "disabled"}})
    lh.wait_state("systembackups", name, "Ready", "Error")
    assert lh.get("systembackups", name)["status"]["state"] == "Ready"


def test_restore_completes_and_applies_longhorns_rules(lh: Longhorn) -> None:
    lh.add_volume("vol-gone", last_backup="backup-123")
    lh.add_volume("vol-kept")
    lh.create(
        "recurringjobs",
        {
            "metadata": {"name": "nightly"},
            "spec": {
                "name": "nightly",
                "task": "snapshot",
                "cron": "0 3 1 1 *",
                "retain": 2,
                "concurrency": 1,
            },
        },
    )
    _backup_ready(lh, "before-change")

    # Then things change: a job and a volume are deleted, settings are edited.
    lh.delete("recurringjobs", "nightly")
    lh.delete("volumes", "vol-gone")
    lh.wait_gone("volumes", "vol-gone")
    _set_value(lh, "recurring-job-max-retention", "50")
    _set_value(lh, "concurrent-replica-rebuild-per-node-limit", "9")  # ignored by restore

    lh.create(
        "systemrestores", {"metadata": {"name": "restore-1"}, "spec": {"systemBackup": "before-change"}}
    )
    seen: list[str] = []

    def record(obj: dict[str, Any]) -> bool:
        state = (obj.get("status") or {}).get("state") or ""
        if not seen or seen[-1] != state:
            seen.append(state)
        return state in ("Completed", "Error")

    restore = lh.wait_for("systemrestores", "restore-1", record, timeout=30)
    assert restore["status"]["state"] == "Completed", restore["status"]
    assert [s for s in ORDER if s in seen] == [s for s in seen if s in ORDER]
    assert {"Pending", "Downloading", "Unpacking", "Restoring"} <= set(seen)
    source = bs.system_backup_url(lh.s3cfg.backup_target_url, "v1.12.1", "before-change")
    assert restore["status"]["sourceURL"] == source
    # The InProgress label goes once the restore has ended.
    lh.wait_for("systemrestores", "restore-1", lambda o: not (o["metadata"].get("labels") or {}))

    job = lh.get("recurringjobs", "nightly")
    assert job is not None
    assert job["spec"]["cron"] == "0 3 1 1 *"
    assert job["metadata"]["annotations"]["longhorn.io/last-system-restored"] == source
    assert job["metadata"]["annotations"]["longhorn.io/last-system-restored-at"]

    volume = lh.get("volumes", "vol-gone")
    assert volume is not None
    expected_url = f"{lh.s3cfg.backup_target_url}?backup=backup-123&volume=vol-gone"
    assert volume["spec"]["fromBackup"] == expected_url
    assert volume["metadata"]["annotations"]["longhorn.io/last-system-restored-backup"] == expected_url
    assert volume["spec"].get("nodeID", "") == ""

    kept = lh.get("volumes", "vol-kept")
    assert kept["metadata"]["annotations"]["longhorn.io/last-skipped-system-restored"] == source
    assert "longhorn.io/last-system-restored" not in kept["metadata"]["annotations"]

    restored_setting = _setting(lh, "recurring-job-max-retention")
    assert restored_setting["value"] == "100"
    assert restored_setting["metadata"]["annotations"]["longhorn.io/last-system-restored"] == source
    assert _setting(lh, "concurrent-replica-rebuild-per-node-limit")["value"] == "9"


def test_checksum_mismatch_fails_the_restore(lh: Longhorn) -> None:
    _backup_ready(lh, "tampered")
    key = bs.system_backup_zip_path("v1.12.1", "tampered")
    lh.s3.put_object(Bucket=lh.s3cfg.bucket, Key=key, Body=lh.read(key) + b"x")
    lh.create("systemrestores", {"metadata": {"name": "restore-bad"}, "spec": {"systemBackup": "tampered"}})
    restore = lh.wait_state("systemrestores", "restore-bad", "Completed", "Error")
    assert restore["status"]["state"] == "Error"
    (condition,) = restore["status"]["conditions"]
    assert condition["type"] == "Error"
    assert condition["reason"] == "Restore"
    assert condition["message"].startswith("failed to restore Longhorn system: ")
    assert "checksum" in condition["message"]


def test_restore_of_a_missing_backup_fails(make_longhorn: Callable[..., Longhorn]) -> None:
    lh = make_longhorn()
    lh.create("systemrestores", {"metadata": {"name": "restore-none"}, "spec": {"systemBackup": "no-such"}})
    restore = lh.wait_state("systemrestores", "restore-none", "Completed", "Error")
    assert restore["status"]["conditions"][0]["message"].startswith("failed to restore Longhorn system")
