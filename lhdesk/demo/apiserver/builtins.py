"""Built-in resource types: their discovery facts, a structural schema each, defaults and checks.

The schemas are lighter than kube's Go types (deep, rarely used sub-trees keep unknown fields),
but they prune unknown top-level fields the way typed decoding drops them, and they feed
``/openapi/v3``. Defaults are the ones a client can see on objects it reads back.
"""

from __future__ import annotations

import base64
import binascii
import copy
import itertools
import re
import threading
from typing import Any

from lhdesk.demo.apiserver import errors
from lhdesk.demo.apiserver import meta as metarules
from lhdesk.demo.apiserver.errors import FieldError
from lhdesk.demo.apiserver.resources import ResourceType
from lhdesk.demo.apiserver.selectors import BASE_FIELDS, FieldGetter

Obj = dict[str, Any]

S: dict[str, Any] = {"type": "string"}
I64: dict[str, Any] = {"type": "integer", "format": "int64"}
I32: dict[str, Any] = {"type": "integer", "format": "int32"}
B: dict[str, Any] = {"type": "boolean"}
TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
NULLABLE_TIME: dict[str, Any] = {"type": "string", "format": "date-time", "nullable": True}
ANY_OBJ: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
BYTES: dict[str, Any] = {"type": "string", "format": "byte"}


def obj(
    props: dict[str, Any] | None = None, required: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object"}
    if props is not None:
        out["properties"] = props
    if required:
        out["required"] = required
    out.update(extra)
    return out


def arr(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def smap(value: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": value or S}


def _preserve(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "x-kubernetes-preserve-unknown-fields": True}


def root(props: dict[str, Any]) -> dict[str, Any]:
    base = {"apiVersion": S, "kind": S, "metadata": {"type": "object"}}
    base.update(props)
    return obj(base)


OBJECT_REFERENCE = obj(
    {"apiVersion": S, "fieldPath": S, "kind": S, "name": S, "namespace": S, "resourceVersion": S, "uid": S}
)
LABEL_SELECTOR = obj(
    {
        "matchLabels": smap(),
        "matchExpressions": arr(obj({"key": S, "operator": S, "values": arr(S)}, ["key", "operator"])),
    }
)
QUANTITY_MAP = smap({"x-kubernetes-int-or-string": True})
CONDITION = obj(
    {
        "type": S,
        "status": S,
        "lastProbeTime": TIME,
        "lastTransitionTime": TIME,
        "reason": S,
        "message": S,
        "observedGeneration": I64,
    },
)


def _data_field_errors(o: Obj, path: str, binary: bool) -> list[FieldError]:
    out: list[FieldError] = []
    data = o.get(path)
    if not isinstance(data, dict):
        return out
    for k, v in data.items():
        if not re.fullmatch(r"[-._a-zA-Z0-9]+", k) or len(k) > 253:
            out.append(
                errors.invalid(
                    f"{path}[{k}]",
                    k,
                    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
                    "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation "
                    "is '[-._a-zA-Z0-9]+')",
                )
            )
        if binary and isinstance(v, str):
            try:
                base64.b64decode(v, validate=True)
            except (binascii.Error, ValueError):
                out.append(
                    errors.invalid(
                        f"{path}[{k}]",
                        "<secret contents redacted>" if path == "data" else v,
                        "illegal base64 data",
                    )
                )
    return out


def _immutable_data(new: Obj, old: Obj | None, fields: tuple[str, ...]) -> list[FieldError]:
    if old is None or not old.get("immutable"):
        return []
    out: list[FieldError] = []
    if not new.get("immutable"):
        out.append(errors.forbidden("immutable", "field is immutable when `immutable` is set"))
    for f in fields:
        if (new.get(f) or {}) != (old.get(f) or {}):
            out.append(errors.forbidden(f, "field is immutable when `immutable` is set"))
    return out


# ----------------------------------------------------------------------------- strategies


def _namespace_prepare(new: Obj, old: Obj | None) -> None:
    if old is None:
        spec = new.setdefault("spec", {})
        if not spec.get("finalizers"):
            spec["finalizers"] = ["kubernetes"]
        new["status"] = {"phase": "Active"}
    else:
        new["spec"] = copy.deepcopy(old.get("spec") or {})


def _configmap_validate(new: Obj, old: Obj | None) -> list[FieldError]:
    out = _data_field_errors(new, "data", False) + _data_field_errors(new, "binaryData", False)
    for k in set(new.get("data") or {}) & set(new.get("binaryData") or {}):
        out.append(errors.invalid(f"data[{k}]", k, "duplicate of key present in binaryData"))
    return out + _immutable_data(new, old, ("data", "binaryData"))


def _secret_prepare(new: Obj, old: Obj | None) -> None:
    if not new.get("type"):
        new["type"] = old.get("type", "Opaque") if old else "Opaque"
    string_data = new.pop("stringData", None)
    if isinstance(string_data, dict):
        data = dict(new.get("data") or {})
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()
        new["data"] = data


def _secret_validate(new: Obj, old: Obj | None) -> list[FieldError]:
    out = _data_field_errors(new, "data", False)
    if old is not None and old.get("type") != new.get("type"):
        out.append(errors.invalid("type", new.get("type"), "field is immutable"))
    return out + _immutable_data(new, old, ("data",))


_IPS = itertools.count(10)
_IPS_LOCK = threading.Lock()


def _service_prepare(new: Obj, old: Obj | None) -> None:
    spec = new.setdefault("spec", {})
    if old is not None:
        old_spec = old.get("spec") or {}
        for key in ("clusterIP", "clusterIPs"):
            if key in old_spec and not spec.get(key):
                spec[key] = old_spec[key]
        new["status"] = copy.deepcopy(old.get("status") or {"loadBalancer": {}})
    else:
        new["status"] = {"loadBalancer": {}}
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if not spec.get("clusterIP"):
        with _IPS_LOCK:
            n = next(_IPS)
        ip = f"10.0.{n // 250}.{n % 250 + 1}"
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip]
    elif spec["clusterIP"] == "None":
        spec["clusterIPs"] = ["None"]
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])


