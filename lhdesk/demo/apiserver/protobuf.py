"""Decoding Kubernetes protobuf request bodies for a few built-in types.

Go clients built with client-go ≥ 1.32 (kubectl's ``create namespace|secret|configmap|role…`` and
``auth can-i``) send built-in objects as ``application/vnd.kubernetes.protobuf``. The server
answers in JSON (those clients accept it) but must read these bodies. The field numbers below are
those of the ``k8s.io/api`` generated.proto files for the types listed in ``MESSAGES``.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any

from lhdesk.demo.apiserver.errors import bad_request, unsupported_media_type

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

# A field: (json name, type, repeated). Types: "string", "bytes", "int", "bool", "time",
# "int-or-string" (intstr.IntOrString), a schema dict (nested message), or ("map", value type).
Field = tuple[str, Any, bool]
Schema = dict[int, Field]

TIME = "time"
INT_OR_STRING = "int-or-string"

OWNER_REF: Schema = {
    1: ("kind", "string", False),
    3: ("name", "string", False),
    4: ("uid", "string", False),
    5: ("apiVersion", "string", False),
    6: ("controller", "bool", False),
    7: ("blockOwnerDeletion", "bool", False),
}
OBJECT_META: Schema = {
    1: ("name", "string", False),
    2: ("generateName", "string", False),
    3: ("namespace", "string", False),
    4: ("selfLink", "string", False),
    5: ("uid", "string", False),
    6: ("resourceVersion", "string", False),
    7: ("generation", "int", False),
    8: ("creationTimestamp", TIME, False),
    9: ("deletionTimestamp", TIME, False),
    10: ("deletionGracePeriodSeconds", "int", False),
    11: ("labels", ("map", "string"), False),
    12: ("annotations", ("map", "string"), False),
    13: ("ownerReferences", OWNER_REF, True),
    14: ("finalizers", "string", True),
}
OBJECT_REFERENCE: Schema = {
    1: ("kind", "string", False),
    2: ("namespace", "string", False),
    3: ("name", "string", False),
    4: ("uid", "string", False),
    5: ("apiVersion", "string", False),
    6: ("resourceVersion", "string", False),
    7: ("fieldPath", "string", False),
}
POLICY_RULE: Schema = {
    1: ("verbs", "string", True),
    2: ("apiGroups", "string", True),
    3: ("resources", "string", True),
    4: ("resourceNames", "string", True),
    5: ("nonResourceURLs", "string", True),
}
LABEL_SELECTOR_REQ: Schema = {
    1: ("key", "string", False),
    2: ("operator", "string", False),
    3: ("values", "string", True),
}
LABEL_SELECTOR: Schema = {
    1: ("matchLabels", ("map", "string"), False),
    2: ("matchExpressions", LABEL_SELECTOR_REQ, True),
}
SUBJECT: Schema = {
    1: ("kind", "string", False),
    2: ("apiGroup", "string", False),
    3: ("name", "string", False),
    4: ("namespace", "string", False),
}
ROLE_REF: Schema = {
    1: ("apiGroup", "string", False),
    2: ("kind", "string", False),
    3: ("name", "string", False),
}
RESOURCE_ATTRIBUTES: Schema = {
    1: ("namespace", "string", False),
    2: ("verb", "string", False),
    3: ("group", "string", False),
    4: ("version", "string", False),
    5: ("resource", "string", False),
    6: ("subresource", "string", False),
    7: ("name", "string", False),
}
NON_RESOURCE_ATTRIBUTES: Schema = {1: ("path", "string", False), 2: ("verb", "string", False)}

# Pod templates: only what ``kubectl create deployment`` fills in (other fields are not decoded).
CONTAINER_PORT: Schema = {
    1: ("name", "string", False),
    2: ("hostPort", "int", False),
    3: ("containerPort", "int", False),
    4: ("protocol", "string", False),
}
ENV_VAR: Schema = {1: ("name", "string", False), 2: ("value", "string", False)}
CONTAINER: Schema = {
    1: ("name", "string", False),
    2: ("image", "string", False),
    3: ("command", "string", True),
    4: ("args", "string", True),
    5: ("workingDir", "string", False),
    6: ("ports", CONTAINER_PORT, True),
    7: ("env", ENV_VAR, True),
    14: ("imagePullPolicy", "string", False),
}
POD_SPEC: Schema = {
    2: ("containers", CONTAINER, True),
    3: ("restartPolicy", "string", False),
    4: ("terminationGracePeriodSeconds", "int", False),
    6: ("dnsPolicy", "string", False),
    7: ("nodeSelector", ("map", "string"), False),
    8: ("serviceAccountName", "string", False),
}
POD_TEMPLATE: Schema = {1: ("metadata", OBJECT_META, False), 2: ("spec", POD_SPEC, False)}

SERVICE_PORT: Schema = {
    1: ("name", "string", False),
    2: ("protocol", "string", False),
    3: ("port", "int", False),
    4: ("targetPort", INT_OR_STRING, False),
    5: ("nodePort", "int", False),
    6: ("appProtocol", "string", False),
}
SERVICE_SPEC: Schema = {
    1: ("ports", SERVICE_PORT, True),
    2: ("selector", ("map", "string"), False),
    3: ("clusterIP", "string", False),
    4: ("type", "string", False),
    5: ("externalIPs", "string", True),
    7: ("sessionAffinity", "string", False),
    8: ("loadBalancerIP", "string", False),
    9: ("loadBalancerSourceRanges", "string", True),
    10: ("externalName", "string", False),
    11: ("externalTrafficPolicy", "string", False),
    12: ("healthCheckNodePort", "int", False),
    13: ("publishNotReadyAddresses", "bool", False),
    17: ("ipFamilyPolicy", "string", False),
    18: ("clusterIPs", "string", True),
    19: ("ipFamilies", "string", True),
    22: ("internalTrafficPolicy", "string", False),
}

MESSAGES: dict[tuple[str, str], Schema] = {
    ("apps/v1", "Deployment"): {
        1: ("metadata", OBJECT_META, False),
        2: (
            "spec",
            {
                1: ("replicas", "int", False),
                2: ("selector", LABEL_SELECTOR, False),
                3: ("template", POD_TEMPLATE, False),
                5: ("minReadySeconds", "int", False),
                6: ("revisionHistoryLimit", "int", False),
                7: ("paused", "bool", False),
                9: ("progressDeadlineSeconds", "int", False),
            },
            False,
        ),
    },
    ("apps/v1", "DaemonSet"): {
        1: ("metadata", OBJECT_META, False),
        2: (
            "spec",
            {
                1: ("selector", LABEL_SELECTOR, False),
                2: ("template", POD_TEMPLATE, False),
                4: ("minReadySeconds", "int", False),
                6: ("revisionHistoryLimit", "int", False),
            },
            False,
        ),
    },
    ("v1", "Namespace"): {
        1: ("metadata", OBJECT_META, False),
        2: ("spec", {1: ("finalizers", "string", True)}, False),
    },
    ("v1", "Service"): {1: ("metadata", OBJECT_META, False), 2: ("spec", SERVICE_SPEC, False)},
    ("v1", "ConfigMap"): {
        1: ("metadata", OBJECT_META, False),
        2: ("data", ("map", "string"), False),
        3: ("binaryData", ("map", "bytes"), False),
        4: ("immutable", "bool", False),
    },
    ("v1", "Secret"): {
        1: ("metadata", OBJECT_META, False),
        2: ("data", ("map", "bytes"), False),
        3: ("type", "string", False),
        4: ("stringData", ("map", "string"), False),
        5: ("immutable", "bool", False),
    },
    ("v1", "ServiceAccount"): {
        1: ("metadata", OBJECT_META, False),
        2: ("secrets", OBJECT_REFERENCE, True),
        3: ("imagePullSecrets", {1: ("name", "string", False)}, True),
        4: ("automountServiceAccountToken", "bool", False),
    },
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): {
        1: ("metadata", OBJECT_META, False),
        2: (
            "spec",
            {
                1: ("resourceAttributes", RESOURCE_ATTRIBUTES, False),
                2: ("nonResourceAttributes", NON_RESOURCE_ATTRIBUTES, False),
            },
            False,
        ),
    },
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): {
        1: ("metadata", OBJECT_META, False),
        2: ("spec", {1: ("namespace", "string", False)}, False),
    },
    ("authorization.k8s.io/v1", "SubjectAccessReview"): {
        1: ("metadata", OBJECT_META, False),
        2: (
            "spec",
            {
                1: ("resourceAttributes", RESOURCE_ATTRIBUTES, False),
                2: ("nonResourceAttributes", NON_RESOURCE_ATTRIBUTES, False),
                3: ("user", "string", False),
                4: ("groups", "string", True),
                6: ("uid", "string", False),
            },
            False,
        ),
    },
    ("authentication.k8s.io/v1", "SelfSubjectReview"): {1: ("metadata", OBJECT_META, False)},
    ("rbac.authorization.k8s.io/v1", "Role"): {
        1: ("metadata", OBJECT_META, False),
        2: ("rules", POLICY_RULE, True),
    },
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): {
        1: ("metadata", OBJECT_META, False),
        2: ("rules", POLICY_RULE, True),
        3: ("aggregationRule", {1: ("clusterRoleSelectors", LABEL_SELECTOR, True)}, False),
    },
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): {
        1: ("metadata", OBJECT_META, False),
        2: ("subjects", SUBJECT, True),
        3: ("roleRef", ROLE_REF, False),
    },
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): {
        1: ("metadata", OBJECT_META, False),
        2: ("subjects", SUBJECT, True),
        3: ("roleRef", ROLE_REF, False),
    },
    ("coordination.k8s.io/v1", "Lease"): {
        1: ("metadata", OBJECT_META, False),
        2: (
            "spec",
            {
                1: ("holderIdentity", "string", False),
                2: ("leaseDurationSeconds", "int", False),
                3: ("acquireTime", TIME, False),
                4: ("renewTime", TIME, False),
                5: ("leaseTransitions", "int", False),
                6: ("strategy", "string", False),
                7: ("preferredHolder", "string", False),
            },
            False,
        ),
    },
    ("meta.k8s.io/v1", "DeleteOptions"): {
        1: ("gracePeriodSeconds", "int", False),
        2: ("preconditions", {1: ("uid", "string", False), 2: ("resourceVersion", "string", False)}, False),
        3: ("orphanDependents", "bool", False),
        4: ("propagationPolicy", "string", False),
        5: ("dryRun", "string", True),
    },
}


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise ValueError("varint too long")


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value = buf[pos : pos + 8]
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value = buf[pos : pos + length]
            if len(value) != length:
                raise ValueError("truncated field")
            pos += length
        elif wire == 5:
            value = buf[pos : pos + 4]
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _time(buf: bytes) -> str | None:
    seconds = 0
    for number, _wire, value in _fields(buf):
        if number == 1:
            seconds = _signed(value)
    if seconds == 0:
        return None  # the zero time (JSON null)
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _int_or_string(buf: bytes) -> int | str:
    """intstr.IntOrString: type (0 = int, 1 = string), intVal, strVal."""
    fields = {number: value for number, _wire, value in _fields(buf)}
    if fields.get(1) == 1:
        return bytes(fields.get(3, b"")).decode("utf-8")
    return _signed(int(fields.get(2, 0)))


def _scalar(kind: Any, value: Any) -> Any:
    if kind == "string":
        return bytes(value).decode("utf-8")
    if kind == "bytes":
        return base64.b64encode(bytes(value)).decode()
    if kind == "int":
        return _signed(int(value))
    if kind == "bool":
        return bool(value)
    if kind == TIME:
        return _time(bytes(value))
    if kind == INT_OR_STRING:
        return _int_or_string(bytes(value))
    if isinstance(kind, dict):
        return decode_message(bytes(value), kind)
    raise ValueError(f"unknown field type {kind!r}")


def decode_message(buf: bytes, schema: Schema) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, _wire, value in _fields(buf):
        spec = schema.get(number)
        if spec is None:
            continue
        name, kind, repeated = spec
        if isinstance(kind, tuple) and kind[0] == "map":
            entry = {n: v for n, _w, v in _fields(bytes(value))}
            key = bytes(entry.get(1, b"")).decode("utf-8")
            out.setdefault(name, {})[key] = _scalar(kind[1], entry.get(2, b""))
        elif repeated:
            out.setdefault(name, []).append(_scalar(kind, value))
        else:
            decoded = _scalar(kind, value)
            # Go's generated protobuf writes zero values that its JSON form omits (omitempty).
            if decoded in ("", 0, False, None) and not isinstance(kind, dict):
                continue
            out[name] = decoded
    return out


def decode(body: bytes) -> dict[str, Any]:
    """Decode a ``k8s\\0``-prefixed ``runtime.Unknown`` envelope into the object's JSON form."""
    if not body.startswith(MAGIC):
        raise bad_request(
            "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"
        )
    try:
        envelope = {n: v for n, _w, v in _fields(body[len(MAGIC) :])}
        type_meta = {n: bytes(v).decode() for n, _w, v in _fields(bytes(envelope.get(1, b"")))}
        api_version, kind = type_meta.get(1, ""), type_meta.get(2, "")
        schema = MESSAGES.get((api_version, kind))
        if schema is None:
            raise unsupported_media_type(CONTENT_TYPE, ["application/json", "application/yaml"])
        obj = decode_message(bytes(envelope.get(2, b"")), schema)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"unable to decode protobuf body: {exc}") from None
    obj["apiVersion"] = api_version
    obj["kind"] = kind
    return obj
