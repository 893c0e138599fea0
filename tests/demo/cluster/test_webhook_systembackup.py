"""Longhorn's admission for SystemBackup, SystemRestore and BackupTarget, through a real API server.

Messages, codes and mutations are longhorn-manager v1.12.1's. Creates are ``dryRun=All`` unless the
test needs the object stored.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from lhdesk.demo.cluster import DemoCluster

pytestmark = pytest.mark.integration

GROUP, VERSION, NS = "longhorn.io", "v1beta2", "longhorn-system"
DENIED = 'admission webhook "validator.longhorn.io" denied the request: '


def lh(kind: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": name}, **fields}


def create(
    custom: client.CustomObjectsApi, plural: str, body: dict[str, Any], *, dry_run: bool = True
) -> Any:
    kwargs = {"dry_run": "All"} if dry_run else {}
    return custom.create_namespaced_custom_object(GROUP, VERSION, NS, plural, body, **kwargs)


def refused(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(ApiException) as caught:
        call()
    return caught.value.status, json.loads(caught.value.body)["message"]


def test_system_backup_gets_finalizer_owner_and_default_policy(custom: client.CustomObjectsApi) -> None:
    target = custom.get_namespaced_custom_object(GROUP, VERSION, NS, "backuptargets", "default")
    stored = create(custom, "systembackups", lh("SystemBackup", "sb-defaults", spec={}))
    assert stored["spec"]["volumeBackupPolicy"] == "if-not-present"
    assert stored["metadata"]["finalizers"] == ["longhorn.io"]
    assert stored["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "longhorn.io/v1beta2",
            "kind": "BackupTarget",
            "name": "default",
            "uid": target["metadata"]["uid"],
        }
    ]
    kept = create(
        custom, "systembackups", lh("SystemBackup", "sb-always", spec={"volumeBackupPolicy": "always"})
    )
    assert kept["spec"]["volumeBackupPolicy"] == "always"


@pytest.fixture
def target_unavailable(
    demo_cluster: DemoCluster, custom: client.CustomObjectsApi, wait_for: Callable[..., Any]
) -> Iterator[None]:
    """The backup target made unreachable (simulator fault), and available again afterwards."""

    def available(obj: dict[str, Any]) -> bool:
        return bool((obj.get("status") or {}).get("available"))

    demo_cluster.faults.backup_target_unavailable = True
    try:
        wait_for(custom, "backuptargets", "default", lambda o: not available(o), timeout=60)
        yield
    finally:
        demo_cluster.faults.backup_target_unavailable = False
        custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            NS,
            "backuptargets",
            "default",
            {"spec": {"syncRequestedAt": "2030-01-01T00:00:00Z"}},
        )
        wait_for(custom, "backuptargets", "default", available, timeout=60)


@pytest.mark.usefixtures("target_unavailable")
def test_system_backup_is_refused_while_the_backup_target_is_unavailable(
    custom: client.CustomObjectsApi,
) -> None:
    status, message = refused(
        lambda: create(custom, "systembackups", lh("SystemBackup", "sb-no-target", spec={}))
    )
    assert (status, message) == (422, DENIED + "backup target default is not available")


def test_system_restore_needs_every_volume_detached(custom: client.CustomObjectsApi) -> None:
    volumes = custom.list_namespaced_custom_object(GROUP, VERSION, NS, "volumes")["items"]
    assert any(v["status"]["state"] == "attached" for v in volumes)
    status, message = refused(
        lambda: create(
            custom, "systemrestores", lh("SystemRestore", "sr-busy", spec={"systemBackup": "demo-weekly"})
        )
    )
    assert (status, message) == (
        422,
        DENIED + "all volumes need to be detached before creating SystemRestore",
    )


def test_default_backup_target_cannot_be_deleted(custom: client.CustomObjectsApi) -> None:
    status, message = refused(
        lambda: custom.delete_namespaced_custom_object(
            GROUP, VERSION, NS, "backuptargets", "default", dry_run="All"
        )
    )
    assert (status, message) == (422, DENIED + "deleting default backup target is not allowed")


def test_backup_target_url_must_be_unique_and_clean(
    demo_cluster: DemoCluster, custom: client.CustomObjectsApi
) -> None:
    url = demo_cluster.s3_config.backup_target_url
    status, message = refused(
        lambda: create(
            custom, "backuptargets", lh("BackupTarget", "twin", spec={"backupTargetURL": url.upper()})
        )
    )
    shown = "s3" + url.upper()[2:]  # Longhorn prints Go's url.String(), whose scheme is lower-case
    assert (status, message) == (422, DENIED + f"url {shown} is the same to backup target default")
    bad = "s3://other@us-east-1/a$b,c/"
    status, message = refused(
        lambda: create(custom, "backuptargets", lh("BackupTarget", "dollar", spec={"backupTargetURL": bad}))
    )
    assert (status, message) == (422, DENIED + f"url {bad}, contains $ or ,")
    status, message = refused(
        lambda: create(custom, "backuptargets", lh("BackupTarget", "Upper", spec={"backupTargetURL": ""}))
    )
    assert status == 422  # the API server refuses the upper-case name before Longhorn sees it


def test_backup_target_credential_values_must_not_end_in_a_newline(
    admin_api: client.ApiClient, custom: client.CustomObjectsApi
) -> None:
    core = client.CoreV1Api(admin_api)
    data = {
        "AWS_ACCESS_KEY_ID": base64.b64encode(b"key\n").decode(),
        "AWS_SECRET_ACCESS_KEY": base64.b64encode(b" secret").decode(),
    }
    core.create_namespaced_secret(NS, {"metadata": {"name": "sloppy-credentials"}, "data": data})
    try:
        body = lh(
            "BackupTarget",
            "sloppy",
            spec={"backupTargetURL": "s3://sloppy@us-east-1/", "credentialSecret": "sloppy-credentials"},
        )
        status, message = refused(lambda: create(custom, "backuptargets", body))
        assert (status, message) == (
            422,
            DENIED + "credential validation error(s): invalid trailing newline in AWS_ACCESS_KEY_ID; "
            "invalid leading whitespace in AWS_SECRET_ACCESS_KEY",
        )
    finally:
        core.delete_namespaced_secret("sloppy-credentials", NS)


def test_backup_target_gets_the_finalizer_and_nfs_soft_mount_options(custom: client.CustomObjectsApi) -> None:
    body = lh(
        "BackupTarget",
        "nfs-target",
        spec={"backupTargetURL": "nfs://10.0.0.5:/exports/backups?nfsOptions=hard,vers=4.1"},
    )
    stored = create(custom, "backuptargets", body)
    assert stored["metadata"]["finalizers"] == ["longhorn.io"]
    assert stored["spec"]["backupTargetURL"] == (
        "nfs://10.0.0.5:/exports/backups?nfsOptions=vers%3D4.1%2Csoft%2Ctimeo%3D300%2Cretry%3D2"
    )
