"""The API semantics, independent of HTTP: create, read, update, patch, delete, with admission.

This is where kube-apiserver's registry behaviour lives: system metadata, generation, the status
subresource, optimistic concurrency, finalizers and deletionTimestamp, dry runs, namespace and
CRD lifecycles, schema pruning/defaulting/validation, and the order in which admission runs
(mutating webhooks, then the strategy's own checks, then validating webhooks, then storage).
"""

from __future__ import annotations

import base64
import copy
import datetime
import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lhdesk.demo.apiserver import crds, errors, schema
from lhdesk.demo.apiserver import meta as metarules
from lhdesk.demo.apiserver.admission import Admission
from lhdesk.demo.apiserver.admission import Request as AdmissionRequest
from lhdesk.demo.apiserver.builtins import builtin_types
from lhdesk.demo.apiserver.errors import ApiError, FieldError
from lhdesk.demo.apiserver.patch import json_patch, merge_patch, strategic_merge_patch
from lhdesk.demo.apiserver.rbac import Authorizer, User, bootstrap_objects
from lhdesk.demo.apiserver.resources import Registry, ResourceType
from lhdesk.demo.apiserver.selectors import FieldSelector, LabelSelector
from lhdesk.demo.apiserver.store import Store

logger = logging.getLogger(__name__)

Obj = dict[str, Any]

NAMESPACES = ("", "namespaces")
PROTECTION_FINALIZERS = {
    ("", "persistentvolumes"): "kubernetes.io/pv-protection",
    ("", "persistentvolumeclaims"): "kubernetes.io/pvc-protection",
}
IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class WriteOptions:
    dry_run: bool = False
    field_validation: str = "Warn"  # Strict / Warn / Ignore
    field_manager: str = ""
    force: bool = False


@dataclass
class Result:
    obj: Obj
    code: int = 200
    warnings: list[str] = field(default_factory=list)


def _meta(o: Obj) -> Obj:
    m = o.get("metadata")
    if not isinstance(m, dict):
        m = {}
        o["metadata"] = m
    return m


def _without_rv(o: Obj) -> Obj:
    c = dict(o)
    m = dict(c.get("metadata") or {})
    m.pop("resourceVersion", None)
    m.pop("managedFields", None)
    c["metadata"] = m
    return c


def _strip_nones_top(o: Obj) -> None:
    meta = o.get("metadata")
    if isinstance(meta, dict):
        for k in [k for k, v in meta.items() if v is None]:
            del meta[k]


