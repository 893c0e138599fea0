"""LonghornGateway against a real kube-apiserver: CRUD, conflicts, validation, watch, RBAC.

Uses ``lhdesk.demo.realapi`` (kube-apiserver v1.20.2 + etcd built from Debian's archive by
``scripts/kube-apiserver build``); skipped where that build is not available. The CRDs here are
small stand-ins (the schema bits the tests need), created through the API like any client would.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from lhdesk.core.clusters import ContextState
from lhdesk.demo import realapi
from lhdesk.kube.errors import AlreadyExists, Conflict, Expired, Forbidden, Invalid, NotFound, Unreachable
from lhdesk.kube.gateway import LonghornGateway
from lhdesk.kube.kubeconfig import api_client_for, load_contexts
from lhdesk.kube.probe import probe

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not realapi.is_built(), reason="real kube-apiserver not built (scripts/kube-apiserver build)"
    ),
]

OPEN = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
RECURRING_JOB_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "task": {"type": "string", "enum": ["snapshot", "backup", "system-backup"]},
                "cron": {"type": "string"},
                "retain": {"type": "integer", "minimum": 0, "maximum": 250},
            },
        }
    },
    "x-kubernetes-preserve-unknown-fields": True,
}


def crd(kind: str, plural: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.longhorn.io"},
        "spec": {
            "group": "longhorn.io",
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
            "versions": [
                {"name": "v1beta2", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
            ],
        },
    }


def wait_established(ext: k8s.ApiextensionsV1Api, name: str) -> None:
    """Watch one CRD until its Established condition is True."""
    response = ext.list_custom_resource_definition(
        field_selector=f"metadata.name={name}",
        watch=True,
        timeout_seconds=30,
        _preload_content=False,
        _request_timeout=(5, 40),
    )
    try:
        for line in response:
            event = json.loads(line)
            conditions = event["object"].get("status", {}).get("conditions") or []
            if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                return
    finally:
        response.release_conn()
    raise AssertionError(f"CRD {name} never became Established")


@pytest.fixture(scope="module")
def real_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Any]]:
    """A real API server with minimal Longhorn CRDs and the version setting; yields (kubeconfig, server)."""
    server = realapi.RealApiServer(tmp_path_factory.mktemp("realapi"))
    server.start()
    try:
        kset = load_contexts(server.kubeconfig_path)
        api = api_client_for(kset, "demo-admin")
        ext = k8s.ApiextensionsV1Api(api)
        for kind, plural, schema in (
            ("Setting", "settings", OPEN),
            ("Volume", "volumes", OPEN),
            ("SystemBackup", "systembackups", OPEN),
            ("SystemRestore", "systemrestores", OPEN),
            ("RecurringJob", "recurringjobs", RECURRING_JOB_SCHEMA),
        ):
            ext.create_custom_resource_definition(body=crd(kind, plural, schema))
            wait_established(ext, f"{plural}.longhorn.io")
        gateway = LonghornGateway(api)
        gateway.create("settings", {"metadata": {"name": "current-longhorn-version"}, "value": "v1.12.1"})
        gateway.create("volumes", {"metadata": {"name": "pvc-1"}, "spec": {"size": "1073741824"}})
        api.close()
        yield server.kubeconfig_path, server
    finally:
        server.stop()


@pytest.fixture
def admin(real_cluster: tuple[Path, Any]) -> Iterator[LonghornGateway]:
    gateway = LonghornGateway(api_client_for(load_contexts(real_cluster[0]), "demo-admin"))
    yield gateway
    gateway.close()


@pytest.fixture
def reader(real_cluster: tuple[Path, Any]) -> Iterator[LonghornGateway]:
    gateway = LonghornGateway(api_client_for(load_contexts(real_cluster[0]), "demo-readonly"))
    yield gateway
    gateway.close()


def job(name: str, task: str = "snapshot", **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "task": task,
            "cron": "0 2 * * *",
            "retain": 3,
            "concurrency": 1,
            "groups": [],
            "labels": {},
        },
    }


def test_crud_round_trip(admin: LonghornGateway) -> None:
    created = admin.create("recurringjobs", job("nightly", team="a"))
    assert created["kind"] == "RecurringJob"
    assert created["metadata"]["namespace"] == "longhorn-system"
    assert admin.get("recurringjobs", "nightly")["spec"]["retain"] == 3
    admin.create("recurringjobs", job("other", team="b"))
    items, version = admin.list("recurringjobs", label_selector="team=a")
    assert [i["metadata"]["name"] for i in items] == ["nightly"]
    assert version
    patched = admin.patch_merge("recurringjobs", "nightly", {"spec": {"retain": 5}})
    assert patched["spec"]["retain"] == 5
    assert patched["spec"]["cron"] == "0 2 * * *"
    fresh = admin.get("recurringjobs", "nightly")
    fresh["spec"]["retain"] = 7
    assert admin.replace("recurringjobs", "nightly", fresh)["spec"]["retain"] == 7
    admin.delete("recurringjobs", "nightly")
    admin.delete("recurringjobs", "other")
    with pytest.raises(NotFound) as missing:
        admin.get("recurringjobs", "nightly")
    assert missing.value.name == "nightly"
    assert admin.delete("recurringjobs", "nightly", missing_ok=True) is None


def test_stale_replace_is_a_conflict_never_an_overwrite(admin: LonghornGateway) -> None:
    admin.create("recurringjobs", job("stale"))
    mine = admin.get("recurringjobs", "stale")
    theirs = admin.patch_merge("recurringjobs", "stale", {"spec": {"retain": 9}})
    mine["spec"]["retain"] = 1
    with pytest.raises(Conflict, match="changed by someone else"):
        admin.replace("recurringjobs", "stale", mine)
    assert admin.get("recurringjobs", "stale")["spec"]["retain"] == theirs["spec"]["retain"] == 9
    admin.delete("recurringjobs", "stale")


def test_same_name_twice_is_already_exists(admin: LonghornGateway) -> None:
    admin.create("systembackups", {"metadata": {"name": "sb-twice"}, "spec": {}})
    with pytest.raises(AlreadyExists) as twice:
        admin.create("systembackups", {"metadata": {"name": "sb-twice"}, "spec": {}})
    assert twice.value.name == "sb-twice"
    admin.delete("systembackups", "sb-twice")


def test_dry_run_persists_nothing(admin: LonghornGateway) -> None:
    answer = admin.create("recurringjobs", job("dry"), dry_run=True)
    assert answer["metadata"]["name"] == "dry"
    with pytest.raises(NotFound):
        admin.get("recurringjobs", "dry")


def test_schema_violation_is_invalid_with_field_causes(admin: LonghornGateway) -> None:
    with pytest.raises(Invalid) as bad:
        admin.create("recurringjobs", job("bad", task="not-a-task"))
    fields = [field for field, _ in bad.value.causes]
    assert "spec.task" in fields
    assert "spec.task" in str(bad.value)


def test_watch_sees_changes_after_the_list(admin: LonghornGateway) -> None:
    _, version = admin.list("systembackups")
    creator = threading.Thread(
        target=admin.create, args=("systembackups", {"metadata": {"name": "sb-watched"}, "spec": {}})
    )
    events = admin.watch("systembackups", version, timeout_seconds=10)
    creator.start()
    try:
        kinds = []
        for kind, obj in events:
            kinds.append(kind)
            if kind == "ADDED" and obj["metadata"]["name"] == "sb-watched":
                break
        assert "ADDED" in kinds
    finally:
        events.close()
        creator.join()
    admin.delete("systembackups", "sb-watched")


def test_watch_from_a_too_old_version_raises_expired(admin: LonghornGateway) -> None:
    with pytest.raises(Expired):
        for _ in admin.watch("systembackups", "1", timeout_seconds=5):
            pass


def test_setting_volumes_and_version(admin: LonghornGateway) -> None:
    assert admin.setting("current-longhorn-version") == "v1.12.1"
    assert admin.setting("no-such-setting") is None
    assert [v["metadata"]["name"] for v in admin.list_volumes()] == ["pvc-1"]
    assert admin.server_version() == "v1.20.2"


def test_can_i_and_forbidden_writes(admin: LonghornGateway, reader: LonghornGateway) -> None:
    assert admin.can_i("create", "systembackups")
    assert reader.can_i("list", "systembackups")
    assert not reader.can_i("create", "systembackups")
    with pytest.raises(Forbidden) as denied:
        reader.create("systembackups", {"metadata": {"name": "nope"}, "spec": {}})
    assert (denied.value.verb, denied.value.resource, denied.value.group) == (
        "create",
        "systembackups",
        "longhorn.io",
    )
    assert "cannot create systembackups.longhorn.io" in str(denied.value)


def test_probe_admin_connected_and_readonly_forbidden_for_writes(real_cluster: tuple[Path, Any]) -> None:
    kset = load_contexts(real_cluster[0])
    admin = probe(kset, "demo-admin")
    assert admin.state is ContextState.CONNECTED, admin.message
    assert (admin.kubernetes_version, admin.longhorn_version) == ("v1.20.2", "v1.12.1")
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
