"""The simulator survives what real API servers do: dropped watches, 410 Gone, transient errors."""

from __future__ import annotations

from typing import Any

import pytest

# Every test here drives the built-in API server's own knobs: ``api.faults`` (dropped watch
# connections, injected HTTP errors) and ``watch_history`` (a short watch window, so a resumed watch
# soon gets 410 Gone). kube-apiserver has no such knobs, so on the real backend these cases are
# skipped with that reason: a documented difference, not a gap.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.server_knobs("api_faults and watch_history are knobs kube-apiserver does not have"),
]

# A short watch history, so that a resumed watch soon gets 410 Gone and the informers must relist.
CTRL_BUILTIN_API_KWARGS = {"watch_history": 20}
Longhorn = Any


def _ready(lh: Longhorn, name: str, policy: str = "disabled") -> None:
    lh.create("systembackups", {"metadata": {"name": name}, "spec": {"volumeBackupPolicy": policy}})
    sb = lh.wait_state("systembackups", name, "Ready", "Error", timeout=30)
    assert sb["status"]["state"] == "Ready", sb["status"]


def test_dropped_watches_and_410_are_survived(lh: Longhorn) -> None:
    api = lh.stack.api
    _ready(lh, "before")
    assert api.faults.drop_watches() > 0
    # Many writes while the informers reconnect: their resourceVersion falls out of the history.
    for index in range(30):
        lh.create("settings", {"metadata": {"name": f"filler-{index}"}, "value": str(index)})
    api.faults.drop_watches()
    _ready(lh, "after")
    api.faults.drop_watches()
    lh.add_volume("vol-late")
    _ready(lh, "after-volume", policy="always")
    assert [b["metadata"]["labels"]["backup-volume"] for b in lh.items("backups")] == ["vol-late"]


def test_transient_api_errors_are_retried(lh: Longhorn) -> None:
    api = lh.stack.api
    prefix = f"/apis/longhorn.io/v1beta2/namespaces/{lh.namespace}/systembackups/flaky"
    api.faults.set_error(prefix, 500, rate=0.5, methods=["PUT"], message="etcdserver: request timed out")
    try:
        _ready(lh, "flaky")
    finally:
        api.faults.clear_error(prefix)


def test_restore_skips_the_pv_of_a_volume_it_could_not_create(lh: Longhorn) -> None:
    from kubernetes import client

    api = lh.stack.api
    core = client.CoreV1Api(lh.stack.api_client)
    tag = lh.namespace
    client.StorageV1Api(lh.stack.api_client).create_storage_class(
        {"metadata": {"name": f"sc-{tag}"}, "provisioner": "driver.longhorn.io"}
    )
    lh.add_volume("vol-r")
    core.create_persistent_volume(
        {
            "metadata": {"name": f"pv-{tag}"},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": f"sc-{tag}",
                "csi": {"driver": "driver.longhorn.io", "volumeHandle": "vol-r"},
            },
        }
    )
    _ready(lh, "with-pv")
    lh.delete("volumes", "vol-r")
    core.delete_persistent_volume(f"pv-{tag}")
    prefix = f"/apis/longhorn.io/v1beta2/namespaces/{lh.namespace}/volumes"
    api.faults.set_error(prefix, 500, methods=["POST"], message="injected")
    try:
        lh.create("systemrestores", {"metadata": {"name": "restore-pv"}, "spec": {"systemBackup": "with-pv"}})
        restore = lh.wait_state("systemrestores", "restore-pv", "Completed", "Error", timeout=30)
    finally:
        api.faults.clear_error(prefix)
    (condition,) = restore["status"]["conditions"]
    assert condition["reason"] == "Restore"
    assert "failed to restore Volume vol-r" in condition["message"]
    names = {pv.metadata.name for pv in core.list_persistent_volume().items}
    assert f"pv-{tag}" not in names
    reasons = {e.reason for e in core.list_namespaced_event(lh.namespace).items}
    assert "SkippedPersistentVolume" in reasons
