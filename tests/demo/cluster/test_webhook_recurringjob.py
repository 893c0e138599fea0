"""Longhorn's RecurringJob admission, through a real API server calling the demo's webhook over HTTPS.

Every case is a ``dryRun=All`` create with the ``kubernetes`` client, so the API server runs the whole
admission chain (mutating webhook, schema, validating webhook) and stores nothing. The expected
messages are longhorn-manager v1.12.1's, behind kube-apiserver's "admission webhook ... denied the
request: " prefix.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from lhdesk.demo.cluster import DemoCluster

pytestmark = pytest.mark.integration

GROUP, VERSION, NS = "longhorn.io", "v1beta2", "longhorn-system"
DENIED = 'admission webhook "validator.longhorn.io" denied the request: '
DEFAULTS = {"groups": [], "labels": {}, "parameters": {}, "concurrency": 10}


def job(metadata_name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "RecurringJob",
        "metadata": {"name": metadata_name},
        "spec": spec,
    }


def dry_run(custom: client.CustomObjectsApi, body: dict[str, Any]) -> dict[str, Any]:
    obj: dict[str, Any] = custom.create_namespaced_custom_object(
        GROUP, VERSION, NS, "recurringjobs", body, dry_run="All"
    )
    return obj


def refusal(custom: client.CustomObjectsApi, body: dict[str, Any]) -> tuple[int, str]:
    with pytest.raises(ApiException) as caught:
        dry_run(custom, body)
    return caught.value.status, json.loads(caught.value.body)["message"]


# (name, spec sent, fields expected in the stored spec)
VALID = [
    (
        "snap",
        {"task": "snapshot", "cron": "0 * * * *", "retain": 0},
        {"retain": 1, **DEFAULTS, "name": "snap"},
    ),
    (
        "snap-force",
        {"task": "snapshot-force-create", "cron": "*/15 * * * *", "retain": 3, "concurrency": 2},
        {"retain": 3, "concurrency": 2},
    ),
    ("cleanup", {"task": "snapshot-cleanup", "cron": "@daily", "retain": 5}, {"retain": 0}),
    ("delete-neg", {"task": "snapshot-delete", "cron": "0 3 * * sun", "retain": -1}, {"retain": 0}),
    ("delete-zero", {"task": "snapshot-delete", "cron": "0 3 * * SUN", "retain": 0}, {"retain": 0}),
    (
        "backup-full",
        {"task": "backup", "cron": "0 2 * * *", "retain": 7, "parameters": {"full-backup-interval": "5"}},
        {"parameters": {"full-backup-interval": "5"}, "retain": 7},
    ),
    (
        "backup-negative-interval",
        {"task": "backup", "cron": "0 2 * * *", "parameters": {"full-backup-interval": "-3"}},
        {"retain": 1},
    ),
    (
        "backup-policy-accepted",
        {
            "task": "backup",
            "cron": "0 2 * * *",
            "retain": 2,
            "parameters": {"volume-backup-policy": "always"},
        },
        {"parameters": {"volume-backup-policy": "always"}},
    ),
    ("backup-force", {"task": "backup-force-create", "cron": "@every 1h30m", "retain": 0}, {"retain": 1}),
    (
        "trim",
        {"task": "filesystem-trim", "cron": "0 4 * * 0", "retain": 9, "concurrency": 0},
        {"retain": 0, "concurrency": 10},
    ),
    (
        "system",
        {
            "task": "system-backup",
            "cron": "30 1 * * *",
            "retain": 0,
            "parameters": {"volume-backup-policy": "foo"},
        },
        {"retain": 1, "parameters": {"volume-backup-policy": "foo"}, "groups": [], "labels": {}},
    ),
    (
        "snap-params-ignored",
        {"task": "snapshot", "cron": "0 * * * *", "retain": 2, "parameters": {"anything": "goes"}},
        {"parameters": {"anything": "goes"}},
    ),
    (
        "labelled",
        {
            "task": "snapshot",
            "cron": "0 * * * *",
            "retain": 2,
            "labels": {"example.com/team": "storage", "tier": "gold"},
            "groups": ["default", "Critical_1"],
        },
        {"labels": {"example.com/team": "storage", "tier": "gold"}, "groups": ["default", "Critical_1"]},
    ),
]


@pytest.mark.parametrize(("name", "spec", "expected"), VALID, ids=[v[0] for v in VALID])
def test_valid_jobs_are_admitted_and_mutated_like_longhorn(
    custom: client.CustomObjectsApi, name: str, spec: dict[str, Any], expected: dict[str, Any]
) -> None:
    stored = dry_run(custom, job(name, **spec))
    for key, value in expected.items():
        assert stored["spec"][key] == value, key
    assert stored["spec"]["name"] == name


INVALID = [
    ("x", {"task": "snapshot", "cron": "0 * * * *"}, "invalid name x"),
    (
        "cron-dow7",
        {"task": "snapshot", "cron": "0 0 * * 7"},
        "invalid cron format(0 0 * * 7): End of range (7) above maximum (6): 7",
    ),
    (
        "cron-seconds",
        {"task": "backup", "cron": "0 */5 * * * *"},
        "invalid cron format(0 */5 * * * *): Expected exactly 5 fields, found 6: 0 */5 * * * *",
    ),
    (
        "cron-tz",
        {"task": "snapshot", "cron": "CRON_TZ=UTC 0 0 * * *"},
        "invalid cron format(CRON_TZ=UTC 0 0 * * *): "
        "Expected exactly 5 fields, found 6: CRON_TZ=UTC 0 0 * * *",
    ),
    (
        "cron-quartz",
        {"task": "snapshot-cleanup", "cron": "0 0 L * *"},
        "invalid cron format(0 0 L * *): "
        'Failed to parse int from L: strconv.Atoi: parsing "L": invalid syntax',
    ),
    (
        "cron-descriptor",
        {"task": "filesystem-trim", "cron": "@fortnightly"},
        "invalid cron format(@fortnightly): Unrecognized descriptor: @fortnightly",
    ),
    (
        "cron-every",
        {"task": "system-backup", "cron": "@every 1d"},
        "invalid cron format(@every 1d): "
        'Failed to parse duration @every 1d: time: unknown unit "d" in duration "1d"',
    ),
    (
        "retain-over",
        {"task": "backup", "cron": "0 0 * * *", "retain": 101},
        "retain value should be less than or equal to 100",
    ),
    (
        "no-task",
        {"cron": "0 0 * * *", "retain": 2},
        "invalid job {Name:no-task Groups:[] Task: Cron:0 0 * * * Retain:2 Concurrency:10 "
        "Labels:map[] Parameters:map[]}",
    ),
    (
        "no-cron",
        {"task": "snapshot", "groups": ["a1", "b2"], "labels": {"k": "v"}},
        "invalid job {Name:no-cron Groups:[a1 b2] Task:snapshot Cron: Retain:1 Concurrency:10 "
        "Labels:map[k:v] Parameters:map[]}",
    ),
    (
        "long-spec-name",
        {"name": "a" * 41, "task": "snapshot", "cron": "0 0 * * *"},
        f"job name {'a' * 41} must be 40 characters or less",
    ),
    (
        "group-short",
        {"task": "snapshot", "cron": "0 0 * * *", "groups": ["default", "a"]},
        "invalid group name a",
    ),
    (
        "group-dash",
        {"task": "snapshot-delete", "cron": "0 0 * * *", "groups": ["-bad"]},
        "invalid group name -bad",
    ),
    (
        "label-empty-value",
        {"task": "snapshot", "cron": "0 0 * * *", "labels": {"team": ""}},
        "value for label with key team cannot be empty",
    ),
    (
        "label-reserved",
        {"task": "backup", "cron": "0 0 * * *", "labels": {"KubernetesStatus": "x"}},
        "specified snapshot backup labels contain reserved keyword KubernetesStatus",
    ),
    (
        "label-bad-key",
        {"task": "snapshot", "cron": "0 0 * * *", "labels": {"-team": "x"}},
        "at least one error encountered while validating backup label with key -team: "
        "name part must consist of alphanumeric characters, '-', '_' or '.', "
        "and must start and end with an alphanumeric character (e.g. "
        "'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    ),
    (
        "param-not-number",
        {"task": "backup", "cron": "0 0 * * *", "parameters": {"full-backup-interval": "five"}},
        "failed to validate recurring job backup task parameters: full-backup-interval:five is not number: "
        'strconv.Atoi: parsing "five": invalid syntax',
    ),
    (
        "param-policy",
        {"task": "backup", "cron": "0 0 * * *", "parameters": {"volume-backup-policy": "sometimes"}},
        "failed to validate recurring job backup task parameters: "
        "volume-backup-policy:sometimes is not a valid value: "
        "supported values: [always if-not-present disabled]",
    ),
    (
        "param-unknown",
        {"task": "backup-force-create", "cron": "0 0 * * *", "parameters": {"foo": "bar"}},
        "failed to validate recurring job backup task parameters: foo:bar is not a valid parameter",
    ),
]


@pytest.mark.parametrize(("name", "spec", "message"), INVALID, ids=[i[0] for i in INVALID])
def test_invalid_jobs_are_refused_with_longhorns_message(
    custom: client.CustomObjectsApi, name: str, spec: dict[str, Any], message: str
) -> None:
    status, text = refusal(custom, job(name, **spec))
    assert status == 422
    assert text == DENIED + message


def test_unknown_task_is_refused_by_the_crd_schema_before_the_webhook(
    custom: client.CustomObjectsApi,
) -> None:
    status, text = refusal(custom, job("bad-task", task="not-a-task", cron="0 0 * * *"))
    assert status == 422
    assert 'spec.task: Unsupported value: "not-a-task"' in text
    assert "validator.longhorn.io" not in text


def test_name_is_corrected_on_create(custom: client.CustomObjectsApi) -> None:
    stored = dry_run(custom, job("Nightly-Snap", task="snapshot", cron="0 0 * * *"))
    assert stored["metadata"]["name"] == "nightly-snap"
    assert stored["spec"]["name"] == "Nightly-Snap"


@pytest.fixture
def max_retention(custom: client.CustomObjectsApi) -> Iterator[Callable[[str], None]]:
    """Set recurring-job-max-retention for one test; restored afterwards."""
    before = custom.get_namespaced_custom_object(
        GROUP, VERSION, NS, "settings", "recurring-job-max-retention"
    )

    def set_value(value: str) -> None:
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, NS, "settings", "recurring-job-max-retention", {"value": value}
        )

    yield set_value
    set_value(before["value"])


def test_retain_bound_follows_the_max_retention_setting(
    custom: client.CustomObjectsApi, max_retention: Callable[[str], None]
) -> None:
    max_retention("250")
    assert (
        dry_run(custom, job("keep-many", task="snapshot", cron="0 0 * * *", retain=200))["spec"]["retain"]
        == 200
    )
    status, text = refusal(custom, job("keep-more", task="snapshot", cron="0 0 * * *", retain=251))
    assert (status, text) == (422, DENIED + "retain value should be less than or equal to 250")


def test_update_is_validated_and_mutated_too(custom: client.CustomObjectsApi) -> None:
    name = "update-me"
    custom.create_namespaced_custom_object(
        GROUP, VERSION, NS, "recurringjobs", job(name, task="backup", cron="0 1 * * *", retain=3)
    )
    try:
        with pytest.raises(ApiException) as caught:
            custom.patch_namespaced_custom_object(
                GROUP, VERSION, NS, "recurringjobs", name, {"spec": {"retain": 500}}
            )
        assert (
            json.loads(caught.value.body)["message"]
            == DENIED + "retain value should be less than or equal to 100"
        )
        with pytest.raises(ApiException) as caught:
            custom.patch_namespaced_custom_object(
                GROUP, VERSION, NS, "recurringjobs", name, {"spec": {"cron": "61 * * * *"}}
            )
        assert json.loads(caught.value.body)["message"] == (
            DENIED + "invalid cron format(61 * * * *): End of range (61) above maximum (59): 61"
        )
        patched = custom.patch_namespaced_custom_object(
            GROUP, VERSION, NS, "recurringjobs", name, {"spec": {"concurrency": 0, "retain": 0}}
        )
        assert patched["spec"]["concurrency"] == 10
        assert patched["spec"]["retain"] == 1
    finally:
        custom.delete_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", name)


def test_readonly_context_cannot_create(readonly_api: client.ApiClient) -> None:
    with pytest.raises(ApiException) as caught:
        dry_run(client.CustomObjectsApi(readonly_api), job("nope", task="snapshot", cron="0 0 * * *"))
    assert caught.value.status == 403


def test_kubectl_apply_dry_run_server_shows_longhorns_message(
    kubectl: Callable[..., Any], demo_cluster: DemoCluster
) -> None:
    manifest = yaml.safe_dump(job("kubectl-bad-cron", task="snapshot", cron="0 0 * * 7", retain=1))
    result = kubectl("apply", "--dry-run=server", "-f", "-", stdin=manifest)
    assert result.returncode != 0
    # Longhorn's refusals carry a FieldValueInvalid cause, so kubectl prints the cause, not the message.
    assert result.stderr.strip() == (
        "The request is invalid: : invalid cron format(0 0 * * 7): End of range (7) above maximum (6): 7"
    )

    good = yaml.safe_dump(job("kubectl-good", task="system-backup", cron="@daily", retain=3))
    result = kubectl("apply", "--dry-run=server", "-f", "-", "-o", "json", stdin=good)
    assert result.returncode == 0, result.stderr
    stored = json.loads(result.stdout)
    assert stored["spec"]["concurrency"] == 10
    assert stored["spec"]["name"] == "kubectl-good"
    assert kubectl("get", "recurringjob", "kubectl-good").returncode != 0  # nothing was stored