def _spec_part(o: Obj) -> Obj:
    return {k: v for k, v in o.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class Cluster:
    """All objects and the rules for changing them. Thread-safe."""

    def __init__(
        self, history: int = 5000, readonly_user: str = "demo-readonly", server_version: str = "v1.33.0"
    ) -> None:
        self.store = Store(history)
        self.registry = Registry()
        self.server_version = server_version
        for rt in builtin_types():
            self.registry.add(rt)
        self.authorizer = Authorizer(self.store)
        self.admission = Admission(self.store, self._namespace_labels)
        self._crd_lock = threading.RLock()
        self.on_types_changed: list[Callable[[], None]] = []
        for key, o in bootstrap_objects(readonly_user):
            rt = self.registry.of_key(key)[0]
            self._system_create(rt, o)
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self._system_create(
                self.registry.of_key(NAMESPACES)[0],
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
            )

    # ------------------------------------------------------------------ helpers

    def _system_create(self, rt: ResourceType, o: Obj) -> Obj:
        o = copy.deepcopy(o)
        m = _meta(o)
        m.setdefault("uid", str(uuid.uuid4()))
        m.setdefault("creationTimestamp", now())
        if rt.prepare:
            rt.prepare(o, None)
        return self.store.put(rt.key, o)

    def _namespace_labels(self, name: str) -> dict[str, str] | None:
        ns = self.store.get(NAMESPACES, "", name)
        if ns is None:
            return None
        return dict((ns.get("metadata") or {}).get("labels") or {})

    def type_for(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self.registry.get(group, version, plural)

    def _as_version(self, rt: ResourceType, o: Obj) -> Obj:
        if o.get("apiVersion") == rt.api_version:
            return o
        out = dict(o)
        out["apiVersion"] = rt.api_version
        return out

    def _crd_of(self, rt: ResourceType) -> Obj | None:
        if not rt.custom:
            return None
        return self.store.get(crds.CRD_KEY, "", f"{rt.plural}.{rt.group}")

    # ------------------------------------------------------------------ reads

    def get(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        o = self.store.get(rt.key, namespace if rt.namespaced else "", name)
        if o is None:
            raise errors.not_found(rt.qualified_resource, name)
        return self._as_version(rt, o)

    def list_objects(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: LabelSelector,
        fields: FieldSelector,
        limit: int = 0,
        cont: str = "",
    ) -> tuple[list[Obj], int, str, int | None]:
        """(items, list resourceVersion, continue token, remainingItemCount)."""
        ns = namespace if rt.namespaced else None
        items, rv = self.store.items(rt.key, ns)
        # Keys as etcd orders them, relative to the list's prefix (what a continue token names).
        with_ns = rt.namespaced and ns is None

        def key_of(o: Obj) -> str:
            m = o["metadata"]
            return f"{m.get('namespace', '')}/{m['name']}" if with_ns else str(m["name"])

        start = ""
        if cont:
            try:
                padded = cont + "=" * (-len(cont) % 4)
                token = json.loads(base64.urlsafe_b64decode(padded.encode()))
                start = str(token["start"])
                rv = int(token["rv"])
            except (ValueError, KeyError, TypeError):
                raise errors.bad_request(
                    "invalid continue token: continue key is not valid: invalid character looking for "
                    "beginning of value"
                ) from None
        out: list[Obj] = []
        filtered = not labels.empty or not fields.empty
        next_token = ""
        remaining: int | None = None
        for idx, o in enumerate(items):
            if start and key_of(o) < start:
                continue
            if filtered and not (labels.matches(o["metadata"].get("labels")) and fields.matches(o)):
                continue
            if limit and len(out) >= limit:
                token = {"v": "meta.k8s.io/v1", "rv": rv, "start": key_of(out[-1]) + "\x00"}
                raw = json.dumps(token, separators=(",", ":")).encode()
                next_token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
                if not filtered:
                    remaining = len(items) - idx
                break
            out.append(self._as_version(rt, o))
        return out, rv, next_token, remaining

    # ------------------------------------------------------------------ decoding

    def decode_body(self, rt: ResourceType, body: Any, opts: WriteOptions, warnings: list[str]) -> Obj:
        """What kube's decoder does: GVK checks, pruning/defaulting, unknown-field handling."""
        if not isinstance(body, dict):
            raise errors.bad_request(
                f"the object provided is unrecognized (must be of type {rt.kind}): "
                f"couldn't get version/kind; json parse error"
            )
        o = copy.deepcopy(body)
        api_version = o.get("apiVersion")
        kind = o.get("kind")
        if rt.custom:
            cannot = (
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: unmarshalerDecoder: '
            )
            if not kind:
                raise errors.bad_request(f"{cannot}Object 'Kind' is missing in '{json.dumps(body)}'")
            if not api_version:
                raise errors.bad_request(f"{cannot}Object 'apiVersion' is missing in '{json.dumps(body)}'")
        if api_version and api_version != rt.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected "
                f"API version ({rt.api_version})"
            )
        if kind and kind != rt.kind:
            raise errors.bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
            )
        o["apiVersion"] = rt.api_version
        o["kind"] = rt.kind
        if not isinstance(o.get("metadata", {}), dict):
            raise errors.bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                "metadata must be an object"
            )
        _strip_nones_top(o)
        if not rt.custom:
            _check_base64(rt, o)
        unknown = schema.process(o, rt.schema)
        if unknown:
            problems = [f'unknown field "{p}"' for p in unknown]
            if opts.field_validation == "Strict":
                raise errors.bad_request(
                    f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                    f"strict decoding error: {', '.join(problems)}"
                )
            if opts.field_validation == "Warn":
                warnings.extend(problems)
        return o

    # ------------------------------------------------------------------ validation

    def _validate(self, rt: ResourceType, o: Obj, old: Obj | None, status_only: bool = False) -> None:
        errs: list[FieldError] = []
        meta = _meta(o)
        if rt.custom or rt.schema is not None:
            errs.extend(schema.validate(o, rt.schema))
        if rt.validate is not None and not status_only:
            errs.extend(rt.validate(o, old))
        if rt.key == crds.CRD_KEY and not status_only:
            errs.extend(crds.validate(o, old))
        errs.extend(metarules.validate_object_meta(meta, rt.name_rule, rt.namespaced))
        if old is not None:
            errs.extend(metarules.validate_object_meta_update(meta, _meta(old)))
        if errs:
            raise errors.invalid_object(
                rt.qualified_kind, str(meta.get("name") or meta.get("generateName") or ""), errs
            )

    def _check_namespace(self, rt: ResourceType, namespace: str, operation: str, name: str = "") -> None:
        """The NamespaceLifecycle admission plugin."""
        if not rt.namespaced:
            return
        ns = self.store.get(NAMESPACES, "", namespace)
        if ns is None:
            raise errors.not_found(errors.Qualified("namespaces", ""), namespace)
        if operation == "CREATE" and (ns.get("metadata") or {}).get("deletionTimestamp"):
            err = errors.forbidden_error(
                rt.qualified_resource,
                name,
                f"unable to create new content in namespace {namespace} because it is being terminated",
            )
            assert err.details is not None
            err.details["causes"] = [
                {
                    "reason": "NamespaceTerminating",
                    "message": f"namespace {namespace} is being terminated",
                    "field": "metadata.namespace",
                }
            ]
            raise err

    def _check_crd_live(self, rt: ResourceType) -> None:
        crd = self._crd_of(rt)
        if crd is not None and (crd.get("metadata") or {}).get("deletionTimestamp"):
            raise ApiError(
                405,
                "MethodNotAllowed",
                "create not allowed while custom resource definition is terminating",
                {},
            )

    # ------------------------------------------------------------------ create

    def create(self, rt: ResourceType, namespace: str, body: Any, user: User, opts: WriteOptions) -> Result:
        warnings: list[str] = []
        o = self.decode_body(rt, body, opts, warnings)
        meta = _meta(o)
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
        else:
            meta.pop("namespace", None)
        if meta.get("resourceVersion"):
            # kube-apiserver answers this with a bare 500 (no reason).
            raise ApiError(500, "", "resourceVersion should not be set on objects to be created")
        self._check_namespace(rt, namespace, "CREATE", str(meta.get("name") or ""))
        self._check_crd_live(rt)
        # Mutating admission sees the decoded object before the registry fills in system fields.
        areq = AdmissionRequest(
            "CREATE",
            rt,
            "",
            namespace if rt.namespaced else "",
            str(meta.get("name") or ""),
            o,
            None,
            user,
            opts.dry_run,
            self._options("CreateOptions", opts),
        )
        mutated = self.admission.mutate(areq)
        warnings.extend(areq.warnings)
        areq.warnings.clear()
        if mutated is not o:
            o = self._after_mutation(rt, mutated)
            meta = _meta(o)
        if rt.namespaced:
            meta["namespace"] = namespace
        # BeforeCreate: strategy PrepareForCreate, system fields, generateName, validation.
        meta.pop("deletionTimestamp", None)
        meta.pop("deletionGracePeriodSeconds", None)
        meta.pop("managedFields", None)
        if rt.custom and rt.status:
            o.pop("status", None)
        if rt.key == crds.CRD_KEY:
            crds.apply_defaults(o)
            o.pop("status", None)
        if rt.prepare is not None:
            rt.prepare(o, None)
        if rt.generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        meta["creationTimestamp"] = now()
        meta["uid"] = str(uuid.uuid4())
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = metarules.generate_name(str(meta["generateName"]))
        self._validate(rt, o, None)
        if rt.key == crds.CRD_KEY:
            crds.initial_status(o)
        areq.obj = o
        areq.name = meta["name"]
        self.admission.validate(areq)
        warnings.extend(areq.warnings)
        schema.prune(o, rt.schema)
        metarules.drop_empty_collections(o, rt.omit_empty)
        okey_ns = namespace if rt.namespaced else ""
        with self.store.lock:
            if self.store.get(rt.key, okey_ns, meta["name"]) is not None:
                raise errors.already_exists(rt.qualified_resource, meta["name"])
            if opts.dry_run:
                return Result(self._as_version(rt, o), 201, warnings)
            stored = self.store.put(rt.key, o)
        if rt.key == crds.CRD_KEY:
            established = copy.deepcopy(stored)
            crds.set_status(established, None)
            self.store.put(rt.key, established)
            self._serve_crd(established)
        return Result(self._as_version(rt, stored), 201, warnings)

    def _after_mutation(self, rt: ResourceType, mutated: Obj | None) -> Obj:
        if not isinstance(mutated, dict):
            raise errors.internal("mutating webhook returned an object that is not a JSON object")
        o = copy.deepcopy(mutated)
        o["apiVersion"] = rt.api_version
        o["kind"] = rt.kind
        # Like kube, a webhook's patch is defaulted but not pruned yet: validating webhooks see
        # what the mutating ones wrote; unknown fields go when the object is stored.
        schema.apply_defaults(o, rt.schema)
        return o

    @staticmethod
    def _options(kind: str, opts: WriteOptions, extra: Obj | None = None) -> Obj:
        out: Obj = {"kind": kind, "apiVersion": "meta.k8s.io/v1"}
        if opts.dry_run:
            out["dryRun"] = ["All"]
        if opts.field_manager:
            out["fieldManager"] = opts.field_manager
        if extra:
            out.update(extra)
        return out

    # ------------------------------------------------------------------ update / patch

    def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        user: User,
        opts: WriteOptions,
        subresource: str = "",
    ) -> Result:
        warnings: list[str] = []
        o = self.decode_body(rt, body, opts, warnings)
        meta = _meta(o)
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        if rt.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        meta["name"] = name
        if rt.namespaced:
            meta["namespace"] = namespace
        return self._update(
            rt,
            namespace,
            name,
            lambda _cur: o,
            user,
            opts,
            subresource,
            warnings,
            precondition=str(meta.get("resourceVersion") or ""),
            retry=False,
        )

    def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        body: Any,
        user: User,
        opts: WriteOptions,
        subresource: str = "",
    ) -> Result:
        warnings: list[str] = []
        if content_type == STRATEGIC_PATCH and not rt.strategic_merge:
            raise errors.unsupported_media_type(content_type, [JSON_PATCH, MERGE_PATCH, APPLY_PATCH])
        if content_type == APPLY_PATCH:
            return self._apply(rt, namespace, name, body, user, opts, subresource)

        def patched(current: Obj) -> Obj:
            if content_type == JSON_PATCH:
                new = json_patch(current, body)
            elif content_type == MERGE_PATCH:
                if not isinstance(body, dict):
                    raise _patch_not_an_object(body)
                new = merge_patch(current, body)
            else:
                if not isinstance(body, dict):
                    raise _patch_not_an_object(body)
                new = strategic_merge_patch(current, body)
            if not isinstance(new, dict):
                raise errors.bad_request("the patch produced something other than an object")
            identity = []
            if new.get("apiVersion") != rt.api_version:
                identity.append(
                    errors.invalid("apiVersion", new.get("apiVersion"), f"must be {rt.api_version}")
                )
            if new.get("kind") != rt.kind:
                identity.append(errors.invalid("kind", new.get("kind"), f"must be {rt.kind}"))
            if identity:
                raise errors.invalid_object(errors.Qualified(str(new.get("kind")), rt.group), name, identity)
            m = _meta(new)
            if m.get("name") != name:
                raise errors.bad_request(
                    f"the name of the object ({m.get('name')}) does not match the name on the URL ({name})"
                )
            got = self.decode_body(rt, new, opts, warnings)
            m = _meta(got)
            if rt.namespaced:
                m["namespace"] = namespace
            return got

        precondition = ""
        if isinstance(body, dict) and isinstance(body.get("metadata"), dict):
            precondition = str(body["metadata"].get("resourceVersion") or "")
        return self._update(
            rt,
            namespace,
            name,
            patched,
            user,
            opts,
            subresource,
            warnings,
            precondition=precondition,
            retry=not precondition,
            patching=True,
        )

    def _apply(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        user: User,
        opts: WriteOptions,
        subresource: str,
    ) -> Result:
        """Server-side apply, simplified: create the object, or merge the applied fields into it."""
        if not isinstance(body, dict):
            raise errors.bad_request("error decoding YAML: apply patch must be an object")
        if not opts.field_manager:
            raise errors.bad_request("PATCH, fieldManager is required for apply requests")
        existing = self.store.get(rt.key, namespace if rt.namespaced else "", name)
        if existing is None and not subresource:
            applied = copy.deepcopy(body)
            m = _meta(applied)
            if m.get("name") and m["name"] != name:
                raise errors.bad_request(
                    f"the name of the object ({m['name']}) does not match the name on the URL ({name})"
                )
            m["name"] = name
            return self.create(rt, namespace, applied, user, opts)
        warnings: list[str] = []

        def applied_onto(current: Obj) -> Obj:
            merged = merge_patch(current, _drop_rv(body))
            got = self.decode_body(rt, merged, opts, warnings)
            m = _meta(got)
            m["name"] = name
            if rt.namespaced:
                m["namespace"] = namespace
            return got

        precondition = str(
            ((body.get("metadata") or {}) if isinstance(body.get("metadata"), dict) else {}).get(
                "resourceVersion"
            )
            or ""
        )
        return self._update(
            rt,
            namespace,
            name,
            applied_onto,
            user,
            opts,
            subresource,
            warnings,
            precondition=precondition,
            retry=True,
            patching=True,
        )

    def _update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        make: Callable[[Obj], Obj],
        user: User,
        opts: WriteOptions,
        subresource: str,
        warnings: list[str],
        precondition: str,
        retry: bool,
        patching: bool = False,
    ) -> Result:
        ns = namespace if rt.namespaced else ""
        for _attempt in range(5):
            current = self.store.get(rt.key, ns, name)
            if current is None:
                raise errors.not_found(rt.qualified_resource, name)
            current_v = self._as_version(rt, current)
            new = make(copy.deepcopy(current_v))
            meta = _meta(new)
            if patching and not precondition:
                meta["resourceVersion"] = current["metadata"]["resourceVersion"]
            areq = AdmissionRequest(
                "UPDATE",
                rt,
                subresource,
                ns,
                name,
                new,
                current_v,
                user,
                opts.dry_run,
                self._options("UpdateOptions", opts),
            )
            mutated = self.admission.mutate(areq)
            warnings.extend(areq.warnings)
            areq.warnings.clear()
            if mutated is not new:
                new = self._after_mutation(rt, mutated)
                meta = _meta(new)
            rv = str(meta.get("resourceVersion") or "")
            if not rv:
                if not rt.unconditional_update:
                    raise errors.invalid_object(
                        rt.qualified_resource,
                        name,
                        [
                            errors.invalid(
                                "metadata.resourceVersion",
                                errors.Raw("0x0"),
                                "must be specified for an update",
                            )
                        ],
                    )
                rv = current["metadata"]["resourceVersion"]
            if rv != current["metadata"]["resourceVersion"]:
                raise errors.stale(rt.qualified_resource, name)
            new = self._prepare_update(rt, new, current_v, subresource)
            self._validate(rt, new, current_v, status_only=subresource == "status")
            if rt.key == crds.CRD_KEY:
                crds.set_status(new, current_v, terminating=bool(_meta(new).get("deletionTimestamp")))
            areq.obj = new
            self.admission.validate(areq)
            warnings.extend(areq.warnings)
            schema.prune(new, rt.schema)
            metarules.drop_empty_collections(new, rt.omit_empty)
            with self.store.lock:
                latest = self.store.get(rt.key, ns, name)
                if latest is None:
                    raise errors.not_found(rt.qualified_resource, name)
                if latest["metadata"]["resourceVersion"] != current["metadata"]["resourceVersion"]:
                    if retry:
                        continue
                    raise errors.stale(rt.qualified_resource, name)
                _meta(new)["resourceVersion"] = current["metadata"]["resourceVersion"]
                if _without_rv(new) == _without_rv(current_v):
                    return Result(current_v, 200, warnings)
                if opts.dry_run:
                    return Result(new, 200, warnings)
                m = _meta(new)
                if m.get("deletionTimestamp") and not m.get("finalizers"):
                    # The last finalizer is gone: the object is deleted. Like kube, the DELETED event
                    # carries the object as it was stored; the caller gets its update back.
                    final = self.store.remove(rt.key, current)
                    _meta(new)["resourceVersion"] = final["metadata"]["resourceVersion"]
                    result = Result(self._as_version(rt, new), 200, warnings)
                else:
                    new["apiVersion"] = (
                        rt.api_version if rt.version == rt.storage_version else new["apiVersion"]
                    )
                    stored = self.store.put(rt.key, self._to_storage(rt, new))
                    result = Result(self._as_version(rt, stored), 200, warnings)
            if rt.key == crds.CRD_KEY:
                self._serve_crd(self.store.get(crds.CRD_KEY, "", name))
            self._finish_terminations()
            return result
        raise errors.stale(rt.qualified_resource, name)

    def _to_storage(self, rt: ResourceType, o: Obj) -> Obj:
        if rt.version == rt.storage_version:
            return o
        out = dict(o)
        out["apiVersion"] = f"{rt.group}/{rt.storage_version}" if rt.group else rt.storage_version
        return out

    def _prepare_update(self, rt: ResourceType, new: Obj, old: Obj, subresource: str) -> Obj:
        """rest.BeforeUpdate + the strategy's PrepareForUpdate."""
        om = _meta(old)
        if subresource == "status":
            out = copy.deepcopy(old)
            if "status" in new:
                out["status"] = new["status"]
            else:
                out.pop("status", None)
            _meta(out)["resourceVersion"] = _meta(new).get("resourceVersion")
            return out
        if subresource == "finalize":
            out = copy.deepcopy(old)
            out.setdefault("spec", {})["finalizers"] = list((new.get("spec") or {}).get("finalizers") or [])
            _meta(out)["resourceVersion"] = _meta(new).get("resourceVersion")
            return out
        nm = _meta(new)
        for key in ("creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if om.get(key) is not None:
                nm[key] = om[key]
            else:
                nm.pop(key, None)
        if not nm.get("uid"):
            nm["uid"] = om.get("uid")
        nm.pop("managedFields", None)
        if rt.status:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        if rt.prepare is not None:
            rt.prepare(new, old)
        if rt.key == crds.CRD_KEY:
            crds.apply_defaults(new)
        if rt.generation:
            gen = int(om.get("generation") or 1)
            changed = (
                (_spec_part(new) != _spec_part(old))
                if rt.status
                else (
                    {k: v for k, v in new.items() if k != "metadata"}
                    != {k: v for k, v in old.items() if k != "metadata"}
                )
            )
            nm["generation"] = gen + 1 if changed else gen
        else:
            nm.pop("generation", None)
        return new

    # ------------------------------------------------------------------ delete

    def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        options: Obj,
        user: User,
        opts: WriteOptions,
        admit: bool = True,
    ) -> Result:
        ns = namespace if rt.namespaced else ""
        if rt.key == NAMESPACES and name in IMMORTAL_NAMESPACES:
            raise errors.forbidden_error(rt.qualified_resource, name, "this namespace may not be deleted")
        current = self.store.get(rt.key, ns, name)
        if current is None:
            raise errors.not_found(rt.qualified_resource, name)
        pre = options.get("preconditions") or {}
        cm = current["metadata"]
        if pre.get("uid") and pre["uid"] != cm.get("uid"):
            raise errors.conflict(
                rt.qualified_kind,
                name,
                f"the UID in the precondition ({pre['uid']}) does not match the UID in record "
                f"({cm.get('uid')}). The object might have been deleted and then recreated",
            )
        if pre.get("resourceVersion") and pre["resourceVersion"] != cm.get("resourceVersion"):
            raise errors.conflict(
                rt.qualified_kind,
                name,
                f"the ResourceVersion in the precondition ({pre['resourceVersion']}) does not match the "
                f"ResourceVersion in record ({cm.get('resourceVersion')}). "
                "The object might have been modified",
            )
        current_v = self._as_version(rt, current)
        if admit:
            extra = {
                k: v
                for k, v in options.items()
                if k in ("propagationPolicy", "gracePeriodSeconds", "preconditions", "orphanDependents")
            }
            areq = AdmissionRequest(
                "DELETE",
                rt,
                "",
                ns,
                name,
                None,
                current_v,
                user,
                opts.dry_run,
                self._options("DeleteOptions", opts, extra),
            )
            self.admission.mutate(areq)
            self.admission.validate(areq)
            warnings = list(areq.warnings)
        else:
            warnings = []
        graceful = bool(cm.get("finalizers")) or rt.key in (NAMESPACES, crds.CRD_KEY)
        if graceful:
            if cm.get("deletionTimestamp"):
                return Result(current_v, 200, warnings)
            marked = copy.deepcopy(current_v)
            mm = _meta(marked)
            mm["deletionTimestamp"] = now()
            if rt.key != NAMESPACES:
                mm["deletionGracePeriodSeconds"] = 0
            if mm.get("generation"):
                mm["generation"] = int(mm["generation"]) + 1
            if rt.key == NAMESPACES:
                marked.setdefault("status", {})["phase"] = "Terminating"
            if rt.key == crds.CRD_KEY:
                fins = list(mm.get("finalizers") or [])
                if crds.CLEANUP_FINALIZER not in fins:
                    fins.append(crds.CLEANUP_FINALIZER)
                mm["finalizers"] = fins
                crds.set_status(marked, current_v, terminating=True)
            if opts.dry_run:
                return Result(marked, 200, warnings)
            with self.store.lock:
                latest = self.store.get(rt.key, ns, name)
                if latest is None:
                    raise errors.not_found(rt.qualified_resource, name)
                if latest["metadata"]["resourceVersion"] != cm["resourceVersion"]:
                    return self.delete(rt, namespace, name, options, user, opts, admit=False)
                stored = self.store.put(rt.key, self._to_storage(rt, marked))
            self._finish_terminations()
            latest = self.store.get(rt.key, ns, name)
            if latest is None:
                return self._deleted_result(rt, stored, warnings)
            return Result(self._as_version(rt, latest), 200, warnings)
        if opts.dry_run:
            return self._deleted_result(rt, current_v, warnings)
        with self.store.lock:
            if self.store.get(rt.key, ns, name) is None:
                raise errors.not_found(rt.qualified_resource, name)
            final = self.store.remove(rt.key, current)
        self._finish_terminations()
        return self._deleted_result(rt, self._as_version(rt, final), warnings)

    def _deleted_result(self, rt: ResourceType, o: Obj, warnings: list[str]) -> Result:
        if rt.return_deleted:
            return Result(o, 200, warnings)
        m = o.get("metadata") or {}
        details: Obj = {"name": m.get("name", "")}
        if rt.group:
            details["group"] = rt.group
        details["kind"] = rt.plural
        details["uid"] = m.get("uid", "")
        return Result(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details},
            200,
            warnings,
        )

    # ------------------------------------------------------------------ namespace and CRD lifecycles

    def _finish_terminations(self) -> None:
        """Finish deleting terminating namespaces and CRDs whose contents are gone."""
        for _ in range(10):
            progressed = self._release_protected()
            namespaces, _rv = self.store.items(NAMESPACES)
            for ns in namespaces:
                if (ns.get("metadata") or {}).get("deletionTimestamp"):
                    progressed |= self._sweep_namespace(ns)
            defs, _rv = self.store.items(crds.CRD_KEY)
            for crd in defs:
                if (crd.get("metadata") or {}).get("deletionTimestamp"):
                    progressed |= self._sweep_crd(crd)
            if not progressed:
                return

    def _release_protected(self) -> bool:
        """The pv/pvc-protection controllers: nothing mounts volumes here, so deleting releases them."""
        progressed = False
        for key, finalizer in PROTECTION_FINALIZERS.items():
            for o in self.store.items(key)[0]:
                m = o.get("metadata") or {}
                if not m.get("deletionTimestamp") or finalizer not in (m.get("finalizers") or []):
                    continue
                with self.store.lock:
                    current = self.store.get(key, m.get("namespace") or "", m["name"])
                    if current is None or current["metadata"]["resourceVersion"] != m["resourceVersion"]:
                        continue
                    updated = copy.deepcopy(current)
                    fins = [f for f in updated["metadata"]["finalizers"] if f != finalizer]
                    if fins:
                        updated["metadata"]["finalizers"] = fins
                        self.store.put(key, updated)
                    else:
                        updated["metadata"].pop("finalizers", None)
                        self.store.put(key, updated)
                        self.store.remove(key, updated)
                progressed = True
        return progressed

    def _delete_quietly(self, rt: ResourceType, o: Obj) -> bool:
        m = o["metadata"]
        try:
            self.delete(
                rt,
                m.get("namespace", ""),
                m["name"],
                {},
                User("system:serviceaccount:kube-system:namespace-controller"),
                WriteOptions(),
                admit=False,
            )
        except ApiError:
            return False
        return True

    def _sweep_namespace(self, ns: Obj) -> bool:
        name = ns["metadata"]["name"]
        remaining = 0
        progressed = False
        for rt in self._one_type_per_key():
            if not rt.namespaced:
                continue
            items, _rv = self.store.items(rt.key, name)
            for o in items:
                remaining += 1
                if not (o.get("metadata") or {}).get("deletionTimestamp"):
                    progressed |= self._delete_quietly(rt, o)
        if remaining == 0 and not any(
            self.store.count(rt.key, name) for rt in self._one_type_per_key() if rt.namespaced
        ):
            with self.store.lock:
                current = self.store.get(NAMESPACES, "", name)
                if current is not None and not (current.get("metadata") or {}).get("finalizers"):
                    self.store.remove(NAMESPACES, current)
                    return True
        return progressed

    def _sweep_crd(self, crd: Obj) -> bool:
        spec = crd.get("spec") or {}
        key = (str(spec.get("group")), str((spec.get("names") or {}).get("plural")))
        types = self.registry.of_key(key)
        progressed = False
        if types:
            items, _rv = self.store.items(key)
            for o in items:
                if not (o.get("metadata") or {}).get("deletionTimestamp"):
                    progressed |= self._delete_quietly(types[0], o)
        if self.store.count(key) == 0:
            with self.store.lock:
                current = self.store.get(crds.CRD_KEY, "", crd["metadata"]["name"])
                if current is None:
                    return progressed
                fins = [f for f in current["metadata"].get("finalizers") or [] if f != crds.CLEANUP_FINALIZER]
                if fins:
                    return progressed
                self.store.remove(crds.CRD_KEY, current)
            self._unserve_crd(current)
            return True
        return progressed

    def _one_type_per_key(self) -> list[ResourceType]:
        seen: dict[tuple[str, str], ResourceType] = {}
        for rt in self.registry.all():
            if not rt.virtual:
                seen.setdefault(rt.key, rt)
        return list(seen.values())

    # ------------------------------------------------------------------ CRD serving

    def _serve_crd(self, crd: Obj | None) -> None:
        if crd is None:
            return
        with self._crd_lock:
            spec = crd.get("spec") or {}
            group = str(spec.get("group"))
            plural = str((spec.get("names") or {}).get("plural"))
            self.registry.remove_where(lambda t: t.custom and t.group == group and t.plural == plural)
            for rt in crds.resource_types(crd):
                self.registry.add(rt)
            versions: list[str] = []
            for other in self.store.items(crds.CRD_KEY)[0]:
                if (other.get("spec") or {}).get("group") == group:
                    for v in crds.served_versions(other):
                        if v not in versions:
                            versions.append(v)
            if versions:
                self.registry.set_group_versions(group, sorted(versions, key=crds.version_priority))
        for cb in list(self.on_types_changed):
            cb()

    def _unserve_crd(self, crd: Obj) -> None:
        with self._crd_lock:
            spec = crd.get("spec") or {}
            group = str(spec.get("group"))
            plural = str((spec.get("names") or {}).get("plural"))
            self.registry.remove_where(lambda t: t.custom and t.group == group and t.plural == plural)
            self.store.drop_resource((group, plural))
        for cb in list(self.on_types_changed):
            cb()


