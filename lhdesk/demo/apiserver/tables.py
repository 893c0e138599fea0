"""Server-side printing: ``meta.k8s.io/v1`` Table responses, as ``kubectl get`` asks for them.

CRs print their ``additionalPrinterColumns`` (JSONPath, like kube's CRD table convertor); built-in
types print the columns kube's own printers show for them.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable
from typing import Any

Column = dict[str, Any]
Printer = Callable[[dict[str, Any]], list[Any]]

NAME_COLUMN: Column = {
    "name": "Name",
    "type": "string",
    "format": "name",
    "description": "Name must be unique within a namespace. Is required when creating resources, although "
    "some resources may allow a client to request the generation of an appropriate name automatically. "
    "Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. "
    "More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    "priority": 0,
}

_AGE_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is "
    "not guaranteed to be set in happens-before order across separate operations. Clients may not set this "
    "value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. "
    "Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)


def parse_time(value: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None


def human_duration(seconds: float) -> str:
    """apimachinery ``duration.HumanDuration``."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def age(value: Any) -> str:
    if not isinstance(value, str):
        return "<unknown>"
    t = parse_time(value)
    if t is None:
        return "<invalid>"
    now = datetime.datetime.now(datetime.UTC)
    return human_duration((now - t).total_seconds())


# --------------------------------------------------------------------------- JSONPath (simple subset)

_TOKEN = re.compile(
    r"""\.(?P<field>[A-Za-z0-9_$\-]+)
      | \[(?P<index>-?\d+)\]
      | \[['"](?P<key>[^'"]+)['"]\]
      | \[\?\(@\.(?P<ffield>[A-Za-z0-9_.\-]+)\s*==\s*['"](?P<fvalue>[^'"]*)['"]\)\]
      | \[\*\]
    """,
    re.VERBOSE,
)


def jsonpath(obj: Any, path: str) -> list[Any]:
    """Evaluate a simple JSONPath (``.a.b[0]['k'][?(@.type=="X")]``); the list of results."""
    expr = path.strip()
    if expr.startswith("{") and expr.endswith("}"):
        expr = expr[1:-1]
    if expr.startswith("$"):
        expr = expr[1:]
    current: list[Any] = [obj]
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m:
            return []
        pos = m.end()
        nxt: list[Any] = []
        for c in current:
            if m.group("field") is not None:
                if isinstance(c, dict) and m.group("field") in c:
                    nxt.append(c[m.group("field")])
            elif m.group("index") is not None:
                i = int(m.group("index"))
                if isinstance(c, list) and -len(c) <= i < len(c):
                    nxt.append(c[i])
            elif m.group("key") is not None:
                if isinstance(c, dict) and m.group("key") in c:
                    nxt.append(c[m.group("key")])
            elif m.group("ffield") is not None:
                if isinstance(c, list):
                    for item in c:
                        got = jsonpath(item, "." + m.group("ffield"))
                        if got and str(got[0]) == m.group("fvalue"):
                            nxt.append(item)
            elif isinstance(c, list):
                nxt.extend(c)
            elif isinstance(c, dict):
                nxt.extend(c.values())
        current = nxt
    return current


def _as_text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def crd_cell(column: Column, obj: dict[str, Any]) -> Any:
    """One cell of a CRD printer column, as kube's CRD table convertor makes it."""
    results = jsonpath(obj, str(column.get("jsonPath", "")))
    if not results:
        return None
    value = results[0]
    kind = column.get("type", "string")
    if kind == "string":
        return _as_text(value)
    if kind == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value)
        return None
    if kind == "number":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        return None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind == "date":
        if isinstance(value, str):
            return age(value) if parse_time(value) else "<invalid>"
        return None
    return None


def crd_columns(printer_columns: list[dict[str, Any]]) -> list[Column]:
    cols = [dict(NAME_COLUMN)]
    for pc in printer_columns:
        col: Column = {
            "name": pc.get("name", ""),
            "type": pc.get("type", "string"),
            "format": pc.get("format", ""),
            "description": pc.get("description", ""),
            "priority": int(pc.get("priority", 0) or 0),
        }
        if (
            col["type"] == "date"
            and not col["description"]
            and pc.get("jsonPath") == ".metadata.creationTimestamp"
        ):
            col["description"] = _AGE_DESCRIPTION
        cols.append(col)
    return cols


DEFAULT_PRINTER_COLUMNS = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]


# --------------------------------------------------------------------------- built-in printers


def col(name: str, kind: str = "string", description: str = "", priority: int = 0, fmt: str = "") -> Column:
    return {"name": name, "type": kind, "format": fmt, "description": description, "priority": priority}


