"""OpenAPI documents: ``/openapi/v3`` (index + one document per group-version) and ``/openapi/v2``.

kubectl reads the v3 document of a group-version to learn that PATCH accepts ``fieldValidation``;
it then leaves schema validation to the server (``fieldValidation=Strict``) instead of validating
client-side. The component schemas carry each resource's structural schema for ``kubectl explain``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from lhdesk.demo.apiserver.resources import Registry, ResourceType

Obj = dict[str, Any]

META = "io.k8s.apimachinery.pkg.apis.meta.v1"

_BUILTIN_PREFIX = {
    "": "io.k8s.api.core",
    "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions",
}

CRD_PATCH_TYPES = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
]
BUILTIN_PATCH_TYPES = CRD_PATCH_TYPES


def schema_prefix(group: str) -> str:
    if group in _BUILTIN_PREFIX:
        return _BUILTIN_PREFIX[group]
    if group.endswith(".k8s.io"):
        return "io.k8s.api." + group.split(".")[0]
    return ".".join(reversed(group.split(".")))


def schema_name(rt: ResourceType, list_kind: bool = False) -> str:
    return f"{schema_prefix(rt.group)}.{rt.version}.{rt.list_kind if list_kind else rt.kind}"


def _ref(name: str) -> Obj:
    return {"$ref": f"#/components/schemas/{name}"}


def _meta_schemas() -> dict[str, Obj]:
    s = {"type": "string"}
    smap = {"type": "object", "additionalProperties": {"type": "string", "default": ""}}
    return {
        f"{META}.ObjectMeta": {
            "description": "ObjectMeta is metadata that all persisted resources must have, which includes "
            "all objects users must create.",
            "type": "object",
            "properties": {
                "annotations": smap,
                "creationTimestamp": {"type": "string", "format": "date-time"},
                "deletionGracePeriodSeconds": {"type": "integer", "format": "int64"},
                "deletionTimestamp": {"type": "string", "format": "date-time"},
                "finalizers": {
                    "type": "array",
                    "items": {"type": "string", "default": ""},
                    "x-kubernetes-list-type": "set",
                    "x-kubernetes-patch-strategy": "merge",
                },
                "generateName": s,
                "generation": {"type": "integer", "format": "int64"},
                "labels": smap,
                "managedFields": {
                    "type": "array",
                    "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
                "name": s,
                "namespace": s,
                "ownerReferences": {
                    "type": "array",
                    "items": {"allOf": [_ref(f"{META}.OwnerReference")], "default": {}},
                    "x-kubernetes-list-map-keys": ["uid"],
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-patch-merge-key": "uid",
                    "x-kubernetes-patch-strategy": "merge",
                },
                "resourceVersion": s,
                "selfLink": s,
                "uid": s,
            },
        },
        f"{META}.OwnerReference": {
            "type": "object",
            "required": ["apiVersion", "kind", "name", "uid"],
            "properties": {
                "apiVersion": s,
                "blockOwnerDeletion": {"type": "boolean"},
                "controller": {"type": "boolean"},
                "kind": s,
                "name": s,
                "uid": s,
            },
            "x-kubernetes-map-type": "atomic",
        },
        f"{META}.ListMeta": {
            "type": "object",
            "properties": {
                "continue": s,
                "remainingItemCount": {"type": "integer", "format": "int64"},
                "resourceVersion": s,
                "selfLink": s,
            },
        },
        f"{META}.Status": {
            "type": "object",
            "properties": {
                "apiVersion": s,
                "code": {"type": "integer", "format": "int32"},
                "details": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "kind": s,
                "message": s,
                "metadata": {"allOf": [_ref(f"{META}.ListMeta")], "default": {}},
                "reason": s,
                "status": s,
            },
            "x-kubernetes-group-version-kind": [{"group": "", "kind": "Status", "version": "v1"}],
        },
        f"{META}.DeleteOptions": {
            "type": "object",
            "properties": {
                "apiVersion": s,
                "dryRun": {"type": "array", "items": s},
                "gracePeriodSeconds": {"type": "integer", "format": "int64"},
                "kind": s,
                "orphanDependents": {"type": "boolean"},
                "preconditions": {"type": "object", "properties": {"resourceVersion": s, "uid": s}},
                "propagationPolicy": s,
            },
        },
        f"{META}.Patch": {
            "type": "object",
            "description": "Patch is provided to give a concrete name and type to "
            "the Kubernetes PATCH request body.",
        },
        f"{META}.WatchEvent": {
            "type": "object",
            "required": ["type", "object"],
            "properties": {
                "object": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "type": s,
            },
        },
    }


def _resource_schema(rt: ResourceType) -> Obj:
    base: Obj = (
        copy.deepcopy(rt.schema)
        if rt.schema
        else {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    )
    props = base.setdefault("properties", {})
    props["apiVersion"] = {
        "type": "string",
        "description": "APIVersion defines the versioned schema of this representation of an object.",
    }
    props["kind"] = {
        "type": "string",
        "description": "Kind is a string value representing the REST resource this object represents.",
    }
    props["metadata"] = {"allOf": [_ref(f"{META}.ObjectMeta")], "default": {}}
    base["type"] = "object"
    base["x-kubernetes-group-version-kind"] = [{"group": rt.group, "kind": rt.kind, "version": rt.version}]
    return base


def _list_schema(rt: ResourceType) -> Obj:
    return {
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string"},
            "items": {"type": "array", "items": _ref(schema_name(rt))},
            "kind": {"type": "string"},
            "metadata": {"allOf": [_ref(f"{META}.ListMeta")], "default": {}},
        },
        "x-kubernetes-group-version-kind": [{"group": rt.group, "kind": rt.list_kind, "version": rt.version}],
    }


def _qparam(name: str, kind: str = "string", description: str = "") -> Obj:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": kind, "uniqueItems": True},
    }


def _pparam(name: str) -> Obj:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "uniqueItems": True}}


_WRITE_PARAMS = [
    _qparam("dryRun", description="When present, indicates that modifications should not be persisted."),
    _qparam(
        "fieldManager",
        description="fieldManager is a name associated with the actor or entity that is "
        "making these changes.",
    ),
    _qparam(
        "fieldValidation",
        description="fieldValidation instructs the server on how to handle objects in the "
        "request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: Ignore, Warn, "
        "Strict.",
    ),
]
_LIST_PARAMS = [
    _qparam("allowWatchBookmarks", "boolean"),
    _qparam("continue"),
    _qparam("fieldSelector"),
    _qparam("labelSelector"),
    _qparam("limit", "integer"),
    _qparam("resourceVersion"),
    _qparam("resourceVersionMatch"),
    _qparam("sendInitialEvents", "boolean"),
    _qparam("timeoutSeconds", "integer"),
    _qparam("watch", "boolean"),
]


def _op(
    rt: ResourceType,
    action: str,
    op_id: str,
    response: Obj,
    params: list[Obj] | None = None,
    body: Obj | None = None,
    codes: tuple[str, ...] = ("200",),
) -> Obj:
    content = {"application/json": {"schema": response}, "application/yaml": {"schema": response}}
    out: Obj = {
        "tags": [f"{rt.group or 'core'}_{rt.version}"],
        "operationId": op_id,
        "responses": {
            c: {
                "description": "OK" if c == "200" else ("Created" if c == "201" else "Accepted"),
                "content": content,
            }
            for c in codes
        }
        | {"401": {"description": "Unauthorized"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
    }
    if params:
        out["parameters"] = params
    if body is not None:
        out["requestBody"] = body
    return out


def _ident(rt: ResourceType) -> str:
    g = "".join(p.capitalize() for p in (rt.group or "core").replace("-", ".").split("."))
    return f"{g}{rt.version.capitalize()}"


def _paths(rt: ResourceType) -> dict[str, Obj]:
    prefix = f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"
    ns = "/namespaces/{namespace}" if rt.namespaced else ""
    coll = f"{prefix}{ns}/{rt.plural}"
    item = f"{coll}/{{name}}"
    one = _ref(schema_name(rt))
    many = _ref(schema_name(rt, True))
    status = _ref(f"{META}.Status")
    ident = _ident(rt)
    scoped = "Namespaced" if rt.namespaced else ""
    json_body = {"content": {"*/*": {"schema": one}}, "required": True}
    patch_types = CRD_PATCH_TYPES if not rt.strategic_merge else BUILTIN_PATCH_TYPES
    patch_body = {"content": {t: {"schema": _ref(f"{META}.Patch")} for t in patch_types}, "required": True}
    path_params = ([_pparam("namespace")] if rt.namespaced else []) + [_qparam("pretty")]
    paths: dict[str, Obj] = {}
    if rt.virtual:
        paths[coll] = {
            "post": _op(
                rt,
                "post",
                f"create{ident}{scoped}{rt.kind}",
                one,
                _WRITE_PARAMS,
                json_body,
                ("200", "201", "202"),
            ),
            "parameters": path_params,
        }
        return paths
    paths[coll] = {
        "get": _op(rt, "list", f"list{ident}{scoped}{rt.kind}", many, _LIST_PARAMS),
        "post": _op(
            rt,
            "post",
            f"create{ident}{scoped}{rt.kind}",
            one,
            _WRITE_PARAMS,
            json_body,
            ("200", "201", "202"),
        ),
        "delete": _op(
            rt,
            "deletecollection",
            f"deleteCollection{ident}{scoped}{rt.kind}",
            status,
            [
                *_LIST_PARAMS[:7],
                _qparam("dryRun"),
                _qparam("gracePeriodSeconds", "integer"),
                _qparam("propagationPolicy"),
            ],
        ),
        "parameters": path_params,
    }
    item_params = [_pparam("name"), *path_params]
    paths[item] = {
        "get": _op(rt, "get", f"read{ident}{scoped}{rt.kind}", one),
        "put": _op(
            rt, "put", f"replace{ident}{scoped}{rt.kind}", one, _WRITE_PARAMS, json_body, ("200", "201")
        ),
        "patch": _op(
            rt,
            "patch",
            f"patch{ident}{scoped}{rt.kind}",
            one,
            [*_WRITE_PARAMS, _qparam("force", "boolean")],
            patch_body,
            ("200", "201"),
        ),
        "delete": _op(
            rt,
            "delete",
            f"delete{ident}{scoped}{rt.kind}",
            status,
            [_qparam("dryRun"), _qparam("gracePeriodSeconds", "integer"), _qparam("propagationPolicy")],
            None,
            ("200", "202"),
        ),
        "parameters": item_params,
    }
    if rt.status:
        paths[f"{item}/status"] = {
            "get": _op(rt, "get", f"read{ident}{scoped}{rt.kind}Status", one),
            "put": _op(
                rt,
                "put",
                f"replace{ident}{scoped}{rt.kind}Status",
                one,
                _WRITE_PARAMS,
                json_body,
                ("200", "201"),
            ),
            "patch": _op(
                rt,
                "patch",
                f"patch{ident}{scoped}{rt.kind}Status",
                one,
                [*_WRITE_PARAMS, _qparam("force", "boolean")],
                patch_body,
                ("200", "201"),
            ),
            "parameters": item_params,
        }
    if rt.namespaced:
        paths[f"{prefix}/{rt.plural}"] = {
            "get": _op(rt, "list", f"list{ident}{rt.kind}ForAllNamespaces", many, _LIST_PARAMS),
            "parameters": [_qparam("pretty")],
        }
    return paths


def group_version_document(registry: Registry, group: str, version: str, server_version: str) -> Obj:
    types = sorted(registry.in_group_version(group, version), key=lambda t: t.plural)
    schemas = _meta_schemas()
    paths: dict[str, Obj] = {}
    for rt in types:
        schemas[schema_name(rt)] = _resource_schema(rt)
        if not rt.virtual:
            schemas[schema_name(rt, True)] = _list_schema(rt)
        paths.update(_paths(rt))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": server_version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "BearerToken": {
                    "type": "apiKey",
                    "description": "Bearer Token authentication",
                    "name": "authorization",
                    "in": "header",
                }
            },
        },
    }


def document_hash(doc: Obj) -> str:
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:128].upper()


def v2_document(registry: Registry, server_version: str) -> Obj:
    """A Swagger 2.0 document of everything served (JSON; kubectl's protobuf form is not offered)."""
    definitions: dict[str, Obj] = {}
    paths: dict[str, Obj] = {}
    for group, versions in registry.groups():
        for version in versions:
            doc = group_version_document(registry, group, version, server_version)
            for name, schema in doc["components"]["schemas"].items():
                definitions[name] = _v2_schema(schema)
            for path, item in doc["paths"].items():
                paths[path] = _v2_path(item)
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": server_version},
        "paths": paths,
        "definitions": definitions,
        "securityDefinitions": {"BearerToken": {"type": "apiKey", "name": "authorization", "in": "header"}},
        "security": [{"BearerToken": []}],
    }


