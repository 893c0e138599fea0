"""The DemoCluster as tests and the app use it: what the seed holds, its endpoints, start and stop."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config

from lhdesk.core import backupstore as bs
from lhdesk.demo.cluster import DemoCluster
from lhdesk.demo.s3 import client as s3_client

pytestmark = pytest.mark.integration

GROUP, VERSION, NS = "longhorn.io", "v1beta2", "longhorn-system"
Obj = dict[str, Any]


def items(custom: client.CustomObjectsApi, plural: str, **kwargs: Any) -> list[Obj]:
    found: list[Obj] = custom.list_namespaced_custom_object(GROUP, VERSION, NS, plural, **kwargs)["items"]
    return found


def test_kubeconfig_has_an_admin_and_a_readonly_context(demo_cluster: DemoCluster) -> None:
    contexts, current = config.list_kube_config_contexts(str(demo_cluster.kubeconfig_path))
    assert {c["name"] for c in contexts} == {"demo-admin", "demo-readonly"}
    assert current["name"] == "demo-admin"
    assert demo_cluster.api_url.startswith("https://127.0.0.1:")
    assert demo_cluster.s3_endpoint.startswith("http://127.0.0.1:")
    if demo_cluster.backend == "builtin":
        assert demo_cluster.api_faults is not None
    else:
        assert demo_cluster.api_faults is None
    assert demo_cluster.faults is not None
    assert demo_cluster.longhorn_version == "v1.12.1"


def test_seed_has_volumes_bound_to_claims(
    admin_api: client.ApiClient, custom: client.CustomObjectsApi
) -> None:
    volumes = items(custom, "volumes")
    assert len(volumes) == 12
    states = {v["status"]["state"] for v in volumes}
    assert states == {"attached", "detached"}
    assert {v["status"]["robustness"] for v in volumes if v["status"]["state"] == "attached"} >= {
        "healthy",
        "degraded",
    }
    core = client.CoreV1Api(admin_api)
    pvs = {pv.metadata.name: pv for pv in core.list_persistent_volume().items}
    pvcs = {
        (c.metadata.namespace, c.metadata.name): c
        for c in core.list_persistent_volume_claim_for_all_namespaces().items
    }
    for volume in volumes:
        kstatus = volume["status"]["kubernetesStatus"]
        pv = pvs[volume["metadata"]["name"]]
        assert pv.spec.csi.driver == "driver.longhorn.io"
        assert pv.status.phase == "Bound"
        claim = pvcs[(kstatus["namespace"], kstatus["pvcName"])]
        assert claim.spec.volume_name == pv.metadata.name
        assert claim.status.phase == "Bound"
        labels = volume["metadata"]["labels"]
        assert any(key.startswith("recurring-job") for key in labels)
    assert any(
        v["metadata"]["labels"].get("recurring-job-group.longhorn.io/default") == "enabled" for v in volumes
    )
    classes = client.StorageV1Api(admin_api).list_storage_class().items
    assert len([sc for sc in classes if sc.provisioner == "driver.longhorn.io"]) >= 3


def test_seed_has_recurring_jobs_of_several_tasks(custom: client.CustomObjectsApi) -> None:
    jobs = {j["metadata"]["name"]: j["spec"] for j in items(custom, "recurringjobs")}
    tasks = {spec["task"] for spec in jobs.values()}
    assert {"snapshot", "backup", "backup-force-create", "filesystem-trim", "system-backup"} <= tasks
    assert jobs["backup-daily"]["parameters"] == {"full-backup-interval": "7"}
    assert jobs["system-backup-nightly"]["parameters"] == {"volume-backup-policy": "if-not-present"}


def test_seed_has_system_backups_in_several_states_and_a_finished_restore(
    demo_cluster: DemoCluster, custom: client.CustomObjectsApi
) -> None:
    backups = {b["metadata"]["name"]: b for b in items(custom, "systembackups")}
    assert backups["demo-before-upgrade"]["status"]["state"] == "Ready"
    assert backups["demo-before-upgrade"]["spec"]["volumeBackupPolicy"] == "always"
    failed = backups["demo-failed-upload"]["status"]
    assert failed["state"] == "Error"
    assert [c["reason"] for c in failed["conditions"] if c["type"] == "Error"] == ["Upload"]
    synced = backups["migrated-from-staging"]
    assert synced["metadata"]["labels"]["longhorn.io/version"] == "v1.11.3"
    assert synced["status"]["state"] == "Ready"
    by_job = [
        b
        for b in backups.values()
        if (b["metadata"].get("labels") or {}).get("recurring-job.longhorn.io/system-backup")
        == "system-backup-nightly"
    ]
    assert len(by_job) == 2
    assert all(b["metadata"]["name"].startswith("system-b-") for b in by_job)
    restores = items(custom, "systemrestores")
    assert [(r["spec"]["systemBackup"], r["status"]["state"]) for r in restores] == [
        ("demo-before-upgrade", "Completed")
    ]

    s3 = s3_client(demo_cluster.s3_config)
    folder = bs.system_backup_dir("v1.12.1", "demo-before-upgrade")
    archive = s3.get_object(Bucket=demo_cluster.bucket, Key=folder + "system-backup.zip")["Body"].read()
    cfg = json.loads(
        s3.get_object(Bucket=demo_cluster.bucket, Key=folder + "system-backup.cfg")["Body"].read()
    )
    assert cfg["Checksum"] == hashlib.sha256(archive).hexdigest()


def test_kubectl_created_system_backup_reaches_ready_with_its_archive_in_s3(
    demo_cluster: DemoCluster,
    custom: client.CustomObjectsApi,
    kubectl: Callable[..., Any],
    wait_for: Callable[..., Obj],
) -> None:
    manifest = yaml.safe_dump(
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "SystemBackup",
            "metadata": {"name": "from-kubectl"},
            "spec": {"volumeBackupPolicy": "disabled"},
        }
    )
    result = kubectl("create", "-f", "-", stdin=manifest)
    assert result.returncode == 0, result.stderr
    try:
        ready = wait_for(
            custom,
            "systembackups",
            "from-kubectl",
            lambda o: (o.get("status") or {}).get("state") in ("Ready", "Error"),
        )
        assert ready["status"]["state"] == "Ready"
        folder = bs.system_backup_dir("v1.12.1", "from-kubectl")
        s3 = s3_client(demo_cluster.s3_config)
        keys = sorted(
            o["Key"] for o in s3.list_objects_v2(Bucket=demo_cluster.bucket, Prefix=folder)["Contents"]
        )
        assert keys == [folder + "system-backup.cfg", folder + "system-backup.zip"]
    finally:
        kubectl("delete", "systembackup", "from-kubectl", "--wait=false")


def test_readonly_context_reads_but_cannot_write(kubectl: Callable[..., Any]) -> None:
    listed = kubectl("get", "systembackups.longhorn.io", "-o", "name", context="demo-readonly")
    assert listed.returncode == 0, listed.stderr
    assert "systembackup.longhorn.io/demo-weekly" in listed.stdout.split()
    manifest = yaml.safe_dump(
        {"apiVersion": f"{GROUP}/{VERSION}", "kind": "SystemBackup", "metadata": {"name": "ro"}, "spec": {}}
    )
    created = kubectl("create", "-f", "-", stdin=manifest, context="demo-readonly")
    assert created.returncode != 0
    assert "Forbidden" in created.stderr


@pytest.mark.parametrize("backend", ["builtin", "real"])
def test_start_and_stop_leave_no_thread_behind(
    backend: str, tmp_path: Path, backend_guard: Callable[[str], None]
) -> None:
    backend_guard(backend)
    before = set(threading.enumerate())
    with DemoCluster(tmp_path / "c", backend=backend, seed="none", speed=10) as cluster:
        assert cluster.wait_seeded(1)
        api = cluster.api_client()
        assert client.VersionApi(api).get_code().git_version
        api.close()
        webhook_port = int(cluster.webhook.url.rsplit(":", 1)[1])
    # Other demo clusters of the session serve admission calls meanwhile; their per-connection
    # threads (socketserver's process_request_thread) are not this cluster's.
    leftover = [
        t
        for t in threading.enumerate()
        if t not in before and t.is_alive() and "process_request_thread" not in t.name
    ]
    assert leftover == []
    with pytest.raises(ConnectionRefusedError):  # its webhook server is gone too
        socket.create_connection(("127.0.0.1", webhook_port), timeout=2).close()
