"""LonghornGateway against the demo cluster: CRUD, conflicts, validation, watch, RBAC.

Runs on both API-server backends through the suite's ``demo_cluster`` (Longhorn's own CRDs, its
admission webhooks and the simulator in ``longhorn-system``): the built-in server and a real
kube-apiserver v1.20.2. Objects made here are named ``gw-*`` and deleted again; RecurringJobs get a
cron that does not fire while the tests run.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lhdesk.core.clusters import ContextState
from lhdesk.demo.apiserver import SERVER_VERSION
from lhdesk.demo.cluster import DemoCluster
from lhdesk.demo.realapi import K8S_VERSION
from lhdesk.kube.errors import AlreadyExists, Conflict, Forbidden, Invalid, NotFound, Unreachable
from lhdesk.kube.gateway import LonghornGateway
from lhdesk.kube.kubeconfig import api_client_for, load_contexts
from lhdesk.kube.probe import probe

pytestmark = pytest.mark.integration

# What /version says (a documented difference: tests/demo/test_backend_differences.py).
KUBERNETES_VERSION = {"builtin": SERVER_VERSION["gitVersion"], "real": K8S_VERSION}
# Yearly, at 02:00 on January 1st: no run (and so no status write) while a test holds a stale copy.
CRON = "0 2 1 1 *"


@pytest.fixture
def admin(demo_cluster: DemoCluster) -> Iterator[LonghornGateway]:
    gateway = LonghornGateway(api_client_for(load_contexts(demo_cluster.kubeconfig_path), "demo-admin"))
    yield gateway
    gateway.close()


@pytest.fixture
def reader(demo_cluster: DemoCluster) -> Iterator[LonghornGateway]:
    gateway = LonghornGateway(api_client_for(load_contexts(demo_cluster.kubeconfig_path), "demo-readonly"))
    yield gateway
    gateway.close()


def system_backup(name: str) -> dict[str, Any]:
    """A SystemBackup the simulator finishes quickly (no volume backups)."""
    return {"metadata": {"name": name}, "spec": {"volumeBackupPolicy": "disabled"}}


def job(name: str, task: str = "snapshot", **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "task": task,
            "cron": CRON,
            "retain": 3,
            "concurrency": 1,
            "groups": [],
            "labels": {},
        },
    }


def test_crud_round_trip(admin: LonghornGateway) -> None:
    created = admin.create("recurringjobs", job("gw-nightly", team="gw-a"))
    try:
        assert created["kind"] == "RecurringJob"
        assert created["metadata"]["namespace"] == "longhorn-system"
        # Longhorn's mutating webhook fills in spec.name, on both servers.
        assert created["spec"]["name"] == "gw-nightly"
        assert admin.get("recurringjobs", "gw-nightly")["spec"]["retain"] == 3
        admin.create("recurringjobs", job("gw-other", team="gw-b"))
        items, version = admin.list("recurringjobs", label_selector="team=gw-a")
        assert [i["metadata"]["name"] for i in items] == ["gw-nightly"]
        assert version
        patched = admin.patch_merge("recurringjobs", "gw-nightly", {"spec": {"retain": 5}})
        assert patched["spec"]["retain"] == 5
        assert patched["spec"]["cron"] == CRON
        fresh = admin.get("recurringjobs", "gw-nightly")
        fresh["spec"]["retain"] = 7
        assert admin.replace("recurringjobs", "gw-nightly", fresh)["spec"]["retain"] == 7
        admin.delete("recurringjobs", "gw-nightly")
        with pytest.raises(NotFound) as missing:
            admin.get("recurringjobs", "gw-nightly")
        assert missing.value.name == "gw-nightly"
        assert admin.delete("recurringjobs", "gw-nightly", missing_ok=True) is None
    finally:
        for name in ("gw-nightly", "gw-other"):
            admin.delete("recurringjobs", name, missing_ok=True)


def test_stale_replace_is_a_conflict_never_an_overwrite(admin: LonghornGateway) -> None:
    admin.create("recurringjobs", job("gw-stale"))
    try:
        mine = admin.get("recurringjobs", "gw-stale")
        theirs = admin.patch_merge("recurringjobs", "gw-stale", {"spec": {"retain": 9}})
        mine["spec"]["retain"] = 1
        with pytest.raises(Conflict, match="changed by someone else"):
            admin.replace("recurringjobs", "gw-stale", mine)
        assert admin.get("recurringjobs", "gw-stale")["spec"]["retain"] == theirs["spec"]["retain"] == 9
    finally:
        admin.delete("recurringjobs", "gw-stale")


def test_same_name_twice_is_already_exists(admin: LonghornGateway) -> None:
    admin.create("systembackups", system_backup("gw-twice"))
    try:
        with pytest.raises(AlreadyExists) as twice:
            admin.create("systembackups", system_backup("gw-twice"))
        assert twice.value.name == "gw-twice"
    finally:
        admin.delete("systembackups", "gw-twice")


def test_dry_run_persists_nothing(admin: LonghornGateway) -> None:
    answer = admin.create("recurringjobs", job("gw-dry"), dry_run=True)
    assert answer["metadata"]["name"] == "gw-dry"
    assert answer["spec"]["name"] == "gw-dry"  # the mutating webhook ran
    with pytest.raises(NotFound):
        admin.get("recurringjobs", "gw-dry")


def test_schema_violation_is_invalid_with_field_causes(admin: LonghornGateway) -> None:
    with pytest.raises(Invalid) as bad:
        admin.create("recurringjobs", job("gw-bad", task="not-a-task"))
    fields = [field for field, _ in bad.value.causes]
    assert "spec.task" in fields
    assert "spec.task" in str(bad.value)


def test_webhook_refusal_is_invalid_with_longhorns_message(admin: LonghornGateway) -> None:
    bad = job("gw-bad-cron")
    bad["spec"]["cron"] = "0 0 * * 7"
    with pytest.raises(Invalid) as refused:
        admin.create("recurringjobs", bad, dry_run=True)
    assert "invalid cron format(0 0 * * 7)" in str(refused.value)


def test_watch_sees_changes_after_the_list(admin: LonghornGateway) -> None:
    _, version = admin.list("systembackups")
    creator = threading.Thread(target=admin.create, args=("systembackups", system_backup("gw-watched")))
    events = admin.watch("systembackups", version, timeout_seconds=10)
    creator.start()
    try:
        kinds = []
        for kind, obj in events:
            kinds.append(kind)
            if kind == "ADDED" and obj["metadata"]["name"] == "gw-watched":
                break
        assert "ADDED" in kinds
    finally:
        events.close()
        creator.join()
        admin.delete("systembackups", "gw-watched")


def test_setting_volumes_and_version(admin: LonghornGateway, backend: str) -> None:
    assert admin.setting("current-longhorn-version") == "v1.12.1"
    assert admin.setting("no-such-setting") is None
    volumes = admin.list_volumes()
    assert len(volumes) == 12  # the small seed
    assert all(v["metadata"]["name"].startswith("pvc-") for v in volumes)
    assert admin.server_version() == KUBERNETES_VERSION[backend]


def test_can_i_and_forbidden_writes(admin: LonghornGateway, reader: LonghornGateway) -> None:
    assert admin.can_i("create", "systembackups")
    assert reader.can_i("list", "systembackups")
    assert not reader.can_i("create", "systembackups")
    with pytest.raises(Forbidden) as denied:
        reader.create("systembackups", system_backup("gw-nope"))
    assert (denied.value.verb, denied.value.resource, denied.value.group) == (
        "create",
        "systembackups",
        "longhorn.io",
    )
    assert "cannot create systembackups.longhorn.io" in str(denied.value)


def test_probe_admin_connected_and_readonly_forbidden_for_writes(
    demo_cluster: DemoCluster, backend: str
) -> None:
    kset = load_contexts(demo_cluster.kubeconfig_path)
    admin = probe(kset, "demo-admin")
    assert admin.state is ContextState.CONNECTED, admin.message
    assert (admin.kubernetes_version, admin.longhorn_version) == (KUBERNETES_VERSION[backend], "v1.12.1")
    readonly = probe(kset, "demo-readonly")
    assert readonly.state is ContextState.FORBIDDEN
    assert "can read but not create or delete SystemBackups" in readonly.message


def test_gateway_on_a_dead_server_is_unreachable(tmp_path: Path, closed_port: int) -> None:
    config = tmp_path / "config"
    config.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{closed_port}'}}}}]\n"
        "contexts: [{name: x, context: {cluster: c}}]\n"
    )
    gateway = LonghornGateway(api_client_for(load_contexts(config), "x"), request_timeout=(1, 1))
    try:
        with pytest.raises(Unreachable, match="connection refused"):
            gateway.list("systembackups")
    finally:
        gateway.close()