def _event_prepare(new: Obj, old: Obj | None) -> None:
    # Zero values a typed Event always serialises.
    for key in ("eventTime", "firstTimestamp", "lastTimestamp"):
        new.setdefault(key, None)
    new.setdefault("reportingComponent", "")
    new.setdefault("reportingInstance", "")
    new.setdefault("source", {})


# Finalizers the StorageObjectInUseProtection admission plugin adds; the protection controllers
# remove them once nothing uses the volume (the server emulates that, see Cluster._release_protected).
PV_PROTECTION = "kubernetes.io/pv-protection"
PVC_PROTECTION = "kubernetes.io/pvc-protection"


def _add_finalizer(new: Obj, name: str) -> None:
    meta = new.setdefault("metadata", {})
    fins = list(meta.get("finalizers") or [])
    if name not in fins:
        fins.append(name)
    meta["finalizers"] = fins


def _keep_status(default: Obj) -> Any:
    def prepare(new: Obj, old: Obj | None) -> None:
        if old is None:
            new["status"] = copy.deepcopy(default)
        else:
            new["status"] = copy.deepcopy(old.get("status") or default)

    return prepare


def _pod_template_defaults(spec: Obj) -> None:
    pod = spec.setdefault("template", {}).setdefault("spec", {})
    if isinstance(pod, dict):
        pod.setdefault("restartPolicy", "Always")
        pod.setdefault("terminationGracePeriodSeconds", 30)
        pod.setdefault("dnsPolicy", "ClusterFirst")
        pod.setdefault("securityContext", {})
        pod.setdefault("schedulerName", "default-scheduler")
        for c in pod.get("containers") or []:
            if isinstance(c, dict):
                c.setdefault("terminationMessagePath", "/dev/termination-log")
                c.setdefault("terminationMessagePolicy", "File")
                c.setdefault(
                    "imagePullPolicy",
                    "IfNotPresent"
                    if ":" in str(c.get("image", "")).rsplit("/", 1)[-1]
                    and not str(c.get("image", "")).endswith(":latest")
                    else "Always",
                )
                c.setdefault("resources", {})


