"""Longhorn's admission rules as pure functions, for the cases a seeded cluster cannot easily reach.

The cluster state comes from an in-memory ``ClusterReader`` (the webhook's interface to the API);
everything else about the webhook is tested over HTTPS through the API servers in the other modules.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import ssl
import threading
from collections.abc import Mapping
from typing import Any

import pytest
from kubernetes.client import ApiClient

from lhdesk.demo.longhorn.admission import (
    Admission,
    AdmissionDenied,
    AdmissionRequest,
    GoNumError,
    auto_correct_name,
    go_parse_int,
    is_qualified_name,
    recurring_job_tasks,
    review_response,
)
from lhdesk.demo.longhorn.webhook import WebhookServer, robfig_cron_check


class Reader:
    """A cluster of plain dicts."""

    def __init__(self, **objects: list[dict[str, Any]]) -> None:
        self.objects = objects

    def _named(self, plural: str, name: str) -> Mapping[str, Any] | None:
        return next((o for o in self.objects.get(plural, []) if o["metadata"]["name"] == name), None)

    def get_setting(self, name: str) -> Mapping[str, Any] | None:
        return self._named("settings", name)

    def get_backup_target(self, name: str) -> Mapping[str, Any] | None:
        return self._named("backuptargets", name)

    def list_backup_targets(self) -> list[Mapping[str, Any]]:
        return list(self.objects.get("backuptargets", []))

    def get_secret_data(self, name: str) -> Mapping[str, bytes] | None:
        return None

    def list_volumes(self) -> list[Mapping[str, Any]]:
        return list(self.objects.get("volumes", []))

    def list_system_restores(self, label_selector: str) -> list[Mapping[str, Any]]:
        key, _, value = label_selector.partition("=")
        return [
            r
            for r in self.objects.get("systemrestores", [])
            if r["metadata"].get("labels", {}).get(key) == value
        ]

    def get_system_backup(self, name: str) -> Mapping[str, Any] | None:
        return self._named("systembackups", name)


def request(
    resource: str, operation: str, obj: dict[str, Any] | None, old: dict[str, Any] | None = None
) -> Any:
    return AdmissionRequest(
        uid="u1",
        operation=operation,
        group="longhorn.io",
        version="v1beta2",
        resource=resource,
        sub_resource="",
        name=((obj or old or {}).get("metadata") or {}).get("name", ""),
        namespace="longhorn-system",
        obj=obj,
        old_obj=old,
    )


def denial(admission: Admission, req: AdmissionRequest) -> AdmissionDenied:
    with pytest.raises(AdmissionDenied) as caught:
        admission.validate(req)
    return caught.value


def test_long_names_are_cut_with_a_sha512_suffix_like_autocorrectname() -> None:
    name = "Nightly-Backup-Of-Every-Single-Volume-In-The-Cluster"
    corrected = auto_correct_name(name)
    # Lower-cased, cut to 40 - 9 = 31 characters, the trailing "-" trimmed, then "-" + 8 hex of SHA-512.
    assert corrected == "nightly-backup-of-every-single-" + hashlib.sha512(name.encode()).hexdigest()[:8]
    assert len(corrected) == 39
    assert auto_correct_name("Short") == "short"
    # A dash before the suffix is trimmed, as strings.TrimRight does.
    assert auto_correct_name("a" * 30 + "-" * 20)[:-9] == "a" * 30


def test_go_number_parsing() -> None:
    assert go_parse_int("+7") == 7
    assert go_parse_int("-3") == -3
    assert go_parse_int("007") == 7
    for text, why in (
        (" 5", "invalid syntax"),
        ("1_000", "invalid syntax"),
        ("9" * 20, "value out of range"),
    ):
        with pytest.raises(GoNumError, match=why):
            go_parse_int(text)


def test_label_keys_are_qualified_names_in_apimachinerys_words() -> None:
    assert is_qualified_name("example.com/team") == []
    assert is_qualified_name("/team") == ["prefix part must be non-empty"]
    assert is_qualified_name("x" * 64)[0] == "name part must be no more than 63 bytes"
    assert is_qualified_name("Example.com/x")[0].startswith("prefix part a lowercase RFC 1123 subdomain")


def test_tasks_per_version() -> None:
    assert "system-backup" in recurring_job_tasks("v1.12.1")
    assert "system-backup" in recurring_job_tasks("v1.9.0")
    assert "system-backup" not in recurring_job_tasks("v1.8.2")


def test_a_v1_8_webhook_does_not_know_the_system_backup_task() -> None:
    admission = Admission(Reader(), robfig_cron_check, longhorn_version="v1.8.2")
    job = {
        "metadata": {"name": "nightly"},
        "spec": {"name": "nightly", "task": "system-backup", "cron": "@daily"},
    }
    assert denial(admission, request("recurringjobs", "CREATE", job)).message == (
        "recurring job task system-backup is not valid"
    )


def test_missing_max_retention_setting_means_longhorns_default_of_100() -> None:
    admission = Admission(Reader(), robfig_cron_check)
    job = {
        "metadata": {"name": "keep"},
        "spec": {"name": "keep", "task": "snapshot", "cron": "@daily", "retain": 101},
    }
    assert denial(admission, request("recurringjobs", "CREATE", job)).message == (
        "retain value should be less than or equal to 100"
    )
    broken = Admission(
        Reader(settings=[{"metadata": {"name": "recurring-job-max-retention"}, "value": "lots"}]),
        robfig_cron_check,
    )
    assert denial(broken, request("recurringjobs", "CREATE", job)).message == (
        'strconv.ParseInt: parsing "lots": invalid syntax'
    )


def test_one_restore_at_a_time_and_the_backup_must_exist() -> None:
    volumes = [{"metadata": {"name": "v1"}, "status": {"state": "detached"}}]
    running = {"metadata": {"name": "r1", "labels": {"longhorn.io/system-restore": "InProgress"}}}
    restore = {"metadata": {"name": "r2"}, "spec": {"systemBackup": "sb"}}
    busy = Admission(Reader(volumes=volumes, systemrestores=[running]), robfig_cron_check)
    assert (
        denial(busy, request("systemrestores", "CREATE", restore)).message
        == "found 1 SystemRestore in progress"
    )
    missing = Admission(Reader(volumes=volumes), robfig_cron_check)
    assert denial(missing, request("systemrestores", "CREATE", restore)).message == (
        'systembackup.longhorn.io "sb" not found'
    )
    unknown_state = Admission(Reader(volumes=[{"metadata": {"name": "v2"}, "status": {}}]), robfig_cron_check)
    assert denial(unknown_state, request("systemrestores", "CREATE", restore)).message == (
        "all volumes need to be detached before creating SystemRestore"
    )


def test_system_backup_needs_the_default_target_and_credentials() -> None:
    sb = {"metadata": {"name": "sb"}, "spec": {}}
    none = denial(Admission(Reader(), robfig_cron_check), request("systembackups", "CREATE", sb))
    assert (none.code, none.reason, none.message) == (
        400,
        "BadRequest",
        'backuptarget.longhorn.io "default" not found',
    )
    target = {
        "metadata": {"name": "default", "uid": "u"},
        "spec": {"backupTargetURL": "s3://b@us-east-1/"},
        "status": {"available": True},
    }
    no_secret = denial(
        Admission(Reader(backuptargets=[target]), robfig_cron_check), request("systembackups", "CREATE", sb)
    )
    assert (no_secret.code, no_secret.message) == (400, "cannot access s3 without credential secret")
    nfs = {**target, "spec": {"backupTargetURL": "nfs://server:/export"}}
    Admission(Reader(backuptargets=[nfs]), robfig_cron_check).validate(request("systembackups", "CREATE", sb))


def test_backup_target_changes_are_refused_while_standby_volumes_exist() -> None:
    standby = [
        {"metadata": {"name": "dr-1"}, "spec": {"Standby": True}},
        {"metadata": {"name": "v"}, "spec": {}},
    ]
    old = {"metadata": {"name": "second"}, "spec": {"backupTargetURL": "s3://a@us-east-1/"}}
    new = {"metadata": {"name": "second"}, "spec": {"backupTargetURL": "s3://b@us-east-1/"}}
    admission = Admission(Reader(volumes=standby), robfig_cron_check)
    assert denial(admission, request("backuptargets", "UPDATE", new, old)).message == (
        "cannot modify BackupTarget since there are existing standby volumes: map[dr-1:{}]"
    )
    # Nothing changed: nothing to check.
    admission.validate(request("backuptargets", "UPDATE", old, old))


def test_review_response_shapes() -> None:
    allowed = review_response("u", [{"op": "add", "path": "/spec/x", "value": 1}], None)["response"]
    assert allowed["allowed"] is True
    assert allowed["patchType"] == "JSONPatch"
    refused = review_response("u", None, AdmissionDenied("no", 422, "Invalid", cause=True))["response"]
    assert refused == {
        "uid": "u",
        "allowed": False,
        "status": {
            "status": "Failure",
            "message": "no",
            "reason": "Invalid",
            "code": 422,
            "details": {"causes": [{"reason": "FieldValueInvalid", "message": "no"}]},
        },
    }


def test_webhook_server_answers_admission_reviews_over_https() -> None:
    before = set(threading.enumerate())
    api = ApiClient()  # the mutation below reads nothing from the cluster
    server = WebhookServer(api)
    server.start()
    try:
        host, port = server.url.removeprefix("https://").split(":")
        context = ssl.create_default_context(cadata=server.ca_pem.decode())
        conn = http.client.HTTPSConnection(host, int(port), context=context, timeout=10)
        conn.request("GET", "/v1/healthz")
        assert conn.getresponse().read() == b'{"status": "ok"}'
        review = {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "abc",
                "operation": "CREATE",
                "resource": {"group": "longhorn.io", "version": "v1beta2", "resource": "recurringjobs"},
                "name": "Nightly",
                "namespace": "longhorn-system",
                "object": {
                    "metadata": {"name": "Nightly"},
                    "spec": {"task": "snapshot-cleanup", "retain": 3},
                },
            },
        }
        conn.request("POST", "/v1/webhook/mutation?timeout=10s", body=json.dumps(review).encode())
        answer = json.loads(conn.getresponse().read())["response"]
        assert answer["uid"] == "abc"
        assert answer["allowed"] is True
        assert answer["patchType"] == "JSONPatch"
        ops = {op["path"]: op["value"] for op in json.loads(base64.b64decode(answer["patch"]))}
        assert ops == {
            "/metadata/name": "nightly",
            "/spec/name": "Nightly",
            "/spec/groups": [],
            "/spec/labels": {},
            "/spec/parameters": {},
            "/spec/concurrency": 10,
            "/spec/retain": 0,
        }
        conn.request("POST", "/v1/webhook/validation", body=b"not json")
        assert conn.getresponse().status == 400
        conn.close()
    finally:
        server.stop()
        api.close()
    assert [t for t in threading.enumerate() if t not in before and t.is_alive()] == []
