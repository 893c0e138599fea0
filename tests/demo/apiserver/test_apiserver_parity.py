"""Side by side with the real kube-apiserver v1.20.2: the same requests must get the same answers.

Runs only where ``scripts/kube-apiserver build`` has built the real server (else skipped). Volatile
fields (uid, resourceVersion, timestamps, managedFields) are ignored; every other byte of the
status code and JSON body must match. Known, deliberate differences are not exercised here (they
are listed in ``lhdesk.demo.apiserver``'s docstring).
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lhdesk.demo.apiserver import ApiServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CRDS = Path(__file__).resolve().parents[3] / "lhdesk" / "demo" / "longhorn" / "crds"
NS = "longhorn-system"
RJ = f"/apis/longhorn.io/v1beta2/namespaces/{NS}/recurringjobs"
VOLATILE = {"uid", "resourceVersion", "creationTimestamp", "managedFields", "selfLink", "deletionTimestamp"}


def _request(
    srv: Any,
    method: str,
    path: str,
    body: Any = None,
    ctype: str = "application/json",
    token: str | None = None,
) -> tuple[int, Any]:
    context = ssl.create_default_context(cadata=srv.ca_pem.decode())
    conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=context, timeout=20)
    headers = {"Authorization": f"Bearer {token or srv.admin_token}", "Accept": "application/json"}
    data = None
    if body is not None:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        headers["Content-Type"] = ctype
    try:
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    try:
        return resp.status, json.loads(raw)
    except ValueError:
        return resp.status, raw.decode(errors="replace")


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _sorted_brackets(text: str) -> str:
    """kube-apiserver 1.20 lists several field errors in random order: compare them as a set."""
    return re.sub(
        r"\[([^\[\]]*, [^\[\]]*)\]", lambda m: "[" + ", ".join(sorted(m.group(1).split(", "))) + "]", text
    )


def _norm(o: Any) -> Any:
    if isinstance(o, dict):
        return {
            k: sorted(_norm(v), key=repr) if k == "causes" and isinstance(v, list) else _norm(v)
            for k, v in o.items()
            if k not in VOLATILE
        }
    if isinstance(o, list):
        return [_norm(x) for x in o]
    if isinstance(o, str):
        return _sorted_brackets(_UUID.sub("<uid>", o))
    return o


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    from lhdesk.demo.realapi import RealApiServer, is_built

    if not is_built():
        pytest.skip("the real kube-apiserver is not built (scripts/kube-apiserver build)")
    real = RealApiServer(tmp_path_factory.mktemp("real-apiserver"))
    real.start()
    mine = ApiServer().start()
    try:
        _request(mine, "POST", "/api/v1/namespaces", {"metadata": {"name": NS}})
        for srv in (real, mine):
            for name in ("recurringjobs", "systembackups"):
                doc = yaml.safe_load((CRDS / f"{name}.yaml").read_text())
                assert (
                    _request(srv, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", doc)[0]
                    == 201
                )
        deadline = time.monotonic() + 30
        while _request(real, "GET", RJ)[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        yield real, mine
    finally:
        mine.stop()
        real.stop()


def rj(name: str, **extra: Any) -> dict[str, Any]:
    spec = {"task": "snapshot", "cron": "* * * * *", "retain": 1}
    spec.update(extra.pop("spec", {}))
    meta = {"name": name, **extra}
    return {"apiVersion": "longhorn.io/v1beta2", "kind": "RecurringJob", "metadata": meta, "spec": spec}


MERGE = "application/merge-patch+json"
JSONP = "application/json-patch+json"

STEPS: list[tuple[str, str, Any, dict[str, Any]]] = [
    ("POST", RJ, rj("a", labels={"team": "a"}), {}),
    ("POST", RJ, rj("a"), {}),
    ("GET", RJ + "/a", None, {}),
    ("GET", RJ + "/nope", None, {}),
    ("POST", RJ, rj("bad-enum", spec={"task": "not-a-task"}), {}),
    ("POST", RJ, rj("bad-type", spec={"retain": "x", "concurrency": 1.5}), {}),
    ("POST", RJ, rj("Bad_Name"), {}),
    ("POST", RJ, rj("pruned", spec={"unknown": 1}), {}),
    ("POST", RJ, rj("rv", resourceVersion="5"), {}),
    (
        "POST",
        RJ,
        {"apiVersion": "longhorn.io/v1beta2", "kind": "RecurringJob", "metadata": {}, "spec": {}},
        {},
    ),
    ("PUT", RJ + "/a", rj("a"), {}),
    ("PUT", RJ + "/a", rj("a", resourceVersion="1"), {}),
    ("PUT", RJ + "/a", rj("other"), {}),
    ("PATCH", RJ + "/a", {"spec": {"retain": 2}}, {"ctype": "application/strategic-merge-patch+json"}),
    ("PATCH", RJ + "/a", {"spec": {"retain": 2}}, {"ctype": MERGE}),
    ("PATCH", RJ + "/a", [{"op": "replace", "path": "/spec/retain", "value": 3}], {"ctype": JSONP}),
    ("PATCH", RJ + "/a", [{"op": "test", "path": "/spec/retain", "value": 99}], {"ctype": JSONP}),
    ("PATCH", RJ + "/a", {"metadata": {"name": "zzz"}}, {"ctype": MERGE}),
    ("PATCH", RJ + "/a", {"metadata": {"uid": "abc"}}, {"ctype": MERGE}),
    ("PATCH", RJ + "/a", {"kind": "Other"}, {"ctype": MERGE}),
    ("PATCH", RJ + "/a/status", {"status": {"executionCount": 4}, "spec": {"retain": 7}}, {"ctype": MERGE}),
    ("GET", RJ + "/a/status", None, {}),
    ("GET", RJ + "/a/foo", None, {}),
    ("POST", RJ + "?dryRun=All", rj("dry"), {}),
    ("GET", RJ + "/dry", None, {}),
    ("POST", RJ + "?dryRun=Bogus", rj("dry"), {}),
    ("POST", RJ, rj("fin", finalizers=["example.com/x"]), {}),
    ("DELETE", RJ + "/fin", None, {}),
    ("DELETE", RJ + "/fin", None, {}),
    (
        "PATCH",
        RJ + "/fin",
        {"metadata": {"finalizers": ["example.com/x", "example.com/y"]}},
        {"ctype": MERGE},
    ),
    ("PATCH", RJ + "/fin", {"metadata": {"finalizers": None}}, {"ctype": MERGE}),
    ("GET", RJ + "/fin", None, {}),
    ("DELETE", RJ + "/a", {"preconditions": {"uid": "abc"}}, {}),
    ("GET", RJ + "?labelSelector=team%3Da", None, {}),
    ("GET", RJ + "?labelSelector=a%20in%20(b", None, {}),
    ("GET", RJ + "?fieldSelector=spec.task%3Dx", None, {}),
    ("GET", RJ + "?limit=abc", None, {}),
    ("GET", RJ + "?resourceVersion=abc", None, {}),
    ("GET", "/apis/longhorn.io/v1beta2/foos", None, {}),
    ("GET", "/apis/nogroup.io/v1", None, {}),
    ("GET", "/api/v1/foos", None, {}),
    ("POST", f"/api/v1/namespaces/{NS}/configmaps/x", {}, {}),
    ("POST", f"/api/v1/namespaces/{NS}/secrets", {"metadata": {"name": "s1"}, "stringData": {"a": "b"}}, {}),
    ("DELETE", f"/api/v1/namespaces/{NS}/secrets/s1", None, {}),
    ("POST", "/api/v1/namespaces/no-such-ns/configmaps", {"metadata": {"name": "c"}}, {}),
    ("POST", RJ, rj("ro"), {"token": "readonly"}),
    ("DELETE", RJ + "/a", None, {"token": "readonly"}),
    ("GET", RJ + "/a", None, {"token": "readonly"}),
    ("GET", "/version", None, {"token": "bogus"}),
    (
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        {
            "spec": {
                "resourceAttributes": {
                    "verb": "create",
                    "group": "longhorn.io",
                    "resource": "recurringjobs",
                    "namespace": NS,
                }
            }
        },
        {"token": "readonly"},
    ),
    (
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        {
            "spec": {
                "resourceAttributes": {
                    "verb": "get",
                    "group": "longhorn.io",
                    "resource": "recurringjobs",
                    "namespace": NS,
                }
            }
        },
        {"token": "readonly"},
    ),
    ("DELETE", RJ + "/a", None, {}),
    ("DELETE", RJ + "/a", None, {}),
    (
        "POST",
        f"/apis/apps/v1/namespaces/{NS}/daemonsets",
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "longhorn-manager"},
            "spec": {
                "selector": {"matchLabels": {"app": "lm"}},
                "template": {
                    "metadata": {"labels": {"app": "lm"}},
                    "spec": {"containers": [{"name": "m", "image": "longhornio/longhorn-manager:v1.12.1"}]},
                },
            },
        },
        {},
    ),
    (
        "POST",
        f"/apis/apps/v1/namespaces/{NS}/deployments",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "ui"},
            "spec": {
                "selector": {"matchLabels": {"app": "ui"}},
                "template": {
                    "metadata": {"labels": {"app": "ui"}},
                    "spec": {"containers": [{"name": "u", "image": "ui"}]},
                },
            },
        },
        {},
    ),
    ("POST", f"/api/v1/namespaces/{NS}/serviceaccounts", {"metadata": {"name": "sa"}}, {}),
    (
        "POST",
        f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases",
        {"metadata": {"name": "lease"}, "spec": {"holderIdentity": "me"}},
        {},
    ),
    (
        "POST",
        "/apis/storage.k8s.io/v1/storageclasses",
        {"metadata": {"name": "sc"}, "provisioner": "d.io"},
        {},
    ),
    ("PATCH", "/apis/storage.k8s.io/v1/storageclasses/sc", {"parameters": {"a": "b"}}, {"ctype": MERGE}),
    (
        "POST",
        "/api/v1/persistentvolumes",
        {
            "metadata": {"name": "pv1"},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "csi": {"driver": "driver.longhorn.io", "volumeHandle": "v1"},
            },
        },
        {},
    ),
    (
        "POST",
        f"/api/v1/namespaces/{NS}/events",
        {
            "metadata": {"name": "e1"},
            "involvedObject": {"kind": "RecurringJob", "name": "a", "namespace": NS},
            "reason": "Test",
            "message": "hello",
            "type": "Normal",
        },
        {},
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "opts"), STEPS, ids=[f"{i:02d}-{s[0]}" for i, s in enumerate(STEPS)]
)
def test_same_answer_as_kube_apiserver(
    servers: tuple[Any, Any], method: str, path: str, body: Any, opts: dict[str, Any]
) -> None:
    real, mine = servers
    answers = []
    for srv in (real, mine):
        kw = dict(opts)
        if kw.get("token") == "readonly":
            kw["token"] = srv.readonly_token
        answers.append(_request(srv, method, path, body, **kw))
    (real_code, real_body), (my_code, my_body) = answers
    assert (my_code, _norm(my_body)) == (real_code, _norm(real_body))


def _admission_reviews(srv: Any, hook_url: str, ca: str, captured: list[dict[str, Any]]) -> None:
    rules = [
        {
            "apiGroups": ["longhorn.io"],
            "apiVersions": ["v1beta2"],
            "operations": ["*"],
            "resources": ["systembackups", "systembackups/status"],
        }
    ]
    for kind, path in (("Mutating", "/mutate"), ("Validating", "/validate")):
        cfg = {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": f"{kind}WebhookConfiguration",
            "metadata": {"name": f"parity-{kind.lower()}"},
            "webhooks": [
                {
                    "name": f"{kind.lower()}.parity.example.com",
                    "clientConfig": {"url": hook_url + path, "caBundle": ca},
                    "rules": rules,
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1"],
                }
            ],
        }
        plural = f"{kind.lower()}webhookconfigurations"
        assert _request(srv, "POST", f"/apis/admissionregistration.k8s.io/v1/{plural}", cfg)[0] == 201


def test_admission_reviews_match(servers: tuple[Any, Any], webhook: Any) -> None:
    """The AdmissionReview requests both servers send for the same writes are the same."""
    real, mine = servers
    sb = f"/apis/longhorn.io/v1beta2/namespaces/{NS}/systembackups"
    body = {
        "apiVersion": "longhorn.io/v1beta2",
        "kind": "SystemBackup",
        "metadata": {"generateName": "sb-"},
        "spec": {},
    }
    collected = []
    for srv in (real, mine):
        _admission_reviews(srv, webhook.url, webhook.ca_bundle, [])
        # The real server picks up new webhook configurations asynchronously.
        deadline = time.monotonic() + 20
        webhook.reviews.clear()
        while time.monotonic() < deadline:
            code, _ = _request(srv, "POST", sb + "?dryRun=All", body)
            if len(webhook.reviews) >= 2 and code == 201:
                break
            time.sleep(0.2)
        webhook.reviews.clear()
        code, created = _request(srv, "POST", sb, dict(body, metadata={"name": "deny-sb"}))
        code2, created2 = _request(srv, "POST", sb, dict(body, metadata={"name": "sb-ok"}))
        _request(srv, "PATCH", sb + "/sb-ok/status", {"status": {"state": "Ready"}}, MERGE)
        _request(srv, "DELETE", sb + "/sb-ok")
        reviews = []
        for path, review in webhook.reviews:
            req = dict(review["request"])
            req.pop("uid")
            req["userInfo"] = {k: v for k, v in req["userInfo"].items() if k != "uid"}
            req["object"] = _norm(req.get("object"))
            req["oldObject"] = _norm(req.get("oldObject"))
            reviews.append((path, req))
        collected.append(((code, _norm(created)), (code2, _norm(created2)), reviews))
    assert collected[1] == collected[0]


def test_watch_events_match(servers: tuple[Any, Any]) -> None:
    real, mine = servers
    streams: list[list[tuple[str, Any]]] = []
    for srv in (real, mine):
        _request(srv, "POST", RJ, rj("w", labels={"team": "a"}, finalizers=["example.com/f"]))
        rv = _request(srv, "GET", RJ)[1]["metadata"]["resourceVersion"]
        _request(srv, "DELETE", RJ + "/w")  # gets a deletionTimestamp; the finalizer keeps it
        events: list[tuple[str, Any]] = []
        done = threading.Event()

        def read(
            srv: Any = srv, rv: str = rv, events: list[tuple[str, Any]] = events, done: threading.Event = done
        ) -> None:
            context = ssl.create_default_context(cadata=srv.ca_pem.decode())
            conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=context, timeout=20)
            conn.request(
                "GET",
                RJ + f"?watch=1&labelSelector=team%3Da&resourceVersion={rv}&timeoutSeconds=3"
                "&allowWatchBookmarks=true",
                headers={"Authorization": f"Bearer {srv.admin_token}"},
            )
            resp = conn.getresponse()
            for line in resp.read().splitlines():
                event = json.loads(line)
                meta = event["object"].get("metadata", {})
                events.append((event["type"], _norm({k: v for k, v in meta.items() if k != "generation"})))
            conn.close()
            done.set()

        t = threading.Thread(target=read)
        t.start()
        time.sleep(0.5)
        _request(srv, "PATCH", RJ + "/w", {"metadata": {"labels": {"team": "b"}}}, MERGE)
        _request(srv, "PATCH", RJ + "/w", {"metadata": {"labels": {"team": "a"}}}, MERGE)
        _request(srv, "PATCH", RJ + "/w", {"metadata": {"finalizers": None}}, MERGE)
        t.join(15)
        assert done.is_set()
        streams.append(events)
    # How many bookmarks a server sends depends on timing; the changes must be the same.
    changes = [[e for e in stream if e[0] != "BOOKMARK"] for stream in streams]
    assert changes[1] == changes[0]
    assert [e for e, _m in changes[0]] == ["MODIFIED", "DELETED", "ADDED", "DELETED"]
    assert all(any(e == "BOOKMARK" for e, _m in stream) for stream in streams)


def test_fixture_webhook_encodes_ca(webhook: Any) -> None:
    assert base64.b64decode(webhook.ca_bundle).startswith(b"-----BEGIN CERTIFICATE-----")