def _v2_schema(s: Any) -> Any:
    if isinstance(s, dict):
        out = {}
        for k, v in s.items():
            if k == "$ref" and isinstance(v, str):
                out[k] = v.replace("#/components/schemas/", "#/definitions/")
            elif k == "allOf" and isinstance(v, list) and len(v) == 1 and "$ref" in v[0]:
                out["$ref"] = v[0]["$ref"].replace("#/components/schemas/", "#/definitions/")
            elif k == "default" and v == {}:
                continue
            else:
                out[k] = _v2_schema(v)
        return out
    if isinstance(s, list):
        return [_v2_schema(x) for x in s]
    return s


def _v2_path(item: Obj) -> Obj:
    out: Obj = {}
    for method, op in item.items():
        if method == "parameters":
            out["parameters"] = [_v2_param(p) for p in op]
            continue
        new = {k: v for k, v in op.items() if k not in ("requestBody", "responses", "parameters")}
        params = [_v2_param(p) for p in op.get("parameters") or []]
        body = op.get("requestBody")
        if body:
            content = body.get("content") or {}
            schema = next(iter(content.values()))["schema"] if content else {}
            params.append({"name": "body", "in": "body", "required": True, "schema": _v2_schema(schema)})
            new["consumes"] = list(content)
        if params:
            new["parameters"] = params
        new["produces"] = ["application/json", "application/yaml"]
        new["schemes"] = ["https"]
        responses: Obj = {}
        for code, resp in (op.get("responses") or {}).items():
            entry: Obj = {"description": resp.get("description", "")}
            content = resp.get("content") or {}
            if content:
                entry["schema"] = _v2_schema(next(iter(content.values()))["schema"])
            responses[code] = entry
        new["responses"] = responses
        out[method] = new
    return out


def _v2_param(p: Obj) -> Obj:
    out = {k: v for k, v in p.items() if k != "schema"}
    schema = p.get("schema") or {}
    out["type"] = schema.get("type", "string")
    if schema.get("uniqueItems"):
        out["uniqueItems"] = True
    return out
