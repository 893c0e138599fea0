"""The built-in API server with the real ``kubernetes`` client: TLS, auth, CRDs, CRUD, watch."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, watch

from lhdesk.demo.apiserver import ApiServer

pytestmark = pytest.mark.integration


GROUP, VERSION, NS = "longhorn.io", "v1beta2", "longhorn-system"
Demo = Any


def _status(exc: pytest.ExceptionInfo[client.ApiException]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.value.body)
    return body


def rj(name: str, task: str = "snapshot", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"task": task, "cron": "* * * * *", "retain": 1, "concurrency": 1}
    body.update(spec)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "RecurringJob",
        "metadata": {"name": name, "namespace": NS},
        "spec": body,
    }


def test_starts_and_stops_cleanly(tmp_path: Path) -> None:
    # How fast it starts is bench/apiserver_startup.py's number, not an assertion here.
    server = ApiServer().start()
    try:
        assert server.url.startswith("https://127.0.0.1:")
        assert server.ca_pem.startswith(b"-----BEGIN CERTIFICATE-----")
        assert server.admin_token != server.readonly_token
    finally:
        server.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("lhdesk-apiserver")]


def test_version_and_namespaces(demo: Demo) -> None:
    assert client.VersionApi(demo.api).get_code().major == "1"
    names = [n.metadata.name for n in demo.core.list_namespace().items]
    assert NS in names
    assert "default" in names


def test_wrong_token_gets_401(demo: Demo) -> None:
    cfg = client.Configuration()
    cfg.host = demo.server.url
    cfg.ssl_ca_cert = str(demo.tmp / "ca.pem")
    (demo.tmp / "ca.pem").write_bytes(demo.server.ca_pem)
    cfg.api_key = {"BearerToken": "wrong"}
    cfg.api_key_prefix = {"BearerToken": "Bearer"}
    with client.ApiClient(cfg) as bad, pytest.raises(client.ApiException) as exc:
        client.CoreV1Api(bad).list_namespace()
    assert exc.value.status == 401
    assert _status(exc)["reason"] == "Unauthorized"


def test_create_get_list_with_label_selectors(demo: Demo) -> None:
    for i, team in enumerate(["a", "a", "b"]):
        body = rj(f"sel-{i}")
        body["metadata"]["labels"] = {"team": team, "idx": str(i)}
        demo.custom.create_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", body)

    def names(selector: str) -> list[str]:
        got = demo.custom.list_namespaced_custom_object(
            GROUP, VERSION, NS, "recurringjobs", label_selector=selector
        )
        return sorted(o["metadata"]["name"] for o in got["items"])

    assert names("team=a") == ["sel-0", "sel-1"]
    assert names("team==b") == ["sel-2"]
    assert names("team!=a,idx") == ["sel-2"]
    assert names("idx in (0,2)") == ["sel-0", "sel-2"]
    assert names("idx notin (0,2),team") == ["sel-1"]
    assert names("!team") == [n for n in names("!team") if not n.startswith("sel-")]
    got = demo.custom.list_namespaced_custom_object(
        GROUP, VERSION, NS, "recurringjobs", field_selector="metadata.name=sel-1"
    )
    assert [o["metadata"]["name"] for o in got["items"]] == ["sel-1"]
    one = demo.custom.get_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", "sel-0")
    assert one["metadata"]["generation"] == 1
    assert one["metadata"]["uid"]
    assert int(one["metadata"]["resourceVersion"]) > 0


def test_not_found_and_already_exists_wording(demo: Demo) -> None:
    with pytest.raises(client.ApiException) as exc:
        demo.custom.get_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", "nope")
    assert exc.value.status == 404
    assert _status(exc)["message"] == 'recurringjobs.longhorn.io "nope" not found'
    demo.custom.create_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", rj("dup"))
    with pytest.raises(client.ApiException) as exc:
        demo.custom.create_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", rj("dup"))
    assert exc.value.status == 409
    assert _status(exc)["reason"] == "AlreadyExists"
    assert _status(exc)["message"] == 'recurringjobs.longhorn.io "dup" already exists'


def test_stale_update_conflicts(demo: Demo) -> None:
    created = demo.custom.create_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", rj("stale"))
    fresh = dict(created, spec=dict(created["spec"], retain=3))
    demo.custom.replace_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", "stale", fresh)
    with pytest.raises(client.ApiException) as exc:
        demo.custom.replace_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", "stale", created)
    assert exc.value.status == 409
    assert _status(exc)["message"] == (
        'Operation cannot be fulfilled on recurringjobs.longhorn.io "stale": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


def test_generate_name(demo: Demo) -> None:
    body = rj("")
    body["metadata"] = {"generateName": "gen-"}
    got = demo.custom.create_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", body)
    assert got["metadata"]["name"].startswith("gen-")
    assert len(got["metadata"]["name"]) == len("gen-") + 5


def test_enum_violation_is_422_unsupported_value(demo: Demo) -> None:
    with pytest.raises(client.ApiException) as exc:
        demo.custom.create_namespaced_custom_object(
            GROUP, VERSION, NS, "recurringjobs", rj("bad-task", task="not-a-task")
        )
    assert exc.value.status == 422
    st = _status(exc)
    assert st["reason"] == "Invalid"
    assert 'spec.task: Unsupported value: "not-a-task": supported values: "snapshot"' in str(st["message"])
    causes = st["details"]["causes"]  # type: ignore[index]
    assert causes[0]["field"] == "spec.task"
    assert causes[0]["reason"] == "FieldValueNotSupported"


def test_missing_namespace_is_404(demo: Demo) -> None:
    body = rj("x")
    body["metadata"]["namespace"] = "no-such-ns"
    with pytest.raises(client.ApiException) as exc:
        demo.custom.create_namespaced_custom_object(GROUP, VERSION, "no-such-ns", "recurringjobs", body)
    assert exc.value.status == 404
    assert _status(exc)["message"] == 'namespaces "no-such-ns" not found'


def test_watch_sees_added_modified_deleted(demo: Demo) -> None:
    listed = demo.custom.list_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs")
    rv = listed["metadata"]["resourceVersion"]
    demo.custom.create_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", rj("w1"))
    demo.custom.patch_namespaced_custom_object(
        GROUP, VERSION, NS, "recurringjobs", "w1", {"spec": {"retain": 5}}
    )
    demo.custom.delete_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", "w1")
    seen = []
    w = watch.Watch()
    for ev in w.stream(
        demo.custom.list_namespaced_custom_object,
        GROUP,
        VERSION,
        NS,
        "recurringjobs",
        resource_version=rv,
        timeout_seconds=2,
    ):
        if ev["object"]["metadata"]["name"] == "w1":
            seen.append((ev["type"], ev["object"]["spec"]["retain"]))
        if len(seen) == 3:
            w.stop()
    assert seen == [("ADDED", 1), ("MODIFIED", 5), ("DELETED", 5)]


def test_watch_from_too_old_version_is_410(make_demo: Any) -> None:
    d = make_demo(watch_history=10)
    for i in range(15):
        d.custom.create_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", rj(f"old-{i}"))
    w = watch.Watch()
    with pytest.raises(client.ApiException) as exc:
        for _ev in w.stream(
            d.custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            NS,
            "recurringjobs",
            resource_version="1",
            timeout_seconds=2,
        ):
            pass
    assert exc.value.status == 410


def test_each_resource_keeps_its_own_watch_window(make_demo: Any) -> None:
    d = make_demo(watch_history=10)
    d.custom.create_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs", rj("quiet"))
    rv = d.custom.list_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs")["metadata"][
        "resourceVersion"
    ]
    for i in range(15):
        d.custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            NS,
            "settings",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Setting",
                "metadata": {"name": f"busy-{i}"},
                "value": "x",
            },
        )
    d.custom.patch_namespaced_custom_object(
        GROUP, VERSION, NS, "recurringjobs", "quiet", {"spec": {"retain": 2}}
    )
    w = watch.Watch()
    seen = [
        ev["type"]
        for ev in w.stream(
            d.custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            NS,
            "recurringjobs",
            resource_version=rv,
            timeout_seconds=1,
        )
    ]
    assert seen == ["MODIFIED"]
