"""Probing the demo cluster's contexts, exactly as a real cluster is probed (through a kubeconfig).

``demo`` is the suite's ``demo_cluster``: every test runs on the built-in API server and on the real
kube-apiserver.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lhdesk.core.clusters import ContextState
from lhdesk.demo.cluster import DemoCluster
from lhdesk.kube.gateway import LonghornGateway
from lhdesk.kube.kubeconfig import api_client_for, load_contexts
from lhdesk.kube.probe import probe, probe_all

pytestmark = pytest.mark.integration


@pytest.fixture
def demo(demo_cluster: DemoCluster) -> DemoCluster:
    return demo_cluster


def test_demo_admin_is_connected_with_the_longhorn_version(demo: DemoCluster) -> None:
    result = probe(load_contexts(demo.kubeconfig_path), "demo-admin")
    assert result.state is ContextState.CONNECTED, result.message
    assert result.longhorn_version == "v1.12.1"
    assert result.kubernetes_version
    assert result.capabilities is not None
    assert result.capabilities.system_backup_job
    assert result.message.startswith("Longhorn v1.12.1 on Kubernetes ")


def test_demo_readonly_is_forbidden_for_writes(demo: DemoCluster) -> None:
    result = probe(load_contexts(demo.kubeconfig_path), "demo-readonly")
    assert result.state is ContextState.FORBIDDEN
    assert result.longhorn_version == "v1.12.1"
    assert "can read but not create or delete SystemBackups" in result.message
    assert "create systembackups.longhorn.io" in result.missing_permissions
    assert not any(p.startswith(("get ", "list ", "watch ")) for p in result.missing_permissions)


def test_wrong_token_on_the_demo_is_auth_required(demo: DemoCluster, tmp_path: Path) -> None:
    doc = yaml.safe_load(demo.kubeconfig_path.read_text())
    for user in doc["users"]:
        user["user"]["token"] = "an-expired-token-0123456789"
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc))
    result = probe(load_contexts(path), "demo-admin")
    assert result.state is ContextState.AUTH_REQUIRED
    assert "401" in result.message


def test_probe_all_over_the_demo(demo: DemoCluster) -> None:
    results = probe_all(load_contexts(demo.kubeconfig_path))
    assert [(r.context, r.state) for r in results] == [
        ("demo-admin", ContextState.CONNECTED),
        ("demo-readonly", ContextState.FORBIDDEN),
    ]


def test_gateway_reads_the_demo(demo: DemoCluster) -> None:
    gateway = LonghornGateway(api_client_for(load_contexts(demo.kubeconfig_path), "demo-admin"))
    try:
        assert gateway.setting("current-longhorn-version") == "v1.12.1"
        assert gateway.list_volumes()
        assert gateway.can_i("create", "systembackups")
        _, version = gateway.list("systembackups")
        assert version
    finally:
        gateway.close()
