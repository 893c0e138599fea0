"""Admission webhooks called the way kube-apiserver calls them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

pytestmark = pytest.mark.integration

GROUP, VERSION, NS = "longhorn.io", "v1beta2", "longhorn-system"
ADM = "admissionregistration.k8s.io"


def rj(name: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"task": "snapshot", "cron": "* * * * *", "retain": 1}
    body.update(spec)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "RecurringJob",
        "metadata": {"name": name},
        "spec": body,
    }


def _body(exc: pytest.ExceptionInfo[client.ApiException]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(exc.value.body)
    return out


@pytest.fixture
def hooked(demo: Any, webhook: Any) -> Iterator[Any]:
    """The test webhook registered for recurringjobs (create/update/delete) for one test."""
    adm = client.AdmissionregistrationV1Api(demo.api)
    mutating, validating = webhook.configurations(["recurringjobs"], ["CREATE", "UPDATE", "DELETE"])
    adm.create_mutating_webhook_configuration(body=mutating)
    adm.create_validating_webhook_configuration(body=validating)
    webhook.reviews.clear()
    yield demo
    adm.delete_mutating_webhook_configuration("test-mutating")
    adm.delete_validating_webhook_configuration("test-validating")


def test_validating_webhook_refusal_carries_its_message(hooked: Any) -> None:
    with pytest.raises(client.ApiException) as exc:
        hooked.custom.create_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", rj("deny-me"))
    assert exc.value.status == 400
    assert (
        _body(exc)["message"]
        == 'admission webhook "validate.test.example.com" denied the request: no deny-me here'
    )
    with pytest.raises(client.ApiException):
        hooked.custom.get_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", "deny-me")


def test_mutating_webhook_patch_is_applied(hooked: Any, webhook: Any) -> None:
    got = hooked.custom.create_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", rj("mutated-1"))
    assert got["spec"]["concurrency"] == 10
    assert got["metadata"]["labels"] == {"mutated": "yes"}
    paths = [p for p, _ in webhook.reviews]
    assert paths == ["/mutate?timeout=5s", "/validate?timeout=5s"]
    mutate_req = webhook.reviews[0][1]["request"]
    validate_req = webhook.reviews[1][1]["request"]
    assert webhook.reviews[0][1]["apiVersion"] == "admission.k8s.io/v1"
    assert mutate_req["operation"] == "CREATE"
    assert mutate_req["kind"] == {"group": GROUP, "version": VERSION, "kind": "RecurringJob"}
    assert mutate_req["resource"] == {"group": GROUP, "version": VERSION, "resource": "recurringjobs"}
    assert mutate_req["namespace"] == NS
    assert mutate_req["userInfo"]["username"] == "demo-admin"
    assert mutate_req["dryRun"] is False
    assert "uid" not in mutate_req["object"]["metadata"]
    # The validating webhook sees the mutated, registry-completed object.
    assert validate_req["object"]["spec"]["concurrency"] == 10
    assert validate_req["object"]["metadata"]["uid"]


def test_update_delete_and_status_reviews(hooked: Any, webhook: Any) -> None:
    hooked.custom.create_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", rj("lifecycle"))
    webhook.reviews.clear()
    hooked.custom.patch_namespaced_custom_object(
        GROUP, VERSION, NS, "recurringjobs", "lifecycle", {"spec": {"retain": 4}}
    )
    ops = [(p.split("?")[0], r["request"]["operation"]) for p, r in webhook.reviews]
    assert ops == [("/mutate", "UPDATE"), ("/validate", "UPDATE")]
    assert webhook.reviews[1][1]["request"]["oldObject"]["spec"]["retain"] == 1
    webhook.reviews.clear()
    # The rules name "recurringjobs", not "recurringjobs/status": status writes are not reviewed.
    hooked.custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, NS, "recurringjobs", "lifecycle", {"status": {"executionCount": 1}}
    )
    assert webhook.reviews == []
    hooked.custom.delete_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", "lifecycle")
    ops = [(p.split("?")[0], r["request"]["operation"]) for p, r in webhook.reviews]
    assert ops == [("/mutate", "DELETE"), ("/validate", "DELETE")]
    assert webhook.reviews[1][1]["request"]["object"] is None
    assert webhook.reviews[1][1]["request"]["oldObject"]["metadata"]["name"] == "lifecycle"


def test_dry_run_goes_through_admission_and_stores_nothing(hooked: Any, webhook: Any) -> None:
    got = hooked.custom.create_namespaced_custom_object(
        GROUP, VERSION, NS, "recurringjobs", rj("dry-one"), dry_run="All"
    )
    assert got["spec"]["concurrency"] == 10
    assert [r["request"]["dryRun"] for _p, r in webhook.reviews] == [True, True]
    with pytest.raises(client.ApiException) as exc:
        hooked.custom.get_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", "dry-one")
    assert exc.value.status == 404
    with pytest.raises(client.ApiException) as exc:
        hooked.custom.create_namespaced_custom_object(
            GROUP, VERSION, NS, "recurringjobs", rj("deny-dry"), dry_run="All"
        )
    assert _body(exc)["message"].endswith("no deny-dry here")


def test_warnings_reach_the_client(hooked: Any) -> None:
    resp = hooked.custom.create_namespaced_custom_object_with_http_info(
        GROUP, VERSION, NS, "recurringjobs", rj("warn-me")
    )
    _data, _status, headers = resp
    assert headers.get("Warning") == '299 - "warn-me is borderline"'


def test_schema_validation_comes_after_mutation_and_before_validation(hooked: Any, webhook: Any) -> None:
    with pytest.raises(client.ApiException) as exc:
        hooked.custom.create_namespaced_custom_object(
            GROUP, VERSION, NS, "recurringjobs", rj("bad-task", task="nope")
        )
    assert exc.value.status == 422
    assert [p.split("?")[0] for p, _ in webhook.reviews] == ["/mutate"]


def test_failure_policy(demo: Any, webhook: Any) -> None:
    adm = client.AdmissionregistrationV1Api(demo.api)
    _m, validating = webhook.configurations(["recurringjobs"], url="https://127.0.0.1:1")
    adm.create_validating_webhook_configuration(body=validating)
    try:
        with pytest.raises(client.ApiException) as exc:
            demo.custom.create_namespaced_custom_object(
                GROUP, VERSION, NS, "recurringjobs", rj("unreachable")
            )
        assert exc.value.status == 500
        message = _body(exc)["message"]
        assert message.startswith(
            'Internal error occurred: failed calling webhook "validate.test.example.com": '
            'failed to call webhook: Post "https://127.0.0.1:1/validate?timeout=5s"'
        )
        adm.patch_validating_webhook_configuration(
            "test-validating", [{"op": "replace", "path": "/webhooks/0/failurePolicy", "value": "Ignore"}]
        )
        demo.custom.create_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", rj("unreachable"))
    finally:
        adm.delete_validating_webhook_configuration("test-validating")


def test_webhook_with_side_effects_refuses_dry_run(demo: Any, webhook: Any) -> None:
    adm = client.AdmissionregistrationV1Api(demo.api)
    _m, validating = webhook.configurations(["recurringjobs"], side_effects="NoneOnDryRun")
    validating["webhooks"][0]["sideEffects"] = "NoneOnDryRun"
    adm.create_validating_webhook_configuration(body=validating)
    try:
        demo.custom.create_namespaced_custom_object(
            GROUP, VERSION, NS, "recurringjobs", rj("side-ok"), dry_run="All"
        )
        bad = dict(validating)
        bad["metadata"] = {"name": "test-validating-2"}
        bad["webhooks"] = [dict(validating["webhooks"][0], name="some.test.example.com", sideEffects="Some")]
        with pytest.raises(client.ApiException) as exc:
            adm.create_validating_webhook_configuration(body=bad)
        assert exc.value.status == 422
    finally:
        adm.delete_validating_webhook_configuration("test-validating")


def test_selectors_limit_which_objects_are_reviewed(demo: Any, webhook: Any) -> None:
    adm = client.AdmissionregistrationV1Api(demo.api)
    _m, validating = webhook.configurations(["*"])
    validating["webhooks"][0]["objectSelector"] = {"matchLabels": {"review": "yes"}}
    validating["webhooks"][0]["namespaceSelector"] = {
        "matchExpressions": [{"key": "no-such-label", "operator": "DoesNotExist"}]
    }
    adm.create_validating_webhook_configuration(body=validating)
    webhook.reviews.clear()
    try:
        demo.custom.create_namespaced_custom_object(
            GROUP, VERSION, NS, "recurringjobs", rj("deny-unlabelled")
        )
        labelled = rj("deny-labelled")
        labelled["metadata"]["labels"] = {"review": "yes"}
        with pytest.raises(client.ApiException):
            demo.custom.create_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", labelled)
        assert len(webhook.reviews) == 1
    finally:
        adm.delete_validating_webhook_configuration("test-validating")


def test_webhook_configuration_defaults(demo: Any, webhook: Any) -> None:
    adm = client.AdmissionregistrationV1Api(demo.api)
    mutating, _v = webhook.configurations(["recurringjobs"])
    hook = mutating["webhooks"][0]
    for key in ("failurePolicy", "timeoutSeconds"):
        hook.pop(key)
    mutating["metadata"] = {"name": "defaults-check"}
    got = adm.create_mutating_webhook_configuration(body=mutating)
    try:
        w = got.webhooks[0]
        assert (w.failure_policy, w.match_policy, w.timeout_seconds, w.reinvocation_policy) == (
            "Fail",
            "Equivalent",
            10,
            "Never",
        )
        assert w.rules[0].scope == "*"
        assert got.metadata.generation == 1
    finally:
        adm.delete_mutating_webhook_configuration("defaults-check")


def test_status_subresource_rules(demo: Any, webhook: Any) -> None:
    adm = client.AdmissionregistrationV1Api(demo.api)
    _m, validating = webhook.configurations(["recurringjobs/status"], ["UPDATE"])
    adm.create_validating_webhook_configuration(body=validating)
    try:
        demo.custom.create_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", rj("status-only"))
        webhook.reviews.clear()
        demo.custom.patch_namespaced_custom_object(
            GROUP, VERSION, NS, "recurringjobs", "status-only", {"spec": {"retain": 2}}
        )
        assert webhook.reviews == []
        demo.custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, NS, "recurringjobs", "status-only", {"status": {"executionCount": 5}}
        )
        ((_path, review),) = webhook.reviews
        assert review["request"]["subResource"] == "status"
        assert review["request"]["object"]["status"] == {"executionCount": 5}
    finally:
        adm.delete_validating_webhook_configuration("test-validating")
