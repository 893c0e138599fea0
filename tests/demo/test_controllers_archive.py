"""What a system backup archive holds: Longhorn's filters over the cluster's resources."""

from __future__ import annotations

import io
import uuid
import zipfile
from typing import Any

import pytest
import yaml
from kubernetes import client

from lhdesk.core import backupstore as bs

pytestmark = pytest.mark.integration

# ``lh`` (tests/demo/conftest.py): a running simulator over an API server and moto S3.
Longhorn = Any
DRIVER = "driver.longhorn.io"


def _archive_lists(lh: Longhorn, name: str) -> dict[str, dict[str, Any]]:
    data = lh.read(bs.system_backup_zip_path("v1.12.1", name))
    lists = {}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for entry in zf.namelist():
            if entry.endswith(".yaml") and "/yamls/" in entry:
                lists[entry.split("/yamls/", 1)[1][: -len(".yaml")]] = yaml.safe_load(zf.read(entry))
    return lists


def _names(doc: dict[str, Any]) -> set[str]:
    return {item["metadata"]["name"] for item in doc["items"]}


def test_archive_applies_longhorns_filters(lh: Longhorn) -> None:
    api = lh.stack.api_client
    core = client.CoreV1Api(api)
    rbac = client.RbacAuthorizationV1Api(api)
    storage = client.StorageV1Api(api)
    tag = uuid.uuid4().hex[:6]
    ns = lh.namespace

    core.create_namespaced_service_account(ns, {"metadata": {"name": "longhorn-service-account"}})
    rbac.create_cluster_role({"metadata": {"name": f"longhorn-role-{tag}"}, "rules": []})
    rbac.create_cluster_role({"metadata": {"name": f"unrelated-role-{tag}"}, "rules": []})
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": f"longhorn-bind-{tag}"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": f"longhorn-role-{tag}",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "longhorn-service-account", "namespace": ns}],
        }
    )
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": f"unrelated-bind-{tag}"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": f"unrelated-role-{tag}",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "someone", "namespace": "default"}],
        }
    )
    core.create_namespaced_config_map(ns, {"metadata": {"name": "longhorn-storageclass"}, "data": {"a": "b"}})
    core.create_namespaced_service(
        ns,
        {
            "metadata": {"name": "longhorn-frontend"},
            "spec": {"ports": [{"port": 80, "targetPort": 8000}], "selector": {"app": "longhorn-ui"}},
        },
    )
    storage.create_storage_class({"metadata": {"name": f"longhorn-{tag}"}, "provisioner": DRIVER})
    storage.create_storage_class({"metadata": {"name": f"other-{tag}"}, "provisioner": "example.com/nfs"})
    core.create_persistent_volume(
        {
            "metadata": {"name": f"pv-{tag}"},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": f"longhorn-{tag}",
                "csi": {"driver": DRIVER, "volumeHandle": f"pv-{tag}"},
            },
        }
    )
    core.create_namespaced_persistent_volume_claim(
        "default",
        {
            "metadata": {"name": f"data-{tag}"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": f"longhorn-{tag}",
                "resources": {"requests": {"storage": "1Gi"}},
                "volumeName": f"pv-{tag}",
            },
        },
    )
    core.create_namespaced_persistent_volume_claim(
        "default",
        {
            "metadata": {"name": f"other-{tag}"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": f"other-{tag}",
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )

    lh.create("systembackups", {"metadata": {"name": "filters"}, "spec": {"volumeBackupPolicy": "disabled"}})
    lh.wait_state("systembackups", "filters", "Ready", "Error")
    lists = _archive_lists(lh, "filters")

    assert _names(lists["kubernetes/serviceaccounts"]) == {"longhorn-service-account"}
    # longhorn-manager's quirk: bindings in clusterroles.yaml, roles in clusterrolebindings.yaml.
    assert lists["kubernetes/clusterroles"]["kind"] == "ClusterRoleBindingList"
    assert _names(lists["kubernetes/clusterroles"]) == {f"longhorn-bind-{tag}"}
    assert lists["kubernetes/clusterrolebindings"]["kind"] == "ClusterRoleList"
    assert _names(lists["kubernetes/clusterrolebindings"]) == {f"longhorn-role-{tag}"}
    assert _names(lists["kubernetes/configmaps"]) >= {"longhorn-storageclass"}
    (service,) = lists["kubernetes/services"]["items"]
    assert "clusterIP" not in service["spec"]
    assert "clusterIPs" not in service["spec"]
    assert f"longhorn-{tag}" in _names(lists["kubernetes/storageclasses"])
    assert f"other-{tag}" not in _names(lists["kubernetes/storageclasses"])
    assert f"pv-{tag}" in _names(lists["kubernetes/persistentvolumes"])
    claims = _names(lists["kubernetes/persistentvolumeclaims"])
    assert f"data-{tag}" in claims
    assert f"other-{tag}" not in claims
    assert lists["kubernetes/persistentvolumeclaims"]["kind"] == "PersistentVolumeClaimList"
    assert lists["kubernetes/persistentvolumeclaims"]["apiVersion"] == "v1"
    # Secrets are never in the bundle.
    assert not any("secret" in key for key in lists)