AGE = col("Age", "string", _AGE_DESCRIPTION)
CREATED_AT = col("Created At", "date", _AGE_DESCRIPTION)


def _created(o: dict[str, Any]) -> str:
    return age((o.get("metadata") or {}).get("creationTimestamp"))


def _created_at(o: dict[str, Any]) -> str:
    return str((o.get("metadata") or {}).get("creationTimestamp") or "")


def _name(o: dict[str, Any]) -> str:
    return str((o.get("metadata") or {}).get("name") or "")


def _get(o: Any, *path: str, default: Any = None) -> Any:
    for p in path:
        if not isinstance(o, dict) or p not in o:
            return default
        o = o[p]
    return o


def _involved(o: dict[str, Any]) -> str:
    ref = o.get("involvedObject") or {}
    return f"{str(ref.get('kind', '')).lower()}/{ref.get('name', '')}"


def _claim(o: dict[str, Any]) -> str:
    ref = _get(o, "spec", "claimRef")
    if not isinstance(ref, dict):
        return ""
    return f"{ref.get('namespace', '')}/{ref.get('name', '')}"


def _access_modes(modes: list[str] | None) -> str:
    short = {
        "ReadWriteOnce": "RWO",
        "ReadOnlyMany": "ROX",
        "ReadWriteMany": "RWX",
        "ReadWriteOncePod": "RWOP",
    }
    return ",".join(short.get(m, m) for m in modes or [])


def _none(value: Any) -> str:
    return str(value) if value not in (None, "") else "<none>"


def _unset(value: Any) -> str:
    return str(value) if value not in (None, "") else "<unset>"


