"""CustomResourceDefinitions: validation, defaults, status, and the resource types they serve."""

from __future__ import annotations

import datetime
import re
from typing import Any

from lhdesk.demo.apiserver import errors
from lhdesk.demo.apiserver import meta as metarules
from lhdesk.demo.apiserver.errors import FieldError
from lhdesk.demo.apiserver.resources import ResourceType
from lhdesk.demo.apiserver.tables import DEFAULT_PRINTER_COLUMNS

CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"

Obj = dict[str, Any]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_VERSION = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def apply_defaults(crd: Obj) -> None:
    spec = crd.setdefault("spec", {})
    names = spec.setdefault("names", {})
    if isinstance(names, dict):
        if names.get("kind") and not names.get("singular"):
            names["singular"] = str(names["kind"]).lower()
        if names.get("kind") and not names.get("listKind"):
            names["listKind"] = f"{names['kind']}List"
    conv = spec.setdefault("conversion", {})
    if isinstance(conv, dict):
        conv.setdefault("strategy", "None")


def _structural_errors(s: Any, path: str, out: list[FieldError], at_root: bool = False) -> None:
    if not isinstance(s, dict):
        return
    preserve = s.get("x-kubernetes-preserve-unknown-fields")
    int_or_string = s.get("x-kubernetes-int-or-string")
    if not s.get("type") and not preserve and not int_or_string:
        if at_root:
            out.append(errors.required(f"{path}.type", "must not be empty at the root"))
        elif s.get("properties") or s.get("items") or s.get("additionalProperties"):
            out.append(errors.required(f"{path}.type", "must not be empty for specified object fields"))
    if s.get("type") == "array" and not isinstance(s.get("items"), dict):
        out.append(errors.required(f"{path}.items", "must be specified"))
    if at_root and s.get("type") not in (None, "object"):
        out.append(errors.invalid(f"{path}.type", s.get("type"), "must be object at the root"))
    for k, sub in (s.get("properties") or {}).items():
        _structural_errors(sub, f"{path}.properties[{k}]", out)
    if isinstance(s.get("items"), dict):
        _structural_errors(s["items"], f"{path}.items", out)
    if isinstance(s.get("additionalProperties"), dict):
        _structural_errors(s["additionalProperties"], f"{path}.additionalProperties", out)
    if s.get("properties") and isinstance(s.get("additionalProperties"), dict):
        out.append(
            errors.forbidden(
                f"{path}.additionalProperties", "additionalProperties and properties are mutual exclusive"
            )
        )


