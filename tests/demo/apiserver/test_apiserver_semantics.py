"""Registry semantics as kube-apiserver has them: status, patches, dry runs, finalizers, lifecycles."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from kubernetes import client, watch

pytestmark = pytest.mark.integration

GROUP, VERSION, NS = "longhorn.io", "v1beta2", "longhorn-system"
RJ = "recurringjobs"


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


def test_status_subresource_separates_spec_and_status(demo: Any) -> None:
    c = demo.custom
    created = c.create_namespaced_custom_object(
        GROUP, VERSION, NS, RJ, dict(rj("st"), status={"executionCount": 7})
    )
    assert "status" not in created  # create cannot set status
    got = c.patch_namespaced_custom_object_status(
        GROUP, VERSION, NS, RJ, "st", {"spec": {"retain": 9}, "status": {"executionCount": 3}}
    )
    assert got["status"] == {"executionCount": 3}
    assert got["spec"]["retain"] == 1  # a status write changes only status
    assert got["metadata"]["generation"] == 1
    main = c.patch_namespaced_custom_object(
        GROUP, VERSION, NS, RJ, "st", {"spec": {"retain": 2}, "status": {"executionCount": 99}}
    )
    assert main["status"] == {"executionCount": 3}  # the main resource ignores status
    assert main["spec"]["retain"] == 2
    assert main["metadata"]["generation"] == 2
    same = c.patch_namespaced_custom_object(
        GROUP, VERSION, NS, RJ, "st", {"metadata": {"labels": {"a": "b"}}}
    )
    assert same["metadata"]["generation"] == 2  # metadata changes do not bump generation
    status_view = c.get_namespaced_custom_object_status(GROUP, VERSION, NS, RJ, "st")
    assert status_view["spec"]["retain"] == 2


def test_no_op_update_keeps_resource_version(demo: Any) -> None:
    c = demo.custom
    created = c.create_namespaced_custom_object(GROUP, VERSION, NS, RJ, rj("noop"))
    again = c.patch_namespaced_custom_object(GROUP, VERSION, NS, RJ, "noop", {"spec": {"retain": 1}})
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_json_patch_and_its_failures(demo: Any) -> None:
    c = demo.custom
    c.create_namespaced_custom_object(GROUP, VERSION, NS, RJ, rj("jp", groups=["a"]))
    jp = "application/json-patch+json"
    got = c.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        NS,
        RJ,
        "jp",
        [
            {"op": "add", "path": "/spec/groups/-", "value": "b"},
            {"op": "replace", "path": "/spec/retain", "value": 5},
            {"op": "test", "path": "/spec/task", "value": "snapshot"},
        ],
        _content_type=jp,
    )
    assert got["spec"]["groups"] == ["a", "b"]
    assert got["spec"]["retain"] == 5
    with pytest.raises(client.ApiException) as exc:
        c.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            NS,
            RJ,
            "jp",
            [{"op": "test", "path": "/spec/retain", "value": 1}],
            _content_type=jp,
        )
    assert exc.value.status == 422
    assert _body(exc)["message"] == "the server rejected our request due to an error in our request"


def test_strategic_merge_patch(demo: Any) -> None:
    c = demo.custom
    c.create_namespaced_custom_object(GROUP, VERSION, NS, RJ, rj("smp"))
    with pytest.raises(client.ApiException) as exc:
        c.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            NS,
            RJ,
            "smp",
            {"spec": {"retain": 2}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert exc.value.status == 415
    assert _body(exc)["reason"] == "UnsupportedMediaType"
    core = demo.core
    core.create_namespaced_config_map(
        NS, {"metadata": {"name": "smp-cm", "finalizers": ["a.example.com/x"]}, "data": {"a": "1"}}
    )
    got = core.patch_namespaced_config_map(
        "smp-cm",
        NS,
        {"data": {"b": "2"}, "metadata": {"finalizers": ["b.example.com/y"]}},
        _content_type="application/strategic-merge-patch+json",
    )
    assert got.data == {"a": "1", "b": "2"}
    assert got.metadata.finalizers == ["a.example.com/x", "b.example.com/y"]  # patchStrategy=merge
    core.patch_namespaced_config_map(
        "smp-cm", NS, {"metadata": {"finalizers": None}}, _content_type="application/merge-patch+json"
    )


def test_update_needs_resource_version_for_custom_resources(demo: Any) -> None:
    c = demo.custom
    c.create_namespaced_custom_object(GROUP, VERSION, NS, RJ, rj("needs-rv"))
    with pytest.raises(client.ApiException) as exc:
        c.replace_namespaced_custom_object(GROUP, VERSION, NS, RJ, "needs-rv", rj("needs-rv"))
    assert exc.value.status == 422
    assert _body(exc)["message"] == (
        'recurringjobs.longhorn.io "needs-rv" is invalid: metadata.resourceVersion: '
        "Invalid value: 0x0: must be specified for an update"
    )


def test_finalizers_and_deletion_timestamp(demo: Any) -> None:
    c = demo.custom
    body = rj("fin")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    c.create_namespaced_custom_object(GROUP, VERSION, NS, RJ, body)
    marked = c.delete_namespaced_custom_object(GROUP, VERSION, NS, RJ, "fin")
    assert marked["metadata"]["deletionTimestamp"]
    assert marked["metadata"]["finalizers"] == ["example.com/hold"]
    assert marked["metadata"]["generation"] == 2
    again = c.delete_namespaced_custom_object(GROUP, VERSION, NS, RJ, "fin")
    assert again["metadata"]["resourceVersion"] == marked["metadata"]["resourceVersion"]
    with pytest.raises(client.ApiException) as exc:
        c.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            NS,
            RJ,
            "fin",
            {"metadata": {"finalizers": ["example.com/hold", "example.com/new"]}},
        )
    assert exc.value.status == 422
    assert "no new finalizers can be added if the object is being deleted" in _body(exc)["message"]
    c.patch_namespaced_custom_object(GROUP, VERSION, NS, RJ, "fin", {"metadata": {"finalizers": None}})
    with pytest.raises(client.ApiException) as exc:
        c.get_namespaced_custom_object(GROUP, VERSION, NS, RJ, "fin")
    assert exc.value.status == 404


def test_delete_returns_status_and_dry_run_delete_keeps_the_object(demo: Any) -> None:
    c = demo.custom
    c.create_namespaced_custom_object(GROUP, VERSION, NS, RJ, rj("del"))
    dry = c.delete_namespaced_custom_object(GROUP, VERSION, NS, RJ, "del", dry_run="All")
    assert dry["kind"] == "Status"
    c.get_namespaced_custom_object(GROUP, VERSION, NS, RJ, "del")
    done = c.delete_namespaced_custom_object(GROUP, VERSION, NS, RJ, "del")
    assert done["kind"] == "Status"
    assert done["status"] == "Success"
    assert done["details"]["name"] == "del"
    with pytest.raises(client.ApiException) as exc:
        c.delete_namespaced_custom_object(GROUP, VERSION, NS, RJ, "del")
    assert exc.value.status == 404


def test_dry_run_update(demo: Any) -> None:
    c = demo.custom
    c.create_namespaced_custom_object(GROUP, VERSION, NS, RJ, rj("dry-up"))
    got = c.patch_namespaced_custom_object(
        GROUP, VERSION, NS, RJ, "dry-up", {"spec": {"retain": 8}}, dry_run="All"
    )
    assert got["spec"]["retain"] == 8
    assert c.get_namespaced_custom_object(GROUP, VERSION, NS, RJ, "dry-up")["spec"]["retain"] == 1


def test_unknown_fields_pruned_warned_or_refused(demo: Any) -> None:
    c = demo.custom
    body = rj("prune", bogus=1)
    body["topLevelJunk"] = True
    body["metadata"]["junk"] = "x"
    data, _code, headers = c.create_namespaced_custom_object_with_http_info(GROUP, VERSION, NS, RJ, body)
    assert "bogus" not in data["spec"]
    assert "topLevelJunk" not in data
    assert "junk" not in data["metadata"]
    assert '299 - "unknown field \\"spec.bogus\\""' in headers.get("Warning", "")
    strict = rj("prune-strict", bogus=1)
    with pytest.raises(client.ApiException) as exc:
        c.create_namespaced_custom_object(GROUP, VERSION, NS, RJ, strict, field_validation="Strict")
    assert exc.value.status == 400
    assert _body(exc)["message"] == (
        'RecurringJob in version "v1beta2" cannot be handled as a RecurringJob: '
        'strict decoding error: unknown field "spec.bogus"'
    )


def test_type_errors_and_required_fields(demo: Any) -> None:
    c = demo.custom
    with pytest.raises(client.ApiException) as exc:
        c.create_namespaced_custom_object(GROUP, VERSION, NS, RJ, rj("typed", retain="three"))
    assert _body(exc)["message"] == (
        'RecurringJob.longhorn.io "typed" is invalid: spec.retain: Invalid value: '
        '"string": spec.retain in body must be of type integer: "string"'
    )
    sr = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "SystemRestore", "metadata": {"name": "r"}, "spec": {}}
    with pytest.raises(client.ApiException) as exc:
        c.create_namespaced_custom_object(GROUP, VERSION, NS, "systemrestores", sr)
    assert _body(exc)["message"] == (
        'SystemRestore.longhorn.io "r" is invalid: spec.systemBackup: Required value'
    )


def test_list_limit_and_continue(demo: Any) -> None:
    c = demo.custom
    for i in range(5):
        c.create_namespaced_custom_object(
            GROUP,
            VERSION,
            NS,
            "settings",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Setting",
                "metadata": {"name": f"page-{i}"},
                "value": "v",
            },
        )
    first = c.list_namespaced_custom_object(GROUP, VERSION, NS, "settings", limit=2)
    assert [o["metadata"]["name"] for o in first["items"]] == ["page-0", "page-1"]
    assert first["metadata"]["remainingItemCount"] == 3
    rest = c.list_namespaced_custom_object(
        GROUP, VERSION, NS, "settings", limit=10, _continue=first["metadata"]["continue"]
    )
    assert [o["metadata"]["name"] for o in rest["items"]] == ["page-2", "page-3", "page-4"]
    assert rest["metadata"]["continue"] == ""


def test_crd_lifecycle_serves_and_stops_serving(demo: Any) -> None:
    ext = client.ApiextensionsV1Api(demo.api)
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Cluster",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"size": {"type": "integer", "default": 3, "minimum": 1}},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    created = ext.create_custom_resource_definition(body=crd)
    assert created.status.accepted_names.kind == ""  # the establishing controller fills it in afterwards
    got = ext.read_custom_resource_definition("widgets.example.com")
    conditions = {cond.type: cond.status for cond in got.status.conditions}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    widget = demo.custom.create_cluster_custom_object(
        "example.com",
        "v1",
        "widgets",
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {}},
    )
    assert widget["spec"] == {"size": 3}  # defaulted from the schema
    with pytest.raises(client.ApiException) as exc:
        demo.custom.create_cluster_custom_object(
            "example.com",
            "v1",
            "widgets",
            {
                "apiVersion": "example.com/v1",
                "kind": "Widget",
                "metadata": {"name": "w2"},
                "spec": {"size": 0},
            },
        )
    assert "spec.size in body should be greater than or equal to 1" in _body(exc)["message"]
    ext.delete_custom_resource_definition("widgets.example.com")
    with pytest.raises(client.ApiException) as exc:
        demo.custom.list_cluster_custom_object("example.com", "v1", "widgets")
    assert exc.value.status == 404
    with pytest.raises(client.ApiException):
        ext.read_custom_resource_definition("widgets.example.com")


def test_namespace_deletion_removes_its_contents(demo: Any) -> None:
    core = demo.core
    core.create_namespace({"metadata": {"name": "doomed"}})
    core.create_namespaced_config_map("doomed", {"metadata": {"name": "c1"}})
    deleted = core.delete_namespace("doomed")
    assert deleted is not None
    with pytest.raises(client.ApiException):
        core.read_namespace("doomed")
    with pytest.raises(client.ApiException) as exc:
        core.create_namespaced_config_map("doomed", {"metadata": {"name": "c2"}})
    assert exc.value.status == 404


def test_builtin_defaults_and_printing(demo: Any) -> None:
    core = demo.core
    sec = core.create_namespaced_secret(NS, {"metadata": {"name": "sd"}, "stringData": {"k": "v"}})
    assert sec.type == "Opaque"
    assert sec.data == {"k": "dg=="}
    storage = client.StorageV1Api(demo.api)
    sc = storage.create_storage_class({"metadata": {"name": "lh"}, "provisioner": "driver.longhorn.io"})
    assert (sc.reclaim_policy, sc.volume_binding_mode) == ("Delete", "Immediate")
    pvc = core.create_namespaced_persistent_volume_claim(
        NS,
        {
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
                "storageClassName": "lh",
            },
            "status": {"phase": "Bound"},
        },
    )
    assert pvc.status.phase == "Pending"
    bound = core.patch_namespaced_persistent_volume_claim_status("data", NS, {"status": {"phase": "Bound"}})
    assert bound.status.phase == "Bound"


def test_self_subject_access_reviews(demo: Any) -> None:
    def can(api: client.ApiClient, verb: str) -> bool:
        review = client.AuthorizationV1Api(api).create_self_subject_access_review(
            {"spec": {"resourceAttributes": {"verb": verb, "group": GROUP, "resource": RJ, "namespace": NS}}}
        )
        return bool(review.status.allowed)

    assert can(demo.api, "create")
    assert can(demo.readonly, "list")
    assert not can(demo.readonly, "create")
    assert not can(demo.readonly, "delete")


def test_readonly_user_is_refused_writes(demo: Any) -> None:
    ro = client.CustomObjectsApi(demo.readonly)
    assert isinstance(ro.list_namespaced_custom_object(GROUP, VERSION, NS, RJ)["items"], list)
    with pytest.raises(client.ApiException) as exc:
        ro.create_namespaced_custom_object(GROUP, VERSION, NS, RJ, rj("ro"))
    assert exc.value.status == 403
    assert _body(exc)["message"] == (
        'recurringjobs.longhorn.io is forbidden: User "demo-readonly" cannot create resource "recurringjobs" '
        'in API group "longhorn.io" in the namespace "longhorn-system"'
    )
    with pytest.raises(client.ApiException) as exc:
        client.CoreV1Api(demo.readonly).delete_namespace(NS)
    assert exc.value.status == 403


def test_rbac_objects_are_evaluated(demo: Any) -> None:
    rbac = client.RbacAuthorizationV1Api(demo.api)
    rbac.create_namespaced_role(
        NS,
        {
            "metadata": {"name": "rj-editor"},
            "rules": [{"apiGroups": [GROUP], "resources": [RJ], "verbs": ["create", "delete"]}],
        },
    )
    rbac.create_namespaced_role_binding(
        NS,
        {
            "metadata": {"name": "ro-edits"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "rj-editor"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "demo-readonly"}],
        },
    )
    try:
        ro = client.CustomObjectsApi(demo.readonly)
        ro.create_namespaced_custom_object(GROUP, VERSION, NS, RJ, rj("by-ro"))
        ro.delete_namespaced_custom_object(GROUP, VERSION, NS, RJ, "by-ro")
    finally:
        rbac.delete_namespaced_role_binding("ro-edits", NS)
        rbac.delete_namespaced_role("rj-editor", NS)


def test_discovery_and_openapi(demo: Any) -> None:
    api = demo.api
    groups = client.ApisApi(api).get_api_versions()
    assert "longhorn.io" in [g.name for g in groups.groups]
    resources = client.CustomObjectsApi(api).get_api_resources(GROUP, VERSION)
    names = {r.name: r for r in resources.resources}
    assert names["recurringjobs"].short_names == ["lhrj"]
    assert "recurringjobs/status" in names
    out = demo.kubectl("get", "--raw", "/openapi/v3")
    paths = json.loads(out.stdout)["paths"]
    doc = json.loads(
        demo.kubectl("get", "--raw", paths["apis/longhorn.io/v1beta2"]["serverRelativeURL"]).stdout
    )
    patch = doc["paths"]["/apis/longhorn.io/v1beta2/namespaces/{namespace}/recurringjobs/{name}"]["patch"]
    assert {"name": "fieldValidation", "in": "query"}.items() <= patch["parameters"][2].items()
    assert patch["x-kubernetes-group-version-kind"]["kind"] == "RecurringJob"
    schema = doc["components"]["schemas"]["io.longhorn.v1beta2.RecurringJob"]
    assert "system-backup" in schema["properties"]["spec"]["properties"]["task"]["enum"]


def test_watch_label_selector_transitions(demo: Any) -> None:
    c = demo.custom
    listed = c.list_namespaced_custom_object(GROUP, VERSION, NS, RJ)
    body = rj("wsel")
    body["metadata"]["labels"] = {"team": "a"}
    c.create_namespaced_custom_object(GROUP, VERSION, NS, RJ, body)
    c.patch_namespaced_custom_object(GROUP, VERSION, NS, RJ, "wsel", {"metadata": {"labels": {"team": "b"}}})
    c.patch_namespaced_custom_object(GROUP, VERSION, NS, RJ, "wsel", {"metadata": {"labels": {"team": "a"}}})
    seen = []
    w = watch.Watch()
    for ev in w.stream(
        c.list_namespaced_custom_object,
        GROUP,
        VERSION,
        NS,
        RJ,
        label_selector="team=a",
        resource_version=listed["metadata"]["resourceVersion"],
        timeout_seconds=1,
    ):
        seen.append((ev["type"], ev["object"]["metadata"]["labels"]["team"]))
    assert seen == [("ADDED", "a"), ("DELETED", "a"), ("ADDED", "a")]


def test_examples_create_as_documented(demo: Any) -> None:
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "data" / "longhorn-examples"
    created = 0
    for path in sorted(examples.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            meta = doc["metadata"]
            for key in ("resourceVersion", "uid", "creationTimestamp", "generation"):
                meta.pop(key, None)
            meta["name"] = "ex-" + meta["name"]
            if doc["apiVersion"] == "v1":
                kind = doc["kind"]
                if kind == "Secret":
                    demo.core.create_namespaced_secret(NS, doc)
                else:
                    demo.core.create_namespaced_config_map(NS, doc)
            else:
                plural = doc["kind"].lower() + "s"
                demo.custom.create_namespaced_custom_object(GROUP, VERSION, NS, plural, doc)
            created += 1
    assert created == 12


def test_delete_collection_by_label(demo: Any) -> None:
    c = demo.custom
    for i in range(3):
        body = rj(f"dc-{i}")
        body["metadata"]["labels"] = {"sweep": "yes" if i < 2 else "no"}
        c.create_namespaced_custom_object(GROUP, VERSION, NS, RJ, body)
    out = c.delete_collection_namespaced_custom_object(GROUP, VERSION, NS, RJ, label_selector="sweep=yes")
    assert sorted(o["metadata"]["name"] for o in out["items"]) == ["dc-0", "dc-1"]
    left = c.list_namespaced_custom_object(GROUP, VERSION, NS, RJ, label_selector="sweep")
    assert [o["metadata"]["name"] for o in left["items"]] == ["dc-2"]


def test_health_and_version_endpoints(demo: Any) -> None:
    for path in ("/healthz", "/livez", "/readyz"):
        assert demo.kubectl("get", "--raw", path).stdout == "ok"
    for path in ("/version", "/version/"):
        assert json.loads(demo.kubectl("get", "--raw", path).stdout)["major"] == "1"
    assert json.loads(demo.kubectl("get", "--raw", "/api").stdout)["versions"] == ["v1"]