def _deployment_prepare(new: Obj, old: Obj | None) -> None:
    _keep_status({})(new, old)
    spec = new.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault(
        "strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    )
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _pod_template_defaults(spec)


def _daemonset_prepare(new: Obj, old: Obj | None) -> None:
    # The typed DaemonSetStatus has four required counters; kube stores them as zeros.
    _keep_status(
        {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0, "numberReady": 0}
    )(new, old)
    spec = new.setdefault("spec", {})
    spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}})
    spec.setdefault("revisionHistoryLimit", 10)
    _pod_template_defaults(spec)
    # The DaemonSet strategy counts template changes in an annotation.
    meta = new.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    key = "deprecated.daemonset.template.generation"
    previous = int((((old or {}).get("metadata") or {}).get("annotations") or {}).get(key) or 0)
    changed = old is None or (old.get("spec") or {}).get("template") != spec.get("template")
    annotations[key] = str(previous + 1 if changed else previous)
    meta["annotations"] = annotations


def _pv_prepare(new: Obj, old: Obj | None) -> None:
    _keep_status({"phase": "Pending"})(new, old)
    if old is None:
        _add_finalizer(new, PV_PROTECTION)
    spec = new.setdefault("spec", {})
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
    spec.setdefault("volumeMode", "Filesystem")


def _pvc_prepare(new: Obj, old: Obj | None) -> None:
    _keep_status({"phase": "Pending"})(new, old)
    if old is None:
        _add_finalizer(new, PVC_PROTECTION)
    spec = new.setdefault("spec", {})
    spec.setdefault("volumeMode", "Filesystem")


def _pvc_validate(new: Obj, old: Obj | None) -> list[FieldError]:
    out: list[FieldError] = []
    spec = new.get("spec") or {}
    if not spec.get("accessModes"):
        out.append(errors.required("spec.accessModes", "at least 1 access mode is required"))
    if not ((spec.get("resources") or {}).get("requests") or {}).get("storage"):
        out.append(errors.required("spec.resources[storage]"))
    return out


def _sc_prepare(new: Obj, old: Obj | None) -> None:
    new.setdefault("reclaimPolicy", "Delete")
    new.setdefault("volumeBindingMode", "Immediate")