BUILTIN_TABLES: dict[str, tuple[list[Column], Printer]] = {
    "namespaces": (
        [dict(NAME_COLUMN), col("Status", description="The status of the namespace"), AGE],
        lambda o: [_name(o), _get(o, "status", "phase", default=""), _created(o)],
    ),
    "configmaps": (
        [dict(NAME_COLUMN), col("Data", "string"), AGE],
        lambda o: [_name(o), len(o.get("data") or {}) + len(o.get("binaryData") or {}), _created(o)],
    ),
    "secrets": (
        [dict(NAME_COLUMN), col("Type"), col("Data", "string"), AGE],
        lambda o: [_name(o), o.get("type", ""), len(o.get("data") or {}), _created(o)],
    ),
    "serviceaccounts": (
        [dict(NAME_COLUMN), col("Secrets", "string"), AGE],
        lambda o: [_name(o), len(o.get("secrets") or []), _created(o)],
    ),
    "services": (
        [
            dict(NAME_COLUMN),
            col("Type"),
            col("Cluster-IP"),
            col("External-IP"),
            col("Port(s)"),
            AGE,
            col("Selector", priority=1),
        ],
        lambda o: [
            _name(o),
            _get(o, "spec", "type", default="ClusterIP"),
            _none(_get(o, "spec", "clusterIP")),
            _none(",".join(_get(o, "spec", "externalIPs", default=[]) or [])),
            _none(
                ",".join(
                    f"{p.get('port')}/{p.get('protocol', 'TCP')}"
                    for p in _get(o, "spec", "ports", default=[]) or []
                )
            ),
            _created(o),
            _none(
                ",".join(
                    f"{k}={v}" for k, v in sorted((_get(o, "spec", "selector", default={}) or {}).items())
                )
            ),
        ],
    ),
    "events": (
        [
            col("Last Seen"),
            col("Type"),
            col("Reason"),
            col("Object"),
            col("Message"),
            dict(NAME_COLUMN, priority=1),
        ],
        lambda o: [
            age(o.get("lastTimestamp") or o.get("eventTime") or _get(o, "metadata", "creationTimestamp")),
            o.get("type", ""),
            o.get("reason", ""),
            _involved(o),
            o.get("message", ""),
            _name(o),
        ],
    ),
    "persistentvolumes": (
        [
            dict(NAME_COLUMN),
            col("Capacity"),
            col("Access Modes"),
            col("Reclaim Policy"),
            col("Status"),
            col("Claim"),
            col("StorageClass"),
            col("VolumeAttributesClass"),
            col("Reason"),
            AGE,
            col("VolumeMode", priority=1),
        ],
        lambda o: [
            _name(o),
            _get(o, "spec", "capacity", "storage", default=""),
            _access_modes(_get(o, "spec", "accessModes")),
            _get(o, "spec", "persistentVolumeReclaimPolicy", default=""),
            _get(o, "status", "phase", default=""),
            _claim(o),
            _get(o, "spec", "storageClassName", default=""),
            _unset(_get(o, "spec", "volumeAttributesClassName")),
            _get(o, "status", "reason", default=""),
            _created(o),
            _get(o, "spec", "volumeMode", default=""),
        ],
    ),
    "persistentvolumeclaims": (
        [
            dict(NAME_COLUMN),
            col("Status"),
            col("Volume"),
            col("Capacity"),
            col("Access Modes"),
            col("StorageClass"),
            col("VolumeAttributesClass"),
            AGE,
            col("VolumeMode", priority=1),
        ],
        lambda o: [
            _name(o),
            _get(o, "status", "phase", default=""),
            _get(o, "spec", "volumeName", default=""),
            _get(o, "status", "capacity", "storage", default=""),
            _access_modes(_get(o, "status", "accessModes")),
            _get(o, "spec", "storageClassName", default=""),
            _unset(_get(o, "spec", "volumeAttributesClassName")),
            _created(o),
            _get(o, "spec", "volumeMode", default=""),
        ],
    ),
    "storageclasses": (
        [
            dict(NAME_COLUMN),
            col("Provisioner"),
            col("ReclaimPolicy"),
            col("VolumeBindingMode"),
            col("AllowVolumeExpansion"),
            AGE,
        ],
        lambda o: [
            _name(o)
            + (
                " (default)"
                if _get(o, "metadata", "annotations", "storageclass.kubernetes.io/is-default-class") == "true"
                else ""
            ),
            o.get("provisioner", ""),
            o.get("reclaimPolicy", "Delete"),
            o.get("volumeBindingMode", "Immediate"),
            "true" if o.get("allowVolumeExpansion") else "false",
            _created(o),
        ],
    ),
    "customresourcedefinitions": (
        [dict(NAME_COLUMN), CREATED_AT],
        lambda o: [_name(o), _created_at(o)],
    ),
    "validatingwebhookconfigurations": (
        [dict(NAME_COLUMN), col("Webhooks", "integer"), AGE],
        lambda o: [_name(o), len(o.get("webhooks") or []), _created(o)],
    ),
    "mutatingwebhookconfigurations": (
        [dict(NAME_COLUMN), col("Webhooks", "integer"), AGE],
        lambda o: [_name(o), len(o.get("webhooks") or []), _created(o)],
    ),
    "clusterroles": ([dict(NAME_COLUMN), CREATED_AT], lambda o: [_name(o), _created_at(o)]),
    "roles": ([dict(NAME_COLUMN), CREATED_AT], lambda o: [_name(o), _created_at(o)]),
    "clusterrolebindings": (
        [dict(NAME_COLUMN), col("Role"), AGE],
        lambda o: [
            _name(o),
            f"{_get(o, 'roleRef', 'kind', default='')}/{_get(o, 'roleRef', 'name', default='')}",
            _created(o),
        ],
    ),
    "rolebindings": (
        [dict(NAME_COLUMN), col("Role"), AGE],
        lambda o: [
            _name(o),
            f"{_get(o, 'roleRef', 'kind', default='')}/{_get(o, 'roleRef', 'name', default='')}",
            _created(o),
        ],
    ),
    "deployments": (
        [dict(NAME_COLUMN), col("Ready"), col("Up-to-date", "integer"), col("Available", "integer"), AGE],
        lambda o: [
            _name(o),
            f"{_get(o, 'status', 'readyReplicas', default=0)}/{_get(o, 'spec', 'replicas', default=1)}",
            _get(o, "status", "updatedReplicas", default=0),
            _get(o, "status", "availableReplicas", default=0),
            _created(o),
        ],
    ),
    "daemonsets": (
        [
            dict(NAME_COLUMN),
            col("Desired", "integer"),
            col("Current", "integer"),
            col("Ready", "integer"),
            col("Up-to-date", "integer"),
            col("Available", "integer"),
            col("Node Selector"),
            AGE,
        ],
        lambda o: [
            _name(o),
            _get(o, "status", "desiredNumberScheduled", default=0),
            _get(o, "status", "currentNumberScheduled", default=0),
            _get(o, "status", "numberReady", default=0),
            _get(o, "status", "updatedNumberScheduled", default=0),
            _get(o, "status", "numberAvailable", default=0),
            _none(
                ",".join(
                    f"{k}={v}"
                    for k, v in sorted(
                        (_get(o, "spec", "template", "spec", "nodeSelector", default={}) or {}).items()
                    )
                )
            ),
            _created(o),
        ],
    ),
    "leases": (
        [dict(NAME_COLUMN), col("Holder"), AGE],
        lambda o: [_name(o), _get(o, "spec", "holderIdentity", default=""), _created(o)],
    ),
}

DEFAULT_TABLE: tuple[list[Column], Printer] = (
    [dict(NAME_COLUMN), CREATED_AT],
    lambda o: [_name(o), _created_at(o)],
)