def _drop_rv(body: Obj) -> Obj:
    out = copy.deepcopy(body)
    m = out.get("metadata")
    if isinstance(m, dict):
        m.pop("resourceVersion", None)
    return out


_B64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _base64_problem(value: str) -> int | None:
    """Where Go's base64.StdEncoding would fail on ``value`` (None when it decodes)."""
    body = value.rstrip("=")
    for i, ch in enumerate(body):
        if ch not in _B64:
            return i
    if len(value) % 4 or len(value) - len(body) > 2:
        return (len(value) // 4) * 4
    try:
        base64.b64decode(value, validate=True)
    except ValueError:
        return 0
    return None


def _check_base64(rt: ResourceType, o: Obj) -> None:
    """Typed decoding of ``[]byte`` maps (Secret.data, ConfigMap.binaryData) fails with 400 on bad base64."""
    props = (rt.schema or {}).get("properties") or {}
    for field_name, sub in props.items():
        addl = sub.get("additionalProperties") if isinstance(sub, dict) else None
        if not (isinstance(addl, dict) and addl.get("format") == "byte"):
            continue
        values = o.get(field_name)
        if not isinstance(values, dict):
            continue
        for v in values.values():
            pos = _base64_problem(v) if isinstance(v, str) else 0
            if pos is not None:
                go_field = field_name[0].upper() + field_name[1:]
                raise errors.bad_request(
                    f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                    f"{rt.version}.{rt.kind}.{go_field}: decode base64: "
                    f"illegal base64 data at input byte {pos}"
                )


def _patch_not_an_object(body: Any) -> ApiError:
    shown = json.dumps(body, separators=(",", ":"))
    detail = (
        "couldn't get version/kind; json parse error: json: cannot unmarshal array into Go value of type "
        'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; '
        'Kind string "json:\\"kind,omitempty\\"" }'
    )
    return errors.invalid_object(errors.Qualified("", ""), "", [errors.invalid("patch", shown, detail)])