def _sc_validate(new: Obj, old: Obj | None) -> list[FieldError]:
    out: list[FieldError] = []
    if not new.get("provisioner"):
        out.append(errors.required("provisioner"))
    if old is not None:
        if (new.get("parameters") or {}) != (old.get("parameters") or {}):
            out.append(errors.forbidden("parameters", "updates to parameters are forbidden."))
        if new.get("provisioner") != old.get("provisioner"):
            out.append(errors.forbidden("provisioner", "updates to provisioner are forbidden."))
        if new.get("reclaimPolicy") != old.get("reclaimPolicy"):
            out.append(errors.forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
        if new.get("volumeBindingMode") != old.get("volumeBindingMode"):
            out.append(errors.forbidden("volumeBindingMode", "field is immutable"))
    return out


def _webhook_prepare(mutating: bool) -> Any:
    def prepare(new: Obj, old: Obj | None) -> None:
        for hook in new.get("webhooks") or []:
            if not isinstance(hook, dict):
                continue
            hook.setdefault("failurePolicy", "Fail")
            hook.setdefault("matchPolicy", "Equivalent")
            hook.setdefault("namespaceSelector", {})
            hook.setdefault("objectSelector", {})
            hook.setdefault("timeoutSeconds", 10)
            if mutating:
                hook.setdefault("reinvocationPolicy", "Never")
            for rule in hook.get("rules") or []:
                if isinstance(rule, dict):
                    rule.setdefault("scope", "*")
            cc = hook.get("clientConfig")
            if isinstance(cc, dict) and isinstance(cc.get("service"), dict):
                cc["service"].setdefault("port", 443)

    return prepare


def _webhook_validate(new: Obj, old: Obj | None) -> list[FieldError]:
    out: list[FieldError] = []
    names: set[str] = set()
    for i, hook in enumerate(new.get("webhooks") or []):
        p = f"webhooks[{i}]"
        if not isinstance(hook, dict):
            continue
        name = str(hook.get("name", ""))
        if not name:
            out.append(errors.required(f"{p}.name"))
        elif name.count(".") < 2:
            out.append(
                errors.invalid(
                    f"{p}.name", name, "should be a domain with at least three segments separated by dots"
                )
            )
        elif name in names:
            out.append(errors.FieldError("FieldValueDuplicate", f"{p}.name", name))
        names.add(name)
        cc = hook.get("clientConfig") or {}
        has_url, has_svc = bool(cc.get("url")), bool(cc.get("service"))
        if has_url == has_svc:
            out.append(errors.required(f"{p}.clientConfig", "exactly one of url or service is required"))
        elif has_url and not str(cc["url"]).startswith("https://"):
            out.append(
                errors.invalid(f"{p}.clientConfig.url", cc["url"], "'https' is the only allowed URL scheme")
            )
        versions = hook.get("admissionReviewVersions")
        if not versions:
            out.append(errors.required(f"{p}.admissionReviewVersions", "must specify one of v1, v1beta1"))
        elif not any(v in ("v1", "v1beta1") for v in versions):
            out.append(
                errors.invalid(
                    f"{p}.admissionReviewVersions", versions, "must include at least one of v1, v1beta1"
                )
            )
        se = hook.get("sideEffects")
        if se not in ("None", "NoneOnDryRun"):
            if se is None:
                out.append(errors.required(f"{p}.sideEffects"))
            else:
                out.append(errors.not_supported(f"{p}.sideEffects", se, ["None", "NoneOnDryRun"]))
        fp = hook.get("failurePolicy")
        if fp not in ("Fail", "Ignore"):
            out.append(errors.not_supported(f"{p}.failurePolicy", fp, ["Fail", "Ignore"]))
        ts = hook.get("timeoutSeconds")
        if isinstance(ts, int) and not 1 <= ts <= 30:
            out.append(
                errors.invalid(
                    f"{p}.timeoutSeconds", ts, "the timeout value must be between 1 and 30 seconds"
                )
            )
        for j, rule in enumerate(hook.get("rules") or []):
            ops = rule.get("operations") or []
            for op in ops:
                if op not in ("*", "CREATE", "UPDATE", "DELETE", "CONNECT"):
                    out.append(
                        errors.not_supported(
                            f"{p}.rules[{j}].operations", op, ["*", "CONNECT", "CREATE", "DELETE", "UPDATE"]
                        )
                    )
            if not rule.get("resources"):
                out.append(errors.required(f"{p}.rules[{j}].resources"))
    return out


def _rbac_rules_validate(new: Obj, old: Obj | None) -> list[FieldError]:
    out: list[FieldError] = []
    for i, rule in enumerate(new.get("rules") or []):
        if not isinstance(rule, dict):
            continue
        if not rule.get("verbs"):
            out.append(errors.required(f"rules[{i}].verbs", "verbs must contain at least one value"))
        if rule.get("nonResourceURLs") and (rule.get("resources") or rule.get("apiGroups")):
            out.append(
                errors.invalid(
                    f"rules[{i}].nonResourceURLs",
                    rule["nonResourceURLs"],
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
            )
        if not rule.get("nonResourceURLs") and not rule.get("resources"):
            out.append(
                errors.required(f"rules[{i}].resources", "resource rules must supply at least one resource")
            )
    return out


def _binding_validate(new: Obj, old: Obj | None) -> list[FieldError]:
    out: list[FieldError] = []
    ref = new.get("roleRef") or {}
    if not ref.get("name"):
        out.append(errors.required("roleRef.name"))
    if ref.get("kind") not in ("Role", "ClusterRole"):
        out.append(errors.not_supported("roleRef.kind", ref.get("kind", ""), ["ClusterRole", "Role"]))
    if old is not None and (old.get("roleRef") or {}) != ref:
        out.append(errors.invalid("roleRef", ref, "cannot change roleRef"))
    for i, subj in enumerate(new.get("subjects") or []):
        if not isinstance(subj, dict):
            continue
        if subj.get("kind") not in ("User", "Group", "ServiceAccount"):
            out.append(
                errors.not_supported(
                    f"subjects[{i}].kind", subj.get("kind", ""), ["Group", "ServiceAccount", "User"]
                )
            )
        if not subj.get("name"):
            out.append(errors.required(f"subjects[{i}].name"))
    return out


def _event_fields() -> dict[str, FieldGetter]:
    def io(key: str) -> FieldGetter:
        return lambda o: (o.get("involvedObject") or {}).get(key)

    out = dict(BASE_FIELDS)
    for key in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"):
        out[f"involvedObject.{key}"] = io(key)
    out["reason"] = lambda o: o.get("reason")
    out["reportingComponent"] = lambda o: o.get("reportingComponent")
    out["source"] = lambda o: (o.get("source") or {}).get("component")
    out["type"] = lambda o: o.get("type")
    return out


def _with(**getters: FieldGetter) -> dict[str, FieldGetter]:
    out = dict(BASE_FIELDS)
    out.update(getters)
    return out


# ----------------------------------------------------------------------------- schemas

POLICY_RULE = obj(
    {
        "apiGroups": arr(S),
        "resources": arr(S),
        "resourceNames": arr(S),
        "verbs": arr(S),
        "nonResourceURLs": arr(S),
    },
    ["verbs"],
)
SUBJECT = obj({"kind": S, "apiGroup": S, "name": S, "namespace": S}, ["kind", "name"])
ROLE_REF = obj({"apiGroup": S, "kind": S, "name": S}, ["apiGroup", "kind", "name"])

WEBHOOK = obj(
    {
        "name": S,
        "clientConfig": obj(
            {"url": S, "caBundle": BYTES, "service": obj({"namespace": S, "name": S, "path": S, "port": I32})}
        ),
        "rules": arr(
            obj(
                {
                    "apiGroups": arr(S),
                    "apiVersions": arr(S),
                    "operations": arr(S),
                    "resources": arr(S),
                    "scope": S,
                }
            )
        ),
        "failurePolicy": S,
        "matchPolicy": S,
        "namespaceSelector": LABEL_SELECTOR,
        "objectSelector": LABEL_SELECTOR,
        "sideEffects": S,
        "timeoutSeconds": I32,
        "admissionReviewVersions": arr(S),
        "reinvocationPolicy": S,
        "matchConditions": arr(obj({"name": S, "expression": S})),
    },
    ["name", "clientConfig", "sideEffects", "admissionReviewVersions"],
)

SSAR_SPEC = obj(
    {
        "resourceAttributes": obj(
            {
                "namespace": S,
                "verb": S,
                "group": S,
                "version": S,
                "resource": S,
                "subresource": S,
                "name": S,
                "fieldSelector": ANY_OBJ,
                "labelSelector": ANY_OBJ,
            }
        ),
        "nonResourceAttributes": obj({"path": S, "verb": S}),
    }
)
SAR_STATUS = obj({"allowed": B, "denied": B, "reason": S, "evaluationError": S})


def builtin_types() -> list[ResourceType]:
    """Every built-in resource type, in kube's discovery order."""
    t: list[ResourceType] = []
    core = ""
    t.append(
        ResourceType(
            core,
            "v1",
            "namespaces",
            "Namespace",
            False,
            short_names=("ns",),
            status=True,
            name_rule=metarules.LABEL,
            prepare=_namespace_prepare,
            return_deleted=True,
            verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
            field_getters=_with(**{"status.phase": lambda o: (o.get("status") or {}).get("phase")}),
            schema=root(
                {
                    "spec": obj({"finalizers": arr(S)}),
                    "status": obj({"phase": S, "conditions": arr(CONDITION)}),
                }
            ),
            extra_subresources=("finalize",),
        )
    )
    t.append(
        ResourceType(
            core,
            "v1",
            "configmaps",
            "ConfigMap",
            True,
            short_names=("cm",),
            validate=_configmap_validate,
            schema=root({"data": smap(), "binaryData": smap(BYTES), "immutable": B}),
            omit_empty=("data", "binaryData"),
        )
    )
    t.append(
        ResourceType(
            core,
            "v1",
            "secrets",
            "Secret",
            True,
            prepare=_secret_prepare,
            validate=_secret_validate,
            field_getters=_with(type=lambda o: o.get("type")),
            schema=root({"data": smap(BYTES), "stringData": smap(), "type": S, "immutable": B}),
            omit_empty=("data",),
        )
    )
    t.append(
        ResourceType(
            core,
            "v1",
            "events",
            "Event",
            True,
            short_names=("ev",),
            prepare=_event_prepare,
            field_getters=_event_fields(),
            schema=root(
                {
                    "involvedObject": OBJECT_REFERENCE,
                    "reason": S,
                    "message": S,
                    "source": obj({"component": S, "host": S}),
                    "firstTimestamp": NULLABLE_TIME,
                    "lastTimestamp": NULLABLE_TIME,
                    "count": I32,
                    "type": S,
                    "eventTime": {"type": "string", "format": "date-time", "nullable": True},
                    "series": ANY_OBJ,
                    "action": S,
                    "related": OBJECT_REFERENCE,
                    "reportingComponent": S,
                    "reportingInstance": S,
                }
            ),
        )
    )
    t.append(
        ResourceType(
            core,
            "v1",
            "services",
            "Service",
            True,
            short_names=("svc",),
            categories=("all",),
            status=True,
            prepare=_service_prepare,
            return_deleted=True,
            name_rule=metarules.LABEL,
            verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
            schema=root({"spec": ANY_OBJ, "status": ANY_OBJ}),
        )
    )
    t.append(
        ResourceType(
            core,
            "v1",
            "serviceaccounts",
            "ServiceAccount",
            True,
            short_names=("sa",),
            return_deleted=True,
            schema=root(
                {
                    "secrets": arr(OBJECT_REFERENCE),
                    "imagePullSecrets": arr(obj({"name": S})),
                    "automountServiceAccountToken": B,
                }
            ),
        )
    )
    t.append(
        ResourceType(
            core,
            "v1",
            "persistentvolumes",
            "PersistentVolume",
            False,
            short_names=("pv",),
            status=True,
            prepare=_pv_prepare,
            return_deleted=True,
            field_getters=_with(**{"status.phase": lambda o: (o.get("status") or {}).get("phase")}),
            schema=root(
                {
                    "spec": _preserve(
                        obj(
                            {
                                "capacity": QUANTITY_MAP,
                                "accessModes": arr(S),
                                "claimRef": OBJECT_REFERENCE,
                                "persistentVolumeReclaimPolicy": S,
                                "storageClassName": S,
                                "mountOptions": arr(S),
                                "volumeMode": S,
                                "nodeAffinity": ANY_OBJ,
                                "volumeAttributesClassName": S,
                                "csi": ANY_OBJ,
                                "hostPath": ANY_OBJ,
                                "local": ANY_OBJ,
                                "nfs": ANY_OBJ,
                            },
                        )
                    ),
                    "status": obj({"phase": S, "message": S, "reason": S, "lastPhaseTransitionTime": TIME}),
                }
            ),
        )
    )
    t.append(
        ResourceType(
            core,
            "v1",
            "persistentvolumeclaims",
            "PersistentVolumeClaim",
            True,
            short_names=("pvc",),
            status=True,
            prepare=_pvc_prepare,
            validate=_pvc_validate,
            return_deleted=True,
            schema=root(
                {
                    "spec": obj(
                        {
                            "accessModes": arr(S),
                            "selector": LABEL_SELECTOR,
                            "resources": obj({"limits": QUANTITY_MAP, "requests": QUANTITY_MAP}),
                            "volumeName": S,
                            "storageClassName": S,
                            "volumeMode": S,
                            "dataSource": ANY_OBJ,
                            "dataSourceRef": ANY_OBJ,
                            "volumeAttributesClassName": S,
                        }
                    ),
                    "status": obj(
                        {
                            "phase": S,
                            "accessModes": arr(S),
                            "capacity": QUANTITY_MAP,
                            "conditions": arr(CONDITION),
                            "allocatedResources": QUANTITY_MAP,
                            "allocatedResourceStatuses": smap(),
                            "currentVolumeAttributesClassName": S,
                            "modifyVolumeStatus": ANY_OBJ,
                        }
                    ),
                }
            ),
        )
    )
    # apps/v1 workloads are stored and served, but nothing runs them (no controllers, no pods).
    workload_schema = root({"spec": ANY_OBJ, "status": ANY_OBJ})
    t.append(
        ResourceType(
            "apps",
            "v1",
            "daemonsets",
            "DaemonSet",
            True,
            short_names=("ds",),
            categories=("all",),
            status=True,
            generation=True,
            prepare=_daemonset_prepare,
            schema=workload_schema,
        )
    )
    t.append(
        ResourceType(
            "apps",
            "v1",
            "deployments",
            "Deployment",
            True,
            short_names=("deploy",),
            categories=("all",),
            status=True,
            generation=True,
            prepare=_deployment_prepare,
            schema=workload_schema,
        )
    )
    t.append(
        ResourceType(
            "authentication.k8s.io",
            "v1",
            "selfsubjectreviews",
            "SelfSubjectReview",
            False,
            verbs=("create",),
            virtual=True,
            schema=root({"status": ANY_OBJ}),
        )
    )
    t.append(
        ResourceType(
            "authorization.k8s.io",
            "v1",
            "selfsubjectaccessreviews",
            "SelfSubjectAccessReview",
            False,
            verbs=("create",),
            virtual=True,
            schema=root({"spec": SSAR_SPEC, "status": SAR_STATUS}),
        )
    )
    t.append(
        ResourceType(
            "authorization.k8s.io",
            "v1",
            "selfsubjectrulesreviews",
            "SelfSubjectRulesReview",
            False,
            verbs=("create",),
            virtual=True,
            schema=root({"spec": obj({"namespace": S}), "status": ANY_OBJ}),
        )
    )
    t.append(
        ResourceType(
            "authorization.k8s.io",
            "v1",
            "subjectaccessreviews",
            "SubjectAccessReview",
            False,
            verbs=("create",),
            virtual=True,
            schema=root(
                {
                    "spec": obj(
                        {
                            "resourceAttributes": SSAR_SPEC["properties"]["resourceAttributes"],
                            "nonResourceAttributes": SSAR_SPEC["properties"]["nonResourceAttributes"],
                            "user": S,
                            "groups": arr(S),
                            "uid": S,
                            "extra": ANY_OBJ,
                        }
                    ),
                    "status": SAR_STATUS,
                }
            ),
        )
    )
    rbac = "rbac.authorization.k8s.io"
    t.append(
        ResourceType(
            rbac,
            "v1",
            "clusterrolebindings",
            "ClusterRoleBinding",
            False,
            name_rule=metarules.PATH_SEGMENT,
            validate=_binding_validate,
            schema=root({"subjects": arr(SUBJECT), "roleRef": ROLE_REF}),
        )
    )
    t.append(
        ResourceType(
            rbac,
            "v1",
            "clusterroles",
            "ClusterRole",
            False,
            name_rule=metarules.PATH_SEGMENT,
            validate=_rbac_rules_validate,
            schema=root(
                {
                    "rules": arr(POLICY_RULE),
                    "aggregationRule": obj({"clusterRoleSelectors": arr(LABEL_SELECTOR)}),
                }
            ),
        )
    )
    t.append(
        ResourceType(
            rbac,
            "v1",
            "rolebindings",
            "RoleBinding",
            True,
            name_rule=metarules.PATH_SEGMENT,
            validate=_binding_validate,
            schema=root({"subjects": arr(SUBJECT), "roleRef": ROLE_REF}),
        )
    )
    t.append(
        ResourceType(
            rbac,
            "v1",
            "roles",
            "Role",
            True,
            name_rule=metarules.PATH_SEGMENT,
            validate=_rbac_rules_validate,
            schema=root({"rules": arr(POLICY_RULE)}),
        )
    )
    t.append(
        ResourceType(
            "storage.k8s.io",
            "v1",
            "storageclasses",
            "StorageClass",
            False,
            short_names=("sc",),
            prepare=_sc_prepare,
            validate=_sc_validate,
            return_deleted=True,
            schema=root(
                {
                    "provisioner": S,
                    "parameters": smap(),
                    "reclaimPolicy": S,
                    "mountOptions": arr(S),
                    "allowVolumeExpansion": B,
                    "volumeBindingMode": S,
                    "allowedTopologies": arr(ANY_OBJ),
                }
            ),
        )
    )
    adm = "admissionregistration.k8s.io"
    t.append(
        ResourceType(
            adm,
            "v1",
            "mutatingwebhookconfigurations",
            "MutatingWebhookConfiguration",
            False,
            categories=("api-extensions",),
            generation=True,
            prepare=_webhook_prepare(True),
            validate=_webhook_validate,
            schema=root({"webhooks": arr(WEBHOOK)}),
        )
    )
    t.append(
        ResourceType(
            adm,
            "v1",
            "validatingwebhookconfigurations",
            "ValidatingWebhookConfiguration",
            False,
            categories=("api-extensions",),
            generation=True,
            prepare=_webhook_prepare(False),
            validate=_webhook_validate,
            schema=root({"webhooks": arr(WEBHOOK)}),
        )
    )
    t.append(
        ResourceType(
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            False,
            short_names=("crd", "crds"),
            categories=("api-extensions",),
            status=True,
            generation=True,
            return_deleted=True,
            schema=root(
                {
                    "spec": obj(
                        {
                            "group": S,
                            "names": ANY_OBJ,
                            "scope": S,
                            "versions": arr(ANY_OBJ),
                            "conversion": ANY_OBJ,
                            "preserveUnknownFields": B,
                        },
                        ["group", "names", "scope", "versions"],
                    ),
                    "status": obj(
                        {"conditions": arr(CONDITION), "acceptedNames": ANY_OBJ, "storedVersions": arr(S)}
                    ),
                }
            ),
        )
    )
    t.append(
        ResourceType(
            "coordination.k8s.io",
            "v1",
            "leases",
            "Lease",
            True,
            schema=root(
                {
                    "spec": obj(
                        {
                            "holderIdentity": S,
                            "leaseDurationSeconds": I32,
                            "acquireTime": TIME,
                            "renewTime": TIME,
                            "leaseTransitions": I32,
                            "strategy": S,
                            "preferredHolder": S,
                        }
                    )
                }
            ),
        )
    )
    return t