def validate(crd: Obj, old: Obj | None) -> list[FieldError]:
    out: list[FieldError] = []
    spec = crd.get("spec") or {}
    name = (crd.get("metadata") or {}).get("name", "")
    group = spec.get("group") or ""
    names = spec.get("names") or {}
    plural = names.get("plural") or ""
    if not group:
        out.append(errors.required("spec.group"))
    elif "." not in group:
        out.append(errors.invalid("spec.group", group, "should be a domain with at least one dot"))
    else:
        out.extend(metarules.name_errors(group, metarules.SUBDOMAIN, "spec.group"))
    if name != f"{plural}.{group}":
        out.append(errors.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    for key in ("plural", "singular", "kind"):
        if not names.get(key):
            out.append(errors.required(f"spec.names.{key}"))
    for key in ("plural", "singular"):
        v = names.get(key)
        if v and not _DNS_LABEL.match(v):
            out.append(
                errors.invalid(
                    f"spec.names.{key}",
                    v,
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                    "characters or '-', and must start and end with an alphanumeric character "
                    "(e.g. 'my-name',  or '123-abc', regex used for validation is "
                    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                )
            )
    for i, short in enumerate(names.get("shortNames") or []):
        if not _DNS_LABEL.match(str(short)):
            out.append(
                errors.invalid(f"spec.names.shortNames[{i}]", short, "must be a lowercase RFC 1123 label")
            )
    scope = spec.get("scope")
    if scope not in ("Cluster", "Namespaced"):
        out.append(errors.not_supported("spec.scope", scope or "", ["Cluster", "Namespaced"]))
    versions = spec.get("versions") or []
    if not versions:
        out.append(
            errors.invalid(
                "spec.versions", versions, "must have exactly one version marked as storage version"
            )
        )
    storage = [v for v in versions if isinstance(v, dict) and v.get("storage")]
    if versions and len(storage) != 1:
        out.append(
            errors.invalid(
                "spec.versions", versions, "must have exactly one version marked as storage version"
            )
        )
    seen: set[str] = set()
    for i, v in enumerate(versions):
        p = f"spec.versions[{i}]"
        if not isinstance(v, dict):
            continue
        vname = str(v.get("name", ""))
        if not _VERSION.match(vname):
            out.append(errors.invalid(f"{p}.name", vname, "must be a DNS-1035 label"))
        if vname in seen:
            out.append(errors.FieldError("FieldValueDuplicate", f"{p}.name", vname))
        seen.add(vname)
        if not isinstance(v.get("served"), bool):
            out.append(errors.required(f"{p}.served"))
        if not isinstance(v.get("storage"), bool):
            out.append(errors.required(f"{p}.storage"))
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            out.append(errors.required(f"{p}.schema.openAPIV3Schema", "schemas are required"))
        else:
            _structural_errors(schema, f"{p}.schema.openAPIV3Schema", out, at_root=True)
        for j, col in enumerate(v.get("additionalPrinterColumns") or []):
            if not isinstance(col, dict):
                continue
            if not col.get("name"):
                out.append(errors.required(f"{p}.additionalPrinterColumns[{j}].name"))
            if col.get("type") not in ("integer", "number", "string", "boolean", "date"):
                out.append(
                    errors.not_supported(
                        f"{p}.additionalPrinterColumns[{j}].type",
                        col.get("type", ""),
                        ["integer", "number", "string", "boolean", "date"],
                    )
                )
            if not col.get("jsonPath"):
                out.append(errors.required(f"{p}.additionalPrinterColumns[{j}].JSONPath"))
    if old is not None:
        ospec = old.get("spec") or {}
        if ospec.get("group") != group:
            out.append(errors.invalid("spec.group", group, "field is immutable"))
        if ospec.get("scope") != scope:
            out.append(errors.invalid("spec.scope", scope, "field is immutable"))
    return out


def _condition(ctype: str, status: str, reason: str, message: str, old: Obj | None) -> Obj:
    for c in ((old or {}).get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == ctype and c.get("status") == status:
            return {
                "type": ctype,
                "status": status,
                "lastTransitionTime": c.get("lastTransitionTime", now()),
                "reason": reason,
                "message": message,
            }
    return {
        "type": ctype,
        "status": status,
        "lastTransitionTime": now(),
        "reason": reason,
        "message": message,
    }


def initial_status(crd: Obj) -> None:
    """The status a CRD is stored with; the establishing controller fills it in right after."""
    spec = crd.get("spec") or {}
    storage = next(
        (v["name"] for v in spec.get("versions") or [] if isinstance(v, dict) and v.get("storage")), ""
    )
    crd["status"] = {
        "acceptedNames": {"kind": "", "plural": ""},
        "conditions": None,
        "storedVersions": [storage] if storage else [],
    }


def set_status(crd: Obj, old: Obj | None, terminating: bool = False) -> None:
    spec = crd.get("spec") or {}
    names = dict(spec.get("names") or {})
    storage = next(
        (v["name"] for v in spec.get("versions") or [] if isinstance(v, dict) and v.get("storage")), ""
    )
    stored = list(((old or {}).get("status") or {}).get("storedVersions") or [])
    if storage and storage not in stored:
        stored.append(storage)
    conditions = [
        _condition("NamesAccepted", "True", "NoConflicts", "no conflicts found", old),
        _condition(
            "Established", "True", "InitialNamesAccepted", "the initial names have been accepted", old
        ),
    ]
    if terminating:
        conditions.append(
            _condition(
                "Terminating",
                "True",
                "InstanceDeletionInProgress",
                "CustomResource deletion is in progress",
                old,
            )
        )
    crd["status"] = {"conditions": conditions, "acceptedNames": names, "storedVersions": stored}


def resource_types(crd: Obj) -> list[ResourceType]:
    """The resource types a CRD serves (one per served version)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    storage = next(
        (v["name"] for v in spec.get("versions") or [] if isinstance(v, dict) and v.get("storage")), ""
    )
    out: list[ResourceType] = []
    for v in spec.get("versions") or []:
        if not isinstance(v, dict) or not v.get("served"):
            continue
        cols = v.get("additionalPrinterColumns")
        out.append(
            ResourceType(
                group=str(spec.get("group")),
                version=str(v["name"]),
                plural=str(names.get("plural")),
                kind=str(names.get("kind")),
                verbs=("delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"),
                namespaced=spec.get("scope") == "Namespaced",
                singular=str(names.get("singular") or str(names.get("kind")).lower()),
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                status="status" in (v.get("subresources") or {}),
                schema=(v.get("schema") or {}).get("openAPIV3Schema"),
                custom=True,
                printer_columns=list(cols) if cols else list(DEFAULT_PRINTER_COLUMNS),
                generation=True,
                unconditional_update=False,
                storage_version=storage,
                list_kind=str(names.get("listKind") or f"{names.get('kind')}List"),
                strategic_merge=False,
            )
        )
    return out


def served_versions(crd: Obj) -> list[str]:
    """Served versions in kube's preferred order (by version priority: GA > beta > alpha, newest first)."""
    vs = [
        str(v["name"])
        for v in (crd.get("spec") or {}).get("versions") or []
        if isinstance(v, dict) and v.get("served")
    ]
    return sorted(vs, key=version_priority)


def version_priority(v: str) -> tuple[int, int, int, str]:
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", v)
    if not m:
        return (3, 0, 0, v)
    major = int(m.group(1))
    if m.group(2) is None:
        return (0, -major, 0, v)
    level = 1 if m.group(2) == "beta" else 2
    return (level, -major, -int(m.group(3)), v)
