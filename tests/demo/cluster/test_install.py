"""Installing the simulated Longhorn through the API: what it creates, per version, and what it refuses."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from lhdesk.demo.cluster import DemoCluster
from lhdesk.demo.longhorn.install import CRD_FILES, DEMO_LABEL, RealLonghornError, load_crds

GROUP, VERSION, NS = "longhorn.io", "v1beta2", "longhorn-system"


def _task_enum(crds: list[dict[str, Any]]) -> list[str]:
    rj = next(c for c in crds if c["metadata"]["name"] == "recurringjobs.longhorn.io")
    enum: list[str] = rj["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "properties"
    ]["task"]["enum"]
    return enum


def _has_key(node: Any, key: str) -> bool:
    if isinstance(node, dict):
        return key in node or any(_has_key(v, key) for v in node.values())
    if isinstance(node, list):
        return any(_has_key(v, key) for v in node)
    return False


def test_crds_are_longhorns_own_with_the_demo_label() -> None:
    crds = load_crds("v1.12.1", (1, 33))
    assert len(crds) == len(CRD_FILES) == 8
    assert {c["spec"]["group"] for c in crds} == {"longhorn.io"}
    assert all(c["metadata"]["labels"][DEMO_LABEL] == "true" for c in crds)
    assert all(c["metadata"]["labels"]["app.kubernetes.io/version"] == "v1.12.1" for c in crds)
    assert "system-backup" in _task_enum(crds)
    assert _has_key(crds, "x-kubernetes-validations")


def test_older_longhorn_has_no_system_backup_task_and_old_servers_no_cel() -> None:
    crds = load_crds("v1.8.2", (1, 20))
    assert "system-backup" not in _task_enum(crds)
    assert len(_task_enum(crds)) == 7
    assert not _has_key(crds, "x-kubernetes-validations")
    assert "system-backup" in _task_enum(load_crds("v1.9.0", (1, 20)))


def test_install_creates_crds_webhooks_settings_and_backup_target(
    demo_cluster: DemoCluster, admin_api: client.ApiClient, custom: client.CustomObjectsApi
) -> None:
    ext = client.ApiextensionsV1Api(admin_api)
    names = {
        c.metadata.name
        for c in ext.list_custom_resource_definition(label_selector=f"{DEMO_LABEL}=true").items
    }
    assert {f"{f.removesuffix('.yaml')}.longhorn.io" for f in CRD_FILES} <= names

    adm = client.AdmissionregistrationV1Api(admin_api)
    validating = adm.read_validating_webhook_configuration("longhorn-webhook-validator")
    mutating = adm.read_mutating_webhook_configuration("longhorn-webhook-mutator")
    assert [w.name for w in validating.webhooks] == ["validator.longhorn.io"]
    assert [w.name for w in mutating.webhooks] == ["mutator.longhorn.io"]
    hook = validating.webhooks[0]
    assert hook.client_config.url == demo_cluster.webhook.validation_url
    assert base64.b64decode(hook.client_config.ca_bundle) == demo_cluster.webhook.ca_pem
    assert hook.failure_policy == "Fail"
    assert hook.side_effects == "None"
    rules = {r.resources[0]: sorted(r.operations) for r in hook.rules}
    assert rules == {
        "recurringjobs": ["CREATE", "UPDATE"],
        "systembackups": ["CREATE"],
        "systemrestores": ["CREATE"],
        "backuptargets": ["CREATE", "DELETE", "UPDATE"],
    }
    assert {r.resources[0]: sorted(r.operations) for r in mutating.webhooks[0].rules} == {
        "recurringjobs": ["CREATE", "UPDATE"],
        "systembackups": ["CREATE", "UPDATE"],
        "backuptargets": ["CREATE", "UPDATE"],
    }

    def setting(name: str) -> str:
        value: str = custom.get_namespaced_custom_object(GROUP, VERSION, NS, "settings", name)["value"]
        return value

    assert setting("current-longhorn-version") == "v1.12.1"
    assert setting("recurring-job-max-retention") == "100"
    assert setting("default-engine-image") == "longhornio/longhorn-engine:v1.12.1"

    target = custom.get_namespaced_custom_object(GROUP, VERSION, NS, "backuptargets", "default")
    assert target["spec"]["backupTargetURL"] == f"s3://{demo_cluster.bucket}@us-east-1/"
    assert target["metadata"]["finalizers"] == ["longhorn.io"]
    secret = client.CoreV1Api(admin_api).read_namespaced_secret(target["spec"]["credentialSecret"], NS)
    data = {k: base64.b64decode(v).decode() for k, v in secret.data.items()}
    assert set(data) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINTS"}
    assert data["AWS_ENDPOINTS"] == demo_cluster.s3_endpoint


# --- a bare API server: attach mode, and refusing a real Longhorn ------------------------------------


@pytest.fixture(params=["builtin", "real"])
def bare_kubeconfig(
    request: pytest.FixtureRequest, tmp_path: Path, backend_guard: Callable[[str], None]
) -> Iterator[Path]:
    """A fresh API server of each backend with nothing installed; yields its kubeconfig."""
    backend_guard(str(request.param))
    if request.param == "builtin":
        from lhdesk.demo.apiserver import ApiServer

        server: Any = ApiServer("127.0.0.1", 0)
    else:
        from lhdesk.demo.realapi import RealApiServer

        server = RealApiServer(tmp_path / "real")
    server.start()
    try:
        yield server.write_kubeconfig(tmp_path / "kubeconfig")
    finally:
        server.stop()


def _admin(kubeconfig: Path) -> Any:
    return config.new_client_from_config(str(kubeconfig), context="demo-admin")


def test_attach_runs_the_simulator_on_an_existing_cluster_and_unregisters_its_webhooks(
    bare_kubeconfig: Path, tmp_path: Path
) -> None:
    cluster = DemoCluster.attach(
        bare_kubeconfig, "demo-admin", workdir=tmp_path / "attach", seed="none", speed=10
    )
    api = _admin(bare_kubeconfig)
    try:
        cluster.start()
        assert cluster.attached
        assert cluster.api_faults is None
        custom = client.CustomObjectsApi(api)
        probe = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "RecurringJob",
            "metadata": {"name": "attached"},
            "spec": {"task": "snapshot", "cron": "0 0 * * *"},
        }
        stored = custom.create_namespaced_custom_object(
            GROUP, VERSION, NS, "recurringjobs", probe, dry_run="All"
        )
        assert stored["spec"]["concurrency"] == 10
        cluster.stop()
        adm = client.AdmissionregistrationV1Api(api)
        with pytest.raises(ApiException) as caught:
            adm.read_validating_webhook_configuration("longhorn-webhook-validator")
        assert caught.value.status == 404
        with pytest.raises(ApiException) as caught:
            adm.read_mutating_webhook_configuration("longhorn-webhook-mutator")
        assert caught.value.status == 404
        # What was installed stays: the cluster outlives the simulator.
        assert custom.get_namespaced_custom_object(GROUP, VERSION, NS, "backuptargets", "default")
    finally:
        cluster.stop()
        api.close()


def test_attach_refuses_a_cluster_with_a_real_longhorn(bare_kubeconfig: Path, tmp_path: Path) -> None:
    api = _admin(bare_kubeconfig)
    try:
        ext = client.ApiextensionsV1Api(api)
        crd = load_crds("v1.12.1", (1, 20))[0]
        del crd["metadata"]["labels"][DEMO_LABEL]
        ext.create_custom_resource_definition(crd)
        cluster = DemoCluster.attach(bare_kubeconfig, workdir=tmp_path / "attach", seed="none")
        with pytest.raises(RealLonghornError, match="Longhorn is installed on this cluster"):
            cluster.start()
        adm = client.AdmissionregistrationV1Api(api)
        assert adm.list_validating_webhook_configuration().items == []
        assert {c.metadata.name for c in ext.list_custom_resource_definition().items} == {
            crd["metadata"]["name"]
        }
    finally:
        api.close()


def test_attach_refuses_a_cluster_running_longhorn_manager(bare_kubeconfig: Path, tmp_path: Path) -> None:
    api = _admin(bare_kubeconfig)
    try:
        apps = client.AppsV1Api(api)
        # Its own namespace: a controller-less kube-apiserver creates "default" a moment after it is ready.
        client.CoreV1Api(api).create_namespace({"metadata": {"name": "storage"}})
        daemonset = {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "longhorn-manager", "namespace": "storage"},
            "spec": {
                "selector": {"matchLabels": {"app": "longhorn-manager"}},
                "template": {
                    "metadata": {"labels": {"app": "longhorn-manager"}},
                    "spec": {
                        "containers": [
                            {"name": "longhorn-manager", "image": "longhornio/longhorn-manager:v1.12.1"}
                        ]
                    },
                },
            },
        }
        try:
            apps.create_namespaced_daemon_set("storage", daemonset)
        except ApiException as exc:
            if exc.status == 404:
                pytest.skip("this API server does not serve apps/v1 DaemonSets")
            raise
        cluster = DemoCluster.attach(bare_kubeconfig, workdir=tmp_path / "attach", seed="none")
        with pytest.raises(RealLonghornError, match="DaemonSet storage/longhorn-manager"):
            cluster.start()
    finally:
        api.close()


def test_longhorn_before_1_9_has_no_system_backup_job(
    demo_cluster_factory: Callable[..., DemoCluster],
) -> None:
    # Shared with the other v1.8.2 tests of this backend; this test only reads and dry-runs.
    cluster = demo_cluster_factory(longhorn_version="v1.8.2", seed="small", speed=20.0)
    api = cluster.api_client()
    custom = client.CustomObjectsApi(api)
    tasks = {
        j["spec"]["task"]
        for j in custom.list_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs")["items"]
    }
    assert "system-backup" not in tasks
    assert {"snapshot", "backup"} <= tasks
    version = custom.get_namespaced_custom_object(GROUP, VERSION, NS, "settings", "current-longhorn-version")
    assert version["value"] == "v1.8.2"
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "RecurringJob",
        "metadata": {"name": "nightly"},
        "spec": {"task": "system-backup", "cron": "0 1 * * *", "retain": 3},
    }
    with pytest.raises(ApiException) as caught:
        custom.create_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", body, dry_run="All")
    message = json.loads(caught.value.body)["message"]
    assert caught.value.status == 422
    assert 'spec.task: Unsupported value: "system-backup"' in message
    labels = [
        sb["metadata"].get("labels") or {}
        for sb in custom.list_namespaced_custom_object(GROUP, VERSION, NS, "systembackups")["items"]
    ]
    assert not any("recurring-job.longhorn.io/system-backup" in lb for lb in labels)
    api.close()
